"""What the upload page needs of an input file besides importing it: its sheets, and its problem rows.

* :func:`list_sheets` — the worksheets of an XLSX workbook or the layers of a GeoPackage, so a
  planner can pick the one to import;
* :func:`problem_rows` — the rows an import rejected or warned about, as the planner wrote them
  (every original column), each preceded by the row number, field, reason and action, to fix
  in Excel and upload again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd

from .readers import read_table

#: Columns put before the original ones in the problem-rows table (Chinese, as planners read it).
PROBLEM_COLUMNS: Final[dict[str, str]] = {
    "row": "行号", "field": "问题字段", "value": "问题值", "reason": "问题原因", "action": "处理",
}


def list_sheets(path: Path | str) -> list[str]:
    """Worksheets (XLSX) or layers (GeoPackage) of a file, in order; ``[]`` for CSV and GeoJSON.

    The format is read from the bytes, not the name: ZIP → XLSX, SQLite → GeoPackage.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    list of str
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"PK"):
        from openpyxl import load_workbook

        with open(path, "rb") as fh:  # a handle: openpyxl judges a path by its extension
            wb = load_workbook(fh, read_only=True)
            try:
                return [str(s) for s in wb.sheetnames]
            finally:
                wb.close()
    if head.startswith(b"SQLite format 3"):
        import pyogrio

        return [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    return []


def problem_rows(
    path: Path | str, problems: Iterable[Mapping[str, Any]], *, sheet: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """The rows of ``path`` named by an import report, with what was wrong in front.

    Parameters
    ----------
    path
        The uploaded file (as stored).
    problems
        The report's rejections and warnings (``row``, ``field``, ``value``, ``reason``,
        ``action``); problems of the whole file (no row) come first, without original cells.
    sheet, encoding
        The reading options the import used.

    Returns
    -------
    pandas.DataFrame
        One row per problem (a row with two problems appears twice), columns
        :data:`PROBLEM_COLUMNS` then every column of the file as written; sorted by row.
    """
    table, _info = read_table(path, sheet=sheet, encoding=encoding)
    report = pd.DataFrame(list(problems), columns=list(PROBLEM_COLUMNS))
    rows = pd.to_numeric(report["row"], errors="coerce").astype("Int64")
    report = report.assign(row=rows).sort_values("row", na_position="first", kind="stable")
    original = table.reindex(report["row"].astype("float").to_numpy())
    original.index = report.index
    out = pd.concat([report.rename(columns=PROBLEM_COLUMNS), original], axis=1)
    return out.reset_index(drop=True)
