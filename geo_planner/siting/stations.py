"""Station siting: maximal covering, set covering and p-median models.

A matrix in, an immutable result out. The models never see the road network: they take
sparse member × site structures computed by ``travel.py`` / ``coverage.py``.

Conventions
-----------
* ``I`` members (rows, with weights ``w >= 0``) and ``J`` candidate sites (columns).
* ``coverage`` is a scipy.sparse boolean (or 0/1) matrix of shape ``(I, J)``: a stored
  non-zero at ``(i, j)`` means member ``i`` reaches site ``j`` within the threshold.
  Stored zeros are ignored (they mean *not covered*).
* ``cost`` (p-median) is a scipy.sparse matrix of shape ``(I, J)`` of travel minutes whose
  **stored entries are the allowed pairs** (already cut off at some maximum); a pair that
  is not stored is not allowed. An explicit ``0`` stored entry is an allowed pair with a
  0-minute trip: the structure (``indptr``/``indices``) is read as-is and never passed
  through ``eliminate_zeros`` or arithmetic that would drop it. Build such matrices with
  :func:`sparse_cost_matrix`, which keeps explicit zeros.
* ``existing`` is a boolean array of length ``J``: those sites are already open, always
  stay open, count toward coverage and do **not** count toward ``p``.

Every model first reduces the instance (members covered by an existing site, members no
candidate can reach, identical member rows merged with their weights summed, empty and
dominated candidate columns dropped), then solves it exactly with HiGHS — the MILP is
passed as CSR arrays in one call — or, when the reduced instance has more than
``max_exact_size`` stored pairs, with a greedy heuristic that says so in the result.
The heuristic solution is also HiGHS's starting point, so a solve stopped by the time limit
returns something at least as good, with ``status == "time_limit"`` and the gap.

Sizes: on 2 cores the uncapacitated MCLP/LSCP solve reduced instances of ~30,000 pairs in
seconds; the p-median LP is much heavier (~40,000 pairs: 10–30 s; ~300,000 pairs: the root LP
does not finish in two minutes and the heuristic start is returned). Capacitated variants
assign members whole (integer), which is harder still.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..errors import InputError, Problem, SolverError
from ..settings import SitingSettings
from .pmedian_radius import radius_p_median
from .budget import TimeBudget
from .highs import Milp, Outcome, require_solution, solve_milp

logger = logging.getLogger(__name__)

__all__ = [
    "SitingResult",
    "greedy_lscp",
    "greedy_mclp",
    "greedy_p_median",
    "lscp",
    "mclp",
    "p_median",
    "plan_stations",
    "sparse_cost_matrix",
]

SparseMatrix = sp.sparray | sp.spmatrix
ModelName = Literal["mclp", "lscp", "p_median"]
Method = Literal["highs", "greedy"]
PMedianFormulation = Literal["radius", "pairs"]

#: Upper bound on the work (sum of squared row lengths) spent looking for dominated columns.
_DOMINANCE_WORK_LIMIT = 50_000_000
#: Seed of the random row-hash keys (only used to detect identical rows; verified exactly).
_HASH_SEED = 20240611
#: Relative tolerance on weights when checking targets.
_REL_TOL = 1e-9


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class SitingResult:
    """Immutable outcome of a siting model.

    Attributes
    ----------
    model
        ``"mclp"`` (maximal covering), ``"lscp"`` (set covering) or ``"p_median"``.
    method
        ``"highs"`` (exact MILP) or ``"greedy"`` (heuristic, used above ``max_exact_size``).
    status
        ``"optimal"``; ``"time_limit"`` (a feasible, not proven optimal solution — see
        ``gap``); ``"heuristic"`` for the greedy method.
    selected
        Sorted indices (columns of the input matrix) of the **new** sites to open.
    objective
        Covered weight (mclp), number of new sites (lscp) or total weighted travel minutes
        of the assigned members (p_median).
    covered_weight
        Weight of members covered (mclp/lscp) or assigned to an open site (p_median),
        existing sites included; with a capacity, the weight actually served.
    total_weight
        Weight of all members.
    coverage_share
        ``covered_weight / total_weight`` (0 when the total weight is 0).
    gap
        Relative MIP gap reported by HiGHS; ``None`` for the greedy method.
    runtime_s
        Wall-clock seconds of the whole call (validation, reduction, solve, report).
    member_site
        One entry per input member (aligned with the rows): the open site covering /
        serving it, or ``-1``. Without capacity an existing site is preferred, then the
        lowest-indexed new site (mclp/lscp) or the cheapest open site (p_median).
    message
        Human-readable summary (reductions, unreachable members, heuristic warning).
    coverable_weight
        Weight of members that at least one site (existing or candidate) can cover / reach.
    existing
        Sorted indices of the existing (always open) sites.
    site_load
        With a capacity: weight served per site (length ``J``, 0 for closed sites);
        otherwise ``None``.
    """

    model: ModelName
    method: Method
    status: str
    selected: np.ndarray
    objective: float
    covered_weight: float
    total_weight: float
    coverage_share: float
    gap: float | None
    runtime_s: float
    member_site: np.ndarray
    message: str
    coverable_weight: float = 0.0
    existing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    site_load: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("selected", "member_site", "existing", "site_load"):
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    @property
    def open_sites(self) -> np.ndarray:
        """Sorted indices of every open site (existing and new)."""
        return np.union1d(self.existing, self.selected)


# --------------------------------------------------------------------------- public API


def sparse_cost_matrix(
    rows: npt.ArrayLike, cols: npt.ArrayLike, minutes: npt.ArrayLike, shape: tuple[int, int]
) -> sp.csr_array:
    """Build a p-median cost matrix from allowed pairs, keeping explicit zero costs.

    Parameters
    ----------
    rows, cols
        Member and site index of each allowed pair (no duplicated pair).
    minutes
        Travel time of each pair, minutes (``>= 0``; ``0`` is a valid, stored cost).
    shape
        ``(I, J)``.

    Returns
    -------
    scipy.sparse.csr_array
        Canonical CSR (sorted indices) whose stored entries are exactly the given pairs.

    Raises
    ------
    InputError
        If the arrays differ in length, an index is out of range or a pair is repeated.
    """
    r = np.asarray(rows, dtype=np.int64).ravel()
    c = np.asarray(cols, dtype=np.int64).ravel()
    m = np.asarray(minutes, dtype=np.float64).ravel()
    src = "sparse_cost_matrix"
    if not (len(r) == len(c) == len(m)):
        raise InputError(Problem(src, None, "rows/cols/minutes",
                                 "rows, cols and minutes must have equal length"))
    n_i, n_j = int(shape[0]), int(shape[1])
    if len(r) and (r.min() < 0 or r.max() >= n_i or c.min() < 0 or c.max() >= n_j):
        raise InputError(Problem(src, None, "rows/cols", f"index out of range for shape {shape}"))
    order = np.lexsort((c, r))
    r, c, m = r[order], c[order], m[order]
    if len(r) > 1 and np.any((r[1:] == r[:-1]) & (c[1:] == c[:-1])):
        raise InputError(Problem(src, None, "rows/cols", "a member–site pair is given twice"))
    indptr = np.zeros(n_i + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_i), out=indptr[1:])
    out = sp.csr_array((m, c, indptr), shape=(n_i, n_j))
    out.has_sorted_indices = True
    return out


def mclp(
    coverage: SparseMatrix,
    weights: npt.ArrayLike | None,
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    capacity: float | npt.ArrayLike | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    max_exact_size: int = 5_000_000,
) -> SitingResult:
    """Maximal covering: open ``p`` new sites (plus all existing) maximising covered weight.

    Parameters
    ----------
    coverage
        Sparse boolean ``(I, J)``: member ``i`` is covered by site ``j`` (travel time within
        the threshold).
    weights
        Member weights, length ``I``, ``>= 0`` (``None``: all 1).
    p
        Number of new sites to open (existing sites do not count). The model opens at most
        ``p``: sites that would cover no additional weight are not opened (the message says so).
    existing
        Boolean mask of length ``J`` of sites already open.
    capacity
        ``None`` (uncapacitated), a scalar (member weight each site can serve, existing
        sites included) or an array of length ``J``. With a capacity each member is served
        whole by one covering open site (identical members are handled as integer counts).
    time_limit_s
        HiGHS time limit, seconds.
    mip_gap
        Relative MIP gap at which HiGHS may stop.
    max_exact_size
        Above this many stored pairs in the reduced matrix the greedy heuristic is used.

    Returns
    -------
    SitingResult
        ``objective`` is the covered (served) weight, existing sites included.

    Raises
    ------
    InputError
        Bad shapes, negative or non-finite weights, ``p`` larger than the candidates.
    SolverError
        HiGHS found no feasible solution (e.g. time limit before any incumbent).
    """
    return _run_cover("mclp", coverage, weights, p=p, target=None, existing=existing, capacity=capacity,
                      time_limit_s=time_limit_s, mip_gap=mip_gap, max_exact_size=max_exact_size,
                      force_greedy=False)


def greedy_mclp(
    coverage: SparseMatrix,
    weights: npt.ArrayLike | None,
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    capacity: float | npt.ArrayLike | None = None,
) -> SitingResult:
    """Greedy maximal covering (lazy greedy; within ``1 - 1/e`` of optimum without capacity).

    Same inputs and result as :func:`mclp`; ``method == "greedy"``. Meant for benchmarks
    and for instances too large for the exact model.
    """
    return _run_cover("mclp", coverage, weights, p=p, target=None, existing=existing, capacity=capacity,
                      time_limit_s=60.0, mip_gap=0.0, max_exact_size=1, force_greedy=True)


def lscp(
    coverage: SparseMatrix,
    weights: npt.ArrayLike | None,
    target_coverage: float,
    *,
    existing: npt.ArrayLike | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    max_exact_size: int = 5_000_000,
) -> SitingResult:
    """Set covering: fewest new sites so the covered weight reaches a target.

    The target is ``target_coverage × coverable weight``, where the coverable weight is that
    of members some site (existing or candidate) covers. Opening every candidate always
    reaches it, so the model is never infeasible; members beyond every site's threshold are
    reported in the message and ``coverage_share`` gives the share of the **total** weight.

    Parameters
    ----------
    coverage
        Sparse boolean ``(I, J)`` coverage.
    weights
        Member weights, length ``I``, ``>= 0`` (``None``: all 1).
    target_coverage
        Share in ``(0, 1]`` of the coverable weight to cover.
    existing
        Boolean mask of length ``J`` of sites already open.
    time_limit_s
        HiGHS time limit, seconds.
    mip_gap
        Relative MIP gap at which HiGHS may stop.
    max_exact_size
        Above this many stored pairs in the reduced matrix the greedy heuristic is used.

    Returns
    -------
    SitingResult
        ``objective`` is the number of new sites.

    Raises
    ------
    InputError
        Bad shapes, weights or ``target_coverage`` outside ``(0, 1]``.
    SolverError
        HiGHS found no feasible solution within the time limit.
    """
    return _run_cover("lscp", coverage, weights, p=None, target=target_coverage, existing=existing,
                      capacity=None, time_limit_s=time_limit_s, mip_gap=mip_gap,
                      max_exact_size=max_exact_size, force_greedy=False)


def greedy_lscp(
    coverage: SparseMatrix,
    weights: npt.ArrayLike | None,
    target_coverage: float,
    *,
    existing: npt.ArrayLike | None = None,
) -> SitingResult:
    """Greedy set covering (add the site covering most new weight, then drop redundant ones).

    Same inputs and result as :func:`lscp`; ``method == "greedy"``.
    """
    return _run_cover("lscp", coverage, weights, p=None, target=target_coverage, existing=existing,
                      capacity=None, time_limit_s=60.0, mip_gap=0.0, max_exact_size=1, force_greedy=True)


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
        refined on demand, :mod:`geo_planner.siting.pmedian_radius`) or ``"pairs"`` (the
        textbook one-variable-per-pair model, kept as the benchmark baseline). The
        capacitated model always assigns pairs.

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
                         formulation=formulation)


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


def plan_stations(
    coverage: SparseMatrix,
    weights: npt.ArrayLike | None,
    settings: SitingSettings,
    *,
    existing: npt.ArrayLike | None = None,
    cost: SparseMatrix | None = None,
    budget: TimeBudget | None = None,
    reserve: float = 0.0,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, SitingResult]:
    """Run the station models with a scenario's :class:`SitingSettings`.

    Parameters
    ----------
    coverage
        Sparse boolean ``(I, J)`` coverage at the station threshold.
    weights
        Member weights (``None``: all 1).
    settings
        ``new_stations`` is ``p``; ``target_coverage``, ``capacity``, ``time_limit_s``,
        ``mip_gap`` and ``max_exact_size`` are passed through (``max_exact_pmedian_size``
        for the p-median).
    existing
        Boolean mask of existing stations.
    cost
        Optional sparse travel minutes for the p-median (skipped when ``None``).
    budget
        The siting stage's shared time limit (:class:`~geo_planner.siting.budget.TimeBudget`):
        each model gets its share of the time left instead of ``settings.time_limit_s``.
    reserve
        Weight of the models that run after these on the same budget (each model here weighs 1).
    progress
        Called as ``progress(model, fraction)`` before each model.

    Returns
    -------
    dict
        ``{"mclp": ..., "lscp": ..., "p_median": ...}`` (``p_median`` only with ``cost``).
    """
    models = ["mclp", "lscp"] + (["p_median"] if cost is not None else [])

    def opts(k: int) -> dict[str, Any]:
        if progress is not None:
            progress(models[k], k / len(models))
        limit = (settings.time_limit_s if budget is None
                 else budget.share(1.0, len(models) - k + reserve))
        return {"time_limit_s": limit, "mip_gap": settings.mip_gap, "max_exact_size": settings.max_exact_size}

    out = {
        "mclp": mclp(coverage, weights, settings.new_stations, existing=existing,
                     capacity=settings.capacity, **opts(0)),
        "lscp": lscp(coverage, weights, settings.target_coverage, existing=existing, **opts(1)),
    }
    if cost is not None:
        out["p_median"] = p_median(cost, weights, settings.new_stations, existing=existing,
                                   capacity=settings.capacity,
                                   **{**opts(2), "max_exact_size": settings.max_exact_pmedian_size})
    return out


# --------------------------------------------------------------------------- validation


def _as_csr(matrix: object, model: str, field: str, problems: list[Problem]) -> sp.csr_array | None:
    if not (sp.issparse(matrix)):
        kind = type(matrix).__name__
        problems.append(Problem(model, None, field,
                                f"must be a scipy.sparse matrix of shape (members, sites), got {kind}; "
                                "build it with scipy.sparse.csr_array(...) (dense member × site "
                                "matrices are not accepted)"))
        return None
    if matrix.ndim != 2:  # type: ignore[union-attr]
        problems.append(Problem(model, None, field, "must be 2-dimensional (members, sites)"))
        return None
    csr = sp.csr_array(matrix, copy=True)
    if not csr.has_sorted_indices:
        csr.sort_indices()
    return csr


def _validate(
    model: str,
    matrix: object,
    field: str,
    weights: npt.ArrayLike | None,
    existing: npt.ArrayLike | None,
    p: int | None,
    capacity: float | npt.ArrayLike | None,
    time_limit_s: float,
    mip_gap: float,
    max_exact_size: int,
) -> tuple[sp.csr_array, np.ndarray, np.ndarray, np.ndarray | None]:
    """Check every input, collect all problems and raise once."""
    problems: list[Problem] = []
    csr = _as_csr(matrix, model, field, problems)
    n_i, n_j = csr.shape if csr is not None else (None, None)

    if weights is None:
        w = np.ones(n_i or 0, dtype=np.float64)
    else:
        try:
            w = np.asarray(weights, dtype=np.float64)
        except (TypeError, ValueError):
            problems.append(Problem(model, None, "weights", "must be numbers"))
            w = np.zeros(0)
        if w.ndim != 1:
            problems.append(Problem(model, None, "weights", f"must be 1-dimensional, got shape {w.shape}"))
            w = w.ravel()
        elif n_i is not None and len(w) != n_i:
            problems.append(Problem(model, None, "weights",
                                    f"has {len(w)} values but {field} has {n_i} member rows"))
        bad = ~np.isfinite(w)
        if bad.any():
            problems.append(Problem(model, int(np.flatnonzero(bad)[0]) + 2, "weights",
                                    f"{int(bad.sum())} weight(s) are NaN or infinite"))
        neg = w < 0
        if neg.any():
            problems.append(Problem(model, int(np.flatnonzero(neg)[0]) + 2, "weights",
                                    f"{int(neg.sum())} weight(s) are negative; weights must be >= 0"))

    ex = np.zeros(n_j or 0, dtype=bool)
    if existing is not None:
        e = np.asarray(existing)
        if e.ndim != 1 or (n_j is not None and len(e) != n_j):
            problems.append(Problem(model, None, "existing",
                                    f"must be a boolean mask of length {n_j} (one per site), "
                                    f"got shape {e.shape}"))
        elif e.dtype != bool and not np.isin(e, (0, 1)).all():
            problems.append(Problem(model, None, "existing",
                                    "must be a boolean mask (True = existing site), not site indices"))
        else:
            ex = e.astype(bool)

    if p is not None:
        n_cand = int((~ex).sum())
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
            problems.append(Problem(model, None, "p", f"must be a non-negative integer, got {p!r}"))
        elif n_j is not None and p > n_cand:
            problems.append(Problem(model, None, "p",
                                    f"asks for {p} new sites but only {n_cand} candidate sites are not "
                                    f"already existing ({int(ex.sum())} existing of {n_j})"))

    cap: np.ndarray | None = None
    if capacity is not None:
        c = np.asarray(capacity, dtype=np.float64)
        if c.ndim == 0:
            c = np.full(n_j or 0, float(c))
        if c.ndim != 1 or (n_j is not None and len(c) != n_j):
            problems.append(Problem(model, None, "capacity",
                                    f"must be a scalar or have length {n_j} (one per site)"))
        elif not np.all(np.isfinite(c)) or np.any(c < 0):
            problems.append(Problem(model, None, "capacity", "must be finite and >= 0"))
        else:
            cap = c
    if not time_limit_s > 0:
        problems.append(Problem(model, None, "time_limit_s", "must be > 0"))
    if not 0 <= mip_gap < 1:
        problems.append(Problem(model, None, "mip_gap", "must be in [0, 1)"))
    if not max_exact_size > 0:
        problems.append(Problem(model, None, "max_exact_size", "must be > 0"))
    if problems:
        raise InputError(problems)
    assert csr is not None
    return csr, w, ex, cap


def _coverage_pattern(csr: sp.csr_array, model: str) -> sp.csr_array:
    """Return the 0/1 pattern (bool data) of a coverage matrix; stored zeros are dropped."""
    data = csr.data
    if data.dtype != bool:
        if not np.all(np.isfinite(data)) or not np.isin(data, (0, 1)).all():
            raise InputError(Problem(model, None, "coverage",
                                     "must hold only 0/1 or booleans (got other values, e.g. travel "
                                     "times); threshold the travel times first"))
    out = sp.csr_array((data.astype(bool), csr.indices, csr.indptr), shape=csr.shape)
    out.eliminate_zeros()
    out.has_sorted_indices = True
    return out


# --------------------------------------------------------------------------- reductions


def _row_segment_sum(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sum ``values`` over CSR row segments (empty rows give 0; wraps modulo 2**64 for uint64)."""
    cs = np.zeros(len(values) + 1, dtype=values.dtype)
    np.cumsum(values, out=cs[1:])
    return cs[indptr[1:]] - cs[indptr[:-1]]


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: every input bit affects every output bit (uint64, wraps)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _group_identical_rows(
    m: sp.csr_array, *, with_values: bool, extra: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows with identical pattern (and values, and ``extra`` per-row key).

    Rows are hashed with random 64-bit keys per column (vectorised), then the grouping is
    verified exactly; on the (astronomically unlikely) event of a collision, no rows merge.

    Returns
    -------
    group_of_row, representative
        ``group_of_row[i]`` is the group of row ``i``; ``representative[g]`` one row of group ``g``.
    """
    n = m.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(_HASH_SEED)
    keys = [np.diff(m.indptr).astype(np.uint64)]
    for _ in range(2):
        r = rng.integers(1, np.iinfo(np.int64).max, size=m.shape[1], dtype=np.int64).astype(np.uint64)
        keys.append(_row_segment_sum(r[m.indices], m.indptr))
    if with_values:
        # mix the float bits first: integer-valued costs have all-zero low mantissa bits, and a
        # plain product with the column key would then hash on a few high bits only
        bits = _mix64((m.data.astype(np.float64) + 0.0).view(np.uint64))
        r = rng.integers(1, np.iinfo(np.int64).max, size=m.shape[1], dtype=np.int64).astype(np.uint64)
        keys.append(_row_segment_sum(bits * r[m.indices], m.indptr))
    if extra is not None:
        keys.append((extra.astype(np.float64) + 0.0).view(np.uint64))
    key = np.stack(keys, axis=1)
    _, rep, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    # exact verification: every row equals its group's representative
    reps_of_rows = rep[inv]
    mr = m[reps_of_rows]
    ok = np.array_equal(mr.indptr, m.indptr) and np.array_equal(mr.indices, m.indices)
    if ok and with_values:
        ok = np.array_equal(mr.data, m.data)
    if ok and extra is not None:
        ok = np.array_equal(extra[reps_of_rows], extra)
    if not ok:  # pragma: no cover - hash collision
        logger.warning("row hash collision; identical rows are not merged")
        return np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)
    return inv.astype(np.int64), rep.astype(np.int64)


def _dominated_columns(a: sp.csr_array) -> np.ndarray:
    """Boolean mask of columns whose row set is contained in another kept column's.

    Ties (identical columns) keep the lowest index. Skipped (all False) when the co-occurrence
    product would cost more than ``_DOMINANCE_WORK_LIMIT``.
    """
    n_cols = a.shape[1]
    row_len = np.diff(a.indptr).astype(np.float64)
    if n_cols < 2 or float(row_len @ row_len) > _DOMINANCE_WORK_LIMIT:
        return np.zeros(n_cols, dtype=bool)
    b = sp.csr_array((np.ones(a.nnz, dtype=np.int32), a.indices, a.indptr), shape=a.shape)
    s = (b.T @ b).tocoo()
    count = np.asarray(b.sum(axis=0)).ravel()
    r, c, v = s.row, s.col, s.data
    dom = (r != c) & (v == count[r]) & ((count[c] > count[r]) | ((count[c] == count[r]) & (c < r)))
    mask = np.zeros(n_cols, dtype=bool)
    mask[r[dom]] = True
    return mask


def _members_of_groups(group_of_row: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Return rows sorted by group and the start offset of each group in that order."""
    order = np.argsort(group_of_row, kind="stable")
    start = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(group_of_row, minlength=n_groups), out=start[1:])
    return order, start


