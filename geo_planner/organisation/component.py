"""The joint-branch model on one spatial component: classes, the MILP, then the walks.

The model and the two steps (class-aggregated MILP, exact walks) are derived in
:mod:`geo_planner.organisation.joint`; :func:`solve_component` runs them on one
component of the block–site graph, in local block and site indices.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..siting.budget import FRACTIONS
from .flow import drop_weak_units, fill_units, flow_regroup
from .greedy import greedy_joint
from .lagrange import lagrangian
from .solve import Outcome, RowBlock, assemble, run_highs

log = logging.getLogger(__name__)

#: Joint-branch tie-breaks: a member walking the whole threshold costs WALK_WEIGHT (a station
#: group costs 1, a candidate-place group 3).
WALK_WEIGHT = 1.0 / 3.0
#: Absolute MIP gap at which the joint-branch model stops: below one member (so the member
#: count is optimal) and below half a station group.
TIE_BREAK_ABS_GAP = 0.5
#: Columns of the joint-branch model HiGHS sets up per second before it first checks its time
#: limit (measured here: 70k columns took 5 s and 140k columns 10–12 s under a 1–3 s limit).
HIGHS_COLS_PER_S = 14_000


@dataclass(frozen=True)
class ComponentResult:
    """What the joint-branch model did on one spatial component (see :func:`solve_component`).

    Attributes
    ----------
    members, sites, pairs
        Size of the component: members (in blocks) with a reachable site, sites, pairs.
    status
        ``optimal``, ``time_limit`` or ``greedy``.
    placed, greedy_placed
        Members placed by the answer and by the greedy start.
    bound
        Upper bound on the members this component can place (from HiGHS's dual bound; the
        component's member count when HiGHS gave none).
    gap
        HiGHS's relative gap on the component's objective (``None`` without HiGHS).
    time_limit_s, runtime_s
        The component's share of the time limit and the seconds it took (all steps).
    method
        ``highs`` (the class-aggregated MILP), ``lagrangian`` (Lagrangian bound and a MILP
        over the units the relaxation chose, :mod:`.lagrange`) or ``greedy``.
    """

    members: int
    sites: int
    pairs: int
    status: str
    placed: int
    greedy_placed: int
    bound: int
    gap: float | None
    time_limit_s: float
    runtime_s: float
    method: str = "highs"


def member_classes(
    pi: np.ndarray, pj: np.ndarray, unit: np.ndarray, n_members: int, n_sites: int,
    size: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Group members with the same unit, size and reachable sites (interchangeable members).

    Rows are keyed on (unit, size, number of sites, two random 64-bit sums of their sites);
    every row is then compared pair by pair with its class representative, and a row that
    differs (a hash collision) gets a class of its own, so the classes are exact.

    Returns
    -------
    cls, rep
        Class of each member (``-1`` without pairs) and the representative member per class.
    """
    size = np.ones(n_members, dtype=np.int64) if size is None else size
    counts = np.bincount(pi, minlength=n_members)
    indptr = np.r_[0, np.cumsum(counts)]
    rows = np.flatnonzero(counts > 0)
    rng = np.random.default_rng(0x5EED)
    w1 = rng.integers(0, np.iinfo(np.int64).max, n_sites, dtype=np.int64).astype(np.uint64)
    w2 = rng.integers(0, np.iinfo(np.int64).max, n_sites, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        h1 = np.add.reduceat(w1[pj], indptr[rows])
        h2 = np.add.reduceat(w2[pj], indptr[rows])
    key = np.column_stack([unit[rows].astype(np.uint64), size[rows].astype(np.uint64),
                           counts[rows].astype(np.uint64), h1, h2])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    cls = np.full(n_members, -1, dtype=np.int64)
    cls[rows] = inverse.ravel()
    rep = rows[first]
    # exactness check: every pair equals the representative's pair at the same position
    pos = np.arange(pi.size) - indptr[pi]
    differs = pj != pj[indptr[rep[cls[pi]]] + pos]
    bad = np.unique(pi[differs])
    if bad.size:
        cls[bad] = rep.size + np.arange(bad.size)
        rep = np.r_[rep, bad]
    return cls, rep


@dataclass(frozen=True)
class _Component:
    """One component's blocks and pairs (local indices) and the joint-branch rules."""

    pi: np.ndarray  # block of each pair
    pj: np.ndarray  # site of each pair
    pt: np.ndarray  # the block's mean walk to the site, minutes
    unit: np.ndarray  # unit per block
    size: np.ndarray  # members per block
    is_station: np.ndarray  # per site
    n_blocks: int
    n_members: int  # members (in blocks) with a reachable site
    min_members: int
    max_members: int
    max_units: int
    threshold_min: float

    @property
    def n_sites(self) -> int:
        """Sites of the component."""
        return int(self.is_station.shape[0])

    @property
    def n_units(self) -> int:
        """Unit codes of the component (``0 … n_units − 1``)."""
        return int(self.unit.max()) + 1


@dataclass(frozen=True)
class _ClassModel:
    """The class-aggregated MILP: columns ``x_gj`` (class pairs), then ``z_jb``, then ``y_j``."""

    gi: np.ndarray  # class of each class pair (sorted by class, then site)
    gj: np.ndarray  # site of each class pair
    gj_c: np.ndarray  # the pair's site among the model's sites
    sites: np.ndarray  # the model's sites (component indices)
    pz: np.ndarray  # the z column (site, unit) of each class pair
    sz_p: np.ndarray  # members per block of each class pair's class
    cap: np.ndarray  # upper bound of each x_gj
    g_unit: np.ndarray  # unit per class
    a: sparse.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray

    @property
    def n_p(self) -> int:
        """Class pairs (``x`` columns)."""
        return int(self.gi.size)

    @property
    def n_z(self) -> int:
        """(Site, unit) pairs (``z`` columns)."""
        return int(self.a.shape[1]) - self.n_p - self.n_y

    @property
    def n_y(self) -> int:
        """Sites (``y`` columns)."""
        return int(self.sites.size)

    @property
    def upper(self) -> np.ndarray:
        """Upper bound of every column."""
        return np.r_[self.cap, np.ones(self.n_z + self.n_y)]


def _model_columns(c: _Component, cls: np.ndarray, rep: np.ndarray) -> int:
    """Columns the class-aggregated model will have: class pairs, (site, unit) pairs, sites."""
    n_s = c.n_sites
    cp = np.unique(cls[c.pi] * n_s + c.pj)
    return (cp.size + np.unique((cp % n_s) * c.n_units + c.unit[rep[cp // n_s]]).size
            + np.unique(cp % n_s).size)


def _class_model(c: _Component, cls: np.ndarray, rep: np.ndarray) -> _ClassModel:
    """Build the class-aggregated MILP of the joint-branch model (see the module docstring of ``joint``)."""
    n_g = np.bincount(cls[cls >= 0], minlength=rep.size)
    s_g = c.size[rep].astype(np.float64)
    is_rep = rep[cls[c.pi]] == c.pi
    gi, gj = cls[c.pi[is_rep]], c.pj[is_rep]
    order = np.lexsort((gj, gi))
    gi, gj = gi[order], gj[order]  # class pairs, sorted by class then site
    sites, gj_c = np.unique(gj, return_inverse=True)
    gj_c = gj_c.ravel()
    n_p, n_y = gi.size, sites.size
    g_unit = c.unit[rep]
    zkeys, pz = np.unique(gj_c * c.n_units + g_unit[gi], return_inverse=True)
    pz = pz.ravel()
    n_z = zkeys.size
    z_site = zkeys // c.n_units
    col_x, col_z, col_y = np.arange(n_p), n_p + np.arange(n_z), n_p + n_z + np.arange(n_y)
    cap = np.minimum(n_g[gi], np.floor(c.max_members / s_g[gi])).astype(np.float64)
    ones_p, inf_p = np.ones(n_p), np.full(n_p, np.inf)
    sz_p = s_g[gi]
    blocks: list[RowBlock] = [
        # Σ_j x_gj ≤ n_g
        (gi, col_x, ones_p, np.full(rep.size, -np.inf), n_g.astype(np.float64)),
        # m·y_j ≤ Σ_g s_g·x_gj  and  Σ_g s_g·x_gj ≤ M·y_j
        (np.r_[gj_c, np.arange(n_y)], np.r_[col_x, col_y], np.r_[sz_p, np.full(n_y, -float(c.min_members))],
         np.zeros(n_y), np.full(n_y, np.inf)),
        (np.r_[gj_c, np.arange(n_y)], np.r_[col_x, col_y], np.r_[sz_p, np.full(n_y, -float(c.max_members))],
         np.full(n_y, -np.inf), np.zeros(n_y)),
        # x_gj ≤ cap_gj·z_j,b(g)
        (np.repeat(np.arange(n_p), 2), np.column_stack([col_x, col_z[pz]]).ravel(),
         np.column_stack([ones_p, -cap]).ravel(), -inf_p, np.zeros(n_p)),
        # Σ_b z_jb ≤ U·y_j
        (np.r_[z_site, np.arange(n_y)], np.r_[col_z, col_y],
         np.r_[np.ones(n_z), np.full(n_y, -float(c.max_units))], np.full(n_y, -np.inf), np.zeros(n_y)),
        # z_jb ≤ y_j
        (np.repeat(np.arange(n_z), 2), np.column_stack([col_z, col_y[z_site]]).ravel(),
         np.tile([1.0, -1.0], n_z), np.full(n_z, -np.inf), np.zeros(n_z)),
    ]
    a, row_lo, row_hi = assemble(blocks, n_p + n_z + n_y)
    return _ClassModel(gi, gj, gj_c, sites, pz, sz_p, cap, g_unit, a, row_lo, row_hi)


def _class_start(c: _Component, model: _ClassModel, cls: np.ndarray, greedy: np.ndarray) -> np.ndarray:
    """Return the greedy grouping as a start of the class-aggregated model (every column)."""
    n_s, n_p = c.n_sites, model.n_p
    start = np.zeros(model.a.shape[1])
    placed = greedy >= 0
    if placed.any():
        key = cls[placed] * n_s + greedy[placed]
        pos = np.searchsorted(model.gi * n_s + model.gj, key)
        np.add.at(start, pos, 1.0)  # the x columns come first
        used = start[:n_p] > 0
        start[n_p + np.unique(model.pz[used])] = 1.0
        start[n_p + model.n_z + np.unique(model.gj_c[used])] = 1.0
    return start


def _class_objective(c: _Component, model: _ClassModel, cls: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Objective of the class model: most members first, then cheap groups, then short walks.

    Returns the column costs, the largest total group cost and ``K`` (the weight of a member).
    """
    n_s, n_p = c.n_sites, model.n_p
    pair_of = np.searchsorted(model.gi * n_s + model.gj, cls[c.pi] * n_s + c.pj)  # class pair of every pair
    walk_mean = (np.bincount(pair_of, weights=c.pt / c.threshold_min, minlength=n_p)
                 / np.bincount(pair_of, minlength=n_p))
    group_cost = 1.0 + 2.0 * (~c.is_station[model.sites]).astype(np.float64)
    max_groups = 3.0 * min(model.n_y, max(1, c.n_members // c.min_members))
    k_member = max_groups + WALK_WEIGHT * c.n_members + 1.0
    col_cost = np.r_[model.sz_p * (k_member - WALK_WEIGHT * walk_mean), np.zeros(model.n_z), -group_cost]
    return col_cost, max_groups, k_member


def _blocks_of_classes(c: _Component, model: _ClassModel, cls: np.ndarray, rep: np.ndarray,
                       x_pair: np.ndarray) -> np.ndarray:
    """Hand out each class's blocks to its sites as the class model chose: the site per block."""
    site_of = np.full(c.n_blocks, -1, dtype=np.int64)
    order = np.argsort(cls, kind="stable")
    order = order[cls[order] >= 0]
    first_of = np.searchsorted(cls[order], np.arange(rep.size))
    k = x_pair.astype(np.int64)
    cls_rep, site_rep = np.repeat(model.gi, k), np.repeat(model.gj, k)
    within = np.arange(cls_rep.size) - np.searchsorted(cls_rep, cls_rep)
    site_of[order[first_of[cls_rep] + within]] = site_rep
    return site_of


def _shortest_walks(c: _Component, site_of: np.ndarray, time_limit_s: float, *, lp_only: bool = False
                    ) -> np.ndarray:
    """Minimise the walks with the open sites and their units fixed: the site per block.

    HiGHS gets ``FRACTIONS["joint_component.walks"]`` of ``time_limit_s`` (the time left).
    ``lp_only``: solve the LP relaxation only and take it when integral (the MIP over blocks of a
    city-sized component spent 53 s in its root cut rounds, which never look at HiGHS's time
    limit, and never improved on its start). Places the same members as ``site_of`` at the same
    sites with the same units; keeps ``site_of`` when HiGHS gives no integral answer.
    """
    placed = site_of >= 0
    n_best = float(c.size[placed].sum())
    open_units = np.unique(site_of[placed] * c.n_units + c.unit[placed])
    allow = np.isin(c.pj * c.n_units + c.unit[c.pi], open_units)
    qi, qj, qt = c.pi[allow], c.pj[allow], c.pt[allow]
    q_sites, qj_c = np.unique(qj, return_inverse=True)
    q_mem, qi_c = np.unique(qi, return_inverse=True)
    qi_c, qj_c = qi_c.ravel(), qj_c.ravel()
    n_q = qi.size
    ones_q, sq = np.ones(n_q), c.size[qi].astype(np.float64)
    a3, lo3, hi3 = assemble([
        (qi_c, np.arange(n_q), ones_q, np.full(q_mem.size, -np.inf), np.ones(q_mem.size)),
        (qj_c, np.arange(n_q), sq, np.full(q_sites.size, float(c.min_members)),
         np.full(q_sites.size, float(c.max_members))),
        (np.zeros(n_q, dtype=np.int64), np.arange(n_q), sq, np.full(1, n_best), np.full(1, n_best)),
    ], n_q)
    start3 = (site_of[qi] == qj).astype(np.float64)
    # unit sizes: a transportation problem, integral as an LP
    integer = bool((c.size[q_mem] > 1).any()) and not lp_only
    # HiGHS overran its limit on this model by up to 2× under load (a 38 s limit took 78 s on the
    # 56k city at load 16): the walks, a tie-break, get half the time given, the rest is slack
    three = run_highs("joint branches (walks)", qt * sq, ones_q, integer, a3, lo3, hi3, maximize=False,
                      time_limit_s=FRACTIONS["joint_component.walks"] * time_limit_s, start=start3)
    if three.x is not None and np.all(np.abs(three.x - np.round(three.x)) < 1e-6):
        take = np.round(three.x) > 0.5
        site_of = np.full(c.n_blocks, -1, dtype=np.int64)
        site_of[qi[take]] = qj[take]
    else:
        log.info("joint branches: the walking model gave no integral answer (%s); blocks keep class order",
                 three.status)
    return site_of


def _members_bound(c: _Component, n_y: int, one: Outcome, max_groups: float, k_member: float) -> int:
    """Upper bound on the members placed: every open site full, or HiGHS's dual bound in members.

    Members placed ≤ (objective bound + every group cost) / (K − w).
    """
    bound = min(c.n_members, n_y * c.max_members)  # every open site full: the trivial bound
    if np.isfinite(one.bound):
        bound = min(bound, int(math.floor((one.bound + max_groups) / (k_member - WALK_WEIGHT) + 1e-9)))
    return bound


def solve_component(
    pi: np.ndarray, pj: np.ndarray, pt: np.ndarray, unit: np.ndarray, size: np.ndarray,
    is_station: np.ndarray, *, n_blocks: int, min_members: int, max_members: int, max_units: int,
    threshold_min: float, time_limit_s: float, max_exact_size: int = 100_000, lagrangian: bool = True,
) -> tuple[np.ndarray, ComponentResult]:
    """Solve the joint-branch model on one component (local block and site indices).

    ``pt`` is the block's mean walk to the site (minutes). The greedy grouping is the start.
    When the model is too large for HiGHS to set up in half of ``time_limit_s`` (or has more
    than ``max_exact_size`` columns), ``lagrangian`` re-assigns the members by maximum flow
    over the greedy grouping's units and proves the bound by Lagrangian relaxation
    (:func:`_lagrangian_answer`); without it, or when HiGHS finds nothing, the greedy
    grouping is the answer.

    Returns
    -------
    site_of, result
        The site per block (``-1`` not placed) and the component's result.
    """
    t_start = time.perf_counter()
    deadline = t_start + time_limit_s
    c = _Component(pi, pj, pt, unit, size, is_station, n_blocks, int(size[np.unique(pi)].sum()), min_members,
                   max_members, max_units, threshold_min)
    # HiGHS spends about n_cols / HIGHS_COLS_PER_S seconds before it looks at its time limit:
    # hand it the model only when that fits in half of the component's share. The model has
    # at least a z column per (site, unit) pair and a y column per site: when these alone are
    # too many, the classes are not worked out.
    n_min = np.unique(pj * c.n_units + unit[pi]).size + c.n_sites
    max_cols = min(max_exact_size, 0.5 * HIGHS_COLS_PER_S * time_limit_s)
    cls, rep = (member_classes(pi, pj, unit, n_blocks, c.n_sites, size) if n_min <= max_cols
                else (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)))
    n_cols = _model_columns(c, cls, rep) if n_min <= max_cols else n_min
    exact = n_cols <= max_cols
    # the greedy grouping always runs to its end (about a second for the 56k city's 24,663
    # candidates): cut at a deadline it placed 42 of them when the set-up had left the model 0.28 s
    greedy = greedy_joint(pi, pj, pt, unit, is_station, n_members=n_blocks, min_members=min_members,
                          max_members=max_members, max_units=max_units, size=size)
    greedy_placed = int(size[greedy >= 0].sum())

    def result(site_of: np.ndarray, status: str, gap: float | None, bound: int, method: str = ""
               ) -> tuple[np.ndarray, ComponentResult]:
        placed_now = int(size[site_of >= 0].sum())
        return site_of, ComponentResult(
            members=c.n_members, sites=int(np.unique(pj).size), pairs=int(pi.size), status=status,
            placed=placed_now, greedy_placed=greedy_placed, bound=max(bound, placed_now), gap=gap,
            time_limit_s=time_limit_s, runtime_s=time.perf_counter() - t_start,
            method=method or ("greedy" if status == "greedy" else "highs"))

    if not exact and lagrangian:
        return _lagrangian_answer(c, greedy, deadline, result)
    if not exact:  # HiGHS would not keep to the time limit on a model this large
        log.warning("joint branches: a component of %d members gives a model of at least %d columns (max_exact_size "
                    "%d, %.3g s for this component); the greedy grouping is the answer (bound: every site "
                    "full)", c.n_members, n_cols, max_exact_size, time_limit_s)
        return result(greedy, "greedy", None, _full_sites_bound(c))
    site_of, one, bound = _highs_answer(c, cls, rep, greedy, deadline)
    if site_of is None:
        log.warning("joint branches: HiGHS found no solution (%s) within %.3g s on a component of %d "
                    "members; using the greedy grouping", one.status, time_limit_s, c.n_members)
        return result(greedy, "greedy", None, bound)
    return result(site_of, "optimal" if one.status == "optimal" else "time_limit", one.gap, bound)


def _full_sites_bound(c: _Component) -> int:
    """The trivial bound on the members placed: every site full (or every member placed)."""
    return min(c.n_members, int(np.unique(c.pj).size) * c.max_members)


def _highs_answer(c: _Component, cls: np.ndarray, rep: np.ndarray, greedy: np.ndarray, deadline: float
                  ) -> tuple[np.ndarray | None, Outcome, int]:
    """Solve the class-aggregated MILP from the greedy start, then the walks: the site per block.

    Returns the site per block (``None`` when HiGHS found no solution), HiGHS's outcome and
    the bound on the members placed that its dual bound proves (for ``c``'s pairs only).
    """
    model = _class_model(c, cls, rep)
    start = _class_start(c, model, cls, greedy)
    col_cost, max_groups, k_member = _class_objective(c, model, cls)
    one = run_highs("joint branches (members, groups, walks)", col_cost, model.upper, True, model.a,
                    model.row_lo, model.row_hi, maximize=True,
                    time_limit_s=0.85 * deadline - 0.85 * time.perf_counter(), start=start,
                    mip_abs_gap=TIE_BREAK_ABS_GAP)
    bound = _members_bound(c, model.n_y, one, max_groups, k_member)
    if one.x is None:
        return None, one, bound
    x_pair = np.round(one.x[:model.n_p])
    site_of = _blocks_of_classes(c, model, cls, rep, x_pair)
    site_of = _shortest_walks(c, site_of, max(deadline - time.perf_counter(), 0.01))
    return site_of, one, bound


#: Share of a large component's time left (after the greedy grouping and its flow) that the
#: Lagrangian bound may take; the walks get the rest (``siting/budget.py``, ``FRACTIONS``).
LAGRANGE_SHARE = FRACTIONS["joint_component.lagrange"]
#: Rounds of "top the units up, flow again" after the first flow.
FLOW_ROUNDS = 3


def _lagrangian_answer(
    c: _Component, greedy: np.ndarray, deadline: float,
    result: Callable[[np.ndarray, str, float | None, int, str], tuple[np.ndarray, ComponentResult]],
) -> tuple[np.ndarray, ComponentResult]:
    """A component too large for HiGHS: units fixed, members by maximum flow; the Lagrangian bound.

    The greedy grouping's units, topped up to *U* per site (:func:`.flow.fill_units`), are
    kept and the members re-assigned by maximum flow (:func:`.flow.flow_regroup`); the
    units the flow used are topped up again and the flow repeated while it places more
    (``FLOW_ROUNDS``). The Lagrangian relaxation (:mod:`.lagrange`) proves the bound;
    with the open sites and units fixed, HiGHS then shortens the walks.
    """
    best = greedy
    placed = int(c.size[best >= 0].sum())
    last = 0.0  # seconds of the last flow round: the next one starts only when it fits
    flowed = False  # a flow round ran (whether or not it placed more)
    for swap in (False, True):  # top the units up and flow; then swap weak units and flow
        for _ in range(FLOW_ROUNDS + 1):
            if time.perf_counter() + last > deadline:
                break
            t_round = time.perf_counter()
            start = (drop_weak_units(c.pi, c.pj, c.unit, c.size, best, c.n_sites, max_members=c.max_members,
                                     max_units=c.max_units) if swap else best)
            keys = fill_units(c.pi, c.pj, c.unit, c.size, start, c.n_sites, max_units=c.max_units)
            site_of = flow_regroup(c.pi, c.pj, c.unit, c.size, keys, c.n_sites, min_members=c.min_members,
                                   max_members=c.max_members)
            now = int(c.size[site_of >= 0].sum())
            last = time.perf_counter() - t_round
            flowed = True
            if now <= placed:
                break
            best, placed = site_of, now
    lg = lagrangian(c.pi, c.pj, c.unit, c.size, c.n_sites, max_members=c.max_members, max_units=c.max_units,
                    target=placed, time_limit_s=LAGRANGE_SHARE * (deadline - time.perf_counter()))
    bound = min(_full_sites_bound(c), lg.bound)
    # the walks' model has a column per pair of an open site's units; HiGHS sets it up before it
    # looks at its time limit, so it runs only when that set-up fits in half the time left
    left = deadline - time.perf_counter()
    n_walk = int(np.isin(c.pj * c.n_units + c.unit[c.pi],
                         np.unique(best[best >= 0] * c.n_units + c.unit[best >= 0])).sum())
    if n_walk <= 0.5 * HIGHS_COLS_PER_S * left:
        best = _shortest_walks(c, best, max(left - n_walk / HIGHS_COLS_PER_S, 0.01), lp_only=True)
    log.info("joint branches: %d members placed by flow over fixed units (greedy %d) of at most %d "
             "(Lagrangian bound, %d iterations)", placed, int(c.size[greedy >= 0].sum()), bound, lg.iterations)
    if not flowed:  # no time for a flow round: the greedy grouping, with the Lagrangian bound
        return result(best, "optimal" if placed >= bound else "greedy", None, bound, "greedy")
    return result(best, "optimal" if placed >= bound else "time_limit", None, bound, "lagrangian")
