"""Capacitated p-median: members assigned whole, within each site's capacity, at least cost.

Identical members (same sites, same minutes, same weight) are one group with an integer count
``k_g``; columns ``[x (pairs, integer) | u (groups: left unassigned) | y (candidates)]``::

    min Σ w_g c_gj x_gj + penalty Σ w_g u_g
    s.t. Σ_j x_gj + u_g = k_g,   Σ_g w_g x_gj ≤ cap_j y_j (cap_j for existing sites),
         x_gj ≤ k_g y_j (candidates),   Σ y_j ≤ p

The start (and, above ``max_exact_size``, the answer) chooses sites by greedy + interchange
ignoring capacity, then assigns members cheapest pair first while capacity remains.
:func:`~geo_planner.siting.models.p_median.model.p_median` comes here when given a ``capacity``.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

from ...heuristics import assign_cheapest_first, cheapest_open_site, greedy_interchange
from ...reduce import disaggregate, group_identical_rows, members_of_groups, pair_counts
from ...result import Method
from ..base import solve_highs, time_left

logger = logging.getLogger(__name__)

__all__ = ["capacitated_p_median"]


def _rows(pg: np.ndarray, pc: np.ndarray, wg: np.ndarray, kg: np.ndarray, ex: np.ndarray, cap: np.ndarray,
          cand_cols: np.ndarray, y_of: np.ndarray, n_j: int) -> tuple[sp.csr_array, np.ndarray, int]:
    """Constraint rows of the model above and the capacity rows' upper bounds; also ``len(cp)``."""
    n_g, n_p, n_y = len(kg), len(pg), len(cand_cols)
    n_var = n_p + n_g + n_y
    yo = n_p + n_g
    used_cols = np.unique(pc)
    r_assign = sp.coo_array(
        (np.ones(n_p + n_g), (np.concatenate([pg, np.arange(n_g)]),
                              np.concatenate([np.arange(n_p), n_p + np.arange(n_g)]))),
        shape=(n_g, n_var)).tocsr()
    is_c = ~ex[used_cols]
    row_of_col = np.full(n_j, -1, dtype=np.int64)
    row_of_col[used_cols] = np.arange(len(used_cols))
    r_cap = sp.coo_array(
        (np.concatenate([wg[pg], -cap[used_cols[is_c]]]),
         (np.concatenate([row_of_col[pc], row_of_col[used_cols[is_c]]]),
          np.concatenate([np.arange(n_p), yo + y_of[used_cols[is_c]]]))),
        shape=(len(used_cols), n_var)).tocsr()
    cap_up = np.where(is_c, 0.0, cap[used_cols])
    cp = np.flatnonzero(~ex[pc])
    r_link = sp.coo_array(
        (np.concatenate([np.ones(len(cp)), -kg[pg[cp]]]),
         (np.concatenate([np.arange(len(cp)), np.arange(len(cp))]), np.concatenate([cp, yo + y_of[pc[cp]]]))),
        shape=(len(cp), n_var)).tocsr()
    r_card = sp.csr_array((np.ones(n_y), yo + np.arange(n_y), [0, n_y]), shape=(1, n_var))
    return sp.vstack([r_assign, r_cap, r_link, r_card], format="csr"), cap_up, len(cp)


