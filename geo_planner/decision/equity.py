"""Equity of access: how evenly members' walks to the nearest station are shared out.

A coverage share says how many members are inside the 15-minute circle; it does not say
how far the others are, nor whether the walks are shared fairly. For any set of
member walk times (the current stations, or the stations after one model's new sites)
this module gives:

``gini``
    Gini coefficient of the finite walk minutes (0 = everyone walks equally long, 1 = one
    member has all the walking). Members the network does not connect to any station have
    no finite time and are left out of the Gini, but counted in ``n_unreachable``.
``share_beyond``
    Share of members whose walk is longer than the threshold, unreachable members included.
``p90_min``
    90th percentile of the walk minutes, unreachable members counted as infinitely far
    (``None`` when more than 10 % are unreachable: the percentile is then not a number).
``mean_min``, ``max_min``
    Over the finite times.

The run computes them over the members the station models consider (on the network, not
remote: a station plan of this city does not change a remote member's walk); members without
any time (off the network, no location) and remote members are counted by the coverage tables.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..coverage import UNASSIGNED_AREA
from ..privacy import MIN_GROUP

log = logging.getLogger(__name__)

__all__ = ["EQUITY_FIELDS", "equity_by_area", "equity_figures", "gini"]

#: Keys of :func:`equity_figures` (and suffixes of the ``coverage_by_area`` columns).
EQUITY_FIELDS: tuple[str, ...] = ("n", "n_unreachable", "gini", "share_beyond", "p90_min", "mean_min", "max_min")


def gini(values: npt.ArrayLike) -> float:
    """Gini coefficient of non-negative values (NaN for an empty array, 0 when all are 0).

    Parameters
    ----------
    values
        Finite, non-negative numbers (e.g. walk minutes).

    Returns
    -------
    float
        ``sum_i sum_j |x_i - x_j| / (2 n^2 mean)``, computed in ``O(n log n)`` from the sorted values.

    Raises
    ------
    ValueError
        If a value is negative or not finite.
    """
    x = np.sort(np.asarray(values, dtype=float).ravel())
    if x.size == 0:
        return float("nan")
    if not np.all(np.isfinite(x)) or x[0] < 0:
        raise ValueError("gini needs finite, non-negative values")
    total = x.sum()
    if total <= 0:
        return 0.0
    n = x.size
    rank = np.arange(1, n + 1)
    return float((2.0 * np.sum(rank * x)) / (n * total) - (n + 1.0) / n)


def equity_figures(minutes: npt.ArrayLike, threshold_min: float) -> dict[str, Any]:
    """Equity figures of a set of walk times.

    Parameters
    ----------
    minutes
        Walk minutes, one per member of the population; ``inf`` or ``NaN`` = unreachable.
    threshold_min
        The coverage threshold (e.g. 15).

    Returns
    -------
    dict
        The keys of :data:`EQUITY_FIELDS`; figures rounded to 4 decimals (minutes to 2);
        ``None`` where a figure is undefined (no member, p90 among unreachable members).
    """
    t = np.asarray(minutes, dtype=float).ravel()
    t = np.where(np.isnan(t), np.inf, t)
    n = int(t.size)
    fin = t[np.isfinite(t)]
    out: dict[str, Any] = {"n": n, "n_unreachable": int(n - fin.size)}
    if n == 0:
        return {**out, "gini": None, "share_beyond": None, "p90_min": None, "mean_min": None, "max_min": None}
    p90 = float(np.percentile(t, 90, method="inverted_cdf"))
    out["gini"] = round(gini(fin), 4) if fin.size else None
    out["share_beyond"] = round(float(np.mean(~(t <= threshold_min))), 4)
    out["p90_min"] = round(p90, 2) if np.isfinite(p90) else None
    out["mean_min"] = round(float(fin.mean()), 2) if fin.size else None
    out["max_min"] = round(float(fin.max()), 2) if fin.size else None
    return out


def equity_by_area(
    members: pd.DataFrame,
    minutes: dict[str, npt.ArrayLike],
    threshold_min: float,
    *,
    population: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Equity figures per 街道/乡镇 and 社区/村, for several sets of walk times.

    Parameters
    ----------
    members
        With ``township`` and ``community`` (as in ``coverage.summarize_by_area``).
    minutes
        ``{"current": times, "mclp": times, …}``: walk minutes aligned with ``members``.
    threshold_min
        Coverage threshold, minutes.
    population
        Boolean mask of the members the figures are about (default: all); others are ignored.

    Returns
    -------
    pandas.DataFrame
        ``level``, ``area``, ``township`` (the keys of ``coverage_by_area``) and for each
        name in ``minutes`` the columns ``{name}_gini``, ``{name}_share_beyond`` and
        ``{name}_p90_min`` — empty where the area has fewer than ``privacy.MIN_GROUP`` such
        members (no statistic of so few people).
    """
    pop = np.ones(len(members), bool) if population is None else np.asarray(population, bool)
    twp = members["township"].fillna("").astype(str).replace("", UNASSIGNED_AREA).to_numpy()
    com = members["community"].fillna("").astype(str).replace("", UNASSIGNED_AREA).to_numpy()
    rows: list[dict[str, Any]] = []
    for level, keys in (("township", [twp]), ("community", [twp, com])):
        frame = pd.DataFrame({"township": twp, "area": keys[-1], "i": np.arange(len(members))})[pop]
        for (township, area), grp in frame.groupby(["township", "area"], sort=True):
            row: dict[str, Any] = {"level": level, "area": area, "township": township}
            idx = grp["i"].to_numpy()
            for name, values in minutes.items():
                # no statistic of fewer than MIN_GROUP people (privacy, and a Gini of 3 walks means little)
                fig = (equity_figures(np.asarray(values, float)[idx], threshold_min) if len(idx) >= MIN_GROUP
                       else {"gini": np.nan, "share_beyond": np.nan, "p90_min": np.nan})
                row[f"{name}_gini"] = fig["gini"]
                row[f"{name}_share_beyond"] = fig["share_beyond"]
                row[f"{name}_p90_min"] = fig["p90_min"]
            rows.append(row)
    return pd.DataFrame(rows)
