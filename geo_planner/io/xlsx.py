"""Reading one sheet of an Excel workbook (.xlsx) as rows of cell text.

Values of formulas are read as last saved; merged cells spanning rows are filled down; a
cover or notes sheet before the table is skipped.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from ..errors import InputError
from .aliases import header_score
from .grid import cell_text, input_error, rows_to_frame

_MERGE_REF = re.compile(rb'<mergeCell[^>]*\sref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
_CELL = re.compile(rb"<c\s([^>]*?)(/>|>(.*?)</c>)", re.S)
_CELL_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')


def _col_index(letters: bytes | str) -> int:
    """0-based column index of ``A``, ``Z``, ``AA`` and so on."""
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
    """Copy each merged range's top-left value into every cell of ranges spanning rows.

    Returns the number of cells filled.
    """
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


def read_xlsx(path: Path, sheet: str | None) -> tuple[list[list[str]], str, dict[str, Any]]:
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
        raise input_error(file, f"not a readable Excel workbook (.xlsx): {exc}") from None
    try:
        names = list(wb.sheetnames)
        if not names:
            raise input_error(file, "workbook has no sheets")
        if sheet is not None and sheet not in names:
            raise input_error(
                file, f"sheet '{sheet}' not found; the workbook has: {', '.join(names)}", field="sheet"
            )
        skipped: list[str] = []
        for name in [sheet] if sheet is not None else names:
            ws = wb[name]
            if hasattr(ws, "reset_dimensions"):
                ws.reset_dimensions()  # some writers store wrong dimensions; read what is there
            rows = [[cell_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
            merges, uncached = _sheet_xml_facts(ws)
            facts: dict[str, Any] = {"merged_filled": _fill_merged(rows, merges) if merges else 0,
                                     "uncached_formulas": uncached}
            if sheet is None and len(names) > 1:
                try:
                    frame, _extra = rows_to_frame(rows, f"{file} [{name}]")
                except InputError as exc:
                    skipped.append(f"'{name}' ({exc.problems[0].reason if exc.problems else exc})")
                    continue
                if header_score(frame.columns) < 2:  # a cover or notes sheet: no known headers
                    skipped.append(f"'{name}' (no known column headers)")
                    continue
            if skipped:
                facts["sheet_note"] = (f"sheet(s) {', '.join(skipped)} skipped; read sheet '{name}' "
                                       "(give the sheet to choose another)")
            return rows, name, facts
        raise input_error(
            file, f"no sheet holds a table with a header and data rows: {'; '.join(skipped)}; "
                  f"the workbook has: {', '.join(names)}", field="sheet")
    finally:
        wb.close()
