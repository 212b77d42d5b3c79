"""Branch reorganisation: joint branches, transfers, party groups and remote branches.

:func:`recommend_branches` turns the members flagged *dispersed* (居住分散) by the dispersion
stage into recommendations that follow the branch work rules (a branch has at least 3 and
usually at most 50 full party members; a joint branch usually covers at most 5 units):

1. **joint_branch** (联合党支部) — dispersed members who are not remote and are on the walking
   network are grouped around a meeting place (a station or a candidate public place) that
   *every* member of the group reaches on foot within ``thresholds.branch_walk_min``. The
   grouping is the MILP below, solved with HiGHS (:func:`solve_joint_branches`).
2. **transfer** (就近参加活动, 一方隶属、多方管理) — a dispersed, non-remote member left out of
   every joint branch but within ``branch_walk_min`` of **another** branch's meeting place is
   sent to the nearest such branch. There is **one row per target branch**, listing every
   member sent there (a secretary receives one list); membership stays with the original
   branch, which is why the target's size is not checked.
3. **party_group** (党小组) — a branch with at least ``2 × min_branch_members`` members left
   after (1), (2) and (4) whose members live in at least two residence areas of at least
   ``party_group_min_members`` members each gets one party group per area. The area is the
   township; when fewer than two townships reach that size (the branch lives in one
   township) it is the community. Members of smaller areas (and members without an area)
   join the group whose centre is nearest (the largest group when they have no location).
   A group meets at its *network medoid*: the member minimising the total walk of the group.
4. **remote_branch** (异地支部) / **mobile_member** (流动党员) — ``remote`` members grouped by
   ``member_city``: a city with at least ``min_branch_members`` of them gets a remote branch
   (split only when larger than ``max_branch_members``, and then by where they live: by
   county-level division, then 街道/乡镇, then along the longer axis, parts merged back with
   their nearest neighbour while they fit — see :func:`split_by_residence`)
   meeting at the network medoid of its members (the centroid when none is on the network);
   a smaller city gets one ``mobile_member`` row: manage them as mobile party members and
   keep contact through their branch.

Joint-branch model
------------------
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
keeps its greedy grouping (HiGHS overran its limit on such models). The bound on the members
placed (HiGHS's dual bound, else every open site full) is reported per component and summed.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse.csgraph import dijkstra

from ..errors import InputError, Problem, SolverError
from ..network import RoadNetwork, Snap
from ..settings import BranchSettings, Thresholds
from ..travel import cost_matrix
from .budget import MIN_SHARE_S, TimeBudget
from .schema import RECOMMENDATION_COLUMNS, RecommendationKind, empty_recommendations

log = logging.getLogger(__name__)

#: Columns :func:`recommend_branches` needs in each input table.
MEMBER_COLUMNS: tuple[str, ...] = (
    "id", "branch_id", "lon", "lat", "walk_min_branch", "network_status", "dispersed", "dispersion_reason",
    "member_city",
)
BRANCH_COLUMNS: tuple[str, ...] = ("id", "name", "lon", "lat")
SITE_COLUMNS: tuple[str, ...] = ("id", "name", "kind", "lon", "lat")
#: Columns of the per-member assignment table.
ASSIGNMENT_COLUMNS: tuple[str, ...] = ("id", "rec_id", "kind")

#: Reasons (in ``dispersion_reason``) that make a member a joint-branch / transfer candidate.
LOCAL_REASONS = frozenset({"cross_township", "far"})

_MEDOID_CANDIDATES = 50  # members tried as a group's meeting point (nearest to its centre)
_MEDOID_CUTOFF_MIN = 10_000.0  # "no cutoff" for medoid walks (a finite number keeps matrices sparse)
#: Joint-branch tie-breaks: a member walking the whole threshold costs WALK_WEIGHT (a station
#: group costs 1, a candidate-place group 3).
WALK_WEIGHT = 1.0 / 3.0
#: Absolute MIP gap at which the joint-branch model stops: below one member (so the member
#: count is optimal) and below half a station group.
TIE_BREAK_ABS_GAP = 0.5
#: Columns of the joint-branch model HiGHS sets up per second before it first checks its time
#: limit (measured here: 70k columns took 5 s and 140k columns 10–12 s under a 1–3 s limit).
HIGHS_COLS_PER_S = 14_000
#: Share of :func:`recommend_branches`'s time limit the joint-branch model may use (the rules
#: — transfers, remote branches, party groups — take the rest; they are not time-limited).
JOINT_SHARE = 0.9
#: Above this many columns HiGHS runs without presolve: on the city benchmark (319k columns)
#: its presolve ran for minutes without looking at the time limit.
PRESOLVE_MAX_COLUMNS = 50_000


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
        ``optimal`` (every component proved optimal), ``time_limit`` (a component stopped at
        its share of the time limit with a solution), ``greedy`` (HiGHS found nothing on a
        component, which keeps its greedy grouping) or ``empty`` (no site can host a joint
        branch).
    gap
        The largest relative MIP gap HiGHS reported on a component (0 when every one is
        proved optimal; ``None`` without HiGHS).
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

    def summary(self) -> dict[str, object]:
        """The model's record for ``run.json``: method, status, gap, runtime, bound, components."""
        comps = self.components
        return {
            "method": "greedy" if self.status == "greedy" else "highs", "status": self.status,
            "gap": None if self.gap is None else round(float(self.gap), 6),
            "runtime_s": round(float(self.runtime_s), 3), "placed": self.n_placed, "bound": int(self.bound),
            "greedy_placed": int(sum(c.greedy_placed for c in comps)),
            "components": len(comps),
            "components_by_status": {s: sum(c.status == s for c in comps)
                                     for s in sorted({c.status for c in comps})},
            "largest_component": ({"members": comps[0].members, "sites": comps[0].sites,
                                   "pairs": comps[0].pairs, "status": comps[0].status,
                                   "runtime_s": round(comps[0].runtime_s, 3),
                                   "time_limit_s": round(comps[0].time_limit_s, 3)} if comps else None),
            "blocks_split": int(self.blocks_split), "message": self.method,
        }

    @property
    def n_placed(self) -> int:
        """Number of members placed in a joint branch."""
        return int((self.site >= 0).sum())

    @property
    def open_sites(self) -> np.ndarray:
        """Indices of the sites hosting a joint branch, ascending."""
        return np.unique(self.site[self.site >= 0])


# --------------------------------------------------------------------------- the MILP


