"""Writing one table as an XLSX workbook a planner opens in Excel or WPS.

Bold header row frozen (``A2``), auto-filter, column widths from the content (CJK characters
count double, capped); text cells stay text (a value such as ``=HYPERLINK(…)`` or ``001`` is
never turned into a formula or a number).
"""

from __future__ import annotations

import logging
import math
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

__all__ = ["XLSX_CELL_MAX", "write_xlsx"]

log = logging.getLogger(__name__)

#: Excel's limit on the characters of one cell.
XLSX_CELL_MAX: Final[int] = 32767
_WIDTH_MIN: Final[float] = 6.0
_WIDTH_MAX: Final[float] = 60.0
_WIDE_CHARS = r"[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f" \
    r"\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
_WIDE_RE = re.compile(_WIDE_CHARS)


def _display_width(values: list[Any]) -> float:
    """Widest cell of a column in Excel width units: CJK characters count double."""
    widest = 0
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        text = v if isinstance(v, str) else str(v)
        widest = max(widest, len(text) + len(_WIDE_RE.findall(text)))
    return float(widest)


def _column_widths(frame: pd.DataFrame) -> list[float]:
    """Column widths from header and content (a sample of large tables), capped."""
    sample = frame if len(frame) <= 2000 else frame.sample(2000, random_state=0)
    out = []
    for i, col in enumerate(frame.columns):
        width = max(_WIDTH_MIN, _display_width([str(col)]), _display_width(sample.iloc[:, i].tolist()))
        out.append(float(min(_WIDTH_MAX, width + 2.0)))
    return out


def _sheet_title(name: str) -> str:
    """Return an Excel-legal sheet name (at most 31 characters, no ``[ ] : * ? /`` or backslash)."""
    clean = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'") or "Sheet1"
    return clean[:31]


def _cell_text(value: str) -> str:
    """Return a text cell Excel accepts: illegal characters dropped, cut to :data:`XLSX_CELL_MAX`."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if len(value) > XLSX_CELL_MAX:
        n_items = value.count(";") + 1
        tail = f"…(截断，共{n_items}项，完整内容见CSV)"
        log.warning("XLSX cell of %d characters truncated to Excel's limit of %d", len(value), XLSX_CELL_MAX)
        value = value[: XLSX_CELL_MAX - len(tail)] + tail
    return value


def write_xlsx(frame: pd.DataFrame, path: Path, sheet: str) -> None:
    """Write one sheet of a workbook.

    openpyxl builds the workbook (styled header, frozen pane, widths, filter); the data rows
    are streamed into the sheet's XML column-wise.

    openpyxl spends ~10 µs per cell (a city's 34,000 members × 40 columns would take 15 s);
    the rows here are plain SpreadsheetML (inline strings, numbers, booleans) built with one
    string operation per cell, and read back by openpyxl/Excel/WPS like any other sheet.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(sheet))
    ws.freeze_panes = "A2"
    for i, w in enumerate(_column_widths(frame), start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    if len(frame.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    header = []
    for col in frame.columns:
        cell = WriteOnlyCell(ws, value=_cell_text(str(col)))
        cell.data_type = "s"
        cell.font, cell.fill, cell.alignment = bold, fill, centre
        header.append(cell)
    ws.append(header)
    wb.save(path)
    if len(frame) == 0 or frame.shape[1] == 0:
        return

    sheet_name = "xl/worksheets/sheet1.xml"
    tmp = path.with_name(path.name + ".rows")
    big = len(frame) * frame.shape[1] * 64 > zipfile.ZIP64_LIMIT  # a rough upper bound of the sheet's bytes
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename != sheet_name:
                dst.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
                continue
            xml = data.decode("utf-8")
            cut = xml.index("</sheetData>")
            # the rows are streamed in chunks (repetitive XML: fast compression is nearly as small)
            with dst.open(sheet_name, "w", force_zip64=big) as out:
                out.write(xml[:cut].encode("utf-8"))
                for chunk in _row_chunks(frame):
                    out.write(chunk.encode("utf-8"))
                out.write(xml[cut:].encode("utf-8"))
    os.replace(tmp, path)


#: Rows of a sheet built and written at a time (bounds the memory of a large table's XML).
_CHUNK_ROWS: Final[int] = 20_000


def _row_chunks(frame: pd.DataFrame) -> Iterator[str]:
    """The sheet's data rows as SpreadsheetML, :data:`_CHUNK_ROWS` rows at a time.

    Rows and cells carry no reference (``r`` is optional in SpreadsheetML): each ``<row>``
    follows the header and each ``<c>`` its left neighbour, a missing value an empty ``<c/>``.
    """
    for start in range(0, len(frame), _CHUNK_ROWS):
        part = frame.iloc[start:start + _CHUNK_ROWS]
        columns = [_xlsx_cells(part.iloc[:, i]) for i in range(part.shape[1])]
        yield "<row>" + "</row><row>".join(map("".join, zip(*columns, strict=True))) + "</row>"


#: Characters an XML text node cannot hold as they are (escaped) or at all (dropped, XML 1.0).
_XML_SPECIAL: Final = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_ESCAPE: Final[dict[str, str]] = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_EMPTY: Final = "<c/>"
_TEXT_CELL: Final = '<c t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>'


def _xml_text(values: list[str]) -> list[str]:
    """Texts made safe for an XML text node, cut to Excel's cell limit.

    One regex scan of the whole column finds the few texts needing work; the rest pass as they are.
    """
    out = [_cell_text(v) if len(v) > XLSX_CELL_MAX else v for v in values]
    if _XML_SPECIAL.search("".join(out)) is None:
        return out
    esc = _XML_ESCAPE.get
    return [_XML_SPECIAL.sub(lambda m: esc(m.group(), ""), v) if _XML_SPECIAL.search(v) else v for v in out]


def _xlsx_cells(s: pd.Series) -> list[str]:
    """Return the SpreadsheetML ``<c>`` elements of one column (no cell references).

    Numbers stay numbers (also the float cells of a mixed column, such as a walk time that
    reads ``> 120`` for some members), NaN (and an empty text) is an empty ``<c/>``, everything
    else is text (an ``=…`` typed by a planner is text, never a formula). One formatting call per cell.
    """
    missing = s.isna().to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype):
        flags = s.fillna(False).astype(bool).to_numpy()
        cells = np.where(flags, '<c t="b"><v>1</v></c>', '<c t="b"><v>0</v></c>').tolist()
    elif pd.api.types.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        missing = missing | ~np.isfinite(values)
        raw = s.astype("object").tolist() if pd.api.types.is_integer_dtype(s.dtype) else values.tolist()
        cells = list(map("<c><v>{}</v></c>".format, raw))
    else:
        raw = s.astype("object").where(~missing, "").tolist()
        if isinstance(s.dtype, pd.StringDtype):  # text columns hold str already
            text = _xml_text(raw)
        else:
            text = _xml_text([v if isinstance(v, str) else str(v) for v in raw])
            # the float cells of a mixed column (a walk time reading "> 120" for some) stay numbers
            for i in [i for i, v in enumerate(raw) if isinstance(v, (float, np.floating)) and math.isfinite(v)]:
                text[i] = None
        numbers = [i for i, t in enumerate(text) if t is None] if not isinstance(s.dtype, pd.StringDtype) else []
        cells = list(map(_TEXT_CELL.format, text))
        for i in numbers:
            cells[i] = "<c><v>{}</v></c>".format(float(raw[i]))
        missing = missing | (np.array([t == "" for t in text]) if text else np.zeros(0, bool))
    for i in np.flatnonzero(missing):
        cells[i] = _EMPTY
    return cells
