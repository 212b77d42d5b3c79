"""The own-branch search cut-off: the travel stage of the city with and without it, same run.

    python benchmarks/cutoff.py [--members 56000] [--branches 800] [--stations 100] [--limit-min 120] [--repeat 3]

The city is the seeded one of ``benchmarks/city.py`` (:mod:`geo_planner.citygen`, homes on the real
深圳龙岗 roads, 1 % in 贵溪 and 南京). The networks are built once; then the travel stage
(:func:`geo_planner.travel.member_travel_table`: snapping, own-branch walks, nearest station,
nearest hospital by car) runs alternately **without** a cut-off (the baseline: every walk measured
in full, as before ``[thresholds] branch_search_limit_min``) and **with** it, ``--repeat`` times
each; the best wall time of each is kept and ``ratio`` is cut-off / full. The own-branch part
alone (:func:`geo_planner.travel.time_to_assigned`) is timed the same way. Every time within the
cut-off is checked equal to the full run's, and every member beyond it ``beyond_limit``.

``--porto N`` also times the own-branch walks of ``N`` members on the 64k-node Porto walking
network (the instance of ``benchmarks/travel.py``: 800 branches, 5 % of members in a branch
anywhere in the city), where the searches are long enough for the cut-off to matter.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _best(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    """Best wall seconds of ``repeat`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=56_000)
    p.add_argument("--branches", type=int, default=800)
    p.add_argument("--stations", type=int, default=100)
    p.add_argument("--limit-min", type=float, default=120.0, help="[thresholds] branch_search_limit_min")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--porto", type=int, default=0, metavar="N", help="also N members on the Porto network")
    args = p.parse_args()
    city(args)
    if args.porto:
        porto(args)


def _compare(name: str, full_fn, cut_fn, repeat: int) -> tuple[float, float, object, object]:  # noqa: ANN001
    """Alternate full and cut-off runs (load from other work hits both alike); best of each."""
    full_t = cut_t = float("inf")
    full = cut = None
    for _ in range(repeat):
        t, full = _best(full_fn, 1)
        full_t = min(full_t, t)
        t, cut = _best(cut_fn, 1)
        cut_t = min(cut_t, t)
    print(f"{name:<36}{full_t:>9.2f}{cut_t:>11.2f}{cut_t / full_t:>8.2f}")
    print(f"ROW|{name.strip()}, with the own-branch cut-off (s)|{cut_t:.2f}|{full_t:.2f}|{cut_t / full_t:.2f}|"
          "no cut-off, same run")
    return full_t, cut_t, full, cut


def _check(f: np.ndarray, c: np.ndarray, status: np.ndarray, limit: float) -> tuple[int, int]:
    """Times within the cut-off identical, members beyond it ``beyond_limit``; return both counts."""
    within = np.isfinite(f) & (f <= limit)
    beyond = np.isfinite(f) & (f > limit)
    assert np.array_equal(c[within], f[within]), "a time within the cut-off changed"
    assert (status[beyond] == "beyond_limit").all(), "a member beyond the cut-off kept a time"
    return int(within.sum()), int(beyond.sum())


def porto(args: argparse.Namespace) -> None:
    """The own-branch walks on the Porto network, full and cut off."""
    from benchmarks.travel import PORTO, porto_instance
    from geo_planner.network import build_network
    from geo_planner.travel import time_to_assigned

    with tempfile.TemporaryDirectory(prefix="gp-cutoff-porto-") as tmp:
        net = build_network([PORTO], "walk", cache_dir=Path(tmp))
    inst = porto_instance(net, args.porto, 100, args.branches)
    ms, bs = net.snap(inst["mlon"], inst["mlat"]), net.snap(inst["blon"], inst["blat"])
    print(f"\nPorto: {args.porto:,} members, {args.branches} branches, walk network {net.n_nodes:,} nodes")
    print(f"{'':<36}{'full s':>9}{'cut-off s':>11}{'ratio':>8}")
    _, _, full, cut = _compare("own branch only (time_to_assigned)",
                               lambda: time_to_assigned(net, ms, bs, inst["branch"]),
                               lambda: time_to_assigned(net, ms, bs, inst["branch"], limit_min=args.limit_min),
                               args.repeat)
    n_in, n_out = _check(full[0], cut[0], cut[1], args.limit_min)
    print(f"{n_out:,} members beyond {args.limit_min:g} min (longest {np.nanmax(full[0]):.0f} min); "
          f"{n_in:,} within, identical")


def city(args: argparse.Namespace) -> None:
    """The city's travel stage, full and cut off."""
    from geo_planner.citygen import generate_city
    from geo_planner.pipeline import run_networks
    from geo_planner.settings import load_scenario
    from geo_planner.travel import member_travel_table, time_to_assigned

    with tempfile.TemporaryDirectory(prefix="gp-cutoff-") as tmp:
        cache = Path(tmp) / "cache"
        path = generate_city(Path(tmp) / "city", n_members=args.members, n_branches=args.branches,
                             n_stations=args.stations, seed=args.seed, cache_dir=cache)
        sc = load_scenario(path)
        walk, drive = run_networks(sc.model_copy(update={"network": sc.network.model_copy(update={"cache_dir": cache})}))
        assert drive is not None
        tables = {k: pd.read_csv(path.parent / f"{k}.csv", dtype={"id": str, "branch_id": str})
                  for k in ("members", "branches", "stations", "hospitals")}
    m, b, s, h = (tables[k] for k in ("members", "branches", "stations", "hospitals"))
    snap = sc.network.max_snap_m
    walk.snap(walk.node_lon[:1], walk.node_lat[:1])  # snapping indexes built before any timing
    drive.snap(drive.node_lon[:1], drive.node_lat[:1])

    def stage(limit: float | None):  # noqa: ANN202
        return lambda: member_travel_table(walk, drive, m, b, s, h, max_snap_m=snap, branch_limit_min=limit)

    m_snap = walk.snap(m["lon"].to_numpy(float), m["lat"].to_numpy(float), max_snap_m=snap)
    b_snap = walk.snap(b["lon"].to_numpy(float), b["lat"].to_numpy(float), max_snap_m=snap)
    pos = pd.Index(b["id"]).get_indexer(m["branch_id"])

    def own(limit: float | None):  # noqa: ANN202
        return lambda: time_to_assigned(walk, m_snap, b_snap, pos, limit_min=limit)

    print(f"city: {len(m):,} members, {len(b)} branches, {len(s)} stations, {len(h)} hospitals; "
          f"walk network {walk.n_nodes:,} nodes; best of {args.repeat}, alternated")
    print(f"{'':<36}{'full s':>9}{'cut-off s':>11}{'ratio':>8}")
    _, _, full, cut = _compare("travel stage (member_travel_table)", stage(None), stage(args.limit_min), args.repeat)
    _compare("own branch only (time_to_assigned)", own(None), own(args.limit_min), args.repeat)
    f = full["walk_min_branch"].to_numpy()
    n_in, n_out = _check(f, cut["walk_min_branch"].to_numpy(), cut["branch_status"].to_numpy(), args.limit_min)
    print(f"{n_out:,} members walk longer than {args.limit_min:g} min to their branch (longest {np.nanmax(f):.0f} "
          f"min): beyond_limit with the cut-off; {n_in:,} within it, their times identical")

if __name__ == "__main__":
    main()