def _pairs(cost: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the stored entries of a CSR matrix as (row, col, value), by row then column."""
    cost = sparse.csr_matrix(cost)
    cost.sort_indices()
    rows = np.repeat(np.arange(cost.shape[0], dtype=np.int64), np.diff(cost.indptr))
    return rows, cost.indices.astype(np.int64), cost.data.astype(np.float64)


def _top_units_per_site(
    pj: np.ndarray, unit_of_pair: np.ndarray, n_units: int, max_units: int, n_sites: int,
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every site, the members reachable from its ``max_units`` largest units.

    Returns ``(value, keys, keep_key)``: ``value[j]`` is that member count (the sum of the
    pairs' ``weight``, 1 each by default), ``keys`` the unique ``site * n_units + unit`` keys
    of the pairs and ``keep_key`` whether a key is one of its site's ``max_units`` largest units.
    """
    keys, inverse = np.unique(pj * n_units + unit_of_pair, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weight, minlength=keys.size)
    value, keep_key = _top_units_value(keys // n_units, counts, max_units, n_sites)
    return value, keys, keep_key


def _top_units_value(
    key_site: np.ndarray, counts: np.ndarray, max_units: int, n_sites: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per site, the sum of its ``max_units`` largest key counts, and which keys those are."""
    order = np.lexsort((-counts, key_site))  # by site, then largest unit first
    s_sorted = key_site[order]
    new_site = np.r_[True, s_sorted[1:] != s_sorted[:-1]] if s_sorted.size else np.empty(0, dtype=bool)
    start = np.maximum.accumulate(np.where(new_site, np.arange(s_sorted.size), 0))
    keep_key = np.empty(key_site.size, dtype=bool)
    keep_key[order] = (np.arange(s_sorted.size) - start) < max_units
    value = np.bincount(key_site[keep_key], weights=counts[keep_key], minlength=n_sites)
    return value, keep_key


def _greedy_joint(
    pi: np.ndarray, pj: np.ndarray, pt: np.ndarray, unit: np.ndarray, is_station: np.ndarray,
    *, n_members: int, min_members: int, max_members: int, max_units: int,
    size: np.ndarray | None = None, deadline: float | None = None,
) -> np.ndarray:
    """Greedy grouping: open the site taking the most unplaced members of its largest units.

    ``pi`` indexes *blocks* of ``size`` members (1 each by default) that must stay together.
    A site's value (members of its ``max_units`` largest units still unplaced, at most
    ``max_members``) only falls as blocks are placed, so the sites sit in a heap with their
    last known value and only the top one is re-evaluated (lazy greedy): the site opened is
    the one with the highest current value (ties: a station, then the lower index), as in a
    full scan. Stops early (with what it has placed, a feasible grouping) at ``deadline``
    (``time.perf_counter()``). Returns the site per block (``-1`` when not placed).
    """
    n_sites = is_station.shape[0]
    size = np.ones(n_members, dtype=np.int64) if size is None else np.asarray(size, dtype=np.int64)
    n_units = int(unit.max()) + 1 if unit.size else 1
    site_of = np.full(n_members, -1, dtype=np.int64)
    if pi.size == 0:
        return site_of
    keys, key_of_pair = np.unique(pj * n_units + unit[pi], return_inverse=True)
    key_of_pair = key_of_pair.ravel()
    key_ptr = np.searchsorted(keys // n_units, np.arange(n_sites + 1))  # keys sorted by site, then unit
    w = size[pi].astype(np.float64)
    counts = np.bincount(key_of_pair, weights=w, minlength=keys.size)
    by_block = np.argsort(pi, kind="stable")
    block_ptr = np.r_[0, np.cumsum(np.bincount(pi, minlength=n_members))]
    by_site = np.lexsort((pt, pj))  # per site, shortest walk first
    site_ptr = np.r_[0, np.cumsum(np.bincount(pj, minlength=n_sites))]
    rank = np.lexsort((np.arange(n_sites), ~is_station))  # ties: a station first, then the lower index
    tie = np.empty(n_sites, dtype=np.int64)
    tie[rank] = np.arange(n_sites)

    def value(j: int) -> tuple[float, np.ndarray]:
        c = counts[key_ptr[j]:key_ptr[j + 1]]
        top = np.argsort(-c, kind="stable")[:max_units]
        return min(float(c[top].sum()), float(max_members)), top

    heap = [(-value(j)[0], int(tie[j]), j) for j in range(n_sites) if key_ptr[j + 1] > key_ptr[j]]
    heap = [h for h in heap if -h[0] >= min_members]
    heapq.heapify(heap)
    opened = 0
    while heap:
        if deadline is not None and opened and time.perf_counter() > deadline:
            log.info("joint branches: greedy start stopped at its time share (%d sites opened)", opened)
            break
        neg, t, j = heapq.heappop(heap)
        v, top = value(j)
        if v < min_members:
            continue  # values only fall: this site never opens
        if v < -neg - 1e-9:
            heapq.heappush(heap, (-v, t, j))
            continue
        units = keys[key_ptr[j]:key_ptr[j + 1]][top] % n_units
        mine = by_site[site_ptr[j]:site_ptr[j + 1]]
        mine = mine[(site_of[pi[mine]] < 0) & np.isin(unit[pi[mine]], units)]
        fits = np.cumsum(size[pi[mine]]) <= max_members  # shortest walks first, while they fit
        take = pi[mine[fits]]
        if size[take].sum() < min_members:  # the blocks do not pack: never try this site again
            continue
        site_of[take] = j
        opened += 1
        gone = np.concatenate([by_block[block_ptr[b]:block_ptr[b + 1]] for b in take])
        np.subtract.at(counts, key_of_pair[gone], w[gone])
    return site_of


def _member_classes(
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
class _Outcome:
    state: str
    x: np.ndarray | None
    gap: float | None
    runtime_s: float
    objective: float = math.nan
    bound: float = math.nan


def _run_highs(
    label: str, col_cost: np.ndarray, col_upper: np.ndarray, integer: bool, a: sparse.csr_matrix,
    row_lo: np.ndarray, row_hi: np.ndarray, *, maximize: bool, time_limit_s: float,
    start: np.ndarray | None = None, mip_abs_gap: float = 1e-6,
) -> _Outcome:
    """Pass a model to HiGHS as one row-wise CSR matrix (columns ≥ 0), warm-start and solve it."""
    n_col, n_row = col_cost.shape[0], a.shape[0]
    a = sparse.csr_matrix(a)
    a.sort_indices()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.01)))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    h.setOptionValue("random_seed", 0)
    if n_col > PRESOLVE_MAX_COLUMNS:  # HiGHS's presolve does not stop at the time limit on large models
        h.setOptionValue("presolve", "off")
    status = h.passModel(
        int(n_col), int(n_row), int(a.nnz),
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize), 0.0,
        np.ascontiguousarray(col_cost, dtype=np.float64), np.zeros(n_col),
        np.ascontiguousarray(col_upper, dtype=np.float64),
        np.ascontiguousarray(row_lo, dtype=np.float64), np.ascontiguousarray(row_hi, dtype=np.float64),
        np.ascontiguousarray(a.indptr, dtype=np.int32), np.ascontiguousarray(a.indices, dtype=np.int32),
        np.ascontiguousarray(a.data, dtype=np.float64), np.full(n_col, 1 if integer else 0, dtype=np.int32),
    )
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"{label}: HiGHS rejected the model ({n_col} columns, {n_row} rows)")
    if start is not None:  # every column: a partial start would make HiGHS solve a sub-MIP to complete it
        h.setSolution(int(n_col), np.arange(n_col, dtype=np.int32),
                      np.ascontiguousarray(start, dtype=np.float64))
    log.debug("%s: HiGHS starts (%d cols, %d rows, %d nz, time limit %.3g s)", label, n_col, n_row, a.nnz,
              time_limit_s)
    t0 = time.perf_counter()
    h.run()
    runtime = time.perf_counter() - t0
    model_status = h.getModelStatus()
    info = h.getInfo()
    if model_status == highspy.HighsModelStatus.kOptimal:
        state = "optimal"
    elif model_status == highspy.HighsModelStatus.kTimeLimit:
        state = "time_limit"
    else:
        state = h.modelStatusToString(model_status).lower().replace(" ", "_")
    x = None
    if int(info.primal_solution_status) == 2:
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    gap = float(info.mip_gap) if integer and np.isfinite(info.mip_gap) else None
    objective = float(info.objective_function_value) if x is not None else math.nan
    bound = float(info.mip_dual_bound) if integer and np.isfinite(info.mip_dual_bound) else math.nan
    if not integer and x is not None:
        gap, bound = 0.0, objective
    log.info("%s: HiGHS %s in %.3f s (%d cols, %d rows, %d nz), objective %.6g, gap %s", label, state,
             runtime, n_col, n_row, a.nnz, objective, gap)
    return _Outcome(state, x, gap, runtime, objective, bound)


def _assemble(blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]], n_col: int
              ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Stack row blocks ``(row, col, value, lower, upper)`` into one CSR matrix and its row bounds."""
    offsets = np.cumsum([0] + [b[3].size for b in blocks])
    rows = np.concatenate([b[0] + off for b, off in zip(blocks, offsets[:-1], strict=True)])
    cols = np.concatenate([b[1] for b in blocks])
    vals = np.concatenate([b[2] for b in blocks])
    a = sparse.csr_matrix((vals, (rows, cols)), shape=(int(offsets[-1]), n_col))
    return a, np.concatenate([b[3] for b in blocks]), np.concatenate([b[4] for b in blocks])


@dataclass(frozen=True)
class ComponentResult:
    """What the joint-branch model did on one spatial component (see :func:`solve_joint_branches`).

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


def _solve_component(
    pi: np.ndarray, pj: np.ndarray, pt: np.ndarray, unit: np.ndarray, size: np.ndarray,
    is_station: np.ndarray, *, n_blocks: int, min_members: int, max_members: int, max_units: int,
    threshold_min: float, time_limit_s: float, max_exact_size: int = 100_000,
) -> tuple[np.ndarray, ComponentResult]:
    """Solve the joint-branch model on one component (local block and site indices).

    ``pt`` is the block's mean walk to the site (minutes). Returns the site per block
    (``-1`` not placed) and the component's result.
    """
    t_start = time.perf_counter()
    deadline = t_start + time_limit_s
    n_s = is_station.shape[0]
    n_units = int(unit.max()) + 1
    n_members = int(size[np.unique(pi)].sum())
    # ---- the class-aggregated model: x_gj counts blocks of class g at site j
    cls, rep = _member_classes(pi, pj, unit, n_blocks, n_s, size)
    cp = np.unique(cls[pi] * n_s + pj)  # the model's columns: class pairs, (site, unit) pairs, sites
    n_cols = cp.size + np.unique((cp % n_s) * n_units + unit[rep[cp // n_s]]).size + np.unique(cp % n_s).size
    # HiGHS spends about n_cols / HIGHS_COLS_PER_S seconds before it looks at its time limit:
    # hand it the model only when that fits in half of the component's share
    exact = n_cols <= max_exact_size and n_cols <= 0.5 * HIGHS_COLS_PER_S * time_limit_s
    # the greedy start gets a fifth of the time, or all of it when it is the answer
    greedy = _greedy_joint(pi, pj, pt, unit, is_station, n_members=n_blocks, min_members=min_members,
                           max_members=max_members, max_units=max_units, size=size,
                           deadline=t_start + (0.2 if exact else 0.95) * time_limit_s)
    greedy_placed = int(size[greedy >= 0].sum())
    n_g = np.bincount(cls[cls >= 0], minlength=rep.size)
    s_g = size[rep].astype(np.float64)
    is_rep = rep[cls[pi]] == pi
    gi, gj = cls[pi[is_rep]], pj[is_rep]
    order = np.lexsort((gj, gi))
    gi, gj = gi[order], gj[order]  # class pairs, sorted by class then site
    sites, gj_c = np.unique(gj, return_inverse=True)
    gj_c = gj_c.ravel()
    n_p, n_y = gi.size, sites.size
    g_unit = unit[rep]
    zkeys, pz = np.unique(gj_c * n_units + g_unit[gi], return_inverse=True)
    pz = pz.ravel()
    n_z = zkeys.size
    z_site = zkeys // n_units
    col_x, col_z, col_y = np.arange(n_p), n_p + np.arange(n_z), n_p + n_z + np.arange(n_y)
    n_col = n_p + n_z + n_y
    cap = np.minimum(n_g[gi], np.floor(max_members / s_g[gi])).astype(np.float64)
    ones_p, inf_p = np.ones(n_p), np.full(n_p, np.inf)
    sz_p = s_g[gi]
    blocks = [
        # Σ_j x_gj ≤ n_g
        (gi, col_x, ones_p, np.full(rep.size, -np.inf), n_g.astype(np.float64)),
        # m·y_j ≤ Σ_g s_g·x_gj  and  Σ_g s_g·x_gj ≤ M·y_j
        (np.r_[gj_c, np.arange(n_y)], np.r_[col_x, col_y], np.r_[sz_p, np.full(n_y, -float(min_members))],
         np.zeros(n_y), np.full(n_y, np.inf)),
        (np.r_[gj_c, np.arange(n_y)], np.r_[col_x, col_y], np.r_[sz_p, np.full(n_y, -float(max_members))],
         np.full(n_y, -np.inf), np.zeros(n_y)),
        # x_gj ≤ cap_gj·z_j,b(g)
        (np.repeat(np.arange(n_p), 2), np.column_stack([col_x, col_z[pz]]).ravel(),
         np.column_stack([ones_p, -cap]).ravel(), -inf_p, np.zeros(n_p)),
        # Σ_b z_jb ≤ U·y_j
        (np.r_[z_site, np.arange(n_y)], np.r_[col_z, col_y],
         np.r_[np.ones(n_z), np.full(n_y, -float(max_units))], np.full(n_y, -np.inf), np.zeros(n_y)),
        # z_jb ≤ y_j
        (np.repeat(np.arange(n_z), 2), np.column_stack([col_z, col_y[z_site]]).ravel(),
         np.tile([1.0, -1.0], n_z), np.full(n_z, -np.inf), np.zeros(n_z)),
    ]
    if not exact:  # HiGHS would not keep to the time limit on a model this large
        log.warning("joint branches: a component of %d members gives a model of %d columns (max_exact_size "
                    "%d, %.3g s for this component); the greedy grouping is the answer (bound: every site "
                    "full)", n_members, n_col, max_exact_size, time_limit_s)
        bound = min(n_members, n_y * max_members)
        return greedy, ComponentResult(
            members=n_members, sites=int(np.unique(pj).size), pairs=int(pi.size), status="greedy",
            placed=greedy_placed, greedy_placed=greedy_placed, bound=max(bound, greedy_placed), gap=None,
            time_limit_s=time_limit_s, runtime_s=time.perf_counter() - t_start)
    assert n_col == n_cols
    a, row_lo, row_hi = _assemble(blocks, n_col)
    upper = np.r_[cap, np.ones(n_z + n_y)]

    # greedy start in class terms
    start = np.zeros(n_col)
    placed = greedy >= 0
    if placed.any():
        key = cls[placed] * n_s + greedy[placed]
        pos = np.searchsorted(gi * n_s + gj, key)
        np.add.at(start, col_x[pos], 1.0)
        used = start[:n_p] > 0
        start[col_z[np.unique(pz[used])]] = 1.0
        start[col_y[np.unique(gj_c[used])]] = 1.0

    # most members first (K per member outweighs every tie-break), then cheap groups and short walks
    pair_of = np.searchsorted(gi * n_s + gj, cls[pi] * n_s + pj)  # class pair of every block pair
    walk_mean = (np.bincount(pair_of, weights=pt / threshold_min, minlength=n_p)
                 / np.bincount(pair_of, minlength=n_p))
    group_cost = 1.0 + 2.0 * (~is_station[sites]).astype(np.float64)
    max_groups = 3.0 * min(n_y, max(1, n_members // min_members))
    k_member = max_groups + WALK_WEIGHT * n_members + 1.0
    one = _run_highs("joint branches (members, groups, walks)",
                     np.r_[sz_p * (k_member - WALK_WEIGHT * walk_mean), np.zeros(n_z), -group_cost], upper,
                     True, a, row_lo, row_hi, maximize=True,
                     time_limit_s=0.85 * deadline - 0.85 * time.perf_counter(), start=start,
                     mip_abs_gap=TIE_BREAK_ABS_GAP)
    # members placed ≤ (objective bound + every group cost) / (K − w): the bound in members
    bound = min(n_members, n_y * max_members)  # every open site full: the trivial bound
    if np.isfinite(one.bound):
        bound = min(bound, int(math.floor((one.bound + max_groups) / (k_member - WALK_WEIGHT) + 1e-9)))

    def result(site_of: np.ndarray, status: str, gap: float | None) -> tuple[np.ndarray, ComponentResult]:
        placed_now = int(size[site_of >= 0].sum())
        return site_of, ComponentResult(
            members=n_members, sites=int(np.unique(pj).size), pairs=int(pi.size), status=status,
            placed=placed_now, greedy_placed=greedy_placed, bound=max(bound, placed_now), gap=gap,
            time_limit_s=time_limit_s, runtime_s=time.perf_counter() - t_start)

    if one.x is None:
        log.warning("joint branches: HiGHS found no solution (%s) within %.3g s on a component of %d "
                    "members; using the greedy grouping", one.state, time_limit_s, n_members)
        return result(greedy, "greedy", None)
    x_pair = np.round(one.x[:n_p])
    n_best = float((x_pair * sz_p).sum())

    # hand out each class's blocks to its sites (the start of the walking model below)
    site_of = np.full(n_blocks, -1, dtype=np.int64)
    order = np.argsort(cls, kind="stable")
    order = order[cls[order] >= 0]
    first_of = np.searchsorted(cls[order], np.arange(rep.size))
    k = x_pair.astype(np.int64)
    cls_rep, site_rep = np.repeat(gi, k), np.repeat(gj, k)
    within = np.arange(cls_rep.size) - np.searchsorted(cls_rep, cls_rep)
    site_of[order[first_of[cls_rep] + within]] = site_rep

    # ---- shortest walks for these groups and units: blocks to the open (site, unit) pairs
    open_units = np.unique(gj[x_pair > 0] * n_units + g_unit[gi[x_pair > 0]])
    allow = np.isin(pj * n_units + unit[pi], open_units)
    qi, qj, qt = pi[allow], pj[allow], pt[allow]
    q_sites, qj_c = np.unique(qj, return_inverse=True)
    q_mem, qi_c = np.unique(qi, return_inverse=True)
    qi_c, qj_c = qi_c.ravel(), qj_c.ravel()
    n_q = qi.size
    ones_q, sq = np.ones(n_q), size[qi].astype(np.float64)
    a3, lo3, hi3 = _assemble([
        (qi_c, np.arange(n_q), ones_q, np.full(q_mem.size, -np.inf), np.ones(q_mem.size)),
        (qj_c, np.arange(n_q), sq, np.full(q_sites.size, float(min_members)),
         np.full(q_sites.size, float(max_members))),
        (np.zeros(n_q, dtype=np.int64), np.arange(n_q), sq, np.full(1, n_best), np.full(1, n_best)),
    ], n_q)
    start3 = (site_of[qi] == qj).astype(np.float64)
    integer = bool((size[q_mem] > 1).any())  # unit sizes: a transportation problem, integral as an LP
    three = _run_highs("joint branches (walks)", qt * sq, ones_q, integer, a3, lo3, hi3, maximize=False,
                       time_limit_s=max(deadline - time.perf_counter(), 0.01), start=start3)
    if three.x is not None and np.all(np.abs(three.x - np.round(three.x)) < 1e-6):
        take = np.round(three.x) > 0.5
        site_of = np.full(n_blocks, -1, dtype=np.int64)
        site_of[qi[take]] = qj[take]
    else:
        log.info("joint branches: the walking model gave no integral answer (%s); blocks keep class order",
                 three.state)
    return result(site_of, "optimal" if one.state == "optimal" else "time_limit", one.gap)


def _components(pi: np.ndarray, pj: np.ndarray, n_blocks: int, n_sites: int) -> tuple[int, np.ndarray]:
    """Connected components of the block–site reachability graph: the component of every pair."""
    g = sparse.csr_matrix((np.ones(pi.size), (pi, n_blocks + pj)), shape=(n_blocks + n_sites,) * 2)
    n, label = csgraph.connected_components(g, directed=False)
    return n, label[pi]


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
    n_m, n_s = cost.shape
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
        block = np.asarray(block, dtype=np.int64)
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
    budget = TimeBudget(time_limit_s)
    empty = JointBranchSolution(np.full(n_m, -1, dtype=np.int64), np.full(n_m, np.nan), "empty", 0.0, 0.0,
                                "highs (gap 0.00%)")

    pi, pj, pt = _pairs(cost)
    ok = np.isfinite(pt) & (pt <= threshold_min + 1e-6)
    pi, pj, pt = pi[ok], pj[ok], pt[ok]
    # Sites that cannot gather min_members from their max_units largest units never open.
    n_units = int(unit.max()) + 1 if n_m else 1
    value, _, _ = _top_units_per_site(pj, unit[pi], n_units, max_units, n_s)
    ok = value[pj] >= min_members
    pi, pj, pt = pi[ok], pj[ok], pt[ok]
    if pi.size == 0:
        return empty

    # ---- blocks: a block reaches the sites every one of its members reaches (mean walk)
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
    # block ids: kept blocks first, then one per single member
    kept = np.unique(code[~single])
    n_kept = kept.size
    bid = np.full(n_m, -1, dtype=np.int64)
    bid[~single] = np.searchsorted(kept, code[~single])
    bid[single] = n_kept + np.arange(int(single.sum()))
    n_blocks = n_kept + int(single.sum())
    size = np.bincount(bid, minlength=n_blocks).astype(np.int64)
    b_unit = np.zeros(n_blocks, dtype=np.int64)
    b_unit[bid] = unit
    # block pairs: a member pair counts when every member of its block reaches the site
    key = bid[pi] * n_s + pj
    ukey, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    tsum = np.bincount(inv, weights=pt)
    tmax = np.full(ukey.size, -np.inf)
    np.maximum.at(tmax, inv, pt)
    whole = cnt == size[ukey // n_s]
    bi, bj, bt = ukey[whole] // n_s, ukey[whole] % n_s, (tsum / cnt)[whole]
    blocks_split = int(broken.sum())
    if blocks_split:
        log.info("joint branches: %d neighbourhood block(s) cannot meet at one site as a whole (or exceed "
                 "%d members) and are split into their members", blocks_split, max_members)

    # ---- independent components, largest first
    n_comp, comp_of_pair = _components(bi, bj, n_blocks, n_s)
    if not decompose:
        n_comp, comp_of_pair = 1, np.zeros(bi.size, dtype=np.int64)
    comp_pairs = np.bincount(comp_of_pair, minlength=n_comp)
    order = np.argsort(-comp_pairs, kind="stable")
    order = order[comp_pairs[order] > 0]
    by_comp = np.argsort(comp_of_pair, kind="stable")
    ptr = np.r_[0, np.cumsum(comp_pairs)]
    block_site = np.full(n_blocks, -1, dtype=np.int64)
    results: list[ComponentResult] = []
    pending = float(comp_pairs.sum())
    for rank, c in enumerate(order, start=1):
        sel = by_comp[ptr[c]:ptr[c + 1]]
        ci, cj, ct = bi[sel], bj[sel], bt[sel]
        blocks_c, li = np.unique(ci, return_inverse=True)
        sites_c, lj = np.unique(cj, return_inverse=True)
        units_c, lu = np.unique(b_unit[blocks_c], return_inverse=True)
        if progress is not None:
            progress(f"joint branches, component {rank} of {order.size}",
                     1.0 - pending / max(comp_pairs.sum(), 1))
        share = budget.share(float(sel.size), pending)
        pending -= sel.size
        site_local, res = _solve_component(
            li.ravel(), lj.ravel(), ct, lu.ravel(), size[blocks_c], is_station[sites_c],
            n_blocks=blocks_c.size, min_members=min_members, max_members=max_members, max_units=max_units,
            threshold_min=threshold_min, time_limit_s=share, max_exact_size=max_exact_size)
        placed = site_local >= 0
        block_site[blocks_c[placed]] = sites_c[site_local[placed]]
        results.append(res)

    site_of = block_site[bid]
    minutes = np.full(n_m, np.nan)
    placed = site_of >= 0
    minutes[placed] = np.asarray(cost[np.flatnonzero(placed), site_of[placed]]).ravel()
    statuses = {r.status for r in results}
    state = ("greedy" if "greedy" in statuses else "time_limit" if "time_limit" in statuses
             else "optimal" if results else "empty")
    gaps = [r.gap for r in results if r.gap is not None]
    gap = max(gaps) if gaps else None
    n_placed = int(placed.sum())
    bound = int(sum(r.bound for r in results))
    runtime = time.perf_counter() - t_start
    gap_txt = f"gap {100 * (gap or 0.0):.2f}%"
    parts = f", {len(results)} components" if len(results) > 1 else ""
    if state == "greedy":
        method = (f"greedy (model too large or no HiGHS solution within {time_limit_s:g} s{parts}; "
                  f"bound {bound} members)")
    elif state == "time_limit":
        method = f"highs (time limit {time_limit_s:g} s{parts}, {gap_txt}; bound {bound} members)"
    else:
        method = f"highs ({gap_txt}{parts})"
    log.info("joint branches: %d of %d members placed in %d groups, %d component(s), %s in %.3f s "
             "(greedy: %d; bound %d)", n_placed, int(np.unique(pi).size), np.unique(site_of[placed]).size,
             len(results), state, runtime, sum(r.greedy_placed for r in results), bound)
    return JointBranchSolution(site_of, minutes, state, gap, runtime, method, components=tuple(results),
                               bound=bound, blocks_split=blocks_split)


# --------------------------------------------------------------------------- helpers


def _validate(
    members: pd.DataFrame, branches: pd.DataFrame, sites: pd.DataFrame, rules: BranchSettings
) -> None:
    problems: list[Problem] = []
    for name, df, cols in (("members", members, MEMBER_COLUMNS), ("branches", branches, BRANCH_COLUMNS),
                           ("sites", sites, SITE_COLUMNS)):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            problems.append(Problem(name, None, ", ".join(missing), "required column(s) missing"))
    if "id" in members.columns:
        dup = members["id"].astype(str).duplicated()
        if dup.any():
            shown = ", ".join(members["id"][dup].astype(str)[:5])
            problems.append(Problem("members", None, "id", f"duplicate ids: {shown}"))
    if "kind" in sites.columns:
        bad = ~sites["kind"].isin(["station", "candidate"])
        if bad.any():
            problems.append(Problem("sites", None, "kind", "must be 'station' or 'candidate' (rows "
                                    + ", ".join(str(i) for i in sites.index[bad][:5]) + ")"))
    if rules.min_branch_members > rules.max_branch_members:
        problems.append(Problem("scenario", None, "branches.min_branch_members",
                                "must not exceed branches.max_branch_members"))
    if problems:
        raise InputError(problems)


def _as_bool(s: pd.Series) -> np.ndarray:
    """Booleans from a bool column or text such as ``True``/``False``/``1``/``是``."""
    if s.dtype == bool:
        return s.to_numpy()
    text = s.fillna("").astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "1.0", "yes", "y", "是"]).to_numpy()


def _text(s: pd.Series | None, n: int) -> np.ndarray:
    if s is None:
        return np.full(n, "", dtype=object)
    return s.fillna("").astype(str).str.strip().to_numpy(dtype=object)


def _median(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else math.nan


def _max(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else math.nan


def _mode(values: Sequence[str] | np.ndarray) -> str:
    vals = [v for v in values if v]
    if not vals:
        return ""
    s = pd.Series(vals)
    counts = s.value_counts(sort=False)
    return str(counts.index[int(np.argmax(counts.to_numpy()))])  # first-seen wins ties


def _min_zh(x: float) -> str:
    return f"{x:.0f}分钟" if np.isfinite(x) else "无法步行到达"


def _min_en(x: float) -> str:
    return f"{x:.0f} min" if np.isfinite(x) else "not reachable on foot"


def _planar(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local equirectangular metres (good enough to rank distances inside a town)."""
    lat0 = np.nanmean(lat) if np.isfinite(lat).any() else 0.0
    return lon * 111_320.0 * np.cos(np.radians(lat0)), lat * 110_540.0


def _network_medoid(
    walk: RoadNetwork, snap: Snap, lon: np.ndarray, lat: np.ndarray
) -> tuple[float, float, np.ndarray, bool]:
    """Find the group member minimising the group's total walk to it (the network medoid).

    Candidates are the ``_MEDOID_CANDIDATES`` on-network members nearest to the group's
    centroid; the winner reaches the most members, then has the least total walk.

    Returns
    -------
    lon, lat, minutes, on_network
        The meeting point, each member's walking minutes to it (NaN when unreachable) and
        whether a network medoid was found (else the centroid of located members).
    """
    n = lon.shape[0]
    located = np.isfinite(lon) & np.isfinite(lat)
    if not located.any():
        return math.nan, math.nan, np.full(n, np.nan), False
    cands = np.flatnonzero(snap.on_network)
    if cands.size == 0:
        return float(lon[located].mean()), float(lat[located].mean()), np.full(n, np.nan), False
    x, y = _planar(lon, lat)
    cx, cy = x[located].mean(), y[located].mean()
    cands = cands[np.argsort(np.hypot(x[cands] - cx, y[cands] - cy), kind="stable")[:_MEDOID_CANDIDATES]]
    cm = sparse.coo_matrix(cost_matrix(walk, snap, snap.subset(cands), _MEDOID_CUTOFF_MIN))
    t = np.full((n, cands.size), np.inf)
    t[cm.row, cm.col] = cm.data
    reach = np.isfinite(t).sum(axis=0)
    total = np.where(np.isfinite(t), t, 0.0).sum(axis=0)
    best = int(np.lexsort((total, -reach))[0])
    minutes = t[:, best].copy()
    minutes[~np.isfinite(minutes)] = np.nan
    k = cands[best]
    return float(lon[k]), float(lat[k]), minutes, True


def _row(**values: object) -> dict[str, object]:
    row: dict[str, object] = {c: "" for c in RECOMMENDATION_COLUMNS}
    row.update(values)
    return row


def _rule_record(method: str, recs: list[_Rec], t0: float, *, exact: bool = False) -> dict[str, object]:
    """``run.json`` record of a rule-based organisation model.

    A meeting point chosen as the network medoid among *all* of a group's members is exact;
    among only the ``_MEDOID_CANDIDATES`` nearest to the centre, it is a heuristic.
    """
    sizes = [g.size for _, g in recs]
    medoid_exact = all(n <= _MEDOID_CANDIDATES for n in sizes)
    return {"method": method, "status": "optimal" if exact or medoid_exact else "heuristic", "gap": None,
            "runtime_s": round(time.perf_counter() - t0, 3), "rows": len(recs),
            "members": int(sum(sizes))}


def _rule_members(n: int, rules: BranchSettings) -> str:
    return f"{rules.min_branch_members} ≤ {n} ≤ {rules.max_branch_members} members"


# --------------------------------------------------------------------------- the recommendations


@dataclass(frozen=True)
class _Members:
    """The member columns the rules read, as aligned numpy arrays."""

    ids: np.ndarray
    branch: np.ndarray
    branch_pos: np.ndarray  # row of the member's branch in the branches table (-1 unknown)
    lon: np.ndarray
    lat: np.ndarray
    before: np.ndarray  # walk_min_branch
    city: np.ndarray
    township: np.ndarray
    community: np.ndarray
    snap: Snap


@dataclass(frozen=True)
class _Places:
    """Ids, names and WGS-84 points of branches' meeting places or candidate sites."""

    ids: np.ndarray
    name: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    city: np.ndarray
    township: np.ndarray

    @classmethod
    def of(cls, df: pd.DataFrame) -> _Places:
        n = len(df)
        return cls(df["id"].astype(str).to_numpy(dtype=object), _text(df["name"], n),
                   pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=np.float64),
                   pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=np.float64),
                   _text(df.get("city"), n), _text(df.get("township"), n))

    def snap(self, walk: RoadNetwork, max_snap_m: float) -> Snap:
        return walk.snap(self.lon, self.lat, max_snap_m=max_snap_m)


