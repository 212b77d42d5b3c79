"""The HTTP service's functions: upload → run → query → export, on SQLite and on PostgreSQL/PostGIS.

The functional tests run the real app in this process (:class:`tests.support.inprocess.InProcessServer`:
``create_app`` inside Starlette's TestClient, its lifespan entered once per store, one data folder and
freshly generated tokens, one per role); requests go through httpx clients over the app's ASGI
transport, and runs started through the API still execute in the run queue's worker process. What is
under test here is what the service answers, not the socket in front of it, so no uvicorn is started for
them. The restart test stops the app and starts a fresh one on the same data folder.

One test needs a real process: the README's command (``python -m api.main --demo``, uvicorn on
loopback) prints a one-time link and no token. Everything that needs a real socket — raw HTTP,
uvicorn's access log (tokens masked there), a server killed mid-run — is in ``test_hardening.py``
on the session's real uvicorn server. The road-network cache is shared with the other tests of the
session.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openpyxl
import pandas as pd
import pytest

from ..support.inprocess import InProcessServer
from ..support.paths import DEMO, ROOT
from ..support.servers import (
    START_TIMEOUT_S,
    copy_data,
    free_port,
    new_tokens,
    readable,
    scenario_request,
    start_demo_run,
    upload,
    upload_demo,
    wait_run,
)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, store_backend: str | None,
           request: pytest.FixtureRequest) -> Iterator[InProcessServer]:
    """The module's app (in process), once on each store: on SQLite a copy of the session's served demo
    (uploaded and run through the API once, ``conftest.served_demo``); on PostgreSQL/PostGIS an empty store."""
    root = tmp_path_factory.mktemp("api")
    data = root / "data"
    if store_backend is None:
        copy_data(request.getfixturevalue("served_demo")[0], data)
    srv = InProcessServer(data, new_tokens(), cache_dir, database_url=store_backend).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def demo(server: InProcessServer, store_backend: str | None, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The demo's upload reports and finished run on the module's server (run here on PostgreSQL)."""
    if store_backend is None:
        return request.getfixturevalue("served_demo")[1]
    reports, run, seen = start_demo_run(server)
    return {"reports": reports, "run": run, "progress": seen, "run_id": run["id"]}


@pytest.fixture(scope="module")
def raw_members() -> pd.DataFrame:
    """Read the demo members table as the planner typed it (GB18030)."""
    return pd.read_csv(DEMO / "members.csv", encoding="gb18030", dtype=str)


# --------------------------------------------------------------------------- upload → import report


def test_upload_import_reports(demo, planted):
    reports = demo["reports"]
    m = reports["members"]
    assert m["kind"] == "members" and m["filename"] == "members.csv"
    assert m["encoding"] == "gb18030"  # the demo's members table is GB18030
    assert m["accepted"] == 711 and m["rejected"] == 1 and m["n_read"] == 712
    assert m["branches_dataset"] == reports["branches"]["id"]
    rejected = {r["row"]: r for r in m["rejections"] if r["action"] == "rejected"}
    warned: dict[int, dict] = {}
    for r in m["rejections"]:  # a row may have several warnings: their reasons joined
        if r["action"] == "warning":
            seen = warned.setdefault(r["row"], dict(r))
            if seen is not r and seen["reason"] != r["reason"]:
                seen["reason"] += "; " + r["reason"]
    bad = planted["bad_rows"]
    for key in ("duplicate_id", "unknown_branch", "bad_lon", "no_location"):
        row = (rejected if key == "duplicate_id" else warned)[bad[key]["row"]]  # persons are kept, flagged
        assert row["file"] == "members.csv" and row["field"] and row["reason"]
    assert "duplicate id 'M0001'" in rejected[bad["duplicate_id"]["row"]]["reason"]
    assert "unknown branch" in warned[bad["unknown_branch"]["row"]]["reason"]
    warnings = {r["row"] for r in m["rejections"] if r["action"] == "warning"}
    assert bad["swapped"]["row"] in warnings  # fixed, kept
    assert m["column_map"]["姓名"] == "name"
    assert (reports["branches"]["accepted"], reports["branches"]["rejected"]) == (14, 0)
    assert reports["stations"]["accepted"] == 7 and reports["stations"]["format"] == "xlsx"
    assert reports["stations"]["sheet"] == "驿站"
    assert reports["hospitals"]["accepted"] == 6


