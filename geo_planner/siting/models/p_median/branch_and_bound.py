"""Lagrangian branch and bound for the uncapacitated p-median (after Beasley 1993).

Each node is an instance with some sites fixed open (folded into the groups' fallbacks) and
some closed (dropped). It is bounded by subgradient optimisation warm-started from its
parent's multipliers, pruned when the bound reaches the incumbent minus the accepted slack,
and otherwise shrunk by reduced-cost fixing (:func:`~.lagrangian.fix_sites`) and split
on the free site the relaxation is least sure of (chosen in about half of the node's
subgradient iterations): open it (searched first), or close it. A node
with nothing left to choose is priced exactly. The search is depth first; stopped by its
time limit it reports the smallest bound of the nodes it did not finish.

Splitting on undecided sites proves fast but finds good solutions slowly, so a *dive* runs
first: from the root, open the sites the relaxation likes best (most negative reduced cost),
node after node, without backtracking — a Lagrangian greedy whose last node is often optimal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .lagrangian import LagrangeOutcome, fix_sites, lagrangian
from .sorted_pairs import fold_sites, pad_sites, pairs_of, sites_of

__all__ = ["BranchOutcome", "lagrange_branch"]

#: The dive opens this share of the sites left to open at each node (at least one).
_DIVE_SHARE = 0.05


@dataclass(frozen=True, eq=False)
class _Node:
    pg: np.ndarray
    pc: np.ndarray
    pv: np.ndarray
    fallback: np.ndarray
    p: int
    opened: np.ndarray   # input columns fixed open
    lam: np.ndarray      # multipliers to start from (per group)
    bound: float         # the parent's bound (valid for this node)
    branch_cols: np.ndarray | None = None  # the parent's instance, with these columns still to open or close
    branch_open: bool = False

    def instance(self, n_j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
        """(pg, pc, pv, fallback, p, opened) with the branching decision applied."""
        if self.branch_cols is None:
            return self.pg, self.pc, self.pv, self.fallback, self.p, self.opened
        col = self.branch_cols
        if self.branch_open:
            pg, pc, pv, fb = fold_sites(self.pg, self.pc, self.pv, self.fallback, col[:0], col, n_j)
            return pg, pc, pv, fb, self.p - col.shape[0], np.union1d(self.opened, col)
        pg, pc, pv, fb = fold_sites(self.pg, self.pc, self.pv, self.fallback, col, col[:0], n_j)
        return pg, pc, pv, fb, self.p, self.opened


@dataclass(frozen=True, eq=False)
class BranchOutcome:
    """Result of :func:`lagrange_branch`: best cost, its open columns, bound, nodes (the dive's
    included), finished or not."""

    objective: float
    chosen: np.ndarray
    bound: float
    nodes: int
    finished: bool


def lagrange_branch(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray,
                    n_j: int, p: int, opened: np.ndarray, lam: np.ndarray, bound: float, ub: float,
                    best: np.ndarray, *, slack: Callable[[float], float], time_limit_s: float,
                    node_iterations: int = 80, node_step: float = 2.0, price_every: int = 1) -> BranchOutcome:
    """Depth-first Lagrangian branch and bound on a (reduced) instance, after a primal dive.

    ``pg, pc, pv`` sorted by (group, cost); ``opened`` columns already fixed open; ``lam`` and
    ``bound`` from the root relaxation; ``ub`` and ``best`` (open columns) the incumbent.
    """
    t_end = time.perf_counter() + time_limit_s
    opts = (node_iterations, node_step, price_every)
    root = _Node(pg, pc, pv, fallback, p, np.asarray(opened, dtype=np.int64), lam, bound)
    ub, best, nodes = _dive(root, wg, n_j, ub, best, slack, opts, t_end)
    stack = [root]
    while stack:
        if time.perf_counter() >= t_end:
            lb = min(min(nd.bound for nd in stack), ub - slack(ub))
            return BranchOutcome(ub, best, lb, nodes, False)
        node = stack.pop()
        if node.bound >= ub - slack(ub):
            continue
        nodes += 1
        children, val, chosen = _process(node, wg, n_j, ub, best, slack, opts)
        if val < ub:
            ub, best = val, chosen
        stack.extend(children)
    return BranchOutcome(ub, best, ub - slack(ub), nodes, True)


def _dive(root: _Node, wg: np.ndarray, n_j: int, ub: float, best: np.ndarray, slack: Callable[[float], float],
          opts: tuple[int, float, int], t_end: float) -> tuple[float, np.ndarray, int]:
    """A primal heuristic: from the root, open the sites of most negative reduced cost, node after node.

    Each node opens ``_DIVE_SHARE`` of the sites it has left to open (at least one). One path,
    no backtracking, until a node is pruned or priced: a Lagrangian greedy that often ends at
    the optimum (the proof then only has to reach its cost). Returns the incumbent
    (cost, open columns) and the nodes processed.
    """
    node, nodes = root, 0
    while time.perf_counter() < t_end and node.bound < ub - slack(ub):
        nodes += 1
        children, val, chosen = _process(node, wg, n_j, ub, best, slack, opts, dive=True)
        if val < ub:
            ub, best = val, chosen
        if not children:
            break
        node = children[0]
    return ub, best, nodes


def _process(node: _Node, wg: np.ndarray, n_j: int, ub: float, best: np.ndarray,
             slack: Callable[[float], float], opts: tuple[int, float, int], *, dive: bool = False
             ) -> tuple[list[_Node], float, np.ndarray]:
    """Bound, fix, and split one node. Returns (children, best cost found, its open columns).

    ``dive``: return only the child that opens the sites of most negative reduced cost.
    """
    pg, pc, pv, fb, p, opened = node.instance(n_j)
    lam = node.lam
    val, chosen = np.inf, best
    for rnd in range(3):  # fixing shrinks the node; bound it again while it does
        cand = sites_of(pc, n_j)
        if p <= 0 or cand.shape[0] <= p:  # nothing left to choose: price it
            rest = cand if p > 0 else cand[:0]
            cost = fb.copy()
            on = np.isin(pc, rest)
            np.minimum.at(cost, pg[on], pv[on])
            v = float(np.einsum("i,i->", wg, cost))  # no BLAS call (its threads) per node
            return ([], v, np.union1d(opened, rest)) if v < val else ([], val, chosen)
        y_of = np.full(n_j, -1, dtype=np.int64)
        y_of[cand] = np.arange(cand.shape[0])
        pr = pairs_of(pg, y_of[pc], pv, wg, fb, cand.shape[0])
        start = np.isin(cand, best)
        lo = lagrangian(pr, p, pad_sites(start, p), lam0=lam, slack=slack, max_iter=opts[0], patience=5,
                        step0=opts[1], price_every=opts[2], time_limit_s=1.0)
        if lo.objective < min(val, ub):
            val, chosen = lo.objective, np.union1d(opened, cand[lo.open_y])
        beat = min(ub, val) - slack(min(ub, val))
        if lo.bound >= beat:
            return [], val, chosen
        cl, op = fix_sites(lo.rho, lo.bound, p, beat)
        if (not cl.any() and not op.any()) or rnd == 2:
            break
        pg, pc, pv, fb = fold_sites(pg, pc, pv, fb, cand[cl], cand[op], n_j)
        p -= int(op.sum())
        opened = np.union1d(opened, cand[op])
        lam = lo.lam
    if dive:  # open the most attractive sites (a few at once when many are left to open)
        top = np.argsort(lo.rho, kind="stable")[:max(1, int(_DIVE_SHARE * p))]
        return [_Node(pg, pc, pv, fb, p, opened, lo.lam, lo.bound, cand[top], True)], val, chosen
    return _split(pg, pc, pv, fb, p, opened, cand, lo), val, chosen


def _split(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, fb: np.ndarray, p: int, opened: np.ndarray,
           cand: np.ndarray, lo: LagrangeOutcome) -> list[_Node]:
    """The two children of a node: close, then open (searched first), its most undecided free site.

    The site is the one the subgradient iterations chose closest to half of the time
    (``|y_avg − 0.5|`` least, ties to the most negative reduced cost): it splits the LP
    relaxation's fractional part, so both children's bounds rise. With ``ρ`` sorted
    (``ρ_(p)`` the ``p``-th smallest), each child gets at once the bound of the parent's
    multipliers with the decision applied: closing the site swaps it for ``ρ_(p+1)`` if the
    relaxation had it, opening it swaps it for ``ρ_(p)`` if it had not.
    (Children share the node's arrays and apply their decision when they are processed.)
    """
    j = int(np.lexsort((lo.rho, np.abs(lo.y_avg - 0.5)))[0])
    r_p, r_next = np.partition(lo.rho, [p - 1, p])[[p - 1, p]]
    rho_j = float(lo.rho[j])
    closed_bound = lo.bound + max(0.0, float(r_next) - rho_j)
    open_bound = lo.bound + max(0.0, rho_j - float(r_p))
    col = cand[j:j + 1]
    return [_Node(pg, pc, pv, fb, p, opened, lo.lam, closed_bound, col, False),
            _Node(pg, pc, pv, fb, p, opened, lo.lam, open_bound, col, True)]
