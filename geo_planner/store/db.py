"""Where the store's records live: one SQLAlchemy engine over SQLite (default) or PostgreSQL/PostGIS.

Both backends go through the same SQLAlchemy 2 Core code path (plain SQL that both dialects
accept); what differs is in :mod:`.sqlite` and :mod:`.postgres`: how the schema is created,
how runs are ordered and how a queued run is locked while a worker claims it.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ..errors import InputError, Problem

#: URL schemes accepted for ``database_url`` (``postgres://`` is what some hosts print).
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def parse_database_url(url: str, *, source: str = "database_url") -> URL:
    """Check a PostgreSQL URL and return it with the psycopg (3) driver.

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/dbname`` (query options such as ``sslmode`` kept).
    source
        Name of the setting, for the error message.

    Returns
    -------
    sqlalchemy.engine.URL

    Raises
    ------
    InputError
        If it is not a PostgreSQL URL with a database name.
    """
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise InputError(Problem(source, None, None, "not a database URL; expected "
                                 "postgresql://user:password@host:port/dbname")) from None
    if parsed.drivername not in POSTGRES_SCHEMES:
        raise InputError(Problem(source, None, None, f"unsupported database {parsed.drivername!r}: give a "
                                 "postgresql://… URL, or no setting for the embedded SQLite store"))
    if not parsed.database:
        raise InputError(Problem(source, None, None, "the URL names no database: postgresql://host/dbname"))
    return parsed.set(drivername="postgresql+psycopg")


def shown_url(url: URL) -> str:
    """The URL for messages and logs, password hidden."""
    return url.render_as_string(hide_password=True)


class Database:
    """The engine of a store and what differs between its two backends.

    Parameters
    ----------
    data_dir
        The store's folder (holds the SQLite file when there is no ``database_url``).
    database_url
        ``postgresql://…`` to keep records in PostgreSQL/PostGIS; ``None``: SQLite.
    """

    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        from . import postgres, sqlite

        self.url = parse_database_url(database_url) if database_url else None
        self.backend = postgres if self.url is not None else sqlite
        self.engine: Engine = (postgres.engine(self.url) if self.url is not None
                               else sqlite.engine(data_dir / sqlite.FILE_NAME))
        self.is_postgres = self.url is not None
        #: The column that orders records of the same second (insertion order).
        self.seq = self.backend.SEQ

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction (committed on success, rolled back on error)."""
        with self.engine.begin() as con:
            yield con

    @contextmanager
    def exclusive(self, name: str, lock_dir: Path) -> Iterator[None]:
        """Hold a lock named ``name`` across every process of the store: a PostgreSQL advisory lock
        (all hosts), or with SQLite a file lock in ``lock_dir`` (this host's processes)."""
        if self.is_postgres:
            key = zlib.crc32(name.encode("utf-8"))
            with self.engine.connect() as con:
                con.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                try:
                    yield
                finally:
                    con.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    con.commit()
            return
        with open(lock_dir / f".{name}.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def create_schema(self) -> None:
        """Create the tables if missing (idempotent; safe when several processes start at once)."""
        try:
            self.backend.create_schema(self.engine)
        except SQLAlchemyError as exc:
            where = shown_url(self.url) if self.url is not None else "the SQLite store"
            raise InputError(Problem("database_url", None, None,
                                     f"cannot open {where}: {_first_line(exc)}")) from None

    def describe(self) -> str:
        """Where the records are, for the log (password hidden)."""
        return shown_url(self.url) if self.url is not None else str(self.engine.url.database)

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def rowcount(result: sa.CursorResult) -> int:  # type: ignore[type-arg]
    """Rows an UPDATE or DELETE changed."""
    return int(result.rowcount or 0)
