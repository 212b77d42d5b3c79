"""Home visits: plan time and drive time against a nearest-neighbour plan, measured in the same run.

    python benchmarks/visits.py [--skip-city] [--visit-min 10]

* **county**: 185 visits (seeded homes along the 贵溪 demo county's drive roads), 3 cars, 2 days,
  the default working hours: the whole :func:`geo_planner.visits.plan_visits` (snap, drive-time
  matrix, PyVRP) must take ≤ 10 s, and its total drive time must be at least 15 % below the
  *nearest-neighbour* plan of the same visits on the same instance (each car in turn drives to the
  nearest home that still fits: the plan by hand), printed side by side.
* **city**: 2,000 visits among the members of the 56,000-member city (:mod:`geo_planner.citygen`,
  homes on the real 深圳龙岗 roads), 20 cars, 5 days: ≤ 60 s.

Visits last ``--visit-min`` minutes (holiday visits, 走访慰问: short), chosen so that every visit
fits in both plans and the two drive totals compare the same visits (the visits each plan makes
are printed too).
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

from geo_planner.citygen import bundled_extract, generate_city  # noqa: E402
from geo_planner.network import build_network  # noqa: E402
from geo_planner.roadpoints import RoadPointSampler  # noqa: E402
from geo_planner.settings import VisitSettings  # noqa: E402
from geo_planner.visits import plan_visits  # noqa: E402
from geo_planner.visits.matrix import drive_seconds  # noqa: E402
from geo_planner.visits.solve import drive_total_s, nearest_neighbour  # noqa: E402

SEED = 20261207


def _members(lon: np.ndarray, lat: np.ndarray, prefix: str) -> pd.DataFrame:
    n = lon.shape[0]
    return pd.DataFrame({"id": [f"{prefix}{i:05d}" for i in range(n)], "name": [f"成员{i}" for i in range(n)],
                         "status": "lixiu", "age": 88, "lon": lon, "lat": lat, "network_status": "ok",
                         "dispersion_reason": ""})


def _compare(name: str, members: pd.DataFrame, drive, office: tuple[float, float], cars: int, days: int,
             visit_min: float, time_limit_s: float, target_s: float) -> bool:
    settings = VisitSettings(offices=[{"name": "老干部局", "lon": office[0], "lat": office[1], "visitors": cars,
                                       "days": days}], select=["all"], duration_min=visit_min,
                             time_limit_s=time_limit_s)
    t0 = time.perf_counter()
    plan = plan_visits(members, drive, settings, seed=SEED)
    wall = time.perf_counter() - t0
    inst = plan.instance
    t1 = time.perf_counter()
    nn = nearest_neighbour(inst)
    nn_s = time.perf_counter() - t1
    ours_min, nn_min = drive_total_s(inst, plan.solution) / 60, drive_total_s(inst, nn) / 60
    n_ours = inst.n_homes - plan.solution.unplanned.size
    n_nn = inst.n_homes - nn.unplanned.size
    cut = 1 - ours_min / nn_min if nn_min > 0 else float("nan")
    s = plan.summary
    print(f"\n{name}: {len(members)} homes, {cars} cars × {days} days, {visit_min:g} min visits")
    print(f"  plan (PyVRP)        {wall:7.2f} s  (matrix {s['times_s']['matrix']:.2f} s, solver "
          f"{s['solver']['runtime_s']:.2f} s, {s['solver']['iterations']} iterations)  target ≤ {target_s:g} s: "
          f"{'met' if wall <= target_s else 'MISSED'}")
    print(f"  visits planned      PyVRP {n_ours}   nearest neighbour {n_nn}   (unvisited: {s['unvisited_by_reason']})")
    print(f"  drive minutes       PyVRP {ours_min:9.1f}   nearest neighbour {nn_min:9.1f}   "
          f"({100 * cut:.1f} % less; target ≥ 15 %: {'met' if cut >= 0.15 and n_ours >= n_nn else 'MISSED'})")
    print(f"  per visit           PyVRP {ours_min / max(n_ours, 1):9.2f}   nearest neighbour "
          f"{nn_min / max(n_nn, 1):9.2f}   (nearest-neighbour plan built in {nn_s:.2f} s)")
    print(f"ROW|visits {name} drive min|{ours_min:.1f}|{nn_min:.1f}|{ours_min / nn_min:.2f}|nearest neighbour")
    return wall <= target_s


def _reachable(drive, office: tuple[float, float], homes: tuple[np.ndarray, np.ndarray], n: int):
    """The first ``n`` homes a car reaches from the office and back (the 贵溪 roads have one-way pockets)."""
    lon, lat = np.r_[office[0], homes[0]], np.r_[office[1], homes[1]]
    secs = drive_seconds(drive, drive.snap(lon, lat))
    ok = np.flatnonzero(np.isfinite(secs[0, 1:]) & np.isfinite(secs[1:, 0]))[:n]
    return homes[0][ok], homes[1][ok]


def county(visit_min: float) -> None:
    from geo_planner.settings import load_scenario

    sc = load_scenario(ROOT / "data" / "demo" / "scenario.toml")
    drive = build_network(sc.network.osm, "drive", cache_dir=sc.network.resolved_cache_dir())
    office = (117.239785, 28.2907838)  # the demo's station S01 (花园社区)
    lon, lat = _reachable(drive, office, RoadPointSampler(drive, 0, np.random.default_rng(SEED)).anywhere(600), 185)
    _compare("county (贵溪 demo)", _members(lon, lat, "G"), drive, office, 3, 2, visit_min, 8.0, 10.0)


def city(visit_min: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        scenario = generate_city(tmp)
        raw = pd.read_csv(Path(tmp) / "members.csv", encoding="utf-8")
        print(f"\ncity generated in {time.perf_counter() - t0:.1f} s: {len(raw)} members")
    lon_col = next(c for c in raw.columns if c.lower() in ("lon", "经度"))
    lat_col = next(c for c in raw.columns if c.lower() in ("lat", "纬度"))
    main = bundled_extract("shenzhen_longgang.osm")
    t0 = time.perf_counter()
    drive = build_network([main], "drive")
    print(f"drive network: {drive.n_nodes} nodes, {time.perf_counter() - t0:.1f} s ({scenario.name} of the city)")
    b = drive.extracts[0].bounds_lonlat
    inside = raw[raw[lon_col].between(b[0], b[2]) & raw[lat_col].between(b[1], b[3])]
    cand = inside.sample(3000, random_state=SEED)
    office = (float(np.median(cand[lon_col])), float(np.median(cand[lat_col])))  # the office: in the middle
    lon, lat = _reachable(drive, office, (cand[lon_col].to_numpy(float), cand[lat_col].to_numpy(float)), 2000)
    members = _members(lon, lat, "C")
    _compare("city (56k, 龙岗)", members, drive, office, 20, 5, visit_min, 45.0, 60.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-city", action="store_true")
    ap.add_argument("--visit-min", type=float, default=10.0)
    args = ap.parse_args()
    county(args.visit_min)
    if not args.skip_city:
        city(args.visit_min)


if __name__ == "__main__":
    main()
