"""Chinese writing conventions for what planners read: dates as ``2026年12月1日``.

Only the Chinese (``zh``) outputs use these; English outputs and machine-readable files
(``run.json``, CSV for programs) keep ISO dates. A value that is not a date is returned as it
was, so nothing a planner typed is lost or guessed at.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd

__all__ = ["date_zh", "dates_zh", "text_date_zh"]

#: ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY/MM/DD`` (an optional ``00:00:00`` time is allowed).
_ISO_DATE = re.compile(r"^\s*(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2}))?(?:[ T]00:00(?::00)?)?\s*$")


def date_zh(value: dt.date) -> str:
    """Write a date the Chinese way: ``2026年12月1日`` (no leading zeros).

    Parameters
    ----------
    value
        A ``date`` (or ``datetime``/``pandas.Timestamp``; the time of day is not shown).

    Returns
    -------
    str
    """
    return f"{value.year}年{value.month}月{value.day}日"


def text_date_zh(value: Any) -> Any:
    """A date written as text (``1948-10-05``, ``1948-10``) or a date object, in Chinese form.

    Parameters
    ----------
    value
        Anything from a table cell.

    Returns
    -------
    Any
        ``1948年10月5日`` / ``1948年10月`` for a valid date; any other value unchanged
        (already Chinese text, free text, an impossible date such as ``1948-13-01``, NaN).
    """
    if isinstance(value, dt.date | pd.Timestamp) and not pd.isna(value):
        return date_zh(value)
    if not isinstance(value, str):
        return value
    m = _ISO_DATE.match(value)
    if m is None:
        return value
    year, month = int(m.group(1)), int(m.group(2))
    try:
        if m.group(3) is None:
            dt.date(year, month, 1)
            return f"{year}年{month}月"
        return date_zh(dt.date(year, month, int(m.group(3))))
    except ValueError:
        return value


def dates_zh(series: pd.Series) -> pd.Series:
    """:func:`text_date_zh` over a column, computed once per distinct value.

    Parameters
    ----------
    series
        A column of dates as text or date objects (other values pass through).

    Returns
    -------
    pandas.Series
        Same index, ``object`` dtype.
    """
    text = series.astype("object")
    uniques = pd.unique(text.dropna())
    mapping = {u: text_date_zh(u) for u in uniques}
    return text.map(lambda v: mapping.get(v, v) if not pd.isna(v) else v)
