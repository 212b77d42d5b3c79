"""The planner's workspace in a real browser: Playwright driving Debian's headless Chromium against a real
uvicorn server on loopback (one server and one run for the module).

The flow a planner follows, on the demo tables with an XSS roster planted (a member named
``<img src=x onerror=alert(1)>`` and a branch named ``</script><script>alert(2)</script>``):
upload the four files through the upload page, start a run from the scenario form (a threshold
changed, a bad value refused first), watch it progress and finish, open the result, filter the map,
click a member and a recommendation, download the XLSX export and read it back; then a viewer finds no
name, address, member id or point anywhere. Every page runs no injected script (no dialog, no element
from the roster), raises no JavaScript error and asks nothing from outside 127.0.0.1.

Authentication: the browser signs in as a planner does, never with a bearer token: one test with the
password on ``/login``, one with a one-time link (``GET /auth/link/{code}``, the code made by the store's
``create_login_code`` as ``serve --demo`` does); the other tests reuse one signed-in session per role
(its cookies). No token or code is left in the address bar, and every state-changing request the pages
send (upload, start a run, cancel) carries the ``X-CSRF-Token`` header and works.

Screenshots of the main pages go to ``docs/screenshots/`` (the README's "For planners" section).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pandas as pd
import pytest

from ..support.accounts import WORKSPACE_PASSWORD, WORKSPACE_USERS, sign_in_with_password
from ..support.browser import Browser
from ..support.paths import DEMO
from ..support.servers import ApiServer, new_tokens, readable, wait_run

pytestmark = pytest.mark.browser

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_BRANCH = "</script><script>alert(2)</script>"
XSS_BRANCH_ID = "B11"  # referenced by id only in the demo's members table
PASSWORD = WORKSPACE_PASSWORD
USERS = WORKSPACE_USERS


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def roster(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's four tables with the XSS member and branch names planted."""
    folder = tmp_path_factory.mktemp("xss-roster")
    members = (DEMO / "members.csv").read_text(encoding="gb18030")
    members = re.sub(r"^M0001,[^,]*,", f"M0001,{XSS_NAME},", members, count=1, flags=re.M)
    (folder / "members.csv").write_bytes(members.encode("gb18030"))
    branches = (DEMO / "branches.csv").read_text(encoding="utf-8-sig")
    branches = re.sub(rf"^{XSS_BRANCH_ID},[^,]*,", f"{XSS_BRANCH_ID},{XSS_BRANCH},", branches, count=1, flags=re.M)
    (folder / "branches.csv").write_text(branches, encoding="utf-8-sig")
    for name in ("stations.xlsx", "hospitals.csv"):
        shutil.copyfile(DEMO / name, folder / name)
    return {p.stem: p for p in folder.iterdir()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    srv = ApiServer(tmp_path_factory.mktemp("workspace") / "data", new_tokens(), cache_dir).start()
    store = srv.store()
    try:
        for role, username in USERS.items():
            store.add_user(username, f"工作台{role}", role, PASSWORD)
    finally:
        store.close()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sessions(chromium_browser, server) -> dict[str, Any]:
    """One signed-in session per role (the cookies of a password sign-in), shared by the tests."""
    out = {}
    for role in USERS:
        b = sign_in_with_password(chromium_browser, server, role)
        try:
            out[role] = b.context.storage_state()
        finally:
            b.close()
    return out


@pytest.fixture(scope="module")
def uploaded(chromium_browser, server, sessions, roster) -> dict[str, Any]:
    """The four tables uploaded through the upload page (as the admin, signed in)."""
    b = Browser(chromium_browser, server, sessions["admin"])
    try:
        b.goto("/workspace/upload")
        b.page.page.set_input_files("#file-input", [str(roster[k]) for k in ("members", "branches", "stations",
                                                                             "hospitals")])
        b.wait("document.querySelectorAll('#pending tbody tr').length === 4 && "
               "document.querySelector('#pending tr[data-file=\"stations.xlsx\"] .sheet-select')")
        kinds = b.js("Array.from(document.querySelectorAll('#pending tbody tr')).map(tr => "
                     "[tr.dataset.file, tr.querySelector('.kind-select').value])")
        sheet = b.js("document.querySelector('#pending tr[data-file=\"stations.xlsx\"] .sheet-select').value")
        b.page.page.click("#upload-all")
        assert b.wait("window.gpUpload.done", 120)
        reports = b.js("window.gpUpload.reports")
        b.page.page.wait_for_timeout(200)
        b.shot("upload.png")
        table = b.js("Array.from(document.querySelectorAll('.report[data-kind=\"members\"] table.rejections tbody tr'))"
                     ".map(tr => Array.from(tr.cells).map(td => td.textContent))")
        with b.page.page.expect_download() as dl:
            b.page.page.click(".report[data-kind='members'] .problems-link")
        problems = Path(dl.value.path()).read_bytes()
        b.check_clean()
        uploads = [u for m, u, _h in b.writes() if m == "POST" and re.search(r"/datasets/\w+$", u)]
        assert len(uploads) == 4  # the four uploads went with the session and its CSRF header
        return {"kinds": dict(kinds), "sheet": sheet, "reports": reports, "table": table, "problems": problems}
    finally:
        b.close()


@pytest.fixture(scope="module")
def finished(chromium_browser, server, sessions, uploaded) -> dict[str, Any]:
    """A run started from the scenario form (a bad value refused first), watched until done."""
    b = Browser(chromium_browser, server, sessions["planner"])
    try:
        b.goto("/")
        b.wait("document.querySelector('.dataset-select[data-kind=\"members\"]').options.length > 0")
        page = b.page.page
        page.fill("input[name='name']", "工作台测试")
        page.check("input[name='network.osm'][value='guixi_jiangxi.osm']")
        page.check("input[name='network.osm'][value='nanjing_xuanwu.osm']")
        page.fill("input[name='geocode.default_region']", "江西省贵溪市")
        # a quick run, as a planner trying a roster sets it: no uncertainty draws, a short curve, no PDF
        page.fill("input[name='siting.sensitivity_draws']", "0")
        page.fill("input[name='siting.tradeoff_max_p']", "2")
        page.uncheck("input[name='report.pdf']")
        page.fill("input[name='thresholds.station_walk_min']", "0")  # refused by the same rules as POST /runs
        page.click("#start-run")
        assert b.wait("!document.getElementById('form-problems').hidden")
        problems = b.js("document.getElementById('form-problems').textContent")
        invalid = b.js("Array.from(document.querySelectorAll('.field.invalid')).map(f => f.dataset.field)")
        page.fill("input[name='thresholds.station_walk_min']", "12")
        page.click("#start-run")
        run_id = b.wait("(() => { const tr = document.querySelector('#runs tbody tr'); "
                        "return tr && tr.querySelector('td').textContent === '工作台测试' && tr.dataset.runId; })()")
        assert run_id
        seen = set()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = b.js(f"(() => {{ const tr = document.getElementById('run-{run_id}'); return tr && "
                          "[tr.dataset.status, !!tr.querySelector('progress'), tr.textContent]; })()")
            seen.add((status[0], status[1]))
            if status[0] in ("done", "failed", "cancelled"):
                break
            page.wait_for_timeout(250)
        b.shot("home.png")
        row = b.js(f"Array.from(document.getElementById('run-{run_id}').cells).map(td => td.textContent)")
        b.check_clean(allow=("/runs (422)",))  # the refused scenario
        assert [u for m, u, _h in b.writes() if m == "POST"] == [server.base_url + "/runs"] * 2
        return {"run_id": run_id, "status": status[0], "seen": seen, "problems": problems, "invalid": invalid,
                "row": row}
    finally:
        b.close()


# --------------------------------------------------------------------------- sign-in page and redirects


def test_pages_need_a_principal_and_login_page_is_served(server):
    with httpx.Client(base_url=server.base_url, follow_redirects=False) as anon:
        for path in ("/", "/workspace/upload", "/workspace/runs/run_x"):
            r = anon.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/login", (path, r.status_code)
        assert anon.get("/runs").status_code == 401  # the JSON API still answers 401
        page = anon.get("/login")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'lang="zh-CN"' in page.text and "登录" in page.text and 'id="login-form"' in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "http" not in csp  # no remote (or inline) script
        en = anon.get("/login", params={"lang": "en"})
        assert "Sign in" in en.text and en.cookies.get("gp_lang") == "en"
    with httpx.Client(base_url=server.base_url, cookies={"gp_lang": "en"}) as english:
        assert "Sign in" in english.get("/login").text
    with httpx.Client(base_url=server.base_url) as anon:
        lib = anon.get("/workspace/vendor/maplibre-gl-csp.js")
        assert lib.status_code == 200 and len(lib.content) > 100_000  # MapLibre from npm, served here
        assert anon.get("/workspace/vendor/package.json").status_code == 404  # only the listed files
    with server.client("viewer") as viewer:
        assert viewer.get("/workspace/upload").status_code == 403


def test_sign_in_with_password(chromium_browser, server):
    """The password on /login: a session cookie (HttpOnly, SameSite=Strict), the workspace, the user's name."""
    b = sign_in_with_password(chromium_browser, server, "planner")
    try:
        assert b.page.page.url == server.base_url + "/"
        cookies = {c["name"]: c for c in b.context.cookies()}
        assert cookies["gp_session"]["httpOnly"] and cookies["gp_session"]["sameSite"] == "Strict"
        assert not cookies["gp_csrf"]["httpOnly"]  # the pages' script reads it for the header
        assert b.wait("document.getElementById('who').textContent === '工作台planner'")
        assert PASSWORD not in " ".join(u for _m, u, _h in b.sent)  # the password went in a POST body only
        b.check_clean()
        wrong = Browser(chromium_browser, server)
        try:
            wrong.goto("/login")
            wrong.page.page.fill("#username", USERS["planner"])
            wrong.page.page.fill("#password", PASSWORD + "x")
            wrong.page.page.click("#login-form button[type='submit']")
            assert wrong.wait("!document.getElementById('login-error').hidden")
            assert wrong.page.page.url.endswith("/login") and "gp_session" not in {
                c["name"] for c in wrong.context.cookies()}
        finally:
            wrong.close()
    finally:
        b.close()


def test_sign_in_with_a_one_time_link(chromium_browser, server):
    """A one-time link signs in once and leaves no code in the address bar; a second use is refused."""
    store = server.store()
    try:
        code = store.create_login_code(USERS["admin"], 600)
    finally:
        store.close()
    b = Browser(chromium_browser, server)
    try:
        b.goto(f"/auth/link/{code}")
        assert b.page.page.url == server.base_url + "/"  # no code left in the address bar
        assert code not in b.js("window.location.href + document.documentElement.outerHTML")
        assert b.wait("document.getElementById('who').textContent === '工作台admin'")
        b.check_clean()
    finally:
        b.close()
    with httpx.Client(base_url=server.base_url, follow_redirects=False) as anon:
        assert anon.get(f"/auth/link/{code}").status_code == 410  # the code died when used


# --------------------------------------------------------------------------- upload


def test_upload_page_shows_import_reports_and_problem_rows(uploaded):
    assert uploaded["kinds"] == {"members.csv": "members", "branches.csv": "branches",
                                 "stations.xlsx": "stations", "hospitals.csv": "hospitals"}
    assert uploaded["sheet"] == "驿站"  # the workbook's sheet, read before the upload
    by_kind = {r["kind"]: r for r in uploaded["reports"]}
    assert set(by_kind) == {"members", "branches", "stations", "hospitals"}
    m = by_kind["members"]
    assert (m["n_read"], m["accepted"], m["rejected"]) == (712, 711, 1)
    assert m["branches_dataset"] == by_kind["branches"]["id"]  # branches went first, members checked against them
    assert by_kind["stations"]["sheet"] == "驿站" and by_kind["stations"]["accepted"] == 7
    rows = {r[1] for r in uploaded["table"]}
    assert any("duplicate id 'M0001'" in r[4] for r in uploaded["table"]) and "709" in rows
    wb = openpyxl.load_workbook(io.BytesIO(uploaded["problems"]), read_only=True)
    cells = [tuple(row) for row in wb.worksheets[0].iter_rows(values_only=True)]
    assert cells[0][:5] == ("行号", "问题字段", "问题值", "问题原因", "处理") and "姓名" in cells[0]
    assert len(cells) - 1 == len(uploaded["table"])  # one row per problem
    dup = next(r for r in cells[1:] if str(r[0]) == "709")
    assert dup[cells[0].index("编号")] == "M0001" and dup[cells[0].index("姓名")] == "重复编号"  # the row as written


def test_files_dropped_on_the_page_are_listed(chromium_browser, server, sessions, roster):
    """A drop (DataTransfer with files, as a file manager makes it) lists the files with their guessed layer."""
    b = Browser(chromium_browser, server, sessions["admin"])
    try:
        b.goto("/workspace/upload")
        text = roster["hospitals"].read_text(encoding="utf-8-sig")
        dt = b.page.page.evaluate_handle(
            "(text) => { const dt = new DataTransfer(); dt.items.add(new File([text], '定点医院.csv', "
            "{type: 'text/csv'})); dt.items.add(new File([text], 'branches-2026.csv')); return dt; }", text)
        b.page.page.dispatch_event("#drop", "dragover", {"dataTransfer": dt})
        assert b.js("document.getElementById('drop').classList.contains('over')")
        b.page.page.dispatch_event("#drop", "drop", {"dataTransfer": dt})
        rows = b.wait("(() => { const r = Array.from(document.querySelectorAll('#pending tbody tr')); return r.length === 2 "
                      "&& r.map(tr => [tr.dataset.file, tr.querySelector('.kind-select').value]); })()")
        assert rows == [["定点医院.csv", "hospitals"], ["branches-2026.csv", "branches"]]
        assert not b.js("document.getElementById('upload-all').disabled")
        b.check_clean()
    finally:
        b.close()


# --------------------------------------------------------------------------- run from the form


def test_run_started_from_the_form_progresses_and_finishes(server, finished):
    assert "station_walk_min" in finished["problems"]
    assert finished["invalid"] == ["thresholds.station_walk_min"]
    assert finished["status"] == "done", (finished, server.log()[-3000:])
    assert ("running", True) in finished["seen"] or ("queued", True) in finished["seen"]  # live progress shown
    assert finished["row"][1] == "已完成" and finished["row"][4] == "711"
    with server.client("planner") as planner:
        run = planner.get(f"/runs/{finished['run_id']}").json()
        request = planner.get(f"/runs/{finished['run_id']}/request").json()
    assert run["thresholds"]["station_walk_min"] == 12  # the threshold set in the form
    # the integer and checkbox fields of the form reach the scenario too
    assert request["siting"]["sensitivity_draws"] == 0 and request["siting"]["tradeoff_max_p"] == 2
    assert request["report"]["pdf"] is False
    assert run["osm"] == ["guixi_jiangxi.osm", "nanjing_xuanwu.osm"]
    share = run["summary"]["covered_station"] / run["summary"]["members"]
    assert finished["row"][5] == f"{100 * share:.1f}%"


def test_cancel_from_the_runs_list(chromium_browser, server, sessions, finished):
    with server.client("planner") as planner:
        body = planner.get(f"/runs/{finished['run_id']}").json()
        req = {"name": "取消测试", "network": {"osm": body["osm"]},
               "inputs": {k: {"dataset": v} for k, v in body["inputs"].items()}}
        run_id = planner.post("/runs", json=req).json()["id"]
    b = Browser(chromium_browser, server, sessions["planner"])
    try:
        b.goto("/")
        assert b.wait(f"document.querySelector('#run-{run_id} button.cancel')")
        b.page.page.click(f"#run-{run_id} button.cancel")
        assert b.wait(f"document.getElementById('run-{run_id}').dataset.status === 'cancelled'")
        b.check_clean()  # the cancel went with the CSRF header
        assert [u for m, u, _h in b.writes()] == [f"{server.base_url}/runs/{run_id}/cancel"]
    finally:
        b.close()
    with server.client("planner") as planner:
        assert planner.get(f"/runs/{run_id}").json()["status"] == "cancelled"


# --------------------------------------------------------------------------- the result, as a planner


def test_result_page_planner(chromium_browser, server, sessions, finished, tmp_path):
    run_id = finished["run_id"]
    with server.client("planner") as planner:
        members = pd.read_csv(io.BytesIO(planner.get(f"/runs/{run_id}/exports/members.csv",
                                                     params={"language": "en"}).content),
                              encoding="utf-8-sig", dtype={"id": str, "branch_id": str})
    placed = members[members["lon"].notna()]
    b = Browser(chromium_browser, server, sessions["planner"])
    try:
        b.goto(f"/workspace/runs/{run_id}")
        ready = b.wait("window.gpReady || window.gpFailed", 60)
        assert isinstance(ready, dict), ready
        assert ready["members"] == len(placed)
        assert b.wait("window.gpState.tables && window.gpState.baseMap", 60)
        # one WebGL canvas, no DOM element per member
        assert b.js("document.querySelectorAll('#map canvas.maplibregl-canvas').length") == 1
        assert b.js("!!document.querySelector('#map canvas').getContext('webgl2')")
        assert b.js("document.querySelectorAll('.maplibregl-marker').length") == 0
        assert b.js("gpState.pointLayer.count") == len(placed)
        # the points are on the canvas: the map with and without the members' layer differs
        box = b.page.page.locator("#map").bounding_box()
        shown = b.page.page.screenshot(clip=box)
        b.js("gpState.pointLayer.setIndices(() => false)")
        b.page.page.wait_for_timeout(300)
        hidden = b.page.page.screenshot(clip=box)
        b.js("gpState.pointLayer.setIndices(null)")
        assert changed_pixels(shown, hidden) > 2000
        b.shot("result_planner.png")

        # filter the map by branch: the count and the drawn points follow
        code = b.js("gpState.members.labels.branch.indexOf('B01')")
        b.page.page.select_option("#f-branch", str(code))
        want = int((placed["branch_id"] == "B01").sum())
        assert b.wait(f"document.getElementById('shown-count').textContent === '{want}'")
        b.page.page.wait_for_timeout(300)
        drawn = b.js("Array.from(gpState.pointLayer.indices).map(i => gpState.members.branch[i])")
        assert len(drawn) == want and set(drawn) == {code}
        reason = b.js("gpState.members.reason_codes.indexOf('remote')")
        assert reason >= 0
        b.page.page.select_option("#f-branch", "")
        b.page.page.select_option("#f-reason", "remote")
        remote = int(placed["dispersion_reason"].fillna("").str.contains("remote").sum())
        assert b.wait(f"document.getElementById('shown-count').textContent === '{remote}'")
        b.page.page.select_option("#f-reason", "")

        # open a recommendation from the table: the row is marked, the map shows its place
        first = b.js("document.querySelector('#t-recs tbody tr').dataset.recId")
        b.page.page.click(f"#rec-{first}")
        assert b.js(f"document.getElementById('rec-{first}').classList.contains('hl')")
        hl = b.wait("window.gpState.highlighted")
        assert hl == b.js(f"gpState.recs.features.find(f => f.properties.rec_id === '{first}').geometry.coordinates")
        assert b.js("window.gpState.openedRec") == first
        rationale = b.js(f"document.getElementById('rec-{first}').cells[5].textContent")
        assert "建议" in rationale or "驿站" in rationale or "支部" in rationale

        # click the XSS member on the map: details as text, nothing run
        b.js("(() => { document.getElementById('map').scrollIntoView(); "
             "const m = gpState.members; const i = m.id.indexOf('M0001'); gpMap.jumpTo({center: [m.lon[i], m.lat[i]], zoom: 18}); })()")
        b.page.page.wait_for_timeout(800)
        xy = b.js("(() => { const m = gpState.members; const i = m.id.indexOf('M0001'); "
                  "const p = gpMap.project([m.lon[i], m.lat[i]]); const r = gpMap.getCanvas().getBoundingClientRect(); "
                  "return [r.left + p.x, r.top + p.y]; })()")
        b.page.page.mouse.click(xy[0], xy[1])
        name = b.wait("(() => { const td = document.querySelector('#member-details td[data-key=\"name\"]'); "
                      "return td && td.textContent; })()")
        assert name == XSS_NAME

        # the XSS branch name in the branches table, as text
        b.page.page.click("#tabs button[data-tab='branches']")
        assert b.js(f"document.getElementById('branch-{XSS_BRANCH_ID}').cells[1].textContent") == XSS_BRANCH
        b.page.page.click("#tabs button[data-tab='dispersed']")
        assert b.js("document.querySelectorAll('#t-dispersed tbody tr').length") == int(
            members["dispersed"].astype(str).str.lower().eq("true").sum())

        # the location review list: members placed only to a township or county, or not at all
        b.page.page.click("#tabs button[data-tab='review']")
        coarse = int((members["geocode_precision"].isin(["township", "county"]) | members["lon"].isna()).sum())
        assert coarse >= 1 and b.js("document.querySelectorAll('#t-review tbody tr').length") == coarse

        # download the XLSX export of the members and read it back
        b.page.page.click("#tabs button[data-tab='downloads']")
        with b.page.page.expect_download() as dl:
            b.page.page.click("a.export[data-table='members'][data-format='xlsx']")
        wb = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()), read_only=True)
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
        assert "姓名" in rows[0] and len(rows) - 1 == len(members)
        assert XSS_NAME in {r[rows[0].index("姓名")] for r in rows[1:]}
        b.check_clean()
    finally:
        b.close()