def _disaggregate(
    pair_group: np.ndarray, pair_col: np.ndarray, counts: np.ndarray,
    order: np.ndarray, start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Spread integer pair counts of merged groups back to their member rows.

    Returns the local row ids (into the rows that were grouped) and their assigned columns.
    """
    counts = np.rint(counts).astype(np.int64)
    keep = counts > 0
    g = np.repeat(pair_group[keep], counts[keep])
    cols = np.repeat(pair_col[keep], counts[keep])
    if len(g) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    srt = np.argsort(g, kind="stable")
    g, cols = g[srt], cols[srt]
    first = np.searchsorted(g, g, side="left")
    rank = np.arange(len(g)) - first
    return order[start[g] + rank], cols


# --------------------------------------------------------------------------- HiGHS


def _solve_highs(
    *,
    label: str,
    col_cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    integer: np.ndarray,
    a: sp.csr_array,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    maximize: bool,
    time_limit_s: float,
    mip_gap: float,
    presolve: bool = True,
    start: np.ndarray | None = None,
) -> Outcome:
    """Solve with :func:`~geo_planner.siting.highs.solve_milp`; raise when there is no solution."""
    out = solve_milp(Milp(col_cost, col_lower, col_upper, integer, a, row_lower, row_upper, maximize),
                     label=label, time_limit_s=time_limit_s, mip_gap=mip_gap, presolve=presolve, start=start)
    require_solution(out)
    return out


# --------------------------------------------------------------------------- covering models


def _first_open_site(cov: sp.csr_array, open_mask: np.ndarray, existing: np.ndarray) -> np.ndarray:
    """For each row, an open covering site: an existing one first, else the lowest index."""
    n_i, n_j = cov.shape
    order = np.concatenate([np.flatnonzero(existing & open_mask), np.flatnonzero(~existing & open_mask)])
    out = np.full(n_i, -1, dtype=np.int64)
    if len(order) == 0:
        return out
    rank = np.full(n_j, np.iinfo(np.int64).max, dtype=np.int64)
    rank[order] = np.arange(len(order))
    vals = rank[cov.indices]
    big = np.iinfo(np.int64).max
    has = np.diff(cov.indptr) > 0
    best = np.full(n_i, big, dtype=np.int64)
    if has.any():
        best[has] = np.minimum.reduceat(vals, cov.indptr[:-1][has])
    ok = best < big
    out[ok] = order[best[ok]]
    return out


def _celf(a_csc: sp.csc_array, wg: np.ndarray, *, p: int | None, need: float | None) -> list[int]:
    """Lazy greedy maximal coverage on a (groups × columns) pattern.

    Stops after ``p`` columns, when the covered weight reaches ``need``, or when no column
    adds weight. Returns the chosen columns in the order chosen.
    """
    n_cols = a_csc.shape[1]
    covered = np.zeros(a_csc.shape[0], dtype=bool)
    gains = np.asarray(a_csc.T @ wg).ravel() if n_cols else np.zeros(0)
    heap = [(-float(g), int(j), 0) for j, g in enumerate(gains) if g > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    got = 0.0
    step = 0
    while heap:
        if p is not None and len(chosen) >= p:
            break
        if need is not None and got >= need:
            break
        neg, j, stamp = heapq.heappop(heap)
        if stamp != step:
            rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
            g = float(wg[rows][~covered[rows]].sum())
            if g > 0:
                heapq.heappush(heap, (-g, j, step))
            continue
        rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
        covered[rows] = True
        got += -neg
        chosen.append(j)
        step += 1
    return chosen


def _prune_redundant(a_csc: sp.csc_array, wg: np.ndarray, chosen: list[int], need: float) -> list[int]:
    """Drop chosen columns (latest first) whose removal keeps the covered weight >= need."""
    count = np.zeros(a_csc.shape[0], dtype=np.int64)
    for j in chosen:
        count[a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]] += 1
    got = float(wg[count > 0].sum())
    kept = list(chosen)
    for j in reversed(chosen):
        rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
        loss = float(wg[rows][count[rows] == 1].sum())
        if got - loss >= need:
            count[rows] -= 1
            got -= loss
            kept.remove(j)
    return kept


def _cover_interchange(
    a_csc: sp.csc_array, wg: np.ndarray, chosen: list[int], *, time_budget_s: float, max_passes: int = 20
) -> np.ndarray:
    """Improve a set of columns for maximal coverage by single swaps (first improvement).

    For each chosen column, the weight only it covers is compared with the best weight any
    other column would add once it is removed (one sparse product per trial).
    """
    t_end = time.perf_counter() + time_budget_s
    chosen = list(chosen)
    if not chosen or len(chosen) >= a_csc.shape[1]:
        return np.asarray(sorted(chosen), dtype=np.int64)
    a_t = a_csc.T.tocsr().astype(np.float64)  # columns × groups
    count = np.zeros(a_csc.shape[0], dtype=np.int64)
    for j in chosen:
        count[a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]] += 1
    in_set = np.zeros(a_csc.shape[1], dtype=bool)
    in_set[chosen] = True
    tol = 1e-9 * max(float(wg.sum()), 1.0)
    for _ in range(max_passes):
        improved = False
        for pos in range(len(chosen)):
            s = chosen[pos]
            rows_s = a_csc.indices[a_csc.indptr[s]:a_csc.indptr[s + 1]]
            loss = float(wg[rows_s][count[rows_s] == 1].sum())
            count[rows_s] -= 1
            gains = a_t @ np.where(count == 0, wg, 0.0)
            gains[in_set] = -np.inf
            k = int(np.argmax(gains))
            if gains[k] > loss + tol:
                in_set[s], in_set[k] = False, True
                chosen[pos] = k
                count[a_csc.indices[a_csc.indptr[k]:a_csc.indptr[k + 1]]] += 1
                improved = True
            else:
                count[rows_s] += 1
            if time.perf_counter() > t_end:
                return np.asarray(sorted(chosen), dtype=np.int64)
        if not improved:
            break
    return np.asarray(sorted(chosen), dtype=np.int64)


def _run_cover(
    model: Literal["mclp", "lscp"],
    coverage: SparseMatrix,
    weights: npt.ArrayLike | None,
    *,
    p: int | None,
    target: float | None,
    existing: npt.ArrayLike | None,
    capacity: float | npt.ArrayLike | None,
    time_limit_s: float,
    mip_gap: float,
    max_exact_size: int,
    force_greedy: bool,
) -> SitingResult:
    t0 = time.perf_counter()
    if target is not None and not (isinstance(target, (int, float, np.floating)) and 0 < target <= 1):
        raise InputError(Problem(model, None, "target_coverage", f"must be in (0, 1], got {target!r}"))
    csr, w, ex, cap = _validate(model, coverage, "coverage", weights, existing, p, capacity,
                                time_limit_s, mip_gap, max_exact_size)
    cov = _coverage_pattern(csr, model)
    n_i, n_j = cov.shape
    cand = ~ex
    n_ex_cover = np.asarray(cov @ ex.astype(np.int64)).ravel()
    n_cand_cover = np.asarray(cov @ cand.astype(np.int64)).ravel()
    by_existing = n_ex_cover > 0
    coverable = by_existing | (n_cand_cover > 0)
    total_w = float(w.sum())
    coverable_w = float(w[coverable].sum())
    notes: list[str] = []
    if coverable_w < total_w * (1 - _REL_TOL):
        notes.append(f"{total_w - coverable_w:.6g} of {total_w:.6g} member weight "
                     f"({(1 - coverable_w / total_w) if total_w else 0:.1%}) is beyond the threshold "
                     "of every site")

    if cap is not None:
        return _run_capacitated_mclp(cov, w, ex, cap, int(p or 0), t0=t0, notes=notes, total_w=total_w,
                                     coverable_w=coverable_w, time_limit_s=time_limit_s, mip_gap=mip_gap,
                                     max_exact_size=max_exact_size, force_greedy=force_greedy)

    # ---- reduce: members still to cover, on candidate columns only
    base_w = float(w[by_existing].sum())
    keep_rows = np.flatnonzero(~by_existing & (n_cand_cover > 0) & (w > 0))
    cand_idx = np.flatnonzero(cand)
    sub = cov[keep_rows][:, cand_idx]
    sub.sort_indices()
    group, rep = _group_identical_rows(sub, with_values=False)
    wg = np.bincount(group, weights=w[keep_rows], minlength=len(rep))
    a = sub[rep]
    a.sort_indices()
    col_nnz = np.diff(a.tocsc().indptr)
    useful = col_nnz > 0
    dominated = _dominated_columns(a) & useful
    useful &= ~dominated
    col_map = cand_idx[np.flatnonzero(useful)]
    a = a[:, np.flatnonzero(useful)]
    a.sort_indices()
    notes.append(f"reduced to {a.shape[0]} member groups × {a.shape[1]} candidate sites, {a.nnz} pairs "
                 f"(from {n_i} × {n_j}, {cov.nnz}; {int(by_existing.sum())} members already covered by "
                 f"existing sites, {int(dominated.sum())} dominated sites dropped)")
    logger.info("%s: %s", model, notes[-1])

    need: float | None = None
    if model == "lscp":
        assert target is not None
        need = target * coverable_w - base_w - _REL_TOL * max(coverable_w, 1.0)

    method: Method = "highs"
    status = "optimal"
    gap: float | None = 0.0
    chosen_local: np.ndarray
    trivial = (a.shape[1] == 0 or (model == "mclp" and (p == 0 or a.shape[1] <= (p or 0)))
               or (model == "lscp" and need is not None and need <= 0))
    if trivial:
        if model == "mclp" and a.shape[1] > 0 and p:
            chosen_local = np.arange(a.shape[1])  # p covers every useful candidate
        else:
            chosen_local = np.zeros(0, dtype=np.int64)
    elif force_greedy or a.nnz > max_exact_size:
        method, status, gap = "greedy", "heuristic", None
        why = ("requested" if force_greedy
               else f"reduced instance has {a.nnz} pairs > max_exact_size={max_exact_size}")
        notes.append(f"greedy heuristic used ({why}); the result is not proven optimal")
        logger.log(logging.INFO if force_greedy else logging.WARNING, "%s: %s", model, notes[-1])
        a_csc = a.tocsc()
        if model == "mclp":
            picks = _celf(a_csc, wg, p=p, need=None)
            chosen_local = _cover_interchange(a_csc, wg, picks, time_budget_s=time_limit_s)
        else:
            assert need is not None
            picks = _celf(a_csc, wg, p=None, need=need)
            chosen_local = np.asarray(_prune_redundant(a_csc, wg, picks, need), dtype=np.int64)
    else:
        # heuristic start (greedy, then interchange / pruning): HiGHS improves on it
        a_csc = a.tocsc()
        if model == "mclp":
            start = _cover_interchange(a_csc, wg, _celf(a_csc, wg, p=p, need=None),
                                       time_budget_s=min(0.1 * time_limit_s, 10.0))
        else:
            assert need is not None
            start = np.asarray(_prune_redundant(a_csc, wg, _celf(a_csc, wg, p=None, need=need), need))
        left = _time_left(t0, time_limit_s)
        out = (_mclp_highs(a, wg, int(p or 0), left, mip_gap, start) if model == "mclp"
               else _lscp_highs(a, wg, float(need or 0.0), bool(target is not None and target >= 1.0),
                                left, mip_gap, start))
        status, gap = out[1].status, out[1].gap
        notes.extend(_limit_note(status, gap, time_limit_s))
        chosen_local = out[0]
        if model == "mclp":
            expected = base_w + out[1].objective
            hit = np.asarray(a[:, chosen_local].sum(axis=1)).ravel() > 0
            got = base_w + float(wg[hit].sum())
            if got < expected - 1e-6 * max(1.0, abs(expected)):
                logger.warning("mclp: model objective %.9g differs from evaluated coverage %.9g",
                               expected, got)

    selected = np.sort(col_map[chosen_local]).astype(np.int64)
    open_mask = ex.copy()
    open_mask[selected] = True
    member_site = _first_open_site(cov, open_mask, ex)
    covered_w = float(w[member_site >= 0].sum())
    if model == "mclp":
        objective = covered_w
        if p is not None and len(selected) < p:
            notes.append(f"only {len(selected)} of p={p} new sites add coverage; the others would cover "
                         "no additional member and are not opened")
    else:
        objective = float(len(selected))
        assert target is not None
        notes.insert(0, f"target {target:.1%} of coverable weight {coverable_w:.6g} "
                        f"= {target * coverable_w:.6g}; reached {covered_w:.6g}")
    share = covered_w / total_w if total_w > 0 else 0.0
    message = (f"{model} ({method}, {status}): {len(selected)} new site(s), covered weight "
               f"{covered_w:.6g} of {total_w:.6g} ({share:.1%}). " + "; ".join(notes))
    return SitingResult(model=model, method=method, status=status, selected=selected, objective=objective,
                        covered_weight=covered_w, total_weight=total_w, coverage_share=share, gap=gap,
                        runtime_s=time.perf_counter() - t0, member_site=member_site, message=message,
                        coverable_weight=coverable_w, existing=np.flatnonzero(ex).astype(np.int64))


def _limit_note(status: str, gap: float | None, time_limit_s: float) -> list[str]:
    """A message note when HiGHS stopped before proving optimality."""
    if status == "optimal":
        return []
    how = (f"relative gap {gap:.2%}" if gap is not None and gap < 1
           else "before it could bound the optimum")
    return [f"HiGHS stopped ({status}) within the time limit of {time_limit_s:g} s, {how}; the result "
            "is at least as good as the heuristic start. Raise time_limit_s or lower max_exact_size"]


def _time_left(t0: float, time_limit_s: float) -> float:
    """Seconds left for the solver out of the call's time limit (at least 0.1 s: HiGHS then
    returns the heuristic start it was given)."""
    return max(0.1, time_limit_s - (time.perf_counter() - t0))


def _cover_start(a2: sp.csr_array, k: int, start: np.ndarray, with_z: bool = True) -> np.ndarray:
    """Columns ``[y | z]`` of a covering model for the start sites (``z_g`` = group covered)."""
    y = np.zeros(k)
    y[start] = 1.0
    if not with_z:
        return y
    z = np.minimum(1.0, np.asarray(a2.astype(np.float64) @ y).ravel())
    return np.concatenate([y, z])


def _fold_single_column_rows(a: sp.csr_array, wg: np.ndarray) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Move the weight of groups covered by exactly one column onto that column.

    Returns the remaining groups' matrix, their weights and the per-column bonus weight.
    """
    length = np.diff(a.indptr)
    single = length == 1
    bonus = np.bincount(a.indices[a.indptr[:-1][single]], weights=wg[single], minlength=a.shape[1])
    multi = np.flatnonzero(~single)
    return a[multi], wg[multi], bonus


