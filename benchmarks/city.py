"""City end to end: 56,000 members / 800 branches / 100 stations on the real 龙岗 roads, cold and warm.

    python benchmarks/city.py [--members 56000] [--branches 800] [--stations 100] [--time-limit 20]

The city is generated seeded by :mod:`geo_planner.citygen` (homes on the real 深圳龙岗 roads,
1 % of members in 贵溪 and 南京: 异地). Each run is a fresh process running the whole pipeline
(load → export, every output file written):

* **cold**: an empty network cache (the OSM extracts are parsed and the networks built);
* **warm**: the same scenario again with the cache the cold run filled.

First, the joint-branch model on separate neighbourhoods, solved as components and as one
model (the baseline, same run). Then, for the city: wall seconds and peak RSS per run, the per-stage timings, whether the siting stage
kept to ``[siting] time_limit_s`` (+ 10 %), and what each model did (status, gap). The
baseline, measured in the same run so that load from other work cancels out, is the
bundled demo scenario (a few hundred members) end to end, warm: ``ratio`` is city / demo.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from geo_planner.pipeline import run
from geo_planner.settings import load_scenario
scenario_path, out, cache = sys.argv[1:4]
s = load_scenario(scenario_path)
s = s.model_copy(update={"network": s.network.model_copy(update={"cache_dir": Path(cache)})})
t0 = time.perf_counter()
r = run(s, out)
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "timings": r.timings, "siting": r.counts.get("siting", {}),
                  "organisation": r.counts.get("organisation", {}), "members": r.counts["members"],
                  "stopped": r.counts.get("models_stopped", [])}))
"""


def _run(scenario: Path, out: Path, cache: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(scenario), str(out), str(cache)],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    if proc.returncode != 0:
        raise SystemExit(f"run failed:\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0  # incl. interpreter start and imports
    return res


def decomposition(n_clusters: int = 20, per: int = 150, sites: int = 12, time_limit_s: float = 60.0) -> None:
    """Joint branches on separate neighbourhoods: components solved one by one vs one model for all.

    ``n_clusters`` groups of ``per`` dispersed members, each with its own ``sites`` meeting
    places within reach (walks 1–20 min, 40 units per cluster): the baseline is the same call
    with ``decompose=False``, in the same run.
    """
    import numpy as np
    import scipy.sparse as sp

    from geo_planner.organisation import solve_joint_branches

    rng = np.random.default_rng(20261202)
    blocks, units = [], []
    for c in range(n_clusters):
        xy, sxy = rng.uniform(0, 3, (per, 2)), rng.uniform(0, 3, (sites, 2))
        d = np.hypot(*(xy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1)) * 12
        blocks.append(sp.csr_matrix(np.where(d <= 20, d + 0.1, 0.0)))
        units.append(rng.integers(0, 40, per) + 40 * c)
    cost, unit = sp.block_diag(blocks, format="csr"), np.concatenate(units)
    station = rng.random(cost.shape[1]) < 0.3
    out = {}
    for name, dec in (("one model (baseline)", False), ("components", True)):
        t0 = time.perf_counter()
        sol = solve_joint_branches(cost, unit, station, time_limit_s=time_limit_s, decompose=dec)
        out[name] = (time.perf_counter() - t0, sol)
    base = out["one model (baseline)"][0]
    print(f"\njoint branches, {n_clusters} neighbourhoods × {per} members × {sites} sites "
          f"(time limit {time_limit_s:g} s):")
    for name, (secs, sol) in out.items():
        print(f"  {name:<22}{secs:>7.2f} s  {sol.status:<11} placed {sol.n_placed} of bound {sol.bound}, "
              f"gap {'—' if sol.gap is None else f'{100 * sol.gap:.2f}%'}, ratio {secs / base:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=56_000)
    p.add_argument("--branches", type=int, default=800)
    p.add_argument("--stations", type=int, default=100)
    p.add_argument("--time-limit", type=float, default=20.0, help="[siting] time_limit_s of the city scenario")
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--decomposition-only", action="store_true", help="only the joint-branch decomposition part")
    args = p.parse_args()
    decomposition()
    if args.decomposition_only:
        return

    from geo_planner.citygen import generate_city

    with tempfile.TemporaryDirectory(prefix="gp-city-") as tmp:
        tmp_p = Path(tmp)
        t0 = time.perf_counter()
        scenario = generate_city(tmp_p / "city", n_members=args.members, n_branches=args.branches,
                                 n_stations=args.stations, seed=args.seed, time_limit_s=args.time_limit,
                                 cache_dir=tmp_p / "gen-cache")
        gen_s = time.perf_counter() - t0
        demo = ROOT / "data" / "demo" / "scenario.toml"
        _run(demo, tmp_p / "demo0", tmp_p / "demo-cache")  # fills the demo's cache
        base = _run(demo, tmp_p / "demo1", tmp_p / "demo-cache")
        cold = _run(scenario, tmp_p / "cold", tmp_p / "city-cache")
        warm = _run(scenario, tmp_p / "warm", tmp_p / "city-cache")

    print(f"city: {cold['members']} members, {args.branches} branches, {args.stations} stations "
          f"(generated in {gen_s:.1f} s); [siting] time_limit_s = {args.time_limit:g}")
    print(f"{'run':<22}{'wall s':>9}{'process s':>11}{'peak RSS MiB':>14}{'ratio':>8}")
    for name, r in (("demo (baseline, warm)", base), ("city cold", cold), ("city warm", warm)):
        print(f"{name:<22}{r['wall_s']:>9.1f}{r['process_s']:>11.1f}{r['peak_rss_mib']:>14.0f}"
              f"{r['wall_s'] / base['wall_s']:>8.1f}")
    print("\nstage seconds (cold / warm):")
    for stage in cold["timings"]:
        print(f"  {stage:<12}{cold['timings'][stage]:>8.2f}{warm['timings'].get(stage, float('nan')):>8.2f}")
    limit = args.time_limit
    for name, r in (("cold", cold), ("warm", warm)):
        s = r["timings"].get("siting", float("nan"))
        verdict = "kept" if s <= 1.1 * limit else "MISSED"
        print(f"siting stage {name}: {s:.1f} s vs limit {limit:g} s + 10 % → {verdict}")
    for name, r in (("cold", cold), ("warm", warm)):
        print(f"\nmodels ({name} run):")
        for group in ("siting", "organisation"):
            for model, rec in r[group].items():
                if isinstance(rec, dict):
                    gap = rec.get("gap")
                    extra = ""
                    if model == "joint_branch":
                        extra = (f", placed {rec.get('placed')} of bound {rec.get('bound')}, "
                                 f"{rec.get('components')} component(s)")
                    print(f"  {model:<14}{rec.get('status', ''):<12}{rec.get('runtime_s', 0):>7.2f} s  gap "
                          f"{'—' if gap is None else f'{100 * gap:.2f}%'}{extra}")
    for name, r in (("city cold", cold), ("city warm", warm)):
        print(f"ROW|{name} (56k members)|{r['wall_s']:.3f}|{base['wall_s']:.3f}|{r['wall_s'] / base['wall_s']:.2f}|"
              "demo end to end, warm")
    target = 60.0
    print(f"\ntarget: city end to end ≤ {target:g} s (warm {warm['wall_s']:.1f} s, cold {cold['wall_s']:.1f} s), "
          f"peak RSS ≤ 3 GiB (max {max(cold['peak_rss_mib'], warm['peak_rss_mib']) / 1024:.2f} GiB)")


if __name__ == "__main__":
    main()
