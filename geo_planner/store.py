"""The embedded persistent store: datasets and runs under one data folder.

Nothing to install: metadata lives in one SQLite file (stdlib ``sqlite3``) and the files
next to it, so datasets and runs survive a restart of the service::

    <data_dir>/store.sqlite3               datasets and runs (metadata, import reports, progress)
    <data_dir>/datasets/<dataset id>/<file> the uploaded table, byte for byte
    <data_dir>/runs/<run id>/              the run's outputs (members.csv, run.json, …)

A *dataset* is one uploaded layer (members, branches, stations or hospitals) with its
import report (:func:`geo_planner.io.load_layer`: rows accepted, rejected with file, row,
field and reason). A *run* is a scenario whose inputs refer to datasets by id; it is
executed by :class:`RunQueue` one at a time in a separate process (two runs never fight
for the same cores) and records its stage and progress here as it goes.

This module is library code: it knows nothing about HTTP.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import queue
import re
import secrets
import shutil
import sqlite3
import threading
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import ValidationError

from .errors import ConflictError, GeoPlannerError, InputError, NotFoundError, Problem, ScenarioError
from .settings import MAX_NAME_BYTES, LayerInput, Scenario, scenario_from_dict

log = logging.getLogger(__name__)

LayerKind = Literal["members", "branches", "stations", "hospitals"]
LAYER_KINDS: tuple[str, ...] = ("members", "branches", "stations", "hospitals")
RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]

#: Tables a finished run can be asked for, and the file each is read from.
RUN_TABLES: Mapping[str, str] = {
    "members": "members.csv",
    "rejections": "rejections.csv",
    "coverage_by_area": "coverage_by_area.csv",
    "coverage_by_branch": "coverage_by_branch.csv",
    "recommendations": "recommendations.csv",
    "branches": "branches.csv",
    "stations": "stations.csv",
    "hospitals": "hospitals.csv",
    "tradeoff": "tradeoff.csv",
    "sensitivity": "sensitivity.csv",
    "phased_plan": "phased_plan.csv",
}
#: Columns read as text whatever they look like (ids must keep leading zeros).
_TEXT_COLUMNS = (
    "id", "branch_id", "nearest_station_id", "nearest_hospital_id", "rec_id", "site_id", "member_ids",
    "branch_ids", "area", "township", "community", "name", "branch_name",
    "site_ids", "site_names", "new_site_ids", "new_site_names", "site_name",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
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
);
CREATE TABLE IF NOT EXISTS runs (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    status    TEXT NOT NULL,
    stage     TEXT,
    progress  REAL NOT NULL DEFAULT 0,
    created   TEXT NOT NULL,
    started   TEXT,
    finished  TEXT,
    error     TEXT,
    request   TEXT NOT NULL,
    scenario  TEXT NOT NULL,
    counts    TEXT,
    origin    TEXT NOT NULL DEFAULT 'api'
);
"""




def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _new_id(prefix: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return f"{prefix}_{stamp}_{secrets.token_hex(4)}"


_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def safe_filename(name: str, default: str = "upload") -> str:
    """Return a file name safe to store: no folders, no control or shell characters, ≤ 120 characters."""
    base = Path(str(name).replace("\\", "/")).name.strip()
    base = _SAFE_NAME.sub("_", base).strip("._") or default
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 110] + dot + ext[:9]) if dot else base[:120]
    return base


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class DatasetRecord:
    """One uploaded layer and its import report.

    Attributes
    ----------
    id, kind, filename
        Dataset id (``ds_…``), layer kind and the file name as uploaded.
    path
        Where the file is stored.
    sheet, crs, encoding
        Reading options used (and reused by runs).
    size_bytes, sha256, created
        File size, content hash and upload time (UTC, ISO 8601).
    report
        ``info`` (format, encoding, sheet, header row, column map, counts) and ``rejections``
        (one dict per problem: ``file`` (the uploaded name), ``row``, ``field``, ``value``,
        ``reason``, ``action``).
    """

    id: str
    kind: str
    filename: str
    path: Path
    sheet: str | None
    crs: str
    encoding: str | None
    size_bytes: int
    sha256: str
    created: str
    report: dict[str, Any]

    @property
    def n_read(self) -> int:
        """Data rows read."""
        return int(self.report["info"].get("n_read", 0))

    @property
    def n_accepted(self) -> int:
        """Rows accepted."""
        return int(self.report["info"].get("n_accepted", 0))

    @property
    def n_rejected(self) -> int:
        """Rows rejected (a row may have several reasons)."""
        return int(self.report["info"].get("n_rejected", 0))

    @property
    def n_warnings(self) -> int:
        """Warnings (rows kept)."""
        return int(self.report["info"].get("n_warnings", 0))

    def layer_input(self) -> LayerInput:
        """Return the :class:`~geo_planner.settings.LayerInput` that reads this dataset."""
        return LayerInput(path=self.path, sheet=self.sheet, crs=self.crs, encoding=self.encoding)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunRecord:
    """One run: its request, validated scenario, state and (when done) counts.

    Attributes
    ----------
    status
        ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``.
    stage, progress
        Last stage reported by the pipeline and the fraction done (0–1).
    error
        Why a failed run failed: a library message (names file, row, field) or a generic one.
    request
        The scenario as submitted (inputs refer to dataset ids, OSM extracts by name).
    scenario
        The validated :class:`~geo_planner.settings.Scenario` (real paths) as JSON data.
    counts
        ``counts`` of ``run.json`` once done.
    origin
        ``api`` or ``demo``.
    """

    id: str
    name: str
    status: str
    stage: str | None
    progress: float
    created: str
    started: str | None
    finished: str | None
    error: str | None
    request: dict[str, Any]
    scenario: dict[str, Any]
    counts: dict[str, Any]
    origin: str
    out_dir: Path = field(compare=False)

    def scenario_model(self) -> Scenario:
        """Return the validated scenario."""
        return Scenario.model_validate(self.scenario)


