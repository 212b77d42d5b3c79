"""Decision support: p-center, equity, trade-off curve, sensitivity and the phased plan of a station plan.

For: the questions a 老干部局 is asked about a plan, answered on the run's siting instance after siting.
May import: earlier stages and ``geo_planner.siting`` (models, solver); never pipeline, outputs, report, api.

Modules
-------
``decide``          :func:`decide`: p-center and equity per model, then the decision tables (``DecisionResult``)
``instance``        the run's siting instance (members × candidates); the time budget is siting's ``TimeBudget``
``instance_file``   the siting instance kept on disk (``siting_instance.npz``) for re-solving in the service
``tradeoff``        coverage for p = 0 … N new stations (maximal covering)
``sensitivity``     thresholds, life-circle tiers, walking speeds, geocoding draws; site stability
``phased``          the multi-period plan (which sites in which year)
``equity``          Gini, share beyond the threshold, percentiles of walk minutes, overall and by area
"""

from .decide import DecisionResult, add_stability, decide

__all__ = ["DecisionResult", "add_stability", "decide"]