def test_datasets_listed_and_stored(server, demo):
    with server.client("viewer") as viewer:
        r = viewer.get("/datasets")
        assert r.status_code == 200
        ids = {d["id"]: d for d in r.json()["datasets"]}
        for kind, rep in demo["reports"].items():
            assert ids[rep["id"]]["kind"] == kind
            assert ids[rep["id"]]["accepted"] == rep["accepted"]
        only = viewer.get("/datasets", params={"kind": "stations"}).json()["datasets"]
        assert {d["kind"] for d in only} == {"stations"}
        # the uploaded file is kept byte for byte under the data folder
        m = demo["reports"]["members"]
        stored = list((server.data_dir / "datasets" / m["id"]).iterdir())
        assert len(stored) == 1 and stored[0].read_bytes() == (DEMO / "members.csv").read_bytes()
        if server.database_url is None:
            assert (server.data_dir / "store.sqlite3").is_file()
        else:  # the records are in PostgreSQL, not in a file
            assert not (server.data_dir / "store.sqlite3").exists()
            assert server.store().get_dataset(m["id"]).sha256 == m["sha256"]
        # a viewer sees the counts of a members table, not its rows
        one = viewer.get(f"/datasets/{m['id']}").json()
        assert one["accepted"] == 711 and one["rejections"] == [] and one["rejections_redacted"] is True
    with server.client("planner") as planner:
        full = planner.get(f"/datasets/{m['id']}").json()
        assert len(full["rejections"]) == len(m["rejections"]) and full["rejections_redacted"] is False
        assert planner.get("/datasets/ds_missing").status_code == 404


def test_unusable_upload_is_422_and_nothing_stored(server, tmp_path):
    bad = tmp_path / "stations.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with server.client("admin") as admin:
        before = len(admin.get("/datasets").json()["datasets"])
        r = upload(admin, "stations", bad)
        assert r.status_code == 422
        body = r.json()
        assert body["problems"] and body["problems"][0]["file"] == "stations.csv"
        assert str(server.data_dir) not in r.text  # the server's paths are not shown
        empty = tmp_path / "branches.csv"
        empty.write_bytes(b"")
        assert upload(admin, "branches", empty).status_code == 422
        assert upload(admin, "schools", bad).status_code == 422  # unknown layer
        assert len(admin.get("/datasets").json()["datasets"]) == before


def test_geojson_upload(server, tmp_path):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [117.2434, 28.2907]},
                "properties": {"名称": "测试驿站", "类型": "老党员之家"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [117.2380, 28.2960]},
                "properties": {"名称": "测试驿站二", "类型": "桑榆红驿站"},
            },
        ],
    }
    path = tmp_path / "stations.geojson"
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    with server.client("admin") as admin:
        r = upload(admin, "stations", path)
        assert r.status_code == 201, r.text
        rep = r.json()
        assert rep["format"] == "geojson" and rep["accepted"] == 2
        # admins delete
        assert admin.delete(f"/datasets/{rep['id']}").json() == {"id": rep["id"], "deleted": True}
        assert admin.get(f"/datasets/{rep['id']}").status_code == 404
        assert admin.delete(f"/datasets/{rep['id']}").status_code == 404


# --------------------------------------------------------------------------- runs


def test_run_progress_and_summary(server, demo):
    seen = demo["progress"]
    percents = [p for _, _, p in seen]
    assert percents == sorted(percents), seen  # progress only goes forward
    assert seen[-1][0] == "done" and seen[-1][2] == 100.0
    stages = {s for _, s, _ in seen if s}
    assert stages - {"start", "done"}, seen  # at least one pipeline stage was reported
    run = demo["run"]
    assert run["summary"]["members"] == 711 and run["summary"]["rejected_rows"] == 1
    assert run["summary"]["stations"] == 7 and run["summary"]["hospitals"] == 6
    assert run["inputs"]["members"] == demo["reports"]["members"]["id"]
    assert run["osm"] == ["guixi_jiangxi.osm", "nanjing_xuanwu.osm"]
    assert run["thresholds"]["station_walk_min"] == 15
    out = server.data_dir / "runs" / run["id"]
    for name in (
        "members.csv",
        "rejections.csv",
        "run.json",
        "stations.csv",
        "branches.csv",
        "hospitals.csv",
    ):
        assert (out / name).is_file(), name
    with server.client("viewer") as viewer:
        listed = viewer.get("/runs").json()["runs"]
        assert run["id"] in {r["id"] for r in listed}
        assert viewer.get("/runs/run_missing").status_code == 404


def test_bad_scenarios_are_422(server, demo):
    reports = demo["reports"]
    with server.client("planner") as planner:
        req = scenario_request(reports)
        req["inputs"]["members"] = {"dataset": "ds_nope"}  # a well-formed request for a missing dataset: 404
        r = planner.post("/runs", json=req)
        assert r.status_code == 404 and "ds_nope" in r.json()["detail"] and "inputs.members" in r.json()["detail"]
        req = scenario_request(reports)
        req["network"]["osm"] = ["../../etc/passwd"]
        r = planner.post("/runs", json=req)
        assert r.status_code == 422
        assert "network.osm[0]" in {p["field"] for p in r.json()["problems"]}
        req = scenario_request(reports)
        req["inputs"]["stations"] = {"dataset": reports["members"]["id"]}  # wrong layer
        r = planner.post("/runs", json=req)
        assert r.status_code == 422 and "holds members" in r.text
        req = scenario_request(reports)
        req["network"]["cache_dir"] = "/tmp"  # not a per-run option
        assert planner.post("/runs", json=req).status_code == 422
        req = scenario_request(reports)
        req["thresholds"]["station_walk_min"] = -1
        assert planner.post("/runs", json=req).status_code == 422
        req = scenario_request(reports)
        req["functions"] = {"驿站": ["dancing"]}  # not one of the four functions of 四就近
        r = planner.post("/runs", json=req)
        assert r.status_code == 422 and any("functions" in (p["field"] or "") for p in r.json()["problems"])
        req = scenario_request(reports)
        req["siting"] = {"function": "leisure"}
        assert planner.post("/runs", json=req).status_code == 422


