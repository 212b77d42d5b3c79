"""四就近 by function: which of study, activity, service and contribution each place serves.

The principle of 四就近 is that members can **study, take part in activities, get service and
contribute** close to home. A station's kind (类型) decides what it is for, through the scenario's
``[functions]`` mapping (kind word → functions; defaults in
:data:`geo_planner.vocab.DEFAULT_FUNCTION_KINDS`): a kind takes the entry it equals, else the
longest entry it contains (「桑榆红驿站」 contains 驿站 → ``activity``; 「贵溪市老年大学」 contains
老年大学 → ``study``). A place may serve several functions (``"老干部活动中心" = ["activity",
"study"]`` for a 活动中心 hosting 老年大学 classes). A kind no entry matches — or a blank kind —
counts as ``activity`` and is warned about in ``rejections.csv`` (file, row, field).

The stations table carries the result as its ``functions`` column (``study;activity``), so a
finished run's stations say what each served. Per member, each function that has at least one
place gets ``walk_min_<function>``, ``nearest_<function>_id`` (:func:`geo_planner.travel.nearest_by_function`)
and ``covered_<function>`` (within ``[thresholds.functions]``, default ``station_walk_min``); a
function without any place gets no columns at all. ``share_four_near`` is the share of members
covered for **every** function present.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .settings import Thresholds
from .vocab import FUNCTIONS, IMPRECISE_LOCATION, UNKNOWN_KIND_FUNCTION, StationFunction

log = logging.getLogger(__name__)

#: Column of the stations table listing the functions a station serves (``;``-separated).
FUNCTIONS_COLUMN = "functions"
#: Share of members covered for every function present (coverage tables).
FOUR_NEAR = "four_near"


def time_column(function: str) -> str:
    """``walk_min_<function>``: walking minutes to the nearest place of the function."""
    return f"walk_min_{function}"


def nearest_column(function: str) -> str:
    """``nearest_<function>_id``: id of the nearest place of the function."""
    return f"nearest_{function}_id"


def covered_column(function: str) -> str:
    """``covered_<function>``: the walk to the nearest place is within the function's threshold."""
    return f"covered_{function}"


def share_column(function: str) -> str:
    """``share_covered_<function>`` (or ``share_four_near``) of the coverage tables."""
    return "share_four_near" if function == FOUR_NEAR else f"share_covered_{function}"