def test_manual_placement_from_the_review_list(chromium_browser, server, sessions, finished):
    """A planner places a member of the review list by clicking the map; a later run places the member
    there with ``geocode_precision = manual`` (kept by member id and address text) and no longer lists
    them for review."""
    run_id = finished["run_id"]
    b = Browser(chromium_browser, server, sessions["planner"])
    try:
        b.goto(f"/workspace/runs/{run_id}")
        assert isinstance(b.wait("window.gpReady || window.gpFailed", 60), dict)
        assert b.wait("window.gpState.tables", 60)
        page = b.page.page
        page.click("#tabs button[data-tab='review']")
        mid = b.wait("(() => { const tr = document.querySelector('#t-review tbody tr[data-member-id]'); "
                     "return tr && tr.dataset.memberId; })()")
        assert mid
        page.click(f"#review-{mid} button.place")
        assert b.js("document.getElementById('map').classList.contains('placing')")
        page.wait_for_timeout(500)
        box = page.locator("#map canvas.maplibregl-canvas").bounding_box()
        x, y = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.6
        want = b.js(f"(() => {{ const r = gpMap.getCanvas().getBoundingClientRect(); "
                    f"const p = gpMap.unproject([{x} - r.left, {y} - r.top]); return [p.lng, p.lat]; }})()")
        page.mouse.click(x, y)
        assert b.wait(f"document.getElementById('review-{mid}').dataset.placed === 'manual'")
        assert b.js(f"document.getElementById('review-{mid}').cells[4].textContent") == "manual"
        b.check_clean()
        assert [(m, u.split("/runs/", 1)[1]) for m, u, _h in b.writes()] == [("PUT", f"{run_id}/members/{mid}/placement")]
        placed = json.loads(b.bodies[f"{server.base_url}/runs/{run_id}/members/{mid}/placement"])
        # the point kept is where the click landed (a pixel or two from the fractional point asked for)
        assert abs(placed["lon"] - want[0]) < 1e-3 and abs(placed["lat"] - want[1]) < 1e-3
        assert placed["by"] == USERS["planner"] and placed["geocode_precision"] == "manual"
    finally:
        b.close()
    with server.client("planner") as planner:
        body = planner.get(f"/runs/{run_id}").json()
        req = {"name": "人工标注后", "network": {"osm": body["osm"]}, "thresholds": {"station_walk_min": 12},
               "geocode": {"default_region": "江西省贵溪市"},
               "inputs": {k: {"dataset": v} for k, v in body["inputs"].items()},
               # what is checked is where the member is placed: no sensitivity draws, curve or PDF
               "siting": {"sensitivity_draws": 0, "tradeoff_max_p": 2}, "report": {"pdf": False}}
        r = planner.post("/runs", json=req)
        assert r.status_code == 202, r.text
        again, _seen = wait_run(planner, r.json()["id"])
        assert again["status"] == "done", (again, server.log()[-3000:])
        members = pd.read_csv(io.BytesIO(planner.get(f"/runs/{again['id']}/exports/members.csv",
                                                     params={"language": "en"}).content),
                              encoding="utf-8-sig", dtype={"id": str})
        review = planner.get(f"/runs/{again['id']}/review").json()["members"]
    row = members[members["id"] == mid].iloc[0]
    assert row["geocode_precision"] == "manual"
    assert abs(row["lon"] - placed["lon"]) < 1e-6 and abs(row["lat"] - placed["lat"]) < 1e-6
    assert mid not in {str(m["id"]) for m in review}
    assert (members["geocode_precision"] == "manual").sum() == 1  # only that member


