"""Exact p-median through the radius (covering) formulation, refined on demand.

The textbook p-median has one variable per member–site pair (``x_ij``) and one linking row per
pair; its LP is large and degenerate. The *radius* formulation (Elloumi 2010, "A tighter
formulation of the p-median problem"; García, Labbé & Marín 2011, "Solving large p-median
problems with a radius formulation") instead describes each member group ``g`` by the sorted
**distinct** costs of its candidate sites, ``v_0 < v_1 < … < v_{n-1}``, followed by its
fallback ``v_n`` (the cheapest existing site, else the unassigned penalty). With ``z_l = 1``
when no open site costs at most ``v_l``::

    cost_g = v_0 + Σ_l (v_{l+1} − v_l) · z_l
    z_0          + Σ_{j: c_gj = v_0} y_j ≥ 1
    z_l − z_{l−1} + Σ_{j: c_gj = v_l} y_j ≥ 0        l ≥ 1   (chained: each pair in one row)
    Σ_j y_j = p,   y binary,   z ≥ 0 continuous

The chained rows have the same LP projection as Elloumi's cumulative rows
``z_l + Σ_{c_gj ≤ v_l} y_j ≥ 1`` but store every pair once. Elloumi's reduction applies:
once at least ``J − p + 1`` candidates cost at most ``v_l``, one of them is open in every
solution opening ``p`` sites, so ``z_l = 0`` and no later level is needed.

Refinement (after García, Labbé & Marín): a group needs levels only up to the cost it is
actually served at. The model keeps, per group, the first ``K_g`` levels only; its cost is then
``min(cost_g, v_{K_g})`` — never more than the true cost, so the model is a **relaxation** and
its optimum a valid lower bound. The first ``K_g`` comes from a greedy + interchange start;
after each solve, groups served beyond their last level get more levels, until the model's
solution costs the same in the model and in truth: then it is optimal. Every solve starts
from the best solution found so far, and a time limit returns that solution with the gap
between it and the best lower bound.

Before the radius model (``lagrangian=True``, the default), in this order:

1. Lagrangian relaxation of the assignment rows (:mod:`.lagrangian`): a bound near the
   LP bound in a fraction of the time, and primals from it improved by a fast swap search
   (:mod:`.swap_search`); reduced-cost fixing then closes (opens) every site no solution
   cheaper than the incumbent opens (closes), and repeats on the smaller instance.
2. A Lagrangian branch and bound (:mod:`.branch_and_bound`) on what is left — it proves the
   small-``p`` instances, whose LP gap is widest — within a share of the time.
3. If still open: a kernel primal (the radius model on the sites of best reduced cost), then
   the radius model on instances fixed against *guessed* cutoffs just above the bound: a
   restricted optimum below the cutoff is optimal, since every excluded solution costs at
   least the cutoff; otherwise the cutoff grows up to the incumbent.

With integral weighted costs a better solution costs at least 1 less than the incumbent, so
every test "can this beat the incumbent?" uses the incumbent minus 0.5 (``slack_of``).
Every bound is kept honest: a site is fixed only against a cost that every solution it
excludes reaches, and the reported lower bound is the smallest such cost or proven bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ...budget import FRACTIONS
from ...highs import Milp, solve_milp
from .branch_and_bound import lagrange_branch
from .lagrangian import Reduced, lagrange_reduce, restrict, slack_of
from .sorted_pairs import fold_sites, pad_sites

logger = logging.getLogger(__name__)

__all__ = ["RadiusOutcome", "radius_p_median"]

#: Relative tolerance when comparing the model's and the true objective.
_REL_TOL = 1e-9
#: Share of the time limit (``siting/budget.py``, ``FRACTIONS``), and most seconds, the Lagrangian stage may take.
_LAGRANGE_SHARE = FRACTIONS["p_median.lagrange"]
_LAGRANGE_MAX_S = 5.0
#: First guessed cutoff above the Lagrangian bound, relative (then grown fourfold).
_GUESS = 0.0015
#: Share of the remaining time the Lagrangian branch and bound may take before the radius model.
_BRANCH_SHARE = FRACTIONS["p_median.branch"]
#: ... and at most this many seconds when more than ``_BRANCH_SMALL_P`` sites are left to open
#: (its tree grows with p; the radius model's LP is tight there and does better).
_BRANCH_MAX_S = 6.0
_BRANCH_SMALL_P = 60
_BRANCH_OPTS = {"node_iterations": 30, "node_step": 0.5, "price_every": 10}
#: Kernel heuristic: sites kept per site to open, and share of the remaining time.
_KERNEL = 2.0
_KERNEL_SHARE = FRACTIONS["p_median.kernel"]
_KERNEL_MAX_S = 15.0
#: The kernel only looks for a good solution: its MILP stops at this relative gap.
_KERNEL_GAP = 0.002


@dataclass(frozen=True)
class RadiusOutcome:
    """Result of :func:`radius_p_median`.

    Attributes
    ----------
    chosen
        Sorted candidate site indices (columns of the input) to open.
    status
        ``"optimal"`` (lower bound meets the solution's cost within ``mip_gap``) or
        ``"time_limit"`` (the best solution found, with ``gap``).
    objective
        True weighted cost of ``chosen`` (fallback costs included).
    lower_bound
        Best proven lower bound on the optimum.
    gap
        ``(objective − lower_bound) / objective`` (0 when optimal; ``0`` objective → 0).
    iterations
        Number of MILP solves (refinements + 1).
    levels
        Radius levels (``z`` variables) in the last model.
    runtime_s
        Wall-clock seconds.
    fixed_open, fixed_closed
        Sites the Lagrangian stage fixed open / closed (0 without it).
    subgradient_iterations
        Subgradient iterations of the Lagrangian stage.
    """

    chosen: np.ndarray
    status: str
    objective: float
    lower_bound: float
    gap: float
    iterations: int
    levels: int
    runtime_s: float
    fixed_open: int = 0
    fixed_closed: int = 0
    subgradient_iterations: int = 0


def _served_cost(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, fallback: np.ndarray,
                 open_mask: np.ndarray) -> np.ndarray:
    """Per group, the cheapest open candidate's cost, else the fallback."""
    cur = fallback.copy()
    on = open_mask[pc]
    np.minimum.at(cur, pg[on], pv[on])
    return cur


def radius_p_median(
    pg: np.ndarray,
    pc: np.ndarray,
    pv: np.ndarray,
    wg: np.ndarray,
    fallback: np.ndarray,
    n_j: int,
    p: int,
    *,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    start: np.ndarray | None = None,
    extra_levels: int = 2,
    lagrangian: bool = True,
) -> RadiusOutcome:
    """Solve an uncapacitated p-median given as candidate pairs, exactly (radius formulation).

    Parameters
    ----------
    pg, pc, pv
        One entry per allowed pair: member group (``0 … n_g−1``), candidate site (``0 … n_j−1``)
        and cost (``>= 0``, finite, below the group's fallback). No pair twice.
    wg
        Weight of each group (``>= 0``).
    fallback
        Cost of each group when none of its candidate sites is open (finite).
    n_j
        Number of site columns (indices in ``pc`` are below it).
    p
        Number of candidate sites to open; ``1 <= p <`` number of distinct sites in ``pc``.
    time_limit_s
        Wall-clock limit for the whole solve, seconds.
    mip_gap
        Relative gap at which the solution is accepted.
    start
        Candidate sites of a feasible start (e.g. greedy + interchange); ``None``: none.
    extra_levels
        Levels kept beyond a group's cost in the current best solution when (re)building the
        model (more: fewer refinements, bigger models).
    lagrangian
        First bound the problem by Lagrangian relaxation and fix the sites it rules out
        (:mod:`~geo_planner.siting.models.p_median.lagrangian`); the radius model then solves
        only what is left. ``False``: the radius model on the whole instance.

    Returns
    -------
    RadiusOutcome
    """
    t0 = time.perf_counter()
    pg = np.asarray(pg, dtype=np.int64)
    pc = np.asarray(pc, dtype=np.int64)
    pv = np.asarray(pv, dtype=np.float64)
    wg = np.asarray(wg, dtype=np.float64)
    fallback = np.asarray(fallback, dtype=np.float64)
    if not lagrangian:
        return _radius_core(pg, pc, pv, wg, fallback, n_j, p, t0=t0, time_limit_s=time_limit_s, mip_gap=mip_gap,
                            start=start, extra_levels=extra_levels)
    return _with_lagrange(pg, pc, pv, wg, fallback, n_j, p, t0=t0, time_limit_s=time_limit_s, mip_gap=mip_gap,
                          start=start, extra_levels=extra_levels)


def _radius_core(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray, n_j: int,
                 p: int, *, t0: float, time_limit_s: float, mip_gap: float, start: np.ndarray | None,
                 extra_levels: int) -> RadiusOutcome:
    """The radius model alone: LP phase, then MILP solves with levels refined on demand."""
    lv = _levels(pg, pc, pv, wg, fallback, n_j, p)
    best_open = np.zeros(n_j, dtype=bool)
    if start is not None and len(start):
        best_open[np.asarray(start, dtype=np.int64)] = True
    else:  # cheapest sites by weighted cost as a trivial start
        score = np.bincount(lv.pc, weights=wg[lv.pg], minlength=n_j)
        best_open[lv.cand[np.argsort(-score[lv.cand], kind="stable")[:p]]] = True
    best = _Best(best_open, _served_cost(lv.pg, lv.pc, lv.pv, fallback, best_open))
    # levels kept per group: enough to price the start exactly, plus a margin
    k = np.minimum(lv.cap, lv.level_of(best.cost) + extra_levels)
    k, lb = _lp_phase(lv, k, best, t0, time_limit_s, extra_levels)
    status, it, n_levels_model, lb, best = _mip_phase(lv, k, best, lb, t0, time_limit_s, mip_gap,
                                                      extra_levels)
    ub = best.objective(wg)
    lb_out = ub if status == "optimal" else (lb if np.isfinite(lb) else 0.0)
    gap = 0.0 if status == "optimal" or ub == 0 else max(0.0, (ub - lb_out) / abs(ub))
    chosen = np.flatnonzero(best.open).astype(np.int64)
    rt = time.perf_counter() - t0
    logger.info("p_median radius: %s after %d solve(s) in %.2f s, objective %.6g, bound %.6g, %d levels",
                status, it, rt, ub, lb_out, n_levels_model)
    return RadiusOutcome(chosen=chosen, status=status, objective=ub, lower_bound=float(lb_out),
                         gap=float(gap), iterations=it, levels=n_levels_model, runtime_s=rt)


def _with_lagrange(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray, n_j: int,
                   p: int, *, t0: float, time_limit_s: float, mip_gap: float, start: np.ndarray | None,
                   extra_levels: int) -> RadiusOutcome:
    """Lagrangian bound and site fixing first, then the radius model on the sites left free."""
    order = np.lexsort((pc, pv, pg))
    pg, pc, pv = pg[order], pc[order], pv[order]
    cand = np.unique(pc)
    if not 1 <= p < cand.shape[0]:
        raise ValueError(f"p must be in [1, {cand.shape[0]}) (distinct candidate sites), got {p}")
    best = np.zeros(n_j, dtype=bool)
    if start is not None and len(start):
        best[np.asarray(start, dtype=np.int64)] = True
    best[cand] = pad_sites(best[cand], p)
    best[np.setdiff1d(np.flatnonzero(best), cand)] = False
    slack = slack_of(wg, pv, pg, fallback, mip_gap)
    red = lagrange_reduce(pg, pc, pv, wg, fallback, n_j, p, best, slack=slack,
                          time_limit_s=min(_LAGRANGE_SHARE * time_limit_s, _LAGRANGE_MAX_S))
    obj, chosen, lb, its, levels = red.objective, np.flatnonzero(red.best), red.bound, 0, 0
    if lb < obj - slack(obj) and red.p > 0:
        red, lb = _branch(red, wg, n_j, lb, slack, t0=t0, time_limit_s=time_limit_s)
        obj, chosen = red.objective, np.flatnonzero(red.best)
    if lb < obj - slack(obj) and red.rho is not None and red.p > 0:
        o_k, ch_k = _kernel_primal(red, wg, n_j, t0=t0, time_limit_s=time_limit_s)
        if o_k < obj:
            obj, chosen = o_k, ch_k
            red = replace(red, best=np.isin(np.arange(n_j), ch_k), objective=o_k)
    # guessed cutoffs: fix against a cost just above the bound; raise it until the restricted
    # optimum lies below it (then no excluded solution can beat it) or it reaches the incumbent
    cut = red.beat if red.rho is None else min(red.beat, red.bound + max(4 * slack(obj), _GUESS * abs(red.bound)))
    while lb < obj - slack(obj) and time.perf_counter() - t0 < time_limit_s:
        cut = min(cut, obj - slack(obj))
        inst = red if cut >= red.beat or red.rho is None else restrict(red, cut, n_j)
        o_r, ch_r, lb_r, it_r, lev_r = _solve_rest(inst, wg, n_j, t0=t0, time_limit_s=time_limit_s,
                                                   mip_gap=mip_gap, extra_levels=extra_levels)
        its, levels = its + it_r, lev_r
        if o_r < obj:
            obj, chosen = o_r, ch_r
        lb = max(lb, min(lb_r, cut))
        if inst is red:
            break
        cut = cut + 4 * (cut - red.bound)
    optimal = obj - lb <= slack(obj) + _REL_TOL * max(abs(obj), 1.0)
    status = "optimal" if optimal else "time_limit"
    lb_out = obj if optimal else lb
    gap = 0.0 if optimal or obj == 0 else max(0.0, (obj - lb_out) / abs(obj))
    rt = time.perf_counter() - t0
    logger.info("p_median radius+lagrange: %s in %.2f s, objective %.6g, bound %.6g; %d site(s) fixed open, "
                "%d closed, %d left (p=%d), %d subgradient iterations, last cutoff %.6g",
                status, rt, obj, lb, len(red.opened), red.n_closed, np.unique(red.pc).shape[0], red.p,
                red.iterations, cut)
    return RadiusOutcome(chosen=np.sort(chosen).astype(np.int64), status=status, objective=obj,
                         lower_bound=float(lb_out), gap=float(gap), iterations=its, levels=levels, runtime_s=rt,
                         fixed_open=len(red.opened), fixed_closed=red.n_closed,
                         subgradient_iterations=red.iterations)


def _branch(red: Reduced, wg: np.ndarray, n_j: int, lb: float, slack: Callable[[float], float], *, t0: float,
            time_limit_s: float) -> tuple[Reduced, float]:
    """Lagrangian branch and bound on the reduced instance, within its share of the time left.

    Returns the instance with the best solution updated, and the lower bound.
    """
    left = max(time_limit_s - (time.perf_counter() - t0), 0.0)
    budget = min(_BRANCH_SHARE * left, _BRANCH_MAX_S if red.p > _BRANCH_SMALL_P else np.inf)
    bb = lagrange_branch(red.pg, red.pc, red.pv, wg, red.fallback, n_j, red.p, red.opened, red.lam, red.bound,
                         red.objective, np.flatnonzero(red.best), slack=slack, time_limit_s=budget, **_BRANCH_OPTS)
    logger.info("p_median radius+lagrange: branch and bound %s after %d nodes, objective %.6g, bound %.6g",
                "finished" if bb.finished else "stopped", bb.nodes, bb.objective, bb.bound)
    if bb.objective < red.objective:
        red = replace(red, best=np.isin(np.arange(n_j), bb.chosen), objective=bb.objective,
                      beat=bb.objective - slack(bb.objective))
    return red, max(lb, min(bb.bound, red.beat))


def _kernel_primal(red: Reduced, wg: np.ndarray, n_j: int, *, t0: float, time_limit_s: float
                   ) -> tuple[float, np.ndarray]:
    """A primal from the radius model on the free sites of smallest reduced cost (a heuristic).

    The kernel is the ``_KERNEL × p`` sites with the most negative ``ρ`` and the incumbent's.
    """
    cand = np.unique(red.pc)
    assert red.rho is not None
    q = min(cand.shape[0], max(int(_KERNEL * red.p), red.p + 20))
    keep = np.zeros(cand.shape[0], dtype=bool)
    keep[np.argsort(red.rho, kind="stable")[:q]] = True
    keep |= red.best[cand]
    if keep.all():
        return red.objective, np.flatnonzero(red.best)
    pg, pc, pv, fb = fold_sites(red.pg, red.pc, red.pv, red.fallback, cand[~keep], cand[:0], n_j)
    kern = replace(red, pg=pg, pc=pc, pv=pv, fallback=fb, rho=None)
    budget = min(_KERNEL_SHARE * max(time_limit_s - (time.perf_counter() - t0), 0.0), _KERNEL_MAX_S)
    o_k, ch_k, _lb, _it, _lev = _solve_rest(kern, wg, n_j, t0=time.perf_counter(), time_limit_s=budget,
                                            mip_gap=_KERNEL_GAP, extra_levels=2)
    logger.info("p_median radius+lagrange: kernel of %d sites (p=%d): %.6g (was %.6g)", int(keep.sum()), red.p,
                o_k, red.objective)
    return o_k, ch_k


def _solve_rest(red: Reduced, wg: np.ndarray, n_j: int, *, t0: float, time_limit_s: float, mip_gap: float,
                extra_levels: int) -> tuple[float, np.ndarray, float, int, int]:
    """Solve a reduced instance: (objective, open columns, lower bound, MILP solves, levels)."""
    free = np.unique(red.pc)
    if red.p <= 0 or free.shape[0] <= red.p:  # nothing, or every free site, left to open
        rest = free if red.p > 0 else free[:0]
        cost = red.fallback.copy()
        on = np.isin(red.pc, rest)
        np.minimum.at(cost, red.pg[on], red.pv[on])
        val = float(wg @ cost)
        return val, np.union1d(red.opened, rest), val, 0, 0
    sub_start = free[pad_sites(red.best[free], red.p)]
    sub = _radius_core(red.pg, red.pc, red.pv, wg, red.fallback, n_j, red.p, t0=t0, time_limit_s=time_limit_s,
                       mip_gap=mip_gap, start=sub_start, extra_levels=extra_levels)
    return sub.objective, np.union1d(red.opened, sub.chosen), sub.lower_bound, sub.iterations, sub.levels


@dataclass(frozen=True, eq=False)
class _Levels:
    """The radius levels of every group: pairs sorted by (group, cost), one level per distinct cost."""

    pg: np.ndarray            # pairs sorted by (group, cost, site)
    pc: np.ndarray
    pv: np.ndarray
    wg: np.ndarray
    fallback: np.ndarray
    cand: np.ndarray          # distinct candidate sites
    y_of: np.ndarray          # site column -> y index
    p: int
    lev_global: np.ndarray    # level id of each pair
    lev_group: np.ndarray     # group of each level
    lev_value: np.ndarray     # cost of each level
    lev_in_group: np.ndarray  # rank of the level within its group
    g_first_lev: np.ndarray   # first level of each group (n_g + 1)
    coef: np.ndarray          # next level's value − this level's (> 0)
    forced: np.ndarray        # Elloumi: z = 0 from this level on
    cap: np.ndarray           # levels a group can need
    base: float               # every group pays at least its cheapest candidate (or fallback)

    @property
    def n_y(self) -> int:
        return int(self.cand.shape[0])

    def level_of(self, cost: np.ndarray) -> np.ndarray:
        """Per group, the number of its levels whose value is below ``cost`` (levels to price it)."""
        below = self.lev_value < cost[self.lev_group]
        return np.bincount(self.lev_group[below], minlength=self.wg.shape[0]).astype(np.int64)


def _levels(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray, n_j: int,
            p: int) -> _Levels:
    n_g = wg.shape[0]
    cand = np.unique(pc)
    n_y = cand.shape[0]
    if not 1 <= p < n_y:
        raise ValueError(f"p must be in [1, {n_y}) (distinct candidate sites), got {p}")
    y_of = np.full(n_j, -1, dtype=np.int64)
    y_of[cand] = np.arange(n_y)
    # pairs sorted by (group, cost); level = rank of the pair's distinct cost within its group
    order = np.lexsort((pc, pv, pg))
    pg, pc, pv = pg[order], pc[order], pv[order]
    new_group = np.r_[True, pg[1:] != pg[:-1]]
    new_level = new_group | np.r_[True, pv[1:] != pv[:-1]]
    lev_global = np.cumsum(new_level) - 1  # a level id per (group, distinct cost)
    lev_first = np.flatnonzero(new_level)  # first pair of each level
    n_lev_total = lev_first.shape[0]
    lev_group = pg[lev_first]
    lev_value = pv[lev_first]
    g_first_lev = np.full(n_g + 1, n_lev_total, dtype=np.int64)
    g_first_lev[lev_group[::-1]] = np.arange(n_lev_total)[::-1]
    # groups without pairs point at the next group's first level
    g_first_lev = np.minimum.accumulate(g_first_lev[::-1])[::-1]
    lev_in_group = np.arange(n_lev_total) - g_first_lev[lev_group]
    n_lev = np.diff(g_first_lev)
    # value of the next level (the fallback after a group's last level)
    is_last = np.r_[lev_group[1:] != lev_group[:-1], True] if n_lev_total else np.zeros(0, bool)
    next_value = np.where(is_last, fallback[lev_group], np.r_[lev_value[1:], 0.0])
    coef = next_value - lev_value  # > 0
    # Elloumi: from the first level with ≥ n_y − p + 1 candidates at or below it, z = 0
    lev_count = np.diff(np.r_[lev_first, pg.shape[0]])
    cum = np.cumsum(lev_count)
    cum_in_group = cum - np.r_[0, cum][g_first_lev[lev_group]]
    forced = cum_in_group >= n_y - p + 1
    cap = n_lev.copy()  # number of levels a group can need: up to and including the first forced one
    if forced.any():
        fl = np.flatnonzero(forced)
        first_forced = np.full(n_g, np.iinfo(np.int64).max)
        np.minimum.at(first_forced, lev_group[fl], lev_in_group[fl])
        has = first_forced < np.iinfo(np.int64).max
        cap[has] = first_forced[has] + 1
    first_value = fallback.copy()
    has_lev = n_lev > 0
    first_value[has_lev] = lev_value[g_first_lev[:-1][has_lev]]
    return _Levels(pg, pc, pv, wg, fallback, cand, y_of, p, lev_global, lev_group, lev_value, lev_in_group,
                   g_first_lev, coef, forced, cap, float(wg @ first_value))


@dataclass(frozen=True, eq=False)
class _Best:
    """The best solution found: open sites (mask over all columns) and each group's cost."""

    open: np.ndarray
    cost: np.ndarray

    def objective(self, wg: np.ndarray) -> float:
        return float(wg @ self.cost)


def _lp_phase(lv: _Levels, k: np.ndarray, best: _Best, t0: float, time_limit_s: float,
              extra_levels: int) -> tuple[np.ndarray, float]:
    """Phase 1, LP only (cheap): add levels where the LP relaxation needs them.

    Every group the LP still prices at its last kept level (z > 0 there) gets more levels;
    once none is left, the truncated LP equals the full LP.

    Returns the levels kept per group and the best LP bound (``-inf`` if none).
    """
    lb = -np.inf
    while time.perf_counter() - t0 < 0.5 * time_limit_s:
        keep_lev = lv.lev_in_group < k[lv.lev_group]
        x, _obj, _db, solved, _n = _solve_model(lv, keep_lev, best, time_limit_s - (time.perf_counter() - t0),
                                                0.0, integer=False)
        if x is None or not solved:
            break
        lb = max(lb, _obj)
        lev_ids = np.flatnonzero(keep_lev)
        last = lv.g_first_lev[:-1] + k - 1
        has = (k > 0) & (k < lv.cap)
        zpos = np.searchsorted(lev_ids, last[has])
        open_ = np.zeros(lv.wg.shape[0], dtype=bool)
        open_[np.flatnonzero(has)] = x[lv.n_y + zpos] > 1e-7
        if not open_.any():
            break
        k = np.where(open_, np.minimum(lv.cap, np.maximum(k + extra_levels, 2 * k)), k)
        logger.info("p_median radius: LP bound %.6g; %d groups get more levels", lb, int(open_.sum()))
    return k, lb


def _mip_phase(lv: _Levels, k: np.ndarray, best: _Best, lb: float, t0: float, time_limit_s: float,
               mip_gap: float, extra_levels: int) -> tuple[str, int, int, float, _Best]:
    """Phase 2: solve the truncated MILP, refine groups served beyond their last level, repeat.

    Returns (status, solves, levels in the last model, lower bound, best solution).
    """
    status = "time_limit"
    it = 0
    n_levels_model = 0
    ub = best.objective(lv.wg)
    while True:
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0:
            break
        it += 1
        keep_lev = lv.lev_in_group < k[lv.lev_group]
        x, model_obj, dual_bound, solved, n_levels_model = _solve_model(lv, keep_lev, best, left, mip_gap,
                                                                        target=lb)
        if dual_bound is not None:
            lb = max(lb, dual_bound)
        if x is None:
            break
        open_mask = np.zeros(lv.y_of.shape[0], dtype=bool)
        open_mask[lv.cand[x[:lv.n_y] > 0.5]] = True
        cost = _served_cost(lv.pg, lv.pc, lv.pv, lv.fallback, open_mask)
        true_obj = float(lv.wg @ cost)
        if true_obj < ub - _REL_TOL * max(abs(ub), 1.0):
            ub, best = true_obj, _Best(open_mask, cost)
        tol = max(mip_gap * abs(ub), _REL_TOL * max(abs(ub), 1.0))
        if ub - lb <= tol:
            status = "optimal"
            break
        need = np.minimum(lv.cap, lv.level_of(cost) + extra_levels)
        grow = need > k
        if not grow.any():
            # the model prices its own solution exactly, yet the bound is open: HiGHS stopped early
            if solved:  # pragma: no cover - optimal model with exact pricing closes the gap
                status = "optimal"
            break
        k = np.where(grow, np.maximum(need, np.minimum(lv.cap, 2 * k)), k)
        logger.info("p_median radius: iteration %d, bound %.6g, best %.6g; %d groups get more levels",
                    it, lb, ub, int(grow.sum()))
    return status, it, n_levels_model, lb, best


def _solve_model(
    lv: _Levels, keep_lev: np.ndarray, best: _Best, time_limit_s: float, mip_gap: float, *,
    integer: bool = True, target: float = -np.inf,
) -> tuple[np.ndarray | None, float, float | None, bool, int]:
    """Build the truncated radius model on the kept levels and solve it with HiGHS.

    Columns ``[y (n_y) | z (kept levels)]``; one row per kept level plus the cardinality row.
    ``integer=False`` solves the LP relaxation. ``target``: a proven lower bound on the true
    optimum; HiGHS stops as soon as its incumbent reaches it (the caller then checks the
    incumbent's true cost). The start is ``best``. Returns ``(column values or None,
    objective, dual bound or None, proven optimal, levels)``.
    """
    lev_ids = np.flatnonzero(keep_lev)
    n_z, n_y = lev_ids.shape[0], lv.n_y
    model = _radius_model(lv, keep_lev, lev_ids, integer)
    # start: the best solution's y, and z_l = 1 exactly where its cost exceeds the level's value
    z0 = (best.cost[lv.lev_group[lev_ids]] > lv.lev_value[lev_ids]).astype(np.float64)
    z0[lv.forced[lev_ids]] = 0.0
    x0 = np.concatenate([best.open[lv.cand].astype(np.float64), z0])
    target_obj = (float(target) + 1e-9 * max(abs(target), 1.0)) if integer and np.isfinite(target) else None
    out = solve_milp(model, label="p_median radius", time_limit_s=max(time_limit_s, 1e-3), mip_gap=mip_gap,
                     start=x0 if integer else None, objective_target=target_obj)
    solved = out.status == "optimal"
    bound = float(out.bound) if np.isfinite(out.bound) else None
    if out.x is None:
        return None, np.inf, bound, False, n_z
    assert out.x.shape[0] == n_y + n_z
    return out.x, out.objective, bound, solved, n_z


def _radius_model(lv: _Levels, keep_lev: np.ndarray, lev_ids: np.ndarray, integer: bool) -> Milp:
    """Build the truncated radius model's arrays (see the module docstring)."""
    n_z, n_y = lev_ids.shape[0], lv.n_y
    z_of = np.full(keep_lev.shape[0], -1, dtype=np.int64)
    z_of[lev_ids] = np.arange(n_z)
    n_col = n_y + n_z
    # pairs in kept levels: +1 · y_j in their level's row
    pair_keep = keep_lev[lv.lev_global]
    pr = z_of[lv.lev_global[pair_keep]]
    pcol = lv.y_of[lv.pc[pair_keep]]
    # z_l: +1 in row l; −1 in row l+1 when that level is kept (same group)
    zr_self = np.arange(n_z)
    nxt = lev_ids + 1
    n_all = keep_lev.shape[0]
    nxt_c = np.minimum(nxt, n_all - 1)
    has_next = (nxt < n_all) & keep_lev[nxt_c] & (lv.lev_group[nxt_c] == lv.lev_group[lev_ids])
    rows = np.concatenate([pr, zr_self, z_of[nxt[has_next]]])
    cols = np.concatenate([pcol, n_y + zr_self, n_y + np.flatnonzero(has_next)])
    vals = np.concatenate([np.ones(pr.shape[0]), np.ones(n_z), -np.ones(int(has_next.sum()))])
    a = sp.csr_array((vals, (rows, cols)), shape=(n_z, n_col))
    a.sum_duplicates()
    a.sort_indices()
    card = sp.csr_array((np.ones(n_y), np.arange(n_y), [0, n_y]), shape=(1, n_col))
    mat = sp.vstack([a, card], format="csr")
    first = lv.lev_in_group[lev_ids] == 0
    row_lower = np.concatenate([np.where(first, 1.0, 0.0), [lv.p]])
    row_upper = np.concatenate([np.full(n_z, np.inf), [lv.p]])
    col_cost = np.concatenate([np.zeros(n_y), lv.wg[lv.lev_group[lev_ids]] * lv.coef[lev_ids]])
    col_upper = np.concatenate([np.ones(n_y), np.where(lv.forced[lev_ids], 0.0, 1.0)])
    integrality = np.concatenate([np.full(n_y, 1 if integer else 0, np.int32), np.zeros(n_z, np.int32)])
    return Milp(col_cost, np.zeros(n_col), col_upper, integrality, mat, row_lower, row_upper,
                maximize=False, offset=lv.base)
