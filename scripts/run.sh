#!/usr/bin/env bash
# The two commands of the README:
#   bash scripts/run.sh demo   set up, then run the main job on the embedded demo data
#   bash scripts/run.sh test   set up, then run the test suite
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${GEO_PLANNER_VENV:-.venv}
PY=${PYTHON:-python3}

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
}

ensure_chromium() {
    # the map is tested in a real headless browser (Debian's chromium)
    if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing chromium for the browser test (apt-get)…" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
}

case "${1:-demo}" in
    demo)
        setup
        "$VENV/bin/geo-planner" run data/demo/scenario.toml --out out/demo
        ;;
    test)
        setup
        ensure_chromium
        shift || true
        "$VENV/bin/python" -m pytest -q "$@"
        ;;
    *)
        echo "usage: bash scripts/run.sh [demo|test]" >&2
        exit 2
        ;;
esac