# --------------------------------------------------------------------------- the store


class Store:
    """Datasets and runs of one data folder.

    Parameters
    ----------
    data_dir
        The folder (created). Safe to open from several threads and processes at once:
        every call uses its own SQLite connection (WAL journal, busy timeout).
    """

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.datasets_dir = self.data_dir / "datasets"
        self.runs_dir = self.data_dir / "runs"
        for d in (self.data_dir, self.datasets_dir, self.runs_dir):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            _chmod(d, 0o700)  # personal data: only the service's user may enter
        self.db_path = self.data_dir / "store.sqlite3"
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        for suffix in ("", "-wal", "-shm"):
            _chmod(Path(f"{self.db_path}{suffix}"), 0o600)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.db_path, timeout=30.0)
        con.row_factory = sqlite3.Row
        try:
            with con:
                yield con
        finally:
            con.close()

    # ------------------------------------------------------------------ datasets

    def import_dataset(
        self,
        kind: str,
        filename: str,
        source: Path | str,
        *,
        sheet: str | None = None,
        crs: str = "WGS84",
        encoding: str | None = None,
        branches_dataset: str | None = None,
        move: bool = False,
    ) -> DatasetRecord:
        """Store an uploaded table as a dataset and record its import report.

        Parameters
        ----------
        kind
            ``members``, ``branches``, ``stations`` or ``hospitals``.
        filename
            The file name as the planner knows it (used in the report; folders stripped).
        source
            The file's bytes on disk (copied, or moved with ``move=True``).
        sheet, crs, encoding
            Reading options (see :class:`~geo_planner.settings.LayerInput`).
        branches_dataset
            For members: the branches dataset whose ids and names resolve each member's branch
            (unknown branches are rejected). Default: the latest branches dataset; without
            any, the branch check is skipped and the report says so.
        move
            Move ``source`` into the store instead of copying it.

        Returns
        -------
        DatasetRecord

        Raises
        ------
        InputError
            If the kind or an option is invalid or the file is unusable as a whole (unreadable,
            empty, missing required columns); nothing is stored then.
        NotFoundError
            If ``branches_dataset`` does not exist.
        """
        from .io import load_layer

        if kind not in LAYER_KINDS:
            raise InputError(Problem(filename, None, "kind",
                                     f"unknown layer {kind!r}; use one of {', '.join(LAYER_KINDS)}"))
        try:
            LayerInput(path=Path(filename), sheet=sheet, crs=crs, encoding=encoding)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise InputError([Problem(filename, None, ".".join(str(x) for x in e["loc"]) or None,
                                      f"invalid reading option: {e['msg']}") for e in exc.errors()]) from None
        name = safe_filename(filename)
        ds_id = _new_id("ds")
        folder = self.datasets_dir / ds_id
        folder.mkdir(parents=True)
        target = folder / name
        try:
            if move:
                shutil.move(str(source), target)
            else:
                shutil.copyfile(source, target)
            branches_frame = None
            notes: list[str] = []
            branches_ref = None
            if kind == "members":
                ref = (self.get_dataset(branches_dataset) if branches_dataset
                       else self.latest_dataset("branches"))
                if ref is not None:
                    if ref.kind != "branches":
                        raise InputError(Problem(filename, None, "branches_dataset",
                                                 f"dataset {ref.id} holds {ref.kind}, not branches"))
                    branches_frame = load_layer("branches", ref.layer_input()).frame
                    branches_ref = ref.id
                else:
                    notes.append("no branches dataset yet: members' branches were not checked "
                                 "(the run checks them)")
            spec = LayerInput(path=target, sheet=sheet, crs=crs, encoding=encoding)  # type: ignore[arg-type]
            try:
                layer = load_layer(kind, spec, branches=branches_frame)  # type: ignore[arg-type]
            except InputError as exc:
                raise _renamed(exc, str(target), filename) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        info = {k: _jsonable(v) for k, v in layer.info.items() if k != "file"}
        info["branches_dataset"] = branches_ref
        info["notes"] = notes
        rej = layer.rejections.copy()
        if "file" in rej:
            rej["file"] = filename
        report = {"info": info, "rejections": _records(rej)}
        data = target.read_bytes()
        rec = DatasetRecord(
            id=ds_id, kind=kind, filename=filename, path=target, sheet=sheet, crs=crs, encoding=encoding,
            size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), created=_now(), report=report,
        )
        with self._db() as db:
            db.execute(
                "INSERT INTO datasets (id, kind, filename, stored_name, sheet, crs, encoding, size_bytes,"
                " sha256, created, report) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (rec.id, kind, filename, name, sheet, crs, encoding, rec.size_bytes, rec.sha256, rec.created,
                 json.dumps(report, ensure_ascii=False)),
            )
        log.info("dataset %s (%s, %s): %d accepted, %d rejected", rec.id, kind, filename, rec.n_accepted,
                 rec.n_rejected)
        return rec

    def _dataset(self, row: sqlite3.Row) -> DatasetRecord:
        return DatasetRecord(
            id=row["id"], kind=row["kind"], filename=row["filename"],
            path=self.datasets_dir / row["id"] / row["stored_name"], sheet=row["sheet"], crs=row["crs"],
            encoding=row["encoding"], size_bytes=row["size_bytes"], sha256=row["sha256"],
            created=row["created"],
            report=json.loads(row["report"]),
        )

    def list_datasets(self, kind: str | None = None) -> list[DatasetRecord]:
        """Datasets, newest first (optionally of one kind)."""
        with self._db() as db:
            if kind:
                rows = db.execute("SELECT * FROM datasets WHERE kind=? ORDER BY created DESC, rowid DESC",
                                  (kind,))
            else:
                rows = db.execute("SELECT * FROM datasets ORDER BY created DESC, rowid DESC")
            return [self._dataset(r) for r in rows.fetchall()]

    def latest_dataset(self, kind: str) -> DatasetRecord | None:
        """Return the most recent dataset of a kind, or ``None``."""
        found = self.list_datasets(kind)
        return found[0] if found else None

    def _row(self, table: Literal["datasets", "runs"], what: str, key: str) -> sqlite3.Row:
        """The row of ``table`` with id ``key``; NotFoundError naming ``what`` when missing."""
        with self._db() as db:
            row = db.execute(f"SELECT * FROM {table} WHERE id=?", (key,)).fetchone()  # table is a literal
        if row is None:
            raise NotFoundError(f"{what} {key!r} not found")
        return row

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        """One dataset.

        Raises
        ------
        NotFoundError
            If there is no such dataset.
        """
        return self._dataset(self._row("datasets", "dataset", dataset_id))

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and its file.

        Raises
        ------
        NotFoundError
            If there is no such dataset.
        ConflictError
            If a queued or running run reads it (finished runs keep their own outputs).
        """
        self.get_dataset(dataset_id)
        for run in self.list_runs():
            if run.status in ("queued", "running") and dataset_id in _dataset_refs(run.request):
                raise ConflictError(f"dataset {dataset_id!r} is used by run {run.id!r} ({run.status}); "
                                    "wait until it has finished")
        with self._db() as db:
            db.execute("DELETE FROM datasets WHERE id=?", (dataset_id,))
        shutil.rmtree(self.datasets_dir / dataset_id, ignore_errors=True)
        log.info("dataset %s deleted", dataset_id)

    # ------------------------------------------------------------------ runs

    def scenario_from_request(
        self,
        request: Mapping[str, Any],
        *,
        osm_dir: Path | str,
        cache_dir: Path | str | None = None,
        source: str = "scenario",
    ) -> Scenario:
        """Translate a scenario that refers to datasets and OSM extracts by name.

        Parameters
        ----------
        request
            The scenario's keys (as in the TOML file) where each input is
            ``{"dataset": "ds_…"}`` (optionally with ``sheet``, ``crs``, ``encoding``
            overriding the dataset's options) and ``network.osm`` lists extract file names
            inside ``osm_dir``.
        osm_dir
            The folder of the available OSM extracts.
        cache_dir
            The network cache folder of this installation (``None``: library default).
        source
            Name used in error messages.

        Returns
        -------
        Scenario
            With real paths.

        Raises
        ------
        ScenarioError
            One problem per unknown dataset, wrong layer kind, unknown extract or invalid key.
        """
        data = json.loads(json.dumps(dict(request), ensure_ascii=False, default=str))
        problems: list[Problem] = []
        found: dict[str, DatasetRecord] = {}
        inputs = data.get("inputs")
        if not isinstance(inputs, dict):
            raise ScenarioError(Problem(source, None, "inputs", "missing: give members, branches, stations "
                                        "(and optionally hospitals) as {\"dataset\": id}"))
        for key, ref in list(inputs.items()):
            if ref is None:
                inputs.pop(key)
                continue
            if isinstance(ref, str):
                ref = {"dataset": ref}
            if not isinstance(ref, dict) or "dataset" not in ref or "path" in ref:
                problems.append(Problem(source, None, f"inputs.{key}", "refer to an uploaded dataset: "
                                        "{\"dataset\": \"ds_…\"} (file paths are not accepted)"))
                continue
            try:
                ds = self.get_dataset(str(ref["dataset"]))
            except NotFoundError:
                problems.append(Problem(source, None, f"inputs.{key}.dataset",
                                        f"unknown dataset {ref['dataset']!r}; upload the table first"))
                continue
            if key in LAYER_KINDS and ds.kind != key:
                problems.append(Problem(source, None, f"inputs.{key}.dataset",
                                        f"dataset {ds.id} holds {ds.kind}, not {key}"))
                continue
            found[key] = ds
            layer = {"path": str(ds.path), "sheet": ds.sheet, "crs": ds.crs, "encoding": ds.encoding}
            layer.update({k: v for k, v in ref.items() if k != "dataset"})
            inputs[key] = layer
        net = data.get("network")
        if not isinstance(net, dict):
            net = {}
            data["network"] = net
        if net.get("cache_dir") is not None:
            problems.append(Problem(source, None, "network.cache_dir",
                                    "set by the installation, not per run"))
        osm = net.get("osm")
        if isinstance(osm, str):
            osm = [osm]
        osm_root = Path(osm_dir).resolve()
        if not isinstance(osm, list) or not osm:
            available = ", ".join(sorted(p.name for p in osm_root.glob("*")
                                         if p.suffix in (".osm", ".pbf", ".xml")))
            problems.append(Problem(source, None, "network.osm",
                                    f"name one or more OSM extracts: {available}"))
        else:
            paths = []
            for i, name in enumerate(osm):
                text = str(name)
                if "\x00" in text or not text.strip() or len(text.encode("utf-8")) > MAX_NAME_BYTES:
                    problems.append(Problem(source, None, f"network.osm[{i}]",
                                            f"not a file name (empty, a NUL, or longer than {MAX_NAME_BYTES} "
                                            "bytes); name an extract of the service's OSM folder"))
                    continue
                p = osm_root / text
                if Path(text).name != text or not _is_file(p):
                    available = ", ".join(sorted(q.name for q in osm_root.glob("*") if q.is_file()))
                    problems.append(Problem(source, None, f"network.osm[{i}]",
                                            f"unknown OSM extract {name!r}; available: {available}"))
                else:
                    paths.append(str(p))
            net["osm"] = paths
        if cache_dir is not None:
            net["cache_dir"] = str(Path(cache_dir).resolve())
        if problems:
            raise ScenarioError(problems)
        scenario = scenario_from_dict(data, base_dir=osm_root, source=source)
        # rules that need the inputs are checked now, not at the siting stage of a queued run
        members = found.get("members")
        if members is not None and scenario.siting.new_stations > members.n_accepted:
            raise ScenarioError(Problem(
                source, None, "siting.new_stations",
                f"asks for {scenario.siting.new_stations} new stations but dataset {members.id} has only "
                f"{members.n_accepted} accepted members"))
        return scenario

    def create_run(
        self,
        request: Mapping[str, Any],
        *,
        osm_dir: Path | str,
        cache_dir: Path | str | None = None,
        origin: str = "api",
    ) -> RunRecord:
        """Validate a scenario request and record a queued run (see :meth:`scenario_from_request`).

        Raises
        ------
        ScenarioError
            If the request is invalid; nothing is recorded then.
        """
        scenario = self.scenario_from_request(request, osm_dir=osm_dir, cache_dir=cache_dir)
        run_id = _new_id("run")
        (self.runs_dir / run_id).mkdir(parents=True)
        with self._db() as db:
            db.execute(
                "INSERT INTO runs (id, name, status, progress, created, request, scenario, origin)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (run_id, scenario.name, "queued", 0.0, _now(), json.dumps(dict(request), ensure_ascii=False),
                 scenario.model_dump_json(), origin),
            )
        log.info("run %s queued (%s)", run_id, scenario.name)
        return self.get_run(run_id)

    def _run(self, row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            id=row["id"], name=row["name"], status=row["status"], stage=row["stage"],
            progress=row["progress"],
            created=row["created"], started=row["started"], finished=row["finished"], error=row["error"],
            request=json.loads(row["request"]), scenario=json.loads(row["scenario"]),
            counts=json.loads(row["counts"]) if row["counts"] else {}, origin=row["origin"],
            out_dir=self.runs_dir / row["id"],
        )

    def list_runs(self) -> list[RunRecord]:
        """List runs, newest first."""
        with self._db() as db:
            return [self._run(r) for r in db.execute("SELECT * FROM runs ORDER BY created DESC, rowid DESC")]

    def get_run(self, run_id: str) -> RunRecord:
        """One run.

        Raises
        ------
        NotFoundError
            If there is no such run.
        """
        return self._run(self._row("runs", "run", run_id))

    def finished_run(self, run_id: str) -> RunRecord:
        """Return a run whose outputs can be read.

        Raises
        ------
        NotFoundError
            If there is no such run.
        ConflictError
            If it is still queued or running, or failed.
        """
        run = self.get_run(run_id)
        if run.status != "done":
            why = f": {run.error}" if run.status == "failed" and run.error else ""
            raise ConflictError(f"run {run_id!r} is {run.status}{why}; its results are not available")
        return run

    def delete_run(self, run_id: str) -> None:
        """Delete a run and its outputs.

        Raises
        ------
        NotFoundError, ConflictError
            Unknown run; run still queued or running (cancel it first: :meth:`cancel_run`).
        """
        run = self.get_run(run_id)
        if run.status in ("queued", "running"):
            raise ConflictError(f"run {run_id!r} is {run.status}; cancel it first or wait until it has finished")
        with self._db() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))
        from .staging import recover_outputs

        recover_outputs(run.out_dir)
        shutil.rmtree(run.out_dir, ignore_errors=True)

    def cancel_run(self, run_id: str, reason: str = "cancelled") -> RunRecord:
        """Mark a queued or running run ``cancelled`` (its worker is stopped by :class:`RunQueue`).

        The status changes in one SQL statement guarded by the current status, so a run that
        finishes at the same moment is either done or cancelled, never both; a cancelled run's
        outputs are discarded (:meth:`discard_outputs`).

        Raises
        ------
        NotFoundError
            Unknown run.
        ConflictError
            The run has already finished (done, failed or cancelled).
        """
        with self._db() as db:
            n = db.execute(
                "UPDATE runs SET status='cancelled', finished=?, error=? WHERE id=? AND status IN ('queued', 'running')",
                (_now(), reason, run_id),
            ).rowcount
        run = self.get_run(run_id)
        if not n:
            raise ConflictError(f"run {run_id!r} is {run.status}; only a queued or running run can be cancelled")
        log.info("run %s cancelled", run_id)
        return run

    def discard_outputs(self, run_id: str) -> None:
        """Remove whatever a cancelled or failed run wrote (its folder stays, empty)."""
        from .staging import discard_outputs

        discard_outputs(self.runs_dir / run_id)

    def _update_run(self, run_id: str, **values: Any) -> None:
        cols = ", ".join(f"{k}=?" for k in values)
        with self._db() as db:
            db.execute(f"UPDATE runs SET {cols} WHERE id=?", (*values.values(), run_id))  # noqa: S608 - fixed names

    def mark_running(self, run_id: str) -> bool:
        """Record that a queued run has started; False if it is no longer queued (cancelled)."""
        with self._db() as db:
            n = db.execute(
                "UPDATE runs SET status='running', started=?, stage='start', progress=0, error=NULL "
                "WHERE id=? AND status='queued'", (_now(), run_id),
            ).rowcount
        return bool(n)

    def set_progress(self, run_id: str, stage: str, fraction: float) -> None:
        """Record the stage a running run is in and the fraction done (0–1)."""
        with self._db() as db:
            db.execute("UPDATE runs SET stage=?, progress=? WHERE id=? AND status='running'",
                       (stage, max(0.0, min(1.0, float(fraction))), run_id))

    def mark_done(self, run_id: str, counts: Mapping[str, Any]) -> bool:
        """Record that a running run finished, with the counts of its ``run.json``; False if it was cancelled."""
        with self._db() as db:
            n = db.execute(
                "UPDATE runs SET status='done', stage='done', progress=1, finished=?, counts=? "
                "WHERE id=? AND status IN ('running', 'queued')",
                (_now(), json.dumps(dict(counts), ensure_ascii=False), run_id),
            ).rowcount
        return bool(n)

    def mark_failed(self, run_id: str, error: str, *, only_if_unfinished: bool = False) -> None:
        """Record that a run failed and why (a message a planner can act on, never a traceback)."""
        with self._db() as db:
            sql = "UPDATE runs SET status='failed', finished=?, error=? WHERE id=?"
            if only_if_unfinished:
                sql += " AND status IN ('queued', 'running')"
            db.execute(sql, (_now(), error, run_id))

    def recover(self) -> list[str]:
        """At startup: fail runs a crash left *running*; return queued run ids (oldest first) to resume."""
        with self._db() as db:
            interrupted = [r["id"] for r in db.execute("SELECT id FROM runs WHERE status='running'")]
            n = db.execute(
                "UPDATE runs SET status='failed', finished=?, error=? WHERE status='running'",
                (_now(), "interrupted: the service stopped while this run was in progress; start it again"),
            ).rowcount
            rows = db.execute("SELECT id FROM runs WHERE status='queued' ORDER BY created, rowid")
            queued = [r["id"] for r in rows]
        for run_id in interrupted:
            self.discard_outputs(run_id)  # nothing half-written stays behind
        if n:
            log.warning("%d run(s) left running by a previous process marked failed", n)
        return queued

    def is_empty(self) -> bool:
        """Tell whether there is no dataset and no run."""
        with self._db() as db:
            n = db.execute(
                "SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM runs)"
            ).fetchone()[0]
        return n == 0

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

    def run_table(self, run_id: str, table: str) -> pd.DataFrame:
        """Read one table of a finished run (see :data:`RUN_TABLES`).

        Raises
        ------
        NotFoundError
            Unknown run or table, or the run did not produce this table.
        ConflictError
            Run not finished.
        """
        if table not in RUN_TABLES:
            raise NotFoundError(f"unknown table {table!r}; one of {', '.join(RUN_TABLES)}")
        path = self.run_file(run_id, RUN_TABLES[table])
        return read_table_csv(path)


def read_table_csv(path: Path) -> pd.DataFrame:
    """Read an output CSV (UTF-8 with BOM) with id-like columns kept as text."""
    head = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    dtype = {c: str for c in head if c in _TEXT_COLUMNS}
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=dtype, keep_default_na=True)
    for c in dtype:
        df[c] = df[c].fillna("")
    return df


def _is_file(path: Path) -> bool:
    """``path.is_file()`` that answers False instead of raising for names the OS refuses."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _renamed(exc: InputError, stored: str, filename: str) -> InputError:
    """Return the same error with the stored path replaced by the uploaded file name."""
    if exc.problems:
        problems = [Problem(filename if p.file == stored else p.file, p.row, p.field,
                            p.reason.replace(stored, filename)) for p in exc.problems]
        return type(exc)(problems)
    return type(exc)(str(exc).replace(stored, filename))


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "item"):
        return v.item()
    return str(v)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.astype(object).where(df.notna(), None).to_dict(orient="records"):
        row = rec.get("row")
        if row is not None:
            try:
                rec["row"] = int(row)
            except (TypeError, ValueError):
                rec["row"] = None
        out.append({str(k): _jsonable(v) for k, v in rec.items()})
    return out


