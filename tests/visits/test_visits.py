"""Home visits: planned on the demo run (贵溪) and on seeded homes along the 南京 roads.

Real drive network, real PyVRP, times checked against an independent networkx Dijkstra.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from geo_planner.errors import InputError
from geo_planner.results import parse_flags
from geo_planner.roadpoints import RoadPointSampler
from geo_planner.settings import VisitSettings, parse_span
from geo_planner.visits import VisitPlan, plan_visits
from geo_planner.visits.matrix import drive_seconds, leg_lines
from geo_planner.vocab import UNVISITED_REASONS

from ..support.nxref import split_graph

#: Members of the demo whose addresses are only known to the township (network_status imprecise_location).
DEMO_IMPRECISE = ["M0070", "M0089"]
#: Demo members living in 南京 (异地).
DEMO_REMOTE = ["M0699", "M0700"]


@dataclass(frozen=True)
class Case:
    """A plan with what it was made from."""

    name: str
    plan: VisitPlan
    selected: list[str]
    settings: VisitSettings
    drive: object


def _read(path):
    return parse_flags(pd.read_csv(path, encoding="utf-8-sig", dtype={"id": str, "branch_id": str, "phone": str}))


@pytest.fixture(scope="module")
def demo_case(demo_run, drive_net) -> Case:
    """离休 members and those aged 85+ of the demo, plus named imprecise, remote and windowed members;
    two cars for one day: not everyone fits (prize-collecting).
    """
    _result, _members, out, _stages = demo_run
    members = _read(out / "members.csv")
    stations = pd.read_csv(out / "stations.csv", encoding="utf-8-sig", dtype={"id": str})
    lixiu = members.loc[members["status"] == "lixiu", "id"].tolist()
    windows = {m: "14:00-16:00" for m in lixiu[3:8]} | {m: "09:00-10:00" for m in lixiu[8:10]}
    settings = VisitSettings(
        offices=[{"name": "贵溪市委老干部局", "site": "S01", "visitors": 2, "days": 1}],
        select=["lixiu", "age", "ids"], min_age=85, member_ids=DEMO_IMPRECISE + DEMO_REMOTE,
        member_windows=windows, time_limit_s=1.5,
    )
    plan = plan_visits(members, drive_net, settings, stations=stations, seed=1)
    age = pd.to_numeric(members["age"], errors="coerce")
    selected = members.loc[(members["status"] == "lixiu") | (age >= 85) | members["id"].isin(
        DEMO_IMPRECISE + DEMO_REMOTE), "id"].tolist()
    return Case("guixi", plan, selected, settings, drive_net)


@pytest.fixture(scope="module")
def nanjing_case(drive_net) -> Case:
    """36 seeded homes along the 南京 (玄武) roads, an office there, windows, one imprecise, one remote
    and one unlocated member; three cars, two days: everyone who can be routed fits.
    """
    rng = np.random.default_rng(20261207)
    sampler = RoadPointSampler(drive_net, 1, rng)
    lon, lat = sampler.anywhere(37)
    n = 36
    members = pd.DataFrame({
        "id": [f"N{i:03d}" for i in range(n)], "name": [f"成员{i}" for i in range(n)],
        "status": ["lixiu"] * n, "age": rng.integers(80, 99, n), "address": [f"玄武区{i}号" for i in range(n)],
        "phone": [f"1380000{i:04d}" for i in range(n)], "lon": lon[:n], "lat": lat[:n],
        "network_status": ["ok"] * n, "dispersion_reason": [""] * n,
    })
    members.loc[5, "network_status"] = "imprecise_location"
    members.loc[6, "dispersion_reason"] = "remote;far"
    members.loc[7, ["lon", "lat"]] = np.nan
    members.loc[7, "network_status"] = "no_location"
    settings = VisitSettings(
        offices=[{"name": "玄武区委老干部局", "lon": float(lon[n]), "lat": float(lat[n]), "visitors": 3, "days": 2}],
        select=["lixiu"], duration_min=40, member_windows={"N010": "14:30-15:30", "N011": "09:00-09:45"},
        time_limit_s=1.5,
    )
    plan = plan_visits(members, drive_net, settings, seed=2)
    return Case("nanjing", plan, members["id"].tolist(), settings, drive_net)


@pytest.fixture(params=["demo_case", "nanjing_case"])
def case(request) -> Case:
    return request.getfixturevalue(request.param)


def _minutes(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def test_every_selected_member_once_with_a_reason(case: Case) -> None:
    visits, unvisited = case.plan.visits, case.plan.unvisited
    visited = visits.loc[visits["stop"] == "visit", "member_id"].tolist()
    assert len(visited) == len(set(visited)) > 0
    assert unvisited["member_id"].is_unique
    assert not set(visited) & set(unvisited["member_id"])
    assert sorted(visited + unvisited["member_id"].tolist()) == sorted(case.selected)
    assert unvisited["reason"].isin(UNVISITED_REASONS).all()
    assert case.plan.summary["visits_planned"] == len(visited)
    assert case.plan.summary["selected"] == len(case.selected)


def test_imprecise_and_remote_members_are_not_routed(demo_case: Case, nanjing_case: Case) -> None:
    for case, imprecise, remote in ((demo_case, DEMO_IMPRECISE, DEMO_REMOTE), (nanjing_case, ["N005"], ["N006"])):
        why = case.plan.unvisited.set_index("member_id")["reason"]
        assert (why[imprecise] == "imprecise_location").all()
        assert (why[remote] == "remote").all()
    assert nanjing_case.plan.unvisited.set_index("member_id").loc["N007", "reason"] == "no_location"


def test_prize_collecting_only_when_not_everyone_fits(demo_case: Case, nanjing_case: Case) -> None:
    demo_reasons = demo_case.plan.summary["unvisited_by_reason"]
    assert demo_reasons.get("no_capacity", 0) > 0  # two cars, one day: not everyone fits …
    # … and the cars are used: every span has both cars out
    assert demo_case.plan.visits.groupby(["span"])["visitor"].nunique().eq(2).all()
    assert "no_capacity" not in nanjing_case.plan.summary["unvisited_by_reason"]
    assert nanjing_case.plan.summary["solver"]["status"] == "feasible"


def test_routes_start_and_end_at_their_office_within_hours(case: Case) -> None:
    spans = [parse_span(h) for h in case.settings.offices[0].hours]
    for (_visitor, _day, span), route in case.plan.visits.groupby(["visitor", "day", "span"]):
        route = route.sort_values("order")
        assert route["stop"].iloc[0] == "depart" and route["stop"].iloc[-1] == "return"
        assert (route["stop"].iloc[1:-1] == "visit").all()
        start, end = spans[span - 1]
        assert _minutes(route["leave"].iloc[0]) >= start
        assert _minutes(route["arrive"].iloc[-1]) <= end
        assert (route["office"] == case.settings.offices[0].name).all()


def test_arrive_is_previous_leave_plus_drive(case: Case) -> None:
    for _key, route in case.plan.visits.groupby(["visitor", "day", "span"]):
        route = route.sort_values("order")
        leave = route["leave"].map(_minutes).to_numpy()[:-1]
        arrive = route["arrive"].map(_minutes).to_numpy()[1:]
        drive = route["drive_min"].to_numpy()[1:]
        assert np.all(np.abs(arrive - (leave + drive)) <= 1.0)
        assert (route["drive_min"] >= 0).all()


def test_drive_minutes_match_an_independent_dijkstra(case: Case) -> None:
    plan = case.plan
    G = split_graph(case.drive, {"s": plan.stops_snap})
    legs = [leg for leg in plan.legs if leg[0] >= 0]
    rows = plan.visits[[leg[0] >= 0 for leg in plan.legs]]
    assert len(legs) == len(rows) > 5
    for (i, j), drive_min in zip(legs, rows["drive_min"], strict=True):
        ref = nx.shortest_path_length(G, ("s", i), ("s", j), weight="weight") if i != j else 0.0
        assert abs(drive_min - ref / 60.0) <= 0.051, (i, j)


def test_matrix_equals_networkx_on_both_extracts(drive_net) -> None:
    """All pairs, both directions (one-way streets make them differ), on each extract."""
    rng = np.random.default_rng(7)
    for extract in (0, 1):
        lon, lat = RoadPointSampler(drive_net, extract, rng).anywhere(12)
        snap = drive_net.snap(lon, lat)
        secs = drive_seconds(drive_net, snap, chunk=5)  # several Dijkstra chunks
        G = split_graph(drive_net, {"s": snap})
        for i in range(12):
            ref = nx.single_source_dijkstra_path_length(G, ("s", i), weight="weight")
            for j in range(12):
                want = 0.0 if i == j else ref.get(("s", j), np.inf)
                assert secs[i, j] == pytest.approx(want, rel=1e-9, abs=1e-3)  # virtual arcs carry 1e-6 s each


def test_time_windows_respected(case: Case) -> None:
    visits = case.plan.visits[case.plan.visits["stop"] == "visit"]
    windows = case.settings.member_windows
    checked = 0
    for _, row in visits.iterrows():
        if row["member_id"] in windows:
            start = _minutes(row["arrive"]) + row["wait_min"]
            lo, hi = parse_span(windows[row["member_id"]])
            assert lo - 0.5 <= start <= hi + 0.5
            assert _minutes(row["leave"]) - start == pytest.approx(case.settings.duration_min, abs=1)
            checked += 1
    assert checked >= 1


def test_legs_are_drawn_along_the_roads(nanjing_case: Case) -> None:
    plan = nanjing_case.plan
    legs = [leg for leg in plan.legs if leg[0] >= 0]
    lines = leg_lines(nanjing_case.drive, plan.stops_snap, legs)
    assert all(line is not None and line.shape[1] == 2 for line in lines)
    longest = max(range(len(lines)), key=lambda k: len(lines[k]))
    assert len(lines[longest]) > 3  # turns along streets, not a straight line
    i, j = legs[longest]
    # the drawn line starts at the stop's road point and ends at the next one's (within the access legs)
    for end, stop in ((lines[longest][0], i), (lines[longest][-1], j)):
        d_m = np.hypot((end[0] - plan.stops_lon[stop]) * 94_000, (end[1] - plan.stops_lat[stop]) * 111_000)
        assert d_m <= plan.stops_snap.access_m[stop] + 5


def test_route_lines_follow_the_plan(nanjing_case: Case) -> None:
    from geo_planner.visits.plan import route_lines

    plan = nanjing_case.plan
    lines = route_lines(plan, nanjing_case.drive, day=1)
    legs = plan.visits[(plan.visits["stop"] != "depart") & (plan.visits["day"] == 1)]
    assert [(x["visitor"], x["order"]) for x in lines] == list(zip(legs["visitor"], legs["order"], strict=True))
    assert all(len(x["coordinates"]) >= 2 for x in lines)


def test_unknown_site_and_member_ids_are_named(demo_run, drive_net) -> None:
    members = _read(demo_run[2] / "members.csv")
    bad = VisitSettings(offices=[{"name": "局", "site": "S99"}], select=["ids"], member_ids=["M0001"])
    with pytest.raises(InputError, match=r"offices\[0\]\.site.*S99"):
        plan_visits(members, drive_net, bad)
    bad = VisitSettings(offices=[{"name": "局", "lon": 117.24, "lat": 28.29}], select=["ids"],
                        member_ids=["M0001", "X1"])
    with pytest.raises(InputError, match="member_ids.*X1"):
        plan_visits(members, drive_net, bad)
    with pytest.raises(InputError, match="独居"):
        plan_visits(members, drive_net, bad.model_copy(update={"select": ["alone"]}))


def test_summary_is_json(case: Case) -> None:
    s = json.loads(json.dumps(case.plan.summary, ensure_ascii=False))
    assert s["solver"]["solver"] == "PyVRP" and s["solver"]["bound"] is None
    per = s["drive_min_per_visitor"]
    assert sum(per.values()) == pytest.approx(s["drive_min_total"], abs=0.1 * len(case.plan.visits))


# --------------------------------------------------------------------------- files, CLI, map in a browser


@pytest.fixture(scope="module")
def cli_out(demo_run, cache_dir, tmp_path_factory):
    """``geo-planner visits`` on the demo run (its scenario plus a [visits] section), as a planner runs it."""
    from geo_planner.cli import main

    from ..support.paths import DEMO

    tmp = tmp_path_factory.mktemp("visits-cli")
    text = (DEMO / "scenario.toml").read_text(encoding="utf-8").replace('"../osm/', f'"{DEMO.parent}/osm/')
    text = text.replace('path = "', f'path = "{DEMO}/').replace('branches = "', f'branches = "{DEMO}/')
    text = text.replace('hospitals = "', f'hospitals = "{DEMO}/')
    text = text.replace("walk_speed_kmh = 4.0", f"walk_speed_kmh = 4.0\ncache_dir = \"{cache_dir}\"")
    text += ('\n[visits]\nselect = ["lixiu"]\nduration_min = 20\ntime_limit_s = 1\n'
             '[[visits.offices]]\nname = "贵溪市委老干部局"\nsite = "S01"\nvisitors = 2\ndays = 2\n')
    scenario = tmp / "scenario.toml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp / "visits"
    assert main(["visits", str(scenario), "--run", str(demo_run[2]), "--out", str(out)]) == 0
    return out


def test_cli_writes_every_file(cli_out) -> None:
    from geo_planner.visits.write import SHEET_HEADERS

    visits = pd.read_csv(cli_out / "visits.csv", encoding="utf-8-sig", dtype={"member_id": str})
    assert list(visits.columns[:8]) == ["visitor", "day", "order", "stop", "member_id", "arrive", "leave",
                                        "drive_min"]
    assert "office" in visits.columns
    unvisited = pd.read_csv(cli_out / "unvisited.csv", encoding="utf-8-sig")
    assert {"member_id", "reason"} <= set(unvisited.columns)
    summary = json.loads((cli_out / "visits.json").read_text(encoding="utf-8"))
    assert summary["visits_planned"] == int((visits["stop"] == "visit").sum()) > 20
    assert summary["selected"] == summary["visits_planned"] + len(unvisited)
    import openpyxl

    wb = openpyxl.load_workbook(cli_out / "visits.xlsx")
    routes = visits[["day", "visitor"]].drop_duplicates()
    assert len(wb.sheetnames) == len(routes)
    ws = wb[wb.sheetnames[0]]
    assert tuple(c.value for c in ws[2]) == SHEET_HEADERS
    assert ws.print_title_rows == "$1:$2" and ws.page_setup.fitToWidth == 1
    numbered = [r[0] for r in ws.iter_rows(min_row=3, values_only=True) if isinstance(r[0], int)]
    day, visitor = wb.sheetnames[0].split("-", 1)
    first = visits[(visits["visitor"] == visitor) & (visits["day"] == int(day[1:-1]))]
    assert numbered == list(range(1, int((first["stop"] == "visit").sum()) + 1))
    for day in visits["day"].unique():
        page = (cli_out / f"visits_day{day}.html").read_text(encoding="utf-8")
        assert "<script src=\"http" not in page  # Leaflet inlined: opens offline


def test_day_map_draws_routes_along_roads_in_a_browser(cli_out, page) -> None:
    page.page.goto((cli_out / "visits_day1.html").as_uri())
    page.page.wait_for_selector(".gp-icon")
    lines = page.page.evaluate("document.querySelectorAll('path.leaflet-interactive').length")
    homes = page.page.evaluate("document.querySelectorAll('.gp-icon').length")
    visits = pd.read_csv(cli_out / "visits.csv", encoding="utf-8-sig")
    day1 = visits[(visits["day"] == 1)]
    assert homes == int((day1["stop"] == "visit").sum()) + 1  # the homes and the office
    assert lines == int((day1["stop"] != "depart").sum())  # one line per leg
    assert page.errors == []


def test_selection_rules_on_the_demo_run(demo_run) -> None:
    from geo_planner.visits import select_members

    members = _read(demo_run[2] / "members.csv")
    age = pd.to_numeric(members["age"], errors="coerce")

    def pick(**kw) -> set[str]:
        return set(members.loc[select_members(members, VisitSettings(**kw)).to_numpy(bool), "id"])

    assert pick(select=["lixiu"]) == set(members.loc[members["status"] == "lixiu", "id"])
    assert pick(select=["age"], min_age=90) == set(members.loc[age >= 90, "id"])
    assert pick(select=["far"]) == set(members.loc[members["dispersed"].fillna(False).astype(bool), "id"])
    uncovered = pick(select=["uncovered"])
    assert uncovered and not uncovered & set(members.loc[members["covered_station"].fillna(False).astype(bool), "id"])
    assert pick(select=["all"]) == set(members["id"])
    assert pick(select=["lixiu", "ids"], member_ids=["M0001"]) == pick(select=["lixiu"]) | {"M0001"}
    alone = members.assign(独居=np.where(members.index % 7 == 0, "是", "否"))
    chosen = select_members(alone, VisitSettings(select=["alone"]))
    assert set(alone.loc[chosen.to_numpy(bool), "id"]) == set(alone.loc[alone.index % 7 == 0, "id"])