# --------------------------------------------------------------------------- questions


def test_coverage_by_area(server, demo):
    run_id = demo["run_id"]
    # a planner sees every number (a viewer's small areas are suppressed: tests/api/test_hardening.py)
    with server.client("planner") as viewer:
        r = viewer.get(f"/runs/{run_id}/coverage", params={"area": "花园社区"})
        assert r.status_code == 200, r.text
        rows = r.json()["areas"]
        assert rows and all(row["area"] == "花园社区" for row in rows)
        assert all(row["level"] == "community" and row["members"] > 0 for row in rows)
        assert all(0 <= row["share_covered_station"] <= 1 for row in rows)
        town = viewer.get(f"/runs/{run_id}/coverage", params={"area": "花园街道"}).json()["areas"]
        levels = {row["level"] for row in town}
        assert levels == {"township", "community"}
        t_row = next(row for row in town if row["level"] == "township")
        assert t_row["members"] == sum(row["members"] for row in town if row["level"] == "community")
        every = viewer.get(f"/runs/{run_id}/coverage", params={"level": "township"}).json()["areas"]
        assert sum(row["members"] for row in every) == 711  # every member counted once per level
        shares = [row["share_covered_station"] for row in every]
        assert all(row["share_four_near"] <= row["share_covered_study"] for row in every if row["share_four_near"] is not None)
        assert shares == sorted(shares)  # worst coverage first
        assert viewer.get(f"/runs/{run_id}/coverage", params={"area": "不存在社区"}).status_code == 404
        br = viewer.get(f"/runs/{run_id}/coverage/branches").json()["branches"]
        assert len(br) == 14 and sum(b["members"] for b in br) == 710  # 711 but M9001 (unknown branch)


def test_coverage_at_point(server, demo):
    run_id = demo["run_id"]
    stations = pd.read_excel(DEMO / "stations.xlsx", sheet_name="驿站", dtype={"驿站编号": str})
    s04 = stations.set_index("驿站编号").loc["S04"]
    with server.client("viewer") as viewer:
        r = viewer.get(f"/runs/{run_id}/coverage/point", params={"lon": s04["经度"], "lat": s04["纬度"]})
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["on_network"] is True and p["thresholds"]["station_walk_min"] == 15
        ids = [s["id"] for s in p["stations"]]
        assert ids[0] == "S04" and p["stations"][0]["minutes"] < 3
        for kind, limit in (("stations", 15), ("branches", 20), ("hospitals", 30)):
            minutes = [f["minutes"] for f in p[kind]]
            assert minutes == sorted(minutes) and all(0 <= t <= limit for t in minutes), kind
        assert p["hospitals"], "the 贵溪 hospitals are within a 30-minute drive of the city centre"
        assert p["nearest_station_min"] == pytest.approx(p["stations"][0]["minutes"], abs=0.01)
        # 四就近 by function: the demo has places of study (老年大学) and activity, none of service or contribution
        fns = p["functions"]
        assert set(fns) == {"study", "activity"} and fns["activity"]["places"][0]["id"] == "S04"
        assert {f["id"] for f in fns["study"]["places"]} <= {"S05"} and fns["study"]["threshold_min"] == 15
        assert fns["study"]["nearest_min"] >= fns["activity"]["nearest_min"] == p["nearest_station_min"]
        # a point between the two extracts, far from every road: off the network, nothing within reach
        far = viewer.get(f"/runs/{run_id}/coverage/point", params={"lon": 117.9, "lat": 30.2}).json()
        assert far["on_network"] is False and far["stations"] == [] and far["branches"] == []
        # a point in 深圳, outside the run's road network altogether: a clear answer (issue 9, case 4), and
        # since the request itself is well formed, 404 — the run holds nothing there (issue 19)
        out = viewer.get(f"/runs/{run_id}/coverage/point", params={"lon": 114.2155, "lat": 22.6921})
        assert out.status_code == 404 and "outside this run's road network" in out.json()["detail"]
        assert viewer.get(f"/runs/{run_id}/coverage/point", params={"lon": 200, "lat": 28}).status_code == 422


