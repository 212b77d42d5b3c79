"""Province scenarios: [[regions]] validation, serial vs Dask LocalCluster, 异地 across regions.

The LocalCluster runs are real (worker processes, the real pipeline on the bundled extracts),
kept small: at most 2 single-threaded workers, the cluster closed after each run, and the light settings on
a small roster (``tests/support/light.py``: the demo's first 40 members and its members in 南京 and 深圳) —
these tests are about the two paths giving the same outputs, not about the figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import psutil
import pytest

from geo_planner.errors import ScenarioError
from geo_planner.province import Province, load_plan, run_province

from ..support.light import far_members, small_roster
from ..support.paths import DEMO, GUIXI, NANJING

SHARED = """\
name = "演示省"
seed = 20261125
[network]
walk_speed_kmh = 4.0
cache_dir = "{cache}"
[geocode]
default_region = "江西省贵溪市"
[thresholds]
station_walk_min = 15
branch_walk_min = 20
hospital_drive_min = 30
[siting]
new_stations = 3
target_coverage = 0.95
{siting_extra}
[branches]
min_branch_members = 3
max_branch_members = 50
max_units_per_joint_branch = 5
{report}
"""

DEMO_INPUTS = f"""\
[regions.inputs]
members = {{ path = "{DEMO / 'members.csv'}" }}
branches = "{DEMO / 'branches.csv'}"
stations = {{ path = "{DEMO / 'stations.xlsx'}", sheet = "驿站" }}
hospitals = "{DEMO / 'hospitals.csv'}"
"""


def _region(name: str, osm: list[Path], inputs: str = DEMO_INPUTS) -> str:
    return f'[[regions]]\nname = "{name}"\nosm = {json.dumps([str(p) for p in osm])}\n{inputs}'


def _small_inputs(folder: Path) -> str:
    """The demo's inputs with the small roster (:func:`small_roster`) in place of its members."""
    return DEMO_INPUTS.replace(str(DEMO / "members.csv"), str(small_roster(folder)))


def _write(path: Path, cache: Path, regions: list[str], *, light: bool = False) -> Path:
    # light: a long time limit too, so that no model stops at its limit on a busy machine (the answer of a
    # model stopped by its limit depends on the machine's speed, and the two modes are compared byte for byte)
    extra = "sensitivity_draws = 0\ntradeoff_max_p = 2\ntime_limit_s = 900" if light else ""
    report = "[report]\npdf = false" if light else ""
    path.write_text(SHARED.format(cache=cache, siting_extra=extra, report=report) + "\n".join(regions),
                    encoding="utf-8")
    return path


def _spawned_children() -> list[psutil.Process]:
    out = []
    for c in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(c.cmdline()) and c.is_running() and c.status() != psutil.STATUS_ZOMBIE:
                out.append(c)
        except psutil.Error:
            continue
    return out


def _csv(path: Path) -> bytes:
    return path.read_bytes()


# --------------------------------------------------------------------------------------
# validation


def test_regions_validate_and_name_the_region(tmp_path, cache_dir):
    ok = _write(tmp_path / "ok.toml", cache_dir, [_region("贵溪", [GUIXI, NANJING]), _region("南京", [NANJING])])
    prov = load_plan(ok)
    assert isinstance(prov, Province)
    assert [n for n, _ in prov.regions] == ["贵溪", "南京"]
    s = prov.regions[1][1]
    assert s.network.osm == [NANJING] and s.thresholds.branch_walk_min == 20 and s.seed == 20261125
    assert s.inputs.stations.sheet == "驿站" and s.network.cache_dir == cache_dir

    bad_inputs = DEMO_INPUTS.replace("members.csv", "nope.csv")
    bad = _write(tmp_path / "bad.toml", cache_dir, [
        _region("贵溪", [GUIXI]),
        _region("龙岗", [GUIXI], bad_inputs),
        _region("贵溪", [GUIXI]),
        '[[regions]]\nname = "a/b"\nosm = []\n' + DEMO_INPUTS,
    ])
    with pytest.raises(ScenarioError) as e:
        load_plan(bad)
    msg = str(e.value)
    assert "regions[1] (龙岗): inputs.members" in msg and "nope.csv" in msg
    assert "regions[2] (贵溪): name" in msg and "duplicate" in msg
    assert "regions[3] (a/b)" in msg and "osm" in msg and "folder name" in msg