_Rec = tuple[dict[str, object], np.ndarray]  # a recommendation row and its members' row positions


def _member_to_member_s(
    walk: RoadNetwork, snap: Snap, a: np.ndarray, b: np.ndarray, limit_s: float, chunk: int = 256
) -> np.ndarray:
    """Walking seconds from member ``a[k]`` to member ``b[k]`` (``inf`` beyond ``limit_s``).

    Each leaves its edge through either end (access leg plus the part of the edge), one
    Dijkstra with ``limit=`` per chunk of distinct start nodes on the road graph, and arrives
    through either end of the other's edge; two members on one edge also walk along it.
    """
    e_a, e_b = snap.edge[a], snap.edge[b]
    ta, tb = np.nan_to_num(snap.frac[a]), np.nan_to_num(snap.frac[b])
    acc_a = np.nan_to_num(snap.access_m[a]) / walk.speed_mps
    acc_b = np.nan_to_num(snap.access_m[b]) / walk.speed_mps
    fwd, bwd = walk.edge_fwd_s, walk.edge_bwd_s
    leave = (acc_a + _part(ta, bwd[e_a]), acc_a + _part(1.0 - ta, fwd[e_a]))  # to u, to v
    arrive = (acc_b + _part(tb, fwd[e_b]), acc_b + _part(1.0 - tb, bwd[e_b]))  # from u, from v
    xs = (walk.edge_u[e_a], walk.edge_v[e_a])
    ys = (walk.edge_u[e_b], walk.edge_v[e_b])
    best = np.full(a.shape[0], np.inf)
    nodes = np.unique(np.concatenate(xs))
    for k0 in range(0, nodes.size, chunk):
        block = nodes[k0:k0 + chunk]
        dist = dijkstra(walk.cost, directed=True, indices=block, limit=limit_s)
        for k in (0, 1):
            sel = np.flatnonzero(np.isin(xs[k], block))
            rows = np.searchsorted(block, xs[k][sel])
            for m in (0, 1):
                t = leave[k][sel] + dist[rows, ys[m][sel]] + arrive[m][sel]
                best[sel] = np.minimum(best[sel], t)
    same = e_a == e_b
    if same.any():
        along = np.abs(ta[same] - tb[same]) * np.minimum(fwd[e_a[same]], bwd[e_a[same]])
        best[same] = np.minimum(best[same], acc_a[same] + along + acc_b[same])
    return best


