"""p-center: open ``p`` new sites so that the longest walk of any member who can be served is shortest.

The vertex p-center is solved exactly as a sequence of covering problems (binary search on
the radius, Minieka 1970): a radius ``r`` is *feasible* when ``p`` new sites plus the
existing ones can put every member who can be served within ``r`` minutes of an open site.
Each test is one maximal covering MILP (:func:`geo_planner.siting.models.mclp.mclp`, HiGHS) on
the sparse matrix cut at ``r``, so the model reuses the reductions and solver of the
covering models rather than a big-M formulation with a continuous radius.

*Who can be served*: only member–site pairs stored in the cost matrix exist (it is cut off,
e.g. at 3× the walking threshold). With ``p`` new sites not every member may be within the
cut-off of an open site; the served members are then the largest number ``K*`` that any
choice of ``p`` sites reaches within the cut-off (a maximal covering with unit weights), and
the p-center minimises the longest walk among ``K*`` served members (the p-center with
outliers). When everyone can be reached this is the classic p-center.

The candidate radii are the distinct stored minutes, so the answer is exact (not rounded);
the binary search needs ``log2(#distinct minutes)`` covering solves (about 15 on the demo).
A covering solve stopped by its time limit can prove a radius feasible (its incumbent
reaches ``K*``) but never infeasible; the result then says the radius is an upper bound.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ...errors import InputError, Problem
from ...settings import SitingSettings
from .base import SitingModel, StationData
from .mclp import mclp

log = logging.getLogger(__name__)

__all__ = ["PCenter", "PCenterResult", "p_center", "radius_of"]


@dataclass(frozen=True, eq=False)
class PCenterResult:
    """Immutable outcome of the p-center.

    Attributes
    ----------
    selected
        Sorted column indices of the new sites.
    radius_min
        The longest walk (minutes) of a served member to its nearest open site; ``nan`` when
        nobody can be served.
    served
        Number of members served (``K*``: the most any ``p`` new sites reach within the cut-off).
    n_members
        Number of members (rows).
    status
        ``"optimal"`` (radius proven minimal) or ``"time_limit"`` (a covering solve stopped
        early: the radius is feasible but maybe not minimal).
    solves
        Number of covering MILPs solved.
    runtime_s
        Wall-clock seconds.
    member_site
        Nearest open site of each member within the cut-off (``-1`` if none).
    member_minutes
        Minutes to that site (``inf`` if none).
    message
        Human-readable summary.
    """

    selected: np.ndarray
    radius_min: float
    served: int
    n_members: int
    status: str
    solves: int
    runtime_s: float
    member_site: np.ndarray
    member_minutes: np.ndarray
    message: str

    def __post_init__(self) -> None:
        for name in ("selected", "member_site", "member_minutes"):
            getattr(self, name).setflags(write=False)


def _nearest_open(cost: sp.csr_array, open_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest open site and its minutes per row; ties go to the lowest site index.

    Two segmented minima over the CSR rows (``np.minimum.reduceat``), O(stored pairs), no sort.
    """
    n = cost.shape[0]
    best = np.full(n, np.inf)
    site = np.full(n, -1, dtype=np.int64)
    counts = np.diff(cost.indptr)
    if cost.indices.size == 0:
        return site, best
    ok = open_mask[cost.indices]
    v = np.where(ok, cost.data, np.inf)
    rows = np.flatnonzero(counts)  # reduceat needs non-empty segments
    starts = cost.indptr[:-1][rows]
    best[rows] = np.minimum.reduceat(v, starts)
    at_best = ok & (v == np.repeat(best, counts))
    cand = np.where(at_best, cost.indices.astype(np.int64), np.int64(cost.shape[1]))
    low = np.minimum.reduceat(cand, starts)
    served = np.isfinite(best[rows])
    site[rows[served]] = low[served]
    return site, best


