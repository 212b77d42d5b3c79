"""Executing runs: a dispatcher thread per service process claims queued runs from the store and
runs each in a fresh child process (forked from a server that imported the planner once).

Several service processes (uvicorn workers, or hosts) on one PostgreSQL database each run a
:class:`RunQueue`; the store's claim (``FOR UPDATE SKIP LOCKED``) gives every queued run to
exactly one of them. While its child works, the dispatcher refreshes the run's heartbeat; a
run whose worker died is failed with a reason by the next dispatcher that looks
(:meth:`~geo_planner.store.runs.RunsMixin.reap`), never lost.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConflictError, GeoPlannerError, NotFoundError
from ..outputs import RUN_FILE
from ..placements import PLACEMENTS_FILE, load_placements
from .base import Store
from .files import private_files
from .runs import INTERRUPTED, worker_name

if TYPE_CHECKING:
    from ..settings import Scenario

log = logging.getLogger(__name__)

#: What the run queue's fork server imports once (the planner and the county boundaries).
PRELOAD = "geo_planner.store.worker_preload"


def execute_run(data_dir: Path | str, run_id: str, database_url: str | None = None,
                worker: str | None = None) -> str:
    """Execute a run (the pipeline); record progress and outcome.

    Parameters
    ----------
    data_dir, database_url
        The store (see :class:`~geo_planner.store.Store`).
    run_id
        The run.
    worker
        The claimant that already marked the run running (:meth:`Store.claim_next`);
        ``None``: claim the queued run for this process now.

    Returns
    -------
    str
        The final status, ``done``, ``failed`` or ``cancelled``. Never raises for a failing run: the
        reason is recorded (a library error's message, or a generic one with the
        traceback in the log).
    """
    from ..staging import run_staged

    store = Store(data_dir, database_url)
    rec = store.get_run(run_id)
    if worker is None:
        worker = worker_name()
        if not store.mark_running(run_id, worker):
            log.info("run %s is %s; not started", run_id, store.get_run(run_id).status)
            return store.get_run(run_id).status
    elif rec.status != "running" or rec.claimed_by != worker:
        log.info("run %s is %s (claimed by %s); not started", run_id, rec.status, rec.claimed_by)
        return rec.status
    log.info("run %s executing (worker %s)", run_id, worker)
    try:
        scenario = rec.scenario_model()
        # outputs appear all at once: a worker killed mid-run leaves no half-written folder
        run_staged(scenario, rec.out_dir, progress=lambda s, f: store.set_progress(run_id, s, f),
                   placements=load_placements(store.data_dir / PLACEMENTS_FILE))
        store.publish_tables(run_id)
        _keep_layers(scenario, rec.out_dir)
        doc = json.loads((rec.out_dir / RUN_FILE).read_text(encoding="utf-8"))
        if not store.mark_done(run_id, doc.get("counts", {})):
            store.db.backend.drop_tables(store.db.engine, run_id)
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


def _keep_layers(scenario: Scenario, out_dir: Path) -> None:
    """The workspace's first map layers made once, while the run is still running (its result page
    asks for them on every visit; :func:`geo_planner.weblayers.layer_json` makes them when missing)."""
    from ..results import RunFolder
    from ..weblayers import write_layer_files

    try:
        write_layer_files(RunFolder(scenario, out_dir), Path(out_dir).name)
    except Exception:  # noqa: BLE001 - the run's result stands; the service makes the layers when asked
        log.exception("map layers of %s not kept; they are made when first asked for", Path(out_dir).name)


def _die_with_service(service_pid: int) -> None:  # pragma: no cover - Linux only, runs in a child process
    """Kill this worker when the service that started it dies (no orphan finishing a failed run).

    A run forked by the fork server is the fork server's child, and the fork server outlives the service
    while a run holds the service's end of its pipe; so the worker watches the service itself: a pidfd
    (Linux ≥ 5.3) becomes readable when the service ends, and a daemon thread then ends this process.
    Under ``spawn`` the service is the parent, and the kernel's parent-death signal does the same.
    """
    import ctypes
    import select
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG: the parent (service or fork server) ends
    except (OSError, AttributeError):
        pass
    try:
        fd = os.pidfd_open(service_pid)
    except ProcessLookupError:  # the service is already gone
        os.kill(os.getpid(), signal.SIGKILL)
        return
    except (OSError, AttributeError):  # no pidfd: poll the service's pid instead
        fd = None

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])
        else:
            while True:
                try:
                    os.kill(service_pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="geo-planner-die-with-service", daemon=True).start()


def _child(data_dir: str, run_id: str, database_url: str | None, worker: str,
           service_pid: int) -> None:  # pragma: no cover
    _die_with_service(service_pid)
    private_files()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s [run %(process)d]: %(message)s")
    execute_run(data_dir, run_id, database_url, worker)


class RunQueue:
    """Claims queued runs from the store and executes them one after the other, each in a fresh child process.

    One run at a time per service process: a run uses the machine's cores (the road network,
    the solver), and two would only slow each other down. A child process keeps the service
    responsive and returns a run's memory when it ends; if it dies, the run is marked failed.

    Parameters
    ----------
    data_dir
        The store's folder.
    database_url
        The store's database (``None``: SQLite in ``data_dir``).
    start_method
        ``multiprocessing`` start method. ``forkserver`` (default): a single-threaded server process
        imports :mod:`geo_planner.store.worker_preload` once and forks each run from it (safe next to the
        service's threads, and a run starts without the ~4 s of imports); ``spawn``: a fresh interpreter
        per run.
    poll_s
        How often an idle dispatcher looks for queued runs other processes recorded, seconds.
    heartbeat_s
        How often a busy dispatcher says it is alive (and notices a cancel made elsewhere), seconds.
    stale_after_s
        A running run whose heartbeat is older than this is failed as interrupted, seconds
        (for workers of other hosts; a dead process of this host is noticed at once).
    """

    def __init__(self, data_dir: Path | str, *, database_url: str | None = None, start_method: str = "forkserver",
                 poll_s: float = 1.0, heartbeat_s: float = 5.0, stale_after_s: float = 60.0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.database_url = database_url
        self.worker = worker_name()
        self.poll_s, self.heartbeat_s, self.stale_after_s = poll_s, heartbeat_s, stale_after_s
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload([PRELOAD])
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._current: tuple[str, Any] | None = None
        self._thread = threading.Thread(target=self._loop, name="geo-planner-runs", daemon=True)

    def start(self) -> None:
        """Start the dispatcher thread."""
        self._thread.start()

    def submit(self, run_id: str) -> None:
        """Wake the dispatcher for a run recorded ``queued`` in the store (any worker may take it)."""
        if self._closing.is_set():
            raise ConflictError("the service is stopping; the run stays queued and starts after a restart")
        self._wake.set()

    def _loop(self) -> None:
        store = Store(self.data_dir, self.database_url)
        last_reap = 0.0
        while not self._closing.is_set():
            try:
                if time.monotonic() - last_reap >= self.heartbeat_s:
                    store.reap(self.stale_after_s)
                    last_reap = time.monotonic()
                run_id = store.claim_next(self.worker)
            except Exception:  # the database is away for a moment: try again later
                log.exception("run queue: cannot reach the store")
                run_id = None
            if run_id is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            self._execute(store, run_id)
        store.close()

    def _execute(self, store: Store, run_id: str) -> None:
        """Run a claimed run in a child process, heartbeating; record how it ended."""
        args = (str(self.data_dir), run_id, self.database_url, self.worker, os.getpid())
        proc = self._ctx.Process(target=_child, args=args, daemon=True, name=f"geo-planner-{run_id}")
        with self._lock:
            if self._closing.is_set():
                store.mark_failed(run_id, INTERRUPTED, only_if_unfinished=True)
                return
            proc.start()
            self._current = (run_id, proc)
        self._watch(store, run_id, proc)
        with self._lock:
            self._current = None
        try:
            status = store.get_run(run_id).status
        except NotFoundError:  # cancelled and deleted meanwhile
            store.discard_outputs(run_id)
            shutil.rmtree(store.runs_dir / run_id, ignore_errors=True)
            return
        if status == "cancelled":
            store.discard_outputs(run_id)
            return
        if proc.exitcode != 0:
            reason = (INTERRUPTED if self._closing.is_set() else
                      f"the run's worker process stopped unexpectedly (exit code {proc.exitcode})")
            log.warning("run %s: worker exited with %s", run_id, proc.exitcode)
            store.mark_failed(run_id, reason, only_if_unfinished=True)

    def _watch(self, store: Store, run_id: str, proc: Any) -> None:
        """Wait for the child, refreshing the heartbeat; stop it if the run was cancelled elsewhere."""
        while True:
            proc.join(self.heartbeat_s)
            if not proc.is_alive():
                return
            try:
                mine = store.heartbeat(run_id, self.worker)
            except Exception:  # pragma: no cover - the database is away: keep working, try again
                log.exception("run %s: heartbeat failed", run_id)
                continue
            if not mine:
                log.info("run %s is no longer this worker's running run; stopping it", run_id)
                _stop(proc)

    def cancel(self, run_id: str, timeout: float = 10.0) -> bool:
        """Stop the child at once if this process executes ``run_id`` (mark the run cancelled first;
        another process executing it stops it at its next heartbeat).

        Returns
        -------
        bool
            Whether a worker was stopped here.
        """
        with self._lock:
            current = self._current
        if current is None or current[0] != run_id:
            return False
        _stop(current[1], timeout)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop: queued runs stay queued (another worker, or the next start, takes them); a running run is marked failed."""
        self._closing.set()
        self._wake.set()
        with self._lock:
            current = self._current
        if current is not None:
            run_id, proc = current
            if proc.is_alive():
                log.warning("stopping run %s (service shutting down)", run_id)
                _stop(proc, timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)


def _stop(proc: Any, timeout: float = 10.0) -> None:
    """Terminate a child process (killed if it ignores SIGTERM)."""
    if proc.is_alive():
        proc.terminate()
        proc.join(timeout)
        if proc.is_alive():  # pragma: no cover - terminate ignored
            proc.kill()
            proc.join(timeout)
