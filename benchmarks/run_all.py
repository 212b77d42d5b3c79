"""Run every benchmark in this folder and print one summary table.

Each ``benchmarks/<name>.py`` (except this file) is a script: it is run as its own process
(``python benchmarks/<name>.py``; extra options per module after ``--<name>``), its output is
shown as it goes, and the lines it prints as ``ROW|benchmark|ours s|baseline s|ratio|baseline``
are gathered into the table at the end. A new benchmark module only has to print such lines to
appear here (the city pipeline, the API load, …). The machine's other load shows in absolute
times; the ratios are against baselines measured in the same run.

Run: ``python benchmarks/run_all.py [--only travel api] [--skip siting]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Benchmark module names in this folder, sorted."""
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in {"run_all", "__init__"}
                  and not p.stem.startswith("_"))


def main() -> None:
    names = discover()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=names, help="run only these")
    ap.add_argument("--skip", nargs="*", default=[], choices=names)
    for n in names:
        ap.add_argument(f"--{n}", default="", help=f"extra options for {n}.py (one quoted string)")
    args = ap.parse_args()
    chosen = [n for n in (args.only or names) if n not in args.skip]
    rows: list[list[str]] = []
    failed: list[str] = []
    for name in chosen:
        print(f"\n===== {name} =====", flush=True)
        cmd = [sys.executable, str(HERE / f"{name}.py"), *getattr(args, name).split()]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=HERE.parent)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ROW|"):
                rows.append([name, *line.rstrip("\n").split("|")[1:]])
            else:
                print(line, end="", flush=True)
        if proc.wait() != 0:
            failed.append(name)
    load = os.getloadavg()
    print(f"\n===== summary ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, load average {load[0]:.1f}) =====")
    print("| module | benchmark | geo_planner | baseline | ratio | baseline is |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        module, bench, ours, base, ratio, base_name = (r + [""] * 6)[:6]
        print(f"| {module} | {bench} | {ours} | {base} | {ratio} | {base_name} |")
    if failed:
        print(f"failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
