"""Light scenarios for tests about the mechanics of a run (staging, kills, queues, workers), not its figures.

A light scenario goes through every stage of the real pipeline on the bundled extracts, but does little in
each: no sensitivity draws, a short trade-off curve, no PDF report and, optionally, a small roster (the first
members of the demo roster, in 贵溪, and its planted members far away: in 南京, on the second extract, and in
深圳, outside both).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .paths import DEMO, GUIXI, NANJING

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
    """Write the demo scenario, made light, to ``folder/name`` (absolute input paths); return its path.

    Parameters
    ----------
    folder
        Where the TOML file goes (created).
    members
        The roster (default: the demo's whole roster; :func:`small_roster` for a small one).
    name
        File name of the scenario.
    """
    roster = members if members is not None else DEMO / "members.csv"
    text = f"""\
name = "贵溪（轻量测试）"
seed = 20261125

[network]
osm = ["{GUIXI}", "{NANJING}"]
walk_speed_kmh = 4.0

[inputs]
members = {{ path = "{roster}" }}
branches = "{DEMO / 'branches.csv'}"
stations = {{ path = "{DEMO / 'stations.xlsx'}", sheet = "驿站" }}
hospitals = "{DEMO / 'hospitals.csv'}"

[geocode]
default_region = "江西省贵溪市"

[thresholds]
station_walk_min = 15
branch_walk_min = 20
hospital_drive_min = 30

[siting]
new_stations = 3
target_coverage = 0.95
sensitivity_draws = 0
tradeoff_max_p = 2

[branches]
min_branch_members = 3
max_branch_members = 50
max_units_per_joint_branch = 5

[report]
pdf = false
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
