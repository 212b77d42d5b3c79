"""Golden check: run the demo and compare every output with a reference run.

Use it around a restructuring, when behaviour must not change::

    # before the change, from the unchanged checkout: make the reference (kept outside the repo)
    python scripts/golden_check.py --make-reference /tmp/golden-ref
    # after every step: run the demo again and compare
    python scripts/golden_check.py --reference /tmp/golden-ref

The demo is run as a planner runs it (``python -m geo_planner run data/demo/scenario.toml``) with this
checkout first on ``PYTHONPATH``. Contents are compared, not bytes: CSV cells, JSON / GeoJSON values, every
sheet's cell values of an XLSX, the tables of a GeoPackage, the arrays of an NPZ, the text of an HTML page.
What differs between two identical runs is left out: timings, start and finish times, dates, solver run
times, the time left to a part of a stage (``time_limit_s`` of a component), the map's random element ids,
run ids and absolute paths (the checkout and the output folder are written as ``<REPO>`` and ``<OUT>``).
A PDF is rendered from ``report.html`` (compared as text); of the PDF itself only its page count is
compared. The exit status is 0 when everything compares equal, 1 with every difference listed, 2 when the
demo run itself failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "data" / "demo" / "scenario.toml"

# JSON keys (the last part of a dotted path, or a whole path prefix) whose values change from run to run
IGNORED_KEYS = re.compile(
    r"^(started|finished|timings_s|runtime_s|elapsed(_s)?|run_id|created(_at)?|generated(_at)?|date|timestamp)$"
)
# time left to one part of a stage: depends on how long the earlier parts took
IGNORED_PATHS = re.compile(r"(^|\.)largest_component\.time_limit_s$")
# CSV / XLSX columns that hold timings
IGNORED_COLUMNS = re.compile(
    r"^(runtime_s|elapsed(_s)?|run_id|started|finished|created(_at)?|generated(_at)?)$"
)
# text that holds the date or time of the run
DATE_PATTERNS = (
    re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?"),
    re.compile(r"\d{4}-\d{2}-\d{2}"),
    re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"),
    re.compile(r"\b\d+(\.\d+)? ?s\b(?= elapsed)"),
)
# the map's element ids (folium draws a random 32-hex id for each element)
ELEMENT_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-f])")
FLOAT_REL_TOL = 1e-9
MAX_LISTED = 20  # differences listed per file


def normalise_text(text: str, dirs: tuple[Path, ...]) -> str:
    """Write the output folders and the checkout as placeholders and the run's dates as ``<DATE>``.

    Parameters
    ----------
    text : str
        Text of an output file or one of its values.
    dirs : tuple of Path
        The folders the runs compared wrote to.

    Returns
    -------
    str
        The text with ``<OUT>``, ``<REPO>`` and ``<DATE>`` in place of what differs between runs.
    """
    longest_first = sorted({str(d.resolve()) for d in dirs} | {str(d) for d in dirs}, key=len, reverse=True)
    for folder in longest_first:  # one folder's path may start another's
        text = text.replace(folder, "<OUT>")
    text = text.replace(str(REPO), "<REPO>")
    for name in sorted({d.name for d in dirs if len(d.name) > 6}, key=len, reverse=True):
        text = text.replace(name, "<OUT>")  # the map's copy is named after the output folder
    for pattern in DATE_PATTERNS:
        text = pattern.sub("<DATE>", text)
    return ELEMENT_ID.sub("<ID>", text)


def same_value(a: Any, b: Any) -> bool:
    """Whether two scalar values are equal (floats to a relative 1e-9, both NaN equal)."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=1e-12)
    return bool(a == b)


