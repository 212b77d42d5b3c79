"""The p-median solved again and again on one instance, with sites locked open or banned.

The what-if's re-optimisation (:mod:`geo_planner.reoptimise`) asks a finished run's p-median
many times over, each time with a few candidate sites locked open or banned. What does not
depend on the locks is prepared once (:func:`prepare_p_median`): every member's cheapest
existing site (its *fallback*) and the candidate pairs cheaper than it — all a p-median can
gain from. On the 56,000-member city the 4.4 million stored pairs shrink to ~25,000.

A solve (:func:`solve_prepared`) then touches only those pairs, plus the full rows of the
members whose fallback site was banned, and hands to the same exact solver as
:func:`~geo_planner.siting.models.p_median.p_median` (``_choose``: the Lagrangian fixing, the
enumeration or branch and bound, the radius model) the instance ``p_median`` would reduce the
whole matrix to — one group per member instead of one per set of identical members, which
changes no optimum. The answer is therefore the same optimum, proven (``optimal``) or with
the solver's status and gap. Ties between an existing site and a new one at exactly the same
minutes assign the member to the existing site (``p_median`` takes the lower column).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ...inputs import check_cost, validate
from ...reduce import PairReduction, row_segment_sum
from ...result import SitingResult, SparseMatrix
from .model import _choose

logger = logging.getLogger(__name__)

__all__ = ["PreparedPMedian", "prepare_p_median", "solve_prepared"]


@dataclass(frozen=True, eq=False)
class PreparedPMedian:
    """A p-median instance with what every lock and ban leaves unchanged computed once.

    Attributes
    ----------
    cost
        ``(I, J)`` minutes, float64 CSR with sorted indices; stored entries are the allowed pairs.
    weights
        Member weights (``I``).
    existing
        Sites open before any new one (``J``, bool).
    col_max
        Largest stored minutes of each column (0 for an empty one): the unassigned penalty
        is ``10 × max(largest over the columns kept, 1)``, as in ``p_median``.
    fb_cost, fb_site
        Each member's cheapest existing site (minutes, ``inf`` when none; column, lowest on
        ties, ``-1``).
    pi, pj, pv
        The candidate pairs (member, column, minutes) cheaper than the member's fallback,
        sorted by member then column.
    """

    cost: sp.csr_array
    weights: np.ndarray
    existing: np.ndarray
    col_max: np.ndarray
    fb_cost: np.ndarray
    fb_site: np.ndarray
    pi: np.ndarray
    pj: np.ndarray
    pv: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(members, sites)``."""
        return (int(self.cost.shape[0]), int(self.cost.shape[1]))


