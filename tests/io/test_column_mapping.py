"""Correcting the header match (issue #18, upload step 2): the importer's own match, a planner's corrections
(``LayerInput.columns``) validated and used by the import, kept with the dataset, given back to a re-upload
of the same layout and used by the runs that read it.

The roster is the demo's members table (members on the 贵溪 and the 南京 extracts) with two headers
written as no alias knows them (``人员代码`` for the id, ``人员类型`` for 离退休类别), as a county
office's own template does. The API tests drive the real app in-process (Starlette's TestClient on a store
in a temporary folder); the page test, whose browser needs a socket, gets the app served by uvicorn from a
thread of the test process (:mod:`tests.support.threaded`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from geo_planner.errors import InputError
from geo_planner.io import IGNORE, layer_fields, load_layer, match_columns, propose_columns
from geo_planner.io.problems import column_choices
from geo_planner.settings import LayerInput
from geo_planner.store import Store
from geo_planner.store.scenario import scenario_from_request

from ..support.inprocess import InProcessServer
from ..support.paths import DEMO, ROOT
from ..support.servers import new_tokens

#: The corrections that make the county template readable.
FIX = {"人员代码": "id", "人员类型": "status"}


#: Branches written the short way in the first three rows (issue #19): two by similarity, one by its key.
SHORT_BRANCHES = (("M0001", ",B01,", ",机关离退休一支部,", "fuzzy"),
                  ("M0002", "贵溪市委机关离退休第一党支部", "市委机关离退休干部第一党支部", "fuzzy"),
                  ("M0003", ",B01,", ",教育局离退休党支部,", "key"))


def county_roster(folder: Path, *, name: str = "花名册.csv", short: bool = False, extra: bool = False) -> Path:
    """The demo's members with 编号 → 人员代码 and 离退休类别 → 人员类型 (GB18030, as saved by Excel); with
    ``short`` the first three members' branches written the short way; ``extra``: 备注 → 说明."""
    text = (DEMO / "members.csv").read_text(encoding="gb18030")
    lines = text.split("\n")
    lines[0] = lines[0].replace("编号", "人员代码").replace("离退休类别", "人员类型")
    if extra:
        lines[0] = lines[0].replace("备注", "说明")
    if short:
        for i, (_mid, old, new, _how) in enumerate(SHORT_BRANCHES, start=1):
            assert old in lines[i]
            lines[i] = lines[i].replace(old, new, 1)
    path = folder / name
    path.write_bytes("\n".join(lines).encode("gb18030"))
    return path


@pytest.fixture(scope="module")
def demo_members() -> pd.DataFrame:
    return load_layer("members", LayerInput(path=DEMO / "members.csv")).frame


# --------------------------------------------------------------------------- library


def test_the_importer_match_header_by_header() -> None:
    proposed = propose_columns(["序号", "人员编号", "姓名", "人员代码", "备注", "家庭住址"], "members")
    # the weak 序号 gives way to 人员编号; unknown headers have no field
    assert proposed == {"序号": None, "人员编号": "id", "姓名": "name", "人员代码": None, "备注": None,
                        "家庭住址": "address"}
    assert propose_columns(["序号", "姓名"], "members")["序号"] == "id"  # alone, 序号 is the id
    assert match_columns(list(proposed), "members") == {k: v for k, v in proposed.items() if v}
    assert "branch" in layer_fields("members") and "branch" not in layer_fields("stations")


def test_corrected_mapping_reads_the_county_template(tmp_path: Path, demo_members: pd.DataFrame) -> None:
    path = county_roster(tmp_path)
    with pytest.raises(InputError, match="missing required column 'id'"):
        load_layer("members", LayerInput(path=path))  # without the correction nothing identifies a member
    res = load_layer("members", LayerInput(path=path, columns=FIX))
    assert res.info["column_map"]["人员代码"] == "id" and res.info["column_map"]["人员类型"] == "status"
    assert res.info["column_override"] == FIX and res.info["headers"][0] == "人员代码"
    # the same members as the demo's own table, on both extracts (贵溪 and 南京)
    assert res.info["n_accepted"] == len(demo_members) == 711
    assert res.frame["id"].tolist() == demo_members["id"].tolist()
    assert res.frame["status"].tolist() == demo_members["status"].tolist()
    assert (res.frame["lat"] > 31).any() and (res.frame["lat"] < 29).any()  # 南京 and 贵溪 members


def test_ignore_keeps_the_column_as_written(tmp_path: Path) -> None:
    path = county_roster(tmp_path)
    res = load_layer("members", LayerInput(path=path, columns={**FIX, "出生年月": IGNORE}))
    assert "出生年月" not in res.info["column_map"]
    assert (res.frame["birth"] == "").all()  # no field …
    assert res.frame["出生年月"].iloc[0] == "1948年10月"  # … and nothing dropped: kept as an extra column


