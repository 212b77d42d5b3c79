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

case "${1:-demo}" in
    demo)
        setup
        "$VENV/bin/geo-planner" run data/demo/scenario.toml --out out/demo
        ;;
    test)
        setup
        shift || true
        "$VENV/bin/python" -m pytest -q "$@"
        ;;
    *)
        echo "usage: bash scripts/run.sh [demo|test]" >&2
        exit 2
        ;;
esac
