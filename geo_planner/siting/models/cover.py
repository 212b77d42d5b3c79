"""The shared driver of the covering models (MCLP, LSCP): check, reduce, choose, report.

A covering model supplies a :class:`CoverSpec` — how it reads a trivial instance, its greedy
heuristic and its exact HiGHS model, and how it words its objective — and :func:`run_cover`
does the rest the same way for every covering model: validation, the coverage pattern,
members beyond every site, the reduction (:func:`~geo_planner.siting.reduce.reduce_cover`),
the choice between exact and greedy (``max_exact_size``), one open site per member, the
message and the :class:`~geo_planner.siting.result.SitingResult`.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ...errors import InputError, Problem
from ..heuristics import first_open_site
from ..highs import Outcome
from ..inputs import coverage_pattern, validate
from ..reduce import CoverReduction, reduce_cover
from ..result import REL_TOL, Method, ModelName, SitingResult, SparseMatrix
from .base import limit_note, time_left
from .capacitated_mclp import run_capacitated_mclp

logger = logging.getLogger(__name__)

__all__ = ["CoverProblem", "CoverSpec", "cover_rows", "cover_start", "run_cover"]


@dataclass(frozen=True, eq=False)
class CoverProblem:
    """A reduced covering instance and what the model was asked.

    ``a``/``wg``: member groups × useful candidate columns and group weights; ``p`` new sites
    (MCLP) or ``need``, the weight still to cover (LSCP, from ``target``); ``base_w`` the
    weight existing sites cover; ``t0`` the call's start (``time.perf_counter``).
    """

    a: sp.csr_array
    wg: np.ndarray
    p: int | None
    target: float | None
    need: float | None
    base_w: float
    time_limit_s: float
    mip_gap: float
    t0: float


class CoverSpec(ABC):
    """What one covering model adds to the shared driver."""

    name: ModelName

    def need(self, target: float | None, coverable_w: float, base_w: float) -> float | None:
        """Weight the new sites must still cover (``None``: the model has no target)."""
        return None

    @abstractmethod
    def trivial(self, prob: CoverProblem) -> np.ndarray | None:
        """Chosen columns when the answer needs no search, else ``None``."""

    @abstractmethod
    def greedy(self, prob: CoverProblem, a_csc: sp.csc_array) -> np.ndarray:
        """Columns chosen by the heuristic alone."""

    @abstractmethod
    def exact(self, prob: CoverProblem, a_csc: sp.csc_array) -> tuple[np.ndarray, Outcome]:
        """Columns chosen by HiGHS (from the heuristic's start) and its outcome."""

    @abstractmethod
    def finish(self, prob: CoverProblem, n_selected: int, covered_w: float, coverable_w: float,
               notes: list[str]) -> float:
        """The objective to report; may add notes on the result."""


def _setup(model: str, cov: sp.csr_array, w: np.ndarray, ex: np.ndarray,
           notes: list[str]) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Members covered by existing sites, candidate cover counts, total and coverable weight."""
    n_ex_cover = np.asarray(cov @ ex.astype(np.int64)).ravel()
    n_cand_cover = np.asarray(cov @ (~ex).astype(np.int64)).ravel()
    by_existing = n_ex_cover > 0
    coverable = by_existing | (n_cand_cover > 0)
    total_w = float(w.sum())
    coverable_w = float(w[coverable].sum())
    if coverable_w < total_w * (1 - REL_TOL):
        notes.append(f"{total_w - coverable_w:.6g} of {total_w:.6g} member weight "
                     f"({(1 - coverable_w / total_w) if total_w else 0:.1%}) is beyond the threshold "
                     "of every site")
    return by_existing, n_cand_cover, total_w, coverable_w


def _reduce(model: str, cov: sp.csr_array, w: np.ndarray, ex: np.ndarray, by_existing: np.ndarray,
            n_cand_cover: np.ndarray, notes: list[str]) -> CoverReduction:
    red = reduce_cover(cov, w, ex, by_existing, n_cand_cover)
    n_i, n_j = cov.shape
    a = red.a
    notes.append(f"reduced to {a.shape[0]} member groups × {a.shape[1]} candidate sites, {a.nnz} pairs "
                 f"(from {n_i} × {n_j}, {cov.nnz}; {int(by_existing.sum())} members already covered by "
                 f"existing sites, {red.n_dominated} dominated sites dropped)")
    logger.info("%s: %s", model, notes[-1])
    return red


def _choose(spec: CoverSpec, prob: CoverProblem, max_exact_size: int, force_greedy: bool,
            notes: list[str]) -> tuple[np.ndarray, Method, str, float | None]:
    """Chosen columns of ``prob.a``, method, status and gap."""
    a = prob.a
    trivial = np.zeros(0, dtype=np.int64) if a.shape[1] == 0 else spec.trivial(prob)
    if trivial is not None:
        return trivial, "highs", "optimal", 0.0
    a_csc = a.tocsc()
    if force_greedy or a.nnz > max_exact_size:
        why = ("requested" if force_greedy
               else f"reduced instance has {a.nnz} pairs > max_exact_size={max_exact_size}")
        notes.append(f"greedy heuristic used ({why}); the result is not proven optimal")
        logger.log(logging.INFO if force_greedy else logging.WARNING, "%s: %s", spec.name, notes[-1])
        return spec.greedy(prob, a_csc), "greedy", "heuristic", None
    chosen, out = spec.exact(prob, a_csc)
    notes.extend(limit_note(out.status, out.gap, prob.time_limit_s))
    return chosen, "highs", out.status, out.gap


def run_cover(
    spec: CoverSpec,
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
    """Run a covering model end to end (see the module docstring).

    With a ``capacity`` the capacitated MCLP answers instead.
    """
    t0 = time.perf_counter()
    model = spec.name
    if target is not None and not (isinstance(target, (int, float, np.floating)) and 0 < target <= 1):
        raise InputError(Problem(model, None, "target_coverage", f"must be in (0, 1], got {target!r}"))
    chk = validate(model, coverage, "coverage", weights, existing, p, capacity, time_limit_s, mip_gap,
                   max_exact_size)
    cov, w, ex = coverage_pattern(chk.matrix, model), chk.weights, chk.existing
    notes: list[str] = []
    by_existing, n_cand_cover, total_w, coverable_w = _setup(model, cov, w, ex, notes)
    if chk.capacity is not None:
        return run_capacitated_mclp(cov, w, ex, chk.capacity, int(p or 0), t0=t0, notes=notes,
                                    total_w=total_w, coverable_w=coverable_w, time_limit_s=time_limit_s,
                                    mip_gap=mip_gap, max_exact_size=max_exact_size, force_greedy=force_greedy)
    red = _reduce(model, cov, w, ex, by_existing, n_cand_cover, notes)
    prob = CoverProblem(red.a, red.wg, p, target, spec.need(target, coverable_w, red.base_w), red.base_w,
                        time_limit_s, mip_gap, t0)
    chosen_local, method, status, gap = _choose(spec, prob, max_exact_size, force_greedy, notes)
    selected = np.sort(red.col_map[chosen_local]).astype(np.int64)
    open_mask = ex.copy()
    open_mask[selected] = True
    member_site = first_open_site(cov, open_mask, ex)
    covered_w = float(w[member_site >= 0].sum())
    objective = spec.finish(prob, len(selected), covered_w, coverable_w, notes)
    share = covered_w / total_w if total_w > 0 else 0.0
    message = (f"{model} ({method}, {status}): {len(selected)} new site(s), covered weight "
               f"{covered_w:.6g} of {total_w:.6g} ({share:.1%}). " + "; ".join(notes))
    return SitingResult(model=model, method=method, status=status, selected=selected, objective=objective,
                        covered_weight=covered_w, total_weight=total_w, coverage_share=share, gap=gap,
                        runtime_s=time.perf_counter() - t0, member_site=member_site, message=message,
                        coverable_weight=coverable_w, existing=np.flatnonzero(ex).astype(np.int64))


def exact_start_time(time_limit_s: float) -> float:
    """Seconds the heuristic start of an exact covering solve may take."""
    return min(0.1 * time_limit_s, 10.0)


def solver_time(prob: CoverProblem) -> float:
    """Seconds left for HiGHS out of the call's time limit."""
    return time_left(prob.t0, prob.time_limit_s)


def cover_start(a2: sp.csr_array, k: int, start: np.ndarray, with_z: bool = True) -> np.ndarray:
    """Columns ``[y | z]`` of a covering model for the start sites (``z_g`` = group covered)."""
    y = np.zeros(k)
    y[start] = 1.0
    if not with_z:
        return y
    z = np.minimum(1.0, np.asarray(a2.astype(np.float64) @ y).ravel())
    return np.concatenate([y, z])


def cover_rows(a: sp.csr_array) -> sp.csr_array:
    """Rows ``z_g - sum_j a_gj y_j <= 0`` over columns ``[y (n_y) | z (G)]``."""
    g = a.shape[0]
    return sp.hstack([-a.astype(np.float64), sp.eye_array(g, format="csr")], format="csr")
