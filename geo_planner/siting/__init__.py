"""Siting models: where to open activity stations (and, later, how to reorganise branches).

The models take sparse member × site matrices computed by earlier stages and never touch
the road network themselves.
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