def test_dispersed_members_of_a_branch(server, demo, planted):
    run_id = demo["run_id"]
    ex = planted["township_example"]
    with server.client("planner") as planner:
        r = planner.get(f"/runs/{run_id}/branches/{ex['branch_id']}/dispersed")
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["members"] == ex["members"]
        # "70 members, only 15 live in the township": the others live across townships or elsewhere
        assert len(d["dispersed"]) >= ex["members"] - ex["in_township"]
        assert all(m["id"].startswith("M") and m["dispersion_reason"] for m in d["dispersed"])
        assert {r for m in d["dispersed"] for r in m["dispersion_reason"].split(";")} <= {
            "remote",
            "cross_township",
            "far",
        }
        assert planner.get(f"/runs/{run_id}/branches/B99/dispersed").status_code == 404
        # a walk beyond the 120-min search cut-off: no number, the status and a note say so
        beyond = [m for b in ("B04", "B09")
                  for m in planner.get(f"/runs/{run_id}/branches/{b}/dispersed").json()["dispersed"]
                  if m["branch_status"] == "beyond_limit"]
        assert beyond and all(m["walk_min_branch"] is None and "far" in m["dispersion_reason"]
                              and m["dispersion_note"] == "> 120 min walk" for m in beyond)
    with server.client("viewer") as viewer:
        assert viewer.get(f"/runs/{run_id}/branches/{ex['branch_id']}/dispersed").status_code == 403


def test_recommendations_json_and_geojson(server, demo):
    run_id = demo["run_id"]
    with server.client("planner") as planner:
        r = planner.get(f"/runs/{run_id}/recommendations")
        assert r.status_code == 200, r.text
        recs = r.json()["recommendations"]
        assert recs, "the demo run recommends new stations"
        assert [x["rec_id"] for x in recs] == [f"R{i + 1:03d}" for i in range(len(recs))]
        with_members = [x for x in recs if x["member_ids"]]
        assert with_members and all(len(x["member_ids"]) == x["n_members"] for x in with_members)
        g = planner.get(f"/runs/{run_id}/recommendations", params={"format": "geojson"})
        assert g.headers["content-type"].startswith("application/geo+json")
        fc = g.json()
        assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(recs)
        f0 = fc["features"][0]
        assert f0["geometry"]["type"] == "Point"
        assert f0["geometry"]["coordinates"] == [pytest.approx(recs[0]["lon"]), pytest.approx(recs[0]["lat"])]
        only = planner.get(f"/runs/{run_id}/recommendations", params={"kind": "new_station"}).json()
        assert {x["kind"] for x in only["recommendations"]} == {"new_station"}
    with server.client("viewer") as viewer:
        v = viewer.get(f"/runs/{run_id}/recommendations").json()["recommendations"]
        assert len(v) == len(recs)
        # counts for viewers, except of fewer than 5 members (small-cell rule)
        assert all(x["member_ids"] is None for x in v)
        assert all((x["n_members"] is None) == (p["n_members"] < 5) for x, p in zip(v, recs, strict=True))
        # kept per run and role after the first answer (api/routers/recommendations.py): the same again, each role
        # its own, a kind filtered from it
        assert viewer.get(f"/runs/{run_id}/recommendations").json()["recommendations"] == v
        stations = viewer.get(f"/runs/{run_id}/recommendations", params={"kind": "new_station"}).json()
        assert stations["recommendations"] == [x for x in v if x["kind"] == "new_station"]
    with server.client("planner") as planner:
        assert planner.get(f"/runs/{run_id}/recommendations").json()["recommendations"] == recs


def test_exports(server, demo, tmp_path):
    run_id = demo["run_id"]
    with server.client("planner") as planner:
        listed = planner.get(f"/runs/{run_id}/exports").json()["exports"]
        names = {f"{e['table']}.{e['format']}" for e in listed}
        assert {"members.xlsx", "members.csv", "recommendations.geojson", "coverage_by_area.csv"} <= names
        assert "coverage_by_area.geojson" not in names  # no coordinates
        r = planner.get(f"/runs/{run_id}/exports/members.xlsx")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "attachment" in r.headers["content-disposition"]
        wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
        ws = wb[wb.sheetnames[0]]
        rows = list(ws.iter_rows(values_only=True))
        assert "编号" in rows[0] and "姓名" in rows[0] and len(rows) == 1 + 711
        walk = rows[0].index("步行至支部(分钟)")
        assert any(r[walk] == "> 120" for r in rows[1:])  # beyond the search cut-off, not a blank
        c = planner.get(f"/runs/{run_id}/exports/members.csv")
        assert c.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel shows Chinese
        assert c.headers["content-type"].startswith("text/csv")
        en = planner.get(f"/runs/{run_id}/exports/members.csv", params={"language": "en"})
        table = pd.read_csv(io.BytesIO(en.content), encoding="utf-8-sig", dtype={"id": str})
        assert len(table) == 711 and {"id", "lon", "lat", "walk_min_station"} <= set(table.columns)
        cov = planner.get(f"/runs/{run_id}/exports/coverage_by_area.csv")
        assert cov.status_code == 200 and cov.content.startswith(b"\xef\xbb\xbf")
        gj = planner.get(f"/runs/{run_id}/exports/recommendations.geojson").json()
        assert gj["type"] == "FeatureCollection" and gj["features"]
        gp = planner.get(f"/runs/{run_id}/exports/branches.gpkg")
        assert gp.status_code == 200 and gp.content.startswith(b"SQLite format 3\x00")
        path = tmp_path / "branches.gpkg"
        path.write_bytes(gp.content)
        import geopandas as gpd

        branches = gpd.read_file(path)
        assert len(branches) == 14 and branches.crs.to_epsg() == 4326
        assert planner.get(f"/runs/{run_id}/exports/members.pdf").status_code == 404
        # decision support tables (decision/decide.py)
        assert {"tradeoff.xlsx", "sensitivity.csv", "phased_plan.geojson"} <= names
        assert "tradeoff.geojson" not in names
        curve = planner.get(f"/runs/{run_id}/exports/tradeoff.csv", params={"language": "en"})
        assert curve.status_code == 200 and "weighted_coverage_share" in curve.text
        assert planner.get(f"/runs/{run_id}/exports/coverage_by_area.geojson").status_code == 422
    with server.client("viewer") as viewer:
        assert viewer.get(f"/runs/{run_id}/exports/members.xlsx").status_code == 403
        assert viewer.get(f"/runs/{run_id}/exports/members.csv").status_code == 403
        vnames = {
            f"{e['table']}.{e['format']}" for e in viewer.get(f"/runs/{run_id}/exports").json()["exports"]
        }
        assert vnames and not any(n.startswith("members.") for n in vnames)


