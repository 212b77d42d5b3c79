"""Issue 9: the service attacked as a hostile client would — one test per numbered case.

Everything runs against a real ``uvicorn`` server on loopback (its own data folder, fresh
tokens, a 2 MB upload limit so that "too large" is cheap to reach) with the demo run done
once; uploads that must be refused before their body is read are sent on raw sockets, so a
server that waited for the body would time out instead of answering.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pandas as pd
import pytest

from ..support.paths import DEMO
from ..support.servers import (
    UPLOAD_MB,
    ApiServer,
    scenario_request,
    upload,
    upload_demo,
    wait_mid_run,
    wait_run,
)

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def server(hardened_server: ApiServer) -> ApiServer:
    return hardened_server


@pytest.fixture(scope="module")
def demo(hardened_demo: dict[str, Any]) -> dict[str, Any]:
    return hardened_demo


def raw_request(server: ApiServer, head: str, body: bytes = b"", *, timeout: float = 10.0) -> tuple[int, str]:
    """Send ``head`` (request line + headers) and ``body`` on a raw socket; return (status, answer text).

    The body may be much shorter than the declared Content-Length: a server that waits for the
    whole body never answers within ``timeout`` (socket.timeout is raised).
    """
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body)
        data = b""
        s.settimeout(timeout)
        while b"\r\n\r\n" not in data or len(data) < 12:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        # read the (short) JSON body too
        try:
            s.settimeout(1.0)
            while chunk := s.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    text = data.decode("utf-8", "replace")
    return int(text.split(" ", 2)[1]), text


def upload_head(server: ApiServer, length: int, token: str | None, *, chunked: bool = False) -> str:
    host = server.base_url.removeprefix("http://")
    lines = [
        "POST /datasets/members HTTP/1.1",
        f"Host: {host}",
        "Content-Type: multipart/form-data; boundary=XyZ",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return "\n".join(lines) + "\n"


def runs_count(server: ApiServer) -> int:
    with server.client("viewer") as v:
        r = v.get("/runs")
        assert r.status_code == 200, r.text
        return len(r.json()["runs"])


# --------------------------------------------------------------------------- 1. non-finite numbers


@pytest.mark.parametrize(
    "patch, field",
    [
        ('"thresholds": {"station_walk_min": "inf"}', "thresholds.station_walk_min"),
        ('"thresholds": {"station_walk_min": 1e999}', "thresholds.station_walk_min"),
        ('"thresholds": {"branch_walk_min": "NaN"}', "thresholds.branch_walk_min"),
        ('"thresholds": {"hospital_drive_min": -1e999}', "thresholds.hospital_drive_min"),
        ('"siting": {"time_limit_s": "inf"}', "siting.time_limit_s"),
        ('"siting": {"lixiu_weight": "Infinity"}', "siting.lixiu_weight"),
        ('"network": {"osm": ["guixi_jiangxi.osm"], "max_snap_m": 1e999}', "network.max_snap_m"),
        ('"siting": {"new_stations": 1e999}', "siting.new_stations"),
        ('"thresholds": {"station_walk_min": 1e9}', "thresholds.station_walk_min"),
        ('"seed": -1', "seed"),
    ],
)
def test_1_non_finite_or_out_of_range_numbers_are_422_and_nothing_is_stored(server, demo, patch, field):
    base = scenario_request(demo["reports"])
    key = patch.split('"')[1]
    base.pop(key, None)
    text = json.dumps(base, ensure_ascii=False)
    body = text[:-1] + ", " + patch + "}"
    before = runs_count(server)
    with server.client("planner") as planner:
        r = planner.post("/runs", content=body.encode("utf-8"), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert any(field in (p["field"] or "") for p in r.json()["problems"]), r.json()
    # nothing queued, and every role still reads the run list
    assert runs_count(server) == before
    for role in ("viewer", "planner", "admin"):
        with server.client(role) as c:
            assert c.get("/runs").status_code == 200
            assert c.get(f"/runs/{demo['run_id']}").status_code == 200


def test_1_rules_needing_the_inputs_are_checked_before_queueing(server, demo):
    before = runs_count(server)
    with server.client("planner") as planner:
        bad = scenario_request(demo["reports"])
        bad["branches"] = {"min_branch_members": 60, "max_branch_members": 50}
        r = planner.post("/runs", json=bad)
        assert r.status_code == 422 and "min_branch_members" in r.text, r.text
        bad = scenario_request(demo["reports"])
        bad["siting"] = {"new_stations": 1000}  # more new stations than the 711 accepted members
        r = planner.post("/runs", json=bad)
        assert r.status_code == 422, r.text
        assert [p["field"] for p in r.json()["problems"]] == ["siting.new_stations"]
        assert "accepted members" in r.json()["detail"]
    assert runs_count(server) == before


def test_1_scenario_files_refuse_non_finite_numbers_too():
    from geo_planner.errors import ScenarioError
    from geo_planner.settings import scenario_from_dict

    base = {"network": {"osm": ["../osm/guixi_jiangxi.osm", "../osm/nanjing_xuanwu.osm"]},
            "inputs": {"members": "members.csv", "branches": "branches.csv", "stations": "stations.xlsx"}}
    for section, key, value in (("thresholds", "station_walk_min", math.inf),  # TOML `inf`
                                ("siting", "time_limit_s", math.nan),  # TOML `nan`
                                ("network", "walk_speed_kmh", -math.inf),
                                ("branches", "dispersed_share_flag", math.nan)):
        data = json.loads(json.dumps(base))
        data.setdefault(section, {})[key] = value
        with pytest.raises(ScenarioError) as info:
            scenario_from_dict(data, base_dir=DEMO)
        assert [p.field for p in info.value.problems] == [f"{section}.{key}"], info.value
    assert scenario_from_dict(base, base_dir=DEMO).thresholds.station_walk_min == 15


# --------------------------------------------------------------------------- 2. uploads: token first, size while streaming


def test_2_upload_without_token_is_refused_before_the_body(server):
    # a 1 GiB upload announced, 1 KB sent: the answer must come without waiting for the rest
    t0 = time.monotonic()
    status, text = raw_request(server, upload_head(server, 1 << 30, None), b"x" * 1024)
    assert status == 401 and "WWW-Authenticate" in text.replace("www-authenticate", "WWW-Authenticate")
    assert time.monotonic() - t0 < 5
    status, text = raw_request(server, upload_head(server, 1 << 30, "not-a-token"), b"x" * 1024)
    assert status == 401 and "unknown token" in text
    status, text = raw_request(server, upload_head(server, 1 << 30, server.tokens["viewer"]), b"x" * 1024)
    assert status == 403 and "admin" in text
    status, text = raw_request(server, upload_head(server, 1 << 30, server.tokens["planner"]), b"x" * 1024)
    assert status == 403
    # an admin announcing more than the limit: 413 at once, nothing spooled
    status, text = raw_request(server, upload_head(server, 1 << 30, server.tokens["admin"]), b"x" * 1024)
    assert status == 413 and "GEO_PLANNER_MAX_UPLOAD_MB" in text
    assert not list(server.data_dir.glob(".upload-*"))


def test_2_upload_growing_past_the_limit_while_streaming_is_413(server, tmp_path):
    # chunked: no Content-Length to refuse up front; the limit is applied as the bytes arrive
    part = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n")
    chunk = b"M0001,x,117.2,28.2\n" * 5000
    body = b""
    body += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    sent = len(part)
    while sent < (UPLOAD_MB + 1) * 1024 * 1024:
        body += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        sent += len(chunk)
    status, text = raw_request(server, upload_head(server, 0, server.tokens["admin"], chunked=True), body,
                               timeout=30)
    assert status == 413, text[:500]
    assert "MB" in text
    # a file just over the limit through an ordinary client: 413 too, and nothing stored
    big = tmp_path / "big.csv"
    big.write_bytes(b"id,name,lon,lat\n" + b"M0001,x,117.2,28.2\n" * ((UPLOAD_MB * 1024 * 1024) // 19 + 10))
    with server.client("admin") as admin:
        before = len(admin.get("/datasets").json()["datasets"])
        r = upload(admin, "members", big)
        assert r.status_code == 413, r.text
        assert r.json()["detail"].startswith("request body larger than")
        assert len(admin.get("/datasets").json()["datasets"]) == before
    assert not list(server.data_dir.glob(".upload-*"))


# --------------------------------------------------------------------------- 3. tokens never in a log


def test_3_tokens_are_masked_in_the_log_however_spelt(server, demo):
    token = server.tokens["planner"]
    run_id = demo["run_id"]
    with httpx.Client(base_url=server.base_url, timeout=60) as anon:
        for query in (f"access%5Ftoken={token}", f"access_token={token}", f"%61ccess_token={token}",
                      f"x=1&access_token={token}&y=2", f"access_token={token}&access_token={token}"):
            r = anon.get(f"/runs/{run_id}?{query}")
            assert r.status_code == 200, (query, r.text)  # every spelling authenticates …
        for query in (f"ACCESS_TOKEN={token}", f"token={token}"):
            assert anon.get(f"/runs/{run_id}?{query}").status_code == 401  # … not a different name
        # the map as a browser opens it: a viewer's token in the link
        viewer_token = server.tokens["viewer"]
        r = anon.get(f"/runs/{run_id}/map", params={"access_token": viewer_token})
        assert r.status_code == 200 and "L.map(" in r.text
    time.sleep(0.5)
    log = server.log()
    assert f"/runs/{run_id}?access%5Ftoken=***" in log  # the line is there, masked
    assert f"/runs/{run_id}/map?access_token=***" in log
    assert token not in log and viewer_token not in log  # … and the tokens nowhere


def test_3_mask_tokens_parses_the_query():
    from api.security import mask_tokens

    assert mask_tokens("/m?access%5Ftoken=abc&x=1") == "/m?access%5Ftoken=***&x=1"
    assert mask_tokens("/m?x=1;ACCESS_TOKEN=abc") == "/m?x=1;ACCESS_TOKEN=***"
    assert mask_tokens("/m?access+token=1&a%63cess_token=s3") == "/m?access+token=***&a%63cess_token=***"
    assert mask_tokens("/m") == "/m" and mask_tokens("/m?area=花园") == "/m?area=花园"


# --------------------------------------------------------------------------- 4. 4xx, never 500


def test_4_valid_looking_requests_get_a_clear_4xx(server, demo, tmp_path):
    run_id = demo["run_id"]
    with server.client("viewer") as viewer:
        for lon, lat in ((30, 0), (0, 0), (-179.9, 89.9), (114.2, 22.7)):
            # well-formed, about a place the run holds nothing of: 404 with the run's area (issue 19)
            r = viewer.get(f"/runs/{run_id}/coverage/point", params={"lon": lon, "lat": lat})
            assert r.status_code == 404, (lon, lat, r.text)
            assert "outside this run's road network" in r.json()["detail"]
        for lon, lat in (("nan", 28), ("inf", 28), (117, "-inf"), ("1e999", 28)):
            r = viewer.get(f"/runs/{run_id}/coverage/point", params={"lon": lon, "lat": lat})
            assert r.status_code == 422, (lon, lat, r.text)
    with server.client("admin") as admin:
        for enc in ("rot13", "hex", "zlib", "base64", "bz2", "utf\x00-8", "x" * 300, "idna-nonsense"):
            r = upload(admin, "branches", DEMO / "branches.csv", encoding=enc)
            assert r.status_code == 422, (enc, r.text)
            assert any(p["field"] == "encoding" for p in r.json()["problems"]), (enc, r.json())
    with server.client("planner") as planner:
        for name in ("a" * 256 + ".osm", "贵" * 90 + ".osm", "guixi\x00.osm", "../guixi_jiangxi.osm", ""):
            req = scenario_request(demo["reports"])
            req["network"]["osm"] = [name]
            r = planner.post("/runs", json=req)
            assert r.status_code == 422, (name[:20], r.text)
            assert "network.osm" in json.dumps(r.json()["problems"]), r.json()


# --------------------------------------------------------------------------- 5. CSV: no lone apostrophes


def test_5_csv_exports_keep_empty_cells_empty(server, demo):
    run_id = demo["run_id"]
    lone = {}
    with server.client("planner") as planner:
        for table in ("members", "recommendations", "branches", "coverage_by_area", "coverage_by_branch"):
            r = planner.get(f"/runs/{run_id}/exports/{table}.csv")
            assert r.status_code == 200, r.text
            df = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", dtype=str, keep_default_na=False)
            lone[table] = int((df == "'").to_numpy().sum())
            assert df.shape[0] > 0 and (df == "").to_numpy().sum() > 0 or table == "coverage_by_area"
    assert lone == dict.fromkeys(lone, 0), lone


def test_5_formula_guard_still_guards(tmp_path):
    from geo_planner.export import export_table

    df = pd.DataFrame({"id": ["=1+1", "", "+A2", "-3", "@SUM(A1)", "x", "-12.5"], "name": ["", "", "", "", "", "", ""]})
    path = export_table(df, tmp_path / "m.csv", table="members", fmt="csv", language="en")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["id"].tolist() == ["'=1+1", "", "'+A2", "-3", "'@SUM(A1)", "x", "-12.5"]
    assert back["name"].tolist() == [""] * 7


# --------------------------------------------------------------------------- 6. small cells


def _numbers_of_small_groups(rows: list[dict[str, Any]], size: str) -> list[dict[str, Any]]:
    bad = []
    for row in rows:
        n = row.get(size)
        counts = {k: v for k, v in row.items() if (k.startswith(("n_", "no_time_")) or k == size)
                  and isinstance(v, (int, float)) and not isinstance(v, bool)}
        if any(0 < v < 5 for v in counts.values()):
            bad.append(row)
        public_site = row.get("kind") == "new_station"  # a new station's point is a public place
        if n is None and any(isinstance(v, (int, float)) and not isinstance(v, bool)
                             for k, v in row.items() if k != size and not (public_site and k in ("lon", "lat"))):
            bad.append(row)  # a suppressed row must not carry any statistic
    return bad


def test_6_small_cell_rule_on_every_viewer_route(server, demo):
    run_id = demo["run_id"]
    with server.client("planner") as planner:
        p_area = planner.get(f"/runs/{run_id}/coverage").json()["areas"]
        p_branch = planner.get(f"/runs/{run_id}/coverage/branches").json()["branches"]
        p_recs = planner.get(f"/runs/{run_id}/recommendations").json()["recommendations"]
    # the planner's answers do hold small groups (the detector below would find them)
    assert any(a["members"] < 5 for a in p_area)
    assert any(0 < r["n_members"] < 5 for r in p_recs)
    assert _numbers_of_small_groups(p_area, "members")
    with server.client("viewer") as viewer:
        areas = viewer.get(f"/runs/{run_id}/coverage").json()["areas"]
        assert len(areas) == len(p_area)
        assert not _numbers_of_small_groups(areas, "members")
        assert sum(a["suppressed"] for a in areas) >= sum(a["members"] < 5 for a in p_area)
        for a in areas:
            if a["suppressed"]:
                assert a["members"] is None and a["share_covered_station"] is None
        branches = viewer.get(f"/runs/{run_id}/coverage/branches").json()["branches"]
        assert not _numbers_of_small_groups(branches, "members")
        assert len(branches) == len(p_branch)
        recs = viewer.get(f"/runs/{run_id}/recommendations").json()["recommendations"]
        for r, p in zip(recs, p_recs, strict=True):
            if p["n_members"] < 5:
                assert r["n_members"] is None and r["before_min"] is None and r["after_min"] is None
                assert r["township"] is None and str(p["n_members"]) not in (r["rationale_zh"] or "")
                if r["kind"] != "new_station":
                    assert r["lon"] is None and r["lat"] is None
            else:
                assert r["n_members"] == p["n_members"]
        geo = viewer.get(f"/runs/{run_id}/recommendations", params={"format": "geojson"}).json()
        assert all((f["properties"]["n_members"] or 5) >= 5 for f in geo["features"])
        summary = viewer.get(f"/runs/{run_id}").json()["summary"]
        flat = json.dumps(summary)
        assert "siting" not in summary and not re.search(r":\s*[1-4][,}]", flat), flat
        # the exports a viewer may download
        for table, size in (("coverage_by_area", "members"), ("coverage_by_branch", "members"),
                            ("branches", "members"), ("recommendations", "n_members")):
            for lang in ("en", "zh"):
                r = viewer.get(f"/runs/{run_id}/exports/{table}.csv", params={"language": lang})
                assert r.status_code == 200, r.text
                df = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig")
                if lang == "en":
                    rows = df.astype(object).where(df.notna(), None).to_dict(orient="records")
                    assert not _numbers_of_small_groups(rows, size), (table, lang)
                else:
                    num = df.select_dtypes("number").to_numpy()
                    counts = [c for c in df.columns if "人数" in str(c)]
                    assert not ((df[counts] > 0) & (df[counts] < 5)).to_numpy().any(), (table, counts)
                    assert num.size
        # the import report of a members table: counts of 1–4 rows suppressed too
        m = viewer.get(f"/datasets/{demo['reports']['members']['id']}").json()
        assert m["accepted"] == 711 and all(m[k] is None or m[k] == 0 or m[k] >= 5
                                            for k in ("n_read", "accepted", "rejected", "warnings"))
        assert 0 < demo["reports"]["members"]["rejected"] < 5 and m["rejected"] is None
        # the viewer's map: no count of 1–4 in a popup
        page = viewer.get(f"/runs/{run_id}/map").text
        assert not re.search(r"(人数|members)</th><td[^>]*>[1-4]</td>", page)
        assert not re.search(r"(人数|members)&lt;/th&gt;&lt;td[^&]*&gt;[1-4]&lt;/td&gt;", page)


def test_6_small_cell_rule_unit_on_both_extracts(demo_run):
    """The rule on the library's own tables: 贵溪 and 南京 areas and branches."""
    from geo_planner.privacy import MIN_GROUP, small_cell_rule

    result, _members, _out, _stages = demo_run
    by_area = result.coverage_by_area
    assert {"新街口街道", "花园街道"} & set(by_area["area"])  # 南京 and 贵溪
    for table in (by_area, result.coverage_by_branch):
        out = small_cell_rule(table)
        small = pd.to_numeric(table["members"]) < MIN_GROUP
        assert out.loc[small, "members"].isna().all() and out["suppressed"].sum() >= small.sum()
        numeric = out.select_dtypes("number")
        counts = numeric[[c for c in numeric.columns if c.startswith(("n_", "no_time_")) or c == "members"]]
        counts = counts.astype("float64").fillna(0)
        assert not ((counts > 0) & (counts < MIN_GROUP)).to_numpy().any()
        assert out.loc[out["suppressed"], [c for c in numeric.columns]].isna().all().all()
        # secondary suppression: no community's size follows from its township's total
        if "level" in out.columns:
            for town, g in out[out["level"] == "community"].groupby("township"):
                assert g["suppressed"].sum() != 1 or len(g) == 1, town