def _dataset_refs(request: Mapping[str, Any]) -> set[str]:
    inputs = request.get("inputs") or {}
    refs = set()
    for ref in inputs.values():
        if isinstance(ref, dict) and "dataset" in ref:
            refs.add(str(ref["dataset"]))
        elif isinstance(ref, str):
            refs.add(ref)
    return refs


# --------------------------------------------------------------------------- executing runs


def execute_run(data_dir: Path | str, run_id: str) -> str:
    """Execute a queued run (the pipeline); record progress and outcome.

    Parameters
    ----------
    data_dir
        The store's folder.
    run_id
        The run.

    Returns
    -------
    str
        The final status, ``done``, ``failed`` or ``cancelled``. Never raises for a failing run: the
        reason is recorded (a library error's message, or a generic one with the
        traceback in the log).
    """
    from .staging import run_staged

    store = Store(data_dir)
    rec = store.get_run(run_id)
    if not store.mark_running(run_id):
        log.info("run %s is %s; not started", run_id, store.get_run(run_id).status)
        return store.get_run(run_id).status
    try:
        scenario = rec.scenario_model()
        # outputs appear all at once: a worker killed mid-run leaves no half-written folder
        run_staged(scenario, rec.out_dir, progress=lambda s, f: store.set_progress(run_id, s, f))
        doc = json.loads((rec.out_dir / "run.json").read_text(encoding="utf-8"))
        if not store.mark_done(run_id, doc.get("counts", {})):
            store.discard_outputs(run_id)  # cancelled while it finished
            log.info("run %s cancelled", run_id)
            return "cancelled"
        log.info("run %s done", run_id)
        return "done"
    except GeoPlannerError as exc:
        log.warning("run %s failed: %s", run_id, exc)
        store.mark_failed(run_id, str(exc))
    except Exception:
        log.exception("run %s failed", run_id)
        store.mark_failed(run_id, "internal error while running the scenario; see the service log")
    return "failed"


