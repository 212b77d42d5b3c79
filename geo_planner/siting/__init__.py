"""Siting models: where to open activity stations and how to reorganise party branches.

The models take sparse member × site matrices computed by earlier stages and never touch
the road network themselves. Station models are registered in :mod:`.models` (one module
each, run by :func:`~.stations.plan_stations`); branch models live in :mod:`.branches`. The
station and decision models solve through one HiGHS wrapper, :mod:`.highs`.
"""

from .stations import (
    SitingResult,
    greedy_lscp,
    greedy_mclp,
    greedy_p_median,
    lscp,
    mclp,
    p_median,
    plan_stations,
    sparse_cost_matrix,
)

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
