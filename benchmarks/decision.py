"""Benchmark: what decision support (p-center, trade-off curve, sensitivity, phased plan, report) costs.

Two measurements, each printed as ratios against a baseline measured in the same run:

1. **The demo run** (real 贵溪/南京 roads): the seconds of the ``decision`` and ``report``
   stages against the rest of the same run (load … siting, maps, export).
2. **A city-sized instance** (the seeded instance of ``benchmarks/siting.py``: members clustered
   in compounds, straight-line walking minutes): each decision-support step against **one**
   maximal covering solve at ``p`` on the same instance (the run's own MCLP).

Run::

    .venv/bin/python benchmarks/decision.py
    .venv/bin/python benchmarks/decision.py --members 20000 --sites 2000 --p 20 --skip-demo
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from siting import make_instance  # noqa: E402

from geo_planner.decision.decide import SitingInstance, phased_plan, sensitivity, tradeoff_curve  # noqa: E402
from geo_planner.settings import Scenario, load_scenario  # noqa: E402
from geo_planner.siting.models.p_center import p_center  # noqa: E402
from geo_planner.siting.stations import mclp  # noqa: E402


def demo(cache: Path) -> None:
    """Stage seconds of one demo run: decision + report against the rest."""
    from geo_planner.pipeline import run

    scenario = load_scenario(ROOT / "data" / "demo" / "scenario.toml")
    scenario = scenario.model_copy(update={"network": scenario.network.model_copy(update={"cache_dir": cache})})
    with tempfile.TemporaryDirectory() as tmp:
        run(scenario, Path(tmp) / "warm")  # builds the network cache
        t0 = time.perf_counter()
        result = run(scenario, Path(tmp) / "run")
        wall = time.perf_counter() - t0
        doc = json.loads((Path(tmp) / "run" / "run.json").read_text(encoding="utf-8"))
    t = result.timings
    added = t.get("decision", 0.0) + t.get("report", 0.0)
    rest = sum(v for k, v in t.items() if k not in ("decision", "report"))
    parts = doc["counts"]["decision"]["timings_s"]
    print(f"demo run: {wall:.2f} s wall; stages {json.dumps(t)}")
    print(f"  decision {t.get('decision', 0):.2f} s ({json.dumps(parts)}), report {t.get('report', 0):.2f} s "
          f"(PDF: {'yes' if 'report_pdf' in result.files else doc['counts'].get('report', {}).get('pdf')})")
    print(f"  baseline: the rest of the same run {rest:.2f} s -> decision + report add {added:.2f} s "
          f"= {added / rest:.2f}x the rest")
    print(f"ROW|decision + report stages (demo)|{added:.3f}|{rest:.3f}|{added / rest:.2f}|rest of the demo run")


def city(n_members: int, n_sites: int, p: int, seed: int) -> None:
    """Each decision step against one MCLP solve on the same city-sized instance."""
    members, sites, weights, existing = make_instance(n_members, n_sites, max(1, n_sites // 50), 20.0, seed)
    cutoff_min, speed_m_min = 45.0, 4000.0 / 60.0
    hits = cKDTree(members).sparse_distance_matrix(cKDTree(sites), cutoff_min * speed_m_min, output_type="ndarray")
    order = np.lexsort((hits["j"], hits["i"]))
    cost = sp.csr_array((hits["v"][order] / speed_m_min + 1e-9, (hits["i"][order], hits["j"][order])),
                        shape=(n_members, n_sites))
    cost.sort_indices()
    before = np.full(n_members, np.inf)
    ex = cost[:, np.flatnonzero(existing)].tocsr()
    rows = np.repeat(np.arange(n_members), np.diff(ex.indptr))
    np.minimum.at(before, rows, ex.data)
    lon = 117.0 + members[:, 0] / 98_000
    lat = 28.0 + members[:, 1] / 110_540
    cands = pd.DataFrame({"id": [f"C{j}" for j in range(n_sites)], "name": [f"site {j}" for j in range(n_sites)],
                          "lon": 117.0 + sites[:, 0] / 98_000, "lat": 28.0 + sites[:, 1] / 110_540,
                          "existing": existing})
    inst = SitingInstance(
        member_ids=np.array([f"M{i}" for i in range(n_members)]), rows=np.arange(n_members), weights=weights,
        cost=cost, cutoff_min=cutoff_min, candidates=cands, existing=existing, threshold_min=15.0,
        before_min=before, precision=np.full(n_members, "coordinates"), lon=lon, lat=lat)
    scenario = Scenario.model_validate({
        "network": {"osm": [str(ROOT / "data" / "osm" / "guixi_jiangxi.osm")]},
        "inputs": {"members": "m.csv", "branches": "b.csv", "stations": "s.csv"},
        "siting": {"new_stations": p, "tradeoff_max_p": 10, "time_limit_s": 60, "sensitivity_draws": 0},
    })
    s = scenario.siting
    t0 = time.perf_counter()
    base = mclp(inst.cover(15.0), weights, p, existing=existing, time_limit_s=60)
    t_base = time.perf_counter() - t0
    print(f"city: {n_members} members x {n_sites} sites, {cost.nnz} pairs within {cutoff_min:g} min, p = {p}")
    print(f"  baseline: one MCLP solve {t_base:.2f} s ({base.method}, {base.status}, "
          f"coverage {base.coverage_share:.4f})")
    steps = {
        "trade-off curve (p = 0..10)": lambda: tradeoff_curve(inst, s),
        "sensitivity (thresholds, tiers, speeds)": lambda: sensitivity(inst, None, scenario,  # type: ignore[arg-type]
                                                                       base_sites=base.selected),
        "phased plan (2 a year, 3 years)": lambda: phased_plan(inst, s),
        "p-center": lambda: p_center(inst.cost, p, existing=existing, time_limit_s=60),
    }
    for name, fn in steps.items():
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        note = ""
        if name.startswith("trade"):
            note = f"statuses {out['status'].value_counts().to_dict()}; at p: {out.loc[p, 'weighted_coverage_share']}"
        elif name.startswith("p-center"):
            note = f"{out.status}, radius {out.radius_min:.2f} min, {out.solves} solves"
        elif name.startswith("phased"):
            note = f"optimal at every horizon: {out[1]['optimal_at_every_horizon']}"
        print(f"  {name}: {dt:.2f} s = {dt / t_base:.1f}x one MCLP solve  {note}")
        print(f"ROW|{name}|{dt:.3f}|{t_base:.3f}|{dt / t_base:.2f}|one MCLP solve")


def main() -> None:
    """Parse the options and run both measurements."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--sites", type=int, default=1_000)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "geo_planner_bench_cache")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print("machine: shared with other work; compare the ratios, not the seconds")
    if not args.skip_demo:
        demo(args.cache)
    city(args.members, args.sites, args.p, args.seed)


if __name__ == "__main__":
    main()
