"""Light runs for tests that are not about the PDF, the sensitivity table or the curve.

A test running the pipeline to check travel times, coverage, geocoding or a what-if, or the mechanics of a
run (staging, kills, queues, workers), does not need the printed PDF (headless Chromium), the sensitivity
re-solves (thresholds, life-circle tiers, walking speeds), the seeded geocoding-uncertainty draws or a
ten-point trade-off curve. :data:`LIGHT_SITING` and :data:`LIGHT_REPORT` turn those off (the trade-off
curve keeps ``p = 0``, the run's own coverage, and ``p = 1``); :func:`light` applies them to a loaded
:class:`~geo_planner.settings.Scenario`. :func:`light_scenario` writes the demo scenario, made light, as a
TOML file for the command line, optionally on a small roster (:func:`small_roster`: the first members of
the demo roster, in 贵溪, and its planted members far away: in 南京, on the second extract, and in 深圳,
outside both).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from geo_planner.settings import Scenario

from .paths import DEMO

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


#: Members of the small roster taken from the head of the demo roster (in 贵溪; the far-away ones come on top).
SMALL_ROSTER = 40


def far_members() -> list[str]:
    """Ids of the demo's planted members far from 贵溪: the 南京 cluster and the two in 深圳 (planted.json)."""
    planted = json.loads((DEMO / "planted.json").read_text(encoding="utf-8"))
    return [*planted["remote_cluster"]["member_ids"], *planted["off_network"]["member_ids"]]


def small_roster(folder: Path, n: int = SMALL_ROSTER) -> Path:
    """The first ``n`` rows of the demo roster (in 贵溪) and its members in 南京 and 深圳 (:func:`far_members`),
    as written (gb18030 → UTF-8); written to ``folder/members_small.csv``."""
    m = pd.read_csv(DEMO / "members.csv", encoding="gb18030", dtype=str, keep_default_na=False)
    far = m.iloc[n:][m["编号"].iloc[n:].isin(far_members())]
    small = pd.concat([m.head(n), far])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "members_small.csv"
    small.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def light_scenario(folder: Path, *, members: Path | None = None, name: str = "scenario.toml") -> Path:
    """Write the demo scenario (``data/demo/scenario.toml``), made light, to ``folder/name``; return its path.

    The demo's file is taken as it is, with its input paths made absolute (they are relative to the demo's
    folder), ``members`` in place of its roster, and :data:`LIGHT_SITING`'s draws and curve and
    :data:`LIGHT_REPORT` added (its sensitivity re-solves are kept).

    Parameters
    ----------
    folder
        Where the TOML file goes (created).
    members
        The roster (default: the demo's whole roster; :func:`small_roster` for a small one).
    name
        File name of the scenario.
    """
    text = (DEMO / "scenario.toml").read_text(encoding="utf-8")
    # every quoted input path of the demo, absolute (a JSON string is a TOML basic string)
    text = re.sub(r'"([^"]+\.(?:osm|csv|xlsx))"', lambda m: json.dumps(str((DEMO / m.group(1)).resolve())), text)
    if members is not None:
        text = text.replace(json.dumps(str((DEMO / "members.csv").resolve())), json.dumps(str(members)))
    light = {"sensitivity_draws": LIGHT_SITING["sensitivity_draws"], "tradeoff_max_p": 2}
    text = text.replace("[siting]\n", "[siting]\n" + "".join(f"{k} = {v}\n" for k, v in light.items()), 1)
    text += "\n[report]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in LIGHT_REPORT.items())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
