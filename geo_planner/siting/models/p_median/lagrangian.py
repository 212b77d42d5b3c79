"""Lagrangian relaxation of the uncapacitated p-median: a lower bound, a primal, site fixing.

With the assignment rows ``Σ_j x_gj + u_g = 1`` relaxed by multipliers ``λ_g`` (Cornuéjols,
Fisher & Nemhauser 1977; Beasley 1993, "Lagrangean heuristics for location problems")::

    L(λ) = Σ_g λ_g + Σ_{p smallest} ρ_j,     ρ_j = Σ_g min(0, w_g c_gj − λ_g),

with ``0 <= λ_g <= w_g f_g`` (``f_g`` the group's fallback cost; above it the fallback
``u_g`` absorbs the excess). Every ``L(λ)`` is a lower bound on the optimum; subgradient
optimisation drives it up to the LP bound. Pairs are kept sorted by (group, cost), so the
pairs with a negative reduced cost ``w_g c_gj − λ_g`` are a prefix of each group: an
iteration touches only those.

Reduced-cost fixing: with ``ρ`` sorted, forcing a site *in* (one not among the ``p``
smallest) raises the bound to ``L + ρ_j − ρ_(p)``, forcing a site *out* (one among them)
to ``L − ρ_j + ρ_(p+1)``. When that exceeds the cost every better solution must beat, no
better solution opens (closes) the site: it is fixed closed (open).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .enumeration import ENUM_WORK, enumerable, enumerate_p_median
from .sorted_pairs import Pairs, fold_sites, pad_sites, pairs_of, prefix_pairs, served_cost, sites_of
from .swap_search import swap_search

logger = logging.getLogger(__name__)

#: Relative tolerance of every comparison with the incumbent.
_REL_TOL = 1e-9
#: Up to this many pairs per group on average, an iteration scans every pair rather than
#: searching each group's negative prefix (measured: 1.5 against 16 ms at ~2 pairs a group).
_SCAN_PAIRS_PER_GROUP = 8

__all__ = ["LagrangeOutcome", "Reduced", "fix_sites", "lagrange_reduce", "lagrangian", "restrict", "slack_of"]


def _evaluate(pr: Pairs, lam: np.ndarray, p: int, *, exact: bool = False
              ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """``L(λ)``, the site reduced costs, the ``p`` chosen sites and the subgradient."""
    if exact or pr.pg.shape[0] <= _SCAN_PAIRS_PER_GROUP * pr.n_g:  # few pairs a group: one scan beats the search
        idx = np.flatnonzero(pr.wc < lam[pr.pg])
    else:
        idx = prefix_pairs(pr, lam)
    g, y = pr.pg[idx], pr.py[idx]
    rho = np.bincount(y, weights=np.minimum(pr.wc[idx] - lam[g], 0.0), minlength=pr.n_y)
    top = np.argpartition(rho, p - 1)[:p]
    bound = float(lam.sum() + rho[top].sum())
    chosen = np.zeros(pr.n_y, dtype=bool)
    chosen[top] = True
    sub = 1.0 - np.bincount(g[chosen[y]], minlength=pr.n_g)
    return bound, rho, chosen, sub


@dataclass(frozen=True, eq=False)
class LagrangeOutcome:
    """Result of :func:`lagrangian`.

    Attributes
    ----------
    bound
        Best Lagrangian lower bound (evaluated exactly at ``lam``).
    lam
        The multipliers that gave it.
    rho
        Site reduced costs at ``lam``.
    open_y
        Best primal found (mask over the sites) and ``objective`` its cost.
    iterations
        Subgradient iterations run.
    y_avg
        Share of the iterations in which each site was among the relaxation's ``p`` chosen
        ones (an ergodic estimate of the LP relaxation's ``y``; sites near 0.5 are the ones
        the relaxation cannot decide).
    """

    bound: float
    lam: np.ndarray
    rho: np.ndarray
    open_y: np.ndarray
    objective: float
    iterations: int
    y_avg: np.ndarray


def lagrangian(pr: Pairs, p: int, open_y: np.ndarray, *, lam0: np.ndarray | None = None,
               slack: Callable[[float], float] = lambda ub: 0.0, max_iter: int = 600, time_limit_s: float = 5.0,
               patience: int = 20, step0: float = 2.0, price_every: int = 1,
               stop: Callable[[np.ndarray, float], bool] | None = None, check_every: int = 25) -> LagrangeOutcome:
    """Subgradient optimisation of ``L(λ)`` from a primal ``open_y``; primal from each iterate's sites.

    Stops after ``max_iter`` iterations, ``time_limit_s`` seconds, when the step size has
    shrunk away, or when the bound reaches the incumbent minus ``slack(incumbent)`` (the gap
    the caller accepts).
    ``lam0``: starting multipliers (default: each group's weighted cost in ``open_y``);
    ``step0``: the first step-size factor (halved after ``patience`` iterations without a
    better bound); ``price_every``: price the relaxation's sites as a primal every that many
    iterations; ``stop(λ, incumbent)``, asked every ``check_every`` iterations with the best
    multipliers so far: stop when it says the caller has what it needs (e.g. fixing would
    leave an instance small enough to enumerate).
    """
    t_end = time.perf_counter() + time_limit_s
    best_open = open_y.copy()
    ub = float(served_cost(pr, best_open).sum())
    lam = np.clip(served_cost(pr, best_open) if lam0 is None else lam0, 0.0, pr.cap)
    best_lam, best_lb = lam.copy(), -np.inf
    step, stall, it = step0, 0, 0
    seen: set[bytes] = set()
    y_sum = np.zeros(pr.n_y)
    while it < max_iter and step > 1e-4 and time.perf_counter() < t_end:
        it += 1
        lb, _rho, chosen, sub = _evaluate(pr, lam, p)
        y_sum += chosen
        if lb > best_lb + 1e-12 * max(abs(lb), 1.0):
            best_lb, best_lam, stall = lb, lam.copy(), 0
        else:
            stall += 1
            if stall >= patience:
                step, stall = step / 2.0, 0
        # not ``sub @ sub``: a BLAS call wakes OpenBLAS's threads, milliseconds on a busy machine
        norm = float(np.einsum("i,i->", sub, sub))
        sig = np.packbits(chosen).tobytes() if it % price_every == 0 or norm == 0 else b""
        if sig and sig not in seen:  # a new set of sites: price it
            seen.add(sig)
            obj = float(served_cost(pr, chosen).sum())
            if obj < ub:
                ub, best_open = obj, chosen
        if best_lb >= ub - slack(ub) or norm == 0:  # proven, or the relaxation's sites serve everyone once
            break
        if stop is not None and it % check_every == 0 and stop(best_lam, ub):
            break
        lam = np.clip(lam + step * (ub - lb) / norm * sub, 0.0, pr.cap)
    bound, rho, _c, _s = _evaluate(pr, best_lam, p, exact=True)
    return LagrangeOutcome(bound, best_lam, rho, best_open, ub, it, y_sum / max(it, 1))


def fix_sites(rho: np.ndarray, bound: float, p: int, beat: float) -> tuple[np.ndarray, np.ndarray]:
    """Sites no solution costing less than ``beat`` can open (``closed``) or close (``opened``).

    ``rho`` and ``bound`` come from one ``λ`` (:class:`LagrangeOutcome`). Returns two masks.
    """
    order = np.argsort(rho, kind="stable")
    n_y = rho.shape[0]
    in_top = np.zeros(n_y, dtype=bool)
    in_top[order[:p]] = True
    closed = np.zeros(n_y, dtype=bool)
    opened = np.zeros(n_y, dtype=bool)
    if p < n_y:
        closed = ~in_top & (bound + rho - rho[order[p - 1]] >= beat)
        opened = in_top & (bound - rho + rho[order[p]] >= beat)
    return closed, opened


@dataclass(frozen=True, eq=False)
class Reduced:
    """What the Lagrangian stage leaves to an exact solver (see :func:`lagrange_reduce`).

    Attributes
    ----------
    pg, pc, pv, fallback
        The reduced instance, sites as input columns: pairs of the free sites only, cheaper
        than the group's new fallback (its old fallback or a site fixed open, whichever is
        cheaper).
    p
        Sites left to open among the free ones (``p`` minus the sites fixed open).
    opened
        Input columns fixed open.
    n_closed
        Sites fixed closed.
    best
        Best solution found (mask over the input columns) and ``objective`` its cost.
    bound
        Lower bound on every solution (Lagrangian, over all rounds).
    beat
        Every solution the fixings exclude costs at least this much; the reduced instance's
        optimum ``o`` therefore bounds the whole problem by ``min(o, beat)``.
    iterations
        Subgradient iterations over all rounds.
    lam
        The last multipliers (per group), to warm-start further relaxations.
    rho, inst_bound
        Site reduced costs (over ``np.unique(pc)``) and Lagrangian bound of the reduced
        instance itself, for further fixing (:func:`fix_sites`); ``rho`` is ``None`` when the
        stage stopped before pricing it.
    """

    pg: np.ndarray
    pc: np.ndarray
    pv: np.ndarray
    fallback: np.ndarray
    p: int
    opened: np.ndarray
    n_closed: int
    best: np.ndarray
    objective: float
    bound: float
    beat: float
    iterations: int
    rho: np.ndarray | None
    inst_bound: float
    lam: np.ndarray


def lagrange_reduce(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray,
                    n_j: int, p: int, best: np.ndarray, *, slack: Callable[[float], float], time_limit_s: float,
                    max_rounds: int = 4, enum_work: float = ENUM_WORK) -> Reduced:
    """Subgradient optimisation, then fix sites and reduce the instance; repeat while sites get fixed.

    ``pg, pc, pv`` are sorted by (group, cost); ``best`` (mask over the ``n_j`` columns) is a
    feasible start. ``slack(ub)``: a solution is worth finding only when it costs less than
    the incumbent ``ub`` minus ``slack(ub)`` (the accepted gap; at least ``0.5`` for integral
    costs, whose better solutions cost at least 1 less). A round stops early once fixing would
    leave a rest enumerable within ``enum_work`` operations (:mod:`.enumeration`), which
    the next round then prices choice by choice; ``enum_work=0``: never enumerate.
    """
    t_end = time.perf_counter() + time_limit_s
    opened = np.zeros(n_j, dtype=bool)
    closed = np.zeros(n_j, dtype=bool)
    lam, bound, its = None, -np.inf, 0
    cost = fallback.copy()
    on = best[pc]
    np.minimum.at(cost, pg[on], pv[on])
    ub = float(np.einsum("i,i->", wg, cost))  # no BLAS call (its threads)
    rho, inst_bound = None, -np.inf
    for rnd in range(max_rounds):
        cand = sites_of(pc, n_j)
        left = t_end - time.perf_counter()
        if enumerable(cand.shape[0], p, wg.shape[0], enum_work):
            # what fixing left is priced choice by choice (no choice left: priced as it is): its optimum
            chosen, obj = enumerate_p_median(pg, pc, pv, wg, fallback, p)
            if obj < ub:
                ub = obj
                best = opened.copy()
                best[chosen] = True
            bound = obj if rnd == 0 else max(bound, min(obj, ub - slack(ub)))
            rho = None
            break
        if p <= 0 or cand.shape[0] <= p or left <= 0:
            break
        y_of = np.full(n_j, -1, dtype=np.int64)
        y_of[cand] = np.arange(cand.shape[0])
        pr = pairs_of(pg, y_of[pc], pv, wg, fallback, cand.shape[0])
        lo = lagrangian(pr, p, pad_sites(best[cand] & ~opened[cand], p), lam0=lam, slack=slack,
                        time_limit_s=0.7 * left, price_every=3,
                        stop=_small_rest(pr, p, slack, enum_work) if rnd < max_rounds - 1 else None)
        its, lam, rho, inst_bound = its + lo.iterations, lo.lam, lo.rho, lo.bound
        open_y, obj = _improve(pr, lo, p, t_end)
        if obj < ub:  # the reduced instance prices a superset of opened exactly
            ub = obj
            best = opened.copy()
            best[cand[open_y]] = True
        beat = ub - slack(ub)
        bound = lo.bound if rnd == 0 else max(bound, min(lo.bound, beat))
        if bound >= beat or rnd == max_rounds - 1:
            break
        cl, op = fix_sites(lo.rho, lo.bound, p, beat)
        if not cl.any() and not op.any():
            break
        closed[cand[cl]] = True
        opened[cand[op]] = True
        p -= int(op.sum())
        pg, pc, pv, fallback = fold_sites(pg, pc, pv, fallback, cand[cl], cand[op], n_j)
        rho = None  # stale until the next round prices the folded instance
    return Reduced(pg, pc, pv, fallback, p, np.flatnonzero(opened), int(closed.sum()), best, ub, bound,
                   ub - slack(ub), its, rho, inst_bound, np.zeros(wg.shape[0]) if lam is None else lam)


def _small_rest(pr: Pairs, p: int, slack: Callable[[float], float], work: float
                ) -> Callable[[np.ndarray, float], bool]:
    """Stop rule for :func:`lagrangian`: the bound proves the incumbent, or fixing leaves an enumerable rest.

    (The fixing :func:`lagrange_reduce` then makes is at least as strong: its incumbent is no worse.)
    """

    def stop(lam: np.ndarray, ub: float) -> bool:
        bound, rho, _c, _s = _evaluate(pr, lam, p, exact=True)
        beat = ub - slack(ub)
        if bound >= beat:
            return True
        closed, opened = fix_sites(rho, bound, p, beat)
        return enumerable(int((~closed & ~opened).sum()), p - int(opened.sum()), pr.n_g, work)

    return stop


def _improve(pr: Pairs, lo: LagrangeOutcome, p: int, t_end: float) -> tuple[np.ndarray, float]:
    """Swap search from the relaxation's best primal and from its rounded ergodic sites; the better.

    The rounding opens the ``p`` sites chosen most often (ties to the most negative reduced
    cost): close to the LP relaxation's solution, a start the swaps often take to the optimum.
    """
    rounded = np.zeros(pr.n_y, dtype=bool)
    rounded[np.lexsort((lo.rho, -lo.y_avg))[:p]] = True
    best_y, best = swap_search(pr, lo.open_y, time_limit_s=max(t_end - time.perf_counter(), 0.0))
    open_y, obj = swap_search(pr, rounded, time_limit_s=max(t_end - time.perf_counter(), 0.0))
    return (open_y, obj) if obj < best else (best_y, best)


def slack_of(wg: np.ndarray, pv: np.ndarray, pg: np.ndarray, fallback: np.ndarray, mip_gap: float
              ) -> Callable[[float], float]:
    """How much cheaper than an incumbent ``ub`` a solution must be to be worth finding.

    ``mip_gap · ub`` (at least a rounding margin); with integral weighted costs a better
    solution costs at least 1 less, so anything below 1 will do: 0.5.
    """
    wc = wg[pg] * pv
    wf = wg * fallback
    integral = bool(np.all(wc == np.round(wc)) and np.all(wf == np.round(wf)) and np.abs(wf).max(initial=0) < 2**50)
    floor = 0.5 if integral else 0.0
    return lambda ub: max(mip_gap * abs(ub), _REL_TOL * max(abs(ub), 1.0), floor)


def restrict(red: Reduced, cut: float, n_j: int) -> Reduced:
    """``red`` with the sites fixed that no solution cheaper than ``cut`` opens (closes)."""
    cand = sites_of(red.pc, n_j)
    assert red.rho is not None and red.rho.shape[0] == cand.shape[0]
    cl, op = fix_sites(red.rho, red.inst_bound, red.p, cut)
    pg, pc, pv, fb = fold_sites(red.pg, red.pc, red.pv, red.fallback, cand[cl], cand[op], n_j)
    best = red.best.copy()
    best[cand[cl]] = False
    logger.info("p_median lagrange: cutoff %.6g (bound %.6g) fixes %d site(s) open, %d closed, %d left",
                cut, red.inst_bound, int(op.sum()), int(cl.sum()), int((~cl & ~op).sum()))
    return replace(red, pg=pg, pc=pc, pv=pv, fallback=fb, p=red.p - int(op.sum()),
                   opened=np.union1d(red.opened, cand[op]), n_closed=red.n_closed + int(cl.sum()), best=best,
                   rho=None)