def _cover_rows(a: sp.csr_array) -> sp.csr_array:
    """Rows ``z_g - sum_j a_gj y_j <= 0`` over columns ``[y (n_y) | z (G)]``."""
    g = a.shape[0]
    return sp.hstack([-a.astype(np.float64), sp.eye_array(g, format="csr")], format="csr")


def _mclp_highs(
    a: sp.csr_array, wg: np.ndarray, p: int, time_limit_s: float, mip_gap: float, start: np.ndarray
) -> tuple[np.ndarray, Outcome]:
    """Uncapacitated MCLP on a reduced (groups × candidates) pattern; returns chosen columns."""
    k = a.shape[1]
    a2, w2, bonus = _fold_single_column_rows(a, wg)
    g = a2.shape[0]
    rows = sp.vstack([_cover_rows(a2),
                      sp.csr_array((np.ones(k), np.arange(k), [0, k]), shape=(1, k + g))], format="csr")
    out = _solve_highs(
        label="mclp", col_cost=np.concatenate([bonus, w2]),
        col_lower=np.zeros(k + g), col_upper=np.ones(k + g),
        integer=np.concatenate([np.ones(k, np.int32), np.zeros(g, np.int32)]),
        a=rows, row_lower=np.full(g + 1, -np.inf), row_upper=np.concatenate([np.zeros(g), [p]]),
        maximize=True, time_limit_s=time_limit_s, mip_gap=mip_gap, presolve=False,
        start=_cover_start(a2, k, start))
    return np.flatnonzero(out.x[:k] > 0.5), out