def _exact(a: sp.csr_array, group: np.ndarray, wg: np.ndarray, kg: np.ndarray, ex: np.ndarray,
           cap: np.ndarray, p: int, penalty: float, chosen: np.ndarray, local: np.ndarray, t0: float, time_limit_s: float,
           mip_gap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, float | None]:
    """Solve the MILP from the heuristic start; returns (local rows, their sites, chosen, status, gap)."""
    n_g, n_j = len(kg), a.shape[1]
    pg = np.repeat(np.arange(n_g), np.diff(a.indptr))
    pc = a.indices.astype(np.int64)
    pv = a.data
    n_p = a.nnz
    cand_cols = np.flatnonzero(~ex & (np.bincount(pc, minlength=n_j) > 0))
    y_of = np.full(n_j, -1, dtype=np.int64)
    y_of[cand_cols] = np.arange(len(cand_cols))
    n_y = len(cand_cols)
    yo = n_p + n_g
    mat, cap_up, n_link = _rows(pg, pc, wg, kg, ex, cap, cand_cols, y_of, n_j)
    x0 = pair_counts(a, group, local)
    u0 = kg - np.bincount(pg, weights=x0, minlength=n_g)
    y0 = np.zeros(n_y)
    y0[y_of[chosen]] = 1.0
    out = solve_highs(
        label="p_median (capacitated)",
        col_cost=np.concatenate([wg[pg] * pv, wg * penalty, np.zeros(n_y)]),
        col_lower=np.zeros(n_p + n_g + n_y), col_upper=np.concatenate([kg[pg], kg, np.ones(n_y)]),
        integer=np.concatenate([np.ones(n_p, np.int32), np.zeros(n_g, np.int32), np.ones(n_y, np.int32)]),
        a=mat,
        row_lower=np.concatenate([kg, np.full(mat.shape[0] - n_g, -np.inf)]),
        row_upper=np.concatenate([kg, cap_up, np.zeros(n_link), [p]]),
        maximize=False, time_limit_s=time_left(t0, time_limit_s), mip_gap=mip_gap,
        start=np.concatenate([x0, u0, y0]))
    assert out.x is not None
    order, start = members_of_groups(group, n_g)
    loc_rows, loc_cols = disaggregate(pg, pc, out.x[:n_p], order, start)
    return loc_rows, loc_cols, cand_cols[out.x[yo:] > 0.5], out.status, out.gap


def capacitated_p_median(
    c: sp.csr_array, sub: sp.csr_array, rows: np.ndarray, w: np.ndarray, ex: np.ndarray, cap: np.ndarray,
    p: int, penalty: float, notes: list[str], time_limit_s: float, mip_gap: float, max_exact_size: int,
    force_greedy: bool,
) -> tuple[np.ndarray, np.ndarray, Method, str, float | None]:
    """Capacitated p-median on checked inputs; returns (selected, member_site, method, status, gap).

    ``c`` is the whole cost matrix (columns without capacity dropped), ``sub`` its ``rows``
    (members with an allowed site and weight > 0).
    """
    t0 = time.perf_counter()
    n_i, n_j = c.shape
    wk = w[rows]
    group, rep = group_identical_rows(sub, with_values=True, extra=wk)
    n_g = len(rep)
    kg = np.bincount(group, minlength=n_g).astype(np.float64)
    wg = wk[rep]
    a = sub[rep]
    a.sort_indices()
    pg, pc, pv = np.repeat(np.arange(n_g), np.diff(a.indptr)), a.indices.astype(np.int64), a.data
    notes.append(f"capacitated: {n_g} member groups, {a.nnz} pairs")
    member_site = np.full(n_i, -1, dtype=np.int64)
    heuristic = force_greedy or a.nnz > max_exact_size
    # greedy + interchange ignoring capacity, then cheapest-pair-first assignment within capacity
    fallback = np.full(n_g, penalty)
    np.minimum.at(fallback, pg, np.where(ex[pc], pv, np.inf))
    cand = ~ex[pc]
    chosen = greedy_interchange(pg[cand], pc[cand], pv[cand], wg * kg, fallback, n_g, n_j, p,
                                time_limit_s if heuristic else min(0.1 * time_limit_s, 10.0))
    open_mask = ex.copy()
    open_mask[chosen] = True
    local = assign_cheapest_first(sub, wk, cap, open_mask)
    if heuristic:
        why = "requested" if force_greedy else f"{a.nnz} pairs > max_exact_size={max_exact_size}"
        notes.append(f"greedy + interchange heuristic used ({why}), sites chosen ignoring capacity, "
                     "then members assigned cheapest pair first while capacity remains; not proven optimal")
        logger.log(logging.INFO if force_greedy else logging.WARNING, "p_median: %s", notes[-1])
        ok = local >= 0
        member_site[rows[ok]] = local[ok]
        return np.sort(chosen).astype(np.int64), member_site, "greedy", "heuristic", None
    loc_rows, loc_cols, chosen, status, gap = _exact(a, group, wg, kg, ex, cap, p, penalty, chosen, local, t0,
                                                     time_limit_s, mip_gap)
    member_site[rows[loc_rows]] = loc_cols
    # members of zero weight: cheapest open site (they use no capacity)
    open_mask = ex.copy()
    open_mask[chosen] = True
    zero = (w == 0) & (np.diff(c.indptr) > 0)
    if zero.any():
        z = np.flatnonzero(zero)
        member_site[z] = cheapest_open_site(c[z], open_mask)
    return np.sort(chosen).astype(np.int64), member_site, "highs", status, gap