def test_a_wrong_mapping_names_the_file_and_the_header(tmp_path: Path) -> None:
    path = county_roster(tmp_path)
    with pytest.raises(InputError) as err:
        load_layer("members", LayerInput(path=path, columns={**FIX, "备注": "hobby"}))
    (problem,) = err.value.problems
    assert problem.file == str(path) and problem.field == "备注" and "unknown field 'hobby'" in problem.reason
    assert "ignore" in problem.reason and "branch" in problem.reason  # says what is valid
    with pytest.raises(InputError) as err:
        load_layer("members", LayerInput(path=path, columns={**FIX, "电子邮箱": "phone"}))
    assert err.value.problems[0].field == "电子邮箱" and "does not have" in err.value.problems[0].reason
    with pytest.raises(InputError) as err:  # two headers on one field
        load_layer("members", LayerInput(path=path, columns={**FIX, "备注": "name"}))
    (problem,) = err.value.problems
    assert problem.field == "姓名" and "'姓名', '备注' all mean 'name'" in problem.reason
    with pytest.raises(InputError, match="all mean 'branch'"):  # a station's field is no member's field
        load_layer("members", LayerInput(path=path, columns={**FIX, "备注": "branch"}))


def test_column_choices_show_auto_and_corrected_fields(tmp_path: Path) -> None:
    path = county_roster(tmp_path)
    choices, fields = column_choices(path, "members", overrides={"人员代码": "id", "备注": IGNORE})
    by = {c.header: c for c in choices}
    assert [c.header for c in choices][:3] == ["人员代码", "姓名", "人员类型"]
    assert (by["人员代码"].auto, by["人员代码"].field) == (None, "id")
    assert (by["姓名"].auto, by["姓名"].field) == ("name", "name")
    assert (by["备注"].auto, by["备注"].field) == (None, None)
    assert fields == list(layer_fields("members"))
    # a GeoJSON/XLSX file too: the stations workbook's sheet
    choices, _ = column_choices(DEMO / "stations.xlsx", "stations", sheet="驿站")
    assert {c.auto for c in choices} >= {"name", "lon", "lat"}


# --------------------------------------------------------------------------- the store


def test_store_keeps_the_corrections_for_the_same_layout_and_its_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    try:
        branches = store.import_dataset("branches", "branches.csv", DEMO / "branches.csv")
        first = store.import_dataset("members", "花名册.csv", county_roster(tmp_path), columns=FIX)
        assert first.columns == FIX and first.layer_input().columns == FIX and first.n_accepted == 711
        # next year's roster, same layout: the corrections come back without being sent
        again = store.import_dataset("members", "花名册2027.csv", county_roster(tmp_path, name="b.csv"))
        assert again.columns == FIX and again.report["info"]["column_override_from"] == first.id
        assert any(first.id in n for n in again.report["info"]["notes"])
        choices, _fields, source = store.header_choices("members", county_roster(tmp_path, name="c.csv"))
        assert source == again.id and {c.header: c.field for c in choices}["人员代码"] == "id"  # the latest
        # another layout gets nothing; an explicit {} means none (and this file cannot be read without)
        other = store.import_dataset("members", "members.csv", DEMO / "members.csv")
        assert other.columns is None and other.report["info"]["column_override_from"] is None
        with pytest.raises(InputError, match="missing required column 'id'"):
            store.import_dataset("members", "花名册.csv", county_roster(tmp_path, name="d.csv"), columns={})
        # a run reading the dataset reads it with the corrections
        stations = store.import_dataset("stations", "stations.xlsx", DEMO / "stations.xlsx", sheet="驿站")
        inputs = {"members": {"dataset": again.id}, "branches": {"dataset": branches.id},
                  "stations": {"dataset": stations.id}}
        request = {"name": "t", "inputs": inputs,
                   "network": {"osm": ["guixi_jiangxi.osm", "nanjing_xuanwu.osm"]}}
        scenario = scenario_from_request(request, store.get_dataset, osm_dir=ROOT / "data" / "osm")
        assert scenario.inputs.members.columns == FIX and scenario.inputs.branches.columns is None
        assert load_layer("members", scenario.inputs.members).info["n_accepted"] == 711
    finally:
        store.close()