def diff_json(ref: Any, new: Any, path: str, dirs: tuple[Path, ...]) -> Iterator[str]:
    """Yield the differences between two decoded JSON documents, key by key."""
    if isinstance(ref, dict) and isinstance(new, dict):
        for key in sorted(set(ref) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if IGNORED_KEYS.match(str(key)) or IGNORED_PATHS.search(sub):
                continue
            if key not in new:
                yield f"{sub}: missing (was {short(ref[key])})"
            elif key not in ref:
                yield f"{sub}: new key ({short(new[key])})"
            else:
                yield from diff_json(ref[key], new[key], sub, dirs)
    elif isinstance(ref, list) and isinstance(new, list):
        if len(ref) != len(new):
            yield f"{path}: {len(ref)} items, now {len(new)}"
        for i, (a, b) in enumerate(zip(ref, new, strict=False)):
            yield from diff_json(a, b, f"{path}[{i}]", dirs)
    elif isinstance(ref, str) and isinstance(new, str):
        if normalise_text(ref, dirs) != normalise_text(new, dirs):
            yield f"{path}: {short(ref)} → {short(new)}"
    elif not same_value(ref, new):
        yield f"{path}: {short(ref)} → {short(new)}"


def short(value: Any, limit: int = 90) -> str:
    """A value as text cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_cell(text: str) -> Any:
    """A CSV cell as a float when it reads as one (so 1.0 and 1.00 compare equal), else as text."""
    try:
        return float(text)
    except ValueError:
        return text


def diff_rows(
    ref: list[list[Any]], new: list[list[Any]], where: str, dirs: tuple[Path, ...]
) -> Iterator[str]:
    """Yield the differences between two tables given as rows, the first row being the header."""
    if not ref or not new:
        if bool(ref) != bool(new):
            yield f"{where}: {len(ref)} rows, now {len(new)}"
        return
    header_ref, header_new = [str(h) for h in ref[0]], [str(h) for h in new[0]]
    if header_ref != header_new:
        yield f"{where}: columns {header_ref} → {header_new}"
        return
    if len(ref) != len(new):
        yield f"{where}: {len(ref) - 1} data rows, now {len(new) - 1}"
    keep = [i for i, h in enumerate(header_ref) if not IGNORED_COLUMNS.match(h)]
    for r, (a, b) in enumerate(zip(ref[1:], new[1:], strict=False), start=2):
        for i in keep:
            va = a[i] if i < len(a) else None
            vb = b[i] if i < len(b) else None
            if isinstance(va, str):
                va = normalise_text(va, dirs)
            if isinstance(vb, str):
                vb = normalise_text(vb, dirs)
            if not same_value(va, vb):
                at = f"{where} " if where else ""
                yield f"{at}row {r} column {header_ref[i]!r}: {short(va)} → {short(vb)}"


def read_csv(path: Path) -> list[list[Any]]:
    """The rows of a CSV file (UTF-8, with or without a byte-order mark), numbers as floats."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return [rows[0]] + [[parse_cell(c) for c in row] for row in rows[1:]] if rows else []


def read_xlsx(path: Path) -> dict[str, list[list[Any]]]:
    """Every sheet of a workbook as rows of cell values."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in book.worksheets}
    finally:
        book.close()


def read_gpkg(path: Path) -> dict[str, list[list[Any]]]:
    """Every feature table of a GeoPackage as rows (geometry as its WKB bytes); metadata tables left out."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents ORDER BY table_name")]
        tables = {}
        for name in names:
            cur = con.execute(f'SELECT * FROM "{name}" ORDER BY 1')
            tables[name] = [[d[0] for d in cur.description]] + [list(r) for r in cur.fetchall()]
        return tables
    finally:
        con.close()


def diff_npz(ref: Path, new: Path) -> Iterator[str]:
    """Yield the differences between the arrays of two ``.npz`` files."""
    import numpy as np

    with np.load(ref, allow_pickle=False) as a, np.load(new, allow_pickle=False) as b:
        if sorted(a.files) != sorted(b.files):
            yield f"arrays {sorted(a.files)} → {sorted(b.files)}"
        for key in sorted(set(a.files) & set(b.files)):
            x, y = a[key], b[key]
            if x.shape != y.shape or x.dtype != y.dtype:
                yield f"{key}: {x.dtype}{x.shape} → {y.dtype}{y.shape}"
            elif x.dtype.kind == "f":
                if not np.allclose(x, y, rtol=FLOAT_REL_TOL, atol=1e-12, equal_nan=True):
                    bad = ~np.isclose(x, y, rtol=FLOAT_REL_TOL, atol=1e-12, equal_nan=True)
                    yield f"{key}: {int(bad.sum())} values differ"
            elif not np.array_equal(x, y):
                yield f"{key}: {int((x != y).sum())} values differ"


