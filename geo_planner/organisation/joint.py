"""The joint-branch (联合党支部) model: group dispersed members around meeting places.

Let *I* be the joint-branch candidates, *J* the sites, *b(i)* member *i*'s original branch,
*t_ij* the walking minutes (only pairs with ``t_ij ≤ T = branch_walk_min`` exist:
``P = {(i, j) : t_ij ≤ T}``, from :func:`geo_planner.travel.cost_matrix`), *B_j* the branches
with a member in reach of *j*, *m*, *M*, *U* the minimum and maximum members and the maximum
units of a joint branch, and *c_j* the cost of a group at *j*: 1 for an existing station,
3 for a candidate place. Sites whose reachable members (counting only their *U* largest
reachable units) number fewer than *m* are removed first. All variables are binary::

    y_j   site j hosts a joint branch                       j ∈ J
    x_ij  member i joins the joint branch at j              (i, j) ∈ P
    z_jb  branch b has members in the joint branch at j     j ∈ J, b ∈ B_j

    maximise   K · Σ_P x_ij  −  Σ_J c_j · y_j  −  w · Σ_P (t_ij / T) · x_ij
    subject to
        Σ_j x_ij ≤ 1                         ∀ i            (one joint branch per member)
        x_ij ≤ z_j,b(i)                      ∀ (i, j) ∈ P   (a member brings its unit)
        Σ_b z_jb ≤ U · y_j                   ∀ j            (at most U units)
        z_jb ≤ y_j                           ∀ j, b ∈ B_j   (valid inequality, tightens the LP)
        m · y_j ≤ Σ_i x_ij ≤ M · y_j         ∀ j            (m to M members)

with ``w = 1/3`` (three members walking the whole threshold cost as much as one station
group) and ``K = 3 · min(|J|, ⌊|I| / m⌋) + w · |I| + 1``, more than all tie-break terms of
any solution together. So the number of members placed is maximised first; among equal
placements, existing stations are preferred to candidate places (two stations cost less
than one candidate place), then fewer groups and shorter walks. HiGHS stops at an absolute
gap of 0.5 (``TIE_BREAK_ABS_GAP``): the member count is then proved optimal and the
tie-breaks are within half a station group of the best. The walking bound needs no row:
pairs beyond *T* have no variable.

How it is solved. Members with the same unit and the same set of reachable sites are
interchangeable for every term but the walk, so the model is solved on classes *g* of such
members: one integer ``0 ≤ x_gj ≤ min(n_g, M)`` replaces their ``x_ij`` (with
``x_gj ≤ min(n_g, M) · z_j,b(g)``), and their walk is the class mean; this removes the
symmetry between such members and is exact for the member count and the groups. Then, with
the open sites and the units each one takes fixed, the exact walks are minimised::

    minimise   Σ t_ij · x_ij     over the pairs (i, j) with y_j = 1 and z_j,b(i) = 1
    subject to Σ_j x_ij ≤ 1  ∀ i,   m ≤ Σ_i x_ij ≤ M  ∀ j,   Σ x_ij = (members placed above)

a transportation problem (a network matrix), so its LP optimum is integral. Both models
are built from numpy arrays as one row-wise CSR matrix each and passed to HiGHS in a single
call. A greedy grouping (repeatedly open the site taking the most unplaced members of its
*U* largest units) is the starting solution, and the answer when HiGHS finds none within
the time limit (``method`` then says so); otherwise ``method`` gives HiGHS's relative gap.

Cohesion. Members of one unit who walk to each other within ``cohesion_min`` minutes are
a *block* (:func:`cohesion_blocks`) that joins one joint branch or none: the classes above
are then classes of equal blocks, ``x_gj`` counts blocks and the member rows weigh them by
their size ``s_g`` (``m·y_j ≤ Σ_g s_g·x_gj ≤ M·y_j``); the walking step becomes a small MIP
over blocks (still a transportation problem when every block is one member).

Components and time. Members whose reachable sites never overlap cannot share a branch:
the block–site graph is split into connected components, solved largest first, each with
its greedy start and a share of the time left in proportion to its pairs. Every step counts
against ``time_limit_s``; a component whose model has more than ``max_exact_size`` columns
(or more than HiGHS sets up in half its time share: HiGHS overran its limit on such models)
keeps the greedy grouping's units and re-assigns the members by maximum flow
(:mod:`.flow`), with the Lagrangian bound (:mod:`.lagrange`). The bound on the members
placed (HiGHS's dual bound, the Lagrangian bound, else every open site full) is reported per
component and summed; the gap reported is ``(bound − placed) / bound`` for every method.

The steps live in :mod:`.component` (one component: classes, the MILP, the walks),
:mod:`.greedy` (the greedy start) and :mod:`.solve` (the HiGHS call); this module checks the
input, gathers members into blocks, splits the components and sums their results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ..errors import InputError, Problem
from ..siting.budget import TimeBudget
from .component import ComponentResult, solve_component
from .greedy import top_units_per_site

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JointBranchSolution:
    """The joint-branch grouping of :func:`solve_joint_branches`.

    Attributes
    ----------
    site
        Per member (row of the cost matrix), the index of the site whose joint branch it
        joins, ``-1`` when not placed.
    minutes
        Per member, walking minutes to that site (NaN when not placed).
    status
        ``optimal`` (every component proved optimal on the members placed), ``time_limit`` (a
        component not proved optimal: HiGHS stopped at its share of the time limit, or the flow
        over fixed units stayed below its Lagrangian bound; ``gap`` says by how much),
        ``greedy`` (a component kept its greedy grouping: no time for the flow, or HiGHS found
        nothing) or ``empty`` (no site can host a joint branch).
    gap
        The honest gap on the members placed, ``(bound − placed) / bound`` (0 when nothing can
        be placed), whatever the method: 0 when the member count is proved optimal.
    solver_gap
        The largest relative MIP gap HiGHS reported on a component's whole objective (member
        count and tie-breaks; ``None`` when no component was handed to HiGHS).
    runtime_s
        Seconds of the whole call (every step).
    method
        Text for the ``method`` column, e.g. ``"highs (gap 0.00%)"``.
    components
        Per spatial component (largest first), what the model did there.
    bound
        Upper bound on the members any grouping can place (sum over the components); equal
        to :attr:`n_placed` when every component is optimal.
    blocks_split
        Neighbourhood blocks that could not be kept together (no common site, or larger
        than a joint branch) and were split into their members.
    """

    site: np.ndarray
    minutes: np.ndarray
    status: str
    gap: float | None
    runtime_s: float
    method: str
    components: tuple[ComponentResult, ...] = ()
    bound: int = 0
    blocks_split: int = 0
    solver_gap: float | None = None

    def summary(self) -> dict[str, object]:
        """Return the model's record for ``run.json``: method, status, gap, runtime, bound, components.

        ``gap`` is ``(bound − placed) / bound`` on the members placed for every method (greedy
        included); ``solver_gap`` is HiGHS's own relative gap on the whole objective.
        """
        comps = self.components
        return {
            "method": self.model_name, "status": self.status,
            "gap": None if self.gap is None else round(float(self.gap), 6),
            "solver_gap": None if self.solver_gap is None else round(float(self.solver_gap), 6),
            "runtime_s": round(float(self.runtime_s), 3), "placed": self.n_placed, "bound": int(self.bound),
            "greedy_placed": int(sum(c.greedy_placed for c in comps)),
            "components": len(comps),
            "components_by_status": {s: sum(c.status == s for c in comps)
                                     for s in sorted({c.status for c in comps})},
            "largest_component": ({"members": comps[0].members, "sites": comps[0].sites,
                                   "pairs": comps[0].pairs, "status": comps[0].status,
                                   "method": comps[0].method, "placed": comps[0].placed,
                                   "greedy_placed": comps[0].greedy_placed, "bound": comps[0].bound,
                                   "gap": round(members_gap(comps[0].placed, comps[0].bound), 6),
                                   "runtime_s": round(comps[0].runtime_s, 3),
                                   "time_limit_s": round(comps[0].time_limit_s, 3)} if comps else None),
            "blocks_split": int(self.blocks_split), "message": self.method,
        }

    @property
    def model_name(self) -> str:
        """``highs``, ``lagrangian`` (a component solved by flow over fixed units with the Lagrangian
        bound), ``greedy``, or several joined by ``+`` (largest component first)."""
        if self.status == "greedy" and not any(c.method == "lagrangian" for c in self.components):
            return "greedy"
        names = list(dict.fromkeys(c.method for c in self.components)) or ["highs"]
        return "+".join(names)

    @property
    def n_placed(self) -> int:
        """Number of members placed in a joint branch."""
        return int((self.site >= 0).sum())

    @property
    def open_sites(self) -> np.ndarray:
        """Indices of the sites hosting a joint branch, ascending."""
        return np.unique(self.site[self.site >= 0])


@dataclass(frozen=True)
class _Blocks:
    """Members gathered into blocks that join one joint branch or none, and their block–site pairs."""

    bid: np.ndarray  # block per member
    size: np.ndarray  # members per block
    unit: np.ndarray  # unit per block
    bi: np.ndarray  # block of each block–site pair
    bj: np.ndarray  # site of each pair
    bt: np.ndarray  # mean walk of the block's members to the site, minutes
    split: int  # neighbourhood blocks split into their members

    @property
    def n(self) -> int:
        """Number of blocks."""
        return int(self.size.size)


def _pairs(cost: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the stored entries of a CSR matrix as (row, col, value), by row then column."""
    cost = sparse.csr_matrix(cost)
    cost.sort_indices()
    rows = np.repeat(np.arange(cost.shape[0], dtype=np.int64), np.diff(cost.indptr))
    return rows, cost.indices.astype(np.int64), cost.data.astype(np.float64)