def test_province_rejects_shared_inputs_and_bad_scheduler(tmp_path, cache_dir):
    p = _write(tmp_path / "p.toml", cache_dir, [_region("贵溪", [GUIXI])])
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace("[network]", '[run]\nscheduler = "udp:nowhere"\n[network]\nosm = ["x.osm"]'),
                 encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        load_plan(p)
    msg = str(e.value)
    assert "network.osm" in msg and "run.scheduler" in msg
    # a plain scenario still loads as one (and accepts [run] scheduler)
    plain = tmp_path / "plain.toml"
    plain.write_text((DEMO / "scenario.toml").read_text(encoding="utf-8").replace(
        "../osm/", str(GUIXI.parent) + "/").replace('"members.csv"', f'"{DEMO / "members.csv"}"').replace(
        '"branches.csv"', f'"{DEMO / "branches.csv"}"').replace('"stations.xlsx"', f'"{DEMO / "stations.xlsx"}"').replace(
        '"hospitals.csv"', f'"{DEMO / "hospitals.csv"}"') + '\n[run]\nscheduler = "tcp://127.0.0.1:8786"\n',
        encoding="utf-8")
    s = load_plan(plain)
    assert not isinstance(s, Province) and s.run.scheduler == "tcp://127.0.0.1:8786"


# --------------------------------------------------------------------------------------
# runs


def test_demo_as_one_region_on_local_cluster_equals_plain_run(tmp_path, cache_dir, capsys):
    from geo_planner.cli import main
    from geo_planner.pipeline import run
    from geo_planner.settings import load_scenario

    inputs = _small_inputs(tmp_path)
    toml = _write(tmp_path / "one.toml", cache_dir, [_region("贵溪", [GUIXI, NANJING], inputs)], light=True)
    # the same scenario as a plain (one-city) scenario, run in this process
    plain = tmp_path / "plain.toml"
    osm = json.dumps([str(GUIXI), str(NANJING)])
    plain.write_text(toml.read_text(encoding="utf-8").split("[[regions]]")[0].replace(
        "[network]\n", f"[network]\nosm = {osm}\n") + inputs.replace("[regions.inputs]", "[inputs]"),
        encoding="utf-8")
    plain_out = tmp_path / "plain"
    n = run(load_scenario(plain), plain_out).counts["members"]
    assert n == 50  # the small roster: every row a member (the 深圳 two off the network, still counted)
    out = tmp_path / "out"
    assert main(["run", str(toml), "--out", str(out), "--scheduler", "local", "--no-map-copy"]) == 0
    err = capsys.readouterr().err
    assert f"region 1/1 贵溪: ok ({n} members" in err
    region = out / "regions" / "贵溪"
    for name in ("members.csv", "recommendations.csv"):
        assert _csv(region / name) == _csv(plain_out / name), name
    table = pd.read_csv(out / "regions.csv", encoding="utf-8-sig")
    assert table.loc[0, "status"] == "ok" and table.loc[0, "members"] == n
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert doc["scheduler"] == "local" and doc["regions"][0]["status"] == "ok"
    assert not _spawned_children(), "the LocalCluster's worker processes must be gone"


