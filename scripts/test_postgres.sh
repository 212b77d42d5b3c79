#!/usr/bin/env bash
# A throwaway PostgreSQL/PostGIS cluster for the test run (the API tests run on SQLite and on it).
#   eval "$(bash scripts/test_postgres.sh start)"   prints exports: GEO_PLANNER_TEST_DATABASE_URL, GEO_PLANNER_TEST_PGDIR
#   bash scripts/test_postgres.sh stop DIR          stops the cluster and removes DIR
# Debian's packages (postgresql, postgresql-<version>-postgis-3) are installed with apt-get when missing and root.
# The cluster lives in a temporary folder, listens on 127.0.0.1 on a free port, trusts local connections
# (it holds test data only) and runs as an unprivileged user (the postgres account when started by root).
set -euo pipefail

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

have_postgis() {
    ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1
}

install_packages() {
    if [ -n "$(pg_bin)" ] && have_postgis; then
        return 0
    fi
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing postgresql and postgis for the database tests (apt-get)…" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        local ver
        ver=$(basename "$(dirname "$(pg_bin)")")
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$ver-postgis-3" >/dev/null
    fi
    if [ -z "$(pg_bin)" ] || ! have_postgis; then
        echo "PostgreSQL/PostGIS not installed (apt-get install postgresql postgis)" >&2
        return 1
    fi
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    install_packages
    local bin dir port
    bin=$(pg_bin)
    dir=$(mktemp -d /tmp/geo-planner-pg.XXXXXX)
    chmod 700 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U geo_planner --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null \
        || { cat "$dir/server.log" >&2; return 1; }
    echo "export GEO_PLANNER_TEST_PGDIR=$dir"
    echo "export GEO_PLANNER_TEST_DATABASE_URL=postgresql://geo_planner@127.0.0.1:$port/postgres"
}

stop() {
    local dir=${1:?usage: test_postgres.sh stop DIR}
    [ -d "$dir/data" ] && as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) shift; stop "$@" ;;
    *) echo "usage: test_postgres.sh start | stop DIR" >&2; exit 2 ;;
esac
