"""Benchmark: a synthetic province, serially in one process vs on a Dask LocalCluster.

Each region is the seeded demo generator (``geo_planner.demo``, real 贵溪/南京 roads) with its
own seed, its members replicated ``--scale`` times with a seeded 30 m jitter (new ids, same
branches), so a region holds about 708 × scale members. Both modes run the same province in a
fresh process each, on warm network caches, with decision support trimmed (no sensitivity
draws, trade-off curve to p = 2, no PDF) so that the regions' pipelines dominate.

Printed: wall time of each mode and peak RSS of each mode's whole process tree (the client,
and for LocalCluster its scheduler, nannies and workers; sampled every 0.2 s), as ratios
LocalCluster / serial measured in the same run (``ROW|…`` lines for ``run_all.py``).

Run::

    .venv/bin/python benchmarks/province.py                       # 4 regions × ~3,500 members
    .venv/bin/python benchmarks/province.py --regions 10 --scale 10
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

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def scale_members(src: Path, dst: Path, scale: int, seed: int) -> int:
    """Replicate a members table ``scale`` times with a seeded ~30 m jitter; returns the row count."""
    df = pd.read_csv(src, dtype=str, encoding="gb18030", keep_default_na=False)
    rng = np.random.default_rng(seed)
    idc, lonc, latc = df.columns[0], df.columns[8], df.columns[9]
    parts = []
    for k in range(scale):
        part = df.copy()
        if k:
            part[idc] = part[idc] + f"-{k}"
            lon0 = pd.to_numeric(part[lonc], errors="coerce")
            lat0 = pd.to_numeric(part[latc], errors="coerce")
            has = lon0.notna() & lat0.notna()  # planted bad values ("abc") stay as written
            lon = lon0[has] + rng.normal(0, 30 / 98_000, int(has.sum()))
            lat = lat0[has] + rng.normal(0, 30 / 111_000, int(has.sum()))
            part.loc[has, lonc] = lon.round(7).astype(str)
            part.loc[has, latc] = lat.round(7).astype(str)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.to_csv(dst, index=False, encoding="utf-8-sig")
    return len(out)


def make_province(folder: Path, regions: int, scale: int, cache: Path) -> tuple[Path, int]:
    """Write ``regions`` seeded regions and the province TOML; returns (path, members)."""
    from geo_planner.demo import generate_demo

    osm = ROOT / "data" / "osm"
    total = 0
    blocks = []
    for i in range(regions):
        d = folder / f"r{i:02d}"
        generate_demo(d, osm, seed=1000 + i, cache_dir=cache)
        total += scale_members(d / "members.csv", d / "members_scaled.csv", scale, seed=2000 + i)
        blocks.append(
            f'[[regions]]\nname = "区{i:02d}"\nosm = ["{osm / "guixi_jiangxi.osm"}", "{osm / "nanjing_xuanwu.osm"}"]\n'
            f'[regions.inputs]\nmembers = "{d / "members_scaled.csv"}"\nbranches = "{d / "branches.csv"}"\n'
            f'stations = {{ path = "{d / "stations.xlsx"}", sheet = "驿站" }}\nhospitals = "{d / "hospitals.csv"}"\n'
        )
    head = (f'name = "合成省"\nseed = 1\n[network]\ncache_dir = "{cache}"\n[geocode]\ndefault_region = "江西省贵溪市"\n'
            "[siting]\nsensitivity_draws = 0\ntradeoff_max_p = 2\n"
            "[report]\npdf = false\n")
    path = folder / "province.toml"
    path.write_text(head + "\n".join(blocks), encoding="utf-8")
    return path, total


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--scale", type=int, default=5, help="member table replications per region (~708 each)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        cache = tmpd / "cache"
        t0 = time.perf_counter()
        toml, members = make_province(tmpd / "province", args.regions, args.scale, cache)
        print(f"synthetic province: {args.regions} regions, {members:,} members "
              f"(generated in {time.perf_counter() - t0:.1f} s)")
        # warm the network/gazetteer caches once so neither mode pays for building them
        from geo_planner.province import load_plan, run_province
        prov = load_plan(toml)
        warm = type(prov)(prov.name, prov.regions[:1], prov.run)
        run_province(warm, tmpd / "warm")
        serial = measure(toml, tmpd / "serial", "serial")
        local = measure(toml, tmpd / "local", "local")
        differ = [
            f"{n}/{f}" for n, _ in prov.regions for f in ("members.csv", "recommendations.csv")
            if (tmpd / "serial" / "regions" / n / f).read_bytes() != (tmpd / "local" / "regions" / n / f).read_bytes()
        ]
        same = not differ
        if differ:
            print(f"outputs that differ: {', '.join(differ)}")
        for mode in ("serial", "local"):  # a model stopped by its time limit may differ between runs
            for n, _ in prov.regions:
                counts = json.loads((tmpd / mode / "regions" / n / "run.json").read_text(encoding="utf-8"))["counts"]
                stopped = sorted(f"{k}={v}" for k, v in _statuses(counts) if v not in ("optimal", "ok", ""))
                if stopped:
                    print(f"  [{mode}] {n}: models not proven optimal: {', '.join(stopped)}")
        regions = pd.read_csv(tmpd / "local" / "regions.csv", encoding="utf-8-sig")
        sregions = pd.read_csv(tmpd / "serial" / "regions.csv", encoding="utf-8-sig")
        stage_cols = [c for c in regions.columns if c.startswith("time_")]
        print("stage seconds summed over regions (serial | LocalCluster): " + ", ".join(
            f"{c[5:-2]} {sregions[c].sum():.1f} | {regions[c].sum():.1f}" for c in stage_cols))
        doc = json.loads((tmpd / "local" / "run.json").read_text(encoding="utf-8"))
    cpus = psutil.cpu_count()
    print(f"serial: {serial['wall']:.1f} s, peak RSS {serial['peak_gib']:.2f} GiB")
    print(f"LocalCluster ({min(cpus or 1, args.regions)} workers x 1 thread): {local['wall']:.1f} s, "
          f"peak RSS {local['peak_gib']:.2f} GiB; outputs identical to serial: {same}")
    print(f"regions ok: {(regions['status'] == 'ok').sum()}/{len(regions)}; slowest region "
          f"{regions['wall_s'].max():.1f} s; province wall in run.json {doc['wall_s']:.1f} s")
    rate = members / local["wall"]
    print(f"throughput on LocalCluster: {rate:,.0f} members/s -> 1,000,000 members would take "
          f"~{1_000_000 / rate / 60:.1f} min at this rate (target <= 5 min)")
    print(f"ROW|province {args.regions} regions x {members // args.regions:,} members, wall s|{local['wall']:.1f}|"
          f"{serial['wall']:.1f}|{local['wall'] / serial['wall']:.2f}|serial in one process, same run")
    print(f"ROW|province peak RSS GiB (process tree)|{local['peak_gib']:.2f}|{serial['peak_gib']:.2f}|"
          f"{local['peak_gib'] / serial['peak_gib']:.2f}|serial in one process, same run")
    if not same:
        raise SystemExit("serial and LocalCluster outputs differ (see the models not proven optimal above)")


if __name__ == "__main__":
    main()
