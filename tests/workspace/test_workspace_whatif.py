"""The planner's what-if, comparison and home-visits pages in a real browser (Playwright, system Chromium).

Uses the session's hardened server and its demo run (``conftest.hardened_server`` / ``hardened_demo``): no
extra server and no extra pipeline run. What the page shows is checked against what the API answers for
the same request.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..support.browser import SHOTS, Browser
from ..support.rosters import ON_ROAD

pytestmark = [
    pytest.mark.browser,
]


#: The users these tests sign in as (password sign-in: the pages get a session cookie, never a token).
ROLE_USERS = {"planner": "whatif_planner", "admin": "whatif_admin", "viewer": "whatif_viewer"}
PASSWORD = "what-if-Passw0rd-2026"


@pytest.fixture(scope="module")
def served(hardened_server, hardened_demo) -> tuple[Any, str]:  # noqa: ANN001
    return hardened_server, hardened_demo["run_id"]


@pytest.fixture(scope="module")
def states(chromium_browser, served) -> dict[str, Any]:  # noqa: ANN001
    """The cookies of one password sign-in per role on the shared server."""
    srv, _ = served
    store = srv.store()
    try:
        for role, user in ROLE_USERS.items():
            store.add_user(user, f"假设分析{role}", role, PASSWORD)
    finally:
        store.close()
    out = {}
    for role, user in ROLE_USERS.items():
        ctx = chromium_browser.new_context()
        try:
            r = ctx.request.post(srv.base_url + "/auth/login", data={"username": user, "password": PASSWORD})
            assert r.status == 200, r.text()
            out[role] = ctx.storage_state()
        finally:
            ctx.close()
    return out


def _click_lonlat(b: Browser, lon: float, lat: float, zoom: float = 16) -> None:
    """Centre the map on a point and click it with the mouse."""
    b.js("document.getElementById('map').scrollIntoView()")
    b.js(f"gpMap.jumpTo({{center: [{lon}, {lat}], zoom: {zoom}}})")
    b.page.page.wait_for_timeout(500)
    xy = b.js(f"(() => {{ const p = gpMap.project([{lon}, {lat}]); "
              "const r = gpMap.getCanvas().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; })()")
    b.page.page.mouse.click(xy[0], xy[1])


def test_add_a_station_on_the_map_updates_figures_as_the_api_answers(  # noqa: ANN001
    chromium_browser, served, states
) -> None:
    srv, run_id = served
    b = Browser(chromium_browser, srv, states["planner"])
    try:
        b.goto(f"/workspace/runs/{run_id}")
        assert b.wait("window.gpWhatIf && window.gpWhatIf.ready", 90)
        base_covered = b.js("gpState.pointLayer.style.reduce((n, s) => n + (s & 1), 0)")
        b.page.page.click("#wi-toggle")
        _click_lonlat(b, *ON_ROAD)
        assert b.wait("gpWhatIf.requests === 1 && !!gpWhatIf.last", 60), b.js("gpWhatIf.error")
        sent = b.js("gpWhatIf.lastRequest")
        assert len(sent["add_stations"]) == 1 and not sent["close_stations"]
        lon, lat = sent["add_stations"][0]["lon"], sent["add_stations"][0]["lat"]
        assert abs(lon - ON_ROAD[0]) < 1e-4 and abs(lat - ON_ROAD[1]) < 1e-4  # where the mouse clicked
        with srv.client("planner") as planner:
            want = planner.post(f"/runs/{run_id}/whatif", json=sent).json()
        shown = b.js("document.querySelector('#wi-figures [data-key=\"coverage_share\"] b.after').textContent")
        assert shown == f"{100 * want['coverage_share']:.1f}%"
        assert want["newly_covered"] > 0 and want["coverage_share"] > want["before"]["coverage_share"]
        before = b.js("document.querySelector('#wi-figures [data-key=\"coverage_share\"] .before').textContent")
        assert f"{100 * want['before']['coverage_share']:.1f}%" in before
        assert b.js("document.querySelector('#wi-figures [data-key=\"newly_covered\"] b').textContent") == str(
            want["newly_covered"])
        # the members' colours follow: as many more covered points as the answer's net change
        assert b.js("gpWhatIf.covered") - base_covered == want["newly_covered"] - want["newly_uncovered"]
        # the area table lists the areas whose share changed, with the API's numbers
        rows = b.js("Array.from(document.querySelectorAll('#wi-areas tbody tr')).map(tr => "
                    "Array.from(tr.cells).map(td => td.textContent))")
        changed = [r for r in want["by_area"] if r["change"] != 0]
        assert len(rows) == len(changed) >= 1
        assert rows[0][1] == changed[0]["area"] and rows[0][4] == f"{100 * changed[0]['coverage_share']:.1f}%"
        assert b.js("document.querySelectorAll('.maplibregl-marker').length") == 0  # stations drawn by a layer
        b.page.page.wait_for_timeout(300)
        SHOTS.mkdir(parents=True, exist_ok=True)
        b.page.page.locator("#whatif-card").scroll_into_view_if_needed()
        b.page.page.screenshot(path=str(SHOTS / "whatif.png"), type="png", full_page=False)

        # undo: back to the run's own figures
        b.page.page.click("#wi-undo")
        assert b.wait("gpWhatIf.requests === 2 && gpWhatIf.last.newly_covered === 0", 60)
        assert b.js("gpWhatIf.add.length") == 0 and b.js("gpWhatIf.covered") == base_covered
        assert b.js("document.querySelector('#wi-figures [data-key=\"coverage_share\"] b.after').textContent") == \
            f"{100 * want['before']['coverage_share']:.1f}%"

        # drag a station of the run elsewhere: a move, answered as the API answers it
        st = b.js("gpState.facilities.features.find(f => f.properties.layer === 'station' && f.properties.id === 'S02')")
        lon, lat = st["geometry"]["coordinates"]
        b.js("document.getElementById('map').scrollIntoView()")
        b.js(f"gpMap.jumpTo({{center: [{lon}, {lat}], zoom: 16}})")
        b.page.page.wait_for_timeout(500)
        xy = b.js(f"(() => {{ const p = gpMap.project([{lon}, {lat}]); "
                  "const r = gpMap.getCanvas().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; })()")
        mouse = b.page.page.mouse
        mouse.move(xy[0], xy[1])
        mouse.down()
        mouse.move(xy[0] + 60, xy[1] + 40, steps=8)
        mouse.up()
        assert b.wait("gpWhatIf.requests === 3", 60), b.js("gpWhatIf.error")
        sent = b.js("gpWhatIf.lastRequest")
        assert [m["id"] for m in sent["move_stations"]] == ["S02"] and not sent["add_stations"]
        assert b.js("gpMap.getCenter().toArray()") == pytest.approx([lon, lat], abs=1e-6)  # the map did not pan
        with srv.client("planner") as planner:
            moved = planner.post(f"/runs/{run_id}/whatif", json=sent).json()
        assert moved["closed"] == ["S02"] and moved["added"][0]["id"] == "S02"
        assert b.js("document.querySelector('#wi-figures [data-key=\"coverage_share\"] b.after').textContent") == \
            f"{100 * moved['coverage_share']:.1f}%"

        # a shorter walking threshold on top of the move
        b.page.page.fill("#wi-threshold", "10")
        b.page.page.dispatch_event("#wi-threshold", "change")
        assert b.wait("gpWhatIf.requests === 4", 60), b.js("gpWhatIf.error")
        sent = b.js("gpWhatIf.lastRequest")
        assert sent["station_walk_min"] == 10 and [m["id"] for m in sent["move_stations"]] == ["S02"]
        with srv.client("planner") as planner:
            short = planner.post(f"/runs/{run_id}/whatif", json=sent).json()
        assert short["station_walk_min"] == 10 and short["covered_station"] < moved["covered_station"]
        assert b.js("document.querySelector('#wi-figures [data-key=\"covered_station\"] b.after').textContent"
                    ).replace(",", "") == str(short["covered_station"])
        b.check_clean()
    finally:
        b.close()


@pytest.fixture(scope="module")
def saved(chromium_browser, served, states) -> dict[str, Any]:  # noqa: ANN001
    """An administrator switches one station off and adds one, then saves the edits as a scenario."""
    from ..support.servers import wait_run

    srv, run_id = served
    b = Browser(chromium_browser, srv, states["admin"])
    try:
        b.goto(f"/workspace/runs/{run_id}")
        assert b.wait("window.gpWhatIf && window.gpWhatIf.ready", 90)
        station = b.js("gpState.facilities.features.find(f => f.properties.layer === 'station')")
        b.page.page.click("#wi-toggle")
        _click_lonlat(b, *station["geometry"]["coordinates"], zoom=17)  # a click on a station switches it off
        assert b.wait("gpWhatIf.requests === 1", 60), b.js("gpWhatIf.error")
        _click_lonlat(b, *ON_ROAD)
        assert b.wait("gpWhatIf.requests === 2", 60), b.js("gpWhatIf.error")
        edits = b.js("({close: gpWhatIf.close, add: gpWhatIf.add, last: gpWhatIf.last})")
        b.page.page.click("#wi-save")
        saved = b.wait("gpWhatIf.saved || gpWhatIf.saveError", 60)
        assert isinstance(saved, dict), saved
        b.check_clean()
    finally:
        b.close()
    with srv.client("planner") as planner:
        later, _ = wait_run(planner, saved["run"])
    return {"edits": edits, "saved": saved, "later": later, "station": station["properties"]["id"]}


def test_save_as_scenario_runs_the_edited_stations(served, saved) -> None:  # noqa: ANN001
    srv, run_id = served
    assert saved["edits"]["close"] == [saved["station"]] and len(saved["edits"]["add"]) == 1
    later = saved["later"]
    assert later["status"] == "done", srv.log()[-3000:]
    with srv.client("planner") as planner:
        first = planner.get(f"/runs/{run_id}/request").json()
        second = planner.get(f"/runs/{later['id']}/request").json()
    assert second["inputs"]["stations"]["dataset"] == saved["saved"]["dataset"]
    assert {k: v for k, v in second.items() if k not in ("name", "inputs")} == \
        {k: v for k, v in first.items() if k not in ("name", "inputs")}  # the run's scenario, stations edited
    stations = srv.store().run_table(later["id"], "stations")
    ids = set(stations["id"].astype(str))
    assert saved["station"] not in ids and "W1" in ids
    # the full re-run of the edited stations gives what the what-if said
    summary = later["summary"]
    assert summary["covered_station"] == saved["edits"]["last"]["covered_station"]


def test_compare_two_runs_from_the_runs_list(chromium_browser, served, saved, states) -> None:  # noqa: ANN001
    srv, run_id = served
    later = saved["later"]["id"]
    b = Browser(chromium_browser, srv, states["planner"])
    try:
        b.goto("/")
        assert b.wait(f"document.querySelector('#run-{later} input.cmp-pick')", 30)
        b.page.page.check(f"#run-{later} input.cmp-pick")
        b.page.page.check(f"#run-{run_id} input.cmp-pick")
        b.page.page.click("#cmp-go")
        assert b.wait("window.gpCompareReady || window.gpFailed", 60) is True, b.js("window.gpFailed")
        with srv.client("planner") as planner:
            want = planner.get(f"/runs/{later}/compare", params={"with": run_id}).json()
            xlsx = planner.get(f"/runs/{later}/compare", params={"with": run_id, "format": "xlsx"})
        text = lambda sel: b.js(f"document.querySelector('{sel}').textContent")  # noqa: E731
        assert text("#cmp-before [data-key=\"before\"] b") == f"{100 * want['coverage']['before']:.1f}%"
        assert text("#cmp-after [data-key=\"after\"] b") == f"{100 * want['coverage']['after']:.1f}%"
        assert want["coverage"]["before"] != want["coverage"]["after"]
        for key in ("new", "gone", "moved", "branch_changed", "unchanged"):
            assert text(f"#cmp-counts [data-key=\"{key}\"] b").replace(",", "") == str(want["members"][key]), key
        assert b.js("document.querySelectorAll('#cmp-areas tbody tr').length") == min(len(want["coverage"]["by_area"]), 2000)
        assert b.js("document.querySelectorAll('#cmp-work tbody tr').length") == len(want["lists"]["work_list"])
        # the XLSX download is the route's workbook
        with b.page.page.expect_download() as dl:
            b.page.page.click("#cmp-xlsx")
        from pathlib import Path

        assert Path(dl.value.path()).read_bytes()[:2] == b"PK" and xlsx.content[:2] == b"PK"
        b.page.page.screenshot(path=str(SHOTS / "compare.png"), type="png")
        assert b.js("location.pathname") == f"/workspace/runs/{later}/compare/{run_id}"
        assert b.js("document.querySelector('h1').textContent") == "两次运行对比"
        b.page.page.click("#lang-switch")  # the English switch keeps the two runs
        assert b.wait("window.gpCompareReady || window.gpFailed", 60) is True
        assert b.js("document.querySelector('h1').textContent") == "Compare two runs"
        assert text("#cmp-after [data-key=\"after\"] b") == f"{100 * want['coverage']['after']:.1f}%"
        b.check_clean()
    finally:
        b.close()
    with srv.client("viewer") as viewer:  # a viewer's page has no work list (the API gives a viewer none)
        page = viewer.get(f"/workspace/runs/{later}/compare/{run_id}")
        assert page.status_code == 200 and 'id="cmp-work"' not in page.text and 'id="cmp-areas"' in page.text


def test_difference_map_is_one_webgl_layer_for_planners_and_grid_areas_for_viewers(  # noqa: ANN001
    chromium_browser, served, saved, states
) -> None:
    srv, run_id = served
    later = saved["later"]["id"]
    path = f"/workspace/runs/{later}/compare/{run_id}"
    with srv.client("planner") as planner:
        members = planner.get(f"/runs/{later}/compare/members", params={"with": run_id}).json()
        areas = planner.get(f"/runs/{later}/compare/areas", params={"with": run_id}).json()
    with srv.client("viewer") as viewer:
        assert viewer.get(f"/runs/{later}/compare/members", params={"with": run_id}).status_code == 403
        assert viewer.get(f"/runs/{later}/compare/worklist", params={"with": run_id}).status_code == 403
        viewer_areas = viewer.get(f"/runs/{later}/compare/areas", params={"with": run_id}).json()
    # the station switched off and the one added: members newly uncovered and newly covered
    assert members["counts"]["newly_uncovered"] + members["counts"]["newly_covered"] > 0
    assert members["counts"]["new_covered"] == members["counts"]["gone"] == 0  # the same roster
    b = Browser(chromium_browser, srv, states["planner"])
    try:
        b.goto(path)
        assert b.wait("window.gpDiffMapReady || window.gpFailed", 90) is True, b.js("window.gpFailed")
        drawn = b.js("({n: gpDiffMap.layer.count, renders: gpDiffMap.layer.renders, gl: gpDiffMap.layer.glError,"
                     " markers: document.querySelectorAll('.maplibregl-marker').length,"
                     " cells: gpMap.getLayer('dm-areas') ? gpDiffMap.areas.features.length : -1})")
        assert drawn == {"n": members["n"], "renders": drawn["renders"], "gl": 0, "markers": 0,
                         "cells": len(areas["features"])}
        assert drawn["renders"] >= 1
        for code in ("newly_covered", "newly_uncovered"):
            label = b.js(f"document.querySelector('#dm-legend [data-code=\"{code}\"]').textContent")
            assert label.replace(",", "").endswith(f": {members['counts'][code]}"), label
        assert b.js("gpMap.getLayoutProperty('dm-areas', 'visibility')") == "none"
        b.js("document.getElementById('map').scrollIntoView()")
        b.shot("compare_difference_map.png")
        b.page.page.check("#dm-areas")
        assert b.js("gpMap.getLayoutProperty('dm-areas', 'visibility')") == "visible"
        b.page.page.uncheck("#dm-members")
        assert b.js("gpMap.getLayoutProperty('dm-members', 'visibility')") == "none"
        b.check_clean()
    finally:
        b.close()
    b = Browser(chromium_browser, srv, states["viewer"])
    try:
        b.goto(path)
        assert b.wait("window.gpDiffMapReady || window.gpFailed", 90) is True, b.js("window.gpFailed")
        assert b.js("gpDiffMap.members === null && gpDiffMap.layer === null")
        assert b.js("gpMap.getLayer('dm-areas') ? gpDiffMap.areas.features.length : -1") == len(viewer_areas["features"])
        assert len(viewer_areas["features"]) > 0
        assert not [u for _m, u, _h in b.sent if "/compare/members" in u]  # a viewer never asks for members
        props = [f["properties"] for f in viewer_areas["features"]]
        assert all("members_after" not in p for p in props)
        assert all(p[k] is None or round(p[k], 2) == p[k] for p in props for k in ("before", "after", "change"))
        b.check_clean()
    finally:
        b.close()


def _wait_across_navigation(b: Browser, expression: str, timeout_s: float) -> Any:
    """Poll ``expression`` until truthy, on whatever page is loaded (a navigation in between is no error)."""
    import time

    deadline, value = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            value = b.js(expression)
        except Exception as exc:  # noqa: BLE001 - the page navigated while it was asked: ask the next one
            if "destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            value = None
        if value:
            return value
        b.page.page.wait_for_timeout(200)
    return value


def test_update_the_roster_runs_it_and_lists_the_changes(chromium_browser, served, states, tmp_path) -> None:  # noqa: ANN001
    """An administrator uploads next year's roster on the run page; the run follows, the comparison opens with
    the planted changes, the difference map and the work list, which downloads as XLSX with Chinese headers."""
    import io

    from openpyxl import load_workbook

    from ..support.rosters import PLANTED, plant_roster_changes

    srv, run_id = served
    accepted = set(srv.store().run_table(run_id, "members")["id"].astype(str))
    roster, planted = plant_roster_changes(accepted, tmp_path)
    b = Browser(chromium_browser, srv, states["admin"])
    try:
        b.goto(f"/workspace/runs/{run_id}")
        assert b.wait("window.gpComplete || window.gpFailed", 90)
        b.page.page.set_input_files("#ru-file", str(roster))
        b.page.page.click("#ru-go")
        # the page uploads, starts the run, follows it and then opens the comparison (a navigation)
        went = _wait_across_navigation(b, "location.pathname.includes('/compare/') || (window.gpRoster && gpRoster.error)", 600)
        assert went is True, (went, b.js("location.pathname"))
        assert b.wait("(window.gpCompareReady && window.gpDiffMapReady) || window.gpFailed", 90) is True, b.js("window.gpFailed")
        later = b.js("location.pathname").split("/")[3]
        assert b.js("location.pathname") == f"/workspace/runs/{later}/compare/{run_id}"
        with srv.client("planner") as planner:
            want = planner.get(f"/runs/{later}/compare", params={"with": run_id}).json()
            diff = planner.get(f"/runs/{later}/compare/members", params={"with": run_id}).json()
        m = want["members"]
        assert (m["new"], m["gone"], m["branch_changed"]) == (PLANTED["new"], PLANTED["gone"], PLANTED["branch"])
        assert m["moved"] >= PLANTED["moved"] and set(planted["moved"]) <= {r["id"] for r in want["lists"]["moved"]}
        text = lambda sel: b.js(f"document.querySelector('{sel}').textContent").replace(",", "")  # noqa: E731
        for key in ("new", "gone", "moved", "branch_changed"):
            assert text(f"#cmp-counts [data-key=\"{key}\"] b") == str(m[key]), key
            assert b.js(f"document.querySelectorAll('#cmp-list-{key} tbody tr').length") == len(want["lists"][key]), key
        assert sorted(b.js("Array.from(document.querySelectorAll('#cmp-list-new tbody tr td:first-child'))"
                           ".map(td => td.textContent)")) == sorted(planted["new"])
        assert diff["counts"]["new_covered"] + diff["counts"]["new_uncovered"] == PLANTED["new"]
        assert b.js("gpDiffMap.layer.count") == diff["n"]
        with b.page.page.expect_download() as dl:
            b.page.page.click("#cmp-worklist-xlsx")
        wb = load_workbook(io.BytesIO(open(dl.value.path(), "rb").read()), read_only=True)
        assert wb.sheetnames == ["对比摘要", "工作清单", "新增成员", "减少成员", "搬家成员", "转换支部"]
        new_rows = list(wb["新增成员"].iter_rows(values_only=True))
        assert new_rows[0][:2] == ("编号", "姓名") and sorted(r[0] for r in new_rows[1:]) == sorted(planted["new"])
        work = list(wb["工作清单"].iter_rows(values_only=True))
        assert len(work) - 1 == len(want["lists"]["work_list"]) and "原因" in work[0]
        b.shot("roster_update_compare.png")
        b.check_clean()
    finally:
        b.close()


def test_home_visits_page_plans_and_draws_a_day_along_the_roads(  # noqa: ANN001
    chromium_browser, served, states
) -> None:
    srv, run_id = served
    b = Browser(chromium_browser, srv, states["planner"])
    try:
        b.goto(f"/workspace/runs/{run_id}")
        href = b.wait("(() => { const a = document.getElementById('visits-link'); return a && a.getAttribute('href'); })()", 60)
        assert href == f"/workspace/runs/{run_id}/visits"
        # the run page done loading first: leaving it earlier aborts its pending requests (a busy machine)
        assert isinstance(b.wait("window.gpReady || window.gpFailed", 60), dict)
        # (the recommendations, tables and base map follow the first render: wait for them all)
        assert b.wait("window.gpState.tables && window.gpState.baseMap !== undefined", 60)
        b.wait("gpMap.loaded() && gpMap.areTilesLoaded()", 30)
        b.goto(href)  # (a click would abort the run page's pending road layer request)
        assert b.wait("window.gpVisits && window.gpVisits.ready || window.gpFailed", 60) is True
        office = b.js("document.getElementById('vis-offices').value")
        assert office.endswith(",S01")  # a station of the run as the default office
        b.page.page.fill("input[name='duration_min']", "20")
        b.page.page.click("#vis-plan")
        day = b.wait("window.gpVisits.day || window.gpVisits.error", 120)
        assert isinstance(day, dict), day
        plan = b.js("gpVisits.plan")
        sent = b.js("gpVisits.request")
        assert sent["offices"] == [{"name": office.split(",")[0], "visitors": 2, "days": 1, "site": "S01"}]
        visits = [s for s in plan["visits"] if s["stop"] == "visit"]
        assert len(visits) == plan["summary"]["visits_planned"] > 0
        shown = b.js("document.querySelector('#vis-summary [data-key=\"visits_planned\"] b').textContent")
        assert shown == str(plan["summary"]["visits_planned"])
        # the first visitor-day is drawn: its legs as lines along the roads (many points, not straight lines)
        first = b.js("[document.querySelector('#vis-days tbody tr').dataset.visitor, "
                     "Number(document.querySelector('#vis-days tbody tr').dataset.day)]")
        legs = [x for x in plan["lines"] if [x["visitor"], x["day"]] == first and len(x["coordinates"]) >= 2]
        assert day["legs"] == len(legs) >= 2 and day["points"] > 2 * len(legs)
        n_stops = sum(1 for s in visits if [s["visitor"], s["day"]] == first)
        assert b.js("document.querySelectorAll('#vis-stops tbody tr').length") == sum(
            1 for s in plan["visits"] if [s["visitor"], s["day"]] == first)
        assert day["stops"] == n_stops + 1  # the homes and the office
        b.page.page.wait_for_timeout(500)
        b.wait("gpMap.loaded()", 30)
        assert b.js("gpMap.queryRenderedFeatures({layers: ['route']}).length") > 0  # drawn on the canvas
        b.page.page.locator("#map").scroll_into_view_if_needed()
        b.page.page.screenshot(path=str(SHOTS / "visits.png"), type="png")
        b.check_clean()
    finally:
        b.close()
    with srv.client("viewer") as viewer:
        assert viewer.get(f"/workspace/runs/{run_id}/visits").status_code == 403
