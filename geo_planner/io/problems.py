"""What the upload page needs of an input file besides importing it: its sheets, and its problem rows.

* :func:`list_sheets` — the worksheets of an XLSX workbook or the layers of a GeoPackage, so a
  planner can pick the one to import;
* :func:`column_choices` — each header of the file with the field the importer's own header match
  gives it (and a planner's remembered correction), for the page to show and correct;
* :func:`branch_matches` — the members whose branch was matched by a tolerant name (issue #19's review
  list): member, branch as written, branch matched, how and score;
* :func:`problem_rows` — the rows an import rejected or warned about, as the planner wrote them
  (every original column), each preceded by the row number, field, reason and action, to fix
  in Excel and upload again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from .aliases import IGNORE, layer_fields, match_columns, propose_columns
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


@dataclass(frozen=True)
class HeaderChoice:
    """One header of a file and its field.

    Attributes
    ----------
    header
        As written in the file.
    auto
        The field the alias table gives it (``None``: not recognised, kept as an extra column).
    field
        The field it gets with ``overrides`` applied (``None``: none, or ignored).
    """

    header: str
    auto: str | None
    field: str | None


def column_choices(
    path: Path | str, kind: str, *, sheet: str | None = None, encoding: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> tuple[list[HeaderChoice], list[str]]:
    """Each header of a file with its automatic field and its field after ``overrides``.

    The automatic field is the importer's own match (:func:`~geo_planner.io.aliases.propose_columns`);
    an override naming a header the file lacks is left out here (the import itself refuses it).

    Parameters
    ----------
    path
        The file.
    kind
        Layer the file holds.
    sheet, encoding
        The reading options of the import.
    overrides
        A column mapping to show (``{header: field or "ignore"}``), e.g. the one remembered for
        this layout.

    Returns
    -------
    choices : list of HeaderChoice
        One per header, in the file's order.
    fields : list of str
        The fields a header of this layer may be mapped to.

    Raises
    ------
    InputError
        If the file cannot be read (as :func:`~geo_planner.io.read_table`).
    """
    table, _info = read_table(path, sheet=sheet, encoding=encoding)
    proposed = propose_columns([str(c) for c in table.columns], kind)
    overrides = overrides or {}
    choices = []
    for header, auto in proposed.items():
        field = overrides.get(header, auto)
        choices.append(HeaderChoice(header, auto, None if field == IGNORE else field))
    return choices, list(layer_fields(kind))


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


#: Columns of :func:`branch_matches`, with their Chinese headers (the XLSX download).
BRANCH_MATCH_COLUMNS: Final[dict[str, str]] = {
    "row": "行号", "member_id": "编号", "member_name": "姓名", "branch_written": "花名册中的支部",
    "branch_matched": "匹配到的支部", "branch_id": "支部编号", "how": "匹配方式", "score": "得分",
}
#: How a branch was matched (the ``how`` column), zh and en.
MATCH_HOW: Final[dict[str, dict[str, str]]] = {
    "key": {"zh": "去掉地名前缀、干部/离退休、序数后相同", "en": "same name without region, 干部/离退休 and ordinals"},
    "fuzzy": {"zh": "相似度匹配", "en": "fuzzy match"},
}
_MATCHED = re.compile(r"^branch '(?P<written>.*)' matched '(?P<matched>.*)' \((?P<id>[^()]*)\) by "
                      r"(?P<how>its name with .*|a fuzzy match), score (?P<score>\d+); check it$", re.S)


def branch_matches(
    path: Path | str, problems: Iterable[Mapping[str, Any]], *, sheet: str | None = None,
    encoding: str | None = None, columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The members whose branch was matched by a tolerant name, for review.

    The import reports each such match as a warning (:func:`~geo_planner.io.roster.match_branch_names`);
    this lists them with the member's id and name read from the file's own row.

    Parameters
    ----------
    path
        The members file (as stored).
    problems
        The import's rejections and warnings (``row``, ``field``, ``value``, ``reason``, ``action``).
    sheet, encoding, columns
        The reading options and header corrections the import used.

    Returns
    -------
    pandas.DataFrame
        One row per matched member: :data:`BRANCH_MATCH_COLUMNS` (``how``: ``key`` or ``fuzzy``;
        ``score`` 0–100), in row order.
    """
    found = []
    for p in problems:
        m = _MATCHED.match(str(p.get("reason") or ""))
        if m is None or p.get("action") != "warning" or p.get("row") is None:
            continue
        found.append({"row": int(p["row"]), "branch_written": m["written"], "branch_matched": m["matched"],
                      "branch_id": m["id"], "how": "key" if m["how"].startswith("its name") else "fuzzy",
                      "score": int(m["score"])})
    out = pd.DataFrame(found, columns=["row", "branch_written", "branch_matched", "branch_id", "how", "score"])
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in BRANCH_MATCH_COLUMNS})
    table, _info = read_table(path, sheet=sheet, encoding=encoding)
    header = {canonical: h for h, canonical in match_columns(table.columns, "members", overrides=columns).items()}
    rows = table.reindex(out["row"].to_numpy())
    for canonical, col in (("id", "member_id"), ("name", "member_name")):
        out[col] = rows[header[canonical]].fillna("").to_numpy() if canonical in header else ""
    return out[list(BRANCH_MATCH_COLUMNS)].sort_values("row", kind="stable").reset_index(drop=True)
