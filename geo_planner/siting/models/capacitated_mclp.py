"""Capacitated MCLP: each member served whole by one covering open site, within its capacity.

Identical members (same sites, same weight) are one group with an integer count ``k_g``;
columns are the member-group × site pairs ``x_gj`` (integer, how many of the group that site
serves) and the candidates ``y_j``::

    max Σ w_g x_gj   s.t.  Σ_j x_gj ≤ k_g,   Σ_g w_g x_gj ≤ cap_j y_j (cap_j for existing sites),
                           x_gj ≤ k_g y_j (candidates),   Σ y_j ≤ p

HiGHS starts from the greedy capacitated cover, which answers alone above ``max_exact_size``.
:func:`~geo_planner.siting.models.mclp.mclp` comes here when given a ``capacity``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..heuristics import first_open_site, greedy_capacitated_cover
from ..reduce import disaggregate, group_identical_rows, members_of_groups, pair_counts
from ..result import Method, SitingResult
from .base import limit_note, solve_highs, time_left

logger = logging.getLogger(__name__)

__all__ = ["run_capacitated_mclp"]


@dataclass(frozen=True, eq=False)
class _Groups:
    keep_rows: np.ndarray   # member rows in the model
    col_used: np.ndarray    # site columns in the model (cover someone, capacity > 0)
    sub: sp.csr_array       # keep_rows × col_used pattern
    group: np.ndarray       # group of each kept row
    a: sp.csr_array         # groups × col_used pattern
    kg: np.ndarray          # members per group
    wg: np.ndarray          # weight of one member of the group


def _groups(cov: sp.csr_array, w: np.ndarray, cap: np.ndarray, row_len: np.ndarray) -> _Groups:
    keep_rows = np.flatnonzero((row_len > 0) & (w > 0))
    sub = cov[keep_rows]
    sub.sort_indices()
    col_used = np.flatnonzero((np.diff(sub.tocsc().indptr) > 0) & (cap > 0))
    sub = sub[:, col_used]
    sub.sort_indices()
    nonempty = np.diff(sub.indptr) > 0
    keep_rows, sub = keep_rows[nonempty], sub[np.flatnonzero(nonempty)]
    wk = w[keep_rows]
    group, rep = group_identical_rows(sub, with_values=False, extra=wk)
    kg = np.bincount(group, minlength=len(rep)).astype(np.float64)
    a = sub[rep]
    a.sort_indices()
    return _Groups(keep_rows, col_used, sub, group, a, kg, wk[rep])


def _exact(g: _Groups, ex: np.ndarray, cap: np.ndarray, p: int, chosen: np.ndarray, local_site: np.ndarray,
           t0: float, time_limit_s: float, mip_gap: float,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, float | None]:
    """The MILP above; returns (local rows, their local columns, chosen local columns, status, gap)."""
    a, kg, wg, col_used = g.a, g.kg, g.wg, g.col_used
    n_g = len(kg)
    is_cand = ~ex[col_used]
    pair_group = np.repeat(np.arange(n_g), np.diff(a.indptr))
    pair_col = a.indices.astype(np.int64)
    n_pairs = a.nnz
    cand_cols = np.flatnonzero(is_cand)
    y_of_col = np.full(len(col_used), -1, dtype=np.int64)
    y_of_col[cand_cols] = np.arange(len(cand_cols))
    n_y = len(cand_cols)
    n_var = n_pairs + n_y
    # (a) members: sum_j x_gj <= k_g
    r_members = sp.csr_array((np.ones(n_pairs), np.arange(n_pairs), a.indptr), shape=(n_g, n_var))
    # (b) capacity: sum_g w_g x_gj - cap_j y_j <= 0 (candidates) / <= cap_j (existing)
    ccap = cap[col_used]
    r_cap = sp.coo_array(
        (np.concatenate([wg[pair_group], -ccap[cand_cols]]),
         (np.concatenate([pair_col, cand_cols]),
          np.concatenate([np.arange(n_pairs), n_pairs + np.arange(n_y)]))),
        shape=(len(col_used), n_var)).tocsr()
    cap_upper = np.where(is_cand, 0.0, ccap)
    # (c) link: x_gj - k_g y_j <= 0 on candidate pairs
    cp = np.flatnonzero(is_cand[pair_col])
    r_link = sp.coo_array(
        (np.concatenate([np.ones(len(cp)), -kg[pair_group[cp]]]),
         (np.concatenate([np.arange(len(cp)), np.arange(len(cp))]),
          np.concatenate([cp, n_pairs + y_of_col[pair_col[cp]]]))),
        shape=(len(cp), n_var)).tocsr()
    # (d) cardinality
    r_card = sp.csr_array((np.ones(n_y), n_pairs + np.arange(n_y), [0, n_y]), shape=(1, n_var))
    rows = sp.vstack([r_members, r_cap, r_link, r_card], format="csr")
    y0 = np.zeros(n_y)
    y0[y_of_col[chosen]] = 1.0
    x0 = pair_counts(a, g.group, local_site)
    out = solve_highs(
        label="mclp (capacitated)",
        col_cost=np.concatenate([wg[pair_group], np.zeros(n_y)]),
        col_lower=np.zeros(n_var), col_upper=np.concatenate([kg[pair_group], np.ones(n_y)]),
        integer=np.ones(n_var, np.int32), a=rows,
        row_lower=np.full(rows.shape[0], -np.inf),
        row_upper=np.concatenate([kg, cap_upper, np.zeros(len(cp)), [p]]),
        maximize=True, time_limit_s=time_left(t0, time_limit_s), mip_gap=mip_gap,
        start=np.concatenate([x0, y0]))
    assert out.x is not None
    order, start = members_of_groups(g.group, n_g)
    loc_rows, loc_cols = disaggregate(pair_group, pair_col, out.x[:n_pairs], order, start)
    return loc_rows, loc_cols, cand_cols[out.x[n_pairs:] > 0.5], out.status, out.gap


def run_capacitated_mclp(
    cov: sp.csr_array, w: np.ndarray, ex: np.ndarray, cap: np.ndarray, p: int, *, t0: float,
    notes: list[str], total_w: float, coverable_w: float, time_limit_s: float, mip_gap: float,
    max_exact_size: int, force_greedy: bool,
) -> SitingResult:
    """Capacitated MCLP on a checked 0/1 coverage pattern (called by :func:`~.mclp.mclp`)."""
    n_i, n_j = cov.shape
    row_len = np.diff(cov.indptr)
    g = _groups(cov, w, cap, row_len)
    notes.append(f"capacitated: {len(g.kg)} member groups × {len(g.col_used)} sites, {g.a.nnz} pairs")
    member_site = np.full(n_i, -1, dtype=np.int64)
    method: Method = "highs"
    chosen, local_site = greedy_capacitated_cover(g.sub, w[g.keep_rows], cap[g.col_used], ~ex[g.col_used], p)
    if force_greedy or g.a.nnz > max_exact_size:
        method, status = "greedy", "heuristic"
        why = "requested" if force_greedy else f"{g.a.nnz} pairs > max_exact_size={max_exact_size}"
        notes.append(f"greedy heuristic used ({why}); the result is not proven optimal")
        logger.log(logging.INFO if force_greedy else logging.WARNING, "mclp: %s", notes[-1])
        ok = local_site >= 0
        member_site[g.keep_rows[ok]] = g.col_used[local_site[ok]]
        gap: float | None = None
    else:
        loc_rows, loc_cols, chosen, status, gap = _exact(g, ex, cap, p, chosen, local_site, t0,
                                                         time_limit_s, mip_gap)
        notes.extend(limit_note(status, gap, time_limit_s))
        member_site[g.keep_rows[loc_rows]] = g.col_used[loc_cols]
    selected = np.sort(g.col_used[chosen]).astype(np.int64)
    # zero-weight members use no capacity: report the first open site covering them
    open_mask = ex.copy()
    open_mask[selected] = True
    zero = np.flatnonzero((w == 0) & (row_len > 0))
    if len(zero):
        member_site[zero] = first_open_site(cov[zero], open_mask, ex)
    load = np.bincount(member_site[member_site >= 0], weights=w[member_site >= 0], minlength=n_j)
    served = float(load.sum())
    if len(selected) < p:
        notes.append(f"only {len(selected)} of p={p} new sites add served weight; the others are not opened")
    share = served / total_w if total_w > 0 else 0.0
    message = (f"mclp ({method}, {status}): {len(selected)} new site(s), served weight {served:.6g} of "
               f"{total_w:.6g} ({share:.1%}) within capacity. " + "; ".join(notes))
    return SitingResult(model="mclp", method=method, status=status, selected=selected, objective=served,
                        covered_weight=served, total_weight=total_w, coverage_share=share, gap=gap,
                        runtime_s=time.perf_counter() - t0, member_site=member_site, message=message,
                        coverable_weight=coverable_w, existing=np.flatnonzero(ex).astype(np.int64),
                        site_load=load)
