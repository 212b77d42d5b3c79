#!/usr/bin/env bash
# The two commands of the README:
#   bash scripts/run.sh demo   set up, run the embedded demo and serve its map and API (prints the URL)
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
    # the workspace's map library (MapLibre GL JS) from the npm registry, served by the service (never a CDN)
    if command -v npm >/dev/null 2>&1; then
        (cd api/workspace && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    else
        echo "npm not found: the workspace's map (MapLibre GL JS) is not installed; install Node.js 20 and npm" >&2
    fi
}

ensure_chromium() {
    # the map is tested in a real headless browser (Debian's chromium)
    if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing chromium for the browser test (apt-get)…" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
    fi
}

start_test_postgres() {
    # the API tests run on SQLite and on a real PostgreSQL/PostGIS: a throwaway cluster (installed with
    # apt-get when root and missing), stopped and removed when the tests end; an existing
    # GEO_PLANNER_TEST_DATABASE_URL is used as it is
    if [ -n "${GEO_PLANNER_TEST_DATABASE_URL:-}" ]; then
        return 0
    fi
    local exports
    if exports=$(bash scripts/test_postgres.sh start); then
        eval "$exports"
        trap 'bash scripts/test_postgres.sh stop "$GEO_PLANNER_TEST_PGDIR"' EXIT
    else
        echo "no PostgreSQL test server: the PostgreSQL tests skip (and fail in CI)" >&2
    fi
}

case "${1:-demo}" in
    demo)
        setup
        # the batch run (tables, recommendations, map under maps/), then the service on the same demo
        "$VENV/bin/geo-planner" run data/demo/scenario.toml --out out/demo
        exec "$VENV/bin/geo-planner-serve" --demo --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
        ;;
    test)
        setup
        ensure_chromium
        start_test_postgres
        shift || true
        # two workers, a test module on one, the longest modules first (tests/support/schedule.py);
        # GEO_PLANNER_TEST_WORKERS=0 runs in one process
        "$VENV/bin/python" -m pytest -q -n "${GEO_PLANNER_TEST_WORKERS:-2}" --dist loadfile "$@"
        ;;
    *)
        echo "usage: bash scripts/run.sh [demo|test]" >&2
        exit 2
        ;;
esac
