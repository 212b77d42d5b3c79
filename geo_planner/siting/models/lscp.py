"""LSCP, the set covering model: the fewest new sites so the covered weight reaches a target.

The target is a share of the *coverable* weight (members some site reaches). Exact: at a
100 % target the classic set-cover rows (every group covered); below it, the covering rows of
:mod:`geo_planner.siting.models.mclp` with one target row on the covered weight; HiGHS starts
from greedy covering with redundant sites pruned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ...settings import SitingSettings
from ..heuristics import celf, prune_redundant
from ..highs import Outcome
from ..reduce import fold_single_column_rows
from ..result import REL_TOL, SitingResult, SparseMatrix
from .base import SitingModel, StationData, solve_highs
from .cover import CoverProblem, CoverSpec, cover_rows, cover_start, run_cover, solver_time

__all__ = ["LSCP", "greedy_lscp", "lscp"]


class _LscpCover(CoverSpec):
    name = "lscp"

    def need(self, target: float | None, coverable_w: float, base_w: float) -> float | None:
        assert target is not None
        return target * coverable_w - base_w - REL_TOL * max(coverable_w, 1.0)

    def trivial(self, prob: CoverProblem) -> np.ndarray | None:
        return np.zeros(0, dtype=np.int64) if prob.need is not None and prob.need <= 0 else None

    def greedy(self, prob: CoverProblem, a_csc: sp.csc_array) -> np.ndarray:
        assert prob.need is not None
        picks = celf(a_csc, prob.wg, p=None, need=prob.need)
        return np.asarray(prune_redundant(a_csc, prob.wg, picks, prob.need), dtype=np.int64)

    def exact(self, prob: CoverProblem, a_csc: sp.csc_array) -> tuple[np.ndarray, Outcome]:
        need, wg, target = prob.need, prob.wg, prob.target
        assert need is not None
        start = np.asarray(prune_redundant(a_csc, wg, celf(a_csc, wg, p=None, need=need), need))
        return _lscp_highs(prob.a, wg, float(need or 0.0), bool(target is not None and target >= 1.0),
                           solver_time(prob), prob.mip_gap, start)

    def finish(self, prob: CoverProblem, n_selected: int, covered_w: float, coverable_w: float,
               notes: list[str]) -> float:
        target = prob.target
        assert target is not None
        notes.insert(0, f"target {target:.1%} of coverable weight {coverable_w:.6g} "
                        f"= {target * coverable_w:.6g}; reached {covered_w:.6g}")
        return float(n_selected)


_SPEC = _LscpCover()


class LSCP(SitingModel):
    """Set covering in the station plan: the fewest new stations reaching ``target_coverage``."""

    name = "lscp"
    label_zh = "集合覆盖"
    label_en = "set covering"
    kind = "coverage"

    def options(self, settings: SitingSettings) -> dict[str, Any]:
        """``target_coverage`` from the settings, plus the solver options."""
        return {"target_coverage": settings.target_coverage, **super().options(settings)}

    def solve(self, data: StationData, settings: SitingSettings, *, time_limit_s: float) -> SitingResult:
        """Run :func:`lscp` on ``data.coverage``."""
        assert data.coverage is not None
        opts = self.options(settings)
        return lscp(data.coverage, data.weights, opts.pop("target_coverage"), existing=data.existing,
                    time_limit_s=time_limit_s, **opts)

    def scope(self, result: SitingResult) -> str:
        """The set covering asks for a target, not a number of sites."""
        return "fewest sites for target"


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
    return run_cover(_SPEC, coverage, weights, p=None, target=target_coverage, existing=existing,
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
    return run_cover(_SPEC, coverage, weights, p=None, target=target_coverage, existing=existing,
                     capacity=None, time_limit_s=60.0, mip_gap=0.0, max_exact_size=1, force_greedy=True)


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
        out = solve_highs(
            label="lscp", col_cost=np.ones(k), col_lower=np.zeros(k), col_upper=np.ones(k),
            integer=np.ones(k, np.int32), a=a.astype(np.float64).tocsr(),
            row_lower=np.ones(g), row_upper=np.full(g, np.inf),
            maximize=False, time_limit_s=time_limit_s, mip_gap=mip_gap, presolve=False,
            start=cover_start(a, k, start, with_z=False))
        return np.flatnonzero(out.x[:k] > 0.5), out
    a2, w2, bonus = fold_single_column_rows(a, wg)
    g = a2.shape[0]
    target_row = sp.csr_array((np.concatenate([bonus, w2]), np.arange(k + g), [0, k + g]), shape=(1, k + g))
    rows = sp.vstack([cover_rows(a2), target_row], format="csr")
    out = solve_highs(
        label="lscp", col_cost=np.concatenate([np.ones(k), np.zeros(g)]),
        col_lower=np.zeros(k + g), col_upper=np.ones(k + g),
        integer=np.concatenate([np.ones(k, np.int32), np.zeros(g, np.int32)]),
        a=rows, row_lower=np.concatenate([np.full(g, -np.inf), [need]]),
        row_upper=np.concatenate([np.zeros(g), [np.inf]]),
        maximize=False, time_limit_s=time_limit_s, mip_gap=mip_gap, presolve=False,
        start=cover_start(a2, k, start))
    return np.flatnonzero(out.x[:k] > 0.5), out
