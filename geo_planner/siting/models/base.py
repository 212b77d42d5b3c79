"""What every siting model is: a small object with a name, labels, its needs and a ``solve``.

A model (one module of :mod:`geo_planner.siting.models`) subclasses :class:`SitingModel`,
says what it needs (``needs_cost_matrix``), what kind of answer it gives (``kind``), how its
options come from the scenario's :class:`~geo_planner.settings.SitingSettings`
(:meth:`SitingModel.options`) and solves from a :class:`StationData` (sparse member × site
matrices, weights, existing sites) under a time limit. The registry in
``models/__init__.py`` lists the models; the station plan runs them from there.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ...settings import SitingSettings
from ..highs import Milp, Outcome, require_solution, solve_milp
from ..result import SitingResult, SparseMatrix

__all__ = ["ModelKind", "SitingModel", "StationData", "limit_note", "solve_highs", "time_left"]

#: ``coverage``: the model brings members within the walking threshold (its new sites' served
#: members are those newly covered); ``cost``: it shortens everyone's walk (p-median);
#: ``center``: it shortens the longest walk (p-center).
ModelKind = Literal["coverage", "cost", "center"]


@dataclass(frozen=True, eq=False)
class StationData:
    """The sparse member × site structures a station model reads.

    Attributes
    ----------
    coverage
        Boolean ``(I, J)``: member ``i`` within the walking threshold of site ``j`` (``None``
        for models that read only ``cost``).
    weights
        Member weights (``None``: all 1).
    existing
        Boolean mask of existing sites (``None``: none).
    cost
        Travel minutes ``(I, J)`` whose stored entries are the allowed pairs, or ``None``.
    """

    coverage: SparseMatrix | None
    weights: npt.ArrayLike | None
    existing: npt.ArrayLike | None = None
    cost: SparseMatrix | None = None


class SitingModel(ABC):
    """One siting model: identity, labels, needs, options from settings, and ``solve``.

    Class attributes
    ----------------
    name
        Key of the model in results, ``run.json`` and the registry (``"mclp"`` …).
    label_zh, label_en
        The model's name for people (rationales, reports).
    kind
        See :data:`ModelKind`.
    needs_cost_matrix
        Whether it needs ``StationData.cost`` (the plan skips it without one).
    in_station_plan
        Whether :func:`~geo_planner.siting.stations.plan_stations` runs it (the p-center runs
        in the decision stage, under its own time limit).
    """

    name: ClassVar[str]
    label_zh: ClassVar[str]
    label_en: ClassVar[str]
    kind: ClassVar[ModelKind]
    needs_cost_matrix: ClassVar[bool] = False
    in_station_plan: ClassVar[bool] = True

    def options(self, settings: SitingSettings) -> dict[str, Any]:
        """Keyword options of :meth:`solve` taken from the scenario's siting settings."""
        return {"mip_gap": settings.mip_gap, "max_exact_size": settings.max_exact_size}

    @abstractmethod
    def solve(self, data: StationData, settings: SitingSettings, *, time_limit_s: float) -> Any:
        """Solve on ``data`` with the options from ``settings`` within ``time_limit_s`` seconds."""

    def scope(self, result: SitingResult) -> str:
        """How many sites the model was asked for, in words (the rule of a recommendation)."""
        return f"p = {result.selected.size}"


def limit_note(status: str, gap: float | None, time_limit_s: float) -> list[str]:
    """A message note when HiGHS stopped before proving optimality."""
    if status == "optimal":
        return []
    how = (f"relative gap {gap:.2%}" if gap is not None and gap < 1
           else "before it could bound the optimum")
    return [f"HiGHS stopped ({status}) within the time limit of {time_limit_s:g} s, {how}; the result "
            "is at least as good as the heuristic start. Raise time_limit_s or lower max_exact_size"]


def time_left(t0: float, time_limit_s: float) -> float:
    """Seconds left for the solver out of the call's time limit.

    At least 0.1 s: HiGHS then returns the heuristic start it was given.
    """
    return max(0.1, time_limit_s - (time.perf_counter() - t0))


def solve_highs(
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
    """Solve a station model with :func:`~geo_planner.siting.highs.solve_milp`; it must have a solution.

    ``presolve=False`` for models already reduced here: on the covering models HiGHS's
    presolve found nothing more and its solve was slower (measured on the benchmark city).
    ``start`` is the heuristic's solution (every column): HiGHS starts from it, so a
    time-limited solve never returns less than the heuristic, nor nothing at all.

    Raises
    ------
    SolverError
        If HiGHS found no feasible solution.
    """
    out = solve_milp(Milp(col_cost, col_lower, col_upper, integer, a, row_lower, row_upper, maximize),
                     label=label, time_limit_s=time_limit_s, mip_gap=mip_gap, presolve=presolve, start=start)
    require_solution(out)
    return out
