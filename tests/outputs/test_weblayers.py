"""The workspace's library side without a browser: map layers of a finished run, the scenario form, upload helpers.

On the session's demo run (real 贵溪 roads, members also in 南京: both extracts) and the session's road networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo_planner import weblayers
from geo_planner.errors import NotFoundError
from geo_planner.privacy import MIN_GROUP
from geo_planner.store.files import read_table_csv
from geo_planner.vocab import REASONS

from ..support.paths import DEMO


@dataclass
class FolderRun:
    """A finished run's output folder seen as a store (the three calls :mod:`geo_planner.results` makes)."""

    out: Path

    def finished_run(self, run_id: str) -> object:
        return self

    def run_file(self, run_id: str, name: str) -> Path:
        path = self.out / name
        if not path.is_file():
            raise NotFoundError(f"no {name}")
        return path

    def run_table(self, run_id: str, table: str) -> pd.DataFrame:
        return read_table_csv(self.run_file(run_id, f"{table}.csv"))


@pytest.fixture(scope="module")
def run(demo_run):
    _result, members, out, _stages = demo_run
    return FolderRun(out), members


def test_member_columns_decode_to_the_members_table(run):
    store, members = run
    cols = weblayers.member_columns(store, "r")
    placed = members[members["lon"].notna() & members["lat"].notna()]
    assert cols["n"] == len(placed) == len(cols["lon"]) and cols["unplaced"] == len(members) - len(placed)
    assert set(cols) >= {"id", "branch", "township", "community", "precision", "reasons", "covered", "labels"}
    ids = np.array(cols["id"])
    for key, col in (("branch", "branch_id"), ("township", "township"), ("precision", "geocode_precision")):
        labels = np.array(cols["labels"][key] + [""])  # code -1 → ""
        decoded = labels[np.array(cols[key])]
        want = placed.set_index("id").loc[ids, col].fillna("").astype(str).to_numpy()
        assert (decoded == want).all(), key
    # reasons: a bit per reason, exactly the members' reasons; both extracts' members are there (remote ones in 南京)
    reasons = placed.set_index("id").loc[ids, "dispersion_reason"].fillna("").astype(str)
    for bit, code in enumerate(REASONS):
        has = np.array([(m >> bit) & 1 for m in cols["reasons"]], dtype=bool)
        assert (has == reasons.str.contains(code).to_numpy()).all(), code
    assert (np.array(cols["reasons"]) > 0).sum() == int(placed["dispersed"].astype(str).eq("True").sum())
    lat = np.array(cols["lat"])
    assert (lat > 31).any() and (lat < 29).any()  # 南京 and 贵溪
    assert "name" not in cols and "address" not in cols  # no personal text in the map layer
    np.testing.assert_allclose(cols["lon"], placed.set_index("id").loc[ids, "lon"].to_numpy(), atol=1e-6)


def test_viewer_grid_keeps_the_small_cell_rule(run):
    store, members = run
    grid = weblayers.viewer_grid(store, "r")
    counts = [f["properties"]["count"] for f in grid["features"]]
    assert counts and min(counts) >= MIN_GROUP
    placed = int((members["lon"].notna() & members["lat"].notna()).sum())
    hidden = placed - sum(counts)
    assert hidden > 0  # the demo has cells of 1–4 members …
    assert grid["properties"]["suppressed"] == (hidden if hidden >= MIN_GROUP else None)  # … never counted below 5
    for f in grid["features"]:
        ring = np.array(f["geometry"]["coordinates"][0])
        assert ring.shape == (5, 2) and (ring[0] == ring[-1]).all()
    # a coarser grid on the same members: every count still at least 5
    coarse = weblayers.viewer_grid(store, "r", cell_m=2000.0)
    assert min(f["properties"]["count"] for f in coarse["features"]) >= MIN_GROUP
    assert sum(f["properties"]["count"] for f in coarse["features"]) >= sum(counts)


def test_facilities_dispersed_review_and_details(run):
    store, members = run
    fac = weblayers.facility_features(store, "r")
    layers = pd.Series([f["properties"]["layer"] for f in fac["features"]]).value_counts().to_dict()
    assert layers == {"branch": 14, "station": 7, "hospital": 6}
    dispersed = weblayers.dispersed_members(store, "r")
    assert len(dispersed) == int(members["dispersed"].astype(str).eq("True").sum())
    review = weblayers.review_members(store, "r")
    coarse = members["geocode_precision"].isin(weblayers.COARSE_PRECISIONS) | members["lon"].isna()
    assert set(review["id"]) == set(members.loc[coarse, "id"]) and len(review) >= 1
    one = weblayers.member_details(store, "r", "M0002")
    assert one["id"] == "M0002" and one["name"] == members.loc["M0002", "name"]
    with pytest.raises(NotFoundError):
        weblayers.member_details(store, "r", "M9999")