def _part(frac: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """``frac × cost`` with ``0 × inf = 0`` (a point at an edge's end needs no travel on it)."""
    with np.errstate(invalid="ignore"):
        return np.where(frac > 0, frac * cost, 0.0)


def cohesion_blocks(
    walk: RoadNetwork, snap: Snap, unit: np.ndarray, lon: np.ndarray, lat: np.ndarray, *,
    cohesion_min: float,
) -> np.ndarray:
    """Neighbourhoods of one unit: members who live within ``cohesion_min`` minutes' walk of each other.

    Two members of the same unit are neighbours when either walks to the other's home within
    ``cohesion_min`` (network time, access legs included); a block is a connected group of
    neighbours (single linkage). Pairs are first narrowed by straight-line distance (a walk
    is never shorter), per unit with a KD-tree; the walks of those pairs come from one
    cut-off Dijkstra per chunk of start nodes (:func:`_member_to_member_s`).

    Parameters
    ----------
    walk
        The walking network.
    snap
        The members, snapped.
    unit
        Integer unit code per member.
    lon, lat
        WGS-84 homes (NaN unknown).
    cohesion_min
        Walking minutes within which two members of one unit are neighbours (0: no blocks).

    Returns
    -------
    numpy.ndarray
        Block code per member (``-1``: no neighbour).
    """
    n = unit.shape[0]
    code = np.full(n, -1, dtype=np.int64)
    if cohesion_min <= 0 or n < 2:
        return code
    from scipy.spatial import cKDTree

    radius = cohesion_min * 60.0 * walk.speed_mps
    x, y = _planar(lon, lat)
    ok = np.isfinite(x) & np.isfinite(y) & snap.on_network
    order = np.argsort(unit, kind="stable")
    order = order[ok[order]]
    bounds = np.flatnonzero(np.r_[True, unit[order][1:] != unit[order][:-1], True])
    pair_a: list[np.ndarray] = []  # same-unit pairs within the radius in a straight line
    pair_b: list[np.ndarray] = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b - a < 2:
            continue
        g = order[a:b]
        pairs = cKDTree(np.c_[x[g], y[g]]).query_pairs(radius, output_type="ndarray")
        if pairs.size:
            pair_a.append(g[pairs[:, 0]])
            pair_b.append(g[pairs[:, 1]])
    if not pair_a:
        return code
    pa, pb = np.concatenate(pair_a), np.concatenate(pair_b)
    secs = np.minimum(_member_to_member_s(walk, snap, pa, pb, cohesion_min * 60.0),
                      _member_to_member_s(walk, snap, pb, pa, cohesion_min * 60.0))
    near = secs <= cohesion_min * 60.0 + 1e-9
    rows, cols = [pa[near]], [pb[near]]
    r, c = np.concatenate(rows), np.concatenate(cols)
    if r.size == 0:
        return code
    g = sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n, n))
    _, label = csgraph.connected_components(g, directed=False)
    linked = np.zeros(n, dtype=bool)
    linked[r] = linked[c] = True
    code[linked] = label[linked]
    return code



