"""Runs: records, their life cycle and the queue state shared by every worker (the run half of the Store).

A run is ``queued`` until a worker claims it (:meth:`RunsMixin.claim_next`: the oldest queued
run, locked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so exactly one worker gets it);
it is then ``running`` with ``claimed_by`` naming the worker (``host:pid:token``) and a
``heartbeat`` the worker refreshes. Every status change is one UPDATE guarded by the current
status, so a run is never both done and cancelled, nor claimed twice.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import ConflictError
from ..vocab import TERMINAL_STATUSES, UNFINISHED_STATUSES
from .db import rowcount
from .records import RunRecord
from .util import new_id, now

#: SQL guard: the run is not finished yet (queued or running).
_UNFINISHED = "status IN (" + ", ".join(f"'{s}'" for s in UNFINISHED_STATUSES) + ")"

log = logging.getLogger(__name__)

#: Why a run whose worker disappeared is failed (the API tells the planner to start it again).
INTERRUPTED = "interrupted: the service stopped while this run was in progress; start it again"


def worker_name() -> str:
    """A name for this process as a run's claimant: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def _worker_is_gone(claimed_by: str | None, heartbeat: str | None, cutoff: str) -> bool:
    """Whether a running run's worker is gone: no claimant; a process of this host that no longer
    exists; or a worker of another host whose last heartbeat is older than ``cutoff``."""
    if not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return (heartbeat or "") < cutoff  # another host: only its heartbeat tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # pragma: no cover - alive, another user's
        return False
    return False


