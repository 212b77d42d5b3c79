"""MCLP, the maximal covering model: open ``p`` new sites covering the most member weight.

Exact: after the shared reduction (:mod:`geo_planner.siting.models.cover`) groups covered by
one candidate only are folded into that candidate's objective, and HiGHS solves
``max Σ bonus_j y_j + Σ w_g z_g`` s.t. ``z_g ≤ Σ_j a_gj y_j``, ``Σ y_j ≤ p`` (``y`` binary,
``z ∈ [0, 1]``) from a lazy-greedy + interchange start. With a capacity the model is
:mod:`geo_planner.siting.models.capacitated_mclp`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ...settings import SitingSettings
from ..heuristics import celf, cover_interchange
from ..highs import Outcome
from ..reduce import fold_single_column_rows
from ..result import SitingResult, SparseMatrix
from .base import SitingModel, StationData, solve_highs
from .cover import CoverProblem, CoverSpec, cover_rows, cover_start, exact_start_time, run_cover, solver_time

logger = logging.getLogger(__name__)

__all__ = ["MCLP", "greedy_mclp", "mclp"]


class _MclpCover(CoverSpec):
    name = "mclp"

    def trivial(self, prob: CoverProblem) -> np.ndarray | None:
        n = prob.a.shape[1]
        if prob.p == 0 or n <= (prob.p or 0):
            return np.arange(n) if prob.p else np.zeros(0, dtype=np.int64)  # p covers every useful candidate
        return None

    def greedy(self, prob: CoverProblem, a_csc: sp.csc_array) -> np.ndarray:
        picks = celf(a_csc, prob.wg, p=prob.p, need=None)
        return cover_interchange(a_csc, prob.wg, picks, time_budget_s=prob.time_limit_s)

    def exact(self, prob: CoverProblem, a_csc: sp.csc_array) -> tuple[np.ndarray, Outcome]:
        a, wg = prob.a, prob.wg
        start = cover_interchange(a_csc, wg, celf(a_csc, wg, p=prob.p, need=None),
                                  time_budget_s=exact_start_time(prob.time_limit_s))
        chosen, out = _mclp_highs(a, wg, int(prob.p or 0), solver_time(prob), prob.mip_gap, start)
        expected = prob.base_w + out.objective
        hit = np.asarray(a[:, chosen].sum(axis=1)).ravel() > 0
        got = prob.base_w + float(wg[hit].sum())
        if got < expected - 1e-6 * max(1.0, abs(expected)):
            logger.warning("mclp: model objective %.9g differs from evaluated coverage %.9g", expected, got)
        return chosen, out

    def finish(self, prob: CoverProblem, n_selected: int, covered_w: float, coverable_w: float,
               notes: list[str]) -> float:
        p = prob.p
        if p is not None and n_selected < p:
            notes.append(f"only {n_selected} of p={p} new sites add coverage; the others would cover "
                         "no additional member and are not opened")
        return covered_w


_SPEC = _MclpCover()


class MCLP(SitingModel):
    """Maximal covering in the station plan: ``p = new_stations``, optional ``capacity``."""

    name = "mclp"
    label_zh = "最大覆盖"
    label_en = "maximal covering"
    kind = "coverage"

    def options(self, settings: SitingSettings) -> dict[str, Any]:
        """``p`` and ``capacity`` from the settings, plus the solver options."""
        return {"p": settings.new_stations, "capacity": settings.capacity, **super().options(settings)}

    def solve(self, data: StationData, settings: SitingSettings, *, time_limit_s: float) -> SitingResult:
        """Run :func:`mclp` on ``data.coverage``."""
        assert data.coverage is not None
        opts = self.options(settings)
        return mclp(data.coverage, data.weights, opts.pop("p"), existing=data.existing,
                    time_limit_s=time_limit_s, **opts)


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
    return run_cover(_SPEC, coverage, weights, p=p, target=None, existing=existing, capacity=capacity,
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
    return run_cover(_SPEC, coverage, weights, p=p, target=None, existing=existing, capacity=capacity,
                     time_limit_s=60.0, mip_gap=0.0, max_exact_size=1, force_greedy=True)


def _mclp_highs(
    a: sp.csr_array, wg: np.ndarray, p: int, time_limit_s: float, mip_gap: float, start: np.ndarray
) -> tuple[np.ndarray, Outcome]:
    """Uncapacitated MCLP on a reduced (groups × candidates) pattern; returns chosen columns."""
    k = a.shape[1]
    a2, w2, bonus = fold_single_column_rows(a, wg)
    g = a2.shape[0]
    rows = sp.vstack([cover_rows(a2),
                      sp.csr_array((np.ones(k), np.arange(k), [0, k]), shape=(1, k + g))], format="csr")
    out = solve_highs(
        label="mclp", col_cost=np.concatenate([bonus, w2]),
        col_lower=np.zeros(k + g), col_upper=np.ones(k + g),
        integer=np.concatenate([np.ones(k, np.int32), np.zeros(g, np.int32)]),
        a=rows, row_lower=np.full(g + 1, -np.inf), row_upper=np.concatenate([np.zeros(g), [p]]),
        maximize=True, time_limit_s=time_limit_s, mip_gap=mip_gap, presolve=False,
        start=cover_start(a2, k, start))
    return np.flatnonzero(out.x[:k] > 0.5), out
