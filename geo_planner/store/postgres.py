"""The shared backend: PostgreSQL with PostGIS, for several service processes (or hosts) on one database.

Records (datasets, runs and their queue state) are rows of ``datasets`` and ``runs``; a
finished run's tables are PostGIS tables of the schema ``geo_planner_runs``, one per run and
table (``<run id>__<table>``, a ``geometry(Point, 4326)`` column where the table has
``lon``/``lat``), listed in ``run_tables``. A worker claims the oldest queued run with
``SELECT … FOR UPDATE SKIP LOCKED`` (see :meth:`geo_planner.store.Store.claim_next`).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from .files import RUN_TABLES, is_file, read_table_csv
from .tables import ACCOUNT_TABLES, ADDED, AUDIT, DATASETS, RUNS, create_table

log = logging.getLogger(__name__)

#: Schema of the runs' PostGIS tables.
TABLES_SCHEMA = "geo_planner_runs"
#: An identity column orders records inserted in the same second.
SEQ = "seq"
#: ``pg_advisory_xact_lock`` key held while the schema is created (two workers starting at once).
_SCHEMA_LOCK = 0x6765_6F70  # "geop"
_ROW = "_row"

_TYPES = {"bigint": "BIGINT", "real": "DOUBLE PRECISION"}
_IDENTITY = f"{SEQ} BIGINT GENERATED ALWAYS AS IDENTITY"
_SCHEMA = (
    "CREATE EXTENSION IF NOT EXISTS postgis",
    f"CREATE SCHEMA IF NOT EXISTS {TABLES_SCHEMA}",
    create_table("datasets", DATASETS, _TYPES, [_IDENTITY]),
    create_table("runs", RUNS, _TYPES, [_IDENTITY]),
    *(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {col} {kind}"
      for table, columns in ADDED.items() for col, kind in columns),
    "CREATE INDEX IF NOT EXISTS runs_status_seq ON runs (status, seq)",
    *(create_table(name, columns, _TYPES) for name, columns in ACCOUNT_TABLES),
    create_table("audit", AUDIT, _TYPES, [_IDENTITY]),
    "CREATE INDEX IF NOT EXISTS audit_time ON audit (time, seq)",
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username)",
    """CREATE TABLE IF NOT EXISTS run_tables (
        run_id   TEXT NOT NULL,
        name     TEXT NOT NULL,
        relation TEXT NOT NULL,
        n_rows   INTEGER NOT NULL,
        PRIMARY KEY (run_id, name)
    )""",
)


def engine(url: URL) -> Engine:
    """A pooled psycopg engine (connections checked before use: a restarted server is no error)."""
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def create_schema(eng: Engine) -> None:
    """Create PostGIS and the tables if missing, under an advisory lock (workers starting together)."""
    with eng.begin() as con:
        con.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        for ddl in _SCHEMA:
            con.exec_driver_sql(ddl)


def lock_queued(select: str) -> str:
    """Lock the selected queued run; rows another worker holds are skipped, not waited for."""
    return select + " FOR UPDATE SKIP LOCKED"


def _relation(run_id: str, table: str) -> str:
    return f"{run_id}__{table}".lower()


def _frame(path: Path) -> pd.DataFrame:
    """The output table as a GeoDataFrame (points from lon/lat, WGS-84) when it has coordinates."""
    df = read_table_csv(path)
    df.insert(0, _ROW, range(len(df)))
    if not {"lon", "lat"} <= set(df.columns):
        return df
    lon = pd.to_numeric(df["lon"], errors="coerce")
    lat = pd.to_numeric(df["lat"], errors="coerce")
    geometry = gpd.points_from_xy(lon, lat, crs="EPSG:4326")
    geometry[(lon.isna() | lat.isna()).to_numpy()] = None
    return gpd.GeoDataFrame(df, geometry=geometry)


def publish_tables(eng: Engine, run_id: str, out_dir: Path) -> None:
    """Copy a finished run's tables into PostGIS (one transaction: all of them or none)."""
    with eng.begin() as con:
        for table, file_name in RUN_TABLES.items():
            path = out_dir / file_name
            if not is_file(path):
                continue
            frame = _frame(path)
            relation = _relation(run_id, table)
            if isinstance(frame, gpd.GeoDataFrame):
                frame.to_postgis(relation, con, schema=TABLES_SCHEMA, if_exists="replace", index=False)
            else:
                frame.to_sql(relation, con, schema=TABLES_SCHEMA, if_exists="replace", index=False)
            con.execute(sa.text("DELETE FROM run_tables WHERE run_id=:r AND name=:n"), {"r": run_id, "n": table})
            con.execute(sa.text("INSERT INTO run_tables (run_id, name, relation, n_rows) VALUES (:r, :n, :rel, :k)"),
                        {"r": run_id, "n": table, "rel": relation, "k": len(frame)})
    log.info("run %s: tables published to PostGIS schema %s", run_id, TABLES_SCHEMA)


def read_table(eng: Engine, run_id: str, table: str) -> pd.DataFrame | None:
    """A run's table from PostGIS (``None`` if it was not published), typed as :func:`read_table_csv` types it.

    The geometry column is dropped (``lon``/``lat`` hold the same point); the frame passes
    through CSV text once so its column types are exactly those of the file (ids as text,
    empty cells as NaN), whichever backend answers.
    """
    with eng.connect() as con:
        relation = con.execute(sa.text("SELECT relation FROM run_tables WHERE run_id=:r AND name=:n"),
                               {"r": run_id, "n": table}).scalar()
        if relation is None:
            return None
        df = pd.read_sql_query(sa.text(f'SELECT * FROM {TABLES_SCHEMA}."{relation}" ORDER BY {_ROW}'), con)
    df = df.drop(columns=[c for c in (_ROW, "geometry") if c in df.columns])
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    buf.seek(0)
    return read_table_csv(buf)


def drop_tables(eng: Engine, run_id: str) -> None:
    """Drop a run's PostGIS tables (run deleted)."""
    with eng.begin() as con:
        relations = con.execute(sa.text("SELECT relation FROM run_tables WHERE run_id=:r"), {"r": run_id}).scalars()
        for relation in list(relations):
            con.exec_driver_sql(f'DROP TABLE IF EXISTS {TABLES_SCHEMA}."{relation}"')
        con.execute(sa.text("DELETE FROM run_tables WHERE run_id=:r"), {"r": run_id})
