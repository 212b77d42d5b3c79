"""Benchmark: our MCLP (sparse coverage, HiGHS) against PySAL spopt's MCLP (dense matrix, PuLP/CBC).

Both solve the same seeded instance: members clustered in residential compounds over a
city-sized square, candidate sites spread over it, coverage = straight-line distance within
a walking radius. Each solver runs in its own forked process so that its peak memory
(``ru_maxrss``, plus CBC's own process for spopt) is measured separately.

The p-median section solves the OR-Library-shaped grid n in {400, 600, 900} x p in {5, 10,
20, 50, 100, 200}: the radius model with its Lagrangian stage against the radius model
alone (``lagrangian=False``, the baseline, same run) and, up to ``--pairs-max-n`` nodes, the
textbook pairs model as a cross-check of the optima.

Run::

    .venv/bin/python benchmarks/siting.py                      # 10,000 members × 1,000 sites
    .venv/bin/python benchmarks/siting.py --members 20000 --sites 2000 --p 80
    .venv/bin/python benchmarks/siting.py --skip-mclp --pmedian-time-limit 60 --pairs-time-limit 30
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo_planner.siting.stations import greedy_mclp, mclp  # noqa: E402


def make_instance(n_members: int, n_sites: int, n_existing: int, area_km: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded city: members (metres), sites (metres), member weights, existing-site mask."""
    rng = np.random.default_rng(seed)
    side = area_km * 1000.0
    n_compounds = max(10, n_members // 150)
    compounds = rng.uniform(0.05 * side, 0.95 * side, size=(n_compounds, 2))
    n_clustered = int(0.8 * n_members)
    members = np.vstack([
        compounds[rng.integers(0, n_compounds, n_clustered)] + rng.normal(0, 350.0, size=(n_clustered, 2)),
        rng.uniform(0, side, size=(n_members - n_clustered, 2)),
    ])
    sites = rng.uniform(0, side, size=(n_sites, 2))
    # 离休 members weigh 2, members aged 80+ weigh 1.5, others 1
    weights = np.where(rng.random(n_members) < 0.05, 2.0, np.where(rng.random(n_members) < 0.25, 1.5, 1.0))
    existing = np.zeros(n_sites, dtype=bool)
    existing[rng.choice(n_sites, n_existing, replace=False)] = True
    return members, sites, weights, existing


def sparse_coverage(members: np.ndarray, sites: np.ndarray, radius_m: float) -> sp.csr_array:
    """Members × sites boolean coverage within ``radius_m`` (a KD-tree, never a dense matrix)."""
    hits = cKDTree(members).sparse_distance_matrix(cKDTree(sites), radius_m, output_type="ndarray")
    n_i, n_j = len(members), len(sites)
    return sp.csr_array((np.ones(len(hits), dtype=bool), (hits["i"], hits["j"])), shape=(n_i, n_j))


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _ChildPeak:
    """Poll the peak RSS (VmHWM) of this process's child processes (CBC runs as one)."""

    def __init__(self, every_s: float = 0.05) -> None:
        import threading

        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._every = every_s
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        import os

        me = str(os.getpid())
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    stat = (entry / "stat").read_text()
                    if stat.rsplit(")", 1)[1].split()[1] != me:
                        continue
                    for line in (entry / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_mib = max(self.peak_mib, int(line.split()[1]) / 1024)
                except (OSError, IndexError, ValueError):
                    continue
            self._stop.wait(self._every)


def _run_ours(args: argparse.Namespace, queue: mp.Queue) -> None:
    members, sites, weights, existing = make_instance(args.members, args.sites, args.existing,
                                                      args.area_km, args.seed)
    cov = sparse_coverage(members, sites, args.radius_m)
    base = _rss_mib()
    t0 = time.perf_counter()
    res = mclp(cov, weights, args.p, existing=existing, time_limit_s=args.time_limit, mip_gap=0.0)
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    grd = greedy_mclp(cov, weights, args.p, existing=existing)
    wall_g = time.perf_counter() - t1
    queue.put({"objective": res.objective, "wall": wall, "status": res.status, "gap": res.gap,
               "method": res.method, "nnz": cov.nnz, "base": base,
               "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "message": res.message, "greedy_objective": grd.objective, "greedy_wall": wall_g})


def _run_spopt(args: argparse.Namespace, queue: mp.Queue) -> None:
    import warnings

    import pulp
    from scipy.spatial.distance import cdist
    from spopt.locate import MCLP

    warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 3 deprecations inside spopt
    members, sites, weights, existing = make_instance(args.members, args.sites, args.existing,
                                                      args.area_km, args.seed)
    base = _rss_mib()
    dense = cdist(members, sites)  # spopt's input: a dense members × sites matrix
    t0 = time.perf_counter()
    model = MCLP.from_cost_matrix(dense, weights, args.radius_m, p_facilities=args.p + args.existing,
                                  predefined_facilities_arr=existing.astype(int) if args.existing else None)
    t_build = time.perf_counter() - t0
    with _ChildPeak() as cbc:
        model = model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=args.time_limit))
    wall = time.perf_counter() - t0
    queue.put({"objective": float(pulp.value(model.problem.objective)), "wall": wall, "build": t_build,
               "status": pulp.LpStatus[model.problem.status], "base": base,
               "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "cbc_peak": cbc.peak_mib})


def _in_child(target: Any, args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


# --------------------------------------------------------------------------- p-median, classic shape

#: Beasley-style grid (OR-Library pmed shapes): nodes -> edges, and the p values run on each
PMEDIAN_EDGES = {400: 8000, 600: 12000, 900: 16200}
PMEDIAN_PS = (5, 10, 20, 50, 100, 200)


def pmedian_instance(n: int, m: int, seed: int) -> np.ndarray:
    """Complete-graph p-median costs in the OR-Library style: a random connected graph of ``n``
    nodes and ``m`` edges with integer lengths 1–100, all-pairs shortest paths (every node is
    both a client and a candidate)."""
    from scipy.sparse.csgraph import shortest_path

    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    u, v = list(perm[:-1]), list(perm[1:])  # a random spanning path keeps it connected
    extra = m - len(u)
    a, b = rng.integers(0, n, 2 * extra), rng.integers(0, n, 2 * extra)
    keep = a != b
    u += list(a[keep][:extra])
    v += list(b[keep][:extra])
    w = rng.integers(1, 101, len(u)).astype(float)
    g = sp.coo_array((w, (u, v)), shape=(n, n)).tocsr()
    return shortest_path(g, directed=False)


def _pmedian_child(n: int, m: int, p: int, formulation: str, lagrangian: bool, time_limit: float,
                   queue: mp.Queue) -> None:
    from geo_planner.siting.stations import p_median, sparse_cost_matrix

    d = pmedian_instance(n, m, seed=n + p)
    r, c = np.divmod(np.arange(n * n), n)
    cost = sparse_cost_matrix(r, c, d[r, c], (n, n))
    t0 = time.perf_counter()
    res = p_median(cost, None, p, time_limit_s=time_limit, formulation=formulation,  # type: ignore[arg-type]
                   lagrangian=lagrangian)
    queue.put({"wall": time.perf_counter() - t0, "objective": res.objective, "status": res.status,
               "gap": res.gap, "message": res.message})


def _pmedian_run(n: int, p: int, formulation: str, lagrangian: bool, limit: float) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_pmedian_child, args=(n, PMEDIAN_EDGES[n], p, formulation, lagrangian, limit, q))
    proc.start()
    out = q.get()
    proc.join()
    return out


def _fmt(r: dict[str, Any] | None) -> str:
    if r is None:
        return f"{'-':>8} {'-':>10} {'-':>8}"
    mark = "" if r["status"] == "optimal" or r["gap"] is None else f" ({r['gap']:.2%})"
    return f"{r['wall']:8.1f} {r['status'] + mark:>10} {r['objective']:8.0f}"


def pmedian_benchmark(time_limit: float, pairs_max_n: int, pairs_time_limit: float,
                      sizes: tuple[int, ...] = (400, 600, 900)) -> list[tuple]:
    """Radius model with the Lagrangian stage against the radius model alone (baseline), same run.

    The textbook pairs model (one variable per pair) cross-checks the optima up to ``pairs_max_n``.
    """
    rows: list[tuple] = []
    print(f"\np-median on complete graphs (Beasley style), time limit {time_limit:g} s per solve; baseline: the "
          f"radius model without the Lagrangian stage; pairs model up to {pairs_max_n} nodes "
          f"(limit {pairs_time_limit:g} s); load average {os.getloadavg()[0]:.2f}")
    print(f"{'n':>4} {'p':>4} | {'new s':>8} {'status':>10} {'obj':>8} | {'base s':>8} {'status':>10} {'obj':>8} | "
          f"{'ratio':>6} | {'pairs s':>8} {'status':>10} {'obj':>8}")
    for n in sizes:
        for p in PMEDIAN_PS:
            if p >= n:
                continue
            new = _pmedian_run(n, p, "radius", True, time_limit)
            base = _pmedian_run(n, p, "radius", False, time_limit)
            pairs = _pmedian_run(n, p, "pairs", False, pairs_time_limit) if n <= pairs_max_n else None
            ratio = new["wall"] / base["wall"]
            print(f"{n:4d} {p:4d} | {_fmt(new)} | {_fmt(base)} | {ratio:6.2f} | {_fmt(pairs)}", flush=True)
            proven = [r["objective"] for r in (new, base, pairs) if r is not None and r["status"] == "optimal"]
            if proven and max(proven) - min(proven) > 1e-6:
                print(f"     DISAGREE: proven optima {proven}")
            if new["status"] != "optimal" or base["status"] != "optimal":
                if min(r["objective"] for r in (new, base)) < new["objective"] - 1e-6:
                    print("     the baseline found a better solution")
            rows.append((f"p-median n={n} p={p} ({new['status']})", new["wall"], base["wall"],
                         f"radius model alone ({base['status']})"))
    return rows


def main(argv: list[str] | None = None) -> None:
    """Parse options, run both solvers on the same instance and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--sites", type=int, default=1_000, help="candidate sites (existing ones included)")
    ap.add_argument("--existing", type=int, default=20, help="sites already open (always kept)")
    ap.add_argument("--p", type=int, default=50, help="new sites to open")
    ap.add_argument("--radius-m", type=float, default=1000.0, help="coverage radius, metres (15 min walk)")
    ap.add_argument("--area-km", type=float, default=20.0, help="side of the square city, km")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=600.0, help="per solver, seconds")
    ap.add_argument("--skip-spopt", action="store_true")
    ap.add_argument("--skip-mclp", action="store_true", help="only the p-median section")
    ap.add_argument("--skip-pmedian", action="store_true", help="only the MCLP section")
    ap.add_argument("--pmedian-time-limit", type=float, default=60.0)
    ap.add_argument("--pmedian-sizes", type=int, nargs="+", default=[400, 600, 900])
    ap.add_argument("--pairs-max-n", type=int, default=400, help="largest instance for the pairs baseline")
    ap.add_argument("--pairs-time-limit", type=float, default=60.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows: list[tuple] = []
    if not args.skip_mclp:
        rows += mclp_benchmark(args)
    if not args.skip_pmedian:
        rows += pmedian_benchmark(args.pmedian_time_limit, args.pairs_max_n, args.pairs_time_limit,
                                  tuple(args.pmedian_sizes))
    for name, ours, base, base_name in rows:
        ratio = ours / base if base == base else float("nan")
        print(f"ROW|{name}|{ours:.3f}|{base:.3f}|{ratio:.2f}|{base_name}")


def mclp_benchmark(args: argparse.Namespace) -> list[tuple]:
    """Our MCLP against spopt's on the same seeded instance (each in its own process)."""

    print(f"instance: {args.members} members, {args.sites} sites ({args.existing} existing), p={args.p}, "
          f"radius {args.radius_m:g} m, {args.area_km:g} km × {args.area_km:g} km, seed {args.seed}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    ours = _in_child(_run_ours, args)
    print(f"coverage pairs (nnz): {ours['nnz']:,} of {args.members * args.sites:,} "
          f"({ours['nnz'] / (args.members * args.sites):.2%})")
    ours_extra = ours["peak"] - ours["base"]
    print(f"ours   ({ours['method']}, {ours['status']}, gap {ours['gap']}): "
          f"objective {ours['objective']:.1f}, "
          f"wall {ours['wall']:.3f} s, peak RSS {ours['peak']:.0f} MiB = {ours['base']:.0f} MiB before the "
          f"solve (interpreter, instance, sparse coverage) + {ours_extra:.0f} MiB")
    print(f"ours greedy: objective {ours['greedy_objective']:.1f}, wall {ours['greedy_wall']:.3f} s")
    print(f"  {ours['message']}")
    if args.skip_spopt:
        return []
    ref = _in_child(_run_spopt, args)
    ref_extra = ref["peak"] - ref["base"]
    print(f"spopt  (PuLP/CBC, {ref['status']}): objective {ref['objective']:.1f}, wall {ref['wall']:.3f} s "
          f"(model build {ref['build']:.1f} s), peak RSS {ref['peak']:.0f} MiB = "
          f"{ref['base']:.0f} MiB before "
          f"(interpreter, imports, instance) + {ref_extra:.0f} MiB (dense matrix, PuLP model); "
          f"CBC process peak {ref['cbc_peak']:.0f} MiB")
    print(f"objective ours - spopt: {ours['objective'] - ref['objective']:+.6g}")
    print(f"time ratio spopt / ours: {ref['wall'] / ours['wall']:.1f}x "
          f"(load average {os.getloadavg()[0]:.2f} at the end)")
    print(f"peak RSS ratio spopt / ours: {ref['peak'] / ours['peak']:.1f}x (whole process), "
          f"{(ref_extra + ref['cbc_peak']) / max(ours_extra, 1.0):.1f}x "
          "(memory added by the solve, CBC included)")
    return [(f"MCLP {args.members}x{args.sites} p={args.p}", ours["wall"], ref["wall"], "spopt MCLP (PuLP/CBC)")]


if __name__ == "__main__":
    main()