def _lscp_highs(
    a: sp.csr_array, wg: np.ndarray, need: float, full: bool, time_limit_s: float, mip_gap: float,
    start: np.ndarray,
) -> tuple[np.ndarray, Outcome]:
    """LSCP on a reduced pattern: fewest columns covering at least ``need`` weight.

    With ``full`` (target 100 %) every group must be covered: the classic set-cover rows.
    """
    k = a.shape[1]
    if full:  # classic set cover: every group covered
        g = a.shape[0]
        out = _solve_highs(
            label="lscp", col_cost=np.ones(k), col_lower=np.zeros(k), col_upper=np.ones(k),
            integer=np.ones(k, np.int32), a=a.astype(np.float64).tocsr(),
            row_lower=np.ones(g), row_upper=np.full(g, np.inf),
            maximize=False, time_limit_s=time_limit_s, mip_gap=mip_gap, presolve=False,
            start=_cover_start(a, k, start, with_z=False))
        return np.flatnonzero(out.x[:k] > 0.5), out
    a2, w2, bonus = _fold_single_column_rows(a, wg)
    g = a2.shape[0]
    target_row = sp.csr_array((np.concatenate([bonus, w2]), np.arange(k + g), [0, k + g]), shape=(1, k + g))
    rows = sp.vstack([_cover_rows(a2), target_row], format="csr")
    out = _solve_highs(
        label="lscp", col_cost=np.concatenate([np.ones(k), np.zeros(g)]),
        col_lower=np.zeros(k + g), col_upper=np.ones(k + g),
        integer=np.concatenate([np.ones(k, np.int32), np.zeros(g, np.int32)]),
        a=rows, row_lower=np.concatenate([np.full(g, -np.inf), [need]]),
        row_upper=np.concatenate([np.zeros(g), [np.inf]]),
        maximize=False, time_limit_s=time_limit_s, mip_gap=mip_gap, presolve=False,
        start=_cover_start(a2, k, start))
    return np.flatnonzero(out.x[:k] > 0.5), out