def _joint_branch_recs(
    m: _Members, cand: np.ndarray, sites: _Places, is_station: np.ndarray, walk: RoadNetwork, *,
    rules: BranchSettings, limit_min: float, max_snap_m: float, deadline: float,
    report: dict[str, object] | None = None, progress: Callable[[str, float], None] | None = None,
) -> list[_Rec]:
    """Joint branches for the candidates (row positions ``cand``) at the sites.

    The model gets the time left until ``deadline`` (``time.perf_counter()``) after its cost
    matrix and neighbourhood blocks; ``report`` (when given) receives its record under
    ``"joint_branch"``.
    """
    if cand.size == 0 or sites.ids.size == 0:
        if report is not None:
            report["joint_branch"] = {"method": "none", "status": "empty", "gap": None, "runtime_s": 0.0,
                                      "placed": 0, "bound": 0, "candidates": int(cand.size),
                                      "message": "no dispersed member or no site: nothing to group"}
        return []
    cm = cost_matrix(walk, m.snap.subset(cand), sites.snap(walk, max_snap_m), limit_min)
    _, unit = np.unique(m.branch[cand], return_inverse=True)
    unit = unit.ravel()
    block = cohesion_blocks(walk, m.snap.subset(cand), unit, m.lon[cand], m.lat[cand],
                            cohesion_min=rules.cohesion_min)
    sol = solve_joint_branches(
        cm, unit, is_station, min_members=rules.min_branch_members, max_members=rules.max_branch_members,
        max_units=rules.max_units_per_joint_branch, threshold_min=limit_min,
        time_limit_s=max(MIN_SHARE_S, deadline - time.perf_counter()), block=block, progress=progress,
        max_exact_size=rules.joint_max_exact_size,
    )
    if report is not None:
        report["joint_branch"] = {**sol.summary(), "candidates": int(cand.size),
                                  "neighbourhood_blocks": int(np.unique(block[block >= 0]).size),
                                  "cohesion_min": float(rules.cohesion_min)}
    out: list[_Rec] = []
    used_names: set[str] = set()
    for j in sol.open_sites:
        g, t = cand[sol.site == j], sol.minutes[sol.site == j]
        units = sorted(set(m.branch[g]))
        area = _mode(m.community[g]) or _mode(m.township[g]) or sites.name[j]
        name = f"{area}联合党支部"
        if name in used_names:
            name = f"{area}联合党支部（{sites.name[j]}）"
        used_names.add(name)
        b_med, a_med, a_max = _median(m.before[g]), _median(t), _max(t)
        place_zh, place_en = ("驿站", "station") if is_station[j] else ("公共场所", "candidate place")
        out.append((_row(
            kind="joint_branch", name=name, lon=sites.lon[j], lat=sites.lat[j], site_id=sites.ids[j],
            site_name=sites.name[j], n_members=int(g.size), branch_ids=";".join(units), city=_mode(m.city[g]),
            township=_mode(m.township[g]), before_min=b_med, after_min=a_med, max_after_min=a_max,
            rule=(f"{_rule_members(g.size, rules)}; {len(units)} ≤ {rules.max_units_per_joint_branch} units; "
                  f"every member ≤ {limit_min:g} min walk"),
            rationale_zh=(f"来自{len(units)}个支部的{g.size}名居住分散党员住在{sites.name[j]}附近，"
                          f"到原支部步行中位{_min_zh(b_med)}，到该{place_zh}全部不超过{a_max:.0f}分钟"
                          f"（中位{a_med:.0f}分钟），可成立联合党支部。"),
            rationale_en=(f"{g.size} dispersed members of {len(units)} branches (median walk to their branch "
                          f"{_min_en(b_med)}) all live within {a_max:.0f} min of {sites.ids[j]} ({place_en}, "
                          f"median {a_med:.0f} min) and can form a joint branch there."),
            method=sol.method,
        ), g))
    return out


