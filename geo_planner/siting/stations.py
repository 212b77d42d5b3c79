"""Station siting: the station plan over the registered models, and their public functions.

:func:`plan_stations` runs every model of the registry
(:data:`geo_planner.siting.models.MODELS`) that belongs to the station plan; the models
themselves live one per module in :mod:`geo_planner.siting.models`. This module also
re-exports the functions callers use (``mclp``, ``lscp``, ``p_median``, their greedy
variants, ``sparse_cost_matrix``, ``SitingResult``).

A matrix in, an immutable result out. The models never see the road network: they take
sparse member × site structures computed by ``travel.cost_matrix`` (the station plan,
``siting/plan.py``, cuts the minutes off at 3× the threshold; coverage is the entries within it).

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
seconds; the textbook (pairs) p-median LP is much heavier (~40,000 pairs: 10–30 s; ~300,000 pairs: the root LP
does not finish in two minutes and the heuristic start is returned; the default radius
formulation avoids it). Capacitated variants
assign members whole (integer), which is harder still.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy.typing as npt

from ..settings import SitingSettings
from .budget import SHARES, TimeBudget, pending_weight
from .inputs import sparse_cost_matrix
from .models import StationData, station_plan_models
from .models.lscp import greedy_lscp, lscp
from .models.mclp import greedy_mclp, mclp
from .models.p_median.model import greedy_p_median, p_median
from .result import SitingResult, SparseMatrix

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
        Each model takes its options from them (:meth:`SitingModel.options`: ``new_stations``
        is ``p``; ``target_coverage``, ``capacity``, ``mip_gap``, ``max_exact_size``,
        ``max_exact_pmedian_size`` for the p-median); ``time_limit_s`` without a ``budget``.
    existing
        Boolean mask of existing stations.
    cost
        Optional sparse travel minutes for the p-median (skipped when ``None``).
    budget
        The siting stage's shared time limit (:class:`~geo_planner.siting.budget.TimeBudget`):
        each model runs as a step of it (its seconds recorded) with its share of the time left
        (weights in :data:`~geo_planner.siting.budget.SHARES`) instead of ``settings.time_limit_s``.
    reserve
        Weight of the parts that run after these on the same budget (``SHARES["siting"]``).
    progress
        Called as ``progress(model, fraction)`` before each model.

    Returns
    -------
    dict
        Model name → result, in registry order: ``{"mclp": ..., "lscp": ..., "p_median": ...}``
        (models that need a cost matrix only with ``cost``).
    """
    models = station_plan_models(has_cost=cost is not None)
    data = StationData(coverage, weights, existing, cost)
    out: dict[str, SitingResult] = {}
    weights = SHARES["siting"]
    for k, model in enumerate(models):
        if progress is not None:
            progress(model.name, k / len(models))
        if budget is None:
            out[model.name] = model.solve(data, settings, time_limit_s=settings.time_limit_s)
            continue
        todo = [m.name for m in models[k:]]
        share = budget.share(weights.get(model.name, 1.0), pending_weight(weights, todo, extra=reserve))
        with budget.step(model.name, share) as part:
            out[model.name] = model.solve(data, settings, time_limit_s=part.total_s)
    return out
