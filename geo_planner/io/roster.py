"""Rosters (花名册) as a 老干部局 keeps them: ditto cells, footers, and branches written by name.

A planner's members table is laid out for printing and typed by people: a cell says ``同上``
(as the row above), the bottom holds a 合计 row and a 填表人 / 审核人 / 填表日期 footer, and the
branch is written the short way (「财政局离退休党支部」 for 「贵溪市财政局离退休干部党支部」). A row
that is a person is never dropped for any of that:

* :func:`fill_ditto` takes the value of the row above for ``同上`` / ``同前`` / ``〃``, with a
  warning naming both rows;
* :func:`footer_rows` recognises 合计 / 小计 rows and footers (填表人, 审核人, 填表日期, 注：…),
  which are reported as what they are, never as members nor as rejected persons;
* :func:`match_branch_names` resolves a member's branch by id, exact name, then by name with
  the region prefix, 干部 / 离退休 / 退休, ordinals (第一 / 一 / 1), width and spaces ignored,
  then fuzzily (rapidfuzz); every match that is not exact is a warning with what it matched
  and its score, and a branch that matches nothing leaves the member without a branch
  (``branch_id = ""``; the run calls it ``branch_status = unknown_branch``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .rejections import BoolArray, Issues

__all__ = [
    "BRANCH_FUZZY_MIN",
    "DITTO_MARKS",
    "FOOTER_ACTION",
    "branch_key",
    "fill_ditto",
    "footer_rows",
    "match_branch_names",
]

#: Cell texts that mean "as the row above".
DITTO_MARKS: Final[frozenset[str]] = frozenset({"同上", "同前", "〃", "仝上", "同 上"})
#: ``action`` of a rejections line about a row that is not a person (合计, footer, sub-header).
FOOTER_ACTION: Final = "not_a_member"
#: Least rapidfuzz ratio (0–100) of two branch keys for a fuzzy match.
BRANCH_FUZZY_MIN: Final = 85.0
#: A fuzzy match must beat the second-best branch by this many points (else it is ambiguous).
_BRANCH_FUZZY_MARGIN: Final = 5.0

_TOTAL = re.compile(r"^(合\s*计|小\s*计|总\s*计|共\s*计)")
_FOOTER = re.compile(r"^(填\s*表\s*人|审\s*核\s*人|制\s*表\s*人|负\s*责\s*人|填\s*表\s*日\s*期|填\s*报\s*日\s*期|"
                     r"制\s*表\s*日\s*期|填\s*报\s*单\s*位|单\s*位\s*负\s*责\s*人|联\s*系\s*人|"
                     r"注\s*[:：]|备\s*注\s*[:：]|说\s*明\s*[:：])")
_SPACES = re.compile(r"[\s\u3000]+")
_PUNCT = re.compile(r"[()\[\]{}<>【】《》〈〉「」『』\"'`/\\|、,，.。·:：;；*＊_\-—~～#＃]+")
_WORDS = re.compile(r"中共|中国共产党|离退休|离休|退休|干部|人员|老同志")
_CN_DIGITS: Final = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
                     "八": 8, "九": 9}
_ORDINAL = re.compile(r"第?([一二三四五六七八九十两〇零]+|\d+)(?=(党)?(总支|支部|党小组|小组|分会))")


def _cn_number(text: str) -> int:
    """Value of a Chinese numeral up to 99 (一, 十, 十二, 二十三) or of Arabic digits."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    value = 0
    for ch in text:
        value = value * 10 + _CN_DIGITS.get(ch, 0)
    return value


@lru_cache(maxsize=1)
def _region_names() -> frozenset[str]:
    """Province, city and county names (full and without their suffix)."""
    from ..admin import load_divisions

    names: set[str] = set()
    div = load_divisions()
    if div is not None:
        for col in (div.province, div.city, div.county):
            names.update(str(v) for v in col if v)
    short = {re.sub(r"(省|市|自治区|自治州|地区|盟|区|县|旗)$", "", n) for n in names}
    names |= {s for s in short if len(s) >= 2}
    return frozenset(names)


@lru_cache(maxsize=1)
def _longest_region() -> int:
    return max((len(n) for n in _region_names()), default=0)


def _strip_region(text: str) -> str:
    """``text`` without leading region names (longest first; at least two characters left)."""
    names = _region_names()
    longest = _longest_region()
    changed = True
    while changed and text:
        changed = False
        for size in range(min(longest, len(text) - 2), 1, -1):
            if text[:size] in names:
                text = text[size:]
                changed = True
                break
    return text


