"""p-median: open ``p`` new sites so the weighted total walk of assigned members is least.

Members are assigned to their cheapest open allowed site (the cost matrix's stored pairs);
a member none of whose allowed sites is open keeps its cheapest existing site, else stays
unassigned at a penalty per unit weight, so the model is always feasible. After merging
identical members and dropping pairs no better than a group's fallback
(:func:`~geo_planner.siting.reduce.reduce_pairs`), the exact model is the radius formulation
(:mod:`geo_planner.siting.models.p_median.radius_formulation`, default) or the textbook one column per
pair (``formulation="pairs"``, :func:`_p_median_highs`), both from a greedy + interchange
start. With a capacity the model is :mod:`geo_planner.siting.models.p_median.capacitated`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ....errors import InputError, Problem
from ....settings import SitingSettings
from ...heuristics import cheapest_open_site, greedy_interchange
from ...highs import Outcome
from ...inputs import check_cost, validate
from ...reduce import PairReduction, drop_columns, pair_values, reduce_pairs
from ...result import REL_TOL, Method, PMedianFormulation, SitingResult, SparseMatrix
from ..base import SitingModel, StationData, limit_note, solve_highs, time_left
from .capacitated import capacitated_p_median
from .radius_formulation import radius_p_median

logger = logging.getLogger(__name__)

__all__ = ["PMedian", "greedy_p_median", "p_median"]


class PMedian(SitingModel):
    """p-median in the station plan: ``p = new_stations``, optional ``capacity``.

    It needs the cost matrix and uses ``max_exact_pmedian_size``.
    """

    name = "p_median"
    label_zh = "p-中位"
    label_en = "p-median"
    kind = "cost"
    needs_cost_matrix = True

    def options(self, settings: SitingSettings) -> dict[str, Any]:
        """``p``, ``capacity`` and ``max_exact_size = max_exact_pmedian_size`` from the settings."""
        return {"p": settings.new_stations, "capacity": settings.capacity, "mip_gap": settings.mip_gap,
                "max_exact_size": settings.max_exact_pmedian_size}

    def solve(self, data: StationData, settings: SitingSettings, *, time_limit_s: float) -> SitingResult:
        """Run :func:`p_median` on ``data.cost``."""
        if data.cost is None:
            raise InputError(Problem("p_median", None, "cost", "the p-median needs a travel-minutes matrix"))
        opts = self.options(settings)
        return p_median(data.cost, data.weights, opts.pop("p"), existing=data.existing,
                        time_limit_s=time_limit_s, **opts)


def p_median(
    cost: SparseMatrix,
    weights: npt.ArrayLike | None,
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    capacity: float | npt.ArrayLike | None = None,
    unassigned_penalty_min: float | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    max_exact_size: int = 5_000_000,
    formulation: PMedianFormulation = "radius",
    lagrangian: bool = True,
) -> SitingResult:
    """p-median: open ``p`` new sites and assign members to open sites at least weighted cost.

    Members with no stored (allowed) pair are reported unassigned. A member whose allowed
    sites all stay closed (or are full, with a capacity) is also left unassigned, at a cost
    of ``unassigned_penalty_min`` per unit weight in the model, so the model is always
    feasible; ``objective`` counts only assigned members' travel minutes.

    Parameters
    ----------
    cost
        Sparse ``(I, J)`` travel minutes; stored entries (explicit zeros included) are the
        allowed pairs. See :func:`sparse_cost_matrix`.
    weights
        Member weights, length ``I``, ``>= 0`` (``None``: all 1).
    p
        Number of new sites (existing sites are kept open and do not count). At most ``p``
        are opened: a site no member would use is not opened.
    existing
        Boolean mask of length ``J`` of sites already open.
    capacity
        ``None``, a scalar or an array of length ``J``: member weight a site can serve.
        Members are then assigned whole (identical members as integer counts).
    unassigned_penalty_min
        Model cost, minutes per unit weight, of leaving a member unassigned. Default:
        ``10 × max(largest stored cost, 1)``, i.e. worse than any allowed trip.
    time_limit_s
        HiGHS time limit, seconds.
    mip_gap
        Relative MIP gap at which HiGHS may stop.
    max_exact_size
        Above this many stored pairs in the reduced matrix greedy + interchange is used.
    formulation
        Uncapacitated exact model: ``"radius"`` (default; the radius/covering formulation
        refined on demand, :mod:`geo_planner.siting.models.p_median.radius_formulation`) or ``"pairs"`` (the
        textbook one-variable-per-pair model, kept as the benchmark baseline). The
        capacitated model always assigns pairs.
    lagrangian
        Radius formulation only: bound by Lagrangian relaxation and fix sites first
        (``False``: the radius model on the whole instance, kept as a benchmark baseline).

    Returns
    -------
    SitingResult
        ``objective`` is the total weighted minutes of assigned members.

    Raises
    ------
    InputError
        Bad shapes, negative or non-finite costs or weights, ``p`` larger than the candidates.
    SolverError
        HiGHS found no feasible solution within the time limit.
    """
    return _run_p_median(cost, weights, p, existing=existing, capacity=capacity,
                         unassigned_penalty_min=unassigned_penalty_min, time_limit_s=time_limit_s,
                         mip_gap=mip_gap, max_exact_size=max_exact_size, force_greedy=False,
                         formulation=formulation, lagrangian=lagrangian)


def greedy_p_median(
    cost: SparseMatrix,
    weights: npt.ArrayLike | None,
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    capacity: float | npt.ArrayLike | None = None,
    unassigned_penalty_min: float | None = None,
    time_limit_s: float = 60.0,
) -> SitingResult:
    """Greedy addition followed by site interchange for the p-median.

    Same inputs and result as :func:`p_median`; ``method == "greedy"``. With a capacity,
    sites are chosen ignoring it and members are then assigned cheapest pair first while
    capacity remains. ``time_limit_s`` bounds the interchange passes.
    """
    return _run_p_median(cost, weights, p, existing=existing, capacity=capacity,
                         unassigned_penalty_min=unassigned_penalty_min, time_limit_s=time_limit_s,
                         mip_gap=0.0, max_exact_size=1, force_greedy=True)


@dataclass(frozen=True, eq=False)
class _Checked:
    c: sp.csr_array          # cost, float, columns without capacity dropped
    w: np.ndarray
    ex: np.ndarray
    cap: np.ndarray | None
    penalty: float
    has_pair: np.ndarray     # member has an allowed site
    rows: np.ndarray         # members in the model (an allowed site, weight > 0)
    sub: sp.csr_array        # their rows of ``c``


def _check(cost: SparseMatrix, weights: npt.ArrayLike | None, p: int, existing: npt.ArrayLike | None,
           capacity: float | npt.ArrayLike | None, unassigned_penalty_min: float | None, time_limit_s: float,
           mip_gap: float, max_exact_size: int, formulation: str) -> _Checked:
    if formulation not in ("radius", "pairs"):
        raise InputError(Problem("p_median", None, "formulation", "must be 'radius' or 'pairs'"))
    chk = validate("p_median", cost, "cost", weights, existing, p, capacity, time_limit_s, mip_gap,
                   max_exact_size)
    c = check_cost(chk.matrix, unassigned_penalty_min)
    max_c = float(c.data.max()) if c.nnz else 0.0
    penalty = float(unassigned_penalty_min) if unassigned_penalty_min is not None else 10.0 * max(max_c, 1.0)
    if chk.capacity is not None:
        c = drop_columns(c, chk.capacity > 0)
    has_pair = np.diff(c.indptr) > 0
    rows = np.flatnonzero(has_pair & (chk.weights > 0))
    sub = c[rows]
    sub.sort_indices()
    return _Checked(c, chk.weights, chk.existing, chk.capacity, penalty, has_pair, rows, sub)


def _choose(red: PairReduction, n_j: int, p: int, *, t0: float, time_limit_s: float, mip_gap: float,
            max_exact_size: int, force_greedy: bool, formulation: PMedianFormulation,
            notes: list[str], lagrangian: bool = True) -> tuple[np.ndarray, Method, str, float | None]:
    """Sites to open for the reduced pairs: trivial, greedy + interchange, or exact."""
    pg, pc, pv, wg, fallback, n_g = red.pg, red.pc, red.pv, red.wg, red.fallback, red.n_g
    if len(red.cand_cols) == 0 or p == 0:
        return np.zeros(0, dtype=np.int64), "highs", "optimal", 0.0
    if p >= len(red.cand_cols):
        return red.cand_cols, "highs", "optimal", 0.0
    if force_greedy or len(pg) > max_exact_size:
        why = "requested" if force_greedy else f"{len(pg)} pairs > max_exact_size={max_exact_size}"
        notes.append(f"greedy + interchange heuristic used ({why}); not proven optimal")
        logger.log(logging.INFO if force_greedy else logging.WARNING, "p_median: %s", notes[-1])
        chosen = greedy_interchange(pg, pc, pv, wg, fallback, n_g, n_j, p, time_limit_s)
        return chosen, "greedy", "heuristic", None
    # the radius model needs only a reasonable start (it proves the bound itself); the pairs
    # model may not finish its root LP on large instances and then returns the start
    if formulation == "pairs":
        budget = min(0.25 * time_limit_s, 30.0)
    else:  # the Lagrangian stage improves the start itself (swap search)
        budget = min(0.02 * time_limit_s, 1.0) if lagrangian else min(0.05 * time_limit_s, 3.0)
    start = greedy_interchange(pg, pc, pv, wg, fallback, n_g, n_j, p, budget)
    if formulation == "radius":
        rad = radius_p_median(pg, pc, pv, wg, fallback, n_j, p, time_limit_s=time_left(t0, time_limit_s),
                              mip_gap=mip_gap, start=start, lagrangian=lagrangian)
        chosen, status, gap = rad.chosen, rad.status, rad.gap
        fixed = (f"Lagrangian relaxation fixed {rad.fixed_open} site(s) open and {rad.fixed_closed} closed "
                 f"({rad.subgradient_iterations} subgradient iterations), " if lagrangian else "")
        notes.append(f"radius formulation: {fixed}{rad.iterations} solve(s), {rad.levels} radius levels, "
                     f"lower bound {rad.lower_bound:.6g}")
    else:
        chosen, out = _p_median_highs(pg, pc, pv, wg, fallback, n_g, n_j, p,
                                      time_left(t0, time_limit_s), mip_gap, start)
        status, gap = out.status, out.gap
    notes.extend(limit_note(status, gap, time_limit_s))
    return chosen, "highs", status, gap


def _finish(k: _Checked, p: int, selected: np.ndarray, member_site: np.ndarray, method: Method, status: str,
            gap: float | None, site_load: np.ndarray | None, notes: list[str], t0: float) -> SitingResult:
    """Objective (weighted minutes of assigned members), notes, message and result."""
    c, w = k.c, k.w
    n_i = c.shape[0]
    assigned = member_site >= 0
    total_w = float(w.sum())
    cost_of = np.zeros(n_i)
    if assigned.any():
        r = np.flatnonzero(assigned)
        cost_of[r] = pair_values(c, r, member_site[r])
    objective = float(w @ cost_of)
    covered_w = float(w[assigned].sum())
    unassigned_pos = float(w[~assigned & k.has_pair].sum())
    if unassigned_pos > 0:
        notes.append(f"weight {unassigned_pos:.6g} with allowed sites is left unassigned "
                     f"(model penalty {k.penalty:g} min per unit weight; model objective incl. penalty "
                     f"{objective + k.penalty * unassigned_pos:.6g})")
    if len(selected) < p:
        notes.append(f"only {len(selected)} of p={p} new sites would serve any member; "
                     "the others are not opened")
    share = covered_w / total_w if total_w > 0 else 0.0
    message = (f"p_median ({method}, {status}): {len(selected)} new site(s), total weighted cost "
               f"{objective:.6g} min, assigned weight {covered_w:.6g} of {total_w:.6g} ({share:.1%}). "
               + "; ".join(notes))
    return SitingResult(model="p_median", method=method, status=status, selected=selected,
                        objective=objective,
                        covered_weight=covered_w, total_weight=total_w, coverage_share=share, gap=gap,
                        runtime_s=time.perf_counter() - t0, member_site=member_site, message=message,
                        coverable_weight=float(w[k.has_pair].sum()),
                        existing=np.flatnonzero(k.ex).astype(np.int64), site_load=site_load)


def _run_p_median(
    cost: SparseMatrix, weights: npt.ArrayLike | None, p: int, *, existing: npt.ArrayLike | None,
    capacity: float | npt.ArrayLike | None, unassigned_penalty_min: float | None, time_limit_s: float,
    mip_gap: float, max_exact_size: int, force_greedy: bool, formulation: PMedianFormulation = "radius",
    lagrangian: bool = True,
) -> SitingResult:
    t0 = time.perf_counter()
    k = _check(cost, weights, p, existing, capacity, unassigned_penalty_min, time_limit_s, mip_gap,
               max_exact_size, formulation)
    c, w, ex = k.c, k.w, k.ex
    n_i, n_j = c.shape
    total_w = float(w.sum())
    coverable_w = float(w[k.has_pair].sum())
    notes: list[str] = []
    if coverable_w < total_w * (1 - REL_TOL):
        notes.append(f"{int((~k.has_pair).sum())} member(s), weight {total_w - coverable_w:.6g}, have no "
                     "allowed site and are unassigned")
    if k.cap is not None:
        selected, member_site, method, status, gap = capacitated_p_median(
            c, k.sub, k.rows, w, ex, k.cap, p, k.penalty, notes, time_limit_s, mip_gap, max_exact_size,
            force_greedy)
        if method == "highs":
            notes.extend(limit_note(status, gap, time_limit_s))
        assigned = member_site >= 0
        site_load = np.bincount(member_site[assigned], weights=w[assigned], minlength=n_j)
        return _finish(k, p, selected, member_site, method, status, gap, site_load, notes, t0)
    red = reduce_pairs(k.sub, w[k.rows], ex, k.penalty)
    notes.append(f"reduced to {red.n_g} member groups, {len(red.cand_cols)} useful candidate sites, "
                 f"{len(red.pg)} candidate pairs (from {n_i} × {n_j}, {c.nnz})")
    logger.info("p_median: %s", notes[-1])
    chosen, method, status, gap = _choose(red, n_j, p, t0=t0, time_limit_s=time_limit_s, mip_gap=mip_gap,
                                          max_exact_size=max_exact_size, force_greedy=force_greedy,
                                          formulation=formulation, notes=notes, lagrangian=lagrangian)
    selected = np.sort(chosen).astype(np.int64)
    open_mask = ex.copy()
    open_mask[selected] = True
    return _finish(k, p, selected, cheapest_open_site(c, open_mask), method, status, gap, None, notes, t0)


def _p_median_highs(
    pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray,
    n_g: int, n_j: int, p: int, time_limit_s: float, mip_gap: float, start: np.ndarray,
) -> tuple[np.ndarray, Outcome]:
    """Uncapacitated p-median on candidate pairs with a per-group fallback (existing or penalty).

    Columns ``[x (pairs) | u (groups) | y (candidates)]``; rows: ``sum x + u = 1`` per group,
    ``x_p - y_j <= 0`` per pair, ``sum y <= p``.
    """
    cand_cols = np.unique(pc)
    y_of = np.full(n_j, -1, dtype=np.int64)
    y_of[cand_cols] = np.arange(len(cand_cols))
    n_p, n_y = len(pg), len(cand_cols)
    n_var = n_p + n_g + n_y
    order = np.argsort(pg, kind="stable")  # pairs are already grouped; keep it explicit
    pg, pc, pv = pg[order], pc[order], pv[order]
    # assignment rows: group g -> its pairs and its u_g
    r_assign = sp.coo_array(
        (np.ones(n_p + n_g), (np.concatenate([pg, np.arange(n_g)]),
                              np.concatenate([np.arange(n_p), n_p + np.arange(n_g)]))),
        shape=(n_g, n_var)).tocsr()
    r_link = sp.coo_array(
        (np.concatenate([np.ones(n_p), -np.ones(n_p)]),
         (np.concatenate([np.arange(n_p), np.arange(n_p)]),
          np.concatenate([np.arange(n_p), n_p + n_g + y_of[pc]]))),
        shape=(n_p, n_var)).tocsr()
    r_card = sp.csr_array((np.ones(n_y), n_p + n_g + np.arange(n_y), [0, n_y]), shape=(1, n_var))
    rows = sp.vstack([r_assign, r_link, r_card], format="csr")
    # start: each group on its cheapest open candidate pair when cheaper than its fallback
    y0 = np.zeros(n_y)
    y0[y_of[start]] = 1.0
    x0, u0 = np.zeros(n_p), np.ones(n_g)
    on = np.flatnonzero(y0[y_of[pc]] > 0)
    if len(on):
        on = on[np.lexsort((pv[on], pg[on]))]
        first = np.ones(len(on), dtype=bool)
        first[1:] = pg[on[1:]] != pg[on[:-1]]
        best = on[first]
        use = pv[best] < fallback[pg[best]]
        x0[best[use]] = 1.0
        u0[pg[best[use]]] = 0.0
    out = solve_highs(
        label="p_median",
        col_cost=np.concatenate([wg[pg] * pv, wg * fallback, np.zeros(n_y)]),
        col_lower=np.zeros(n_var), col_upper=np.ones(n_var),
        integer=np.concatenate([np.zeros(n_p + n_g, np.int32), np.ones(n_y, np.int32)]),
        a=rows, row_lower=np.concatenate([np.ones(n_g), np.full(n_p + 1, -np.inf)]),
        row_upper=np.concatenate([np.ones(n_g), np.zeros(n_p), [p]]),
        maximize=False, time_limit_s=time_limit_s, mip_gap=mip_gap, start=np.concatenate([x0, u0, y0]))
    return cand_cols[out.x[n_p + n_g:] > 0.5], out
