"""``POST /runs/{run_id}/visits`` on a real server (the shared hardened server and its demo run)."""

from __future__ import annotations

from typing import Any

import pytest

from ..support.servers import ApiServer

BODY = {
    "offices": [{"name": "贵溪市委老干部局", "site": "S01", "visitors": 2, "days": 1}],
    "select": ["lixiu"], "duration_min": 20, "time_limit_s": 1,
    "member_windows": {"M0002": "14:00-15:00"},
}


@pytest.fixture(scope="module")
def server(hardened_server: ApiServer) -> ApiServer:
    return hardened_server


@pytest.fixture(scope="module")
def run_id(hardened_demo: dict[str, Any]) -> str:
    return hardened_demo["run_id"]


def test_planner_gets_a_plan_with_every_selected_member_once(server: ApiServer, run_id: str) -> None:
    with server.client("planner") as planner:
        r = planner.post(f"/runs/{run_id}/visits", json=BODY, params={"lines": "true"})
        assert r.status_code == 200, r.text
        plan = r.json()
    visited = [s["member_id"] for s in plan["visits"] if s["stop"] == "visit"]
    unvisited = [u["member_id"] for u in plan["unvisited"]]
    assert len(visited) == len(set(visited)) == plan["summary"]["visits_planned"] > 10
    assert not set(visited) & set(unvisited)
    assert len(visited) + len(unvisited) == plan["summary"]["selected"]
    assert all(u["reason"] for u in plan["unvisited"])
    assert plan["summary"]["solver"]["solver"] == "PyVRP"
    for s in plan["visits"]:
        assert (s["member_id"] is None) == (s["stop"] != "visit")
    legs = [s for s in plan["visits"] if s["stop"] != "depart"]
    assert len(plan["lines"]) == len(legs)  # a line along the roads for every leg, for the workspace's map
    assert all(len(line["coordinates"]) >= 2 for line in plan["lines"])
    assert [(x["visitor"], x["day"], x["order"]) for x in plan["lines"]] == [
        (s["visitor"], s["day"], s["order"]) for s in legs]
    m2 = [s for s in plan["visits"] if s["member_id"] == "M0002"]
    assert not m2 or "14:00" <= m2[0]["arrive"] <= "15:00" or m2[0]["wait_min"] > 0


def test_viewers_get_no_visit_plan(server: ApiServer, run_id: str) -> None:
    with server.client("viewer") as viewer:
        r = viewer.post(f"/runs/{run_id}/visits", json=BODY)
    assert r.status_code == 403
    assert "M0" not in r.text and "visits" not in r.json()


def test_bad_requests_name_the_field(server: ApiServer, run_id: str) -> None:
    with server.client("planner") as planner:
        r = planner.post(f"/runs/{run_id}/visits")  # the demo scenario names no office
        assert r.status_code == 422 and "offices" in r.text
        r = planner.post(f"/runs/{run_id}/visits", json={**BODY, "offices": [{"name": "局", "site": "S99"}]})
        assert r.status_code == 422 and "S99" in r.text
        r = planner.post(f"/runs/{run_id}/visits", json={**BODY, "window": "25:00-26:00"})
        assert r.status_code == 422 and "window" in r.text
        assert planner.post("/runs/nope/visits", json=BODY).status_code == 404
