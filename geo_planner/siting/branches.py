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
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError, Problem, SolverError
from ..network import RoadNetwork, Snap
from ..settings import BranchSettings, Thresholds
from ..travel import cost_matrix
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
        ``optimal``, ``time_limit``, ``greedy`` (HiGHS found nothing better) or ``empty``
        (no site can host a joint branch).
    gap
        Relative MIP gap HiGHS reported (0 when proved optimal; ``None`` without HiGHS).
    runtime_s
        Solver seconds.
    method
        Text for the ``method`` column, e.g. ``"highs (gap 0.00%)"``.
    """

    site: np.ndarray
    minutes: np.ndarray
    status: str
    gap: float | None
    runtime_s: float
    method: str

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
    pj: np.ndarray, unit_of_pair: np.ndarray, n_units: int, max_units: int, n_sites: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every site, the members reachable from its ``max_units`` largest units.

    Returns ``(value, keys, keep_key)``: ``value[j]`` is that member count, ``keys`` the
    unique ``site * n_units + unit`` keys of the pairs and ``keep_key`` whether a key is one
    of its site's ``max_units`` largest units.
    """
    keys, counts = np.unique(pj * n_units + unit_of_pair, return_counts=True)
    site = keys // n_units
    order = np.lexsort((-counts, site))  # by site, then largest unit first
    s_sorted = site[order]
    new_site = np.r_[True, s_sorted[1:] != s_sorted[:-1]] if s_sorted.size else np.empty(0, dtype=bool)
    start = np.maximum.accumulate(np.where(new_site, np.arange(s_sorted.size), 0))
    keep_key = np.empty(keys.size, dtype=bool)
    keep_key[order] = (np.arange(s_sorted.size) - start) < max_units
    value = np.bincount(site[keep_key], weights=counts[keep_key], minlength=n_sites)
    return value, keys, keep_key