# --------------------------------------------------------------------------- 7. security headers, docs offline


def test_7_security_headers_and_offline_docs(server, demo, tmp_path):
    run_id = demo["run_id"]
    with server.client("viewer") as viewer:
        for path in ("/health", f"/runs/{run_id}", f"/runs/{run_id}/coverage", "/openapi.json"):
            assert viewer.get(path).headers.get("x-content-type-options") == "nosniff", path
        page = viewer.get(f"/runs/{run_id}/map")
        csp = page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
        script_src = re.search(r"script-src ([^;]+)", csp).group(1)
        assert "http" not in script_src  # tiles off: no remote script at all
        assert not re.search(r"<script[^>]+src=[\"']https?://", page.text)
    docs = httpx.get(f"{server.base_url}/docs", timeout=30)
    assert docs.status_code == 200 and "frame-ancestors 'self'" in docs.headers["content-security-policy"]
    assert "cdn.jsdelivr" not in docs.text and "/docs-assets/swagger-ui-bundle.js" in docs.text
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        a = httpx.get(f"{server.base_url}/docs-assets/{name}", timeout=30)
        assert a.status_code == 200 and len(a.content) > 10_000
    assert httpx.get(f"{server.base_url}/redoc", timeout=30).status_code == 200
    if CHROMIUM.exists():  # the page renders under its own CSP with no internet
        proc = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=8000",
             f"--user-data-dir={tmp_path / 'chr'}", "--dump-dom", f"{server.base_url}/docs"],
            capture_output=True, text=True, timeout=120,
        )
        assert "opblock" in proc.stdout, proc.stderr[-2000:]  # the operations were drawn
        assert "Refused to" not in proc.stderr, proc.stderr[-2000:]
        token = server.tokens["viewer"]
        proc = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=8000",
             f"--user-data-dir={tmp_path / 'chr2'}", "--dump-dom",
             f"{server.base_url}/runs/{run_id}/map?access_token={token}"],
            capture_output=True, text=True, timeout=120,
        )
        assert "leaflet-container" in proc.stdout and "gp-icon" in proc.stdout, proc.stderr[-2000:]
        assert "Refused to" not in proc.stderr, proc.stderr[-2000:]


