"""Benchmark: a synthetic province of city-sized regions, on a Dask LocalCluster and serially.

Each region is a seeded :mod:`geo_planner.citygen` city on one real extract (深圳龙岗, 贵溪,
南京 in turn, each region with its own seed): ``--members / --regions`` members in branches of
~70, 100 stations, 10 hospitals. Its scenario loads **only its own extract**; the 1 % of its
members who live in the other two extracts are 异地 and are resolved across regions
(``cross_region.csv``). Shared settings are the defaults but for ``[siting] time_limit_s``
(``--time-limit``). Each mode runs in a fresh process on warm network caches.

Printed: wall time and peak RSS of each mode's whole process tree (the client, and for
LocalCluster its scheduler, nannies and workers; sampled every 0.2 s), LocalCluster / serial
as ratios measured in the same run (``ROW|…`` lines for ``run_all.py``), and the target check
(1,000,000 members in ≥ 10 regions ≤ 5 min, peak RSS ≤ 6 GiB).

Run::

    .venv/bin/python benchmarks/province.py                                   # 10 regions × 10,000
    .venv/bin/python benchmarks/province.py --members 1000000 --skip-serial   # the target
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXTRACTS = ("shenzhen_longgang.osm", "guixi_jiangxi.osm", "nanjing_xuanwu.osm")
NAMES = {"shenzhen_longgang.osm": "龙岗", "guixi_jiangxi.osm": "贵溪", "nanjing_xuanwu.osm": "南京"}


def make_province(folder: Path, regions: int, members: int, cache: Path, time_limit: float) -> Path:
    """Write ``regions`` seeded city regions and the province TOML; returns its path."""
    from geo_planner.citygen import REGIONS, bundled_extract, generate_city

    paths = [bundled_extract(n) for n in EXTRACTS]
    blocks = []
    per = members // regions
    for i in range(regions):
        main = paths[i % len(paths)]
        d = folder / f"r{i:02d}"
        generate_city(d, n_members=per, n_branches=max(1, per // 70), n_stations=100, n_hospitals=10,
                      main=main, others=[p for p in paths if p != main], seed=3000 + i, cache_dir=cache)
        blocks.append(
            f'[[regions]]\nname = "{NAMES[main.name]}{i:02d}"\nosm = ["{main}"]\n'
            f'default_region = "{REGIONS[main.name]}"\n'
            f'[regions.inputs]\nmembers = "{d / "members.csv"}"\nbranches = "{d / "branches.csv"}"\n'
            f'stations = "{d / "stations.csv"}"\nhospitals = "{d / "hospitals.csv"}"\n'
        )
    head = (f'name = "合成省"\nseed = 1\n[network]\ncache_dir = "{cache}"\n'
            f"[siting]\nnew_stations = 10\ntime_limit_s = {time_limit:g}\n")
    path = folder / "province.toml"
    path.write_text(head + "\n".join(blocks), encoding="utf-8")
    return path


def _statuses(doc: object, path: str = "") -> list[tuple[str, str]]:
    """Every ``…status`` value in a run.json ``counts`` tree, with its dotted path."""
    out: list[tuple[str, str]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            p = f"{path}.{k}" if path else str(k)
            if isinstance(v, (dict, list)):
                out += _statuses(v, p)
            elif str(k).endswith("status") and isinstance(v, str):
                out.append((p, v))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _statuses(v, f"{path}[{i}]")
    return out


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def measure(toml: Path, out: Path, scheduler: str) -> dict[str, float]:
    """Run the province CLI in a fresh process; wall seconds and peak RSS (GiB) of its process tree."""
    cmd = [sys.executable, "-m", "geo_planner", "run", str(toml), "--out", str(out), "--no-map-copy",
           "--scheduler", scheduler]
    peak = 0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    while proc.poll() is None:
        peak = max(peak, _tree_rss(ps))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    reader.join()
    for line in lines:
        if line.startswith("region ") or line.startswith("regions:"):
            print(f"  [{scheduler}] {line}", end="")
    if proc.returncode != 0:
        print("".join(lines[-30:]))
        raise SystemExit(f"{scheduler} run failed ({proc.returncode})")
    return {"wall": wall, "peak_gib": peak / 2**30}


def _stopped(folder: Path, regions: list[str], mode: str) -> None:
    for n in regions:
        doc = folder / "regions" / n / "run.json"
        if not doc.exists():
            continue
        counts = json.loads(doc.read_text(encoding="utf-8"))["counts"]
        stopped = sorted(f"{k}={v}" for k, v in _statuses(counts) if v not in ("optimal", "ok", ""))
        if stopped:
            print(f"  [{mode}] {n}: models not proven optimal: {', '.join(stopped)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=10)
    ap.add_argument("--members", type=int, default=100_000, help="members in the whole province")
    ap.add_argument("--time-limit", type=float, default=10.0, help="[siting] time_limit_s of every region")
    ap.add_argument("--skip-serial", action="store_true", help="only the LocalCluster run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        cache = tmpd / "cache"
        t0 = time.perf_counter()
        toml = make_province(tmpd / "province", args.regions, args.members, cache, args.time_limit)
        from geo_planner.province import load_plan, run_province

        prov = load_plan(toml)
        names = [n for n, _ in prov.regions]
        print(f"synthetic province: {args.regions} regions, {args.members:,} members "
              f"(generated in {time.perf_counter() - t0:.1f} s)")
        # warm the network/gazetteer caches once per extract (a 300-member copy of the first regions)
        text = toml.read_text(encoding="utf-8")
        for i in range(min(3, args.regions)):
            d = tmpd / "province" / f"r{i:02d}"
            pd.read_csv(d / "members.csv", dtype=str).head(300).to_csv(d / "members_warm.csv", index=False)
            text = text.replace(f"{d / 'members.csv'}", f"{d / 'members_warm.csv'}")
        (tmpd / "warm.toml").write_text(text, encoding="utf-8")
        warm = load_plan(tmpd / "warm.toml")
        run_province(type(warm)(warm.name, warm.regions[:3], warm.run), tmpd / "warm")
        local = measure(toml, tmpd / "local", "local")
        _stopped(tmpd / "local", names, "local")
        serial = None if args.skip_serial else measure(toml, tmpd / "serial", "serial")
        regions = pd.read_csv(tmpd / "local" / "regions.csv", encoding="utf-8-sig")
        stage_cols = [c for c in regions.columns if c.startswith("time_")]
        print("stage seconds summed over regions (LocalCluster): " + ", ".join(
            f"{c[5:-2]} {regions[c].sum():.1f}" for c in stage_cols))
        same = None
        if serial is not None:
            _stopped(tmpd / "serial", names, "serial")
            differ = [f"{n}/{f}" for n in names for f in ("members.csv", "recommendations.csv")
                      if (tmpd / "serial" / "regions" / n / f).read_bytes()
                      != (tmpd / "local" / "regions" / n / f).read_bytes()]
            same = not differ
            if differ:
                print(f"outputs that differ (models stopped by a time limit may): {', '.join(differ)}")
        doc = json.loads((tmpd / "local" / "run.json").read_text(encoding="utf-8"))
    cpus = psutil.cpu_count()
    print(f"LocalCluster ({min(cpus or 1, args.regions)} workers x 1 thread): {local['wall']:.1f} s, "
          f"peak RSS {local['peak_gib']:.2f} GiB")
    print(f"regions ok: {(regions['status'] == 'ok').sum()}/{len(regions)}; slowest region "
          f"{regions['wall_s'].max():.1f} s; province wall in run.json {doc['wall_s']:.1f} s; "
          f"cross-region members {doc['cross_region_members']:,} "
          f"(served in their host regions; {doc.get('cross_region_branches', 0)} 异地支部 there)")
    rate = args.members / local["wall"]
    print(f"throughput on LocalCluster: {rate:,.0f} members/s -> 1,000,000 members: "
          f"~{1_000_000 / rate / 60:.1f} min at this rate (target <= 5 min, peak RSS <= 6 GiB)")
    label = f"province {args.regions} regions x {args.members // args.regions:,} members"
    if serial is not None:
        print(f"serial: {serial['wall']:.1f} s, peak RSS {serial['peak_gib']:.2f} GiB; outputs identical: {same}")
        print(f"ROW|{label}, wall s|{local['wall']:.1f}|{serial['wall']:.1f}|{local['wall'] / serial['wall']:.2f}|"
              "serial in one process, same run")
        print(f"ROW|{label}, peak RSS GiB|{local['peak_gib']:.2f}|{serial['peak_gib']:.2f}|"
              f"{local['peak_gib'] / serial['peak_gib']:.2f}|serial in one process, same run")
    else:
        print(f"ROW|{label}, wall s (LocalCluster)|{local['wall']:.1f}|300|{local['wall'] / 300:.2f}|"
              "the 5-minute target")
        print(f"ROW|{label}, peak RSS GiB|{local['peak_gib']:.2f}|6|{local['peak_gib'] / 6:.2f}|the 6 GiB target")


if __name__ == "__main__":
    main()