# --------------------------------------------------------------------------- capacitated MCLP


def _run_capacitated_mclp(
    cov: sp.csr_array, w: np.ndarray, ex: np.ndarray, cap: np.ndarray, p: int, *, t0: float,
    notes: list[str], total_w: float, coverable_w: float, time_limit_s: float, mip_gap: float,
    max_exact_size: int, force_greedy: bool,
) -> SitingResult:
    """Capacitated MCLP: each member served whole by one covering open site within capacity."""
    n_i, n_j = cov.shape
    row_len = np.diff(cov.indptr)
    keep_rows = np.flatnonzero((row_len > 0) & (w > 0))
    sub = cov[keep_rows]
    sub.sort_indices()
    col_used = np.flatnonzero((np.diff(sub.tocsc().indptr) > 0) & (cap > 0))
    sub = sub[:, col_used]
    sub.sort_indices()
    nonempty = np.diff(sub.indptr) > 0
    keep_rows, sub = keep_rows[nonempty], sub[np.flatnonzero(nonempty)]
    wk = w[keep_rows]
    group, rep = _group_identical_rows(sub, with_values=False, extra=wk)
    n_g = len(rep)
    kg = np.bincount(group, minlength=n_g).astype(np.float64)
    wg = wk[rep]
    a = sub[rep]
    a.sort_indices()
    notes.append(f"capacitated: {n_g} member groups × {len(col_used)} sites, {a.nnz} pairs")
    is_cand = ~ex[col_used]
    member_site = np.full(n_i, -1, dtype=np.int64)
    method: Method = "highs"
    status = "optimal"
    chosen: np.ndarray

    chosen, local_site = _greedy_capacitated_cover(sub, wk, cap[col_used], is_cand, p)
    if force_greedy or a.nnz > max_exact_size:
        method, status = "greedy", "heuristic"
        why = "requested" if force_greedy else f"{a.nnz} pairs > max_exact_size={max_exact_size}"
        notes.append(f"greedy heuristic used ({why}); the result is not proven optimal")
        logger.log(logging.INFO if force_greedy else logging.WARNING, "mclp: %s", notes[-1])
        ok = local_site >= 0
        member_site[keep_rows[ok]] = col_used[local_site[ok]]
        selected = np.sort(col_used[chosen]).astype(np.int64)
        gap: float | None = None
    else:
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
        x0 = _pair_counts(a, group, local_site)
        out = _solve_highs(
            label="mclp (capacitated)",
            col_cost=np.concatenate([wg[pair_group], np.zeros(n_y)]),
            col_lower=np.zeros(n_var), col_upper=np.concatenate([kg[pair_group], np.ones(n_y)]),
            integer=np.ones(n_var, np.int32), a=rows,
            row_lower=np.full(rows.shape[0], -np.inf),
            row_upper=np.concatenate([kg, cap_upper, np.zeros(len(cp)), [p]]),
            maximize=True, time_limit_s=_time_left(t0, time_limit_s), mip_gap=mip_gap,
            start=np.concatenate([x0, y0]))
        status, gap = out.status, out.gap
        notes.extend(_limit_note(status, gap, time_limit_s))
        chosen = cand_cols[out.x[n_pairs:] > 0.5]
        order, start = _members_of_groups(group, n_g)
        loc_rows, loc_cols = _disaggregate(pair_group, pair_col, out.x[:n_pairs], order, start)
        member_site[keep_rows[loc_rows]] = col_used[loc_cols]
        selected = np.sort(col_used[chosen]).astype(np.int64)

    # zero-weight members use no capacity: report the first open site covering them
    open_mask = ex.copy()
    open_mask[selected] = True
    zero = np.flatnonzero((w == 0) & (row_len > 0))
    if len(zero):
        member_site[zero] = _first_open_site(cov[zero], open_mask, ex)
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