def _die_with_parent() -> None:  # pragma: no cover - Linux only, runs in a child process
    """Ask the kernel to kill this worker when the service dies (no orphan finishing a failed run)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child(data_dir: str, run_id: str) -> None:  # pragma: no cover - runs in a child process
    _die_with_parent()
    private_files()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s [run %(process)d]: %(message)s")
    execute_run(data_dir, run_id)


class RunQueue:
    """Runs queued runs one after the other, each in a fresh child process.

    One worker at a time: a run uses the machine's cores (the road network, the solver),
    and two would only slow each other down. A child process keeps the service
    responsive and returns a run's memory when it ends; if it dies, the run is marked
    failed.

    Parameters
    ----------
    data_dir
        The store's folder.
    start_method
        ``multiprocessing`` start method (``spawn``: safe next to the server's threads).
    """

    def __init__(self, data_dir: Path | str, *, start_method: str = "spawn") -> None:
        self.data_dir = Path(data_dir).resolve()
        self._ctx = multiprocessing.get_context(start_method)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._current: tuple[str, Any] | None = None
        self._thread = threading.Thread(target=self._loop, name="geo-planner-runs", daemon=True)

    def start(self) -> None:
        """Start the dispatcher thread."""
        self._thread.start()

    def submit(self, run_id: str) -> None:
        """Queue a run (recorded as ``queued`` in the store)."""
        if self._closing.is_set():
            raise ConflictError("the service is stopping; the run stays queued and starts after a restart")
        self._queue.put(run_id)

    def _loop(self) -> None:
        store = Store(self.data_dir)
        while True:
            run_id = self._queue.get()
            if run_id is None or self._closing.is_set():
                return
            try:
                if store.get_run(run_id).status != "queued":
                    continue
            except NotFoundError:
                continue
            proc = self._ctx.Process(target=_child, args=(str(self.data_dir), run_id), daemon=True,
                                     name=f"geo-planner-{run_id}")
            with self._lock:
                if self._closing.is_set():
                    return
                proc.start()
                self._current = (run_id, proc)
            proc.join()
            with self._lock:
                self._current = None
            try:
                cancelled = store.get_run(run_id).status == "cancelled"
            except NotFoundError:  # cancelled and deleted meanwhile
                store.discard_outputs(run_id)
                shutil.rmtree(store.runs_dir / run_id, ignore_errors=True)
                continue
            if cancelled:
                store.discard_outputs(run_id)
                continue
            if proc.exitcode != 0:
                reason = ("interrupted: the service stopped while this run was in progress; start it again"
                          if self._closing.is_set() else
                          f"the run's worker process stopped unexpectedly (exit code {proc.exitcode})")
                log.warning("run %s: worker exited with %s", run_id, proc.exitcode)
                store.mark_failed(run_id, reason, only_if_unfinished=True)

    def cancel(self, run_id: str, timeout: float = 10.0) -> bool:
        """Stop the worker if it is executing ``run_id`` (mark the run cancelled first).

        Returns
        -------
        bool
            Whether a worker was stopped.
        """
        with self._lock:
            current = self._current
        if current is None or current[0] != run_id:
            return False
        proc = current[1]
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout)
            if proc.is_alive():  # pragma: no cover - terminate ignored
                proc.kill()
                proc.join(timeout)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop: queued runs stay queued (resumed at the next start); a running run is marked failed."""
        self._closing.set()
        self._queue.put(None)
        with self._lock:
            current = self._current
        if current is not None:
            run_id, proc = current
            if proc.is_alive():
                log.warning("stopping run %s (service shutting down)", run_id)
                proc.terminate()
                proc.join(timeout)
                if proc.is_alive():  # pragma: no cover - terminate ignored
                    proc.kill()
                    proc.join(timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)


# --------------------------------------------------------------------------- the demo


def seed_demo(
    store: Store,
    demo_dir: Path | str,
    *,
    osm_dir: Path | str,
    cache_dir: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Register the embedded demo: its four tables as datasets and a queued run of its scenario.

    Parameters
    ----------
    store
        The store.
    demo_dir
        Folder with ``scenario.toml`` and the tables it names.
    osm_dir
        The installation's OSM folder; the scenario's extracts must be in it (by file name).
    cache_dir
        Network cache folder (``None``: library default).
    overrides
        Top-level scenario sections replaced (e.g. ``{"map": {"tiles": "none"}}``).

    Returns
    -------
    RunRecord
        The queued demo run (``origin == "demo"``).

    Raises
    ------
    ScenarioError
        If the demo scenario is missing or invalid.
    """
    demo = Path(demo_dir).resolve()
    path = demo / "scenario.toml"
    if not path.is_file():
        raise ScenarioError(Problem(str(path), None, None, "demo scenario not found"))
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    inputs = data.get("inputs", {})
    refs: dict[str, dict[str, Any]] = {}
    for kind in ("branches", "members", "stations", "hospitals"):  # branches first: members refer to them
        spec = inputs.get(kind)
        if spec is None:
            continue
        if isinstance(spec, str):
            spec = {"path": spec}
        file = (demo / spec["path"]).resolve()
        ds = store.import_dataset(
            kind, file.name, file, sheet=spec.get("sheet"), crs=spec.get("crs", "WGS84"),
            encoding=spec.get("encoding"), branches_dataset=refs.get("branches", {}).get("dataset"),
        )
        refs[kind] = {"dataset": ds.id}
    request = dict(data)
    request["inputs"] = refs
    net = dict(request.get("network", {}))
    osm = net.get("osm", [])
    net["osm"] = [Path(p).name for p in ([osm] if isinstance(osm, str) else osm)]
    request["network"] = net
    request.update(overrides or {})
    return store.create_run(request, osm_dir=osm_dir, cache_dir=cache_dir, origin="demo")


def demo_run(store: Store) -> RunRecord | None:
    """Return the most recent demo run, if any."""
    for run in store.list_runs():
        if run.origin == "demo":
            return run
    return None


#: The process umask while the service (or a run's worker) runs: files 0600, folders 0700.
PRIVATE_UMASK = 0o077


def private_files() -> None:
    """Make every file and folder this process creates private (umask 077).

    Member tables, run outputs and the SQLite store hold names and addresses: the service
    and each run's worker process call this at start, so nothing they write (by any library:
    pandas, openpyxl, sqlite, pyogrio) is readable by other users of the machine.
    """
    os.umask(PRIVATE_UMASK)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.exists():
            os.chmod(path, mode)
    except OSError as exc:  # pragma: no cover - e.g. a folder owned by another user
        log.warning("cannot restrict %s to mode %o: %s", path, mode, exc)


def file_mode_600(path: Path, text: str) -> None:
    """Write a private file (mode 600 from its creation)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)
