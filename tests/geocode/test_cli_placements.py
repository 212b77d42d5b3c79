"""Placements made in the workspace applied by a command-line run (issue #18, step 3): ``geo-planner run`` reads
the scenario's ``inputs.placements`` file, or ``--placements FILE`` instead, and the members placed by hand come
out ``manual`` at their point — one member on the 贵溪 extract and one on the 南京 extract. The command is its
console script's function (``geo_planner.cli.main``) called in the test's process, output and exit code as a
shell sees them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo_planner.placements import put_placement

from ..support.commands import Ran, run_cli
from ..support.paths import DEMO, ROOT

OSM = ROOT / "data" / "osm"
#: (member id, point): an address-only member in 贵溪 and a member with coordinates in 南京.
PLACED = {"M0004": (117.2391, 28.2921), "M0698": (118.7801, 32.0399)}


def _roster(folder: Path) -> Path:
    """The demo's members in 贵溪 (the first 40) and in 南京 (all), as written."""
    m = pd.read_csv(DEMO / "members.csv", encoding="gb18030", dtype=str, keep_default_na=False)
    lat = pd.to_numeric(m["纬度"], errors="coerce")
    small = pd.concat([m.head(40), m[lat > 31]])
    path = folder / "members.csv"
    small.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _scenario(folder: Path, placements: str | None) -> Path:
    lines = [
        'name = "人工标注（命令行）"', "seed = 1", "[network]",
        f'osm = ["{OSM / "guixi_jiangxi.osm"}", "{OSM / "nanjing_xuanwu.osm"}"]', "[inputs]",
        'members = "members.csv"', f'branches = "{DEMO / "branches.csv"}"',
        f'stations = {{ path = "{DEMO / "stations.xlsx"}", sheet = "驿站" }}', f'hospitals = "{DEMO / "hospitals.csv"}"',
        *([f'placements = "{placements}"'] if placements else []),
        "[geocode]", 'default_region = "江西省贵溪市"', "[siting]", "new_stations = 1", "sensitivity_draws = 0",
        "decision_time_limit_s = 10", "[report]", "pdf = false",
    ]
    path = folder / "scenario.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cli(*args: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Ran:
    """``geo-planner run ARGS`` as its console script runs it, in this process: what the command does with
    the placements is the point here, not a fresh interpreter's start."""
    return run_cli(["run", *args], monkeypatch, env={"GEO_PLANNER_CACHE_DIR": str(cache_dir)})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-placements")
    roster = pd.read_csv(_roster(folder), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    address = dict(zip(roster["编号"], roster["家庭住址"], strict=True))
    for mid, (lon, lat) in PLACED.items():  # as the service keeps them (<data dir>/placements.json)
        put_placement(folder / "placements.json", mid, address[mid], lon, lat, "ws_planner")
    return folder


def test_the_scenario_placements_apply_to_a_cli_run(folder: Path, cache_dir: Path, monkeypatch) -> None:
    scenario = _scenario(folder, "placements.json")  # relative to the scenario file
    r = _cli(str(scenario), "--out", str(folder / "out"), "--no-map-copy", "-q", cache_dir=cache_dir,
             monkeypatch=monkeypatch)
    assert r.returncode == 0, r.stderr[-3000:]
    m = pd.read_csv(folder / "out" / "members.csv", dtype={"id": str})
    manual = m[m["geocode_precision"] == "manual"].set_index("id")
    assert sorted(manual.index) == sorted(PLACED)  # both extracts, nobody else
    for mid, (lon, lat) in PLACED.items():
        assert manual.loc[mid, "lon"] == pytest.approx(lon, abs=1e-6)
        assert manual.loc[mid, "lat"] == pytest.approx(lat, abs=1e-6)
    assert manual.loc["M0698", "lat"] > 32 > manual.loc["M0004", "lat"]


def test_missing_placements_files_are_errors(folder: Path, cache_dir: Path, monkeypatch) -> None:
    scenario = _scenario(folder, "placements.json")
    r = _cli(str(scenario), "--out", str(folder / "x"), "--placements", str(folder / "missing.json"),
             cache_dir=cache_dir, monkeypatch=monkeypatch)
    assert r.returncode == 2 and "missing.json" in r.stderr and "not found" in r.stderr
    r = _cli(str(_scenario(folder, "nowhere.json")), "--out", str(folder / "y"), cache_dir=cache_dir,
             monkeypatch=monkeypatch)
    assert r.returncode == 2 and "nowhere.json" in r.stderr and "inputs.placements" in r.stderr
