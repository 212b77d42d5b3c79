"""``POST /runs/{run_id}/whatif`` on a live server: the library's answer, 422 naming fields, planners only.

Uses the session's hardened server and its demo run (``conftest.hardened_server``), so no
extra pipeline run; the exactness against full re-runs is in ``test_whatif.py``.
"""

from __future__ import annotations

import pytest

from ..support.rosters import ON_ROAD


@pytest.fixture(scope="module")
def served(hardened_server, hardened_demo):  # noqa: ANN001, ANN201
    return hardened_server, hardened_demo["run_id"]


def test_whatif_answers_as_the_library(served) -> None:  # noqa: ANN001
    from geo_planner.results import load_run
    from geo_planner.whatif import NewStation, prepare_whatif, what_if

    srv, run_id = served
    body = {
        "add_stations": [{"lon": ON_ROAD[0], "lat": ON_ROAD[1], "name": "建设路老年大学"}],
        "move_stations": [{"id": "S02", "lon": 117.2205, "lat": 28.2950}],
        "station_walk_min": 12,
    }
    with srv.client("planner") as planner:
        r = planner.post(f"/runs/{run_id}/whatif", json=body)
        assert r.status_code == 200, r.text
        got = r.json()
        same = planner.post(f"/runs/{run_id}/whatif", json={})
    assert same.status_code == 200
    plain = same.json()
    assert {k: plain[k] for k in plain["before"]} == plain["before"]
    assert plain["newly_covered"] == plain["newly_uncovered"] == 0 and plain["dijkstra"]["searches"] == 0

    store = srv.store()
    base = prepare_whatif(store, run_id, load_run(store, run_id))
    want = what_if(
        base,
        add=[NewStation(ON_ROAD[0], ON_ROAD[1], "建设路老年大学")],
        move=[NewStation(117.2205, 28.2950, "", "S02")],
        station_walk_min=12,
    ).figures
    for key in (
        "members_considered",
        "covered_station",
        "coverage_share",
        "weighted_coverage_share",
        "equity",
        "newly_covered",
        "newly_uncovered",
        "newly_covered_ids",
        "newly_uncovered_ids",
        "by_area",
        "before",
        "added",
        "closed",
        "station_walk_min",
    ):
        assert got[key] == want[key], key
    assert [f["properties"]["id"] for f in got["service_areas"]["features"]] == ["W1", "S02"]
    assert got["closed"] == ["S02"] and got["added"][1]["name"] != "S02"  # a moved station keeps its name
    assert got["newly_uncovered"] > 0 and got["coverage_share"] < got["before"]["coverage_share"] + 0.2
    assert 0 < got["elapsed_ms"] < 60_000


