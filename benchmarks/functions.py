"""Benchmark: the cost of 四就近 by function in the travel stage, on the bundled 深圳龙岗 roads.

    python benchmarks/functions.py [--members 100000] [--stations 100] [--repeat 3]

The job is the travel stage's member columns (``travel.member_travel_table``): own branch,
nearest station, and — with functions — the nearest place of each of study / activity /
service / contribution (one multi-source Dijkstra per function, the kinds split as in a city:
half 驿站/老党员之家, the rest 老年大学, 养老服务站 and 志愿服务站, a few 活动中心 serving both
activity and study). Both variants run in this process on the same seeded members and stations
(homes 5–25 m off random road edges), best of ``--repeat``:

* **baseline**: the travel table as before this feature (no ``station_functions``);
* **functions**: the same table with the four functions' columns.

``ratio`` is functions / baseline. The per-function times are checked against a separate
``nearest_facility`` call on each function's places (they must be equal).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LONGGANG = ROOT / "data" / "osm" / "shenzhen_longgang.osm"


def _points(net, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points 5–25 m off random road edges, weighted by length (homes on real streets)."""
    import shapely
    from pyproj import Transformer

    ex = net.extracts[0]
    geoms = net.edge_geom[ex.edge_start:ex.edge_stop]
    w = net.edge_length_m[ex.edge_start:ex.edge_stop]
    pick = rng.choice(len(geoms), size=n, p=w / w.sum())
    pts = shapely.line_interpolate_point(geoms[pick], rng.uniform(0, 1, n), normalized=True)
    ang, off = rng.uniform(0, 2 * np.pi, n), rng.uniform(5, 25, n)
    x, y = shapely.get_x(pts) + off * np.cos(ang), shapely.get_y(pts) + off * np.sin(ang)
    return Transformer.from_crs(ex.crs, "EPSG:4326", always_xy=True).transform(x, y)


def main() -> None:
    """Run the benchmark and print the figures."""
    from geo_planner.functions import station_functions
    from geo_planner.network import build_network
    from geo_planner.settings import scenario_from_dict
    from geo_planner.travel import member_travel_table, nearest_facility

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--branches", type=int, default=800)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(25)
    net = build_network([LONGGANG], "walk")
    mlon, mlat = _points(net, args.members, rng)
    slon, slat = _points(net, args.stations, rng)
    blon, blat = _points(net, args.branches, rng)
    kinds = rng.choice(["桑榆红驿站", "老党员之家", "老年大学教学点", "社区养老服务站", "志愿服务站",
                        "老干部活动中心"], args.stations, p=[0.3, 0.2, 0.15, 0.15, 0.12, 0.08])
    members = pd.DataFrame({"lon": mlon, "lat": mlat,
                            "branch_id": [f"B{i}" for i in rng.integers(0, args.branches, args.members)]})
    branches = pd.DataFrame({"id": [f"B{i}" for i in range(args.branches)], "lon": blon, "lat": blat})
    stations = pd.DataFrame({"id": [f"S{i}" for i in range(args.stations)], "kind": kinds,
                             "lon": slon, "lat": slat})
    sc = scenario_from_dict({"network": {"osm": [str(LONGGANG)]},
                             "functions": {"老干部活动中心": ["activity", "study"]},
                             "inputs": {"members": "m", "branches": "b", "stations": "s"}})
    served, _ = station_functions(stations, sc.functions)

    def best(**kw: object) -> tuple[float, pd.DataFrame]:
        times, out = [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = member_travel_table(net, None, members, branches, stations, None, max_snap_m=500, **kw)
            times.append(time.perf_counter() - t0)
        return min(times), out

    base_s, _ = best()
    fn_s, table = best(station_functions=served)
    ms = net.snap(mlon, mlat, max_snap_m=500)
    fs = net.snap(slon, slat, max_snap_m=500)
    worst = 0.0
    for f in served.columns:
        idx = np.flatnonzero(served[f].to_numpy())
        ref = nearest_facility(net, ms, fs.subset(idx)).minutes
        got = table[f"walk_min_{f}"].to_numpy(float)
        assert np.array_equal(np.isnan(ref), np.isnan(got)), f
        ok = ~np.isnan(ref)
        worst = max(worst, float(np.abs(ref[ok] - got[ok]).max(initial=0.0)))
    print(f"network: 深圳龙岗 walk, {net.n_nodes:,} nodes / {net.n_edges:,} edges; "
          f"{args.members:,} members, {args.branches} branches, {args.stations} stations "
          f"({', '.join(f'{f} {int(served[f].sum())}' for f in served.columns)})")
    print(f"baseline   (travel table, stations only):     {base_s:7.2f} s")
    print(f"functions  (+ nearest place of each function): {fn_s:7.2f} s   ratio {fn_s / base_s:.2f}×")
    print(f"per-function times vs a separate nearest_facility per function: max |Δ| = {worst:.2e} min")
    print(f"ROW|travel table + 4 functions, {args.members:,} members|{fn_s:.3f}|{base_s:.3f}|{fn_s / base_s:.2f}|"
          "travel table, stations only")


if __name__ == "__main__":
    main()
