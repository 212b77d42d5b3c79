"""Benchmark: coverage-at-a-point under 50 concurrent clients against a real uvicorn server.

A ``uvicorn api.main:create_app --factory`` process on 127.0.0.1 seeds and runs the embedded
demo (real 贵溪/南京 roads), then 50 client threads each send ``GET /runs/{id}/coverage/point``
at a bounded pace (``--rate`` requests per second per client, the next request waits for the
previous answer: a closed loop with a ceiling) at random points of the 贵溪 extract, over
persistent HTTP/1.1 connections (standard library ``http.client``). Reported: throughput,
p50/p95/p99 latency and errors; target p95 < 100 ms with zero errors.

Baselines measured in the same run:

* ``/health`` under the same load: the floor of the stack (routing, auth-free, JSON);
* per query in this process, on the same points: the previous computation
  (``coverage.point_coverage``: Dijkstra searches per query) against the precomputed index
  (``PointIndex.query``: a snap and a lookup).

Run: ``python benchmarks/api.py [--clients 50] [--rate 4] [--seconds 15]``. The machine's
other load shows in absolute figures; ratios are against the baselines above.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, token: str, timeout: float = 60.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def start_server(data_dir: Path, token: str, cache_dir: Path) -> tuple[subprocess.Popen, int]:
    """Start uvicorn with the demo seeded; return the process and its port once /health answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_PLANNER_")}
    env.update({"GEO_PLANNER_DATA_DIR": str(data_dir), "GEO_PLANNER_TOKENS": f"{token}:viewer",
                "GEO_PLANNER_CACHE_DIR": str(cache_dir), "GEO_PLANNER_SEED_DEMO": "true",
                "PYTHONUNBUFFERED": "1"})
    log = open(data_dir.parent / "server.log", "ab")  # noqa: SIM115 - kept open for the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if _get(port, "/health", token, timeout=2)[0] == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the server did not start; see {data_dir.parent / 'server.log'}")


def wait_demo_run(port: int, token: str, timeout: float = 600.0) -> str:
    """Wait for the seeded demo run to finish; return its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = _get(port, "/runs", token)
        if status == 200:
            data = json.loads(body)
            runs = data["runs"] if isinstance(data, dict) and "runs" in data else data
            done = [r for r in runs if r.get("status") == "done"]
            if done:
                return str(done[0]["id"])
            if any(r.get("status") == "failed" for r in runs):
                raise RuntimeError("the demo run failed")
        time.sleep(1.0)
    raise RuntimeError("the demo run did not finish")


def load(port: int, token: str, paths: list[str], *, clients: int, rate: float, seconds: float,
         warmup: float = 2.0) -> dict:
    """``clients`` threads, each at most ``rate`` requests/s on one keep-alive connection."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = time.monotonic() + 0.5
    t_measure, t_end = start + warmup, start + warmup + seconds

    def client(k: int) -> None:
        rng = np.random.default_rng(k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        nxt = start + rng.uniform(0, 1.0 / rate)  # spread the first requests
        while True:
            now = time.monotonic()
            if now >= t_end:
                break
            if nxt > now:
                time.sleep(nxt - now)
            t0 = time.monotonic()
            try:
                conn.request("GET", paths[int(rng.integers(len(paths)))], headers=headers)
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t1 = time.monotonic()
            if t0 >= t_measure:
                lat[k].append(t1 - t0)
                errors[k] += 0 if ok else 1
            nxt = max(nxt + 1.0 / rate, t1)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_lat = np.array([x for lst in lat for x in lst]) * 1000.0
    return {"n": int(all_lat.size), "rps": all_lat.size / seconds, "errors": int(sum(errors)),
            "p50": float(np.percentile(all_lat, 50)), "p95": float(np.percentile(all_lat, 95)),
            "p99": float(np.percentile(all_lat, 99))}


def library_per_query(data_dir: Path, run_id: str, points: np.ndarray) -> tuple[float, float, int]:
    """Mean ms per query in this process: point_coverage (before) vs PointIndex.query (now)."""
    from geo_planner.coverage import point_coverage
    from geo_planner.results import load_run
    from geo_planner.store import Store

    ctx = load_run(Store(data_dir), run_id)
    sc, tables = ctx.scenario, ctx.tables
    t0 = time.perf_counter()
    for lon, lat in points:
        point_coverage(ctx.walk, ctx.drive, float(lon), float(lat), stations=tables.stations,
                       branches=tables.branches, hospitals=tables.hospitals, thresholds=sc.thresholds,
                       max_snap_m=sc.network.max_snap_m)
    before = (time.perf_counter() - t0) / len(points) * 1000
    reps = 10
    t0 = time.perf_counter()
    for _ in range(reps):
        for lon, lat in points:
            ctx.point_index.query(ctx.walk, ctx.drive, float(lon), float(lat))
    now = (time.perf_counter() - t0) / (len(points) * reps) * 1000
    return before, now, len(points)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rate", type=float, default=2.0, help="requests per second per client (ceiling)")
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args()
    token = secrets.token_urlsafe(18)
    from geo_planner.settings import default_cache_dir

    cache = default_cache_dir()
    rng = np.random.default_rng(1)
    # 贵溪 extract bounds (data/osm/README): points all over the county seat
    pts = np.c_[rng.uniform(117.1912, 117.2552, 400), rng.uniform(28.2817, 28.3225, 400)]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        proc, port = start_server(data_dir, token, cache)
        try:
            run_id = wait_demo_run(port, token)
            paths = [f"/runs/{run_id}/coverage/point?" + urlencode({"lon": f"{x:.6f}", "lat": f"{y:.6f}"})
                     for x, y in pts]
            status, body = _get(port, paths[0], token)  # loads the run's networks and index once
            assert status == 200, body[:500]
            point = load(port, token, paths, clients=args.clients, rate=args.rate, seconds=args.seconds)
            health = load(port, token, ["/health"], clients=args.clients, rate=args.rate, seconds=args.seconds)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        before, now, n = library_per_query(data_dir, run_id, pts[:100])
    print(f"\n{args.clients} clients, each ≤ {args.rate:g} req/s for {args.seconds:g} s, uvicorn on loopback "
          "(demo run, 贵溪 + 南京 networks)")
    print(f"{'route':<22} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in (("coverage/point", point), ("/health (floor)", health)):
        print(f"{name:<22} {r['rps']:7.1f} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f} {r['errors']:7d}")
    verdict = "met" if point["p95"] < 100 and point["errors"] == 0 else "MISSED"
    print(f"target p95 < 100 ms with zero errors: {verdict}")
    print(f"per query in one process ({n} points): point_coverage {before:.2f} ms (Dijkstras per query) vs "
          f"index {now:.3f} ms (snap + lookup): {before / now:.0f}x")
    print(f"ROW|API coverage/point p95 s, {args.clients} clients x {args.rate:g} req/s|{point['p95'] / 1000:.3f}|{health['p95'] / 1000:.3f}|"
          f"{point['p95'] / max(health['p95'], 1e-9):.2f}|/health p95 same load")
    print(f"ROW|point query s, one process|{now / 1000:.5f}|{before / 1000:.5f}|{now / before:.3f}|"
          "point_coverage per query")


if __name__ == "__main__":
    main()
