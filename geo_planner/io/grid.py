"""Cells and grids of text: what every reader shares.

A CSV file or a worksheet is read into rows of cell strings; :func:`rows_to_frame` finds the
header (skipping a title row above it), drops blank rows and returns a frame indexed by the
spreadsheet row number a planner sees.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .aliases import header_score

logger = logging.getLogger(__name__)

#: Whitespace stripped from cells: ASCII, no-break, full-width and zero-width spaces, BOM.
WS_CHARS: Final[str] = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200C))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
#: A header is looked for in the first this many non-blank rows (a title row may sit above it).
_HEADER_SCAN_ROWS: Final = 10


def input_error(file: str, reason: str, *, row: int | None = None, field: str | None = None) -> InputError:
    """An input error about ``file`` (and a row and field when given)."""
    return InputError(Problem(file, row, field, reason))


def strip_text(series: pd.Series) -> pd.Series:
    """Strip whitespace (incl. full-width and no-break spaces, BOM) from both ends of strings."""
    return series.str.strip(WS_CHARS)


def excel_letter(index: int) -> str:
    """Spreadsheet column letter of 0-based column ``index`` (0 → A, 26 → AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def clean_headers(headers: list[str]) -> list[str]:
    """Name empty headers after their column letter and make duplicates unique (``备注.1``)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        name = h if h else f"column_{excel_letter(i)}"
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


def rows_to_frame(rows: list[list[str]], file: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn a grid of cell strings into a frame indexed by spreadsheet row number.

    The header is the first of the first non-blank rows with at least two known headers
    (so a title row above the header is skipped), else the first non-blank row.  Blank
    rows are dropped (counted in ``n_blank``); columns with no header and no data too.
    """
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        raise input_error(file, "file is empty: no header and no data rows")
    pad = [""] * width
    # One pass in C-implemented str.strip per cell; no pandas string accessor (slow without pyarrow).
    grid = np.array([[c.strip(WS_CHARS) for c in r] + pad[len(r) :] for r in rows], dtype=object)
    grid = grid.reshape(len(rows), width)
    blank = (grid == "").all(axis=1)
    nonblank = np.flatnonzero(~blank)
    if nonblank.size == 0:
        raise input_error(file, "file is empty: no header and no data rows")
    header_pos = int(nonblank[0])
    for pos in nonblank[:_HEADER_SCAN_ROWS]:
        if header_score(grid[pos]) >= 2:
            header_pos = int(pos)
            break
    notes: list[str] = []
    if header_pos != nonblank[0]:
        logger.info(
            "%s: header found on row %d; %d row(s) above it skipped", file, header_pos + 1, header_pos
        )
        for pos in nonblank[nonblank < header_pos]:
            text = " ".join(str(c) for c in grid[pos] if c)
            notes.append(f"row {pos + 1} above the header read as a title, not data: '{text[:60]}'")
    headers = [str(h) for h in grid[header_pos]]
    last_header = header_pos
    below = nonblank[nonblank > header_pos]
    if below.size:
        joined = sub_header(headers, [str(c) for c in grid[below[0]]])
        if joined is not None:
            notes.append(f"rows {header_pos + 1}–{below[0] + 1} read as one two-level header "
                         f"({', '.join(h for h, o in zip(joined, headers, strict=True) if h != o)})")
            headers, last_header = joined, int(below[0])
    body_mask = ~blank
    body_mask[: last_header + 1] = False
    cells = grid[body_mask]
    if cells.shape[0] == 0:
        raise input_error(file, "file has a header but no data rows", row=header_pos + 1)
    keep_col = [bool(h) or bool((cells[:, j] != "").any()) for j, h in enumerate(headers)]
    names = clean_headers([h for h, k in zip(headers, keep_col, strict=True) if k])
    index = pd.Index(np.flatnonzero(body_mask) + 1, name="source_row")
    columns = zip(names, np.flatnonzero(keep_col), strict=True)
    body = pd.DataFrame({name: pd.Series(cells[:, j], index=index, dtype=str) for name, j in columns})
    n_blank = int(blank[last_header + 1 :].sum())
    if n_blank:
        logger.info("%s: %d blank row(s) skipped", file, n_blank)
    info: dict[str, Any] = {"header_row": last_header + 1, "n_blank": n_blank}
    if notes:
        info["header_notes"] = notes
    return body, info


def sub_header(top: list[str], row: list[str]) -> list[str] | None:
    """The joined header when ``row`` is the second row of a two-level header, else ``None``.

    A roster's header often spans two rows: 离退休时间 merged over 年 and 月, the other
    headers merged down both rows (filled down, or blank in a CSV export). ``row`` is a
    sub-header when each of its cells is blank, repeats the header above, or sits under a
    group — a header cell followed by blank header cells (the rest of a merged range), the
    group written again or not — and at least one group has sub-headers. A data row fails:
    its 姓名 cell holds a name under a header that is not a group.

    Returns
    -------
    list of str or None
        Headers ``离退休时间_年``, ``离退休时间_月`` for the grouped columns, the top
        header elsewhere.
    """
    width = max(len(top), len(row))
    top = top + [""] * (width - len(top))
    row = row + [""] * (width - len(row))
    parent = [""] * width
    for j in range(width):
        if top[j] == "" and j > 0:
            parent[j] = parent[j - 1]
        elif j + 1 < width and top[j] != "" and top[j + 1] == "":
            parent[j] = top[j]  # the first column of a merged group
    joined: list[str] = []
    grouped = 0
    for j in range(width):
        cell = row[j]
        if cell == "" or cell == top[j]:
            joined.append(top[j])
            continue
        if not parent[j] or len(cell) > 12 or cell.replace(".", "").isdigit():
            return None
        joined.append(f"{parent[j]}_{cell}")
        grouped += 1
    return joined if grouped else None


def cell_text(value: object) -> str:
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