# --------------------------------------------------------------------------- the API and the page


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[InProcessServer]:
    """Functional API tests need no socket: the app in-process, with the demo's branches imported."""
    srv = InProcessServer(tmp_path_factory.mktemp("columns-api") / "data", new_tokens(), cache_dir).start()
    try:
        store = srv.store()
        try:
            store.import_dataset("branches", "branches.csv", DEMO / "branches.csv")
        finally:
            store.close()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    """A live service for the browser test (the page needs a real socket): uvicorn in a thread."""
    from ..support.accounts import WORKSPACE_PASSWORD as PASSWORD
    from ..support.accounts import WORKSPACE_USERS as USERS
    from ..support.threaded import ThreadedServer

    srv = ThreadedServer(tmp_path_factory.mktemp("columns") / "data", new_tokens(), cache_dir).start()
    try:
        store = srv.store()
        for role, username in USERS.items():
            store.add_user(username, f"表头{role}", role, PASSWORD)
        store.import_dataset("branches", "branches.csv", DEMO / "branches.csv")
        yield srv
    finally:
        srv.stop()


def _post(client, route: str, path: Path, **form: str):  # noqa: ANN001, ANN202 - httpx
    with open(path, "rb") as fh:
        return client.post(route, files={"file": (path.name, fh)}, data=form)


def test_api_shows_the_match_and_takes_corrections(api: InProcessServer, tmp_path: Path) -> None:
    path = county_roster(tmp_path)
    with api.client("admin") as admin, api.client("planner") as planner:
        r = _post(admin, "/datasets/members/columns", path)
        assert r.status_code == 200, r.text
        cols = r.json()
        by = {h["header"]: h for h in cols["headers"]}
        assert by["人员代码"] == {"header": "人员代码", "auto": None, "field": None}
        assert by["姓名"]["auto"] == "name" and by["家庭住址"]["field"] == "address"
        assert "id" in cols["fields"] and cols["labels"]["name"] == "姓名" and cols["remembered_from"] is None
        assert _post(planner, "/datasets/members/columns", path).status_code == 403  # uploads are the admin's
        r = _post(admin, "/datasets/stations/columns", DEMO / "stations.xlsx", sheet="驿站")  # a workbook's sheet
        assert r.status_code == 200 and {h["auto"] for h in r.json()["headers"]} >= {"name", "lon", "lat"}
        # without the corrections the file cannot be read; a bad mapping is refused naming file and header
        r = _post(admin, "/datasets/members", path)
        assert r.status_code == 422 and "missing required column 'id'" in r.text
        r = _post(admin, "/datasets/members", path, columns='{"人员代码": "id", "人员类型": "hobby"}')
        assert r.status_code == 422
        (problem,) = r.json()["problems"]
        assert (problem["file"], problem["field"]) == ("花名册.csv", "人员类型") and "hobby" in problem["reason"]
        r = _post(admin, "/datasets/members", path, columns='["人员代码"]')
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "columns"
        r = _post(admin, "/datasets/members", path, columns=json.dumps({**FIX, "备注": "name"}))
        assert r.status_code == 422 and "all mean 'name'" in r.text
        assert [d for d in admin.get("/datasets", params={"kind": "members"}).json()["datasets"]] == []
        r = _post(admin, "/datasets/members", path, columns=json.dumps(FIX))
        assert r.status_code == 201, r.text
        rep = r.json()
        assert rep["accepted"] == 711 and rep["column_map"]["人员代码"] == "id" and rep["column_override"] == FIX
        # the same layout again: the corrections come back, shown before the upload and applied by it
        cols = _post(admin, "/datasets/members/columns", path).json()
        assert cols["remembered_from"] == rep["id"]
        assert {h["header"]: h["field"] for h in cols["headers"]}["人员代码"] == "id"
        again = _post(admin, "/datasets/members", path).json()
        assert again["column_override_from"] == rep["id"] and again["accepted"] == 711


def test_branch_matches_listed_for_review(api: InProcessServer, tmp_path: Path) -> None:
    """Issue #19: the members whose branch was matched by a tolerant name, with the branch as written, the
    branch matched, how and the score; an XLSX download; not for viewers; recorded in the audit log."""
    path = county_roster(tmp_path, name="short.csv", short=True)
    with api.client("admin") as admin, api.client("viewer") as viewer:
        rep = _post(admin, "/datasets/members", path, columns=json.dumps(FIX)).json()
        assert rep["accepted"] == 711  # nobody lost: matched with a warning each
        r = admin.get(f"/datasets/{rep['id']}/branch-matches")
        assert r.status_code == 200, r.text
        got = r.json()["matches"]
        assert [(m["member_id"], m["how"]) for m in got] == [(mid, how) for mid, _o, _n, how in SHORT_BRANCHES]
        first = got[0]
        assert (first["row"], first["member_name"], first["branch_written"], first["branch_matched"],
                first["branch_id"]) == (2, "肖生林", "机关离退休一支部", "贵溪市委机关离退休第一党支部", "B01")
        assert all(60 <= m["score"] <= 100 for m in got) and got[2]["score"] == 100
        x = admin.get(f"/datasets/{rep['id']}/branch-matches.xlsx")
        assert x.status_code == 200
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        cells = [tuple(c) for c in wb.worksheets[0].iter_rows(values_only=True)]
        assert cells[0] == ("行号", "编号", "姓名", "花名册中的支部", "匹配到的支部", "支部编号", "匹配方式", "得分")
        assert [c[1] for c in cells[1:]] == ["M0001", "M0002", "M0003"] and cells[1][6] == "相似度匹配"
        assert viewer.get(f"/datasets/{rep['id']}/branch-matches").status_code == 403
        assert viewer.get(f"/datasets/{rep['id']}/branch-matches.xlsx").status_code == 403
        branches = admin.get("/datasets", params={"kind": "branches"}).json()["datasets"][0]["id"]
        assert admin.get(f"/datasets/{branches}/branch-matches").json()["matches"] == []
    store = api.store()
    try:
        seen = [e for e in store.audit_log() if e.what == "branch_matches"]
    finally:
        store.close()
    assert {(e.detail, e.n_people) for e in seen} == {(rep["id"], 3)}