def test_bad_input_is_422_naming_the_field(served) -> None:  # noqa: ANN001
    srv, run_id = served
    with srv.client("planner") as planner:
        r = planner.post(
            f"/runs/{run_id}/whatif",
            json={
                "add_stations": [{"lon": 0.0, "lat": 0.0}, {"lon": 117.9, "lat": 30.0}],
                "close_stations": ["S999"],
                "move_stations": [{"id": "NOPE", "lon": ON_ROAD[0], "lat": ON_ROAD[1]}],
            },
        )
        assert r.status_code == 422, r.text
        fields = {p["field"] for p in r.json()["problems"]}
        assert fields == {
            "add_stations[0].lon,lat",
            "add_stations[1].lon,lat",
            "close_stations[0]",
            "move_stations[0].id",
        }
        # not a number: refused by the schema, naming the field
        r = planner.post(
            f"/runs/{run_id}/whatif",
            content=b'{"station_walk_min": NaN}',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422 and "station_walk_min" in r.json()["problems"][0]["field"]
        r = planner.post(f"/runs/{run_id}/whatif", json={"add_stations": [{"lon": "x", "lat": 28.3}]})
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "body.add_stations.0.lon"
        assert planner.post("/runs/no-such-run/whatif", json={}).status_code == 404


def test_viewers_may_not_ask(served) -> None:  # noqa: ANN001
    srv, run_id = served
    with srv.client("viewer") as viewer:
        r = viewer.post(f"/runs/{run_id}/whatif", json={})
    assert r.status_code == 403
    assert "M0" not in r.text


def test_optimise_with_locks_and_bans(served) -> None:  # noqa: ANN001
    """Re-solving on the run's instance: proven optimal, locks kept, bans left out, 422 naming fields."""
    srv, run_id = served
    with srv.client("planner") as planner, srv.client("viewer") as viewer:
        r = planner.post(f"/runs/{run_id}/whatif/optimise", json={"model": "mclp", "p": 2})
        assert r.status_code == 200, r.text
        best = r.json()
        assert best["optimal"] and len(best["sites"]) == 2 and best["coverage"]["newly_uncovered"] == 0
        first = best["sites"][0]["id"]
        r = planner.post(
            f"/runs/{run_id}/whatif/optimise", json={"model": "p_median", "p": 2, "ban": [first], "close": []}
        )
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "body.close"
        r = planner.post(
            f"/runs/{run_id}/whatif/optimise", json={"model": "p_median", "p": 2, "ban": [first]}
        )
        assert r.status_code == 200, r.text
        assert first not in [s["id"] for s in r.json()["sites"]] and r.json()["status"]
        r = planner.post(f"/runs/{run_id}/whatif/optimise", json={"p": 0, "lock": ["C9999", first]})
        assert r.status_code == 422
        assert {p["field"] for p in r.json()["problems"]} == {"lock[0]", "p"}
        assert viewer.post(f"/runs/{run_id}/whatif/optimise", json={}).status_code == 403


def test_compare_two_rosters_planner_lists_viewer_aggregates(served, hardened_demo, tmp_path) -> None:  # noqa: ANN001
    """A second roster (planted changes) run on the server and compared with the demo run."""
    from ..support.rosters import PLANTED, plant_roster_changes
    from ..support.servers import scenario_request, upload, wait_run

    srv, run_id = served
    reports = dict(hardened_demo["reports"])
    members = srv.store().run_table(run_id, "members")
    roster, planted = plant_roster_changes(set(members["id"].astype(str)), tmp_path)
    with srv.client("admin") as admin, srv.client("planner") as planner, srv.client("viewer") as viewer:
        r = upload(admin, "members", roster, branches_dataset=reports["branches"]["id"])
        assert r.status_code == 201, r.text
        reports["members"] = r.json()
        req = scenario_request(reports)
        req["siting"] = {
            "new_stations": 1,
            "time_limit_s": 8,
            "decision_time_limit_s": 8,
            "tradeoff_max_p": 1,
            "sensitivity_draws": 0,
        }
        req["report"] = {"pdf": False}
        r = planner.post("/runs", json=req)
        assert r.status_code == 202, r.text
        later, _ = wait_run(planner, r.json()["id"])
        assert later["status"] == "done", srv.log()[-3000:]
        r = planner.get(f"/runs/{later['id']}/compare", params={"with": run_id})
        assert r.status_code == 200, r.text
        mine = r.json()
        assert mine["with"] == run_id and mine["members"]["new"] == PLANTED["new"]
        assert mine["members"]["gone"] == PLANTED["gone"] and mine["members"]["moved"] == PLANTED["moved"]
        assert sorted(m["id"] for m in mine["lists"]["new"]) == sorted(planted["new"])
        r = viewer.get(f"/runs/{later['id']}/compare", params={"with": run_id})
        assert r.status_code == 200 and r.json()["lists"] is None
        assert not any(i in r.text for i in members["id"].astype(str)), "a viewer saw a member id"
        assert r.json()["coverage"]["by_area"]
        x = planner.get(f"/runs/{later['id']}/compare", params={"with": run_id, "format": "xlsx"})
        assert x.status_code == 200 and x.content[:2] == b"PK"
        assert planner.get(f"/runs/{run_id}/compare", params={"with": run_id}).status_code == 422
        assert planner.get(f"/runs/{run_id}/compare", params={"with": "nope"}).status_code == 404
        # the planner's member lists are audited (JSON and XLSX), the viewer's aggregates are not
        log = admin.get("/admin/audit", params={"since": "2000-01-01"}).json()["records"]
    from api.config import service_name

    lists = [r for r in log if r["what"] == "compare_lists" and r["run_id"] == later["id"]]
    assert {r["actor"] for r in lists} == {service_name(srv.tokens["planner"])} and len(lists) == 2
    n_listed = len({m["id"] for part in mine["lists"].values() for m in part if m.get("id")})
    assert all(r["n_people"] == n_listed > 0 for r in lists)
    assert {r["detail"] for r in lists} == {f"with {run_id} (json)", f"with {run_id} (xlsx)"}
    assert not set(planted["new"]) & {str(r["detail"]) for r in lists}