def test_layers_are_made_once_per_run_and_kept_beside_its_outputs(demo_run, tmp_path):
    """The service sends a run's member, grid and facility layers as kept JSON: the bytes decode to what the
    makers return, are written once (run end, or the first request) and read back afterwards."""
    import json
    import shutil

    from geo_planner.results import RunFolder

    result, _members, src, _stages = demo_run
    out = tmp_path / "run_copy"
    shutil.copytree(src, out)
    folder = RunFolder(result.scenario, out)
    assert not any((out / name).exists() for name in weblayers.LAYER_FILES.values())
    made = {"members": weblayers.member_columns, "grid": weblayers.viewer_grid,
            "facilities": weblayers.facility_features}
    for layer, name in weblayers.LAYER_FILES.items():
        body = weblayers.layer_json(folder, out.name, layer)  # made on the first request, and kept
        assert json.loads(body) == json.loads(json.dumps(made[layer](folder, out.name)))
        assert (out / name).read_bytes() == body
    n, unplaced = weblayers.member_layer_counts(weblayers.layer_json(folder, out.name, "members"))
    cols = weblayers.member_columns(folder, out.name)
    assert (n, unplaced) == (cols["n"], cols["unplaced"]) and n > 0
    # a kept file is what is sent (a run's outputs never change once it is done)
    (out / weblayers.LAYER_FILES["grid"]).write_bytes(b'{"type":"FeatureCollection","features":[]}')
    assert weblayers.layer_json(folder, out.name, "grid") == b'{"type":"FeatureCollection","features":[]}'
    # written all at once when the service's run ends
    paths = weblayers.write_layer_files(folder, out.name)
    assert sorted(p.name for p in paths) == sorted(weblayers.LAYER_FILES.values())
    assert json.loads((out / weblayers.LAYER_FILES["grid"]).read_bytes()) == weblayers.viewer_grid(folder, out.name)
    with pytest.raises(NotFoundError):
        weblayers.layer_json(folder, "another_run", "members")


def test_road_lines_on_both_extracts(walk_net, drive_net):
    for net in (walk_net, drive_net):
        fc = weblayers.road_lines(net)
        seg = np.array(fc["features"][0]["geometry"]["coordinates"])
        assert seg.shape == (fc["properties"]["segments"], 2, 2) and not fc["properties"]["sampled"]
        assert (seg[..., 1] > 31).any() and (seg[..., 1] < 29).any()  # 南京 and 贵溪 roads
        few = weblayers.road_lines(net, max_segments=100)
        assert few["properties"]["sampled"] and few["properties"]["segments"] <= 100


def test_scenario_form_covers_every_setting_and_its_defaults_validate():
    from api.schemas import ScenarioRequest
    from geo_planner.scenario_form import EXPLAIN_ZH, SECTIONS, SKIPPED, form_sections

    sections = form_sections()
    names = {f.name for s in sections for f in s.fields}
    for key, model, _zh, _en in SECTIONS:
        for field in model.model_fields:
            assert f"{key}.{field}" in names | SKIPPED, (key, field)
        assert key in ScenarioRequest.model_fields
    assert all(f.explain_zh and (f.explain_en or f.name.startswith(("branches.", "map.", "report.")))
               for s in sections for f in s.fields), [f.name for s in sections for f in s.fields if not f.explain_zh]
    assert set(EXPLAIN_ZH) <= names
    by_name = {f.name: f for s in sections for f in s.fields}
    walk = by_name["thresholds.station_walk_min"]
    assert (walk.default, walk.minimum, walk.exclusive_min, walk.maximum) == ("15", 0.0, True, 240.0)
    assert by_name["dispersion.remote"].choices == ("city", "county")
    assert by_name["siting.capacity"].optional and by_name["siting.capacity"].default == ""
    # the defaults, as the form shows them, are a valid request
    body: dict = {"network": {"osm": ["guixi_jiangxi.osm"]},
                  "inputs": {k: {"dataset": "ds_x"} for k in ("members", "branches", "stations")}}
    for f in by_name.values():
        section, name = f.name.split(".")
        if f.default == "":
            continue
        value = {"number": float, "integer": int, "checkbox": lambda v: v == "true",
                 "list": lambda v: [float(x) for x in v.split(",")]}.get(f.input, str)(f.default)
        body.setdefault(section, {})[name] = value
    ScenarioRequest.model_validate(body)


def test_sheets_and_problem_rows(tmp_path):
    from geo_planner.io.problems import PROBLEM_COLUMNS, list_sheets, problem_rows

    assert list_sheets(DEMO / "stations.xlsx") == ["驿站"]
    assert list_sheets(DEMO / "members.csv") == []
    xlsx_copy = tmp_path / "no-extension"
    xlsx_copy.write_bytes((DEMO / "stations.xlsx").read_bytes())
    assert list_sheets(xlsx_copy) == ["驿站"]  # recognised by its bytes
    problems = [{"row": 713, "field": "家庭住址", "value": "", "reason": "no address", "action": "rejected"},
                {"row": 709, "field": "编号", "value": "M0001", "reason": "duplicate", "action": "rejected"},
                {"row": None, "field": None, "value": None, "reason": "whole file", "action": "warning"}]
    df = problem_rows(DEMO / "members.csv", problems)  # GB18030, detected
    assert list(df.columns[:5]) == list(PROBLEM_COLUMNS.values())
    assert df["行号"].isna().iloc[0] and list(df["行号"].iloc[1:]) == [709, 713]
    assert df.loc[1, "编号"] == "M0001" and df.loc[1, "姓名"] == "重复编号"
    stations = problem_rows(DEMO / "stations.xlsx", [{"row": 3, "field": "名称", "value": "x", "reason": "r",
                                                      "action": "warning"}], sheet="驿站")
    assert len(stations) == 1 and stations["行号"].iloc[0] == 3