def _transfer_recs(
    m: _Members, rest: np.ndarray, branches: _Places, walk: RoadNetwork, *, limit_min: float,
    max_snap_m: float, minutes: sparse.csr_matrix | None = None,
) -> list[_Rec]:
    """One row per target branch: members of ``rest`` within reach of another branch's meeting place.

    ``minutes`` (optional) is the ``rest × branches`` walking-minute matrix cut off at
    ``limit_min``, when it was measured already.
    """
    if rest.size == 0 or branches.ids.size == 0:
        return []
    if minutes is None:
        minutes = cost_matrix(walk, m.snap.subset(rest), branches.snap(walk, max_snap_m), limit_min)
    # per member, the nearest other branch (ties: the lower branch row), without sorting the pairs
    bm = sparse.csr_matrix(minutes)
    bm.sort_indices()
    rows = np.repeat(np.arange(bm.shape[0]), np.diff(bm.indptr))
    val = np.where(bm.indices == m.branch_pos[rest[rows]], np.inf, bm.data)
    has = np.diff(bm.indptr) > 0
    row_min = np.full(bm.shape[0], np.inf)
    row_min[has] = np.minimum.reduceat(val, bm.indptr[:-1][has])
    at_min = np.flatnonzero((val == row_min[rows]) & np.isfinite(val))
    at_min = at_min[np.r_[True, rows[at_min][1:] != rows[at_min][:-1]]] if at_min.size else at_min
    r, c, v = rows[at_min], bm.indices[at_min].astype(np.int64), val[at_min]
    order = np.argsort(c, kind="stable")
    r, c, v = r[order], c[order], v[order]
    bounds = np.flatnonzero(np.r_[True, c[1:] != c[:-1], True]) if c.size else np.zeros(1, dtype=np.int64)
    out: list[_Rec] = []
    for k0, k1 in zip(bounds[:-1], bounds[1:], strict=True):
        b = int(c[k0])
        g, t = rest[r[k0:k1]], v[k0:k1]
        b_med, a_med, a_max = _median(m.before[g]), _median(t), _max(t)
        out.append((_row(
            kind="transfer", name=f"就近参加{branches.name[b]}活动", lon=branches.lon[b], lat=branches.lat[b],
            site_id=branches.ids[b], site_name=branches.name[b], n_members=int(g.size),
            branch_ids=";".join(sorted(set(m.branch[g]))), city=branches.city[b] or _mode(m.city[g]),
            township=branches.township[b] or _mode(m.township[g]),
            before_min=b_med, after_min=a_med, max_after_min=a_max,
            rule=(f"every member ≤ {limit_min:g} min walk to {branches.ids[b]}'s meeting place; "
                  "membership unchanged"),
            rationale_zh=(f"{g.size}名居住分散党员到原支部步行中位{_min_zh(b_med)}，到{branches.name[b]}"
                          f"活动地点不超过{a_max:.0f}分钟（中位{a_med:.0f}分钟），建议就近参加该支部活动，"
                          f"组织关系保留在原支部（一方隶属、多方管理）。"),
            rationale_en=(f"{g.size} dispersed members (median walk to their branch {_min_en(b_med)}) live "
                          f"within {a_max:.0f} min of {branches.ids[b]}'s meeting place (median "
                          f"{a_med:.0f} min): they take part in its activities and keep their membership "
                          f"(belong to one, take part in many)."),
            method="rule",
        ), g))
    return out


def split_by_residence(
    lon: np.ndarray, lat: np.ndarray, county: np.ndarray, township: np.ndarray, max_members: int
) -> list[np.ndarray]:
    """Split a group of members into parts of at most ``max_members`` by where they live.

    A group that fits stays whole. Otherwise members are grouped by county-level division;
    a division too large is grouped by 街道/乡镇; a township still too large is cut along
    its longer axis into contiguous runs. The parts are then merged back, smallest first,
    with the part whose centre is nearest, whenever the two fit together, so no part is
    split off without need.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees (NaN for members without a location: they join the largest part).
    county, township
        Where each member lives ("" when unknown).
    max_members
        The branch maximum.

    Returns
    -------
    list of numpy.ndarray
        Positions (into the inputs) of each part, largest first; together every member once.
    """
    n = lon.shape[0]
    everyone = np.arange(n)
    if n <= max_members:
        return [everyone]
    x, y = _planar(lon, lat)

    def by_axis(idx: np.ndarray) -> list[np.ndarray]:
        k = math.ceil(idx.size / max_members)
        if k <= 1:
            return [idx]
        fx, fy = x[idx][np.isfinite(x[idx])], y[idx][np.isfinite(y[idx])]
        wide = fx.size and (np.ptp(fx) >= np.ptp(fy))
        axis = (x if wide else y)[idx]
        return np.array_split(idx[np.argsort(np.nan_to_num(axis, nan=np.inf), kind="stable")], k)

    def by_key(idx: np.ndarray, key: np.ndarray, then) -> list[np.ndarray]:  # noqa: ANN001
        if idx.size <= max_members:
            return [idx]
        out: list[np.ndarray] = []
        for value in sorted(set(key[idx].tolist())):
            part = idx[key[idx] == value]
            out += then(part) if part.size > max_members else [part]
        return out

    parts = by_key(everyone, np.asarray(county, dtype=object),
                   lambda p: by_key(p, np.asarray(township, dtype=object), by_axis))

    def centre(p: np.ndarray) -> tuple[float, float]:
        ok = np.isfinite(x[p]) & np.isfinite(y[p])
        return (float(x[p][ok].mean()), float(y[p][ok].mean())) if ok.any() else (math.nan, math.nan)

    merged = True
    while merged and len(parts) > 1:
        merged = False
        parts.sort(key=lambda p: p.size)
        for i, small in enumerate(parts):
            cx, cy = centre(small)
            best, best_d = -1, math.inf
            for j, other in enumerate(parts):
                if j == i or small.size + other.size > max_members:
                    continue
                ox, oy = centre(other)
                d = math.hypot(cx - ox, cy - oy) if np.isfinite([cx, cy, ox, oy]).all() else 1e18
                if d < best_d:
                    best, best_d = j, d
            if best >= 0:
                parts[best] = np.sort(np.concatenate([parts[best], small]))
                del parts[i]
                merged = True
                break
    return sorted(parts, key=lambda p: (-p.size, int(p[0])))