def radius_of(cost: sp.csr_array | sp.spmatrix, open_mask: npt.ArrayLike) -> tuple[float, int]:
    """Longest walk of a served member and the number served, for a given set of open sites.

    Parameters
    ----------
    cost
        Sparse ``(I, J)`` minutes; stored entries are the allowed pairs.
    open_mask
        Boolean mask of open sites, length ``J``.

    Returns
    -------
    (radius_min, served)
        ``nan`` radius when nobody is served.
    """
    _, best = _nearest_open(sp.csr_array(cost), np.asarray(open_mask, bool))
    return _radius_served(best)


def _radius_served(minutes: np.ndarray) -> tuple[float, int]:
    """Longest finite walk (``nan`` when none) and how many members have one."""
    fin = minutes[np.isfinite(minutes)]
    return (float(fin.max()) if fin.size else float("nan")), int(fin.size)


def p_center(
    cost: sp.csr_array | sp.spmatrix,
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    time_limit_s: float = 60.0,
    total_time_limit_s: float | None = None,
    max_exact_size: int = 5_000_000,
) -> PCenterResult:
    """Exact vertex p-center (with outliers beyond the cut-off) by binary search on the radius.

    Parameters
    ----------
    cost
        Sparse ``(I, J)`` travel minutes; the stored entries are the allowed pairs (explicit
        zeros count, as in :func:`geo_planner.siting.inputs.sparse_cost_matrix`).
    p
        Number of new sites (existing sites stay open and do not count).
    existing
        Boolean mask of length ``J`` of sites already open.
    time_limit_s
        HiGHS time limit of each covering solve, seconds.
    total_time_limit_s
        Stop the binary search once this many seconds have passed (``None``: no limit); the
        best feasible radius found so far is returned with status ``time_limit``.
    max_exact_size
        Passed to the covering model: above this many pairs it would be greedy, and the
        p-center then reports ``time_limit`` status (not proven).

    Returns
    -------
    PCenterResult

    Raises
    ------
    InputError
        If ``cost`` is not a sparse matrix, has negative or non-finite minutes, or ``p`` is
        negative or larger than the number of candidate sites.
    """
    t0 = time.perf_counter()
    c, ex = _checked(cost, p, existing)
    n_i = c.shape[0]
    best_sel, solves, proven = _search(c, p, ex, t0, time_limit_s, total_time_limit_s, max_exact_size)
    open_mask = ex.copy()
    open_mask[best_sel] = True
    site, minutes = _nearest_open(c, open_mask)
    radius, served = _radius_served(minutes)  # radius_of, from the pass just made
    status = "optimal" if proven else "time_limit"
    msg = (f"p_center ({status}): {best_sel.size} new site(s); longest walk of the {served} of {n_i} members "
           f"served {radius:.2f} min ({solves} covering solves)")
    if served < n_i:
        msg += f"; {n_i - served} member(s) are beyond the cut-off of every site {p} new sites can open"
    if not proven:
        msg += "; stopped by a time limit, so the radius is an upper bound, not proven minimal"
    log.info(msg)
    return PCenterResult(
        selected=np.sort(best_sel), radius_min=radius, served=served, n_members=n_i, status=status, solves=solves,
        runtime_s=time.perf_counter() - t0, member_site=site, member_minutes=minutes, message=msg,
    )


def _checked(cost: sp.csr_array | sp.spmatrix, p: int,
             existing: npt.ArrayLike | None) -> tuple[sp.csr_array, np.ndarray]:
    """The cost matrix as sorted CSR and the existing mask; raise on bad input."""
    if not sp.issparse(cost):
        raise InputError(Problem("p_center", None, "cost", "must be a scipy.sparse (members × sites) matrix"))
    c = sp.csr_array(cost, copy=True)
    c.sort_indices()
    n_j = c.shape[1]
    ex = np.zeros(n_j, bool) if existing is None else np.asarray(existing, bool).ravel()
    problems = []
    if ex.shape[0] != n_j:
        problems.append(Problem("p_center", None, "existing", f"length {ex.shape[0]} != {n_j} sites"))
    if c.data.size and (not np.all(np.isfinite(c.data)) or c.data.min() < 0):
        problems.append(Problem("p_center", None, "cost", "minutes must be finite and >= 0"))
    if p < 0 or p > int((~ex).sum()):
        problems.append(Problem("p_center", None, "p",
                                f"p = {p} must be between 0 and {int((~ex).sum())} candidates"))
    if problems:
        raise InputError(problems)
    return c, ex