def branch_key(name: str) -> str:
    """The comparable core of a branch name.

    Full/half width and spaces, a leading 中共 and region names (province, city, county, with
    or without 省/市/县/区), the words 离退休 / 离休 / 退休 / 干部 / 人员, 党 before 支部, and the
    form of an ordinal (第一 = 一 = 1) are ignored:
    ``贵溪市财政局离退休干部党支部`` and ``财政局离退休党支部`` share the key ``财政局支部``.

    Parameters
    ----------
    name
        A branch name as written.

    Returns
    -------
    str
        The key ("" for an empty name).
    """
    text = unicodedata.normalize("NFKC", str(name))
    text = _PUNCT.sub("", _SPACES.sub("", text))
    text = _strip_region(re.sub(r"^(中共|中国共产党)", "", text))
    text = _WORDS.sub("", text)
    text = _ORDINAL.sub(lambda m: str(_cn_number(m.group(1))), text)
    return text.replace("党支部", "支部").replace("党总支", "总支")


def fill_ditto(raw: pd.DataFrame, issues: Issues, columns: list[str] | None = None) -> pd.DataFrame:
    """Replace ``同上`` / ``同前`` / ``〃`` cells by the value of the row above (a warning naming it).

    Chains (``同上`` under ``同上``) take the last written value; a ditto cell in the first
    data row has nothing above it and is left empty, with a warning.

    Parameters
    ----------
    raw
        The table's text cells, indexed by spreadsheet row (as :func:`read_table` returns).
    issues
        Where the warnings go.
    columns
        Columns to fill (all when ``None``).

    Returns
    -------
    pandas.DataFrame
        A copy with the ditto cells filled.
    """
    out = raw.copy()
    rows = raw.index.to_numpy()
    for col in columns if columns is not None else list(raw.columns):
        cells = raw[col].astype(str)
        mask = cells.isin(DITTO_MARKS).to_numpy()  # cells arrive stripped; 同 上 is in the set
        if not mask.any():
            continue
        source_row = pd.Series(np.where(mask, np.nan, rows.astype(float)), index=raw.index).ffill()
        filled = cells.mask(mask).ffill().fillna("")
        out[col] = filled.to_numpy()
        has_above = mask & source_row.notna().to_numpy()
        src = source_row.to_numpy()
        issues.add(has_above, col, cells,
                   lambda m, col=col, src=src, filled=filled: [
                       f"'{v}' in {col}: took the value of row {int(r)} above ('{f}')"
                       for v, r, f in zip(cells[m], src[m], filled[m], strict=True)],
                   "warning")
        issues.add(mask & ~has_above, col, cells, f"'同上' in {col} with no row above it: left empty", "warning")
    return out


def footer_rows(raw: pd.DataFrame) -> tuple[BoolArray, NDArray[np.object_]]:
    """Rows that are a 合计 / 小计 total or a footer (填表人, 审核人, 填表日期, 注：…), not a person.

    A row is a total when its first non-empty cell starts with 合计 / 小计 / 总计 / 共计, and a
    footer when that cell starts with a footer word; rows after the first footer that hold
    no more than two cells are footer lines too (a signature block spread over cells).

    Returns
    -------
    (mask, kind)
        ``mask`` marks those rows; ``kind`` is ``"total"``, ``"footer"`` or ``""`` per row.
    """
    grid = raw.astype(str).to_numpy(dtype=object)
    n = grid.shape[0]
    kind = np.full(n, "", dtype=object)
    if n == 0 or grid.shape[1] == 0:
        return np.zeros(n, dtype=bool), kind
    filled = grid != ""
    n_cells = filled.sum(axis=1)
    first = pd.Series(grid[np.arange(n), filled.argmax(axis=1)], dtype=str)  # first non-empty cell
    kind[first.str.match(_TOTAL.pattern).to_numpy(dtype=bool)] = "total"
    footer = first.str.match(_FOOTER.pattern).to_numpy(dtype=bool, copy=True)
    if grid.shape[1] > 1:  # a footer word in one of the first cells of a short row (填表人 in column B)
        for j in range(1, min(3, grid.shape[1])):
            cell = pd.Series(grid[:, j], dtype=str)
            footer |= cell.str.match(_FOOTER.pattern).to_numpy(dtype=bool) & (n_cells <= 3)
    footer &= kind == ""
    kind[footer] = "footer"
    if footer.any():  # short rows after the first footer line belong to the footer (signatures, dates)
        after = np.arange(n) > np.flatnonzero(footer)[0]
        kind[after & (kind == "") & (n_cells <= 2) & (n_cells > 0)] = "footer"
    return kind != "", kind


def report_footers(raw: pd.DataFrame, mask: BoolArray, kind: NDArray[np.object_], file: str) -> pd.DataFrame:
    """One rejections line per total/footer row: ``action`` :data:`FOOTER_ACTION`, the row's text."""
    from .rejections import REJECTION_COLUMNS

    pos = np.flatnonzero(mask)
    grid = raw.astype(str).to_numpy(dtype=object)
    lines = []
    for p in pos:
        text = " ".join(str(c) for c in grid[p] if c != "")
        what = "a 合计/小计 row (a total)" if kind[p] == "total" else "a footer (填表人/审核人/填表日期/注)"
        lines.append({"file": file, "row": int(raw.index[p]), "field": "", "value": text[:80],
                      "reason": f"{what}: not a member, not counted", "action": FOOTER_ACTION})
    out = pd.DataFrame(lines, columns=list(REJECTION_COLUMNS))
    out["row"] = out["row"].astype("Int64")
    return out


