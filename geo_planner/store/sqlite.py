"""The embedded backend: one SQLite file (WAL journal, busy timeout) in the data folder."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .files import chmod_private
from .tables import ACCOUNT_TABLES, ADDED, AUDIT, DATASETS, RUNS, create_table

FILE_NAME = "store.sqlite3"
#: SQLite's implicit row id orders records inserted in the same second.
SEQ = "rowid"

_TYPES = {"bigint": "INTEGER", "real": "REAL"}
_SCHEMA = (
    create_table("datasets", DATASETS, _TYPES),
    create_table("runs", RUNS, _TYPES),
    *(create_table(name, columns, _TYPES) for name, columns in ACCOUNT_TABLES),
    create_table("audit", AUDIT, _TYPES),
    "CREATE INDEX IF NOT EXISTS audit_time ON audit (time)",
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username)",
)


def engine(path: Path) -> Engine:
    """An engine on the SQLite file (every connection waits up to 30 s for a writer)."""
    return sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30.0})


def create_schema(eng: Engine) -> None:
    """Create the tables (and add newer columns) if missing; WAL journal; the files mode 600."""
    with eng.begin() as con:
        con.exec_driver_sql("PRAGMA journal_mode=WAL")
    with eng.begin() as con:
        for ddl in _SCHEMA:
            con.exec_driver_sql(ddl)
        for table, columns in ADDED.items():
            have = {row[1] for row in con.exec_driver_sql(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in have:
                    con.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    path = Path(str(eng.url.database))
    for suffix in ("", "-wal", "-shm"):
        chmod_private(Path(f"{path}{suffix}"), 0o600)


def lock_queued(select: str) -> str:
    """SQLite has one writer at a time: the claim's guarded UPDATE is enough, no row lock."""
    return select


def publish_tables(eng: Engine, run_id: str, out_dir: Path) -> None:
    """Nothing to do: the SQLite store reads a run's tables from its CSV files."""


def read_table(eng: Engine, run_id: str, table: str) -> None:
    """Always ``None``: the SQLite store reads a run's tables from its CSV files."""
    return None


def drop_tables(eng: Engine, run_id: str) -> None:
    """Nothing to do (see :func:`publish_tables`)."""