def _remote_recs(m: _Members, remote: np.ndarray, walk: RoadNetwork, *, rules: BranchSettings) -> list[_Rec]:
    """Remote branches (≥ ``min_branch_members`` in a city) and mobile members (fewer), per city."""
    out: list[_Rec] = []
    for city in sorted(set(m.city[remote])):
        g_all = remote[m.city[remote] == city]
        label, label_en = city or "外地", city or "another city"
        if g_all.size < rules.min_branch_members:
            located = np.isfinite(m.lon[g_all]) & np.isfinite(m.lat[g_all])
            out.append((_row(
                kind="mobile_member", name=f"{label}流动党员",
                lon=float(m.lon[g_all][located].mean()) if located.any() else math.nan,
                lat=float(m.lat[g_all][located].mean()) if located.any() else math.nan,
                n_members=int(g_all.size), branch_ids=";".join(sorted(set(m.branch[g_all]))), city=city,
                township=_mode(m.township[g_all]), before_min=_median(m.before[g_all]), after_min=math.nan,
                max_after_min=math.nan,
                rule=f"{g_all.size} < {rules.min_branch_members} members: too few for a branch",
                rationale_zh=(f"{label}仅有{g_all.size}名党员（少于{rules.min_branch_members}人，不足以成立支部），"
                              f"建议按流动党员管理，由原支部通过电话、网络学习和返乡时参加组织生活保持联系。"),
                rationale_en=(f"Only {g_all.size} members live in {label_en} (fewer than "
                              f"{rules.min_branch_members}, too few for a branch): manage them as mobile "
                              f"party members and keep contact through their branch (phone, online study, "
                              f"meetings when they return)."),
                method="rule",
            ), g_all))
            continue
        parts = [g_all]
        county_of: dict[int, str] = {}
        if g_all.size > rules.max_branch_members:  # split by where they live (county, township)
            from ..admin import locate_divisions

            county = locate_divisions(m.lon[g_all], m.lat[g_all])["county"].to_numpy(dtype=object)
            county_of = dict(zip(g_all.tolist(), county.tolist(), strict=True))
            parts = [g_all[p] for p in split_by_residence(
                m.lon[g_all], m.lat[g_all], county, m.township[g_all], rules.max_branch_members)]
        n_split = len(parts)
        areas = [{county_of.get(int(i), "") for i in g} for g in parts]
        subs = [a.pop() if len(a) == 1 else "" for a in areas]
        for k, g in enumerate(parts, start=1):
            sub = subs[k - 1] if subs.count(subs[k - 1]) == 1 else ""  # 南京市秦淮区异地支部
            m_lon, m_lat, t, on_net = _network_medoid(walk, m.snap.subset(g), m.lon[g], m.lat[g])
            src = sorted(set(m.branch[g]))
            b_med, a_med, a_max = _median(m.before[g]), _median(t), _max(t)
            where_zh = f"步行中位{_min_zh(a_med)}" if on_net else "活动地点取成员住址中心"
            where_en = f"median walk {_min_en(a_med)}" if on_net else "meeting near the centre of their homes"
            out.append((_row(
                kind="remote_branch",
                name=(f"{label}异地支部" if n_split == 1 else f"{label}{sub}异地支部" if sub
                      else f"{label}异地第{k}支部"),
                lon=m_lon, lat=m_lat, n_members=int(g.size), branch_ids=";".join(src), city=city,
                township=_mode(m.township[g]), before_min=b_med, after_min=a_med, max_after_min=a_max,
                rule=f"{_rule_members(g.size, rules)} living in {label_en}",
                rationale_zh=(f"{g.size}名党员（原属{len(src)}个支部：{'、'.join(src)}）长期居住在{label}，"
                              f"到原支部{_min_zh(b_med)}，建议在当地成立异地党支部（{where_zh}）。"),
                rationale_en=(f"{g.size} members of {len(src)} branches ({', '.join(src)}) live in "
                              f"{label_en}, away from their branches: form a remote branch there "
                              f"({where_en})."),
                method="rule; network medoid" if on_net else "rule; centroid",
            ), g))
    return out


def _party_group_recs(
    m: _Members, free: np.ndarray, branches: _Places, walk: RoadNetwork, *, rules: BranchSettings,
) -> list[_Rec]:
    """Party groups by residence area inside large branches (members ``free`` of other recommendations)."""
    out: list[_Rec] = []
    min_pg = rules.party_group_min_members
    # only branches with two areas (townships, else communities) of min_pg members can qualify
    sel = np.flatnonzero(free & (m.branch_pos >= 0))
    df = pd.DataFrame({"b": m.branch_pos[sel], "t": m.township[sel], "c": m.community[sel]})
    qualify: set[int] = set()
    for col in ("t", "c"):
        sizes = df[df[col] != ""].groupby(["b", col]).size()
        big_areas = (sizes >= min_pg).groupby(level=0).sum()
        qualify |= {int(k) for k in big_areas[big_areas >= 2].index}
    by_branch = sel[np.argsort(m.branch_pos[sel], kind="stable")]
    starts = np.searchsorted(m.branch_pos[by_branch], np.arange(branches.ids.size + 1))
    for b in sorted(qualify):
        g_all = np.sort(by_branch[starts[b]:starts[b + 1]])
        if g_all.size < 2 * rules.min_branch_members:
            continue
        towns = pd.Series(m.township[g_all])
        level, area = "township", m.township[g_all]
        if int((towns[towns != ""].value_counts() >= min_pg).sum()) < 2:  # the branch lives in one township
            level, area = "community", m.community[g_all]
        counts = pd.Series(area)[pd.Series(area) != ""].value_counts()
        big = [str(a) for a, c in counts.items() if c >= min_pg]
        if len(big) < 2:
            continue
        group = pd.Index(big).get_indexer(pd.Index(area))  # -1: a small area or none
        loose = group < 0
        if loose.any():  # join the group whose centre is nearest (the largest without a location)
            x, y = _planar(m.lon[g_all], m.lat[g_all])
            cx = np.array([np.nanmean(x[group == k]) if np.isfinite(x[group == k]).any() else np.nan
                           for k in range(len(big))])
            cy = np.array([np.nanmean(y[group == k]) if np.isfinite(y[group == k]).any() else np.nan
                           for k in range(len(big))])
            d = np.hypot(x[loose, None] - cx[None, :], y[loose, None] - cy[None, :])
            d = np.where(np.isfinite(d), d, np.inf)
            group[loose] = np.where(np.isfinite(d).any(axis=1), np.argmin(d, axis=1), 0)  # big[0] is largest
        level_zh, level_en = ("街道", "townships") if level == "township" else ("社区", "communities")
        sizes = np.bincount(group, minlength=len(big))
        for rank, k in enumerate(np.argsort(-sizes, kind="stable"), start=1):
            g = g_all[group == k]
            m_lon, m_lat, t, on_net = _network_medoid(walk, m.snap.subset(g), m.lon[g], m.lat[g])
            b_med, a_med, a_max = _median(m.before[g]), _median(t), _max(t)
            n_core = int(counts[big[k]])
            extra = g.size - n_core
            out.append((_row(
                kind="party_group", name=f"{branches.ids[b]}第{rank}党小组（{big[k]}）", lon=m_lon, lat=m_lat,
                n_members=int(g.size), branch_ids=branches.ids[b], city=branches.city[b] or _mode(m.city[g]),
                township=big[k] if level == "township" else _mode(m.township[g]),
                before_min=b_med, after_min=a_med, max_after_min=a_max,
                rule=(f"{branches.ids[b]} has {g_all.size} ≥ {2 * rules.min_branch_members} members in "
                      f"{len(big)} {level_en}; {n_core} ≥ {min_pg} members live in {big[k]}"),
                rationale_zh=(f"{branches.name[b]}{g_all.size}名成员分住{len(big)}个{level_zh}，"
                              f"建议按居住地设立党小组：{big[k]}{n_core}人"
                              + (f"（另含附近{extra}人）" if extra else "")
                              + f"，就近活动步行中位{_min_zh(a_med)}（到支部中位{_min_zh(b_med)}）。"),
                rationale_en=(f"{branches.ids[b]}'s {g_all.size} members live in {len(big)} {level_en}: "
                              f"a party group of the {n_core} members in {big[k]}"
                              + (f" (plus {extra} nearby)" if extra else "")
                              + f" meets near home, median walk {_min_en(a_med)} (to the branch "
                              f"{_min_en(b_med)})."),
                method="rule; network medoid" if on_net else "rule; centroid",
            ), g))
    return out