@pytest.mark.browser
def test_page_shows_headers_and_uploads_the_corrected_mapping(chromium_browser, server, tmp_path: Path) -> None:
    """Step 2 in the browser: the headers and their fields, two corrected with the selects, the upload read
    with them; the same layout dropped again shows the kept corrections."""
    from ..support.accounts import sign_in_with_password
    from ..support.browser import Browser

    # a layout of its own (the API test's layout is remembered already), three branches written the short way
    path = county_roster(tmp_path, name="members-2026.csv", short=True, extra=True)
    first = sign_in_with_password(chromium_browser, server, "admin")
    try:
        state = first.context.storage_state()
    finally:
        first.close()
    b = Browser(chromium_browser, server, state)
    try:
        b.goto("/workspace/upload")
        page = b.page.page
        page.set_input_files("#file-input", [str(path)])
        assert b.wait("window.gpUpload.columnsShown && document.querySelectorAll('.mapping tbody tr').length > 5")
        rows = b.js("Array.from(document.querySelectorAll('.mapping tbody tr')).map(tr => "
                    "[tr.dataset.header, tr.cells[1].textContent, tr.querySelector('select').value])")
        by = {h: (auto, v) for h, auto, v in rows}
        assert by["人员代码"] == ("未识别", "ignore") and by["姓名"] == ("姓名（name）", "name")
        sel = ".mapping tr[data-header='{}'] select"
        page.select_option(sel.format("人员代码"), "id")
        page.select_option(sel.format("人员类型"), "status")
        page.select_option(sel.format("说明"), "name")  # a field taken from another header …
        assert b.js(f"document.querySelector(\"{sel.format('姓名')}\").value") == "ignore"  # … leaves it unused
        page.select_option(sel.format("姓名"), "name")  # and back
        assert b.js(f"document.querySelector(\"{sel.format('说明')}\").value") == "ignore"
        assert b.js("document.querySelectorAll('.mapping tr.corrected').length") == 2
        b.shot("upload-columns.png")
        page.click("#upload-all")
        assert b.wait("window.gpUpload.done", 120)
        (rep,) = b.js("window.gpUpload.reports")
        assert rep["accepted"] == 711 and rep["column_override"] == FIX
        assert rep["column_map"]["人员代码"] == "id" and "说明" not in rep["column_map"]
        # the branches matched by a tolerant name, listed for review with a download (issue #19)
        assert b.wait("document.querySelectorAll('.branch-matches table.matches tbody tr').length === 3")
        matches = b.js("Array.from(document.querySelectorAll('.branch-matches tbody tr')).map(tr => "
                       "Array.from(tr.cells).map(td => td.textContent))")
        assert [m[1] for m in matches] == [mid for mid, *_ in SHORT_BRANCHES]
        assert matches[2][3:6] == ["教育局离退休党支部", "贵溪市教育局退休党支部", "B02"]
        b.page.page.locator(".branch-matches").scroll_into_view_if_needed()
        b.shot("upload-branch-matches.png")
        with page.expect_download() as dl:
            page.click(".branch-matches .matches-link")
        wb = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()), read_only=True)
        cells = [tuple(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        assert cells[0][:5] == ("行号", "编号", "姓名", "花名册中的支部", "匹配到的支部") and len(cells) == 4
        # next year's file, same layout: the corrections are shown again and sent again
        page.set_input_files("#file-input", [str(path)])
        assert b.wait("window.gpUpload.columnsShown && document.querySelector('.mapping .remembered')")
        assert b.js(f"document.querySelector(\"{sel.format('人员代码')}\").value") == "id"
        b.check_clean()
    finally:
        b.close()
