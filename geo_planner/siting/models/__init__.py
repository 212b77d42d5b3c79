"""The siting model registry: one module per model, one line per model in :data:`MODELS`.

Each model is a :class:`~geo_planner.siting.models.base.SitingModel` (name, zh/en labels,
``kind``, ``needs_cost_matrix``, ``in_station_plan``, options from the settings, ``solve``)
over the shared pieces: input checks (:mod:`geo_planner.siting.inputs`), instance reduction
(:mod:`geo_planner.siting.reduce`), heuristics (:mod:`geo_planner.siting.heuristics`) and the
one HiGHS wrapper (:mod:`geo_planner.siting.highs`). The station plan
(:func:`geo_planner.siting.stations.plan_stations`) runs the models of :data:`MODELS` with
``in_station_plan`` in the order listed here.

Adding a model: write ``models/<name>.py`` with a ``SitingModel`` subclass and add one line to
:data:`MODELS` below.
"""

from __future__ import annotations

from .base import SitingModel, StationData
from .lscp import LSCP
from .mclp import MCLP
from .p_center import PCenter
from .p_median.model import PMedian

__all__ = ["MODELS", "SitingModel", "StationData", "get_model", "station_plan_models"]

#: Every siting model by name, in the order the station plan runs them.
MODELS: dict[str, SitingModel] = {
    m.name: m
    for m in (
        MCLP(),
        LSCP(),
        PMedian(),
        PCenter(),
    )
}


def get_model(name: str) -> SitingModel:
    """The registered model called ``name``.

    Raises
    ------
    KeyError
        Naming the registered models.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"no siting model {name!r}; registered: {', '.join(MODELS)}") from None


def station_plan_models(*, has_cost: bool) -> list[SitingModel]:
    """The models the station plan runs, in order (those needing a cost matrix only with one)."""
    return [m for m in MODELS.values() if m.in_station_plan and (has_cost or not m.needs_cost_matrix)]
