"""Lighter whole-pipeline runs for tests that are not about the PDF, the sensitivity table or the curve.

A test running the pipeline to check travel times, coverage, geocoding or a what-if does not need
the printed PDF (headless Chromium), the sensitivity re-solves (thresholds, life-circle tiers,
walking speeds), the seeded geocoding-uncertainty draws or a ten-point trade-off curve.
:data:`LIGHT_SITING` and :data:`LIGHT_REPORT` turn those off (the trade-off curve keeps ``p = 0``,
the run's own coverage, and ``p = 1``); :func:`light` applies them to a loaded
:class:`~geo_planner.settings.Scenario`.
"""

from __future__ import annotations

from typing import Any

from geo_planner.settings import Scenario

#: ``[siting]`` of a light run: no sensitivity re-solves or uncertainty draws, the trade-off curve to p = 1.
LIGHT_SITING: dict[str, Any] = {
    "sensitivity_draws": 0,
    "sensitivity_thresholds_min": [],
    "life_circle_tiers_min": [],
    "sensitivity_speed_factors": [],
    "tradeoff_max_p": 1,
}
#: ``[report]`` of a light run: the HTML report only, no PDF.
LIGHT_REPORT: dict[str, Any] = {"pdf": False}


def light(scenario: Scenario, **siting: Any) -> Scenario:
    """Return ``scenario`` with :data:`LIGHT_SITING` (and ``siting`` overrides) and no PDF.

    Parameters
    ----------
    scenario
        A validated scenario.
    **siting
        Further ``[siting]`` settings (e.g. ``time_limit_s=8.0``), applied after the light ones.

    Returns
    -------
    Scenario
        A copy; ``scenario`` is unchanged.
    """
    update = {**LIGHT_SITING, **siting}
    checked = type(scenario.siting).model_validate({**scenario.siting.model_dump(), **update})
    report = type(scenario.report).model_validate({**scenario.report.model_dump(), **LIGHT_REPORT})
    return scenario.model_copy(update={"siting": checked, "report": report})