def _components(pi: np.ndarray, pj: np.ndarray, n_blocks: int, n_sites: int) -> tuple[int, np.ndarray]:
    """Split the block–site reachability graph into connected components: the component of every pair."""
    g = sparse.csr_matrix((np.ones(pi.size), (pi, n_blocks + pj)), shape=(n_blocks + n_sites,) * 2)
    n, label = csgraph.connected_components(g, directed=False)
    return n, label[pi]


def _check(
    n_m: int, n_s: int, unit: np.ndarray, is_station: np.ndarray, block: np.ndarray | None, *,
    min_members: int, max_members: int, max_units: int, threshold_min: float, time_limit_s: float,
) -> None:
    """Raise :class:`InputError` listing every way the arrays and bounds do not fit together."""
    problems = []
    if unit.shape != (n_m,):
        problems.append(Problem("joint branches", None, "unit",
                                f"needs one code per member ({n_m}), got shape {unit.shape}"))
    elif n_m and unit.min() < 0:
        problems.append(Problem("joint branches", None, "unit", "unit codes must be ≥ 0"))
    if is_station.shape != (n_s,):
        problems.append(Problem("joint branches", None, "is_station", f"needs one flag per site ({n_s})"))
    if not 1 <= min_members <= max_members:
        problems.append(Problem("joint branches", None, "min_members",
                                f"need 1 ≤ min_members ({min_members}) ≤ max_members ({max_members})"))
    if max_units < 1:
        problems.append(Problem("joint branches", None, "max_units", "must be ≥ 1"))
    if not (threshold_min > 0 and time_limit_s > 0):
        problems.append(Problem("joint branches", None, "threshold_min, time_limit_s", "must be > 0"))
    if block is not None:
        if block.shape != (n_m,):
            problems.append(Problem("joint branches", None, "block", f"needs one code per member ({n_m})"))
        elif n_m:
            b = block >= 0
            k, first = np.unique(block[b], return_index=True)
            if np.any(unit[b] != unit[b][first][np.searchsorted(k, block[b])]):
                problems.append(Problem("joint branches", None, "block",
                                        "members of one block must belong to one unit"))
    if problems:
        raise InputError(problems)