def test_placement_by_a_named_place(chromium_browser, server, sessions, finished):
    """A planner places a member of the review list by picking a named place of the run's extracts (the
    geocoder's gazetteer): candidates come with their precision, the pick is kept as ``manual``."""
    run_id = finished["run_id"]
    b = Browser(chromium_browser, server, sessions["planner"])
    try:
        b.goto(f"/workspace/runs/{run_id}")
        assert b.wait("window.gpState.tables", 60)
        page = b.page.page
        page.click("#tabs button[data-tab='review']")
        mid = b.wait("(() => { const tr = document.querySelector('#t-review tbody tr[data-member-id]:not(.placed)'); "
                     "return tr && tr.dataset.memberId; })()")
        assert mid
        page.click(f"#review-{mid} button.name-place")
        assert b.js("!document.getElementById('place-search').hidden")
        page.fill("#place-q", "花园社区")
        page.click("#place-search button[type='submit']")
        assert b.wait("document.querySelectorAll('#place-results .place-candidate').length > 0", 90)
        first = b.js("(() => { const li = document.querySelector('#place-results .place-candidate'); "
                     "return [li.querySelector('b').textContent, li.dataset.precision, li.textContent]; })()")
        assert first[:2] == ["花园社区", "community"] and "社区/村" in first[2] and "花园街道" in first[2]
        b.shot("review-place-search.png")
        page.click("#place-results .place-candidate button.pick-place")
        assert b.wait(f"document.getElementById('review-{mid}').dataset.placed === 'manual'")
        b.check_clean()
        places = b.js("window.gpPlaces.places")
        assert [(m, u.split("/runs/", 1)[1]) for m, u, _h in b.writes()] == [("PUT", f"{run_id}/members/{mid}/placement")]
        placed = json.loads(b.bodies[f"{server.base_url}/runs/{run_id}/members/{mid}/placement"])
        assert (placed["lon"], placed["lat"]) == (places[0]["lon"], places[0]["lat"])
        assert placed["geocode_precision"] == "manual" and placed["by"] == USERS["planner"]
    finally:
        b.close()
    with server.client("planner") as planner, server.client("viewer") as viewer:
        assert viewer.get(f"/runs/{run_id}/places", params={"q": "花园"}).status_code == 403
        assert planner.get(f"/runs/{run_id}/places", params={"q": ""}).status_code == 422
        r = planner.get(f"/runs/{run_id}/places", params={"q": "八一医院", "limit": 2})
        assert r.status_code == 200 and r.json()["places"][0]["precision"] == "poi" and len(r.json()["places"]) <= 2
        assert planner.get("/runs/run_nope/places", params={"q": "花园"}).status_code == 404


