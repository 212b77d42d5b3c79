"""The embedded backend: one SQLite file (WAL journal, busy timeout) in the data folder."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .files import chmod_private

FILE_NAME = "store.sqlite3"
#: SQLite's implicit row id orders records inserted in the same second.
SEQ = "rowid"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS datasets (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        filename    TEXT NOT NULL,
        stored_name TEXT NOT NULL,
        sheet       TEXT,
        crs         TEXT NOT NULL,
        encoding    TEXT,
        size_bytes  INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        created     TEXT NOT NULL,
        report      TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS runs (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        status     TEXT NOT NULL,
        stage      TEXT,
        progress   REAL NOT NULL DEFAULT 0,
        created    TEXT NOT NULL,
        started    TEXT,
        finished   TEXT,
        error      TEXT,
        request    TEXT NOT NULL,
        scenario   TEXT NOT NULL,
        counts     TEXT,
        origin     TEXT NOT NULL DEFAULT 'api',
        claimed_by TEXT,
        heartbeat  TEXT,
        claims     INTEGER NOT NULL DEFAULT 0
    )""",
)
#: Columns added since the first release (a store written by an older version gets them at open).
_ADDED = {"runs": (("claimed_by", "TEXT"), ("heartbeat", "TEXT"), ("claims", "INTEGER NOT NULL DEFAULT 0"))}


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
        for table, columns in _ADDED.items():
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
