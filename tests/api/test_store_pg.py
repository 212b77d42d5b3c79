"""Several workers on one PostgreSQL/PostGIS store: each run claimed and executed exactly once,
a dead worker's run failed with a reason (never lost), run tables in PostGIS.

Everything here runs on a real PostgreSQL server (``GEO_PLANNER_TEST_DATABASE_URL``, started by
``scripts/run.sh test``) and real uvicorn processes; skipped locally without a server, failed in CI.
The runs are about the queue, not their figures: a small roster (``tests/support/light.py``: the demo's
first 40 members and its planted 南京 and 深圳 members) with the demo's other tables and the light API scenario (no
sensitivity draws, a short trade-off curve, no PDF), through the real pipeline all the same.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from ..support.light import small_roster
from ..support.paths import DEMO, ROOT
from ..support.postgres import drop_database, new_database, pg_engine
from ..support.servers import (
    START_TIMEOUT_S,
    ApiServer,
    free_port,
    new_tokens,
    scenario_request,
    upload_demo,
    wait_run,
)

N_RUNS = 10
#: Stages of a run in which it has begun writing its outputs and is not finished (a kill lands mid-run).
MID_RUN = ("network", "travel", "coverage", "dispersion", "siting", "decision", "maps", "export")


@pytest.fixture()
def pg_database(postgres_url: str) -> Iterator[str]:
    """A fresh database on the test server (dropped afterwards)."""
    url = new_database(postgres_url)
    yield url
    drop_database(postgres_url, url)


def _engine(url: str) -> sa.Engine:
    return pg_engine(url)


def _wait_mid_run(client: httpx.Client, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the run works in a stage of :data:`MID_RUN` (a small run passes each in a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/runs/{run_id}").json()
        if (body["status"] == "running" and body["stage"] in MID_RUN) or body["status"] in ("done", "failed"):
            break
        time.sleep(0.01)
    assert body["status"] == "running" and body["stage"] in MID_RUN, body
    return body


class WorkersServer(ApiServer):
    """``uvicorn api.main:create_app --factory --workers N``: N service processes behind one port."""

    def __init__(self, *args, workers: int = 2, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.workers = workers

    def start(self) -> WorkersServer:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(port), "--workers", str(self.workers)],
                cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.log().count("Application startup complete") >= self.workers:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"the workers did not start:\n{self.log()[-3000:]}")


def test_store_claims_each_run_once_under_concurrent_claimers(tmp_path: Path, pg_database: str, cache_dir) -> None:
    """16 threads claim 24 queued runs at once (FOR UPDATE SKIP LOCKED): every run exactly once."""
    from geo_planner.store import Store, seed_demo

    store = Store(tmp_path / "data", pg_database)
    first = seed_demo(store, DEMO, osm_dir=ROOT / "data" / "osm", cache_dir=cache_dir)
    ids = [first.id] + [store.create_run(first.request, osm_dir=ROOT / "data" / "osm").id for _ in range(23)]
    claimed: dict[str, list[str]] = {}
    start = threading.Barrier(16)

    def claimer(k: int) -> None:
        mine = claimed.setdefault(f"w{k}", [])
        own = Store(tmp_path / "data", pg_database)
        start.wait()
        while (run_id := own.claim_next(f"otherhost:{k}:x")) is not None:
            mine.append(run_id)
        own.close()

    threads = [threading.Thread(target=claimer, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    everything = [r for runs in claimed.values() for r in runs]
    assert sorted(everything) == sorted(ids), Counter(everything).most_common(3)
    runs = {r.id: r for r in store.list_runs()}
    assert all(runs[i].status == "running" and runs[i].claims == 1 for i in ids)
    assert sum(1 for runs_ in claimed.values() if runs_) > 1  # the claims really were concurrent
    # a worker of another host that went silent: its runs are failed as interrupted, not lost
    with store.db.begin() as con:
        con.execute(sa.text("UPDATE runs SET heartbeat='2000-01-01T00:00:00+00:00' WHERE id=:id"), {"id": ids[0]})
    assert store.reap(60.0) == [ids[0]]
    gone = store.get_run(ids[0])
    assert gone.status == "failed" and "interrupted" in (gone.error or "")
    assert store.get_run(ids[1]).status == "running"  # fresh heartbeat from a live (other-host) worker
    store.close()


def test_two_uvicorn_workers_run_ten_queued_runs_each_once(tmp_path: Path, pg_database: str, cache_dir) -> None:
    """Two uvicorn worker processes on one PostgreSQL: 10 queued runs, each executed exactly once."""
    server = WorkersServer(tmp_path / "data", new_tokens(), cache_dir, database_url=pg_database, workers=2).start()
    try:
        with server.client("admin") as admin, server.client("planner") as planner:
            reports = upload_demo(admin, small_roster(tmp_path / "roster"))
            t0 = time.monotonic()
            ids = []
            for _ in range(N_RUNS):
                r = planner.post("/runs", json=scenario_request(reports, light=True))
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
            bodies = [wait_run(planner, run_id, timeout=900)[0] for run_id in ids]
            elapsed = time.monotonic() - t0
        assert [b["status"] for b in bodies] == ["done"] * N_RUNS, [b.get("error") for b in bodies]
        print(f"\n{N_RUNS} runs on 2 uvicorn workers (one PostgreSQL): {elapsed:.1f} s")
        log = server.log()
    finally:
        server.stop()
    engine = _engine(pg_database)
    with engine.connect() as con:
        rows = con.execute(sa.text("SELECT id, status, claims, claimed_by FROM runs")).all()
        published = con.execute(sa.text("SELECT run_id, COUNT(*) FROM run_tables GROUP BY run_id")).all()
        geom = con.execute(sa.text(
            "SELECT COUNT(*) FROM geometry_columns WHERE f_table_schema='geo_planner_runs' AND type='POINT'"
        )).scalar()
    engine.dispose()
    # from the database: every run done, claimed once, by one of the two worker processes (both worked)
    assert sorted(r.id for r in rows) == sorted(ids)
    assert all(r.status == "done" and r.claims == 1 for r in rows), rows
    pids = {r.claimed_by.split(":")[1] for r in rows}
    assert len(pids) == 2, pids
    assert {run_id for run_id, n in published} == set(ids) and geom >= N_RUNS
    # the API reads run tables from PostGIS: the same frames as the CSV files, column types included
    from geo_planner.store import RUN_TABLES, Store, read_table_csv

    store = Store(tmp_path / "data", pg_database)
    for table, file_name in RUN_TABLES.items():
        path = tmp_path / "data" / "runs" / ids[0] / file_name
        if path.is_file():
            pd.testing.assert_frame_equal(store.run_table(ids[0], table), read_table_csv(path))
    store.close()
    # from the outputs: one run.json per run, one execution logged per run
    for run_id in ids:
        assert (tmp_path / "data" / "runs" / run_id / "run.json").is_file()
        assert len(re.findall(rf"run {run_id} executing", log)) == 1
        assert len(re.findall(rf"run {run_id} done", log)) == 1


def test_a_killed_workers_run_is_failed_by_the_survivor(tmp_path: Path, pg_database: str, cache_dir) -> None:
    """Two service processes; SIGKILL the one running a run: the other fails it as interrupted
    (outputs removed), keeps serving, and runs the next run."""
    tokens = new_tokens()
    data = tmp_path / "data"
    a = ApiServer(data, tokens, cache_dir, database_url=pg_database, log_path=tmp_path / "a.log").start()
    b = ApiServer(data, tokens, cache_dir, database_url=pg_database, log_path=tmp_path / "b.log").start()
    try:
        with a.client("admin") as admin, a.client("planner") as planner:
            reports = upload_demo(admin, small_roster(tmp_path / "roster"))
            run_id = planner.post("/runs", json=scenario_request(reports, light=True)).json()["id"]
            store = a.store()
            _wait_mid_run(planner, run_id)
            claimant = store.get_run(run_id).claimed_by or ""
            store.close()
        pid = int(claimant.split(":")[1])
        victim, survivor = (a, b) if a.proc.pid == pid else (b, a)
        assert victim.proc.pid == pid, (claimant, a.proc.pid, b.proc.pid)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=30)
        victim.proc = None
        with survivor.client("planner") as planner:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                body = planner.get(f"/runs/{run_id}").json()
                if body["status"] != "running":
                    break
                time.sleep(0.2)
            assert body["status"] == "failed" and "interrupted" in body["error"], body
            assert list((data / "runs" / run_id).iterdir()) == []
            again = planner.post("/runs", json=scenario_request(reports, light=True)).json()
            done, _ = wait_run(planner, again["id"])
            assert done["status"] == "done", done
        assert survivor.store().get_run(again["id"]).claimed_by.split(":")[1] == str(survivor.proc.pid)
    finally:
        for srv in (a, b):
            srv.stop()


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    from api.config import ApiSettings
    from geo_planner.errors import InputError
    from geo_planner.store import Store

    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        ApiSettings(database_url="mysql://u:secret@h/db")
    with pytest.raises(InputError, match="cannot open postgresql"):
        Store(tmp_path / "x", f"postgresql://nobody:secret@127.0.0.1:{free_port()}/nothing")
    try:
        ApiSettings(database_url="mysql://u:secret@h/db")
    except ValueError as exc:
        assert "secret" not in str(exc)