def pdf_pages(path: Path) -> int:
    """The number of pages of a PDF, counted from its page objects."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))


def diff_text(ref: str, new: str, dirs: tuple[Path, ...]) -> Iterator[str]:
    """Yield the first lines where two normalised texts differ."""
    a = normalise_text(ref, dirs).splitlines()
    b = normalise_text(new, dirs).splitlines()
    if a == b:
        return
    import difflib

    for line in list(difflib.unified_diff(a, b, "reference", "new", n=0, lineterm=""))[2 : 2 + MAX_LISTED]:
        yield short(line, 160)


def diff_file(ref: Path, new: Path, ref_dir: Path, out_dir: Path) -> list[str]:
    """The differences between one output file and its reference, by the file's kind."""
    dirs = (ref_dir, out_dir)
    suffix = ref.suffix.lower()
    if suffix == ".csv":
        return list(diff_rows(read_csv(ref), read_csv(new), "", dirs))
    if suffix in (".json", ".geojson"):
        a = json.loads(normalise_text(ref.read_text(encoding="utf-8"), dirs))
        b = json.loads(normalise_text(new.read_text(encoding="utf-8"), dirs))
        return list(diff_json(a, b, "", dirs))
    if suffix in (".xlsx", ".gpkg"):
        reader = read_xlsx if suffix == ".xlsx" else read_gpkg
        a_tables, b_tables = reader(ref), reader(new)
        found = []
        if sorted(a_tables) != sorted(b_tables):
            found.append(f"sheets {sorted(a_tables)} → {sorted(b_tables)}")
        for name in sorted(set(a_tables) & set(b_tables)):
            found += diff_rows(a_tables[name], b_tables[name], f"[{name}]", dirs)
        return found
    if suffix == ".npz":
        return list(diff_npz(ref, new))
    if suffix in (".html", ".txt", ".md", ".svg"):
        return list(diff_text(ref.read_text(encoding="utf-8"), new.read_text(encoding="utf-8"), dirs))
    if suffix == ".pdf":
        a, b = pdf_pages(ref), pdf_pages(new)
        return [] if a == b else [f"{a} pages, now {b}"]
    if zipfile.is_zipfile(ref):
        with zipfile.ZipFile(ref) as za, zipfile.ZipFile(new) as zb:
            return [] if sorted(za.namelist()) == sorted(zb.namelist()) else ["members of the archive differ"]
    return [] if ref.read_bytes() == new.read_bytes() else ["bytes differ"]


def compare_dirs(ref_dir: Path, out_dir: Path) -> list[str]:
    """Every difference between a reference run's folder and a new run's folder, file by file.

    Parameters
    ----------
    ref_dir, out_dir : Path
        The reference run's output folder and the new run's.

    Returns
    -------
    list of str
        One line per difference, each starting with the file's path inside the folder; empty when all is
        equal.
    """
    ref_files = {p.relative_to(ref_dir) for p in ref_dir.rglob("*") if p.is_file()}
    new_files = {p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file()}
    problems = [f"{p}: missing from the new run" for p in sorted(ref_files - new_files)]
    problems += [f"{p}: new file, not in the reference" for p in sorted(new_files - ref_files)]
    for rel in sorted(ref_files & new_files):
        try:
            found = diff_file(ref_dir / rel, out_dir / rel, ref_dir, out_dir)
        except Exception as exc:  # noqa: BLE001 - a file that cannot be read is a difference, listed
            found = [f"could not be compared: {type(exc).__name__}: {exc}"]
        problems += [f"{rel}: {line}" for line in found[:MAX_LISTED]]
        if len(found) > MAX_LISTED:
            problems.append(f"{rel}: … and {len(found) - MAX_LISTED} more differences")
    return problems


def run_demo(out_dir: Path, *, cache_dir: Path | None) -> int:
    """Run the demo scenario with this checkout's code into ``out_dir``; return the command's exit status."""
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = dict(os.environ, PYTHONPATH=path)
    if cache_dir is not None:
        env["GEO_PLANNER_CACHE_DIR"] = str(cache_dir)
    cmd = [sys.executable, "-m", "geo_planner", "run", str(SCENARIO), "--out", str(out_dir),
           "--quiet", "--no-map-copy"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    """Command line: make a reference, or run the demo and compare it with one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--make-reference", type=Path, metavar="DIR", help="run the demo into DIR (replaced)")
    what.add_argument("--reference", type=Path, metavar="DIR", help="compare a new demo run with DIR")
    parser.add_argument("--out", type=Path, default=None,
                        help="compare this finished run instead of running the demo (with --reference)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="network cache folder for the run (default: the usual one)")
    args = parser.parse_args(argv)
    if args.make_reference is not None:
        if args.make_reference.exists():
            shutil.rmtree(args.make_reference)
        status = run_demo(args.make_reference, cache_dir=args.cache)
        print(f"reference written to {args.make_reference}" if status == 0 else "the demo run failed")
        return 0 if status == 0 else 2
    if not args.reference.is_dir():
        parser.error(f"{args.reference}: no such reference folder (make it with --make-reference)")
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        out_dir = args.out
        if out_dir is None:
            out_dir = Path(tmp) / "golden-run"
            if run_demo(out_dir, cache_dir=args.cache) != 0:
                print("the demo run failed", file=sys.stderr)
                return 2
        problems = compare_dirs(args.reference, out_dir)
    for line in problems:
        print(line)
    print(f"golden check: {len(problems)} difference(s)" if problems else "golden check: all outputs equal")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