# --------------------------------------------------------------------------- 8. private files


def test_8_data_folder_is_private(server, demo):
    with server.client("planner") as planner:  # a viewer map and an export are written too
        assert planner.get(f"/runs/{demo['run_id']}/exports/branches.xlsx").status_code == 200
    with server.client("viewer") as viewer:
        assert viewer.get(f"/runs/{demo['run_id']}/map").status_code == 200
    seen = {"files": 0, "dirs": 0}
    loose = []
    for root, dirs, files in os.walk(server.data_dir):
        for d in dirs:
            seen["dirs"] += 1
            if stat.S_IMODE(os.stat(Path(root) / d).st_mode) & 0o077:
                loose.append(str(Path(root) / d))
        for f in files:
            seen["files"] += 1
            if stat.S_IMODE(os.stat(Path(root) / f).st_mode) & 0o077:
                loose.append(str(Path(root) / f))
    assert stat.S_IMODE(os.stat(server.data_dir).st_mode) == 0o700
    assert seen["files"] > 20 and (server.data_dir / "store.sqlite3").is_file()
    assert loose == [], loose[:10]


def test_8_store_tightens_an_existing_folder(tmp_path):
    from geo_planner.store import Store

    folder = tmp_path / "svc"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    Store(folder)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / "store.sqlite3").st_mode) == 0o600