def recommend_branches(
    members: pd.DataFrame,
    branches: pd.DataFrame,
    sites: pd.DataFrame,
    walk: RoadNetwork,
    *,
    rules: BranchSettings,
    thresholds: Thresholds,
    max_snap_m: float = 500.0,
    time_limit_s: float = 60.0,
    report: dict[str, object] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recommend joint branches, transfers, party groups and remote branches.

    See the module docstring for the rules and the joint-branch model. A member appears in
    at most one recommendation: joint branches are formed first, transfers take the
    dispersed members left out, remote members go to remote branches or mobile members, and
    party groups are formed from the members left in each branch.

    Parameters
    ----------
    members
        One row per member: ``id``, ``branch_id``, ``lon``, ``lat`` (WGS-84, NaN when
        unknown), ``walk_min_branch`` (minutes, NaN when unreachable), ``network_status``
        (``ok``/``off_network``/``no_location``), ``dispersed`` (bool), ``dispersion_reason``
        (``;``-joined ``remote``/``cross_township``/``far``), ``member_city``; optional
        ``township`` and ``community``.
    branches
        ``id``, ``name``, ``lon``, ``lat`` of the meeting place; optional ``township``, ``city``.
    sites
        Candidate meeting places: ``id``, ``name``, ``kind`` (``station`` — preferred — or
        ``candidate``), ``lon``, ``lat``.
    walk
        The walking network.
    rules
        Branch rules (members per branch, units per joint branch, party-group size).
    thresholds
        ``branch_walk_min``: the longest walk any member of a joint branch (or a transferred
        member) may have to the meeting place, minutes.
    max_snap_m
        Points farther than this (metres) from a road are off the network.
    time_limit_s
        Time limit of this call, seconds: the joint-branch model (its cost matrix, blocks and
        solves) stops at ``JOINT_SHARE`` of it, the rules take the rest.
    report
        When given, receives one record per organisation model for ``run.json``:
        ``joint_branch`` (method, status ``optimal``/``time_limit``/``greedy``/``empty``, gap,
        runtime, the bound on members placed, components) and ``transfer``, ``remote_branch``,
        ``party_group`` (rules: method, status ``optimal`` — the rule's answer is exact — or
        ``heuristic`` when a meeting point was chosen among a group's nearest members only,
        gap ``None``, runtime, rows).
    progress
        Called as ``progress(text, fraction)`` as the models run (fraction of this call).

    Returns
    -------
    recommendations, assignment
        The recommendations in the schema of :mod:`geo_planner.siting.schema`, with
        ``rec_id`` ``R001…`` in the order :func:`~geo_planner.siting.schema.finalize_recommendations`
        sorts them (kind, then size); and one row per input member (same index as
        ``members``): ``id`` and the ``rec_id`` and ``kind`` of its recommendation (``""`` for
        none).

    Raises
    ------
    InputError
        If a table lacks a required column, member ids repeat, or a site kind is unknown.
    SolverError
        If HiGHS rejects the joint-branch model.
    """
    _validate(members, branches, sites, rules)
    t_start = time.perf_counter()
    n = len(members)
    limit = float(thresholds.branch_walk_min)
    b = _Places.of(branches)
    bid = members["branch_id"].astype(str).to_numpy(dtype=object)
    lon = pd.to_numeric(members["lon"], errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(members["lat"], errors="coerce").to_numpy(dtype=np.float64)
    m = _Members(
        ids=members["id"].astype(str).to_numpy(dtype=object), branch=bid,
        branch_pos=pd.Index(b.ids).get_indexer(bid), lon=lon, lat=lat,
        before=pd.to_numeric(members["walk_min_branch"], errors="coerce").to_numpy(dtype=np.float64),
        city=_text(members["member_city"], n), township=_text(members.get("township"), n),
        community=_text(members.get("community"), n), snap=walk.snap(lon, lat, max_snap_m=max_snap_m),
    )
    dispersed = _as_bool(members["dispersed"])
    reasons = [set(r.split(";")) for r in _text(members["dispersion_reason"], n)]
    is_remote = dispersed & np.array(["remote" in r for r in reasons], dtype=bool)
    local = dispersed & ~is_remote & np.array([bool(r & LOCAL_REASONS) for r in reasons], dtype=bool)
    walkable = (_text(members["network_status"], n) == "ok") & m.snap.on_network
    if (local & ~walkable).any():
        log.warning("%d dispersed, non-remote members are off the walking network: no joint branch or "
                    "transfer",
                    int((local & ~walkable).sum()))
    cand = np.flatnonzero(local & walkable)

    s = _Places.of(sites)
    rep: dict[str, object] = {}

    def step(text: str, fraction: float) -> None:
        if progress is not None:
            progress(text, fraction)

    def joint_progress(text: str, fraction: float) -> None:
        step(text, 0.8 * fraction)

    step("joint branches", 0.0)
    # the transfer rule's walks, measured before the time-limited model so that its time counts
    to_branches = (cost_matrix(walk, m.snap.subset(cand), b.snap(walk, max_snap_m), limit)
                   if cand.size and b.ids.size else None)
    recs = _joint_branch_recs(m, cand, s, (sites["kind"] == "station").to_numpy(), walk, rules=rules,
                              limit_min=limit, max_snap_m=max_snap_m,
                              deadline=t_start + JOINT_SHARE * time_limit_s, report=rep,
                              progress=joint_progress)
    taken = np.zeros(n, dtype=bool)
    for _, g in recs:
        taken[g] = True
    step("transfers", 0.8)
    t0 = time.perf_counter()
    left = ~taken[cand]
    more = _transfer_recs(m, cand[left], b, walk, limit_min=limit, max_snap_m=max_snap_m,
                          minutes=None if to_branches is None else to_branches[np.flatnonzero(left)])
    rep["transfer"] = _rule_record("rule: nearest other branch within branch_walk_min", more, t0, exact=True)
    recs += more
    step("remote branches", 0.85)
    t0 = time.perf_counter()
    more = _remote_recs(m, np.flatnonzero(is_remote), walk, rules=rules)
    rep["remote_branch"] = _rule_record("rule by city; network medoid", more, t0)
    recs += more
    for _, g in recs:
        taken[g] = True
    step("party groups", 0.9)
    t0 = time.perf_counter()
    more = _party_group_recs(m, ~taken & ~is_remote, b, walk, rules=rules)
    rep["party_group"] = _rule_record("rule by residence area; network medoid", more, t0)
    recs += more
    if report is not None:
        report.update(rep)

    assignment = pd.DataFrame({"id": m.ids, "rec_id": "", "kind": ""}, index=members.index)
    if not recs:
        log.info("branch recommendations: none (%.2f s)", time.perf_counter() - t_start)
        return empty_recommendations(), assignment
    table = pd.DataFrame([r for r, _ in recs], columns=list(RECOMMENDATION_COLUMNS))
    table["member_ids"] = [";".join(m.ids[g]) for _, g in recs]
    # number the rows as finalize_recommendations orders them: kind, then size
    kind_order = {k: i for i, k in enumerate(RecommendationKind.__args__)}  # type: ignore[attr-defined]
    order = table.assign(_k=table["kind"].map(kind_order)).sort_values(
        ["_k", "n_members"], ascending=[True, False], kind="stable").index.to_numpy()
    table = table.loc[order].reset_index(drop=True)
    table["rec_id"] = [f"R{i + 1:03d}" for i in range(len(table))]
    pos = np.concatenate([recs[i][1] for i in order])
    which = np.repeat(np.arange(len(order)), [recs[i][1].size for i in order])
    rec_col, kind_col = assignment["rec_id"].to_numpy(dtype=object), assignment["kind"].to_numpy(dtype=object)
    rec_col[pos] = table["rec_id"].to_numpy()[which]
    kind_col[pos] = table["kind"].to_numpy()[which]
    assignment["rec_id"], assignment["kind"] = rec_col, kind_col
    for col in ("before_min", "after_min", "max_after_min", "lon", "lat"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(np.float64)
    table["n_members"] = table["n_members"].astype(np.int64)
    made = ", ".join(f"{k} {v}" for k, v in table["kind"].value_counts().items())
    log.info("branch recommendations: %s in %.2f s", made, time.perf_counter() - t_start)
    return table, assignment