def match_branch_names(
    branch: pd.Series, branches: pd.DataFrame, field: str, issues: Issues
) -> pd.Series:
    """Branch ids of members' branch cells: by id, exact name, name key, then fuzzily.

    Parameters
    ----------
    branch
        The members' branch cells (ids or names).
    branches
        Accepted branches with ``id`` and (optionally) ``name``.
    field
        The header to name in messages.
    issues
        Where the warnings go: every match by key or fuzzily (what it matched, its score),
        every unknown, empty or ambiguous branch (the member is kept without a branch).

    Returns
    -------
    pandas.Series
        Branch ids aligned with ``branch``; ``""`` where none is known.
    """
    from rapidfuzz import fuzz, process

    b_ids = branches["id"].astype(str).to_numpy()
    b_names = (branches["name"].astype(str).to_numpy() if "name" in branches.columns
               else np.full(len(b_ids), "", dtype=object))
    id_set = set(b_ids.tolist())
    name_count = pd.Series(b_names[b_names != ""]).value_counts()
    exact = {n: i for n, i in zip(b_names, b_ids, strict=True) if n and name_count.get(n, 0) == 1}
    keys = np.array([branch_key(n) if n else "" for n in b_names], dtype=object)
    key_ids: dict[str, list[str]] = {}
    for k, i in zip(keys, b_ids, strict=True):
        if k:
            key_ids.setdefault(k, []).append(i)
    key_list = [k for k in key_ids]

    results: dict[str, tuple[str, str, float, str]] = {}  # value → (id, how, score, matched name)
    for value in pd.unique(branch[branch != ""]):
        if value in id_set:
            results[value] = (value, "id", 100.0, value)
        elif value in exact:
            results[value] = (exact[value], "name", 100.0, value)
        elif name_count.get(value, 0) > 1:
            results[value] = ("", "ambiguous", 100.0, value)
        else:
            results[value] = _by_key(value, key_ids, key_list, b_ids, b_names, fuzz, process)
    how = branch.map(lambda v: results[v][1] if v in results else "empty")
    out = branch.map(lambda v: results[v][0] if v in results else "").astype(str)

    def describe(m: BoolArray) -> list[str]:
        texts = []
        for v in branch[m]:
            bid, kind, score, name = results[v]
            label = "its name with the region, 干部/离退休 and ordinals ignored" if kind == "key" else "a fuzzy match"
            texts.append(f"branch '{v}' matched '{name}' ({bid}) by {label}, score {score:.0f}; check it")
        return texts

    issues.add(how.isin(["key", "fuzzy"]).to_numpy(), field, branch, describe, "warning")
    kept = "; the member is kept without a branch (branch_status = unknown_branch), counted for stations and hospitals"
    issues.add((how == "unknown").to_numpy(), field, branch,
               lambda m: "unknown branch '" + branch[m] + "'" + kept, "warning")
    issues.add((how == "ambiguous").to_numpy(), field, branch,
               lambda m: "branch name '" + branch[m] + "' is shared by several branches (use the branch id)" + kept,
               "warning")
    issues.add((how == "empty").to_numpy(), field, branch, "empty branch" + kept, "warning")
    return out


def _by_key(value: str, key_ids: dict[str, list[str]], key_list: list[str], b_ids: NDArray[np.object_],
            b_names: NDArray[np.object_], fuzz: object, process: object) -> tuple[str, str, float, str]:
    """Match one branch text by its key, else fuzzily among the keys; ``("", "unknown", …)`` if neither."""
    key = branch_key(value)
    name_of = dict(zip(b_ids, b_names, strict=True))
    if key in key_ids:
        ids = key_ids[key]
        if len(ids) == 1:
            return ids[0], "key", 100.0, str(name_of[ids[0]])
        return "", "ambiguous", 100.0, value
    if not key or not key_list:
        return "", "unknown", 0.0, ""
    best = process.extract(key, key_list, scorer=fuzz.ratio, limit=2)  # type: ignore[attr-defined]
    if not best or best[0][1] < BRANCH_FUZZY_MIN:
        return "", "unknown", float(best[0][1]) if best else 0.0, ""
    if len(best) > 1 and best[0][1] - best[1][1] < _BRANCH_FUZZY_MARGIN:
        return "", "unknown", float(best[0][1]), ""
    ids = key_ids[best[0][0]]
    if len(ids) > 1:
        return "", "ambiguous", float(best[0][1]), value
    return ids[0], "fuzzy", float(best[0][1]), str(name_of[ids[0]])