def test_serial_and_local_cluster_give_identical_regions(tmp_path, cache_dir, monkeypatch):
    """Two real regions (贵溪 with the 南京 extract; 贵溪 alone) and one failing region,
    serially and on a 2-worker LocalCluster reached by its address: identical outputs, the failure
    reported, 异地 resolved.

    The small roster's models solve in well under ``province.PROGRESS_EVERY_S``: the throttle of progress
    events inside a stage is set to 0 here and in the cluster's workers, so that the model events a
    longer run sends are seen (each new stage is sent whatever the throttle)."""
    from geo_planner import province as prov_mod

    monkeypatch.setattr(prov_mod, "PROGRESS_EVERY_S", 0.0)
    empty = tmp_path / "empty_members.csv"
    empty.write_text("id,name,branch_id,address,lon,lat\n", encoding="utf-8")
    broken = DEMO_INPUTS.replace(str(DEMO / "members.csv"), str(empty))
    inputs = _small_inputs(tmp_path)
    toml = _write(tmp_path / "two.toml", cache_dir, [
        _region("贵溪南京", [GUIXI, NANJING], inputs), _region("坏", [GUIXI], broken),
        _region("贵溪", [GUIXI], inputs),
    ], light=True)
    prov = load_plan(toml)
    seen: list[str] = []
    events: dict[str, list[tuple[str, str, float]]] = {"serial": [], "local": []}
    serial = run_province(prov, tmp_path / "serial", on_region=lambda n, s: seen.append(n),
                          on_progress=lambda *e: events["serial"].append(e))
    assert seen == ["贵溪南京", "坏", "贵溪"]
    # an existing cluster reached by its tcp:// address (the `--scheduler tcp://HOST:PORT` path)
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        with Client(address) as client:
            client.run(setattr, prov_mod, "PROGRESS_EVERY_S", 0.0)
        local = run_province(prov, tmp_path / "local", scheduler=address,
                             on_progress=lambda *e: events["local"].append(e))
    assert not _spawned_children()
    assert json.loads((tmp_path / "local" / "run.json").read_text(encoding="utf-8"))["scheduler"] == address

    for t in (serial, local):
        assert t["status"].tolist() == ["ok", "failed", "ok"]
        assert "no member row could be accepted" in t.loc[1, "error"] or "members" in t.loc[1, "error"]
    cols = [c for c in serial.columns if not c.startswith("time_") and c not in ("wall_s", "out_dir")]
    pd.testing.assert_frame_equal(serial[cols], local[cols])
    for region in ("贵溪南京", "贵溪"):
        for name in ("members.csv", "recommendations.csv", "coverage_by_branch.csv"):
            a = tmp_path / "serial" / "regions" / region / name
            b = tmp_path / "local" / "regions" / region / name
            assert _csv(a) == _csv(b), (region, name)
    assert not (tmp_path / "local" / "regions" / "坏" / "members.csv").exists()
    # progress from inside each region (in-process, and from the Dask workers as events): stages and models
    for mode, evs in events.items():
        for region in ("贵溪南京", "贵溪"):
            mine = [(t, f) for n, t, f in evs if n == region]
            assert {"load", "network", "travel", "siting", "export"} <= {t.split(":")[0] for t, _ in mine}, mode
            assert any(t.startswith("siting: ") for t, _ in mine), (mode, region)  # the model running
            assert max(f for _, f in mine) > 0.9 and min(f for _, f in mine) < 0.1
        assert {t.split(":")[0] for n, t, _ in evs if n == "坏"} == {"load"}, mode  # it failed while loading

    # 异地 across regions: 贵溪's members living in 南京 are outside 贵溪's extract, inside 贵溪南京's
    cross = pd.read_csv(tmp_path / "local" / "cross_region.csv", encoding="utf-8-sig", dtype=str).fillna("")
    hosted = cross[cross["home_region"] == "贵溪"]
    assert len(hosted) > 0 and set(hosted["host_region"]) <= {"贵溪南京", ""}
    assert set(far_members()) <= set(hosted["id"])  # the planted 南京 and 深圳 members of the small roster
    in_nj = hosted[hosted["host_region"] == "贵溪南京"]
    assert len(in_nj) > 0 and set(in_nj["member_city"]) == {"南京市"}
    members = pd.read_csv(tmp_path / "local" / "regions" / "贵溪" / "members.csv", encoding="utf-8-sig", dtype=str)
    flagged = members.set_index("id").loc[in_nj["id"]]
    assert (flagged["dispersion_reason"] == "remote").all()
    row = local.set_index("region").loc["贵溪南京"]
    assert row["remote_living_here"] == len(in_nj) and row["remote_living_here_from"] == f"贵溪:{len(in_nj)}"
    # members outside every region's extract stay counted, not lost
    assert local.set_index("region").loc["贵溪", "remote_outside_all_regions"] == (hosted["host_region"] == "").sum()
    # … and served there: the host's nearest station, the same answer as the host run's own point index
    for name in ("cross_region.csv", "cross_region_branches.csv"):
        assert _csv(tmp_path / "serial" / name) == _csv(tmp_path / "local" / name), name
    assert set(hosted.loc[hosted["host_region"] == "", "host_status"]) <= {"outside_all_regions"}
    assert (in_nj["host_status"] == "ok").all()
    # (the demo's stations are all in 贵溪, which no road joins to 南京: unreachable, and said so)
    assert set(in_nj["host_station_status"]) <= {"ok", "unreachable", "off_network"}
    from geo_planner.pipeline import run_networks
    from geo_planner.pointindex import load_point_index

    walk, drive = run_networks(dict(prov.regions)["贵溪南京"])
    index = load_point_index(tmp_path / "local" / "regions" / "贵溪南京" / "point_index.npz")
    for _, r in in_nj.iterrows():
        q = index.query(walk, drive, float(r["lon"]), float(r["lat"]))
        if q["nearest_station_min"] is None:
            assert r["host_walk_min_station"] == "" and r["host_station_status"] != "ok"
        else:
            assert float(r["host_walk_min_station"]) == pytest.approx(q["nearest_station_min"], abs=0.011)
    branches = pd.read_csv(tmp_path / "local" / "cross_region_branches.csv", encoding="utf-8-sig", dtype=str)
    for _, b in branches.iterrows():
        assert b["host_region"] == "贵溪南京" and b["home_region"] == "贵溪" and int(b["n_members"]) >= 3
        assert set(b["member_ids"].split(";")) <= set(in_nj["id"])


def test_unreachable_scheduler_is_a_clear_error(tmp_path, cache_dir, monkeypatch):
    import socket

    from geo_planner import province as prov_mod
    from geo_planner.province import SchedulerError

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(prov_mod, "CONNECT_TIMEOUT_S", 2.0)
    prov = load_plan(_write(tmp_path / "p.toml", cache_dir, [_region("贵溪", [GUIXI])]))
    with pytest.raises(SchedulerError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        run_province(prov, tmp_path / "out", scheduler=f"tcp://127.0.0.1:{port}")
    assert not (tmp_path / "out" / "regions").exists()
