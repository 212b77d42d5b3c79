"""Station siting: where to open activity stations (the registered models and their shared pieces).

For: the station plan of a run, its candidates, the siting models and the one HiGHS wrapper they solve through.
May import: the stages before it (settings, geocode, network, travel); never organisation, decision or later.

The models take sparse member × site matrices computed by earlier stages (``travel.cost_matrix``) and never
touch the road network themselves. Station models are registered in :mod:`.models` (one module each, the
p-median one subpackage, run by :func:`~.stations.plan_stations`). Branch reorganisation is
:mod:`geo_planner.organisation`; decision support is :mod:`geo_planner.decision`. The station,
organisation and decision models solve through one HiGHS wrapper, :mod:`.highs`.
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
