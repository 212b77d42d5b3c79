"""Imported once by the fork server of :mod:`tests.support.forked_cli`: the planner's modules, and the
county boundaries every run reads (``geo_planner.admin.load_divisions``, cached per process)."""

from __future__ import annotations

import geo_planner.cli  # noqa: F401
import geo_planner.pipeline  # noqa: F401
import geo_planner.province  # noqa: F401
import geo_planner.report  # noqa: F401
import geo_planner.staging  # noqa: F401
import highspy  # noqa: F401
import openpyxl  # noqa: F401
import osmium  # noqa: F401
import pyogrio  # noqa: F401
from geo_planner.admin import load_divisions

load_divisions()