def test_english_switch(chromium_browser, server, sessions, finished):
    b = Browser(chromium_browser, server, sessions["planner"])
    try:
        b.goto(f"/workspace/runs/{finished['run_id']}?lang=en")
        assert b.wait("window.gpState.tables", 90)
        assert b.js("document.documentElement.lang") == "en"
        assert "Members" in b.js("document.getElementById('headline').innerText")
        b.goto("/")  # the choice is remembered (cookie)
        assert "Runs" in b.js("document.querySelector('h1').innerText")
        b.check_clean()
    finally:
        b.close()


# --------------------------------------------------------------------------- the result, as a viewer


def test_viewer_sees_no_name_address_or_point(chromium_browser, server, sessions, finished):
    run_id = finished["run_id"]
    raw = pd.read_csv(DEMO / "members.csv", encoding="gb18030", dtype=str)
    public = (DEMO / "branches.csv").read_text(encoding="utf-8-sig") + (DEMO / "hospitals.csv").read_text(
        encoding="utf-8-sig")
    names = {n for n in raw["姓名"].dropna() if len(n) >= 2 and n not in public} | {XSS_NAME}
    addresses = {a for a in raw["家庭住址"].dropna() if len(a) >= 6}
    points = {s for s in pd.concat([raw["经度"], raw["纬度"]]).dropna() if re.fullmatch(r"\d+\.\d{5,}", s)}
    points -= set(re.findall(r"\d+\.\d{5,}", public))
    name_re = re.compile("|".join(sorted(map(re.escape, names), key=len, reverse=True)))
    b = Browser(chromium_browser, server, sessions["viewer"])
    try:
        b.goto("/")
        assert b.wait("document.querySelectorAll('#runs tbody tr').length > 0")
        b.goto(f"/workspace/runs/{run_id}")
        ready = b.wait("window.gpReady || window.gpFailed", 60)
        assert isinstance(ready, dict) and ready["members"] == 0 and ready["cells"] > 0, ready
        assert b.wait("window.gpState.tables", 60)
        b.shot("result_viewer.png")
        b.page.page.click("#tabs button[data-tab='downloads']")
        html = readable(b.js("document.documentElement.outerHTML"))
        texts = {"page": html, **{u: readable(t) for u, t in b.bodies.items()}}
        assert not [u for u in b.page.urls if re.search(r"/layers/members|/dispersed|/members/", u)]
        assert "members.xlsx" not in html  # no members export offered
        for key, text in texts.items():
            found = name_re.search(text)
            assert not found, (key, found.group(0))
            assert not re.search(r"\bM\d{4}\b", text), key
            assert not [a for a in addresses if a in text], key
            assert not [p for p in points if p in text], key
        grid = b.js("gpState.grid.features.map(f => f.properties.count)")
        assert grid and min(grid) >= 5  # the small-cell rule: no cell of 1–4 people
        b.check_clean()
    finally:
        b.close()
    with server.client("viewer") as viewer:
        for path in ("layers/members", "dispersed", "members/M0002", "review"):
            assert viewer.get(f"/runs/{run_id}/{path}").status_code == 403, path
        assert viewer.get(f"/datasets/{uploaded_members_id(server)}/problems.xlsx").status_code == 403


