"""A real uvicorn server in a child process, its tokens, and the demo uploaded and run through it."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .paths import DEMO, ROOT

ROLES = ("admin", "planner", "viewer")
RUN_TIMEOUT_S = 300.0
START_TIMEOUT_S = 90.0


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_tokens() -> dict[str, str]:
    """Make one random token per role (never committed: made for this test session)."""
    return {role: f"{role[:2]}-{secrets.token_urlsafe(18)}" for role in ROLES}


class ApiServer:
    """``uvicorn api.main:create_app --factory`` in a child process on 127.0.0.1."""

    def __init__(
        self,
        data_dir: Path,
        tokens: dict[str, str],
        cache_dir: Path,
        *,
        seed_demo: bool = False,
        log_path: Path | None = None,
        database_url: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.tokens = tokens
        self.cache_dir = Path(cache_dir)
        self.seed_demo = seed_demo
        self.log_path = log_path or self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_PLANNER_")}
        env.update(
            {
                "GEO_PLANNER_DATA_DIR": str(self.data_dir),
                "GEO_PLANNER_TOKENS": ",".join(f"{tok}:{role}" for role, tok in self.tokens.items()),
                "GEO_PLANNER_CACHE_DIR": str(self.cache_dir),
                "GEO_PLANNER_SEED_DEMO": "true" if self.seed_demo else "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.database_url:
            env["GEO_PLANNER_DATABASE_URL"] = self.database_url
        return env

    def store(self):  # noqa: ANN201 - geo_planner.store.Store, imported lazily
        """The server's store, opened in this process (same data folder and database)."""
        from geo_planner.store import Store

        return Store(self.data_dir, self.database_url)

    def start(self) -> ApiServer:
        for _attempt in range(3):
            port = free_port()
            self.base_url = f"http://127.0.0.1:{port}"
            log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.main:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log.close()
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            self.stop()
        raise RuntimeError(f"the server did not start; see {self.log_path}:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # graceful: lifespan shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def client(self, role: str | None = None, *, token: str | None = None) -> httpx.Client:
        headers = {}
        tok = token if token is not None else (self.tokens[role] if role else None)
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=120.0)


def upload(client: httpx.Client, kind: str, path: Path, **form: str) -> httpx.Response:
    """POST a file as multipart to /datasets/{kind}."""
    with open(path, "rb") as fh:
        return client.post(f"/datasets/{kind}", files={"file": (path.name, fh)}, data=form)


def upload_demo(admin: httpx.Client, members: Path | None = None) -> dict[str, dict[str, Any]]:
    """Upload the demo's four tables (branches first: members are checked against them).

    ``members``: another roster instead of the demo's (e.g. ``tests/support/light.py``'s small one).
    """
    reports: dict[str, dict[str, Any]] = {}
    r = upload(admin, "branches", DEMO / "branches.csv")
    assert r.status_code == 201, r.text
    reports["branches"] = r.json()
    r = upload(admin, "members", members or DEMO / "members.csv", branches_dataset=reports["branches"]["id"])
    assert r.status_code == 201, r.text
    reports["members"] = r.json()
    r = upload(admin, "stations", DEMO / "stations.xlsx", sheet="驿站")
    assert r.status_code == 201, r.text
    reports["stations"] = r.json()
    r = upload(admin, "hospitals", DEMO / "hospitals.csv")
    assert r.status_code == 201, r.text
    reports["hospitals"] = r.json()
    return reports


def scenario_request(reports: dict[str, dict[str, Any]], *, tiles: str = "none", light: bool = False
                     ) -> dict[str, Any]:
    """Build the demo scenario as API JSON: inputs are the uploaded datasets, OSM extracts by name.

    ``light``: no sensitivity draws, a short trade-off curve and no PDF report (for tests of the run
    queue and of workers, where what the run computes is not the point).
    """
    req = {
        "name": "贵溪 API test",
        "network": {"osm": ["guixi_jiangxi.osm", "nanjing_xuanwu.osm"], "walk_speed_kmh": 4.0},
        "inputs": {kind: {"dataset": rep["id"]} for kind, rep in reports.items()},
        "geocode": {"default_region": "江西省贵溪市"},
        "thresholds": {"station_walk_min": 15, "branch_walk_min": 20, "hospital_drive_min": 30},
        "siting": {"new_stations": 3, "target_coverage": 0.95},
        "map": {"tiles": tiles},
        "seed": 20261125,
    }
    if light:
        req["siting"].update(sensitivity_draws=0, tradeoff_max_p=2)
        req["report"] = {"pdf": False}
    return req


