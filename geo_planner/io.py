"""Reading planners' tables (members, branches, stations, hospitals) and writing files safely.

Planners keep their data in whatever their office produced: CSV saved by Excel or WPS in
GBK/GB18030, UTF-8 with or without a byte-order mark, XLSX workbooks with a title row above
the header, GeoJSON or GeoPackage exported from a GIS.  This module is the one door
through which those tables enter geo_planner:

* :func:`read_table` reads any of them into a frame of **strings** (ids such as ``001``
  keep their zeros), detecting the text encoding from the bytes;
* :func:`load_layer` maps the headers to canonical names (:data:`HEADER_ALIASES`), checks
  every row, converts coordinates to WGS-84 and returns a :class:`LayerResult`: the
  accepted rows as a GeoDataFrame plus one rejection/warning line per problem — every input
  row is either accepted or rejected with its file, row, field and reason;
* :func:`write_rejections` and :func:`atomic_write` write output files so that a reader
  never sees a half-written file.

Row numbers are the ones a planner sees in a spreadsheet: the header is row 1 (or the row
the header was found on) and the first data row is row 2.  For GeoJSON/GeoPackage, feature
``i`` (0-based) is row ``i + 2``, as in its attribute table exported to a spreadsheet.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import math
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from .crs import check_lonlat, normalize_crs_name, to_wgs84
from .errors import CRSError, InputError, Problem
from .settings import LayerInput
from .vocab import LAYER_KINDS, LayerKind

__all__ = [
    "HEADER_ALIASES",
    "LAYER_KINDS",
    "REJECTION_COLUMNS",
    "LayerKind",
    "LayerResult",
    "atomic_write",
    "detect_encoding",
    "load_layer",
    "match_columns",
    "read_table",
    "write_rejections",
]

logger = logging.getLogger(__name__)

#: Columns of :attr:`LayerResult.rejections` (and of the rejections CSV).
REJECTION_COLUMNS: Final[tuple[str, ...]] = ("file", "row", "field", "value", "reason", "action")

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]

# --------------------------------------------------------------------------------------
# header aliases

_COMMON_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "address": ("住址", "地址", "家庭住址", "现住址", "居住地址", "家庭地址", "现居住地址", "详细地址", "address"),
    "community": ("所在社区", "社区", "村", "社区(村)", "社区/村", "所属社区", "居委会", "community"),
    "township": (
        "所在街道",
        "街道",
        "乡镇",
        "所在街道/乡镇",
        "街道(乡镇)",
        "乡镇/街道",
        "乡镇(街道)",
        "所属街道",
        "township",
    ),
    "lon": ("经度", "lon", "lng", "long", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "crs": ("坐标系", "坐标类型", "坐标系统", "crs"),
    "phone": ("电话", "联系电话", "手机", "手机号码", "联系方式", "phone"),
}

_LAYER_ALIASES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "members": {
        "id": ("编号", "序号", "ID", "人员编号", "工号", "干部编号", "id"),
        "name": ("姓名", "名字", "name"),
        "status": ("离退休类别", "类别", "离退休", "离退休状态", "status"),
        "branch": (
            "所在党支部",
            "党支部",
            "所属支部",
            "所属党支部",
            "支部",
            "党支部名称",
            "支部名称",
            "支部编号",
            "党支部编号",
            "branch",
            "branch_id",
        ),
        "unit": ("原工作单位", "工作单位", "原单位", "单位", "unit"),
        "age": ("年龄", "age"),
        "birth": ("出生年月", "出生日期", "出生年月日", "birth", "birthday", "birth_date"),
        "is_party_member": ("是否党员", "党员", "政治面貌", "party_member", "is_party_member"),
    },
    "branches": {
        "id": ("编号", "序号", "ID", "支部编号", "党支部编号", "id", "branch_id"),
        "name": ("支部名称", "党支部名称", "党支部", "支部", "名称", "name"),
        "meeting_place": ("活动地点", "会议地点", "活动场所", "组织生活地点", "meeting_place"),
        "unit": ("单位", "所属单位", "unit"),
    },
    "stations": {
        "id": ("编号", "序号", "ID", "驿站编号", "站点编号", "阵地编号", "id"),
        "name": ("驿站名称", "阵地名称", "站点名称", "名称", "name"),
        "kind": ("驿站类型", "阵地类型", "类型", "kind"),
        "capacity": ("容量", "可容纳人数", "容纳人数", "capacity"),
    },
    "hospitals": {
        "id": ("编号", "序号", "ID", "医院编号", "id"),
        "name": ("医院名称", "名称", "name"),
        "level": ("医院等级", "等级", "level"),
        "kind": ("医院类型", "类型", "kind"),
    },
}

#: Accepted headers per layer: ``HEADER_ALIASES[layer][canonical] -> tuple of headers``.
#: Matching ignores case, spaces, full-width forms, brackets and punctuation
#: (``社区（村）`` = ``社区(村)`` = ``社区村``); a bracketed suffix is ignored when the full
#: header is not known (``年龄（岁）`` → ``age``).  Read-only.
HEADER_ALIASES: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = MappingProxyType(
    {
        kind: MappingProxyType({**_LAYER_ALIASES[kind], **_COMMON_ALIASES})
        for kind in LAYER_KINDS
    }
)

# A weak alias maps only when no other column of the file maps to the same name:
# a roster's 序号 (row counter) gives way to a real 编号/人员编号 column.
_WEAK_ALIASES: Final[frozenset[str]] = frozenset({"序号"})

# Canonical columns of each layer's output frame, in order (all always present).
_CANONICAL_ORDER: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "members": (
            "id",
            "name",
            "status",
            "branch",
            "branch_id",
            "unit",
            "address",
            "community",
            "township",
            "age",
            "birth",
            "is_party_member",
            "phone",
        ),
        "branches": ("id", "name", "meeting_place", "address", "community", "township", "unit", "phone"),
        "stations": ("id", "name", "kind", "capacity", "address", "community", "township", "phone"),
        "hospitals": ("id", "name", "level", "kind", "address", "community", "township", "phone"),
    }
)
_POSITION_COLUMNS: Final[tuple[str, ...]] = ("lon", "lat", "lon_in", "lat_in", "crs_in", "source_row")
_ID_PREFIX: Final[Mapping[str, str]] = MappingProxyType({"branches": "B", "stations": "S", "hospitals": "H"})

_BRACKETED = re.compile(r"[(\[{<【《〈「『][^)\]}>】》〉」』]*[)\]}>】》〉」』]")
_HEADER_PUNCT = re.compile(r"[\s()\[\]{}<>【】《》〈〉「」『』\"'`/\\|、,，.。·:：;；*＊_\-—~～#＃]+")


def _header_keys(header: object) -> tuple[str, str]:
    """Return the two lookup keys of a header: punctuation removed, and bracketed text removed."""
    text = unicodedata.normalize("NFKC", str(header)).casefold()
    return _HEADER_PUNCT.sub("", text), _HEADER_PUNCT.sub("", _BRACKETED.sub("", text))


def _build_lookup() -> Mapping[str, Mapping[str, str]]:
    """Build ``{layer: {normalised header: canonical}}`` and check the alias table is consistent."""
    out: dict[str, Mapping[str, str]] = {}
    for kind, table in HEADER_ALIASES.items():
        lookup: dict[str, str] = {}
        for canonical, aliases in table.items():
            for alias in (*aliases, canonical):
                key = _header_keys(alias)[0]
                if lookup.setdefault(key, canonical) != canonical:  # pragma: no cover - table bug
                    raise RuntimeError(f"alias {alias!r} maps to both {lookup[key]!r} and {canonical!r}")
        out[kind] = MappingProxyType(lookup)
    return MappingProxyType(out)


_ALIAS_LOOKUP: Final[Mapping[str, Mapping[str, str]]] = _build_lookup()
_ALL_ALIAS_KEYS: Final[frozenset[str]] = frozenset(k for table in _ALIAS_LOOKUP.values() for k in table)
_LONLAT_KEYS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {c: frozenset(_header_keys(a)[0] for a in (*_COMMON_ALIASES[c], c)) for c in ("lon", "lat")}
)
_WEAK_KEYS: Final[frozenset[str]] = frozenset(_header_keys(a)[0] for a in _WEAK_ALIASES)


def _lookup_header(header: str, kind: str) -> tuple[str | None, bool]:
    """Canonical name of ``header`` in layer ``kind`` (or ``None``) and whether the alias is weak."""
    lookup = _ALIAS_LOOKUP[kind]
    for key in _header_keys(header):
        if key in lookup:
            return lookup[key], key in _WEAK_KEYS
    return None, False


def _accepted(kind: str, canonical: str) -> str:
    """The accepted headers of ``canonical`` in layer ``kind``, for messages."""
    return "/".join(HEADER_ALIASES[kind][canonical])


def match_columns(columns: Iterable[str], kind: LayerKind, *, file: str = "<table>") -> dict[str, str]:
    """Map a table's headers to canonical column names.

    Parameters
    ----------
    columns
        The headers as written in the file.
    kind
        Layer the table holds; aliases differ per layer (``支部名称`` is a member's
        ``branch`` but a branch's ``name``).
    file
        File name used in error messages.

    Returns
    -------
    dict
        ``{original header: canonical name}`` for the recognised headers only; the other
        columns are not in it (callers keep them under their original header).

    Raises
    ------
    InputError
        If two columns map to the same canonical name (both are named).  A weak alias
        (``序号``) is left unmapped instead when a stronger column exists.
    """
    if kind not in _ALIAS_LOOKUP:
        raise ValueError(f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}")
    hits: dict[str, list[tuple[str, bool]]] = {}
    for col in columns:
        canonical, weak = _lookup_header(col, kind)
        if canonical is not None:
            hits.setdefault(canonical, []).append((col, weak))
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    for canonical, cols in hits.items():
        strong = [c for c, weak in cols if not weak]
        chosen = strong or [c for c, _ in cols]
        if len(chosen) > 1:
            names = ", ".join(f"'{c}'" for c in chosen)
            problems.append(
                Problem(
                    file,
                    None,
                    chosen[0],
                    f"columns {names} all mean '{canonical}'; keep one of them or rename the others",
                )
            )
            continue
        mapping[chosen[0]] = canonical
        for c, _ in cols:
            if c not in chosen:
                logger.info(
                    "%s: column '%s' kept as an extra column; '%s' is the %s", file, c, chosen[0], canonical
                )
    if problems:
        raise InputError(problems)
    return mapping


# --------------------------------------------------------------------------------------
# atomic writes


def atomic_write(path: Path | str, writer: Callable[[Path], None]) -> Path:
    """Write a file so that readers see either the old file or the complete new one.

    ``writer`` writes to a temporary path in a private folder next to ``path`` (same file
    system, same file name and extension, so writers that pick a format from the suffix
    work); the result is then moved over ``path`` with :func:`os.replace`.  On error the
    temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path
        Destination file; its parent folder is created when missing.
    writer
        Called once with the temporary path; must create that file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If ``writer`` returned without creating the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = tmp_dir / path.name
        writer(tmp)
        if not tmp.is_file():
            raise FileNotFoundError(f"writer did not create {tmp}")
        try:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        except OSError:  # pragma: no cover - fsync unsupported (some network file systems)
            pass
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def write_rejections(rejections: pd.DataFrame, path: Path | str) -> None:
    """Write rejections/warnings as CSV in UTF-8 with a byte-order mark (Excel shows Chinese).

    Parameters
    ----------
    rejections
        A frame with :data:`REJECTION_COLUMNS` (as in :attr:`LayerResult.rejections`,
        possibly several layers concatenated); other columns are written after them.
    path
        Destination; written atomically (:func:`atomic_write`).

    Raises
    ------
    ValueError
        If a column of :data:`REJECTION_COLUMNS` is missing.
    """
    missing = [c for c in REJECTION_COLUMNS if c not in rejections.columns]
    if missing:
        raise ValueError(f"rejections frame lacks column(s) {', '.join(missing)}")
    ordered = rejections[[*REJECTION_COLUMNS, *(c for c in rejections.columns if c not in REJECTION_COLUMNS)]]

    def _write(tmp: Path) -> None:
        ordered.to_csv(tmp, index=False, encoding="utf-8-sig")

    atomic_write(path, _write)
    logger.info("wrote %d rejection/warning line(s) to %s", len(ordered), path)


# --------------------------------------------------------------------------------------
# reading raw tables

_WS_CHARS: Final[str] = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200C))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_ZIP_MAGIC: Final = b"PK\x03\x04"
_OLE2_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_VECTOR_SUFFIXES: Final = frozenset({".shp", ".fgb", ".gml", ".kml"})
_HEADER_SCAN_ROWS: Final = 10