def _greedy_joint(
    pi: np.ndarray, pj: np.ndarray, pt: np.ndarray, unit: np.ndarray, is_station: np.ndarray,
    *, n_members: int, min_members: int, max_members: int, max_units: int,
) -> np.ndarray:
    """Greedy grouping: open the site taking the most unplaced members of its largest units.

    One iteration per opened site, vectorised over the pairs; returns the site per member
    (``-1`` when not placed).
    """
    n_sites = is_station.shape[0]
    n_units = int(unit.max()) + 1 if unit.size else 1
    site_of = np.full(n_members, -1, dtype=np.int64)
    opened = np.zeros(n_sites, dtype=bool)
    while True:
        avail = (site_of[pi] < 0) & ~opened[pj]
        if not avail.any():
            break
        ai, aj, at = pi[avail], pj[avail], pt[avail]
        value, keys, keep_key = _top_units_per_site(aj, unit[ai], n_units, max_units, n_sites)
        value = np.minimum(value, max_members)
        best = int(np.lexsort((np.arange(n_sites), ~is_station, -value))[0])  # ties: a station first
        if value[best] < min_members:
            break
        units = keys[keep_key & (keys // n_units == best)] % n_units
        mine = np.flatnonzero((aj == best) & np.isin(unit[ai], units))
        mine = mine[np.argsort(at[mine], kind="stable")][:max_members]
        site_of[ai[mine]] = best
        opened[best] = True
    return site_of


def _member_classes(
    pi: np.ndarray, pj: np.ndarray, unit: np.ndarray, n_members: int, n_sites: int
) -> tuple[np.ndarray, np.ndarray]:
    """Group members with the same unit and the same reachable sites (interchangeable members).

    Rows are keyed on (unit, number of sites, two random 64-bit sums of their sites); every
    row is then compared pair by pair with its class representative, and a row that differs
    (a hash collision) gets a class of its own, so the classes are exact.

    Returns
    -------
    cls, rep
        Class of each member (``-1`` without pairs) and the representative member per class.
    """
    counts = np.bincount(pi, minlength=n_members)
    indptr = np.r_[0, np.cumsum(counts)]
    rows = np.flatnonzero(counts > 0)
    rng = np.random.default_rng(0x5EED)
    w1 = rng.integers(0, np.iinfo(np.int64).max, n_sites, dtype=np.int64).astype(np.uint64)
    w2 = rng.integers(0, np.iinfo(np.int64).max, n_sites, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        h1 = np.add.reduceat(w1[pj], indptr[rows])
        h2 = np.add.reduceat(w2[pj], indptr[rows])
    key = np.column_stack([unit[rows].astype(np.uint64), counts[rows].astype(np.uint64), h1, h2])
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
    if start is not None:
        idx = np.flatnonzero(start > 0.5).astype(np.int32)
        if idx.size:
            h.setSolution(int(idx.size), idx, np.ascontiguousarray(start[idx], dtype=np.float64))
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
    if not integer and x is not None:
        gap = 0.0
    log.info("%s: HiGHS %s in %.3f s (%d cols, %d rows, %d nz), objective %.6g, gap %s", label, state,
             runtime,
             n_col, n_row, a.nnz, info.objective_function_value, gap)
    return _Outcome(state, x, gap, runtime)


def _assemble(blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]], n_col: int
              ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Stack row blocks ``(row, col, value, lower, upper)`` into one CSR matrix and its row bounds."""
    offsets = np.cumsum([0] + [b[3].size for b in blocks])
    rows = np.concatenate([b[0] + off for b, off in zip(blocks, offsets[:-1], strict=True)])
    cols = np.concatenate([b[1] for b in blocks])
    vals = np.concatenate([b[2] for b in blocks])
    a = sparse.csr_matrix((vals, (rows, cols)), shape=(int(offsets[-1]), n_col))
    return a, np.concatenate([b[3] for b in blocks]), np.concatenate([b[4] for b in blocks])


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
) -> JointBranchSolution:
    """Group members into joint branches around sites (the model of the module docstring).

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
        Time limit for the three solves together, seconds.

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
    if problems:
        raise InputError(problems)
    deadline = time.perf_counter() + time_limit_s

    pi, pj, pt = _pairs(cost)
    ok = np.isfinite(pt) & (pt <= threshold_min + 1e-6)
    pi, pj, pt = pi[ok], pj[ok], pt[ok]
    # Sites that cannot gather min_members from their max_units largest units never open.
    n_units = int(unit.max()) + 1 if n_m else 1
    value, _, _ = _top_units_per_site(pj, unit[pi], n_units, max_units, n_s)
    ok = value[pj] >= min_members
    pi, pj, pt = pi[ok], pj[ok], pt[ok]
    if pi.size == 0:
        return JointBranchSolution(np.full(n_m, -1, dtype=np.int64), np.full(n_m, np.nan), "empty", 0.0, 0.0,
                                   "highs (gap 0.00%)")
    greedy = _greedy_joint(pi, pj, pt, unit, is_station, n_members=n_m, min_members=min_members,
                           max_members=max_members, max_units=max_units)

    # ---- the class-aggregated model
    cls, rep = _member_classes(pi, pj, unit, n_m, n_s)
    n_g = np.bincount(cls[cls >= 0], minlength=rep.size)
    is_rep = rep[cls[pi]] == pi
    gi, gj = cls[pi[is_rep]], pj[is_rep]
    order = np.lexsort((gj, gi))
    gi, gj = gi[order], gj[order]  # class pairs, sorted by class then site
    sites, gj_c = np.unique(gj, return_inverse=True)
    n_p, n_y = gi.size, sites.size
    g_unit = unit[rep]
    zkeys, pz = np.unique(gj_c * n_units + g_unit[gi], return_inverse=True)
    n_z = zkeys.size
    z_site = zkeys // n_units
    col_x, col_z, col_y = np.arange(n_p), n_p + np.arange(n_z), n_p + n_z + np.arange(n_y)
    n_col = n_p + n_z + n_y
    cap = np.minimum(n_g[gi], max_members).astype(np.float64)
    ones_p, inf_p = np.ones(n_p), np.full(n_p, np.inf)
    blocks = [
        # Σ_j x_gj ≤ n_g
        (gi, col_x, ones_p, np.full(rep.size, -np.inf), n_g.astype(np.float64)),
        # m·y_j ≤ Σ_g x_gj  and  Σ_g x_gj ≤ M·y_j
        (np.r_[gj_c, np.arange(n_y)], np.r_[col_x, col_y], np.r_[ones_p, np.full(n_y, -float(min_members))],
         np.zeros(n_y), np.full(n_y, np.inf)),
        (np.r_[gj_c, np.arange(n_y)], np.r_[col_x, col_y], np.r_[ones_p, np.full(n_y, -float(max_members))],
         np.full(n_y, -np.inf), np.zeros(n_y)),
        # x_gj ≤ min(n_g, M)·z_j,b(g)
        (np.repeat(np.arange(n_p), 2), np.column_stack([col_x, col_z[pz]]).ravel(),
         np.column_stack([ones_p, -cap]).ravel(), -inf_p, np.zeros(n_p)),
        # Σ_b z_jb ≤ U·y_j
        (np.r_[z_site, np.arange(n_y)], np.r_[col_z, col_y],
         np.r_[np.ones(n_z), np.full(n_y, -float(max_units))], np.full(n_y, -np.inf), np.zeros(n_y)),
        # z_jb ≤ y_j
        (np.repeat(np.arange(n_z), 2), np.column_stack([col_z, col_y[z_site]]).ravel(),
         np.tile([1.0, -1.0], n_z), np.full(n_z, -np.inf), np.zeros(n_z)),
    ]
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
    pair_of = np.searchsorted(gi * n_s + gj, cls[pi] * n_s + pj)  # class pair of every member pair
    walk_mean = (np.bincount(pair_of, weights=pt / threshold_min, minlength=n_p)
                 / np.bincount(pair_of, minlength=n_p))
    group_cost = 1.0 + 2.0 * (~is_station[sites]).astype(np.float64)
    n_cand = int(n_g.sum())
    k_member = 3.0 * min(n_y, max(1, n_cand // min_members)) + WALK_WEIGHT * n_cand + 1.0
    one = _run_highs("joint branches (members, groups, walks)",
                     np.r_[k_member - WALK_WEIGHT * walk_mean, np.zeros(n_z), -group_cost], upper, True,
                     a, row_lo, row_hi, maximize=True, time_limit_s=deadline - time.perf_counter(),
                     start=start, mip_abs_gap=TIE_BREAK_ABS_GAP)
    if one.x is None:
        log.warning("joint branches: HiGHS found no solution (%s) within %g s; using the greedy grouping",
                    one.state, time_limit_s)
        minutes = np.full(n_m, np.nan)
        minutes[placed] = np.asarray(cost[np.flatnonzero(placed), greedy[placed]]).ravel()
        return JointBranchSolution(greedy, minutes, "greedy", None, one.runtime_s,
                                   f"greedy (HiGHS: {one.state} within {time_limit_s:g} s)")
    x_pair = np.round(one.x[:n_p])
    n_best = int(x_pair.sum())
    runtime = one.runtime_s

    # ---- shortest walks for these groups and units (a transportation LP: its optimum is integral)
    open_units = np.unique(gj[x_pair > 0] * n_units + g_unit[gi[x_pair > 0]])
    allow = np.isin(pj * n_units + unit[pi], open_units)
    qi, qj, qt = pi[allow], pj[allow], pt[allow]
    q_sites, qj_c = np.unique(qj, return_inverse=True)
    q_mem, qi_c = np.unique(qi, return_inverse=True)
    n_q = qi.size
    ones_q = np.ones(n_q)
    a3, lo3, hi3 = _assemble([
        (qi_c, np.arange(n_q), ones_q, np.full(q_mem.size, -np.inf), np.ones(q_mem.size)),
        (qj_c, np.arange(n_q), ones_q, np.full(q_sites.size, float(min_members)),
         np.full(q_sites.size, float(max_members))),
        (np.zeros(n_q, dtype=np.int64), np.arange(n_q), ones_q, np.full(1, float(n_best)),
         np.full(1, float(n_best))),
    ], n_q)
    three = _run_highs("joint branches (walking LP)", qt, ones_q, False, a3, lo3, hi3, maximize=False,
                       time_limit_s=max(deadline - time.perf_counter(), 5.0))
    runtime += three.runtime_s
    site_of = np.full(n_m, -1, dtype=np.int64)
    if three.x is not None and np.all(np.abs(three.x - np.round(three.x)) < 1e-6):
        take = np.round(three.x) > 0.5
        site_of[qi[take]] = qj[take]
    else:  # never expected (the LP is totally unimodular): hand out class places in member order
        log.warning("joint branches: the walking LP gave no integral answer (%s); members keep class order",
                    three.state)
        order = np.argsort(cls, kind="stable")
        order = order[cls[order] >= 0]
        first_of = np.searchsorted(cls[order], np.arange(rep.size))
        k = x_pair.astype(np.int64)
        cls_rep = np.repeat(gi, k)
        site_rep = np.repeat(gj, k)
        within = np.arange(cls_rep.size) - np.searchsorted(cls_rep, cls_rep)
        site_of[order[first_of[cls_rep] + within]] = site_rep

    state = one.state
    gap_txt = f"gap {100 * (one.gap or 0.0):.2f}%"
    if one.state != "optimal":
        gap_txt = f"{one.state.replace('_', ' ')} {time_limit_s:g} s, {gap_txt}"
    minutes = np.full(n_m, np.nan)
    placed = site_of >= 0
    minutes[placed] = np.asarray(cost[np.flatnonzero(placed), site_of[placed]]).ravel()
    log.info("joint branches: %d of %d members placed in %d groups in %.3f s (greedy: %d; %d members, "
             "%d classes)",
             int(placed.sum()), int(np.unique(pi).size), np.unique(site_of[placed]).size, runtime,
             int((greedy >= 0).sum()), int(n_g.sum()), rep.size)
    return JointBranchSolution(site_of, minutes, state, one.gap, runtime, f"highs ({gap_txt})")


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


def _joint_branch_recs(
    m: _Members, cand: np.ndarray, sites: _Places, is_station: np.ndarray, walk: RoadNetwork, *,
    rules: BranchSettings, limit_min: float, max_snap_m: float, time_limit_s: float,
) -> list[_Rec]:
    """Joint branches for the candidates (row positions ``cand``) at the sites."""
    if cand.size == 0 or sites.ids.size == 0:
        return []
    cm = cost_matrix(walk, m.snap.subset(cand), sites.snap(walk, max_snap_m), limit_min)
    _, unit = np.unique(m.branch[cand], return_inverse=True)
    sol = solve_joint_branches(
        cm, unit, is_station, min_members=rules.min_branch_members, max_members=rules.max_branch_members,
        max_units=rules.max_units_per_joint_branch, threshold_min=limit_min, time_limit_s=time_limit_s,
    )
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
    max_snap_m: float,
) -> list[_Rec]:
    """One row per target branch: members of ``rest`` within reach of another branch's meeting place."""
    if rest.size == 0 or branches.ids.size == 0:
        return []
    bm = sparse.coo_matrix(cost_matrix(walk, m.snap.subset(rest), branches.snap(walk, max_snap_m), limit_min))
    other = bm.col != m.branch_pos[rest[bm.row]]
    r, c, v = bm.row[other], bm.col[other], bm.data[other]
    order = np.lexsort((c, v, r))  # per member: nearest first (then the lower branch row)
    r, c, v = r[order], c[order], v[order]
    first = np.r_[True, r[1:] != r[:-1]] if r.size else np.empty(0, dtype=bool)
    r, c, v = r[first], c[first], v[first]
    out: list[_Rec] = []
    for b in np.unique(c):
        g, t = rest[r[c == b]], v[c == b]
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
    for b in range(branches.ids.size):
        g_all = np.flatnonzero((m.branch_pos == b) & free)
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
        Time limit of the joint-branch model, seconds.

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
    recs = _joint_branch_recs(m, cand, s, (sites["kind"] == "station").to_numpy(), walk, rules=rules,
                              limit_min=limit, max_snap_m=max_snap_m, time_limit_s=time_limit_s)
    taken = np.zeros(n, dtype=bool)
    for _, g in recs:
        taken[g] = True
    recs += _transfer_recs(m, cand[~taken[cand]], b, walk, limit_min=limit, max_snap_m=max_snap_m)
    recs += _remote_recs(m, np.flatnonzero(is_remote), walk, rules=rules)
    for _, g in recs:
        taken[g] = True
    recs += _party_group_recs(m, ~taken & ~is_remote, b, walk, rules=rules)

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
