"""A bad-input corpus and property tests (hypothesis) over the importers.

The contract: whatever the bytes, ``load_layer`` either imports the table — every row
accepted, or rejected/warned in the rejections table with the file, the spreadsheet row and
the field — or raises :class:`~geo_planner.errors.InputError` naming the file. Never another
exception, never a row silently dropped.

The corpus is built from the demo tables (贵溪 and 南京 rows) by damaging them the ways
planners' files are damaged: random bytes, encodings mixed in one file, a BOM in the middle,
misspelt and duplicated headers, NaN/inf/text in coordinates, 0,0, swapped lon/lat, huge
files. A tally of what each input yields is written to ``<tmp>/fuzz_tally.json`` and printed.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_planner.errors import InputError
from geo_planner.io import load_layer
from geo_planner.settings import LayerInput

from ..support.paths import DEMO

TALLY: Counter[str] = Counter()
KINDS = ("members", "branches", "stations", "hospitals")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


def demo_rows(kind: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a demo table as text (members are GB18030 in the demo): fresh copies."""
    header, rows = _demo_rows(kind)
    return list(header), [list(r) for r in rows]


@functools.cache
def _demo_rows(kind: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The demo table read once per session (the stations workbook takes ~0.4 s to read)."""
    if kind == "stations":
        df = pd.read_excel(DEMO / "stations.xlsx", sheet_name="驿站", dtype=str).fillna("")
    else:
        raw = (DEMO / f"{kind}.csv").read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return tuple(df.columns), tuple(tuple(r) for r in df.to_numpy().tolist())


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def check_import(path: Path, kind: str, category: str, **opts: object) -> str:
    """Import ``path``; assert the contract; return and tally the outcome."""
    return import_checked(path, kind, category, **opts)[0]


def import_checked(path: Path, kind: str, category: str, **opts: object) -> tuple[str, Any]:
    """:func:`check_import`, also returning the imported layer (``None`` for an error)."""
    n_lines = None
    layer = None
    try:
        layer = load_layer(kind, LayerInput(path=path, **opts))  # type: ignore[arg-type]
    except InputError as exc:
        assert exc.problems, exc
        assert all(p.file == str(path) for p in exc.problems), exc.problems
        assert all(p.reason for p in exc.problems)
        outcome = "error"
    else:
        rej = layer.rejections
        assert (rej["file"] == str(path)).all()
        rejected = rej[rej["action"] == "rejected"]
        assert rejected["row"].notna().all() and rejected["field"].astype(str).str.len().gt(0).all()
        assert rej["reason"].astype(str).str.len().gt(0).all()
        # nothing silently dropped: every data row read is accepted or has a rejection
        n_read = int(layer.info["n_read"])
        n_rej_rows = rejected["row"].nunique()
        assert len(layer.frame) + n_rej_rows == n_read, (len(layer.frame), n_rej_rows, n_read)
        n_lines = n_read
        outcome = "imported" if rejected.empty and (rej["action"] == "warning").sum() == 0 else (
            "imported with rejections/warnings")
    TALLY[f"{category}: {outcome}"] += 1
    del n_lines
    return outcome, layer


@pytest.fixture(scope="module", autouse=True)
def report_tally(tmp_path_factory: pytest.TempPathFactory):
    yield
    path = tmp_path_factory.getbasetemp() / "fuzz_tally.json"
    path.write_text(json.dumps(dict(sorted(TALLY.items())), ensure_ascii=False, indent=1), encoding="utf-8")
    print("\nbad-input tally:", json.dumps(dict(sorted(TALLY.items())), ensure_ascii=False, indent=1))


# --------------------------------------------------------------------------- property tests


@FUZZ
@given(data=st.binary(min_size=0, max_size=4096), kind=st.sampled_from(KINDS),
       suffix=st.sampled_from([".csv", ".xlsx", ".geojson", ".gpkg", ".txt"]))
def test_random_bytes(tmp_path_factory, data: bytes, kind: str, suffix: str) -> None:
    path = tmp_path_factory.mktemp("bytes") / f"t{suffix}"
    path.write_bytes(data)
    check_import(path, kind, "random bytes")


@FUZZ
@given(kind=st.sampled_from(["members", "branches", "hospitals"]), seed=st.integers(0, 2**32 - 1),
       n_flips=st.integers(1, 40))
def test_damaged_real_tables(tmp_path_factory, kind: str, seed: int, n_flips: int) -> None:
    """Real tables with bytes flipped, cut or inserted at random places."""
    raw = bytearray((DEMO / f"{kind}.csv").read_bytes())
    rng = random.Random(seed)
    for _ in range(n_flips):
        i = rng.randrange(len(raw))
        op = rng.choice(("flip", "cut", "insert"))
        if op == "flip":
            raw[i] = rng.randrange(256)
        elif op == "cut":
            del raw[i : i + rng.randrange(1, 50)]
        else:
            raw[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    path = tmp_path_factory.mktemp("damaged") / f"{kind}.csv"
    path.write_bytes(bytes(raw))
    check_import(path, kind, "damaged real table")


@FUZZ
@given(kind=st.sampled_from(["members", "branches", "hospitals"]),
       encs=st.lists(st.sampled_from(["utf-8", "gb18030", "gbk", "utf-16", "big5", "utf-8-sig"]),
                     min_size=2, max_size=4),
       seed=st.integers(0, 10**6))
def test_mixed_encodings_in_one_file(tmp_path_factory, kind: str, encs: list[str], seed: int) -> None:
    header, rows = demo_rows(kind)
    rng = random.Random(seed)
    parts = [(to_csv(header, []), encs[0])]
    for row in rows[:60]:
        parts.append((to_csv([], [row]).lstrip("\n"), rng.choice(encs)))
    data = b"".join(text.encode(enc, errors="replace") for text, enc in parts)
    path = tmp_path_factory.mktemp("mixed") / f"{kind}.csv"
    path.write_bytes(data)
    check_import(path, kind, "mixed encodings")


@FUZZ
@given(kind=st.sampled_from(["members", "branches"]), at=st.floats(0.05, 0.95),
       bom=st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"\xef\xbb\xbf\xef\xbb\xbf"]))
def test_bom_in_the_middle(tmp_path_factory, kind: str, at: float, bom: bytes) -> None:
    header, rows = demo_rows(kind)
    text = to_csv(header, rows).encode("utf-8")
    lines = text.split(b"\n")
    cut = max(1, int(len(lines) * at))
    data = codecs.BOM_UTF8 + b"\n".join(lines[:cut]) + b"\n" + bom + b"\n".join(lines[cut:])
    path = tmp_path_factory.mktemp("bom") / f"{kind}.csv"
    path.write_bytes(data)
    outcome = check_import(path, kind, "BOM mid-file")
    if bom.startswith(codecs.BOM_UTF8):  # a UTF-8 BOM mid-file is still UTF-8: it must import
        assert outcome != "error"


@FUZZ
@given(kind=st.sampled_from(["members", "branches", "stations", "hospitals"]), seed=st.integers(0, 10**6))
def test_misspelt_and_duplicated_headers(tmp_path_factory, kind: str, seed: int) -> None:
    header, rows = demo_rows(kind)
    rng = random.Random(seed)
    header = list(header)
    for _ in range(rng.randrange(1, 4)):
        i = rng.randrange(len(header))
        op = rng.choice(("typo", "dup", "blank", "space"))
        if op == "typo" and header[i]:
            j = rng.randrange(len(header[i]))
            header[i] = header[i][:j] + rng.choice("的了x号 ") + header[i][j + 1 :]
        elif op == "dup":
            header[rng.randrange(len(header))] = header[i]
        elif op == "blank":
            header[i] = ""
        else:
            header[i] = f"  {header[i]}\u3000"
    path = tmp_path_factory.mktemp("headers") / f"{kind}.csv"
    path.write_text(to_csv(header, rows), encoding="utf-8")
    check_import(path, kind, "misspelt/duplicated headers")


COORD_VALUES = ["nan", "NaN", "inf", "-inf", "1e999", "", "abc", "东经117度", "117,2", "0", "-0", "117.2.3",
                "0x75", "１１７．２", " 117.24 ", "117.24°", "1_17.2", "∞", "None", "NULL"]


@FUZZ
@given(kind=st.sampled_from(["members", "branches", "hospitals"]),
       cells=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(COORD_VALUES + ["swap", "zero"]),
                                st.booleans()), min_size=1, max_size=12))
def test_bad_coordinates(tmp_path_factory, kind: str, cells: list[tuple[int, str, bool]]) -> None:
    header, rows = demo_rows(kind)
    rows = [list(r) for r in rows[:80]]
    lon_i = next((i for i, h in enumerate(header) if h in ("经度", "lon", "longitude", "X")), None)
    lat_i = next((i for i, h in enumerate(header) if h in ("纬度", "lat", "latitude", "Y")), None)
    if lon_i is None or lat_i is None:
        pytest.skip(f"{kind} demo table has no coordinate columns")
    with_coords = [i for i, r in enumerate(rows) if r[lon_i] and r[lat_i]]
    for pick, value, on_lon in cells:
        r = rows[with_coords[pick % len(with_coords)]]
        if value == "swap":
            r[lon_i], r[lat_i] = r[lat_i], r[lon_i]
        elif value == "zero":
            r[lon_i], r[lat_i] = "0", "0"
        else:
            r[lon_i if on_lon else lat_i] = value
    path = tmp_path_factory.mktemp("coords") / f"{kind}.csv"
    path.write_text(to_csv(header, rows), encoding="utf-8")
    outcome, layer = import_checked(path, kind, "NaN/inf/text/0,0/swapped coordinates")
    if outcome != "error":
        for lon, lat in zip(layer.frame["lon"], layer.frame["lat"], strict=True):
            if lon is not None and not (isinstance(lon, float) and math.isnan(lon)):
                assert 73 <= float(lon) <= 136 and 3 <= float(lat) <= 54  # only points in China accepted


# --------------------------------------------------------------------------- the corpus (fixed cases)


def test_corpus_of_fixed_bad_inputs(tmp_path: Path) -> None:
    header, rows = demo_rows("members")
    cases: dict[str, bytes] = {
        "empty": b"",
        "whitespace only": b"  \n\t\n",
        "header only": to_csv(header, []).encode("utf-8"),
        "NUL bytes": to_csv(header, rows[:5]).encode("utf-8").replace(b",", b"\x00,", 3),
        "UTF-16 without BOM": to_csv(header, rows[:20]).encode("utf-16-le"),
        "UTF-16 with BOM": to_csv(header, rows[:20]).encode("utf-16"),
        "GBK": to_csv(header, rows[:20]).encode("gbk", errors="replace"),
        "Big5": to_csv(header, rows[:20]).encode("big5", errors="replace"),
        "truncated UTF-8": to_csv(header, rows[:20]).encode("utf-8")[:-1] + "中".encode()[:2],
        "unterminated quote": to_csv(header, rows[:5]).encode("utf-8") + b'"M9999,"unterminated\n',
        "old .xls magic": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
        "zip not xlsx": b"PK\x03\x04" + b"\x00" * 100,
        "sqlite not gpkg": b"SQLite format 3\x00" + b"\x00" * 200,
        "json not geojson": b'{"type": "Feature", "geometry": null}',
        "geojson of lines": json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"编号": "M1", "姓名": "张三"},
             "geometry": {"type": "LineString", "coordinates": [[117.2, 28.2], [117.3, 28.3]]}}]}).encode(),
        "only a BOM": codecs.BOM_UTF8,
        "semicolons": to_csv(header, rows[:20]).replace(",", ";").encode("utf-8"),
        "tabs": to_csv(header, rows[:20]).replace(",", "\t").encode("utf-8"),
        "CR line ends": to_csv(header, rows[:20]).replace("\n", "\r").encode("utf-8"),
        "a 5 MB cell": (to_csv(header, rows[:2]) + "M9,\"" + "长" * (5 * 1024 * 1024 // 3) + "\"\n").encode("utf-8"),
        "ten thousand columns": (",".join(["编号", "姓名"] + [f"c{i}" for i in range(10000)]) + "\nM1,张三\n").encode(),
        "formula injection": to_csv(header, [[("=HYPERLINK(\"http://x\")" if j == 1 else v)
                                              for j, v in enumerate(r)] for r in rows[:5]]).encode("utf-8"),
    }
    outcomes = {}
    for name, data in cases.items():
        path = tmp_path / f"{len(outcomes):02d}.csv"
        if name == "geojson of lines":
            path = path.with_suffix(".geojson")
        path.write_bytes(data)
        outcomes[name] = check_import(path, "members", "fixed corpus")
    # the ones that must be refused as a whole
    for name in ("empty", "whitespace only", "header only", "old .xls magic", "zip not xlsx", "only a BOM"):
        assert outcomes[name] == "error", (name, outcomes[name])
    # and the ones that must import (the encoding or delimiter is recognised)
    for name in ("UTF-16 with BOM", "GBK", "semicolons", "tabs", "formula injection"):
        assert outcomes[name] != "error", (name, outcomes[name])


@pytest.mark.slow
def test_huge_file_imports_or_is_refused_clearly(tmp_path: Path) -> None:
    """200,000 members (≈ 20 MB): imported, every row accounted for."""
    header, rows = demo_rows("members")
    rows = [list(r) for r in rows if r[0]]
    big = []
    for i in range(200_000):
        r = list(rows[i % len(rows)])
        r[0] = f"M{i:07d}"
        big.append(r)
    path = tmp_path / "members.csv"
    path.write_text(to_csv(header, big), encoding="utf-8")
    assert path.stat().st_size > 15 * 1024 * 1024
    assert check_import(path, "members", "huge file") != "error"
