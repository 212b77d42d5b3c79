"""The persistent store: datasets and runs, records in SQLite (default) or PostgreSQL/PostGIS.

With no database setting, nothing is to install: records live in one SQLite file in the data
folder. With ``database_url = "postgresql://…"`` they live in PostgreSQL (PostGIS for the runs'
tables), and several service processes or hosts share them. The files stay in the data folder
(shared between hosts when there are several)::

    <data_dir>/store.sqlite3                datasets and runs (SQLite only)
    <data_dir>/datasets/<dataset id>/<file> the uploaded table, byte for byte
    <data_dir>/runs/<run id>/               the run's outputs (members.csv, run.json, map.html, …)

A *dataset* is one uploaded layer (members, branches, stations or hospitals) with its
import report (:func:`geo_planner.io.load_layer`: rows accepted, rejected with file, row,
field and reason). A *run* is a scenario whose inputs refer to datasets by id; a
:class:`~geo_planner.store.queue.RunQueue` claims it and executes it in a separate process,
recording its stage and progress here as it goes.

This module is library code: it knows nothing about HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from ..errors import NotFoundError
from ..settings import Scenario
from .accounts import AccountsMixin
from .audit import AuditMixin
from .datasets import DatasetsMixin
from .db import Database
from .files import RUN_TABLES, chmod_private, read_table_csv
from .runs import RunsMixin
from .scenario import scenario_from_request

log = logging.getLogger(__name__)


class Store(DatasetsMixin, RunsMixin, AccountsMixin, AuditMixin):
    """Datasets, runs, accounts and the audit log of one data folder (and, optionally, one PostgreSQL database).

    Parameters
    ----------
    data_dir
        The folder (created, mode 700). Safe to open from several threads and processes at
        once: every call takes its own connection from the engine's pool (SQLite: WAL
        journal, busy timeout).
    database_url
        ``postgresql://user:password@host:port/dbname``: keep records in PostgreSQL/PostGIS
        (schema created if missing). ``None``: the SQLite file ``<data_dir>/store.sqlite3``.

    Raises
    ------
    InputError
        If the URL is not a PostgreSQL URL, or the database cannot be reached or prepared.
    """

    def __init__(self, data_dir: Path | str, database_url: str | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.datasets_dir = self.data_dir / "datasets"
        self.runs_dir = self.data_dir / "runs"
        for d in (self.data_dir, self.datasets_dir, self.runs_dir):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            chmod_private(d, 0o700)  # personal data: only the service's user may enter
        self.database_url = database_url or None
        self.db = Database(self.data_dir, self.database_url)
        self.db.create_schema()

    def __repr__(self) -> str:
        return f"Store({str(self.data_dir)!r}, records in {self.db.describe()})"

    def close(self) -> None:
        """Close the database connections (the store stays usable: they reopen on demand)."""
        self.db.dispose()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold a lock named ``name`` across every service process of this store (e.g. seeding the demo once)."""
        with self.db.exclusive(name, self.data_dir):
            yield

    def _row(self, table: Literal["datasets", "runs"], what: str, key: str) -> Any:
        """The row of ``table`` with id ``key``; NotFoundError naming ``what`` when missing."""
        with self.db.begin() as con:
            row = con.execute(sa.text(f"SELECT * FROM {table} WHERE id=:id"), {"id": key}).first()  # table is a literal
        if row is None:
            raise NotFoundError(f"{what} {key!r} not found")
        return row

    def scenario_from_request(
        self,
        request: Mapping[str, Any],
        *,
        osm_dir: Path | str,
        cache_dir: Path | str | None = None,
        source: str = "scenario",
    ) -> Scenario:
        """Translate a scenario that refers to datasets and OSM extracts by name
        (see :func:`geo_planner.store.scenario.scenario_from_request`)."""
        return scenario_from_request(request, self.get_dataset, osm_dir=osm_dir, cache_dir=cache_dir,
                                     source=source)

    def is_empty(self) -> bool:
        """Tell whether there is no dataset and no run."""
        with self.db.begin() as con:
            n = con.execute(sa.text("SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM runs)")).scalar()
        return not n

    # ------------------------------------------------------------------ run outputs

    def run_file(self, run_id: str, name: str) -> Path:
        """Path of an output file of a finished run.

        Raises
        ------
        NotFoundError, ConflictError
            Unknown run or file; run not finished.
        """
        run = self.finished_run(run_id)
        path = run.out_dir / name
        if Path(name).name != name or not path.is_file():
            raise NotFoundError(f"run {run_id!r} has no {name}")
        return path

    def publish_tables(self, run_id: str) -> None:
        """Copy a run's output tables into the database (PostGIS; nothing to do on SQLite)."""
        self.db.backend.publish_tables(self.db.engine, run_id, self.runs_dir / run_id)

    def run_table(self, run_id: str, table: str) -> pd.DataFrame:
        """Read one table of a finished run (see :data:`RUN_TABLES`).

        On PostgreSQL the table comes from PostGIS when the run published it, else (and on
        SQLite) from its CSV file; both give the same columns and types.

        Raises
        ------
        NotFoundError
            Unknown run or table, or the run did not produce this table.
        ConflictError
            Run not finished.
        """
        if table not in RUN_TABLES:
            raise NotFoundError(f"unknown table {table!r}; one of {', '.join(RUN_TABLES)}")
        self.finished_run(run_id)
        published = self.db.backend.read_table(self.db.engine, run_id, table)
        if published is not None:
            return published
        return read_table_csv(self.run_file(run_id, RUN_TABLES[table]))