def kind_functions(kind: str, kinds: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """The functions of one station kind: its own entry, else the longest entry it contains.

    Parameters
    ----------
    kind
        The station's 类型 as written (surrounding spaces ignored).
    kinds
        The ``[functions]`` mapping (kind word → functions).

    Returns
    -------
    tuple of str or None
        The functions in :data:`~geo_planner.vocab.FUNCTIONS` order, ``None`` when no entry matches.
    """
    text = str(kind).strip()
    if not text:
        return None
    entry = kinds.get(text)
    if entry is None:
        inside = [k for k in kinds if k and k in text]
        if not inside:
            return None
        entry = kinds[max(inside, key=len)]
    return tuple(f for f in FUNCTIONS if f in entry)


def station_functions(
    stations: pd.DataFrame, kinds: Mapping[str, Sequence[str]], *, file: str = "<stations>"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which functions each station serves, and a warning per station of an unknown kind.

    Parameters
    ----------
    stations
        The stations layer (``kind`` optional; ``source_row`` names the row in warnings).
    kinds
        The ``[functions]`` mapping (``Scenario.functions``).
    file
        The stations file, for the warnings.

    Returns
    -------
    (served, warnings)
        ``served``: boolean frame aligned with ``stations``, one column per function of
        :data:`~geo_planner.vocab.FUNCTIONS`; ``warnings``: rows of ``rejections.csv`` (file,
        row, field ``kind``, value, reason, action ``warning``) for kinds the mapping does not
        know, which count as ``activity``.
    """
    blank = pd.Series("", index=stations.index)
    kind = (stations["kind"] if "kind" in stations else blank).fillna("").astype(str)
    known = {k: kind_functions(k, kinds) for k in kind.unique()}  # a handful of distinct kinds
    fns = kind.map(lambda k: known[k] or (UNKNOWN_KIND_FUNCTION,))
    served = pd.DataFrame({f: fns.map(lambda t, f=f: f in t).astype(bool) for f in FUNCTIONS},
                          index=stations.index)
    unknown = kind.map(lambda k: known[k] is None).to_numpy(bool)
    rows = (stations["source_row"] if "source_row" in stations
            else pd.Series(np.arange(len(stations)) + 1, index=stations.index))
    reasons = [(f"station kind {k!r} is not in the [functions] mapping: counted as {UNKNOWN_KIND_FUNCTION} "
                f"(add it to [functions] to say what it serves)") if k else
               f"station has no kind (类型): counted as {UNKNOWN_KIND_FUNCTION}" for k in kind[unknown]]
    warn = pd.DataFrame({
        "file": file, "row": rows[unknown].astype(int).to_numpy(), "field": "kind",
        "value": kind[unknown].to_numpy(), "reason": reasons, "action": "warning",
    }, columns=["file", "row", "field", "value", "reason", "action"])
    if unknown.any():
        log.warning("%d station(s) of a kind the [functions] mapping does not know count as %s",
                    int(unknown.sum()), UNKNOWN_KIND_FUNCTION)
    return served, warn


def functions_text(served: pd.DataFrame) -> pd.Series:
    """The ``functions`` column of the stations table: ``study;activity`` per station."""
    cols = [f for f in FUNCTIONS if f in served]
    values = served[cols].to_numpy(bool)
    return pd.Series([";".join(c for c, on in zip(cols, row, strict=True) if on) for row in values],
                     index=served.index, dtype=object)


def served_from_text(text: pd.Series) -> pd.DataFrame:
    """The boolean frame of :func:`station_functions` from a stations table's ``functions`` column."""
    parts = text.fillna("").astype(str).str.split(";")
    return pd.DataFrame({f: parts.map(lambda p, f=f: f in p).astype(bool) for f in FUNCTIONS},
                        index=text.index)


def present_functions(columns: Iterable[str]) -> list[StationFunction]:
    """The functions with a time column among ``columns`` (those with at least one place), in order."""
    cols = set(columns)
    return [f for f in FUNCTIONS if time_column(f) in cols]


def function_coverage(members: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """``covered_<function>`` per function present: the walk is within its threshold (False without a time).

    Parameters
    ----------
    members
        With the ``walk_min_<function>`` columns of :func:`geo_planner.travel.nearest_by_function`.
    thresholds
        ``[thresholds.functions]`` (default ``station_walk_min``).

    Returns
    -------
    pandas.DataFrame
        Aligned with ``members``; no column for a function without a place.
    """
    out = pd.DataFrame(index=members.index)
    for f in present_functions(members.columns):
        t = pd.to_numeric(members[time_column(f)], errors="coerce")
        out[covered_column(f)] = (t <= thresholds.function_walk_min(f)).fillna(False).astype(bool)
    return out


def four_near(members: pd.DataFrame) -> np.ndarray | None:
    """Per member: covered for every function present (``None`` when no function has a place)."""
    cols = [covered_column(f) for f in present_functions(members.columns) if covered_column(f) in members]
    if not cols:
        return None
    return members[cols].astype(bool).to_numpy().all(axis=1)


def function_shares(
    df: pd.DataFrame, keys: list[str], precise: np.ndarray, n_precise: pd.Series
) -> list[pd.Series]:
    """``share_covered_<function>`` per function present and ``share_four_near``, per group of ``keys``.

    Shares are over the members with a precise enough location (``precise``; ``n_precise`` per group).
    """
    out: list[pd.Series] = []
    present = [f for f in present_functions(df.columns) if covered_column(f) in df]
    flags = {f: df[covered_column(f)].astype(bool).to_numpy() for f in present}
    all_four = four_near(df)
    if all_four is not None:
        flags[FOUR_NEAR] = all_four
    for f, flag in flags.items():
        hits = df.assign(_c=flag & precise).groupby(keys, sort=True, dropna=False)["_c"].sum()
        out.append((hits / n_precise.where(n_precise > 0)).round(4).rename(share_column(f)))
    return out


def function_counts(
    members: pd.DataFrame, served: pd.DataFrame | None, thresholds: Thresholds, unknown_kinds: int = 0
) -> dict[str, Any]:
    """``run.json`` ``counts.coverage.functions``: places, threshold and members covered per function.

    Shares are over the members with a precise enough location (``network_status`` not
    ``imprecise_location``), as in the coverage tables; a function without a place is listed
    with ``places: 0`` and no member figures.
    """
    precise = (members.get("network_status", pd.Series("", index=members.index)).astype(str)
               != IMPRECISE_LOCATION).to_numpy()
    n = int(precise.sum())
    out: dict[str, Any] = {"members_precise": n, "unknown_kinds": int(unknown_kinds)}
    for f in FUNCTIONS:
        places = int(served[f].sum()) if served is not None and f in served else 0
        rec: dict[str, Any] = {"places": places, "threshold_min": thresholds.function_walk_min(f)}
        if covered_column(f) in members:
            hit = int((members[covered_column(f)].astype(bool).to_numpy() & precise).sum())
            rec.update(covered=hit, share_covered=round(hit / n, 4) if n else None)
        out[f] = rec
    all_four = four_near(members)
    if all_four is not None:
        hit = int((all_four & precise).sum())
        out[FOUR_NEAR] = {"functions": present_functions(members.columns), "covered": hit,
                          "share_covered": round(hit / n, 4) if n else None}
    return out
