"""Home visits (走访慰问, 上门服务) planned from a finished run.

* :mod:`.select` — who is visited (``[visits] select``) and who cannot be routed, with the reason;
* :mod:`.matrix` — drive times between every pair of stops (the hospital analysis's times) and
  the roads each leg follows;
* :mod:`.solve` — the vehicle routing problem with time windows (PyVRP, prize-collecting), and
  the nearest-neighbour plan the benchmark compares with;
* :mod:`.plan` — :func:`plan_visits`, the plan as tables and figures;
* :mod:`.write` — ``visits.csv``, ``unvisited.csv``, ``visits.xlsx``, ``visits.json`` and the
  route maps; :func:`plan_run_dir`, what ``geo-planner visits`` runs.
"""

from .plan import UNVISITED_COLUMNS, VISIT_COLUMNS, VisitPlan, plan_visits
from .select import select_members, unroutable_reason

__all__ = ["UNVISITED_COLUMNS", "VISIT_COLUMNS", "VisitPlan", "plan_visits", "select_members",
           "unroutable_reason"]