def test_map_html(server, demo):
    run_id = demo["run_id"]
    with server.client("planner") as planner:
        r = planner.get(f"/runs/{run_id}/map")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        page = r.text
        assert "L.map(" in page and "L.control.layers" in page
        # Leaflet and its plugins are served by the service itself (works offline); plain
        # links (e.g. the Leaflet attribution) are not loads
        loads = r'<(?:script[^>]*\ssrc|link[^>]*\shref)="https?://[^"]+'
        assert not re.search(loads, page), re.findall(loads, page)
        # either Leaflet is inlined into the page (maps written by the pipeline) or the page
        # links to the service's own /assets/ copies (maps built on demand)
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)
        assert assets or "Leaflet 1." in page
    with server.client() as anon:
        for a in assets:
            got = anon.get(a)  # public: no token
            assert got.status_code == 200 and len(got.content) > 100, a
        # a browser opens the map with ?access_token= (no header); a viewer's map is drawn on demand
        plain = anon.get(f"/runs/{run_id}/map", params={"access_token": server.tokens["viewer"]})
    assert plain.status_code == 200 and "L.map(" in plain.text
    assert plain.headers.get("referrer-policy") == "no-referrer"  # the token never leaves in a Referer
    # nor is it in the service's log (uvicorn's access log masks it: test_hardening.py, test 3)
    assert server.tokens["viewer"] not in server.log()


def test_report_routes(server, demo):
    """The printable report (geo_planner.report): aggregates only, so a viewer may read it."""
    run_id = demo["run_id"]
    with server.client("viewer") as viewer:
        r = viewer.get(f"/runs/{run_id}/report")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.text.count('class="chart"') >= 6 and 'id="lang"' in r.text
        pdf = viewer.get(f"/runs/{run_id}/report.pdf")
        # printed where Chromium is installed (the test machine installs it), else 404 with a reason
        assert (pdf.status_code == 200 and pdf.content[:5] == b"%PDF-") or pdf.status_code == 404
    with server.client() as anon:
        assert anon.get(f"/runs/{run_id}/report").status_code == 401


# --------------------------------------------------------------------------- who may see what


