"""The OpenAPI document says what is valid: what it allows is accepted, what it refuses the server refuses.

Issue 19, item 7 (schemathesis' ``positive_data_acceptance``): the rules schemathesis met as 422s for
schema-valid requests are in the schema now (patterns, enums), or the answer is the one the check
expects (404 for a sign-in link never made). Each test sends the same values through the schema (the
pattern, as a JSON-schema validator reads it) and through the live app, so the two cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo_planner.errors import NotFoundError
from geo_planner.store.accounts import check_display_name, check_password, check_username

from ..support.accounts import PASSWORD, add_users, make_app


@pytest.fixture()
def admin(tmp_path: Path) -> Iterator[TestClient]:
    """A bearer client of an admin user (李) on a fresh service."""
    with make_app(tmp_path) as client:
        add_users(client.app.state.store)
        token = client.app.state.store.issue_token("li", "contract")
        yield TestClient(client.app, headers={"Authorization": f"Bearer {token}"})


def _schema(app: Any, path: str, method: str = "post") -> dict[str, Any]:
    return app.openapi()["paths"][path][method]


def _component(app: Any, name: str) -> dict[str, Any]:
    return app.openapi()["components"]["schemas"][name]


def _store_accepts(check: Any, value: str) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    return True


def test_sign_in_link_never_made_is_404_used_is_410(admin: TestClient) -> None:
    store = admin.app.state.store
    anon = TestClient(admin.app)
    param = next(p for p in _schema(admin.app, "/auth/link/{code}", "get")["parameters"] if p["name"] == "code")
    code = store.create_login_code("zhang", 60)
    assert re.fullmatch(param["schema"]["pattern"], code)  # the schema describes the codes the store makes
    never = "A" * 43
    assert re.fullmatch(param["schema"]["pattern"], never)
    r = anon.get(f"/auth/link/{never}", follow_redirects=False)
    assert r.status_code == 404, r.text
    with pytest.raises(NotFoundError):
        store.redeem_login_code(never)
    assert anon.get(f"/auth/link/{code}", follow_redirects=False).status_code == 303
    assert anon.get(f"/auth/link/{code}", follow_redirects=False).status_code == 410  # used
    assert anon.get("/auth/link/short", follow_redirects=False).status_code == 422  # not a code's shape
    later = store.create_login_code("wang", 60)
    store.update_user("wang", disabled=True)
    assert anon.get(f"/auth/link/{later}", follow_redirects=False).status_code == 410  # its user disabled


@pytest.mark.parametrize(("field", "values", "check"), [
    ("password", ["abcdefghij", "abc def ghij", "密码密码密码密码密码", " abcdefghij", "abcdefghij ",
                  "abcdefghij\u3000", "abcde\nfghij", "\u00a0abcdefghij", "abcdefghi\x1f"], check_password),
    ("display_name", ["张科长", " 张 ", "a b", "   ", "a\tb", "\u3000", "x\x85", "\x85"], check_display_name),
    ("username", ["zhang.wei", "li_4@bureau-1", "zhang wei", " zhang", "", "a" * 65], check_username),
])
def test_new_user_fields_schema_agrees_with_the_store(admin: TestClient, field: str, values: list[str],
                                                      check: Any) -> None:
    pattern = _component(admin.app, "UserIn")["properties"][field]["pattern"]
    for i, value in enumerate(values):
        in_schema = re.search(pattern, value) is not None
        if in_schema:  # what the schema allows the store takes
            assert _store_accepts(check, value), (field, value)
        body = {"username": f"user{i}", "display_name": "赵", "role": "viewer", "password": PASSWORD,
                field: value}
        r = admin.post("/admin/users", json=body)
        assert r.status_code == (201 if in_schema else 422), (field, value, r.text)


def test_audit_since_is_a_date_or_time_and_any_year_works(admin: TestClient) -> None:
    param = next(p for p in _schema(admin.app, "/admin/audit", "get")["parameters"] if p["name"] == "since")
    assert {s.get("format") for s in param["schema"]["anyOf"]} == {"date", "date-time"}
    for since in ("2026-12-07", "2026-12-07T08:00:00+08:00", "0001-01-01T00:00:00+05:00",
                  "9999-12-31T23:59:59-05:00"):
        r = admin.get("/admin/audit", params={"since": since})
        assert r.status_code == 200, (since, r.text)
    assert admin.get("/admin/audit", params={"since": "yesterday"}).status_code == 422


def test_glyph_ranges_are_listed(admin: TestClient) -> None:
    param = next(p for p in _schema(admin.app, "/basemap/glyphs/{fontstack}/{range_}.pbf", "get")["parameters"]
                 if p["name"] == "range_")
    ranges = param["schema"]["enum"]
    assert len(ranges) == 256 and ranges[:2] == ["0-255", "256-511"] and ranges[-1] == "65280-65535"
    for good in ("0-255", "65280-65535"):
        r = admin.get(f"/basemap/glyphs/GeoPlanner%20Sans/{good}.pbf")
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf", r.text
    for bad in ("5-260", "0-9999", "65536-65791"):
        assert admin.get(f"/basemap/glyphs/GeoPlanner%20Sans/{bad}.pbf").status_code == 422


def test_run_inputs_name_a_dataset_id_and_a_listed_encoding(admin: TestClient) -> None:
    ref = _component(admin.app, "InputRef")["properties"]
    assert re.fullmatch(ref["dataset"]["pattern"], "ds_20261125_1a2b3c4d")
    encodings = next(s for s in ref["encoding"]["anyOf"] if "enum" in s)["enum"]
    assert {"utf-8", "gb18030", "gbk"} <= set(encodings) and "rot13" not in encodings