def wait_run(client: httpx.Client, run_id: str, timeout: float = RUN_TIMEOUT_S) -> tuple[dict, list[tuple]]:
    """Poll GET /runs/{id} until done or failed; return the last answer and the progress seen."""
    seen: list[tuple[str, str | None, float]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/runs/{run_id}")
        assert r.status_code == 200, r.text
        body = r.json()
        point = (body["status"], body["stage"], body["percent"])
        if not seen or seen[-1] != point:
            seen.append(point)
        if body["status"] in ("done", "failed"):
            return body, seen
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} not finished after {timeout} s; progress seen: {seen}")


def wait_mid_run(client: httpx.Client, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the run works in a middle stage (network … siting), so that a kill lands mid-run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/runs/{run_id}").json()
        if body["status"] == "running" and body["stage"] in ("network", "travel", "coverage", "siting"):
            break
        time.sleep(0.05)
    assert body["status"] == "running", body
    return body


def start_demo_run(server: ApiServer) -> tuple[dict[str, dict[str, Any]], dict[str, Any], list[tuple]]:
    """Upload the demo tables, start a run, wait for it: (reports, finished run, progress seen)."""
    with server.client("admin") as admin, server.client("planner") as planner:
        reports = upload_demo(admin)
        r = planner.post("/runs", json=scenario_request(reports))
        assert r.status_code == 202, r.text
        created = r.json()
        assert created["status"] in ("queued", "running")
        body, seen = wait_run(planner, created["id"])
    assert body["status"] == "done", (body, server.log()[-4000:])
    return reports, body, seen


def readable(text: str) -> str:
    r"""Undo the escapes a page or a JSON document may use (``\u8096``, ``&#33831;``, ``&amp;``)."""
    import html

    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return html.unescape(text)



UPLOAD_MB = 2


class LimitedServer(ApiServer):
    """The test server with a small upload limit."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env["GEO_PLANNER_MAX_UPLOAD_MB"] = str(UPLOAD_MB)
        return env


# --------------------------------------------------------------------------- the served demo, made once


SERVED_DEMO = "served-demo"


def copy_data(src: Path, dst: Path) -> Path:
    """Copy a service's data folder (datasets, runs, store) to ``dst``; return ``dst``.

    The SQLite store is copied with SQLite's backup API (consistent even while a server uses ``src``).
    """
    import shutil
    import sqlite3

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("store.sqlite3*"))
    if (src / "store.sqlite3").exists():
        with sqlite3.connect(src / "store.sqlite3") as a, sqlite3.connect(dst / "store.sqlite3") as b:
            a.backup(b)
    return dst


def served_demo(cache_dir: Path) -> tuple[Path, dict[str, Any]]:
    """A service's data folder holding the demo uploaded and run through the API, made once per session.

    The first caller (on either xdist worker) starts a service on an empty folder, uploads the demo's
    four tables, runs the demo scenario to the end (:func:`start_demo_run`) and stops the service; the
    folder is kept in the session's shared cache. Every test server that needs a finished demo starts
    on a copy (:func:`copy_data`) instead of running the pipeline again.

    Returns
    -------
    (data folder to copy, {"reports", "run", "run_id", "progress"})
        ``progress`` is what :func:`wait_run` saw while the run worked.
    """
    import json
    import shutil

    from .cache import cache_lock

    done = cache_dir / SERVED_DEMO / "demo.json"
    with cache_lock(cache_dir, SERVED_DEMO):
        if not done.exists():
            work = cache_dir / f"{SERVED_DEMO}-{os.getpid()}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            server = ApiServer(work / "data", new_tokens(), cache_dir).start()
            try:
                reports, run, seen = start_demo_run(server)
            finally:
                server.stop()
            info = {"reports": reports, "run": run, "run_id": run["id"], "progress": seen}
            (work / "demo.json").write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
            os.replace(work, cache_dir / SERVED_DEMO)
    info = json.loads(done.read_text(encoding="utf-8"))
    info["progress"] = [tuple(p) for p in info["progress"]]
    return cache_dir / SERVED_DEMO / "data", info
