"""Parsing and checking the values of typed columns: 离退休类别, 年龄, 出生年月, 是否党员, 容量, branch.

Every parser is vectorised and runs on the distinct values of a column only
(:func:`on_uniques`): planners' columns repeat a few values.  A value that cannot be read
gives a warning naming the row and field; a member's branch is resolved by
:func:`geo_planner.io.roster.match_branch_names` (tolerantly; an unknown branch is a warning).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from .rejections import BoolArray, FloatArray, Issues
from .roster import match_branch_names

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

def on_uniques(series: pd.Series, func: Callable[[pd.Series], Any]) -> Any:
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



def _fold(series: pd.Series) -> pd.Series:
    """NFKC + lower case, for value lookups."""
    return series.str.normalize("NFKC").str.lower().str.strip()


def to_float(series: pd.Series) -> FloatArray:
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


def station_capacity(capacity_txt: pd.Series, field: str, issues: Issues) -> FloatArray:
    """Stations' 容量 as numbers (``60`` or ``60人``); an unreadable value is a warning and left empty."""
    capacity = to_float(capacity_txt.str.replace(r"人$", "", regex=True))
    bad = (capacity_txt != "").to_numpy() & ~(np.isfinite(capacity) & (capacity >= 0))
    issues.add(bad, field, capacity_txt, "capacity is not a number; left empty", "warning")
    return np.where(bad, np.nan, capacity)


def member_fields(
    values: dict[str, Any],
    col: Callable[[str], pd.Series],
    fld: Callable[[str], str],
    original: Mapping[str, str],
    issues: Issues,
    branches: pd.DataFrame | None,
    ref: dt.date,
) -> None:
    """Fill members' ``branch_id``, ``status``, ``age`` and ``is_party_member`` in ``values``.

    ``col(canonical)`` is the column's text (empty strings when the file lacks it),
    ``fld(canonical)`` the header to name in messages, ``original`` the canonical names
    present in the file, ``ref`` the date ages are computed at.
    """
    branch = col("branch")
    if branches is None:
        issues.add((branch == "").to_numpy(), fld("branch"), branch, "empty branch", "warning")
        values["branch_id"] = branch
    else:  # by id, name, name key, fuzzily; an unknown branch keeps the member without one
        values["branch_id"] = match_branch_names(branch, branches, fld("branch"), issues)
    values["status"] = _status(col("status"), fld("status"), "status" in original, issues)
    values["age"] = _age(col, fld, original, issues, ref)
    if "id_number" in original:
        values["id_number"] = id_numbers(col("id_number"), fld("id_number"), col("birth") if "birth" in original
                                         else None, fld("birth"), issues, ref)
    if "is_party_member" in original:
        values["is_party_member"] = _party(col("is_party_member"), fld("is_party_member"), issues)
    else:
        values["is_party_member"] = np.ones(len(branch), dtype=bool)


_ID_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK: Final = np.array(list("10X98765432"), dtype=object)


def mask_id_number(text: str) -> str:
    """An ID number as messages may show it: the first 6 and last 4 characters (360681********123X)."""
    return text[:6] + "*" * max(len(text) - 10, 0) + text[-4:] if len(text) > 10 else "*" * len(text)


def id_numbers(
    raw: pd.Series, field: str, birth: pd.Series | None, birth_field: str, issues: Issues, ref: dt.date
) -> pd.Series:
    """身份证号 checked (GB 11643-1999): 18 characters, the check digit, the birth date in it.

    Full-width forms and spaces are removed and a final ``x`` written ``X``. A number that
    is not 18 characters, whose check digit is wrong or whose birth date is not a date is a
    warning; so is a birth date that disagrees with 出生年月 (year and month). The number is
    kept as written (normalised) either way; messages show it masked.
    """
    text = raw.str.normalize("NFKC").str.replace(r"\s+", "", regex=True).str.upper()
    arr = text.to_numpy(dtype=object)
    n = len(arr)
    ok_shape = text.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    valid = np.zeros(n, dtype=bool)
    birth_ymd = np.full((n, 3), -1, dtype=np.int64)
    if ok_shape.any():
        digits = np.array([[ord(c) - 48 for c in s[:17]] for s in arr[ok_shape]], dtype=np.int64)
        check = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
        last = np.array([s[17] for s in arr[ok_shape]], dtype=object)
        ymd = np.column_stack([digits[:, 6:10] @ [1000, 100, 10, 1], digits[:, 10:12] @ [10, 1],
                               digits[:, 12:14] @ [10, 1]])
        dates = pd.to_datetime(pd.DataFrame({"year": ymd[:, 0], "month": ymd[:, 1], "day": ymd[:, 2]}),
                               errors="coerce")
        real = dates.notna().to_numpy() & (ymd[:, 0] >= 1880) & (dates <= pd.Timestamp(ref)).to_numpy()
        valid[ok_shape] = (check == last) & real
        birth_ymd[ok_shape] = np.where(real[:, None], ymd, -1)
    given = (text != "").to_numpy()

    def bad(m: BoolArray) -> list[str]:
        return [f"身份证号 '{mask_id_number(v)}' is not valid (18 characters with the GB 11643 check digit and a "
                "birth date expected); kept as written, check it" for v in arr[m]]

    issues.add(given & ~valid, field, text.map(mask_id_number), bad, "warning")
    if birth is not None:
        year, month = _birth_year_month(birth)
        mismatch = valid & ~np.isnan(year) & ((birth_ymd[:, 0] != year) | (~np.isnan(month) & (birth_ymd[:, 1] != month)))
        issues.add(mismatch, field, text.map(mask_id_number),
                   lambda m: [f"身份证号 gives the birth date {y:04d}-{mo:02d}-{d:02d}, {birth_field} says '{b}'; check both"
                              for (y, mo, d), b in zip(birth_ymd[m], birth[m], strict=True)], "warning")
    return text