def _row_min(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row the least value and its column (lowest on ties); ``inf`` / ``-1`` for a row without entries.

    The entries are in CSR order: ``rows`` non-decreasing, ``cols`` increasing within a row.
    """
    best, site = np.full(n_rows, np.inf), np.full(n_rows, -1, dtype=np.int64)
    if rows.shape[0] == 0:
        return best, site
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    mins = np.minimum.reduceat(vals, starts)
    seg = np.repeat(np.arange(starts.shape[0]), np.diff(np.r_[starts, rows.shape[0]]))
    hit = np.flatnonzero(vals == mins[seg])  # every row has one: its least value
    first = np.r_[True, seg[hit[1:]] != seg[hit[:-1]]]
    best[rows[starts]], site[rows[starts]] = mins, cols[hit[first]]
    return best, site


def _candidate_pairs(sub: sp.csr_array, rows: np.ndarray, existing: np.ndarray, keep: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For the members ``rows`` (``sub``: their rows): fallback over the kept existing sites, candidate pairs below it."""
    r = np.repeat(np.arange(rows.shape[0]), np.diff(sub.indptr))
    j = sub.indices.astype(np.int64)
    on = existing[j] & keep[j]
    fb, site = _row_min(r[on], j[on], sub.data[on], rows.shape[0])
    use = ~existing[j] & keep[j] & (sub.data < fb[r])
    return fb, site, rows[r[use]], j[use], sub.data[use]


def prepare_p_median(cost: SparseMatrix, weights: npt.ArrayLike | None, existing: npt.ArrayLike | None
                     ) -> PreparedPMedian:
    """Check the instance once and keep each member's fallback and the candidate pairs below it.

    Parameters
    ----------
    cost
        Sparse ``(I, J)`` travel minutes; stored entries (explicit zeros included) are the allowed pairs.
    weights
        Member weights, ``>= 0`` (``None``: all 1).
    existing
        Boolean mask of the ``J`` sites already open.

    Raises
    ------
    InputError
        Bad shapes, negative or non-finite minutes or weights (as ``p_median``).
    """
    chk = validate("p_median", cost, "cost", weights, existing, 0, None, 1.0, 0.0, 1)
    c = sp.csr_array(check_cost(chk.matrix, None))  # a float64 copy
    c.sort_indices()
    n_i, n_j = c.shape
    col_max = np.zeros(n_j)
    if c.nnz:
        np.maximum.at(col_max, c.indices, c.data)
    ex = chk.existing.astype(bool)
    fb, site, pi, pj, pv = _candidate_pairs(c, np.arange(n_i), ex, np.ones(n_j, dtype=bool))
    return PreparedPMedian(c, chk.weights, ex, col_max, fb, site, pi, pj.astype(np.int64), pv)


def solve_prepared(prep: PreparedPMedian, p: int, *, lock: np.ndarray, ban: np.ndarray, time_limit_s: float = 60.0,
                   mip_gap: float = 0.0, max_exact_size: int = 5_000_000) -> SitingResult:
    """Open ``p`` new sites besides the existing, the ``lock`` ones kept open and the ``ban`` ones left out.

    Parameters
    ----------
    prep
        The instance (:func:`prepare_p_median`).
    p
        New sites to open besides the existing and the locked ones (at most ``p`` are opened:
        a site no member would use is not).
    lock, ban
        Boolean masks over the ``J`` sites: opened whatever the model says (an existing one
        stays as it is) / left out (an existing one is closed). Not both at once.
    time_limit_s, mip_gap, max_exact_size
        As :func:`~geo_planner.siting.models.p_median.p_median`.

    Returns
    -------
    SitingResult
        As ``p_median`` on the matrix without the banned columns and with the locked sites
        existing, but with ``selected`` and ``existing`` as columns of the whole instance
        (``existing``: the sites open before the new ones, locked ones included).
    """
    t0 = time.perf_counter()
    n_i, n_j = prep.shape
    keep, locked = ~ban, lock & ~prep.existing & ~ban
    ex = (prep.existing & keep) | locked
    penalty = 10.0 * max(float(prep.col_max[keep].max(initial=0.0)), 1.0)
    fb, fb_site, pi, pj, pv = _after_bans(prep, keep)
    if locked.any():  # a locked site becomes a fallback where it is cheaper
        on = locked[pj]
        lk, lk_site = _row_min(pi[on], pj[on], pv[on], n_i)
        better = (lk < fb) | ((lk == fb) & (lk_site < fb_site))
        fb, fb_site = np.where(better, lk, fb), np.where(better, lk_site, fb_site)
    fallback = np.minimum(fb, penalty)
    use = ~locked[pj] & (pv < fallback[pi]) & (prep.weights[pi] > 0)
    active, pg = np.unique(pi[use], return_inverse=True)
    red = PairReduction(pg.ravel(), pj[use], pv[use], prep.weights[active], fallback[active], np.unique(pj[use]))
    notes = [f"prepared instance: {len(active)} members with a useful pair, {len(red.cand_cols)} useful candidate "
             f"sites, {len(red.pg)} candidate pairs (of {prep.cost.nnz} stored)"]
    chosen, method, status, gap = _choose(red, n_j, p, t0=t0, time_limit_s=time_limit_s, mip_gap=mip_gap,
                                          max_exact_size=max_exact_size, force_greedy=False,
                                          formulation="radius", notes=notes)
    selected = np.sort(chosen).astype(np.int64)
    member_site, minutes = _assign(prep, selected, fb, fb_site, pi, pj, pv)
    return _result(prep, keep, ex, selected, member_site, minutes, method, status, gap, notes, t0)


def _after_bans(prep: PreparedPMedian, keep: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fallbacks and candidate pairs without the banned sites (rows of members whose fallback was banned redone)."""
    fb, fb_site = prep.fb_cost.copy(), prep.fb_site.copy()
    ok = keep[prep.pj]
    pi, pj, pv = prep.pi[ok], prep.pj[ok], prep.pv[ok]
    lost = np.flatnonzero((fb_site >= 0) & ~keep[np.maximum(fb_site, 0)])
    if lost.shape[0] == 0:
        return fb, fb_site, pi, pj, pv
    fb_l, site_l, pi_l, pj_l, pv_l = _candidate_pairs(prep.cost[lost], lost, prep.existing, keep)
    fb[lost], fb_site[lost] = fb_l, site_l
    mine = np.zeros(fb.shape[0], dtype=bool)
    mine[lost] = True
    other = ~mine[pi]
    pi, pj, pv = (np.concatenate([pi[other], pi_l]), np.concatenate([pj[other], pj_l]),
                  np.concatenate([pv[other], pv_l]))
    order = np.lexsort((pj, pi))
    return fb, fb_site, pi[order], pj[order], pv[order]


def _assign(prep: PreparedPMedian, selected: np.ndarray, fb: np.ndarray, fb_site: np.ndarray, pi: np.ndarray,
            pj: np.ndarray, pv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each member's open site (fallback, or a new site strictly cheaper) and its minutes; ``-1`` / ``inf``."""
    is_new = np.zeros(prep.shape[1], dtype=bool)
    is_new[selected] = True
    on = is_new[pj]
    best, site = _row_min(pi[on], pj[on], pv[on], prep.shape[0])
    take = best < fb
    return np.where(take, site, fb_site), np.where(take, best, fb)


def _result(prep: PreparedPMedian, keep: np.ndarray, ex: np.ndarray, selected: np.ndarray,
            member_site: np.ndarray, minutes: np.ndarray, method: str, status: str, gap: float | None,
            notes: list[str], t0: float) -> SitingResult:
    """The :class:`SitingResult` of a prepared solve (objective: weighted minutes of the assigned)."""
    w = prep.weights
    assigned = member_site >= 0
    objective = float(np.einsum("i,i->", w[assigned], minutes[assigned]))
    n_pairs = np.diff(prep.cost.indptr)
    if not keep.all():  # members whose every pair is banned have no allowed site left
        n_pairs = n_pairs - row_segment_sum((~keep[prep.cost.indices]).astype(np.int64), prep.cost.indptr)
    has_pair = n_pairs > 0
    total_w, covered_w = float(w.sum()), float(w[assigned].sum())
    share = covered_w / total_w if total_w > 0 else 0.0
    message = (f"p_median ({method}, {status}): {len(selected)} new site(s), total weighted cost "
               f"{objective:.6g} min, assigned weight {covered_w:.6g} of {total_w:.6g} ({share:.1%}). "
               + "; ".join(notes))
    logger.info("%s", message)
    return SitingResult(model="p_median", method=method, status=status, selected=selected,  # type: ignore[arg-type]
                        objective=objective, covered_weight=covered_w, total_weight=total_w, coverage_share=share,
                        gap=gap, runtime_s=time.perf_counter() - t0, member_site=member_site, message=message,
                        coverable_weight=float(w[has_pair].sum()), existing=np.flatnonzero(ex).astype(np.int64))
