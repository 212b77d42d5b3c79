"""The throwaway PostgreSQL/PostGIS server of ``scripts/test_postgres.sh``: engines and databases."""

from __future__ import annotations

import os
import secrets

import pytest

#: Where ``scripts/run.sh test`` (``scripts/test_postgres.sh``) puts its throwaway PostgreSQL/PostGIS server.
PG_ENV = "GEO_PLANNER_TEST_DATABASE_URL"


def no_postgres(reason: str) -> None:
    """Skip locally; in CI (``CI=true``) a missing PostgreSQL fails the run instead."""
    message = (f"no PostgreSQL/PostGIS test server: {reason}. `bash scripts/run.sh test` starts one; "
               f"or `eval \"$(bash scripts/test_postgres.sh start)\"` and set {PG_ENV}")
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message)
    pytest.skip(message)


def pg_engine(url: str, **options: object):  # noqa: ANN201 (sqlalchemy is imported lazily)
    """A SQLAlchemy engine on ``url`` with the psycopg driver, as the store makes it (``parse_database_url``)."""
    import sqlalchemy as sa

    from geo_planner.store import parse_database_url

    return sa.create_engine(parse_database_url(url), **options)


def new_database(postgres_url: str) -> str:
    """Create an empty database on the test server; return its URL (the store adds PostGIS and tables)."""
    import sqlalchemy as sa

    name = f"gp_test_{secrets.token_hex(4)}"
    engine = pg_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as con:
            con.exec_driver_sql(f"CREATE DATABASE {name}")
    finally:
        engine.dispose()
    return sa.engine.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


def drop_database(postgres_url: str, url: str) -> None:
    """Drop a database :func:`new_database` made (its connections closed by force)."""
    import sqlalchemy as sa

    name = sa.engine.make_url(url).database
    engine = pg_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        engine.dispose()