def _search(c: sp.csr_array, p: int, ex: np.ndarray, t0: float, time_limit_s: float,
            total_time_limit_s: float | None, max_exact_size: int) -> tuple[np.ndarray, int, bool]:
    """Binary search on the distinct stored minutes; returns (new sites, covering solves, proven)."""
    n_i, n_j = c.shape
    _, d_existing = _nearest_open(c, ex)  # members an existing site covers at radius r need no new site
    solves = 0
    proven = True

    def solve(limit: float) -> tuple[float, np.ndarray]:
        """Most members coverable at radius ``limit`` with ``p`` new sites, and those sites."""
        nonlocal solves, proven
        solves += 1
        rows = np.flatnonzero(d_existing > limit)
        sub = c[rows]
        keep = sub.data <= limit
        if not keep.any():
            return float(n_i - rows.size), np.zeros(0, dtype=np.int64)
        indptr = np.r_[0, np.cumsum(keep)][sub.indptr]  # kept pairs before each row's start
        cover = sp.csr_array((np.ones(int(keep.sum())), sub.indices[keep], indptr), shape=(rows.size, n_j))
        res = mclp(cover, np.ones(rows.size), p, existing=ex, time_limit_s=time_limit_s,
                   max_exact_size=max_exact_size)
        if res.status != "optimal":
            proven = False
        return n_i - rows.size + float(res.covered_weight), np.asarray(res.selected, dtype=np.int64)

    radii = np.unique(c.data)
    if radii.size == 0:
        return np.zeros(0, dtype=np.int64), solves, proven
    covered, best_sel = solve(float(radii[-1]))
    target = int(round(covered))
    lo, hi = 0, radii.size - 1  # radii[hi] is feasible
    while lo < hi:
        if total_time_limit_s is not None and time.perf_counter() - t0 > total_time_limit_s:
            proven = False
            break
        mid = (lo + hi) // 2
        covered, sel = solve(float(radii[mid]))
        if covered >= target - 1e-9:
            hi, best_sel = mid, sel
        else:
            lo = mid + 1
    return best_sel, solves, proven


class PCenter(SitingModel):
    """p-center in the decision stage: ``p = new_stations`` (at most the candidates).

    It reads the cost matrix; ``time_limit_s`` bounds the whole binary search, a quarter of it
    (at most ``settings.time_limit_s``) each covering solve.
    """

    name = "p_center"
    label_zh = "p-中心"
    label_en = "p-center"
    kind = "center"
    needs_cost_matrix = True
    in_station_plan = False

    def options(self, settings: SitingSettings) -> dict[str, Any]:
        """``p`` and ``max_exact_size`` from the settings."""
        return {"p": settings.new_stations, "max_exact_size": settings.max_exact_size}

    def solve(self, data: StationData, settings: SitingSettings, *, time_limit_s: float) -> PCenterResult:
        """Run :func:`p_center` on ``data.cost`` (weights are not used: every member counts once)."""
        if data.cost is None:
            raise InputError(Problem("p_center", None, "cost", "the p-center needs a travel-minutes matrix"))
        n_j = data.cost.shape[1]
        n_cand = n_j if data.existing is None else int((~np.asarray(data.existing, bool)).sum())
        opts = self.options(settings)
        return p_center(data.cost, min(opts["p"], n_cand), existing=data.existing,
                        time_limit_s=max(0.05, min(settings.time_limit_s, time_limit_s / 4)),
                        total_time_limit_s=time_limit_s, max_exact_size=opts["max_exact_size"])
