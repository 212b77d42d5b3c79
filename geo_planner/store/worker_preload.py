"""Imported once by the run queue's fork server: what every run needs before it starts.

A run executes in its own child process (:class:`geo_planner.store.queue.RunQueue`). Started with
``spawn`` each child paid a fresh interpreter, the planner's imports (pandas, geopandas, osmnx, HiGHS,
the report) and the county boundaries every run reads — about 4 s of CPU before its first stage.
With ``forkserver`` a server process imports this module once and every run is forked from it, so
a run starts in a fraction of a second; the child is still a fresh process per run (its memory is
returned when it ends, a crash fails only that run).
"""

from __future__ import annotations

import geo_planner.pipeline  # noqa: F401 - the stages and their libraries
import geo_planner.report  # noqa: F401 - the report (matplotlib, Jinja2)
from geo_planner.admin import load_divisions

load_divisions()  # cached per process: the forked runs inherit the county boundaries
