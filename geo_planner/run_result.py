"""What a run produced: :class:`RunResult`, and which of its models stopped early.

A leaf module: the pipeline fills a ``RunResult``; the writers of the output folder (``outputs.py``), the
report (``report/``) and the command line read it. It imports the stages' result types only for type hints,
so that reading a result never imports the pipeline (nothing calls back into ``pipeline.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .decision.decide import DecisionResult
    from .decision.instance import SitingInstance
    from .geocode import Gazetteer
    from .network import RoadNetwork
    from .settings import Scenario

__all__ = ["RunResult", "stopped_models"]


@dataclass
class RunResult:
    """What a run produced (tables are WGS-84)."""

    scenario: Scenario
    out_dir: Path
    members: pd.DataFrame
    branches: pd.DataFrame
    stations: pd.DataFrame
    hospitals: pd.DataFrame | None
    rejections: pd.DataFrame
    walk: RoadNetwork
    drive: RoadNetwork | None
    gazetteer: Gazetteer
    coverage_by_area: pd.DataFrame | None = None
    coverage_by_branch: pd.DataFrame | None = None
    recommendations: pd.DataFrame | None = None
    decision: DecisionResult | None = None
    instance: SitingInstance | None = None
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


def stopped_models(siting: dict[str, Any], organisation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The station and organisation models that stopped at their time limit (or fell back to greedy).

    Parameters
    ----------
    siting, organisation
        The ``counts["siting"]`` and ``counts["organisation"]`` records of ``run.json``.

    Returns
    -------
    dict
        Model name → its record, for every model whose ``status`` is ``time_limit`` or ``greedy``.
    """
    out: dict[str, dict[str, Any]] = {}
    for group in (siting, organisation):
        for name, rec in (group or {}).items():
            if isinstance(rec, dict) and rec.get("status") in ("time_limit", "greedy"):
                out[name] = rec
    return out
