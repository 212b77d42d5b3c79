"""Siting by function (``[siting] function = "study"``): whole runs on 贵溪 and 南京 with a planted study gap.

Planted: a neighbourhood of members next to an activity station (驿站) but more than 40 minutes
from the only place of study (老年大学), and a few members next to that place. Asked for
``study``, the station models keep only the 老年大学 open, measure the walk to study, and put
the new site in the neighbourhood; the neighbourhood was covered for activity all along.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo_planner.pipeline import run
from geo_planner.settings import scenario_from_dict
from geo_planner.travel import node_minutes_from

from ..support.functions import nodes_of, planted_members
from ..support.light import LIGHT_REPORT, LIGHT_SITING
from ..support.paths import GUIXI, NANJING


def _write_scenario(tmp: Path, net, extract: int, seed: int, cache_dir: Path):
    a, b, _ = planted_members(net, extract, seed)
    lon, lat = net.node_lon, net.node_lat
    ta = node_minutes_from(net, net.snap(lon[[a]], lat[[a]]), direction="from")[0]
    nodes = nodes_of(net, extract)
    near = nodes[ta[nodes] < 4]
    rng = np.random.default_rng(seed)
    gap = rng.choice(near, 12, replace=near.size < 12)
    tb = node_minutes_from(net, net.snap(lon[[b]], lat[[b]]), direction="from")[0]
    by_b = rng.choice(nodes[tb[nodes] < 4], 3)
    homes = np.r_[gap, by_b]
    tmp.mkdir(parents=True, exist_ok=True)
    ids = [f"G{i}" for i in range(len(gap))] + [f"B{i}" for i in range(len(by_b))]
    pd.DataFrame({"id": ids, "name": [f"成员{i}" for i in ids], "branch_id": "X1",
                  "lon": lon[homes] + 0.00003, "lat": lat[homes]}).to_csv(tmp / "members.csv", index=False)
    pd.DataFrame({"id": ["X1"], "name": ["测试支部"], "lon": lon[[a]], "lat": lat[[a]]}).to_csv(
        tmp / "branches.csv", index=False)
    pd.DataFrame({"id": ["A", "U"], "name": ["社区桑榆红驿站", "老年大学"], "类型": ["桑榆红驿站", "老年大学"],
                  "lon": lon[[a, b]], "lat": lat[[a, b]]}).to_csv(tmp / "stations.csv", index=False)
    return scenario_from_dict({
        "name": f"study-{extract}", "seed": seed,
        "network": {"osm": [str(GUIXI), str(NANJING)], "cache_dir": str(cache_dir)},
        "inputs": {"members": "members.csv", "branches": "branches.csv", "stations": "stations.csv"},
        "thresholds": {"functions": {"study": 20}},
        "siting": {"function": "study", "new_stations": 1, "time_limit_s": 20, "decision_time_limit_s": 20,
                   **LIGHT_SITING},
        "report": LIGHT_REPORT,
    }, base_dir=tmp)


@pytest.mark.parametrize("extract,seed", [(0, 21), (1, 22)])  # 贵溪, 南京
def test_study_siting_puts_its_site_in_the_planted_study_gap(walk_net, cache_dir, tmp_path, extract, seed):
    sc = _write_scenario(tmp_path / "in", walk_net, extract, seed, cache_dir)
    result = run(sc, tmp_path / "out")
    m = result.members.set_index("id")
    gap = [i for i in m.index if i.startswith("G")]
    # the planted gap: covered for activity, not for study (20 min), so not 四就近
    assert m.loc[gap, "covered_activity"].all() and not m.loc[gap, "covered_study"].any()
    assert (m.loc[gap, "walk_min_study"] > 40).all() and (m.loc[gap, "nearest_study_id"] == "U").all()
    assert result.counts["siting"]["function"] == "study"
    # the covering model's one new site serves the whole gap within the study threshold
    recs = result.recommendations
    mclp = recs[(recs["kind"] == "new_station") & recs["method"].str.startswith("mclp")]
    assert len(mclp) == 1
    row = mclp.iloc[0]
    assert set(row["member_ids"].split(";")) == set(gap)
    assert row["max_after_min"] <= 20 and row["before_min"] > 40
    assert row["rationale_zh"].startswith("【就近学习】") and "function study" in row["rule"]
    # the site is in the gap: within the study threshold of the activity station the gap lives by
    a = walk_net.snap(np.array([result.stations.loc[result.stations["id"] == "A", "lon"].iloc[0]]),
                      np.array([result.stations.loc[result.stations["id"] == "A", "lat"].iloc[0]]))
    site = walk_net.snap(np.array([row["lon"]]), np.array([row["lat"]]))
    from geo_planner.travel import time_to_assigned

    minutes, _ = time_to_assigned(walk_net, site, a, np.array([0]))
    assert minutes[0] <= 20 + 4
    # the 驿站 is no site of study: not kept open as one, but still a meeting place of the organisation
    assert result.counts["siting"]["mclp"]["site_ids"] != ["A"]
    assert "A" not in set(recs.loc[recs["kind"] == "new_station", "site_id"])