def _birth_year_month(birth: pd.Series) -> tuple[FloatArray, FloatArray]:
    """Year and month written in 出生年月 (NaN where not readable or not written)."""
    text = birth.str.normalize("NFKC").str.strip()
    found = text.str.extract(r"^(?P<y>\d{4})\s*[-./年]?\s*(?P<m>\d{1,2})?")
    year = pd.to_numeric(found["y"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    month = pd.to_numeric(found["m"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    serial = pd.to_numeric(text.str.extract(r"^(\d{5})(?:\.0+)?$")[0], errors="coerce")
    is_serial = serial.notna().to_numpy() & (serial.fillna(0).to_numpy() < 80000)
    if is_serial.any():
        dates = _EXCEL_EPOCH + pd.to_timedelta(serial[is_serial].to_numpy(dtype=np.float64), unit="D")
        year[is_serial], month[is_serial] = dates.year, dates.month
    month = np.where((month >= 1) & (month <= 12), month, np.nan)
    return year, month


def _status(status_raw: pd.Series, field: str, given: bool, issues: Issues) -> pd.Series:
    """离退休类别 as ``lixiu``/``tuixiu`` (empty when unknown; a warning when the column is ``given``)."""
    status = pd.Series(
        on_uniques(status_raw, lambda u: _fold(u).map(dict(_STATUS_VALUES))), index=status_raw.index
    )
    if given:
        issues.add(
            status.isna().to_numpy(),
            field,
            status_raw,
            lambda m: [
                f"unknown 离退休类别 '{v}' (use 离休 or 退休); status left empty"
                if v
                else "empty 离退休类别 (use 离休 or 退休); status left empty"
                for v in status_raw[m]
            ],
            "warning",
        )
    return status.fillna("").astype(str)


def _age(
    col: Callable[[str], pd.Series],
    fld: Callable[[str], str],
    original: Mapping[str, str],
    issues: Issues,
    ref: dt.date,
) -> FloatArray:
    """Age in whole years from 年龄, else from 出生年月 at ``ref``; NaN when neither is readable."""
    age = np.full(len(col("age")), np.nan)
    if "age" in original:
        age, bad_age = on_uniques(col("age"), _parse_age)
        issues.add(
            bad_age, fld("age"), col("age"), lambda m: "cannot read age '" + col("age")[m] + "'", "warning"
        )
    if "birth" in original:
        birth_age, bad_birth = on_uniques(col("birth"), lambda u: _parse_birth(u, ref))
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
    return age


def _party(party_raw: pd.Series, field: str, issues: Issues) -> BoolArray:
    """是否党员 as booleans; an unreadable value is a warning and taken as a party member."""
    party = pd.Series(
        on_uniques(party_raw, lambda u: _fold(u).map(dict(_PARTY_VALUES))), index=party_raw.index
    )
    bad = party.isna().to_numpy() & (party_raw != "").to_numpy()
    issues.add(
        bad,
        field,
        party_raw,
        lambda m: "cannot read party membership '"
        + party_raw[m]
        + "' (use 是/否); taken as a party member",
        "warning",
    )
    flags = party.to_numpy(dtype=object)
    return np.where(party.isna().to_numpy(), True, flags).astype(bool)