# --------------------------------------------------------------------------- the admin page


def test_admin_page_manages_users_and_lists_the_audit_log(chromium_browser, server, sessions, uploaded):
    """An admin adds a user (a display name that is markup shows as text), changes the role, resets the
    password (the user signs in with the new one), disables the user; the audit log is listed and its
    CSV downloads. Planners and viewers are refused the page."""
    xss = "<img src=x onerror=alert(3)>"
    b = Browser(chromium_browser, server, sessions["admin"])
    try:
        b.goto("/workspace/admin")
        assert b.wait("window.gpAdminReady", 30) is True
        listed = b.js("Array.from(document.querySelectorAll('#users tbody tr')).map(tr => tr.dataset.username)")
        assert set(USERS.values()) <= set(listed)
        page = b.page.page
        page.fill("#add-user input[name='username']", "ws_new")
        page.fill("#add-user input[name='display_name']", xss)
        page.select_option("#add-user select[name='role']", "viewer")
        page.fill("#add-user input[name='password']", PASSWORD)
        page.click("#add-user button[type='submit']")
        assert b.wait("document.getElementById('user-ws_new')")
        assert b.js("document.getElementById('user-ws_new').cells[1].textContent") == xss
        page.select_option("#user-ws_new .role-select", "planner")
        assert b.wait("document.getElementById('user-ws_new').dataset.role === 'planner'")
        page.fill("#user-ws_new .new-password", PASSWORD + "-new")
        page.click("#user-ws_new button.reset")
        assert b.wait("document.getElementById('admin-message').textContent.startsWith('密码已重置')")
        with httpx.Client(base_url=server.base_url) as c:
            assert c.post("/auth/login", json={"username": "ws_new", "password": PASSWORD}).status_code == 401
            signed = c.post("/auth/login", json={"username": "ws_new", "password": PASSWORD + "-new"})
            assert signed.status_code == 200 and signed.json()["role"] == "planner"
        page.click("#user-ws_new button.disable")
        assert b.wait("document.getElementById('user-ws_new').dataset.disabled === 'true'")
        with httpx.Client(base_url=server.base_url) as c:
            assert c.post("/auth/login", json={"username": "ws_new", "password": PASSWORD + "-new"}).status_code == 401
        # the audit log: the upload's problem rows were downloaded by the admin (member-level data)
        audit = b.js("Array.from(document.querySelectorAll('#audit tbody tr')).map(tr => "
                     "Array.from(tr.cells).map(td => td.textContent))")
        assert any(r[1] == USERS["admin"] and r[5] == "problem_rows" for r in audit), audit
        with page.expect_download() as dl:
            page.click("#audit-csv")
        csv_text = Path(dl.value.path()).read_bytes().decode("utf-8")
        assert csv_text.startswith("\ufefftime,actor,") and "problem_rows" in csv_text
        b.shot("admin.png")
        b.check_clean()
        assert {u.rsplit("/", 1)[-1] for m, u, _h in b.writes()} >= {"users", "ws_new"}  # POST and PATCHes, CSRF
    finally:
        b.close()
    for role in ("planner", "viewer"):
        other = Browser(chromium_browser, server, sessions[role])
        try:
            assert other.page.page.request.get(server.base_url + "/workspace/admin").status == 403
            other.goto("/")
            assert other.js("document.getElementById('nav-admin') === null && !!document.getElementById('nav-home')")
        finally:
            other.close()


def changed_pixels(a: bytes, b: bytes) -> int:
    """Number of pixels that differ between two PNG screenshots of the same size."""
    import numpy as np
    from PIL import Image

    x = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.int16)
    y = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.int16)
    return int((np.abs(x - y).sum(axis=2) > 30).sum())


def uploaded_members_id(server: ApiServer) -> str:
    """The id of the members dataset uploaded through the page."""
    with server.client("admin") as admin:
        return next(d["id"] for d in admin.get("/datasets").json()["datasets"] if d["kind"] == "members")