# --------------------------------------------------------------------------- 9. key variables


def test_9_online_key_env_must_be_the_projects_own(server, demo):
    with server.client("planner") as planner:
        for name in ("HOME", "PATH", "AWS_SECRET_ACCESS_KEY", "GEO_PLANNER_TOKENS ", "geo_planner_x", "GEO_PLANNER_"):
            req = scenario_request(demo["reports"])
            req["geocode"] = {"online_key_env": name}
            r = planner.post("/runs", json=req)
            assert r.status_code == 422, (name, r.text)
            assert any(p["field"].endswith("online_key_env") for p in r.json()["problems"])
    from geo_planner.settings import GeocodeSettings

    assert GeocodeSettings(online_key_env="GEO_PLANNER_AMAP_KEY").online_key_env == "GEO_PLANNER_AMAP_KEY"
    with pytest.raises(ValueError):
        GeocodeSettings(online_key_env="HOME")


# --------------------------------------------------------------------------- 10. the OpenAPI document is true


def test_10_openapi_document_matches_the_answers(server, demo):
    doc = httpx.get(f"{server.base_url}/openapi.json").json()
    paths = doc["paths"]
    err = doc["components"]["schemas"]["ErrorResponse"]
    assert err["properties"]["detail"]["type"] == "string" and err["properties"]["problems"]["type"] == "array"
    # 422: the body really is an ErrorResponse (a message and a list of problems)
    with server.client("planner") as planner:
        r = planner.get(f"/runs/{demo['run_id']}/coverage/point", params={"lon": "x", "lat": 1})
        assert r.status_code == 422 and isinstance(r.json()["detail"], str)
        assert r.json()["problems"][0]["field"] == "query.lon"
        r = planner.post("/runs", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422 and set(r.json()) == {"detail", "problems"}
    # a malformed multipart body: 400, documented, JSON
    with server.client("admin") as admin:
        r = admin.post("/datasets/members", content=b"--nope\r\nbroken",
                       headers={"content-type": "multipart/form-data; boundary=nope"})
        assert r.status_code in (400, 422) and set(r.json()) == {"detail", "problems"}, r.text
    assert "400" in paths["/datasets/{kind}"]["post"]["responses"]
    assert "413" in paths["/datasets/{kind}"]["post"]["responses"]
    assert "400" in paths["/runs"]["post"]["responses"]
    # every error answer is documented as JSON, also on the HTML map
    for path, ops in paths.items():
        for method, op in ops.items():
            for code, resp in op["responses"].items():
                if code.startswith("4"):
                    assert list(resp["content"]) == ["application/json"], (method, path, code)
    r = httpx.get(f"{server.base_url}/runs/{demo['run_id']}/map")
    assert r.status_code == 401 and r.headers["content-type"] == "application/json"
    # /health sends neither 401 nor 403
    assert set(paths["/health"]["get"]["responses"]) == {"200"}
    # OPTIONS lists every method of the path
    r = httpx.options(f"{server.base_url}/runs")
    assert r.status_code == 204 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
    r = httpx.options(f"{server.base_url}/runs/{demo['run_id']}")
    assert {"GET", "DELETE"} <= set(r.headers["allow"].split(", "))
    r = httpx.put(f"{server.base_url}/runs", headers={"Authorization": f"Bearer {server.tokens['admin']}"})
    assert r.status_code == 405 and {"GET", "POST"} <= set(r.headers["allow"].split(", "))


# --------------------------------------------------------------------------- 11. cancelling


def test_11_runs_can_be_cancelled_queued_or_running(server, demo):
    with server.client("planner") as planner, server.client("admin") as admin:
        req = scenario_request(demo["reports"], light=True)  # what is checked is the queue, not the figures
        first = planner.post("/runs", json=req).json()
        second = planner.post("/runs", json=req).json()
        third = planner.post("/runs", json=req).json()
        # the third is still queued behind the others: cancel it
        r = planner.post(f"/runs/{third['id']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        # wait until the first is running somewhere past its start, then cancel it
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = planner.get(f"/runs/{first['id']}").json()
            if body["status"] == "running" and body["stage"] not in (None, "start"):
                break
            time.sleep(0.05)
        assert body["status"] == "running", body
        r = planner.post(f"/runs/{first['id']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        # a queued run may also be deleted outright (it is cancelled first)
        assert admin.delete(f"/runs/{second['id']}").json() == {"id": second["id"], "deleted": True}
        time.sleep(1.0)
        for run in (first, third):
            body = planner.get(f"/runs/{run['id']}").json()
            assert body["status"] == "cancelled", body
            assert planner.get(f"/runs/{run['id']}/coverage").status_code == 409
            folder = server.data_dir / "runs" / run["id"]
            assert not folder.exists() or list(folder.iterdir()) == [], list(folder.iterdir())
            assert not list((server.data_dir / "runs").glob(f".{run['id']}.*"))
        assert planner.get(f"/runs/{second['id']}").status_code == 404
        # finished runs cannot be cancelled
        assert planner.post(f"/runs/{demo['run_id']}/cancel").status_code == 409
        assert planner.post(f"/runs/{first['id']}/cancel").status_code == 409
        assert planner.post("/runs/run_nope/cancel").status_code == 404
        viewer_try = httpx.post(f"{server.base_url}/runs/{demo['run_id']}/cancel",
                                headers={"Authorization": f"Bearer {server.tokens['viewer']}"})
        assert viewer_try.status_code == 403
        # the queue keeps working: a new run finishes
        again = planner.post("/runs", json=req).json()
        body, _ = wait_run(planner, again["id"])
        assert body["status"] == "done", body


# --------------------------------------------------------------------------- 12. XLSX import


def _branch_workbook(path: Path, *, cover: bool = True, formulas: bool = True, data: bool = True) -> None:
    wb = openpyxl.Workbook()
    ws0 = wb.active
    if cover:
        ws0.title = "封面"
        ws0["A1"] = "贵溪市离退休干部党支部名册"
        ws0["A2"] = "填报单位：老干部局"
        ws = wb.create_sheet("名册")
    else:
        ws = ws0
        ws.title = "名册"
    ws.append(["支部编号", "支部名称", "活动地点", "经度", "纬度", "党员人数"])
    if data:
        rows = [
            ("B01", "市委机关第一党支部", "贵溪市人民政府", 117.2400747, 28.2958127),
            ("B02", "教育局退休党支部", "贵溪市第一中学", 117.2213, 28.2902),
            ("B03", "南京玄武老干部党支部", "玄武区政府", 118.7976, 32.0487),
            ("B04", "南京秦淮老干部党支部", "秦淮区政府", 118.7869, 32.0390),
        ]
        for i, (bid, name, place, lon, lat) in enumerate(rows):
            ws.append([bid, name, place, lon, lat, f"=10+{i}" if formulas else 10 + i])
        # a merged cell a planner typed once for four rows: the meeting place of all of them
        ws["C3"] = None
        ws["C4"] = None
        ws["C5"] = None
        ws["C2"] = "老干部活动中心"
        ws.merge_cells("C2:C5")
    wb.save(path)


def test_12_xlsx_merged_cells_cover_sheet_and_formulas(tmp_path):
    from geo_planner.errors import InputError
    from geo_planner.io import load_layer
    from geo_planner.settings import LayerInput

    path = tmp_path / "branches.xlsx"
    _branch_workbook(path)
    layer = load_layer("branches", LayerInput(path=path))
    f = layer.frame
    assert len(f) == 4 and layer.info["sheet"] == "名册"
    # every row of the merged cell has its value (none rejected, none empty), on both extracts' rows
    assert f["meeting_place"].tolist() == ["老干部活动中心"] * 4
    rej = layer.rejections
    assert (rej["action"] == "rejected").sum() == 0
    # the cover sheet skipped, named, and said so
    notes = rej[rej["field"] == "sheet"]["reason"].tolist()
    assert notes and "'封面'" in notes[0] and "名册" in notes[0]
    # formulas without saved values: one warning per row, naming the row and the field
    warn = rej[rej["reason"].str.contains("formula without a saved value")]
    assert sorted(warn["row"].astype(int).tolist()) == [2, 3, 4, 5]
    assert set(warn["field"]) == {"党员人数"}
    # with values saved, no warning
    _branch_workbook(path, formulas=False)
    layer = load_layer("branches", LayerInput(path=path))
    assert not layer.rejections["reason"].str.contains("formula").any()
    # a workbook with no table anywhere: the error names every sheet
    _branch_workbook(path, data=False)
    with pytest.raises(InputError) as info:
        load_layer("branches", LayerInput(path=path))
    text = str(info.value)
    assert "封面" in text and "名册" in text and "no data rows" in text and "no known column headers" in text
    assert str(path) in text
    # a sheet given by name that has no data: the error names that sheet
    with pytest.raises(InputError) as info:
        load_layer("branches", LayerInput(path=path, sheet="名册"))
    assert "sheet '名册'" in str(info.value)


def test_12_xlsx_upload_through_the_service(server, tmp_path):
    path = tmp_path / "branches.xlsx"
    _branch_workbook(path)
    with server.client("admin") as admin:
        r = upload(admin, "branches", path)
        assert r.status_code == 201, r.text
        rep = r.json()
        assert rep["sheet"] == "名册" and rep["accepted"] == 4 and rep["rejected"] == 0
        reasons = [x["reason"] for x in rep["rejections"]]
        assert any("封面" in x for x in reasons) and sum("formula" in x for x in reasons) == 4


# --------------------------------------------------------------------------- 13. branches export


def test_13_branches_export_has_each_column_once_translated(server, demo):
    from geo_planner.export import HEADERS

    run_id = demo["run_id"]
    with server.client("planner") as planner:
        for lang in ("en", "zh"):
            r = planner.get(f"/runs/{run_id}/exports/branches.csv", params={"language": lang})
            cols = list(pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", nrows=0).columns)
            assert not [c for c in cols if re.search(r"_[xy]$", str(c))], cols
            assert len(cols) == len(set(cols)), cols
            if lang == "en":
                en_cols = cols
            else:
                # every column geo_planner made has a Chinese header
                ours = [c for c in en_cols if c in {*HEADERS["branches"], *HEADERS["coverage_by_branch"]}]
                untranslated = [c for c in ours if c in cols]
                assert untranslated == [], untranslated
                assert "居住分散人数" in cols and "活动地点所在街道(乡镇)" in cols
        wb = openpyxl.load_workbook(io.BytesIO(planner.get(f"/runs/{run_id}/exports/branches.xlsx").content))
        head = [c.value for c in next(wb.active.iter_rows(max_row=1))]
        assert not [c for c in head if re.search(r"_[xy]$", str(c))] and len(head) == len(set(head))


# --------------------------------------------------------------------------- persistence: restart mid-run


def _descendants(pid: int) -> set[int]:
    """The process ids under ``pid`` (children, their children …), read from /proc."""
    parent: dict[int, int] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat_file.parent.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found.update(kids)
        todo.extend(kids)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie left for init to reap counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_restart_mid_run_fails_the_run_and_keeps_every_dataset(server, demo):
    """A real kill: SIGKILL the server while a run works; the worker dies with it; restart."""
    import signal

    with server.client("planner") as planner:
        r = planner.post("/runs", json=scenario_request(demo["reports"]))
        run_id = r.json()["id"]
        wait_mid_run(planner, run_id)
        datasets = {d["id"] for d in planner.get("/datasets").json()["datasets"]}
    workers = _descendants(server.proc.pid)
    assert workers, "the run's worker process was not found under the service"
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=30)
    server.proc = None
    # the worker (and the fork server it came from) did not outlive the service
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [p for p in workers if _alive(p)]:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], workers
    server.start()
    with server.client("planner") as planner:
        body = planner.get(f"/runs/{run_id}").json()
        assert body["status"] == "failed" and "interrupted" in body["error"], body
        assert {d["id"] for d in planner.get("/datasets").json()["datasets"]} == datasets
        assert planner.get(f"/runs/{demo['run_id']}/coverage").status_code == 200
        folder = server.data_dir / "runs" / run_id
        assert list(folder.iterdir()) == [] and not list((server.data_dir / "runs").glob(f".{run_id}.*"))
        # the same scenario runs again
        again = planner.post("/runs", json=scenario_request(demo["reports"], light=True)).json()
        body, _ = wait_run(planner, again["id"])
        assert body["status"] == "done", body


def test_upload_demo_still_works(server):
    """Sanity: an admin with a token uploads normally under the guard (and the limit)."""
    with server.client("admin") as admin:
        reports = upload_demo(admin)
    assert all(r["accepted"] > 0 for r in reports.values())
    assert math.isfinite(reports["members"]["size_bytes"])


@pytest.mark.parametrize("bad", [
    {"sensitivity_thresholds_min": [1e9]}, {"life_circle_tiers_min": [1e12]}, {"sensitivity_speed_factors": [1e6]},
    {"sensitivity_thresholds_min": [float("nan")]}, {"site_costs": {"x" * 1000: 1.0}}, {"site_costs": {"C1": 1e999}},
])
def test_1_decision_settings_are_bounded(bad):
    """The decision-support lists and costs are bounded like every other number (no unbounded cut-off)."""
    from geo_planner.settings import SitingSettings

    with pytest.raises(ValueError):
        SitingSettings(**bad)