def test_authentication_and_roles(server, demo, tmp_path):
    run_id = demo["run_id"]
    anon = server.client()
    for path in (
        "/datasets",
        "/runs",
        f"/runs/{run_id}",
        f"/runs/{run_id}/coverage",
        f"/runs/{run_id}/map",
        f"/runs/{run_id}/recommendations",
        f"/runs/{run_id}/exports/coverage_by_area.csv",
    ):
        r = anon.get(path)
        assert r.status_code == 401, path
        assert r.headers.get("www-authenticate") == "Bearer"
    assert anon.get("/health").status_code == 200
    assert anon.get("/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert anon.get("/runs", params={"access_token": "wrong"}).status_code == 401
    assert anon.post("/runs", json={}).status_code == 401
    # ?access_token= is for GET links only
    r = anon.post(
        "/runs", params={"access_token": server.tokens["planner"]}, json=scenario_request(demo["reports"])
    )
    assert r.status_code == 401
    small = tmp_path / "hospitals.csv"
    small.write_bytes((DEMO / "hospitals.csv").read_bytes())
    for role in ("viewer", "planner"):
        with server.client(role) as c:
            r = upload(c, "hospitals", small)
            assert r.status_code == 403, role
            assert "admin" in r.json()["detail"]
            assert c.delete(f"/datasets/{demo['reports']['hospitals']['id']}").status_code == 403
            assert c.delete(f"/runs/{run_id}").status_code == 403
    with server.client("viewer") as viewer:
        assert viewer.post("/runs", json=scenario_request(demo["reports"])).status_code == 403
    with server.client("admin") as admin:  # admins also see member-level data
        assert admin.get(f"/runs/{run_id}/branches/B01/dispersed").status_code == 200
    anon.close()


def _viewer_texts(server: InProcessServer, run_id: str, reports: dict) -> dict[str, str]:
    """Everything a viewer can fetch about the run, as text (spreadsheets and GeoPackages opened)."""
    import geopandas as gpd

    texts: dict[str, str] = {}
    with server.client("viewer") as v:
        paths = [
            "/datasets",
            "/runs",
            f"/runs/{run_id}",
            f"/runs/{run_id}/coverage",
            f"/runs/{run_id}/coverage/branches",
            f"/runs/{run_id}/recommendations",
            f"/runs/{run_id}/recommendations?format=geojson",
            f"/runs/{run_id}/exports",
            f"/runs/{run_id}/map",
            f"/runs/{run_id}/coverage/point?lon=117.2434&lat=28.2907",
            "/openapi.json",
        ]
        paths += [f"/datasets/{rep['id']}" for rep in reports.values()]
        for p in paths:
            r = v.get(p)
            assert r.status_code == 200, (p, r.status_code, r.text[:300])
            texts[p] = r.text
        for e in v.get(f"/runs/{run_id}/exports").json()["exports"]:
            for lang in ("zh", "en"):
                r = v.get(e["url"], params={"language": lang})
                assert r.status_code == 200, e
                key = f"{e['table']}.{e['format']}?{lang}"
                if e["format"] == "xlsx":
                    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
                    texts[key] = "\n".join(
                        "\t".join("" if c is None else str(c) for c in row)
                        for ws in wb.worksheets
                        for row in ws.iter_rows(values_only=True)
                    )
                    with zipfile.ZipFile(io.BytesIO(r.content)) as z:  # and the raw XML parts
                        texts[key + "#xml"] = "\n".join(
                            z.read(n).decode("utf-8", "replace") for n in z.namelist()
                        )
                elif e["format"] == "gpkg":
                    path = server.data_dir.parent / f"viewer-{e['table']}-{lang}.gpkg"
                    path.write_bytes(r.content)
                    g = gpd.read_file(path)
                    texts[key] = (
                        g.to_csv() + "\n" + "\n".join(f"{p.x:.7f},{p.y:.7f}" for p in g.geometry if p)
                    )
                else:
                    texts[key] = r.content.decode("utf-8-sig")
    return texts


def test_viewer_never_sees_a_member(server, demo, raw_members):
    run_id = demo["run_id"]
    texts = _viewer_texts(server, run_id, demo["reports"])
    assert any(k.endswith("/map") for k in texts) and any(k.startswith("recommendations.xlsx") for k in texts)
    # what the planner sees: each member's WGS-84 point (after GCJ-02/BD-09 conversion and geocoding)
    with server.client("planner") as planner:
        en = planner.get(f"/runs/{run_id}/exports/members.csv", params={"language": "en"})
        members = pd.read_csv(io.BytesIO(en.content), encoding="utf-8-sig", dtype=str)
    public = "\n".join(
        [
            (DEMO / "branches.csv").read_text(encoding="utf-8-sig"),
            (DEMO / "hospitals.csv").read_text(encoding="utf-8-sig"),
        ]
        + [str(v) for v in pd.read_excel(DEMO / "stations.xlsx", sheet_name=None)["驿站"].to_numpy().ravel()]
    )
    names = {n for n in raw_members["姓名"].dropna() if len(n) >= 2 and n not in public}
    addresses = {a for a in raw_members["家庭住址"].dropna() if len(a) >= 6}
    # a member's own point (coordinates given in the table, not a place found by geocoding), unless it is
    # also a facility's published point (a member living at the meeting place)
    facility_pts = set(re.findall(r"(\d{2,3}\.\d{4,7}),\s*(\d{2}\.\d{4,7})", public))
    facility = {(round(float(a), 5), round(float(b), 5)) for a, b in facility_pts}
    own = members[members["geocode_precision"] == "coordinates"]
    points = []
    for lon_s, lat_s in zip(own["lon"], own["lat"], strict=True):
        lon, lat = float(lon_s), float(lat_s)
        if (round(lon, 5), round(lat, 5)) in facility:
            continue
        points.append((lon, lat))
    raw_pts = {
        s
        for s in pd.concat([raw_members["经度"], raw_members["纬度"]]).dropna()
        if re.fullmatch(r"\d+\.\d{5,}", s)
    }
    raw_pts -= {s for pair in facility_pts for s in pair}
    assert len(names) > 600 and len(addresses) > 300 and len(points) > 500
    name_re = re.compile("|".join(sorted(map(re.escape, names), key=len, reverse=True)))
    pair_re = re.compile(r"(-?\d{1,3}\.\d{4,})\s*,\s*(-?\d{1,3}\.\d{4,})")
    from scipy.spatial import cKDTree

    tree = cKDTree(np.array(points))
    # the same checks do find members in what a planner sees (the detector works)
    with server.client("planner") as planner:
        planner_map = readable(planner.get(f"/runs/{run_id}/map").text)
        planner_csv = planner.get(f"/runs/{run_id}/exports/members.csv").content.decode("utf-8-sig")
    assert name_re.search(planner_map) and re.search(r"\bM\d{4}\b", planner_map)
    found_pairs = [(float(a), float(b)) for a, b in pair_re.findall(planner_map)]
    assert np.isfinite(
        tree.query(np.array(found_pairs + [(b, a) for a, b in found_pairs]), distance_upper_bound=5e-6)[0]
    ).any()
    assert any(a in planner_csv for a in addresses)
    for key, text in texts.items():
        text = readable(text)
        assert not re.search(r"\bM\d{4}\b", text), (key, re.search(r".{40}\bM\d{4}\b.{40}", text, re.S))
        found = name_re.search(text)
        assert not found, (key, found.group(0), text[max(0, found.start() - 80) : found.end() + 80])
        for a in addresses:
            assert a not in text, (key, a)
        for s in raw_pts:
            assert s not in text, (key, s)
        # no coordinate pair in the text (lon, lat as in GeoJSON or lat, lng as in Leaflet) lies
        # within ~0.5 m of a member's own point
        pairs = [(float(a), float(b)) for a, b in pair_re.findall(text)]
        if pairs:
            xy = np.array(pairs + [(b, a) for a, b in pairs])
            dist, idx = tree.query(xy, distance_upper_bound=5e-6)
            leaks = [tuple(xy[i]) for i in np.flatnonzero(np.isfinite(dist))]
            assert not leaks, (key, leaks[:3])


def test_admin_deletes_and_in_use_datasets_are_kept(server, demo):
    with server.client("admin") as admin, server.client("planner") as planner:
        # a run being prepared or running keeps its datasets
        own = upload_demo(admin)
        r = planner.post("/runs", json=scenario_request(own, light=True))
        assert r.status_code == 202, r.text
        blocked = admin.delete(f"/datasets/{own['members']['id']}")
        assert blocked.status_code == 409 and "wait until it has finished" in blocked.json()["detail"]
        body, _ = wait_run(planner, r.json()["id"])
        assert body["status"] == "done"
        # once finished, its datasets may go, and the run keeps its outputs
        for rep in own.values():
            assert admin.delete(f"/datasets/{rep['id']}").status_code == 200
        assert admin.get(f"/runs/{body['id']}/coverage").status_code == 200
        assert admin.get(f"/runs/{body['id']}/map").status_code == 200
        # admins delete runs too (not while running)
        assert admin.delete(f"/runs/{body['id']}").json() == {"id": body["id"], "deleted": True}
        assert admin.get(f"/runs/{body['id']}").status_code == 404
        assert not (server.data_dir / "runs" / body["id"]).exists()


def test_errors_never_leak_internals(server, demo):
    with server.client("planner") as planner:
        r = planner.get(f"/runs/{demo['run_id']}/exports/members.xlsx", params={"language": "fr"})
        assert r.status_code == 422  # request validation
        r = planner.post("/runs", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422 and "Traceback" not in r.text
    # a run whose output file is damaged: the client gets a generic 500, the log gets the details
    store = server.store()
    broken = store.create_run(
        scenario_request(demo["reports"]), osm_dir=ROOT / "data" / "osm", cache_dir=server.cache_dir
    )
    store.mark_done(broken.id, {"members": 0})
    (broken.out_dir / "coverage_by_area.csv").write_bytes(b"\xff\xfe\x00\x81 not a table \x00\xc3")
    with server.client("planner") as planner:
        r = planner.get(f"/runs/{broken.id}/coverage")
        assert r.status_code == 500
        assert r.json() == {"detail": "internal error; the service log has the details", "problems": []}
        assert "coverage_by_area" not in r.text and str(server.data_dir) not in r.text
    assert "unhandled error on GET" in server.log()
    store.mark_failed(broken.id, "test")


# --------------------------------------------------------------------------- persistence


def test_restart_keeps_datasets_and_runs_and_fails_interrupted_runs(server, demo):
    """The service stopped and a fresh app started on the same data folder and store (its start-up
    is a new process's): what was stored is there, a run the stop left 'running' is failed."""
    server.stop()
    # a crash in the middle of a run: recorded as running, no process behind it
    store = server.store()
    crashed = store.create_run(
        scenario_request(demo["reports"]), osm_dir=ROOT / "data" / "osm", cache_dir=server.cache_dir
    )
    store.mark_running(crashed.id)
    store.set_progress(crashed.id, "network", 0.15)
    store.close()
    server.start()  # a new app on the same folder and store: its start-up fails the interrupted run
    with server.client("viewer") as viewer:
        ids = {d["id"] for d in viewer.get("/datasets").json()["datasets"]}
        assert {rep["id"] for rep in demo["reports"].values()} <= ids
        runs = {r["id"]: r for r in viewer.get("/runs").json()["runs"]}
        assert runs[demo["run_id"]]["status"] == "done"
        assert runs[demo["run_id"]]["summary"]["members"] == 711
        assert runs[crashed.id]["status"] == "failed"
        assert viewer.get(f"/runs/{demo['run_id']}/coverage", params={"area": "花园社区"}).status_code == 200
    with server.client("planner") as planner:
        assert "interrupted" in planner.get(f"/runs/{crashed.id}").json()["error"]
        assert planner.get(f"/runs/{crashed.id}/coverage").status_code == 409  # no results
    assert f"run {crashed.id}: its worker (none) is gone; marked failed" in server.log()


def test_serve_demo_prints_a_one_time_link_and_no_token(tmp_path, cache_dir):
    """The README's main command: demo users and API tokens in mode-600 files, the demo registered, and
    a one-time sign-in link as the last line; no reusable token or password in the console or the log."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_PLANNER_")}
    env.update(
        {
            "GEO_PLANNER_DATA_DIR": str(tmp_path / "svc"),
            "GEO_PLANNER_CACHE_DIR": str(cache_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    log_path = tmp_path / "serve_demo.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.main", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    try:
        link = None
        text = ""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and link is None:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            m = re.search(r"(http://127\.0\.0\.1:\d+/auth/link/(\S+))\n", text)
            if m:
                link, code = m.group(1), m.group(2)
            time.sleep(0.2)
        assert link, text
        printed = text[: text.index(link) + len(link)].splitlines()
        assert printed[-1].endswith(link)  # the link is the last line the command prints
        run_id = re.search(r"/runs/(run_\w+)/map", text).group(1)
        tokens_file, users_file = tmp_path / "svc" / "tokens.json", tmp_path / "svc" / "demo_users.json"
        for f in (tokens_file, users_file):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600 and str(f) in text
        tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
        users = json.loads(users_file.read_text(encoding="utf-8"))
        assert sorted(tokens.values()) == ["admin", "planner", "viewer"]
        assert sorted(u["role"] for u in users.values()) == ["admin", "planner", "viewer"]
        base = link.split("/auth/")[0]
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=120) as browser:
            r = browser.get(link, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/"  # no code left in the address bar
            me = browser.get("/auth/me").json()
            assert me["role"] == "admin" and me["username"] == "admin"
            body, _ = wait_run(browser, run_id)
            assert body["status"] == "done" and body["origin"] == "demo", body
            assert body["summary"]["members"] == 711
            assert len(browser.get("/datasets").json()["datasets"]) == 4
            page = browser.get(f"/runs/{run_id}/map")
            assert page.status_code == 200 and "L.map(" in page.text
        with httpx.Client(base_url=base, timeout=30) as other:
            again = other.get(link, follow_redirects=False)
            assert again.status_code in (401, 410) and "gp_session" not in again.headers.get("set-cookie", "")
        # the demo passwords sign in; the API tokens still work for scripts
        with httpx.Client(base_url=base, timeout=30) as c:
            assert c.post("/auth/login", json={"username": "planner",
                                               "password": users["planner"]["password"]}).status_code == 200
        planner_token = next(t for t, r in tokens.items() if r == "planner")
        assert httpx.get(f"{base}/runs", headers={"Authorization": f"Bearer {planner_token}"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    # nothing reusable in the console or the access log: no token, no password; the code only once
    # (the printed line: the access log masks it)
    for secret in [*tokens, *(u["password"] for u in users.values())]:
        assert secret not in text
    assert text.count(code) == 1, text[-3000:]
    assert "/auth/link/***" in text


def test_openapi_documents_every_route(server):
    with server.client() as anon:
        doc = anon.get("/openapi.json").json()
        assert anon.get("/docs").status_code == 200
    paths = doc["paths"]
    for p in (
        "/datasets/{kind}",
        "/datasets",
        "/datasets/{dataset_id}",
        "/runs",
        "/runs/{run_id}",
        "/runs/{run_id}/coverage",
        "/runs/{run_id}/coverage/point",
        "/runs/{run_id}/branches/{branch_id}/dispersed",
        "/runs/{run_id}/recommendations",
        "/runs/{run_id}/map",
        "/runs/{run_id}/exports/{filename}",
        "/auth/login",
        "/auth/logout",
        "/auth/me",
        "/auth/link/{code}",
        "/admin/users",
        "/admin/users/{username}",
        "/admin/audit",
    ):
        assert p in paths, p
    # every JSON answer has a schema (the one-time link answers a redirect, 303)
    for path, ops in paths.items():
        for method, op in ops.items():
            ok = (op["responses"].get("200") or op["responses"].get("201") or op["responses"].get("202")
                  or op["responses"].get("303"))
            content = ok.get("content", {})
            if "application/json" in content:
                assert content["application/json"].get("schema"), (method, path)
    assert "access_token" in json.dumps(doc)