def _pair_counts(a: sp.csr_array, group_of_row: np.ndarray, site_of_row: np.ndarray) -> np.ndarray:
    """Members per stored pair of the grouped matrix ``a`` for a member-level assignment.

    ``site_of_row`` holds local column indices (or -1); the pairs must be stored in ``a``.
    """
    ok = site_of_row >= 0
    n_j = np.int64(a.shape[1])
    keys = np.repeat(np.arange(a.shape[0], dtype=np.int64), np.diff(a.indptr)) * n_j + a.indices
    pos = np.searchsorted(keys, group_of_row[ok].astype(np.int64) * n_j + site_of_row[ok])
    return np.bincount(pos, minlength=a.nnz).astype(np.float64)


def _greedy_capacitated_cover(
    sub: sp.csr_array, w: np.ndarray, cap: np.ndarray, is_cand: np.ndarray, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy capacitated covering on member rows.

    Existing sites serve first; then, ``p`` times, open the candidate that can serve most
    unserved weight (``min(capacity, unserved covered weight)``). A site serves its unserved
    members with fewest options first, heaviest first, while capacity remains.
    """
    csc = sub.tocsc()
    n_rows = sub.shape[0]
    options = np.diff(sub.indptr)
    site = np.full(n_rows, -1, dtype=np.int64)

    def serve(j: int) -> None:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        rows = rows[site[rows] < 0]
        rows = rows[np.lexsort((-w[rows], options[rows]))]
        left = cap[j]
        for r in rows:
            if w[r] <= left + 1e-12:
                site[r] = j
                left -= w[r]

    for j in np.flatnonzero(~is_cand):
        serve(int(j))
    chosen: list[int] = []
    is_open = ~is_cand.copy()
    for _ in range(p):
        unserved = np.where(site < 0, w, 0.0)
        gains = np.minimum(np.asarray(csc.T @ unserved).ravel(), cap)
        gains[is_open] = -1.0
        j = int(np.argmax(gains)) if len(gains) else -1
        if j < 0 or gains[j] <= 0:
            break
        is_open[j] = True
        chosen.append(j)
        serve(j)
    return np.asarray(chosen, dtype=np.int64), site


# --------------------------------------------------------------------------- p-median


def _run_p_median(
    cost: SparseMatrix, weights: npt.ArrayLike | None, p: int, *, existing: npt.ArrayLike | None,
    capacity: float | npt.ArrayLike | None, unassigned_penalty_min: float | None, time_limit_s: float,
    mip_gap: float, max_exact_size: int, force_greedy: bool, formulation: PMedianFormulation = "radius",
) -> SitingResult:
    t0 = time.perf_counter()
    if formulation not in ("radius", "pairs"):
        raise InputError(Problem("p_median", None, "formulation", "must be 'radius' or 'pairs'"))
    csr, w, ex, cap = _validate("p_median", cost, "cost", weights, existing, p, capacity,
                                time_limit_s, mip_gap, max_exact_size)
    c = csr.astype(np.float64)
    if len(c.indices) > 1:
        same = (c.indices[1:] == c.indices[:-1])
        row_starts = np.zeros(len(c.indices), dtype=bool)
        row_starts[c.indptr[:-1][np.diff(c.indptr) > 0]] = True
        if np.any(same & ~row_starts[1:]):
            raise InputError(Problem("p_median", None, "cost", "a member–site pair is stored twice; "
                                     "call sum_duplicates() or build it with sparse_cost_matrix"))
    if c.nnz and (not np.all(np.isfinite(c.data)) or c.data.min() < 0):
        raise InputError(Problem("p_median", None, "cost", "travel minutes must be finite and >= 0 "
                                 "(leave unreachable pairs out of the sparse matrix instead of inf)"))
    if unassigned_penalty_min is not None and not (np.isfinite(unassigned_penalty_min)
                                                   and unassigned_penalty_min > 0):
        raise InputError(Problem("p_median", None, "unassigned_penalty_min", "must be finite and > 0"))
    n_i, n_j = c.shape
    max_c = float(c.data.max()) if c.nnz else 0.0
    penalty = float(unassigned_penalty_min) if unassigned_penalty_min is not None else 10.0 * max(max_c, 1.0)
    if cap is not None:
        c = _drop_columns(c, cap > 0)
    total_w = float(w.sum())
    has_pair = np.diff(c.indptr) > 0
    coverable_w = float(w[has_pair].sum())
    notes: list[str] = []
    if coverable_w < total_w * (1 - _REL_TOL):
        notes.append(f"{int((~has_pair).sum())} member(s), weight {total_w - coverable_w:.6g}, have no "
                     "allowed site and are unassigned")
    rows = np.flatnonzero(has_pair & (w > 0))
    sub = c[rows]
    sub.sort_indices()
    method: Method = "highs"
    status, gap = "optimal", 0.0
    member_site = np.full(n_i, -1, dtype=np.int64)
    site_load: np.ndarray | None = None

    if cap is None:
        group, rep = _group_identical_rows(sub, with_values=True)
        n_g = len(rep)
        wg = np.bincount(group, weights=w[rows], minlength=n_g)
        a = sub[rep]
        a.sort_indices()
        # fallback cost per group: its cheapest existing site, else the penalty
        ex_cost = np.where(ex[a.indices], a.data, np.inf)
        fallback = np.full(n_g, np.inf)
        nz = np.diff(a.indptr) > 0
        fallback[nz] = np.minimum.reduceat(ex_cost, a.indptr[:-1][nz])
        fallback = np.minimum(fallback, penalty)
        pair_group = np.repeat(np.arange(n_g), np.diff(a.indptr))
        keep = ~ex[a.indices] & (a.data < fallback[pair_group])
        pg, pc, pv = pair_group[keep], a.indices[keep].astype(np.int64), a.data[keep]
        # groups without a useful candidate pair keep their fallback whatever is opened
        active, pg = np.unique(pg, return_inverse=True)
        pg = pg.ravel()
        wg, fallback, n_g = wg[active], fallback[active], len(active)
        cand_cols = np.unique(pc)
        notes.append(f"reduced to {n_g} member groups, {len(cand_cols)} useful candidate sites, "
                     f"{len(pg)} candidate pairs (from {n_i} × {n_j}, {c.nnz})")
        logger.info("p_median: %s", notes[-1])
        if len(cand_cols) == 0 or p == 0:
            chosen = np.zeros(0, dtype=np.int64)
        elif p >= len(cand_cols):
            chosen = cand_cols
        elif force_greedy or len(pg) > max_exact_size:
            method, status, gap = "greedy", "heuristic", None  # type: ignore[assignment]
            why = "requested" if force_greedy else f"{len(pg)} pairs > max_exact_size={max_exact_size}"
            notes.append(f"greedy + interchange heuristic used ({why}); not proven optimal")
            logger.log(logging.INFO if force_greedy else logging.WARNING, "p_median: %s", notes[-1])
            chosen = _greedy_interchange(pg, pc, pv, wg, fallback, n_g, n_j, p, time_limit_s)
        else:
            # the heuristic gets a quarter of the time: on large instances HiGHS may not finish
            # its root LP, and the start is then what it returns
            # the radius model needs only a reasonable start (it proves the bound itself); the
            # pairs model may not finish its root LP on large instances and then returns the start
            budget = min(0.05 * time_limit_s, 3.0) if formulation == "radius" else min(0.25 * time_limit_s, 30.0)
            start = _greedy_interchange(pg, pc, pv, wg, fallback, n_g, n_j, p, budget)
            if formulation == "radius":
                rad = radius_p_median(pg, pc, pv, wg, fallback, n_j, p, time_limit_s=_time_left(t0, time_limit_s),
                                      mip_gap=mip_gap, start=start)
                chosen, status, gap = rad.chosen, rad.status, rad.gap
                notes.append(f"radius formulation: {rad.iterations} solve(s), {rad.levels} radius levels, "
                             f"lower bound {rad.lower_bound:.6g}")
            else:
                chosen, out = _p_median_highs(pg, pc, pv, wg, fallback, n_g, n_j, p,
                                              _time_left(t0, time_limit_s), mip_gap, start)
                status, gap = out.status, out.gap  # type: ignore[assignment]
            notes.extend(_limit_note(status, gap, time_limit_s))
        selected = np.sort(chosen).astype(np.int64)
        open_mask = ex.copy()
        open_mask[selected] = True
        member_site = _cheapest_open_site(c, open_mask)
        assigned = member_site >= 0
    else:
        selected, member_site, method, status, gap = _capacitated_p_median(  # type: ignore[assignment]
            c, sub, rows, w, ex, cap, p, penalty, notes, time_limit_s, mip_gap, max_exact_size, force_greedy)
        if method == "highs":
            notes.extend(_limit_note(status, gap, time_limit_s))
        assigned = member_site >= 0
        site_load = np.bincount(member_site[assigned], weights=w[assigned], minlength=n_j)
    # total weighted minutes of assigned members
    cost_of = np.zeros(n_i)
    if assigned.any():
        r = np.flatnonzero(assigned)
        cost_of[r] = _pair_values(c, r, member_site[r])
    objective = float(w @ cost_of)
    covered_w = float(w[assigned].sum())
    unassigned_pos = float(w[~assigned & has_pair].sum())
    if unassigned_pos > 0:
        notes.append(f"weight {unassigned_pos:.6g} with allowed sites is left unassigned "
                     f"(model penalty {penalty:g} min per unit weight; model objective incl. penalty "
                     f"{objective + penalty * unassigned_pos:.6g})")
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
                        coverable_weight=coverable_w, existing=np.flatnonzero(ex).astype(np.int64),
                        site_load=site_load)


def _drop_columns(c: sp.csr_array, keep_col: np.ndarray) -> sp.csr_array:
    """Remove stored entries in columns where ``keep_col`` is False, keeping explicit zeros."""
    keep = keep_col[c.indices]
    row = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))[keep]
    indptr = np.zeros(c.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=c.shape[0]), out=indptr[1:])
    out = sp.csr_array((c.data[keep], c.indices[keep], indptr), shape=c.shape)
    out.has_sorted_indices = True
    return out


def _pair_values(c: sp.csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Stored values at ``(rows[k], cols[k])``; the pairs must be stored, indices sorted."""
    n_j = np.int64(c.shape[1])
    keys = np.repeat(np.arange(c.shape[0], dtype=np.int64), np.diff(c.indptr)) * n_j + c.indices
    pos = np.searchsorted(keys, rows.astype(np.int64) * n_j + cols)
    return c.data[pos]


def _cheapest_open_site(c: sp.csr_array, open_mask: np.ndarray) -> np.ndarray:
    """Per member, the open allowed site of least cost (lowest index on ties), or -1."""
    n_i = c.shape[0]
    vals = np.where(open_mask[c.indices], c.data, np.inf)
    out = np.full(n_i, -1, dtype=np.int64)
    nz = np.flatnonzero(np.diff(c.indptr) > 0)
    if len(nz) == 0:
        return out
    row_best = np.full(n_i, np.inf)
    row_best[nz] = np.minimum.reduceat(vals, c.indptr[:-1][nz])
    row_of = np.repeat(np.arange(n_i), np.diff(c.indptr))
    pos = np.flatnonzero(np.isfinite(vals) & (vals == row_best[row_of]))
    # entries are sorted by (row, column): the first hit of a row is its lowest-index cheapest site
    first = np.ones(len(pos), dtype=bool)
    first[1:] = row_of[pos[1:]] != row_of[pos[:-1]]
    out[row_of[pos[first]]] = c.indices[pos[first]]
    return out


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
    out = _solve_highs(
        label="p_median",
        col_cost=np.concatenate([wg[pg] * pv, wg * fallback, np.zeros(n_y)]),
        col_lower=np.zeros(n_var), col_upper=np.ones(n_var),
        integer=np.concatenate([np.zeros(n_p + n_g, np.int32), np.ones(n_y, np.int32)]),
        a=rows, row_lower=np.concatenate([np.ones(n_g), np.full(n_p + 1, -np.inf)]),
        row_upper=np.concatenate([np.ones(n_g), np.zeros(n_p), [p]]),
        maximize=False, time_limit_s=time_limit_s, mip_gap=mip_gap, start=np.concatenate([x0, u0, y0]))
    return cand_cols[out.x[n_p + n_g:] > 0.5], out


def _greedy_interchange(
    pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray,
    n_g: int, n_j: int, p: int, time_limit_s: float,
) -> np.ndarray:
    """Greedy addition then one-site interchange for the p-median (vectorised over pairs)."""
    t_end = time.perf_counter() + time_limit_s
    wp = wg[pg]

    def assign_cost(open_mask: np.ndarray) -> np.ndarray:
        cur = fallback.copy()
        on = open_mask[pc]
        np.minimum.at(cur, pg[on], pv[on])
        return cur

    def gains(cur: np.ndarray, open_mask: np.ndarray) -> np.ndarray:
        g = np.bincount(pc, weights=wp * np.maximum(0.0, cur[pg] - pv), minlength=n_j)
        g[open_mask] = -1.0
        return g

    open_mask = np.zeros(n_j, dtype=bool)
    cur = fallback.copy()
    chosen: list[int] = []
    for _ in range(p):
        g = gains(cur, open_mask)
        if time.perf_counter() >= t_end:  # out of time: the best remaining sites by current gain
            rest = np.argsort(-g, kind="stable")[: p - len(chosen)]
            rest = rest[g[rest] > 0]
            open_mask[rest] = True
            chosen.extend(int(j) for j in rest)
            cur = assign_cost(open_mask)
            break
        j = int(np.argmax(g))
        if g[j] <= 0:
            break
        open_mask[j] = True
        chosen.append(j)
        cur = assign_cost(open_mask)
    total = float(wg @ cur)
    improved = True
    while improved and time.perf_counter() < t_end:
        improved = False
        for s in list(chosen):
            trial = open_mask.copy()
            trial[s] = False
            cur_wo = assign_cost(trial)
            g = gains(cur_wo, trial)
            g[s] = -1.0
            j = int(np.argmax(g))
            new_total = float(wg @ cur_wo) - float(g[j])
            if new_total < total - 1e-9 * max(abs(total), 1.0):
                trial[j] = True
                open_mask = trial
                chosen[chosen.index(s)] = j
                total = float(wg @ assign_cost(open_mask))
                improved = True
            if time.perf_counter() >= t_end:
                break
    return np.asarray(sorted(chosen), dtype=np.int64)


def _capacitated_p_median(
    c: sp.csr_array, sub: sp.csr_array, rows: np.ndarray, w: np.ndarray, ex: np.ndarray, cap: np.ndarray,
    p: int, penalty: float, notes: list[str], time_limit_s: float, mip_gap: float, max_exact_size: int,
    force_greedy: bool,
) -> tuple[np.ndarray, np.ndarray, Method, str, float | None]:
    """Capacitated p-median: members assigned whole, identical members as integer counts."""
    t0 = time.perf_counter()
    n_i, n_j = c.shape
    wk = w[rows]
    group, rep = _group_identical_rows(sub, with_values=True, extra=wk)
    n_g = len(rep)
    kg = np.bincount(group, minlength=n_g).astype(np.float64)
    wg = wk[rep]
    a = sub[rep]
    a.sort_indices()
    pg = np.repeat(np.arange(n_g), np.diff(a.indptr))
    pc = a.indices.astype(np.int64)
    pv = a.data
    n_p = a.nnz
    notes.append(f"capacitated: {n_g} member groups, {n_p} pairs")
    member_site = np.full(n_i, -1, dtype=np.int64)
    heuristic = force_greedy or n_p > max_exact_size
    # greedy + interchange ignoring capacity, then cheapest-pair-first assignment within capacity
    ex_cost = np.where(ex[pc], pv, np.inf)
    fallback = np.full(n_g, penalty)
    np.minimum.at(fallback, pg, ex_cost)
    cand = ~ex[pc]
    chosen = _greedy_interchange(pg[cand], pc[cand], pv[cand], wg * kg, fallback, n_g, n_j, p,
                                 time_limit_s if heuristic else min(0.1 * time_limit_s, 10.0))
    open_mask = ex.copy()
    open_mask[chosen] = True
    local = _assign_cheapest_first(sub, wk, cap, open_mask)
    if heuristic:
        why = "requested" if force_greedy else f"{n_p} pairs > max_exact_size={max_exact_size}"
        notes.append(f"greedy + interchange heuristic used ({why}), sites chosen ignoring capacity, "
                     "then members assigned cheapest pair first while capacity remains; not proven optimal")
        logger.log(logging.INFO if force_greedy else logging.WARNING, "p_median: %s", notes[-1])
        ok = local >= 0
        member_site[rows[ok]] = local[ok]
        return np.sort(chosen).astype(np.int64), member_site, "greedy", "heuristic", None

    cand_cols = np.flatnonzero(~ex & (np.bincount(pc, minlength=n_j) > 0))
    y_of = np.full(n_j, -1, dtype=np.int64)
    y_of[cand_cols] = np.arange(len(cand_cols))
    used_cols = np.unique(pc)
    n_y = len(cand_cols)
    n_var = n_p + n_g + n_y
    yo = n_p + n_g
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
    mat = sp.vstack([r_assign, r_cap, r_link, r_card], format="csr")
    x0 = _pair_counts(a, group, local)
    u0 = kg - np.bincount(pg, weights=x0, minlength=n_g)
    y0 = np.zeros(n_y)
    y0[y_of[chosen]] = 1.0
    out = _solve_highs(
        label="p_median (capacitated)",
        col_cost=np.concatenate([wg[pg] * pv, wg * penalty, np.zeros(n_y)]),
        col_lower=np.zeros(n_var), col_upper=np.concatenate([kg[pg], kg, np.ones(n_y)]),
        integer=np.concatenate([np.ones(n_p, np.int32), np.zeros(n_g, np.int32), np.ones(n_y, np.int32)]),
        a=mat,
        row_lower=np.concatenate([kg, np.full(mat.shape[0] - n_g, -np.inf)]),
        row_upper=np.concatenate([kg, cap_up, np.zeros(len(cp)), [p]]),
        maximize=False, time_limit_s=_time_left(t0, time_limit_s), mip_gap=mip_gap,
        start=np.concatenate([x0, u0, y0]))
    chosen = cand_cols[out.x[yo:] > 0.5]
    order, start = _members_of_groups(group, n_g)
    loc_rows, loc_cols = _disaggregate(pg, pc, out.x[:n_p], order, start)
    member_site[rows[loc_rows]] = loc_cols
    # members of zero weight: cheapest open site (they use no capacity)
    open_mask = ex.copy()
    open_mask[chosen] = True
    zero = (w == 0) & (np.diff(c.indptr) > 0)
    if zero.any():
        z = np.flatnonzero(zero)
        member_site[z] = _cheapest_open_site(c[z], open_mask)
    return np.sort(chosen).astype(np.int64), member_site, "highs", out.status, out.gap


def _assign_cheapest_first(
    sub: sp.csr_array, w: np.ndarray, cap: np.ndarray, open_mask: np.ndarray
) -> np.ndarray:
    """Assign rows to open sites, cheapest pair first, while the site has capacity left."""
    row_of = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    on = open_mask[sub.indices]
    pr, pcol, pv = row_of[on], sub.indices[on], sub.data[on]
    order = np.lexsort((pcol, pr, pv))
    left = cap.astype(np.float64).copy()
    site = np.full(sub.shape[0], -1, dtype=np.int64)
    for k in order:
        r, j = pr[k], pcol[k]
        if site[r] < 0 and w[r] <= left[j] + 1e-12:
            site[r] = j
            left[j] -= w[r]
    return site