class RunsMixin:
    """Create, list, cancel, claim and finish runs (needs ``self.db`` and ``self.runs_dir``)."""

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
        scenario = self.scenario_from_request(request, osm_dir=osm_dir, cache_dir=cache_dir)  # type: ignore[attr-defined]
        run_id = new_id("run")
        (self.runs_dir / run_id).mkdir(parents=True)  # type: ignore[attr-defined]
        with self.db.begin() as con:  # type: ignore[attr-defined]
            con.execute(sa.text(
                "INSERT INTO runs (id, name, status, progress, created, request, scenario, origin)"
                " VALUES (:id, :name, 'queued', 0, :created, :request, :scenario, :origin)"),
                {"id": run_id, "name": scenario.name, "created": now(),
                 "request": json.dumps(dict(request), ensure_ascii=False),
                 "scenario": scenario.model_dump_json(), "origin": origin})
        log.info("run %s queued (%s)", run_id, scenario.name)
        return self.get_run(run_id)

    def _run(self, row: Any) -> RunRecord:
        return RunRecord(
            id=row.id, name=row.name, status=row.status, stage=row.stage, progress=row.progress,
            created=row.created, started=row.started, finished=row.finished, error=row.error,
            request=json.loads(row.request), scenario=json.loads(row.scenario),
            counts=json.loads(row.counts) if row.counts else {}, origin=row.origin,
            out_dir=self.runs_dir / row.id, claimed_by=row.claimed_by, heartbeat=row.heartbeat,  # type: ignore[attr-defined]
            claims=row.claims,
        )

    def list_runs(self) -> list[RunRecord]:
        """List runs, newest first."""
        with self.db.begin() as con:  # type: ignore[attr-defined]
            rows = con.execute(sa.text(f"SELECT * FROM runs ORDER BY created DESC, {self.db.seq} DESC"))  # type: ignore[attr-defined]
            return [self._run(r) for r in rows]

    def get_run(self, run_id: str) -> RunRecord:
        """One run.

        Raises
        ------
        NotFoundError
            If there is no such run.
        """
        return self._run(self._row("runs", "run", run_id))  # type: ignore[attr-defined]

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
        """Delete a run and its outputs (files, and its PostGIS tables on PostgreSQL).

        Raises
        ------
        NotFoundError, ConflictError
            Unknown run; run still queued or running (cancel it first: :meth:`cancel_run`).
        """
        from ..staging import recover_outputs

        run = self.get_run(run_id)
        if run.status not in TERMINAL_STATUSES:
            raise ConflictError(f"run {run_id!r} is {run.status}; cancel it first or wait until it has finished")
        self.db.backend.drop_tables(self.db.engine, run_id)  # type: ignore[attr-defined]
        with self.db.begin() as con:  # type: ignore[attr-defined]
            con.execute(sa.text("DELETE FROM runs WHERE id=:id"), {"id": run_id})
        recover_outputs(run.out_dir)
        shutil.rmtree(run.out_dir, ignore_errors=True)

    def cancel_run(self, run_id: str, reason: str = "cancelled") -> RunRecord:
        """Mark a queued or running run ``cancelled`` (its worker notices and stops it: :class:`RunQueue`).

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
        n = self._set(run_id, "status='cancelled', finished=:t, error=:e", _UNFINISHED,
                      t=now(), e=reason)
        run = self.get_run(run_id)
        if not n:
            raise ConflictError(f"run {run_id!r} is {run.status}; only a queued or running run can be cancelled")
        log.info("run %s cancelled", run_id)
        return run

    def discard_outputs(self, run_id: str) -> None:
        """Remove whatever a cancelled or failed run wrote (its folder stays, empty)."""
        from ..staging import discard_outputs

        discard_outputs(self.runs_dir / run_id)  # type: ignore[attr-defined]

    def _set(self, run_id: str, assignments: str, guard: str = "TRUE", **values: Any) -> int:
        """``UPDATE runs SET <assignments> WHERE id=:id AND <guard>``; return the rows changed (0 or 1)."""
        with self.db.begin() as con:  # type: ignore[attr-defined]
            result = con.execute(sa.text(f"UPDATE runs SET {assignments} WHERE id=:id AND ({guard})"),  # noqa: S608 - fixed SQL
                                 {"id": run_id, **values})
            return rowcount(result)

    def mark_running(self, run_id: str, worker: str | None = None) -> bool:
        """Record that a queued run has started (claimed by ``worker``); False if it is no longer queued."""
        return bool(self._set(
            run_id, "status='running', started=:t, stage='start', progress=0, error=NULL, claimed_by=:w, "
            "heartbeat=:t, claims=claims+1", "status='queued'", t=now(), w=worker))

    def claim_next(self, worker: str) -> str | None:
        """Claim the oldest queued run for ``worker`` (mark it running); ``None`` when none is queued.

        On PostgreSQL the candidate row is locked ``FOR UPDATE SKIP LOCKED`` in the claiming
        transaction: workers claiming at the same moment get different runs, each run exactly
        one worker. On SQLite (one writer at a time) the UPDATE guarded by ``status='queued'``
        does the same.
        """
        select = self.db.backend.lock_queued(  # type: ignore[attr-defined]
            f"SELECT id FROM runs WHERE status='queued' ORDER BY created, {self.db.seq} LIMIT 1")  # type: ignore[attr-defined]
        for _attempt in range(10):
            with self.db.begin() as con:  # type: ignore[attr-defined]
                run_id = con.execute(sa.text(select)).scalar()
                if run_id is None:
                    return None
                t = now()
                n = rowcount(con.execute(sa.text(
                    "UPDATE runs SET status='running', started=:t, stage='start', progress=0, error=NULL, "
                    "claimed_by=:w, heartbeat=:t, claims=claims+1 WHERE id=:id AND status='queued'"), {"t": t, "w": worker, "id": run_id}))
            if n:
                log.info("run %s claimed by %s", run_id, worker)
                return str(run_id)
        return None

    def heartbeat(self, run_id: str, worker: str) -> bool:
        """Say ``worker`` still executes ``run_id``; False if the run is no longer its running run
        (cancelled, or failed by another worker that thought it dead): stop it then."""
        return bool(self._set(run_id, "heartbeat=:t", "status='running' AND claimed_by=:w", t=now(), w=worker))

    def set_progress(self, run_id: str, stage: str, fraction: float) -> None:
        """Record the stage a running run is in and the fraction done (0–1)."""
        self._set(run_id, "stage=:s, progress=:f", "status='running'", s=stage,
                  f=max(0.0, min(1.0, float(fraction))))

    def mark_done(self, run_id: str, counts: Mapping[str, Any]) -> bool:
        """Record that a running run finished, with the counts of its ``run.json``; False if it was cancelled."""
        return bool(self._set(run_id, "status='done', stage='done', progress=1, finished=:t, counts=:c",
                              _UNFINISHED, t=now(),
                              c=json.dumps(dict(counts), ensure_ascii=False)))

    def mark_failed(self, run_id: str, error: str, *, only_if_unfinished: bool = False) -> None:
        """Record that a run failed and why (a message a planner can act on, never a traceback)."""
        guard = _UNFINISHED if only_if_unfinished else "TRUE"
        self._set(run_id, "status='failed', finished=:t, error=:e", guard, t=now(), e=error)

    def reap(self, stale_after_s: float) -> list[str]:
        """Fail the running runs whose worker is gone; return their ids.

        A worker is gone when the run has no claimant, when it is a process of this host that
        no longer exists, or when it is a worker of another host whose heartbeat is older than
        ``stale_after_s`` seconds. Their half-written outputs are removed; the error says
        the run was interrupted and may be started again. Nothing is silently lost.
        """
        cutoff = now(-stale_after_s)
        with self.db.begin() as con:  # type: ignore[attr-defined]
            rows = con.execute(sa.text("SELECT id, claimed_by, heartbeat FROM runs WHERE status='running'")).all()
        reaped = []
        for run_id, claimed_by, beat in rows:
            if not _worker_is_gone(claimed_by, beat, cutoff):
                continue
            n = self._set(run_id, "status='failed', finished=:t, error=:e",
                          "status='running' AND COALESCE(claimed_by, '')=:w", t=now(), e=INTERRUPTED,
                          w=claimed_by or "")
            if n:
                self.discard_outputs(run_id)
                reaped.append(run_id)
                log.warning("run %s: its worker %s is gone; marked failed", run_id, claimed_by or "(none)")
        return reaped

    def recover(self, stale_after_s: float = 60.0) -> list[str]:
        """At startup: fail runs whose worker is gone (:meth:`reap`); return queued run ids, oldest first."""
        self.reap(stale_after_s)
        with self.db.begin() as con:  # type: ignore[attr-defined]
            rows = con.execute(sa.text(f"SELECT id FROM runs WHERE status='queued' ORDER BY created, {self.db.seq}"))  # type: ignore[attr-defined]
            return [r[0] for r in rows]