def _input_error(file: str, reason: str, *, row: int | None = None, field: str | None = None) -> InputError:
    return InputError(Problem(file, row, field, reason))


def detect_encoding(data: bytes) -> str:
    """Detect the text encoding of CSV bytes.

    Order: byte-order mark (UTF-8, UTF-16, UTF-32), strict UTF-8, GB18030 (a superset of
    GBK and GB2312, what Excel and WPS save on Chinese Windows), then charset-normalizer.

    Parameters
    ----------
    data
        The whole file.

    Returns
    -------
    str
        A Python codec name: ``"utf-8-sig"``, ``"utf-16"``, ``"utf-32"``, ``"utf-8"``,
        ``"gb18030"`` or what charset-normalizer found.

    Raises
    ------
    ValueError
        If no encoding decodes the bytes.
    """
    return _decode_detected(data)[1]


def _decode_detected(data: bytes) -> tuple[str, str]:
    """Decode ``data`` with the encoding :func:`detect_encoding` describes; return ``(text, encoding)``."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding), encoding
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ValueError("the text encoding could not be detected (not UTF-8 nor GB18030)")
    return str(best), str(best.encoding)


def _sniff_format(path: Path, head: bytes) -> str:
    """Return ``csv``, ``xlsx``, ``xls``, ``gpkg``, ``geojson`` or ``vector`` from the bytes (and suffix)."""
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE2_MAGIC):
        return "xls"
    if head.startswith(_SQLITE_MAGIC):
        return "gpkg"
    suffix = path.suffix.lower()
    if suffix in _VECTOR_SUFFIXES:
        return "vector"
    if suffix in (".geojson", ".json"):
        return "geojson"
    text_head = head.lstrip(codecs.BOM_UTF8).lstrip()
    if text_head.startswith(b"{"):
        return "geojson"
    return "csv"


def _strip(series: pd.Series) -> pd.Series:
    """Strip whitespace (incl. full-width and no-break spaces, BOM) from both ends of strings."""
    return series.str.strip(_WS_CHARS)


def _on_uniques(series: pd.Series, func: Callable[[pd.Series], Any]) -> Any:
    """Apply a vectorised text function to the distinct values of ``series`` only.

    Planners' columns repeat a few values (branch, status, birth month, 坐标系); parsing
    each distinct value once and broadcasting back is much faster than parsing every row.
    ``func`` returns a Series/array aligned to its input, or a tuple of them.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    result = func(pd.Series(np.asarray(uniques, dtype=object), dtype=str))
    if isinstance(result, tuple):
        return tuple(np.asarray(r)[codes] for r in result)
    return np.asarray(result)[codes]