def _block_ids(
    pi: np.ndarray, pj: np.ndarray, n_m: int, n_s: int, block: np.ndarray | None, max_members: int
) -> tuple[np.ndarray, int, int]:
    """Block per member: kept neighbourhood blocks first, then one per single member.

    A neighbourhood block no site reaches as a whole, or larger than ``max_members``, is
    split into its members. Returns the block ids, the number of blocks and the number of
    neighbourhood blocks split.
    """
    code = np.full(n_m, -1, dtype=np.int64)
    if block is not None and (block >= 0).any():
        code[block >= 0] = np.unique(block[block >= 0], return_inverse=True)[1].ravel()
    single = code < 0
    broken = np.zeros(0, dtype=bool)
    if not single.all():
        size0 = np.bincount(code[code >= 0])
        # members of a block no site reaches as a whole, or of a block too large, become singles
        inb = code[pi] >= 0
        ukey, cnt = np.unique(code[pi][inb] * n_s + pj[inb], return_counts=True)
        has_common = np.zeros(size0.size, dtype=bool)
        has_common[ukey[cnt == size0[ukey // n_s]] // n_s] = True
        broken = (size0 > 1) & ((size0 > max_members) | ~has_common)
        c = np.maximum(code, 0)
        single |= (size0[c] <= 1) | broken[c]
    kept = np.unique(code[~single])
    bid = np.full(n_m, -1, dtype=np.int64)
    bid[~single] = np.searchsorted(kept, code[~single])
    bid[single] = kept.size + np.arange(int(single.sum()))
    return bid, kept.size + int(single.sum()), int(broken.sum())


def _blocks(
    pi: np.ndarray, pj: np.ndarray, pt: np.ndarray, unit: np.ndarray, n_s: int, block: np.ndarray | None,
    max_members: int,
) -> _Blocks:
    """Gather the members into blocks; a block reaches the sites every one of its members reaches."""
    n_m = unit.shape[0]
    bid, n_blocks, split = _block_ids(pi, pj, n_m, n_s, block, max_members)
    size = np.bincount(bid, minlength=n_blocks).astype(np.int64)
    b_unit = np.zeros(n_blocks, dtype=np.int64)
    b_unit[bid] = unit
    # block pairs: a member pair counts when every member of its block reaches the site
    key = bid[pi] * n_s + pj
    ukey, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    tsum = np.bincount(inv, weights=pt)
    whole = cnt == size[ukey // n_s]
    if split:
        log.info("joint branches: %d neighbourhood block(s) cannot meet at one site as a whole (or exceed "
                 "%d members) and are split into their members", split, max_members)
    return _Blocks(bid, size, b_unit, ukey[whole] // n_s, ukey[whole] % n_s, (tsum / cnt)[whole], split)


def _solve_components(
    bl: _Blocks, is_station: np.ndarray, budget: TimeBudget, *, decompose: bool,
    progress: Callable[[str, float], None] | None, min_members: int, max_members: int, max_units: int,
    threshold_min: float, max_exact_size: int, lagrangian: bool = True,
) -> tuple[np.ndarray, list[ComponentResult]]:
    """Solve every component of the block–site graph, largest first: the site per block.

    Each component gets its share of the time left in ``budget``, in proportion to its pairs.
    """
    n_s = is_station.shape[0]
    n_comp, comp_of_pair = _components(bl.bi, bl.bj, bl.n, n_s)
    if not decompose:
        n_comp, comp_of_pair = 1, np.zeros(bl.bi.size, dtype=np.int64)
    comp_pairs = np.bincount(comp_of_pair, minlength=n_comp)
    order = np.argsort(-comp_pairs, kind="stable")
    order = order[comp_pairs[order] > 0]
    by_comp = np.argsort(comp_of_pair, kind="stable")
    ptr = np.r_[0, np.cumsum(comp_pairs)]
    block_site = np.full(bl.n, -1, dtype=np.int64)
    results: list[ComponentResult] = []
    pending = float(comp_pairs.sum())
    for rank, c in enumerate(order, start=1):
        sel = by_comp[ptr[c]:ptr[c + 1]]
        blocks_c, li = np.unique(bl.bi[sel], return_inverse=True)
        sites_c, lj = np.unique(bl.bj[sel], return_inverse=True)
        _, lu = np.unique(bl.unit[blocks_c], return_inverse=True)
        if progress is not None:
            progress(f"joint branches, component {rank} of {order.size}",
                     1.0 - pending / max(comp_pairs.sum(), 1))
        share = budget.share(float(sel.size), pending)
        pending -= sel.size
        site_local, res = solve_component(
            li.ravel(), lj.ravel(), bl.bt[sel], lu.ravel(), bl.size[blocks_c], is_station[sites_c],
            n_blocks=blocks_c.size, min_members=min_members, max_members=max_members, max_units=max_units,
            threshold_min=threshold_min, time_limit_s=share, max_exact_size=max_exact_size,
            lagrangian=lagrangian)
        placed = site_local >= 0
        block_site[blocks_c[placed]] = sites_c[site_local[placed]]
        results.append(res)
    return block_site, results


def members_gap(placed: int, bound: int) -> float:
    """The honest gap on the members placed: ``(bound − placed) / bound`` (0 when ``bound`` is 0)."""
    return (bound - placed) / bound if bound > 0 else 0.0


def _method(state: str, gap: float, time_limit_s: float, n_components: int, placed: int, bound: int,
            lagrangian: bool = False) -> str:
    """Text for the ``method`` column: the model, the gap on the members placed and, unless optimal, the bound.

    A greedy answer (or the flow's) does not depend on the machine's speed, so its text names no seconds
    (the time left varies from run to run; ``run.json`` has it): the same scenario gives the
    same recommendations file serially and on a Dask worker.
    """
    gap_txt = f"gap {100 * gap:.2f}%"
    parts = f", {n_components} components" if n_components > 1 else ""
    if state == "greedy":
        return (f"greedy (model too large for the time limit, or no HiGHS solution within it{parts}; "
                f"{placed} members placed of at most {bound}, {gap_txt})")
    if state == "time_limit" and lagrangian:  # the flow's answer does not depend on the machine: no seconds
        return (f"flow over fixed units, Lagrangian bound (not proved optimal{parts}; {placed} members placed "
                f"of at most {bound}, {gap_txt})")
    if state == "time_limit":
        return (f"highs (time limit {time_limit_s:g} s{parts}; {placed} members placed of at most {bound}, "
                f"{gap_txt})")
    if lagrangian:
        return f"flow over fixed units, Lagrangian bound ({gap_txt}{parts})"
    return f"highs ({gap_txt}{parts})"


def solve_joint_branches(
    cost: sparse.csr_matrix | sparse.csr_array,
    unit: np.ndarray,
    is_station: np.ndarray,
    *,
    min_members: int = 3,
    max_members: int = 50,
    max_units: int = 5,
    threshold_min: float = 20.0,
    time_limit_s: float = 60.0,
    block: np.ndarray | None = None,
    progress: Callable[[str, float], None] | None = None,
    max_exact_size: int = 100_000,
    decompose: bool = True,
    lagrangian: bool = True,
) -> JointBranchSolution:
    """Group members into joint branches around sites (the model of the module docstring).

    Members whose reachable sites never overlap cannot share a joint branch, so the problem
    is split into the connected components of the member–site graph and each is solved on
    its own, largest first, each with the greedy start and its share of the time left
    (in proportion to its pairs); the bound on the members placed is the sum of the
    components' bounds.

    Parameters
    ----------
    cost
        Sparse ``members × sites`` walking minutes; a stored entry means the pair is within
        ``threshold_min`` (stored entries above it are ignored).
    unit
        Per member, an integer code (≥ 0) of its original branch (unit).
    is_station
        Per site, True for an existing station (preferred over a candidate place).
    min_members, max_members
        Members of one joint branch.
    max_units
        Original branches one joint branch may draw from.
    threshold_min
        Walking minutes every member may need at most.
    time_limit_s
        Time limit for the whole call, seconds (every step counted).
    block
        Optional neighbourhood code per member (≥ 0; ``-1`` for none): members with the same
        code belong to one unit and join the same joint branch or none (cohesion, see
        :func:`cohesion_blocks`). A block no site reaches as a whole, or larger than
        ``max_members``, is split into its members (counted in ``blocks_split``).
    progress
        Called as ``progress(text, fraction)`` before each component.
    max_exact_size
        Largest model (columns of the class-aggregated MILP) handed to HiGHS; a larger
        component, or one HiGHS could not set up in half its time share
        (``HIGHS_COLS_PER_S``), keeps its greedy grouping (``status`` ``greedy``). HiGHS
        does not look at its time limit while it sets a model up (measured: 52 s past a
        15 s limit at 319k columns, before its first LP iteration).
    decompose
        Solve the spatial components separately (``False``: one model for all, the baseline
        of ``benchmarks/city.py``).
    lagrangian
        A component too large for HiGHS is solved by the Lagrangian method
        (:mod:`.lagrange`: a proven bound, and HiGHS on the units the relaxation chose);
        ``False`` keeps the greedy grouping there (the baseline of ``benchmarks/joint.py``).

    Returns
    -------
    JointBranchSolution

    Raises
    ------
    InputError
        If the arrays do not fit together or the bounds are inconsistent.
    SolverError
        If HiGHS rejects a model.
    """
    t_start = time.perf_counter()
    cost = sparse.csr_matrix(cost)
    unit = np.asarray(unit, dtype=np.int64)
    is_station = np.asarray(is_station, dtype=bool)
    block = None if block is None else np.asarray(block, dtype=np.int64)
    n_m, n_s = cost.shape
    _check(n_m, n_s, unit, is_station, block, min_members=min_members, max_members=max_members,
           max_units=max_units, threshold_min=threshold_min, time_limit_s=time_limit_s)
    budget = TimeBudget(time_limit_s)
    pi, pj, pt = _pairs(cost)
    ok = np.isfinite(pt) & (pt <= threshold_min + 1e-6)
    pi, pj, pt = pi[ok], pj[ok], pt[ok]
    # Sites that cannot gather min_members from their max_units largest units never open.
    n_units = int(unit.max()) + 1 if n_m else 1
    ok = top_units_per_site(pj, unit[pi], n_units, max_units, n_s)[pj] >= min_members
    pi, pj, pt = pi[ok], pj[ok], pt[ok]
    if pi.size == 0:
        return JointBranchSolution(np.full(n_m, -1, dtype=np.int64), np.full(n_m, np.nan), "empty", 0.0, 0.0,
                                   "highs (gap 0.00%)")
    bl = _blocks(pi, pj, pt, unit, n_s, block, max_members)
    block_site, results = _solve_components(
        bl, is_station, budget, decompose=decompose, progress=progress, min_members=min_members,
        max_members=max_members, max_units=max_units, threshold_min=threshold_min,
        max_exact_size=max_exact_size, lagrangian=lagrangian)
    site_of = block_site[bl.bid]
    minutes = np.full(n_m, np.nan)
    placed = site_of >= 0
    minutes[placed] = np.asarray(cost[np.flatnonzero(placed), site_of[placed]]).ravel()
    statuses = {r.status for r in results}
    state = ("greedy" if "greedy" in statuses else "time_limit" if "time_limit" in statuses
             else "optimal" if results else "empty")
    gaps = [r.gap for r in results if r.gap is not None]
    solver_gap = max(gaps) if gaps else None
    bound = int(sum(r.bound for r in results))
    gap = members_gap(int(placed.sum()), bound)
    runtime = time.perf_counter() - t_start
    log.info("joint branches: %d of %d members placed in %d groups, %d component(s), %s in %.3f s "
             "(greedy: %d; bound %d)", int(placed.sum()), int(np.unique(pi).size),
             np.unique(site_of[placed]).size, len(results), state, runtime,
             sum(r.greedy_placed for r in results), bound)
    return JointBranchSolution(site_of, minutes, state, gap, runtime,
                               _method(state, gap, time_limit_s, len(results), int(placed.sum()), bound,
                                       any(r.method == "lagrangian" for r in results)),
                               components=tuple(results), bound=bound, blocks_split=bl.split,
                               solver_gap=solver_gap)
