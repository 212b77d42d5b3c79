"""Reading a planner's table from CSV, XLSX, GeoJSON or GeoPackage into a frame of strings.

The format is recognised from the bytes; the text encoding of a CSV file (GBK/GB18030 from
Excel or WPS, UTF-8 with or without a byte-order mark) is detected.  Workbooks are read by
:mod:`geo_planner.io.xlsx`, GIS layers by :mod:`geo_planner.io.vector`.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ..errors import InputError, Problem
from .grid import excel_letter, input_error, rows_to_frame
from .vector import read_vector
from .xlsx import read_xlsx

__all__ = ["detect_encoding", "read_table"]

logger = logging.getLogger(__name__)

_ZIP_MAGIC: Final = b"PK\x03\x04"
_OLE2_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_VECTOR_SUFFIXES: Final = frozenset({".shp", ".fgb", ".gml", ".kml"})


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


def _read_csv_rows(path: Path, data: bytes, encoding: str | None) -> tuple[list[list[str]], str]:
    """Decode ``data`` (detecting the encoding unless given) and split it into CSV rows."""
    file = str(path)
    if encoding is None:
        try:
            text, encoding = _decode_detected(data)
        except ValueError as exc:
            raise input_error(file, f"{exc}; save it as UTF-8 or give the encoding") from None
    else:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise input_error(file, f"unknown text encoding '{encoding}'") from None
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise input_error(
                file, f"cannot be decoded as {encoding} at byte {exc.start}: {exc.reason}"
            ) from None
    lines = [ln for ln in text[:65536].lstrip("\ufeff").splitlines()[:20] if ln.strip()]
    sample = "\n".join(lines[:5])
    counts = {d: sample.count(d) for d in (",", "\t", ";", "|")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise input_error(file, f"not a readable CSV file: {exc}") from None
    return rows, encoding


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
        raise input_error(file, "file not found")
    with path.open("rb") as fh:
        head = fh.read(64)
    if not head.strip():
        if path.stat().st_size <= len(head):
            raise input_error(file, "file is empty")
    fmt = _sniff_format(path, head)
    info: dict[str, Any] = {"format": fmt, "encoding": None, "sheet": None}
    if fmt == "xls":
        raise input_error(file, "old binary Excel (.xls) files are not supported; save it as .xlsx or CSV")
    if fmt in ("gpkg", "geojson", "vector"):
        frame, layer, extra = read_vector(path, sheet, fmt)
        info.update(sheet=layer, header_row=1, n_blank=0, **extra)
    else:
        facts: dict[str, Any] = {}
        if fmt == "xlsx":
            rows, sheet_name, facts = read_xlsx(path, sheet)
            info["sheet"] = sheet_name
        else:
            if sheet is not None:
                logger.warning("%s: CSV has no sheets; sheet '%s' ignored", file, sheet)
            rows, info["encoding"] = _read_csv_rows(path, path.read_bytes(), encoding)
        try:
            frame, extra = rows_to_frame(rows, file)
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
                                         else excel_letter(c))}
                for r, c in facts["uncached_formulas"]
            ]
    info["n_rows"] = len(frame)
    logger.debug("%s: read %d row(s) (%s)", file, len(frame), info)
    return frame, info