def _excel_letter(index: int) -> str:
    """Spreadsheet column letter of 0-based column ``index`` (0 → A, 26 → AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _clean_headers(headers: list[str]) -> list[str]:
    """Name empty headers after their column letter and make duplicates unique (``备注.1``)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        name = h if h else f"column_{_excel_letter(i)}"
        if name in seen:
            seen[name] += 1
            candidate = f"{name}.{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}.{seen[name]}"
            name = candidate
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _header_score(cells: Iterable[str]) -> int:
    """Number of cells that are a known header in any layer."""
    return sum(1 for c in cells if c and any(k in _ALL_ALIAS_KEYS for k in _header_keys(c)))


def _rows_to_frame(rows: list[list[str]], file: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn a grid of cell strings into a frame indexed by spreadsheet row number.

    The header is the first of the first non-blank rows with at least two known headers
    (so a title row above the header is skipped), else the first non-blank row.  Blank
    rows are dropped (counted in ``n_blank``); columns with no header and no data too.
    """
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        raise _input_error(file, "file is empty: no header and no data rows")
    pad = [""] * width
    # One pass in C-implemented str.strip per cell; no pandas string accessor (slow without pyarrow).
    grid = np.array([[c.strip(_WS_CHARS) for c in r] + pad[len(r) :] for r in rows], dtype=object)
    grid = grid.reshape(len(rows), width)
    blank = (grid == "").all(axis=1)
    nonblank = np.flatnonzero(~blank)
    if nonblank.size == 0:
        raise _input_error(file, "file is empty: no header and no data rows")
    header_pos = int(nonblank[0])
    for pos in nonblank[:_HEADER_SCAN_ROWS]:
        if _header_score(grid[pos]) >= 2:
            header_pos = int(pos)
            break
    if header_pos != nonblank[0]:
        logger.info(
            "%s: header found on row %d; %d row(s) above it skipped", file, header_pos + 1, header_pos
        )
    body_mask = ~blank
    body_mask[: header_pos + 1] = False
    cells = grid[body_mask]
    if cells.shape[0] == 0:
        raise _input_error(file, "file has a header but no data rows", row=header_pos + 1)
    headers = [str(h) for h in grid[header_pos]]
    keep_col = [bool(h) or bool((cells[:, j] != "").any()) for j, h in enumerate(headers)]
    names = _clean_headers([h for h, k in zip(headers, keep_col, strict=True) if k])
    index = pd.Index(np.flatnonzero(body_mask) + 1, name="source_row")
    columns = zip(names, np.flatnonzero(keep_col), strict=True)
    body = pd.DataFrame({name: pd.Series(cells[:, j], index=index, dtype=str) for name, j in columns})
    n_blank = int(blank[header_pos + 1 :].sum())
    if n_blank:
        logger.info("%s: %d blank row(s) skipped", file, n_blank)
    return body, {"header_row": header_pos + 1, "n_blank": n_blank}


def _read_csv_rows(path: Path, data: bytes, encoding: str | None) -> tuple[list[list[str]], str]:
    """Decode ``data`` (detecting the encoding unless given) and split it into CSV rows."""
    file = str(path)
    if encoding is None:
        try:
            text, encoding = _decode_detected(data)
        except ValueError as exc:
            raise _input_error(file, f"{exc}; save it as UTF-8 or give the encoding") from None
    else:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise _input_error(file, f"unknown text encoding '{encoding}'") from None
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _input_error(
                file, f"cannot be decoded as {encoding} at byte {exc.start}: {exc.reason}"
            ) from None
    lines = [ln for ln in text[:65536].lstrip("\ufeff").splitlines()[:20] if ln.strip()]
    sample = "\n".join(lines[:5])
    counts = {d: sample.count(d) for d in (",", "\t", ";", "|")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise _input_error(file, f"not a readable CSV file: {exc}") from None
    return rows, encoding


def _cell_text(value: object) -> str:
    """Text of one spreadsheet or attribute cell: integers without ``.0``, dates in ISO form."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f):
            return ""
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


_MERGE_REF = re.compile(rb'<mergeCell[^>]*\sref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
_CELL = re.compile(rb"<c\s([^>]*?)(/>|>(.*?)</c>)", re.S)
_CELL_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')


def _col_index(letters: bytes | str) -> int:
    """0-based column index of ``A``, ``Z``, ``AA`` …"""
    n = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _sheet_xml_facts(ws: Any) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int]]]:
    """Merged ranges (0-based rows/cols, inclusive) and formula cells without a saved value.

    openpyxl's read-only mode exposes neither, so the sheet's XML is scanned once.
    """
    try:
        with ws.parent._archive.open(ws._worksheet_path) as fh:  # noqa: SLF001 - read-only internals
            xml = fh.read()
    except (AttributeError, KeyError, OSError):
        return [], []
    merges = [(int(r1) - 1, _col_index(c1), int(r2) - 1, _col_index(c2))
              for c1, r1, c2, r2 in _MERGE_REF.findall(xml)]
    uncached: list[tuple[int, int]] = []
    if b"<f" in xml:
        for attrs, _end, body in _CELL.findall(xml):
            if body and b"<f" in body and not re.search(rb"<v>[^<]+</v>", body):
                ref = _CELL_REF.search(attrs)
                if ref:
                    uncached.append((int(ref.group(2)) - 1, _col_index(ref.group(1))))
    return merges, uncached


def _fill_merged(rows: list[list[str]], merges: list[tuple[int, int, int, int]]) -> int:
    """Copy each merged range's top-left value into every cell of ranges spanning rows; return cells filled."""
    filled = 0
    for r1, c1, r2, c2 in merges:
        if r2 <= r1 or r1 >= len(rows):
            continue  # a single-row merge (a title across columns) is left as it is
        top = rows[r1]
        value = top[c1] if c1 < len(top) else ""
        if value == "":
            continue
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= c2:
                row.extend([""] * (c2 + 1 - len(row)))
            for c in range(c1, c2 + 1):
                if row[c] == "":
                    row[c] = value
                    filled += 1
    return filled


def _read_xlsx_rows(path: Path, sheet: str | None) -> tuple[list[list[str]], str]:
    """Read one sheet of a workbook as rows of cell text (see :func:`_read_xlsx`)."""
    rows, name, _facts = _read_xlsx(path, sheet)
    return rows, name


def _read_xlsx(path: Path, sheet: str | None) -> tuple[list[list[str]], str, dict[str, Any]]:
    """Read a sheet of a workbook as rows of cell text (values of formulas as last saved).

    Merged cells spanning rows (a branch name merged down its members) are filled down.
    Without ``sheet``, the first sheet holding a header and data rows is read — a cover or
    notes sheet before it is skipped and named in ``facts["sheet_note"]``; when no sheet
    holds a table, the error names every sheet and what is wrong with it.

    Returns
    -------
    rows, sheet name, facts
        ``facts``: ``merged_filled`` (cells filled), ``uncached_formulas`` (0-based row and
        column of formula cells with no saved value, read as empty), ``sheet_note``.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    file = str(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _input_error(file, f"not a readable Excel workbook (.xlsx): {exc}") from None
    try:
        names = list(wb.sheetnames)
        if not names:
            raise _input_error(file, "workbook has no sheets")
        if sheet is not None and sheet not in names:
            raise _input_error(
                file, f"sheet '{sheet}' not found; the workbook has: {', '.join(names)}", field="sheet"
            )
        skipped: list[str] = []
        for name in [sheet] if sheet is not None else names:
            ws = wb[name]
            if hasattr(ws, "reset_dimensions"):
                ws.reset_dimensions()  # some writers store wrong dimensions; read what is there
            rows = [[_cell_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
            merges, uncached = _sheet_xml_facts(ws)
            facts: dict[str, Any] = {"merged_filled": _fill_merged(rows, merges) if merges else 0,
                                     "uncached_formulas": uncached}
            if sheet is None and len(names) > 1:
                try:
                    frame, _extra = _rows_to_frame(rows, f"{file} [{name}]")
                except InputError as exc:
                    skipped.append(f"'{name}' ({exc.problems[0].reason if exc.problems else exc})")
                    continue
                if _header_score(frame.columns) < 2:  # a cover or notes sheet: no known headers
                    skipped.append(f"'{name}' (no known column headers)")
                    continue
            if skipped:
                facts["sheet_note"] = (f"sheet(s) {', '.join(skipped)} skipped; read sheet '{name}' "
                                       "(give the sheet to choose another)")
            return rows, name, facts
        raise _input_error(
            file, f"no sheet holds a table with a header and data rows: {'; '.join(skipped)}; "
                  f"the workbook has: {', '.join(names)}", field="sheet")
    finally:
        wb.close()


def _series_text(series: pd.Series) -> pd.Series:
    """Attribute column → text (integers without ``.0``; missing → empty)."""
    return pd.Series([_cell_text(v) for v in series.astype(object)], index=series.index, dtype=str)


def _read_vector(path: Path, layer: str | None, fmt: str) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    """Read a GeoJSON/GeoPackage layer: attributes as text, point coordinates as lon/lat text (WGS-84)."""
    import pyogrio
    import pyogrio.errors

    file = str(path)
    read_errors = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError)
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except read_errors as exc:
        raise _input_error(file, f"not a readable {fmt} file: {exc}") from None
    if not layers:
        raise _input_error(file, "file is empty: it has no layers")
    if layer is None:
        layer = layers[0]
    elif layer not in layers:
        raise _input_error(
            file, f"layer '{layer}' not found; the file has: {', '.join(layers)}", field="sheet"
        )
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except read_errors as exc:
        raise _input_error(file, f"layer '{layer}' cannot be read: {exc}") from None
    if len(gdf) == 0:
        raise _input_error(file, f"layer '{layer}' has no features (file is empty)")
    if not isinstance(gdf, gpd.GeoDataFrame) or "geometry" not in gdf.columns:
        raise _input_error(file, f"layer '{layer}' has no geometry: not a GeoPackage/GeoJSON table of "
                                 "points; save it as CSV or XLSX with 经度/纬度 columns")
    extra: dict[str, Any] = {"source_crs": None if gdf.crs is None else gdf.crs.to_string()}
    attrs = pd.DataFrame(
        {str(c): _strip(_series_text(gdf[c])) for c in gdf.columns if c != gdf.geometry.name},
        index=gdf.index,
    )
    attrs.columns = _clean_headers([str(c).strip(_WS_CHARS) for c in attrs.columns])
    geom = gdf.geometry
    if geom.crs is None:
        if fmt != "geojson":
            logger.warning("%s: layer '%s' declares no CRS; coordinates taken as WGS-84", file, layer)
    elif geom.crs.to_epsg() != 4326:
        logger.info("%s: reprojecting layer '%s' from %s to EPSG:4326", file, layer, geom.crs.to_string())
        geom = geom.to_crs(4326)
    values = geom.to_numpy()
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    is_point = present & (shapely.get_type_id(values) == 0)
    non_point = present & ~is_point
    points = values.copy()
    if non_point.any():
        points[non_point] = shapely.point_on_surface(values[non_point])
        logger.warning(
            "%s: %d feature(s) with a non-point geometry placed at a point on their surface",
            file,
            int(non_point.sum()),
        )
    extra["n_non_point"] = int(non_point.sum())
    if present.any():
        x = shapely.get_x(np.where(present, points, None))
        y = shapely.get_y(np.where(present, points, None))
        for canonical, coord in (("lon", x), ("lat", y)):
            text = pd.Series(
                ["" if math.isnan(v) else repr(float(v)) for v in coord], index=attrs.index, dtype=str
            )
            keys = _LONLAT_KEYS[canonical]
            target = next((c for c in attrs.columns if _header_keys(c)[0] in keys), canonical)
            if target in attrs.columns:
                attrs[target] = text.where(present, attrs[target])
            else:
                attrs[target] = text
    attrs.index = pd.Index(np.arange(len(attrs)) + 2, name="source_row")
    return attrs, layer, extra


def read_table(
    path: Path | str, *, sheet: str | None = None, encoding: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a CSV, XLSX, GeoJSON or GeoPackage table with every cell as a string.

    The format is recognised from the bytes (ZIP → XLSX, SQLite → GeoPackage, ``{`` →
    GeoJSON, otherwise CSV), not from the extension.  CSV text encoding is detected
    (:func:`detect_encoding`) unless given; the delimiter (``,``, tab, ``;``, ``|``) is
    guessed from the first lines.  Headers and cells are stripped of whitespace, including
    full-width spaces; empty cells are ``""``.  In CSV and XLSX, a title row above the
    header is skipped (the header is the first row with two or more known headers), and
    blank rows are dropped.  For GeoJSON/GeoPackage the layer is reprojected to WGS-84 and
    point geometries give ``lon``/``lat`` text columns (a point on the surface for other
    geometries), filling the file's own 经度/纬度 columns when it has them.

    Parameters
    ----------
    path
        The file.
    sheet
        Worksheet (XLSX) or layer (GeoPackage) name; the first one when ``None``.
    encoding
        Force a text encoding for CSV (e.g. ``"gbk"``).

    Returns
    -------
    frame : pandas.DataFrame
        One column per header (original header text), string cells; the index, named
        ``source_row``, is the 1-based spreadsheet row number of each data row.
    info : dict
        ``format``, ``encoding`` (``None`` for non-CSV), ``sheet`` (sheet/layer read or
        ``None``), ``n_rows``, ``header_row``, ``n_blank`` (blank rows skipped), and for
        vector files ``source_crs`` and ``n_non_point``.

    Raises
    ------
    InputError
        If the file is missing, empty or header-only, undecodable, an old binary ``.xls``,
        or the sheet/layer does not exist (the message lists the existing ones).
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise _input_error(file, "file not found")
    with path.open("rb") as fh:
        head = fh.read(64)
    if not head.strip():
        if path.stat().st_size <= len(head):
            raise _input_error(file, "file is empty")
    fmt = _sniff_format(path, head)
    info: dict[str, Any] = {"format": fmt, "encoding": None, "sheet": None}
    if fmt == "xls":
        raise _input_error(file, "old binary Excel (.xls) files are not supported; save it as .xlsx or CSV")
    if fmt in ("gpkg", "geojson", "vector"):
        frame, layer, extra = _read_vector(path, sheet, fmt)
        info.update(sheet=layer, header_row=1, n_blank=0, **extra)
    else:
        facts: dict[str, Any] = {}
        if fmt == "xlsx":
            rows, sheet_name, facts = _read_xlsx(path, sheet)
            info["sheet"] = sheet_name
        else:
            if sheet is not None:
                logger.warning("%s: CSV has no sheets; sheet '%s' ignored", file, sheet)
            rows, info["encoding"] = _read_csv_rows(path, path.read_bytes(), encoding)
        try:
            frame, extra = _rows_to_frame(rows, file)
        except InputError as exc:
            if fmt == "xlsx" and exc.problems:  # name the sheet that was read
                p0 = exc.problems[0]
                raise InputError(Problem(p0.file, p0.row, p0.field or "sheet",
                                         f"sheet '{info['sheet']}': {p0.reason}")) from None
            raise
        info.update(extra)
        if facts.get("merged_filled"):
            info["merged_filled"] = int(facts["merged_filled"])
        if facts.get("sheet_note"):
            info["sheet_note"] = facts["sheet_note"]
        if facts.get("uncached_formulas"):
            header = rows[extra["header_row"] - 1] if extra["header_row"] - 1 < len(rows) else []
            info["uncached_formulas"] = [
                {"row": r + 1, "field": (header[c].strip() if c < len(header) and header[c].strip()
                                         else _excel_letter(c))}
                for r, c in facts["uncached_formulas"]
            ]
    info["n_rows"] = len(frame)
    logger.debug("%s: read %d row(s) (%s)", file, len(frame), info)
    return frame, info


# --------------------------------------------------------------------------------------
# value parsing (vectorised)

_STATUS_VALUES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "离休": "lixiu",
        "离休干部": "lixiu",
        "离休人员": "lixiu",
        "离": "lixiu",
        "lixiu": "lixiu",
        "退休": "tuixiu",
        "退休干部": "tuixiu",
        "退休人员": "tuixiu",
        "退": "tuixiu",
        "tuixiu": "tuixiu",
        "retired": "tuixiu",
    }
)
_PARTY_VALUES: Final[Mapping[str, bool]] = MappingProxyType(
    {
        **dict.fromkeys(("是", "y", "yes", "1", "true", "t", "√", "✓", "党员", "中共党员", "预备党员"), True),
        **dict.fromkeys(("中共预备党员", "共产党员"), True),
        **dict.fromkeys(("否", "n", "no", "0", "false", "f", "×", "非党员", "群众", "不是"), False),
    }
)
_BIRTH_PATTERNS: Final[tuple[str, ...]] = (
    # 1940-05, 1940.05, 1940/5/1, 1940年5月, 1940年5月1日, 1940-05-01 00:00:00
    r"^(?P<y>\d{4})\s*[-./年]\s*(?P<m>\d{1,2})\s*(?:[-./月]\s*(?:(?P<d>\d{1,2})\s*日?)?)?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$",
    # 194005, 19400501
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})?$",
    # 1940, 1940年
    r"^(?P<y>\d{4})\s*年?$",
)
_EXCEL_EPOCH: Final = pd.Timestamp("1899-12-30")


def _fold(series: pd.Series) -> pd.Series:
    """NFKC + lower case, for value lookups."""
    return series.str.normalize("NFKC").str.lower().str.strip()


def _to_float(series: pd.Series) -> FloatArray:
    """Numbers from text (full-width digits and a trailing ° allowed); NaN where not a number."""
    value = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    retry = np.isnan(value) & (series != "").to_numpy()
    if retry.any():  # rare: full-width digits, "116.4°"
        cleaned = series[retry].str.normalize("NFKC").str.strip().str.rstrip("°度").str.strip()
        value[retry] = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return value


def _parse_birth(series: pd.Series, ref: dt.date) -> tuple[FloatArray, BoolArray]:
    """Age in whole years at ``ref`` from birth dates; returns ``(age, unreadable)``.

    A missing month counts as July (mid-year) and a missing day as the 1st; five-digit
    numbers are Excel date serials.
    """
    text = series.str.normalize("NFKC").str.strip()
    n = len(text)
    year = np.full(n, np.nan)
    month = np.full(n, np.nan)
    day = np.full(n, np.nan)
    for pattern in _BIRTH_PATTERNS:
        found = text.str.extract(pattern)
        y = pd.to_numeric(found["y"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        take = np.isnan(year) & ~np.isnan(y)
        year[take] = y[take]
        for name, target in (("m", month), ("d", day)):
            if name in found.columns:
                v = pd.to_numeric(found[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                target[take] = v[take]
    serial = pd.to_numeric(text.str.extract(r"^(\d{5})(?:\.0+)?$")[0], errors="coerce")
    is_serial = np.isnan(year) & serial.notna().to_numpy()
    if is_serial.any():
        dates = _EXCEL_EPOCH + pd.to_timedelta(serial[is_serial].to_numpy(dtype=np.float64), unit="D")
        year[is_serial] = dates.year
        month[is_serial] = dates.month
        day[is_serial] = dates.day
    month = np.where(np.isnan(month) & ~np.isnan(year), 7.0, month)
    day = np.where(np.isnan(day) & ~np.isnan(year), 1.0, day)
    found_any = ~np.isnan(year)
    ok = found_any & (year >= 1880) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    if ok.any():
        checked = pd.to_datetime(
            pd.DataFrame({"year": year[ok], "month": month[ok], "day": day[ok]}), errors="coerce"
        )
        valid = checked.notna().to_numpy() & (checked <= pd.Timestamp(ref)).to_numpy()
        ok[np.flatnonzero(ok)[~valid]] = False
    before_birthday = (month > ref.month) | ((month == ref.month) & (day > ref.day))
    age = np.where(ok, ref.year - year - before_birthday, np.nan)
    unreadable = (text != "").to_numpy() & ~ok
    return age, unreadable


def _parse_age(series: pd.Series) -> tuple[FloatArray, BoolArray]:
    """Whole years from an age column (``85``, ``85岁``, ``85周岁``); returns ``(age, unreadable)``."""
    text = series.str.normalize("NFKC").str.replace(r"周?岁$", "", regex=True).str.strip()
    value = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.isfinite(value) & (value >= 0) & (value <= 130)
    return np.where(ok, np.floor(value), np.nan), (text != "").to_numpy() & ~ok


# --------------------------------------------------------------------------------------
# row checks


_Text = str | pd.Series | NDArray[Any] | Callable[[BoolArray], Any]


class _Issues:
    """Collects per-row rejections and warnings as small frames, built from boolean masks.

    ``field``, ``value`` and ``reason`` are a string (same for every row), a row-aligned
    Series/array, or a callable receiving the mask and returning the texts of the masked
    rows only — so messages are built for the few problem rows, not for every row.
    """

    def __init__(self, file: str, rows: NDArray[np.int64]) -> None:
        self.file = file
        self.rows = rows
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        mask: BoolArray | pd.Series,
        field: _Text,
        value: _Text,
        reason: _Text,
        action: Literal["rejected", "warning"],
    ) -> None:
        """Record one issue for every row where ``mask`` is true."""
        m = np.asarray(mask, dtype=bool)
        if not m.any():
            return
        pos = np.flatnonzero(m)

        def pick(x: _Text) -> Any:
            if isinstance(x, str):
                return x
            if callable(x):
                return np.asarray(x(m), dtype=object)
            return np.asarray(x, dtype=object)[pos]

        self.parts.append(
            pd.DataFrame(
                {
                    "pos": pos,
                    "field": pick(field),
                    "value": pick(value),
                    "reason": pick(reason),
                    "action": action,
                }
            )
        )

    def add_file(self, field: str, reason: str, action: Literal["rejected", "warning"] = "warning") -> None:
        """Record one issue about the whole file (row left empty)."""
        self.parts.append(
            pd.DataFrame(
                {"pos": [-1], "field": [field], "value": [""], "reason": [reason], "action": [action]}
            )
        )

    def finish(self) -> tuple[pd.DataFrame, BoolArray]:
        """Return the rejections frame and the mask of rejected rows.

        Warnings about rows that are rejected anyway are dropped: a rejected row lists only
        why it was rejected (all the reasons).
        """
        rejected = np.zeros(len(self.rows), dtype=bool)
        if not self.parts:
            empty = pd.DataFrame({c: pd.Series(dtype=str) for c in REJECTION_COLUMNS})
            empty["row"] = empty["row"].astype("Int64")
            return empty, rejected
        allp = pd.concat(self.parts, ignore_index=True)
        is_rej = (allp["action"] == "rejected").to_numpy()
        rejected[allp.loc[is_rej, "pos"].to_numpy(dtype=np.int64)] = True
        pos = allp["pos"].to_numpy(dtype=np.int64)
        keep = is_rej | (pos < 0) | ~rejected[np.maximum(pos, 0)]
        allp = allp.loc[keep]
        pos = allp["pos"].to_numpy(dtype=np.int64)
        row = pd.array(np.where(pos >= 0, self.rows[np.maximum(pos, 0)], 0), dtype="Int64")
        row[pos < 0] = pd.NA
        out = pd.DataFrame(
            {
                "file": self.file,
                "row": row,
                "field": allp["field"].astype(str).to_numpy(),
                "value": allp["value"].astype(str).to_numpy(),
                "reason": allp["reason"].astype(str).to_numpy(),
                "action": allp["action"].to_numpy(),
                "_order": np.arange(len(allp)),
            }
        )
        out = out.sort_values(["row", "_order"], na_position="first", kind="stable").drop(columns="_order")
        return out.reset_index(drop=True), rejected


@dataclass(frozen=True)
class LayerResult:
    """One loaded layer.

    Attributes
    ----------
    frame
        Accepted rows, EPSG:4326.  Columns: the layer's canonical columns (all present, in
        a fixed order), then ``lon``, ``lat`` (WGS-84 degrees, NaN when the row has only an
        address), ``lon_in``, ``lat_in`` (as given, after fixing a swap), ``crs_in``
        (``WGS84``/``GCJ02``/``BD09`` the row was given in, ``""`` without coordinates),
        ``source_row`` (spreadsheet row number), then the file's other columns under their
        original headers, then ``geometry`` (Point, or ``None``).
    rejections
        One line per problem: :data:`REJECTION_COLUMNS`; ``action`` is ``"rejected"``
        (row dropped; a row may have several reasons) or ``"warning"`` (row kept);
        ``row`` is empty for a note about the whole file.
    info
        ``file``, ``format``, ``encoding``, ``sheet``, ``header_row``, ``n_blank``, ``n_read``,
        ``n_accepted``, ``n_rejected`` (rows; ``n_read == n_accepted + n_rejected``),
        ``n_warnings`` and ``column_map`` ``{original header: canonical}``.
    """

    frame: gpd.GeoDataFrame
    rejections: pd.DataFrame
    info: dict[str, Any]


def _workbook_warnings(issues: _Issues, info: Mapping[str, Any], rows: NDArray[np.int64]) -> None:
    """Warnings about how a workbook was read: sheets skipped, formulas without saved values."""
    if info.get("sheet_note"):
        issues.add_file("sheet", str(info["sheet_note"]))
    by_field: dict[str, list[int]] = {}
    for cell in info.get("uncached_formulas") or ():
        by_field.setdefault(str(cell["field"]), []).append(int(cell["row"]))
    for field, cells in by_field.items():
        mask = np.isin(rows, cells)
        reason = ("formula without a saved value, read as empty: open the workbook in Excel or WPS and "
                  "save it so the values are stored")
        issues.add(mask, field, "", reason, "warning")
        outside = sorted(set(cells) - set(rows[mask].tolist()))
        if outside:
            issues.add_file(field, f"rows {', '.join(map(str, outside[:20]))}: {reason}")


def _check_required(kind: str, present: set[str], file: str) -> None:
    """Raise one InputError listing every missing required column of layer ``kind``."""
    problems: list[Problem] = []

    def need(canonical: str) -> None:
        problems.append(
            Problem(
                file,
                None,
                canonical,
                f"missing required column '{canonical}' (accepted headers: {_accepted(kind, canonical)})",
            )
        )

    if kind == "members":
        for canonical in ("id", "branch"):
            if canonical not in present:
                need(canonical)
    elif kind == "branches":
        if not present & {"id", "name"}:
            problems.append(
                Problem(
                    file,
                    None,
                    "id",
                    "missing required column 'id' or 'name' (accepted headers: "
                    f"id: {_accepted(kind, 'id')}; name: {_accepted(kind, 'name')})",
                )
            )
    elif "name" not in present:
        need("name")
    has_xy = {"lon", "lat"} <= present
    has_address = "address" in present or (kind == "branches" and "meeting_place" in present)
    if not has_xy and not has_address:
        missing = [c for c in ("lon", "lat") if c not in present]
        places = "address/meeting_place" if kind == "branches" else "address"
        accepted = "; ".join(
            f"{c}: {_accepted(kind, c)}"
            for c in ("lon", "lat", "address", *(("meeting_place",) if kind == "branches" else ()))
        )
        problems.append(
            Problem(
                file,
                None,
                "/".join(missing) or "address",
                f"missing required column(s) {' and '.join(repr(c) for c in missing)} or '{places}': "
                f"each row needs coordinates or an address (accepted headers: {accepted})",
            )
        )
    if problems:
        raise InputError(problems)


def _generate_ids(ids: pd.Series, need: BoolArray, prefix: str) -> pd.Series:
    """Fill ``ids`` where ``need`` with ``S001``-style ids that do not clash with existing ones."""
    n_new = int(need.sum())
    taken = set(ids[~need & (ids != "").to_numpy()])
    width = max(3, len(str(n_new + len(taken))))
    new: list[str] = []
    counter = 0
    while len(new) < n_new:
        counter += 1
        candidate = f"{prefix}{counter:0{width}d}"
        if candidate not in taken:
            new.append(candidate)
    out = ids.copy()
    out[need] = new
    return out


@dataclass(frozen=True)
class _Coords:
    lon: FloatArray
    lat: FloatArray
    lon_in: FloatArray
    lat_in: FloatArray
    crs_in: pd.Series
    none_given: BoolArray


def _coordinates(
    lon_txt: pd.Series,
    lat_txt: pd.Series,
    crs_txt: pd.Series,
    default_crs: str,
    fields: Mapping[str, str],
    issues: _Issues,
) -> _Coords:
    """Check and convert coordinates of every row to WGS-84, recording issues."""
    n = len(lon_txt)
    lon_empty = (lon_txt == "").to_numpy()
    lat_empty = (lat_txt == "").to_numpy()
    lon_v = _to_float(lon_txt)
    lat_v = _to_float(lat_txt)

    def pair(m: BoolArray) -> pd.Series:
        return "(" + lon_txt[m] + ", " + lat_txt[m] + ")"

    issues.add(
        lon_empty & ~lat_empty, fields["lon"], lat_txt, "latitude given but longitude is empty", "rejected"
    )
    issues.add(
        lat_empty & ~lon_empty, fields["lat"], lon_txt, "longitude given but latitude is empty", "rejected"
    )
    for name, txt, v, empty in (("lon", lon_txt, lon_v, lon_empty), ("lat", lat_txt, lat_v, lat_empty)):
        word = "longitude" if name == "lon" else "latitude"

        def not_a_number(m: BoolArray, txt: pd.Series = txt, word: str = word) -> pd.Series:
            return f"{word} '" + txt[m] + "' is not a number (decimal degrees expected, e.g. 116.397)"

        issues.add(~empty & ~np.isfinite(v), fields[name], txt, not_a_number, "rejected")
    numeric = ~lon_empty & ~lat_empty & np.isfinite(lon_v) & np.isfinite(lat_v)

    swapped = numeric & check_lonlat(lon_v, lat_v).swapped
    issues.add(
        swapped,
        fields["lon"],
        pair,
        lambda m: "longitude and latitude look swapped " + pair(m) + "; they were swapped back",
        "warning",
    )
    lon_f = np.where(swapped, lat_v, lon_v)
    lat_f = np.where(swapped, lon_v, lat_v)

    def fixed(m: BoolArray) -> list[str]:
        return [f"({x:.6f}, {y:.6f})" for x, y in zip(lon_f[m], lat_f[m], strict=True)]
    check = check_lonlat(lon_f, lat_f)
    invalid = numeric & check.invalid
    issues.add(
        invalid,
        np.where(np.abs(lat_f) > 90, fields["lat"], fields["lon"]),
        pair,
        lambda m: "coordinates "
        + pair(m)
        + " out of range: longitude must be within ±180 and latitude within ±90",
        "rejected",
    )
    outside = numeric & ~invalid & check.outside_china
    issues.add(
        outside,
        fields["lon"],
        pair,
        lambda m: [f"point {p} lies outside China; check the coordinates" for p in fixed(m)],
        "rejected",
    )

    names: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for value in pd.unique(crs_txt[crs_txt != ""]):
        try:
            names[value] = normalize_crs_name(value)
        except CRSError as exc:
            errors[value] = str(exc)
    mapped = crs_txt.map(names)
    row_crs = mapped.where(mapped.notna(), default_crs).astype(str)
    unknown = crs_txt.isin(list(errors)).to_numpy()
    issues.add(unknown, fields["crs"], crs_txt, lambda m: crs_txt[m].map(errors), "rejected")

    ok = numeric & ~invalid & ~outside & ~unknown
    lon_w = np.full(n, np.nan)
    lat_w = np.full(n, np.nan)
    if ok.any():
        lon_w[ok], lat_w[ok] = to_wgs84(lon_f[ok], lat_f[ok], row_crs[ok].to_numpy(dtype=object))
    crs_in = row_crs.where(numeric & ~unknown, "").fillna("").astype(str)
    return _Coords(
        lon=lon_w,
        lat=lat_w,
        lon_in=np.where(numeric, lon_f, np.nan),
        lat_in=np.where(numeric, lat_f, np.nan),
        crs_in=crs_in,
        none_given=lon_empty & lat_empty,
    )


def load_layer(
    kind: LayerKind,
    spec: LayerInput,
    *,
    branches: pd.DataFrame | None = None,
    reference_date: dt.date | None = None,
) -> LayerResult:
    """Read, check and georeference one layer.

    Headers are mapped with :data:`HEADER_ALIASES`; unknown columns are kept.  Required
    columns: members ``id``, ``branch`` and coordinates (``lon`` + ``lat``) or ``address``;
    branches ``id`` or ``name`` and coordinates, ``address`` or ``meeting_place`` (the
    meeting place's text fills an empty address); stations and hospitals ``name`` and
    coordinates or ``address`` (ids ``S001``/``H001``… generated when absent, ``B001``…
    for branches without ids, each stated as a warning).

    Every row is accepted or rejected.  Rejected: empty id (members) or name (stations,
    hospitals), duplicate id (every occurrence after the first, naming the first row),
    coordinates that are half given, not numbers, out of range or outside China, an
    unknown 坐标系 value, no coordinates and no address, a member with no branch or an
    unknown branch.  Warnings (row kept): longitude/latitude swapped (fixed), unknown
    离退休类别, unreadable 年龄/出生年月/是否党员/容量, generated ids.

    Coordinates are converted to WGS-84 per row: the file's default is ``spec.crs``,
    overridden by a 坐标系 column (高德/腾讯 = GCJ02, 百度 = BD09).  For GeoJSON and
    GeoPackage the geometry's coordinates (reprojected to EPSG:4326 by :func:`read_table`)
    are the row's coordinates, and ``spec.crs``/坐标系 still apply to them: keep the
    default ``WGS84`` unless the points were digitised on a GCJ-02 map (高德 exports).

    Parameters
    ----------
    kind
        ``"members"``, ``"branches"``, ``"stations"`` or ``"hospitals"``.
    spec
        The file and its reading options.
    branches
        Accepted branches (a :attr:`LayerResult.frame` with ``id`` and ``name``), used to
        resolve each member's branch by id first, then by exact name.  When ``None`` the
        check is skipped and ``branch_id`` is the member's ``branch`` value unchanged.
    reference_date
        Date at which ages are computed from birth dates (default: today).

    Returns
    -------
    LayerResult

    Raises
    ------
    InputError
        For problems with the whole file: unreadable, empty, two columns with the same
        meaning, missing required columns (listing the accepted headers).
    ValueError
        If ``kind`` is unknown or ``branches`` has no ``id`` column.
    """
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}")
    if branches is not None and "id" not in branches.columns:
        raise ValueError("branches frame has no 'id' column; pass load_layer('branches', …).frame")
    ref = reference_date or dt.date.today()
    file = str(spec.path)
    raw, read_info = read_table(spec.path, sheet=spec.sheet, encoding=spec.encoding)
    column_map = match_columns(raw.columns, kind, file=file)
    present = set(column_map.values())
    _check_required(kind, present, file)

    original = {canonical: header for header, canonical in column_map.items()}
    n = len(raw)
    rows = raw.index.to_numpy(dtype=np.int64)
    issues = _Issues(file, rows)
    blank = pd.Series("", index=raw.index, dtype=str)
    _workbook_warnings(issues, read_info, rows)

    def col(canonical: str) -> pd.Series:
        return raw[original[canonical]] if canonical in original else blank

    def fld(canonical: str) -> str:
        return original.get(canonical, canonical)

    values: dict[str, Any] = {c: col(c) for c in _CANONICAL_ORDER[kind] if c in HEADER_ALIASES[kind]}

    # --- ids and names
    ids = col("id")
    if kind == "members":
        issues.add((ids == "").to_numpy(), fld("id"), ids, "empty id", "rejected")
    else:
        names = col("name")
        if kind == "branches":
            unnamed = ((ids == "") & (names == "")).to_numpy()
            issues.add(unnamed, fld("id"), ids, "branch has neither id nor name", "rejected")
        else:
            unnamed = (names == "").to_numpy()
            issues.add(unnamed, fld("name"), names, "empty name", "rejected")
        need = (ids == "").to_numpy() & ~unnamed
        if need.any():
            ids = _generate_ids(ids, need, _ID_PREFIX[kind])
            if "id" not in original:
                issues.add_file("id", f"no id column; ids generated as {_ID_PREFIX[kind]}001… in row order")
            else:
                issues.add(need, fld("id"), ids, lambda m: "empty id; generated '" + ids[m] + "'", "warning")
    duplicate = ((ids != "") & ids.duplicated(keep="first")).to_numpy()
    if duplicate.any():
        first_row = pd.Series(rows, index=raw.index).groupby(ids.to_numpy()).transform("first")
        issues.add(
            duplicate,
            fld("id"),
            ids,
            lambda m: "duplicate id '" + ids[m] + "' (first seen in row " + first_row[m].astype(str) + ")",
            "rejected",
        )
    values["id"] = ids

    # --- coordinates and address
    coord_fields = {c: fld(c) for c in ("lon", "lat", "crs")}
    coords = _coordinates(col("lon"), col("lat"), col("crs"), spec.crs, coord_fields, issues)
    address = col("address")
    if kind == "branches" and "meeting_place" in original:
        address = address.where(address != "", col("meeting_place"))
    values["address"] = address
    no_place = coords.none_given & (address == "").to_numpy()
    place_field = fld("address") if "address" in original or kind != "branches" else fld("meeting_place")
    issues.add(no_place, place_field, address, "neither coordinates nor an address", "rejected")

    # --- layer-specific fields
    if kind == "members":
        _member_fields(values, col, fld, original, issues, branches, ref)
    elif kind == "stations":
        capacity = _to_float(col("capacity").str.replace(r"人$", "", regex=True))
        bad = (col("capacity") != "").to_numpy() & ~(np.isfinite(capacity) & (capacity >= 0))
        issues.add(bad, fld("capacity"), col("capacity"), "capacity is not a number; left empty", "warning")
        values["capacity"] = np.where(bad, np.nan, capacity)

    issues_frame, rejected = issues.finish()
    keep = ~rejected

    # --- assemble the accepted rows
    data: dict[str, Any] = {}
    for c in _CANONICAL_ORDER[kind]:
        v = values.get(c, blank)
        data[c] = v.to_numpy()[keep] if isinstance(v, pd.Series) else np.asarray(v)[keep]
    data.update(
        lon=coords.lon[keep],
        lat=coords.lat[keep],
        lon_in=coords.lon_in[keep],
        lat_in=coords.lat_in[keep],
        crs_in=coords.crs_in.to_numpy()[keep],
        source_row=rows[keep],
    )
    frame = pd.DataFrame(data)
    for c in _CANONICAL_ORDER[kind]:
        if c not in ("age", "capacity", "is_party_member"):
            frame[c] = frame[c].astype(str)
    frame["crs_in"] = frame["crs_in"].astype(str)
    reserved = set(frame.columns) | {"geometry"}
    extras: dict[str, NDArray[Any]] = {}
    for header in raw.columns:
        if header in column_map:
            continue
        name = header
        while name in reserved:
            name = f"{name}_orig"
        if name != header:
            logger.warning(
                "%s: extra column '%s' renamed '%s' (name taken by a canonical column)", file, header, name
            )
        reserved.add(name)
        extras[name] = raw[header].to_numpy()[keep]
    if extras:
        frame = pd.concat([frame, pd.DataFrame(extras, index=frame.index, dtype=str)], axis=1)
    lon_out = frame["lon"].to_numpy()
    lat_out = frame["lat"].to_numpy()
    has_point = np.isfinite(lon_out) & np.isfinite(lat_out)
    geometry = np.full(len(frame), None, dtype=object)
    if has_point.any():
        geometry[has_point] = shapely.points(lon_out[has_point], lat_out[has_point])
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index, crs="EPSG:4326"))

    n_rejected = int(rejected.sum())
    info: dict[str, Any] = {
        "file": file,
        **read_info,
        "n_read": n,
        "n_accepted": n - n_rejected,
        "n_rejected": n_rejected,
        "n_warnings": int((issues_frame["action"] == "warning").sum()),
        "column_map": dict(column_map),
    }
    info.pop("n_rows", None)
    logger.info(
        "%s (%s): %d row(s) read, %d accepted, %d rejected, %d warning(s)",
        file,
        kind,
        n,
        info["n_accepted"],
        n_rejected,
        info["n_warnings"],
    )
    return LayerResult(frame=gdf, rejections=issues_frame, info=info)


def _member_fields(
    values: dict[str, Any],
    col: Callable[[str], pd.Series],
    fld: Callable[[str], str],
    original: Mapping[str, str],
    issues: _Issues,
    branches: pd.DataFrame | None,
    ref: dt.date,
) -> None:
    """Fill members' ``branch_id``, ``status``, ``age`` and ``is_party_member`` in ``values``."""
    branch = col("branch")
    issues.add((branch == "").to_numpy(), fld("branch"), branch, "empty branch", "rejected")
    if branches is None:
        values["branch_id"] = branch
    else:
        b_ids = branches["id"].astype(str)
        id_set = set(b_ids)
        if "name" in branches.columns:
            b_names = branches["name"].astype(str)
            counts = b_names[b_names != ""].value_counts()
            unique_names = counts.index[counts == 1]
            name_map = pd.Series(b_ids.to_numpy(), index=b_names.to_numpy())
            name_map = name_map[name_map.index.isin(unique_names)]
            ambiguous = set(counts.index[counts > 1])
        else:
            name_map = pd.Series(dtype=str)
            ambiguous = set()
        by_id = branch.isin(id_set).to_numpy()
        by_name = branch.map(name_map)
        resolved = branch.where(by_id, by_name)
        is_ambiguous = ~by_id & branch.isin(ambiguous).to_numpy()
        unknown = (branch != "").to_numpy() & resolved.isna().to_numpy() & ~is_ambiguous
        issues.add(unknown, fld("branch"), branch, lambda m: "unknown branch '" + branch[m] + "'", "rejected")
        issues.add(
            is_ambiguous,
            fld("branch"),
            branch,
            lambda m: "branch name '" + branch[m] + "' is shared by several branches; use the branch id",
            "rejected",
        )
        values["branch_id"] = resolved.fillna("").astype(str)

    status_raw = col("status")
    status = pd.Series(
        _on_uniques(status_raw, lambda u: _fold(u).map(dict(_STATUS_VALUES))), index=status_raw.index
    )
    if "status" in original:
        issues.add(
            status.isna().to_numpy(),
            fld("status"),
            status_raw,
            lambda m: [
                f"unknown 离退休类别 '{v}' (use 离休 or 退休); status left empty"
                if v
                else "empty 离退休类别 (use 离休 or 退休); status left empty"
                for v in status_raw[m]
            ],
            "warning",
        )
    values["status"] = status.fillna("").astype(str)

    age = np.full(len(status_raw), np.nan)
    if "age" in original:
        age, bad_age = _on_uniques(col("age"), _parse_age)
        issues.add(
            bad_age, fld("age"), col("age"), lambda m: "cannot read age '" + col("age")[m] + "'", "warning"
        )
    if "birth" in original:
        birth_age, bad_birth = _on_uniques(col("birth"), lambda u: _parse_birth(u, ref))
        use = np.isnan(age)
        issues.add(
            bad_birth & use,
            fld("birth"),
            col("birth"),
            lambda m: "cannot read birth date '"
            + col("birth")[m]
            + "' (use e.g. 1940-05, 1940.05, 1940年5月 or 19400501)",
            "warning",
        )
        age = np.where(use, birth_age, age)
    values["age"] = age

    if "is_party_member" in original:
        party_raw = col("is_party_member")
        party = pd.Series(
            _on_uniques(party_raw, lambda u: _fold(u).map(dict(_PARTY_VALUES))), index=party_raw.index
        )
        bad = party.isna().to_numpy() & (party_raw != "").to_numpy()
        issues.add(
            bad,
            fld("is_party_member"),
            party_raw,
            lambda m: "cannot read party membership '"
            + party_raw[m]
            + "' (use 是/否); taken as a party member",
            "warning",
        )
        flags = party.to_numpy(dtype=object)
        values["is_party_member"] = np.where(party.isna().to_numpy(), True, flags).astype(bool)
    else:
        values["is_party_member"] = np.ones(len(status_raw), dtype=bool)
