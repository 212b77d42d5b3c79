"""People sign in: users, sessions (cookies, CSRF, expiry), one-time links, per-user and service tokens.

The app is the real one (``create_app``) on a real store in a temporary folder, driven through
Starlette's TestClient (no demo run: nothing here needs one); the store tests run on SQLite and,
where a PostgreSQL test server is available, on PostgreSQL too (``store_backend``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import ApiSettings, service_name
from geo_planner.errors import ConflictError, InputError
from geo_planner.store import Store

from ..support.accounts import NAMED, PASSWORD, SERVICE, add_users, make_app
from ..support.paths import DEMO


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_app(tmp_path) as c:
        add_users(c.app.state.store)
        yield c


def set_cookies(response) -> dict[str, str]:  # noqa: ANN001
    """The response's Set-Cookie headers by cookie name (raw attribute text, lower case)."""
    out = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        out[name] = header.lower()
    return out


def login(c: TestClient, username: str = "zhang", password: str = PASSWORD):  # noqa: ANN201
    return c.post("/auth/login", json={"username": username, "password": password})


# --------------------------------------------------------------------------- the store


def test_users_on_the_store(tmp_path: Path, store_backend: str | None) -> None:
    store = Store(tmp_path / "s", store_backend)
    try:
        add_users(store)
        assert [u.username for u in store.list_users()] == ["li", "wang", "zhang"]
        with pytest.raises(ConflictError):
            store.add_user("zhang", "x", "viewer", PASSWORD)
        with pytest.raises(InputError, match="password"):
            store.add_user("short", "x", "viewer", "123")
        with pytest.raises(InputError, match="role"):
            store.add_user("boss", "x", "root", PASSWORD)
        assert store.authenticate("zhang", PASSWORD).display_name == "张科长"
        assert store.authenticate("zhang", PASSWORD + "!") is None
        assert store.authenticate("nobody", PASSWORD) is None
        # only hashes are kept: the password, session id and code are nowhere in the database
        sid, csrf = store.create_session("zhang")
        code = store.create_login_code("zhang", 60)
        token = store.issue_token("zhang", "script")
        with store.db.begin() as con:
            dump = repr([con.exec_driver_sql(f"SELECT * FROM {t}").all()
                         for t in ("users", "sessions", "login_links", "api_tokens")])
        for secret in (PASSWORD, sid, csrf, code, token):
            assert secret not in dump
        assert "$argon2id$" in dump
        assert store.session_user(sid, 60)[0].username == "zhang"
        assert store.redeem_login_code(code).username == "zhang"
        assert store.redeem_login_code(code) is None  # once
        assert store.token_user(token).role == "planner"
        store.update_user("zhang", role="admin")
        assert store.token_user(token).role == "admin"  # a token acts with the user's current role
        assert store.session_user(sid, 60) is None  # a new role ends the sessions
        store.update_user("zhang", disabled=True)
        assert store.token_user(token) is None and store.authenticate("zhang", PASSWORD) is None
        store.update_user("zhang", disabled=False, password=PASSWORD + "2")
        assert store.authenticate("zhang", PASSWORD + "2") is not None
        store.audit(actor="zhang", actor_kind="user", role="planner", what="map", n_people=3, run_id="r1")
        store.audit(actor="etl", actor_kind="service", role="planner", what="dispersed", n_people=2, run_id="r1")
        log = store.audit_log()
        assert [(r.actor, r.what, r.n_people) for r in log] == [("zhang", "map", 3), ("etl", "dispersed", 2)]
        assert store.audit_log(limit=1)[0].actor == "etl"
        assert store.audit_log(since="2999-01-01T00:00:00+00:00") == []
    finally:
        store.close()


# --------------------------------------------------------------------------- sign in, cookies, CSRF


def test_login_sets_strict_httponly_cookies_and_me(client: TestClient) -> None:
    assert client.get("/auth/me").status_code == 401
    r = login(client)
    assert r.status_code == 200, r.text
    assert r.json() == {"username": "zhang", "display_name": "张科长", "role": "planner", "kind": "user"}
    cookies = set_cookies(r)
    session, csrf = cookies["gp_session"], cookies["gp_csrf"]
    for c in (session, csrf):
        assert "samesite=strict" in c and "path=/" in c and "secure" not in c  # plain http here
    assert "httponly" in session and "httponly" not in csrf
    assert r.headers["cache-control"] == "no-store"
    assert client.get("/auth/me").json()["username"] == "zhang"
    assert client.get("/runs").status_code == 200  # the API accepts the session
    assert client.get("/admin/users").status_code == 403  # a planner is no admin


def test_cookies_are_secure_over_https(tmp_path: Path) -> None:
    with make_app(tmp_path) as c:
        add_users(c.app.state.store)
        https = TestClient(c.app, base_url="https://testserver")
        r = login(https)
        assert r.status_code == 200
        assert all("secure" in v for v in set_cookies(r).values())


def test_wrong_password_and_disabled_user_get_one_answer_and_rate_limit(tmp_path: Path) -> None:
    with make_app(tmp_path, login_max_failures=3, login_max_failures_per_client=3) as c:
        store = c.app.state.store
        add_users(store)
        wrong = login(c, "zhang", "not the password")
        store.update_user("wang", disabled=True)
        disabled = login(c, "wang", PASSWORD)
        unknown = login(c, "nobody", PASSWORD)
        assert wrong.status_code == disabled.status_code == unknown.status_code == 401
        assert wrong.json()["detail"] == disabled.json()["detail"] == unknown.json()["detail"]
        assert "set-cookie" not in wrong.headers
        # three failures from this client: the next attempt is refused, even with the right password
        r = login(c, "li", PASSWORD)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_one_users_failures_do_not_lock_out_colleagues_behind_one_address(tmp_path: Path) -> None:
    """Per username 3, per address 5: 张's three typos lock 张 out, not 李 on the same office address."""
    with make_app(tmp_path, login_max_failures=3, login_max_failures_per_client=5) as c:
        add_users(c.app.state.store)
        assert [login(c, "zhang", "typo").status_code for _ in range(3)] == [401] * 3
        assert login(c, "zhang", PASSWORD).status_code == 429  # 张 waits, even with the right password
        assert login(c, "li", PASSWORD).status_code == 200  # 李 signs in from the same address
        assert [login(c, "wang", "typo").status_code for _ in range(2)] == [401] * 2  # failures 4, 5 here
        r = login(c, "li", PASSWORD)  # the address has had 5: everyone behind it waits
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_csrf_needed_for_cookie_writes_not_for_bearer(client: TestClient, tmp_path: Path) -> None:
    assert login(client, "li").status_code == 200
    new = {"username": "zhao", "display_name": "赵干事", "role": "viewer", "password": PASSWORD}
    r = client.post("/admin/users", json=new)
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = client.post("/admin/users", json=new, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    csrf = client.cookies["gp_csrf"]
    r = client.post("/admin/users", json=new, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    assert client.app.state.store.get_user("zhao").role == "viewer"
    # the CSRF token is bound to the session: another session's token is refused
    other = TestClient(client.app)
    assert login(other, "li").status_code == 200
    r = client.post("/admin/users", json={**new, "username": "qian"},
                    headers={"X-CSRF-Token": other.cookies["gp_csrf"]})
    assert r.status_code == 403
    # uploads (checked before the body is read) take the session and its CSRF token too
    small = tmp_path / "hospitals.csv"
    small.write_bytes((DEMO / "hospitals.csv").read_bytes())
    with open(small, "rb") as fh:
        r = client.post("/datasets/hospitals", files={"file": ("hospitals.csv", fh)})
    assert r.status_code == 403
    with open(small, "rb") as fh:
        r = client.post("/datasets/hospitals", files={"file": ("hospitals.csv", fh)},
                        headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    # bearer requests need no CSRF token (and ignore cookies they do not send)
    bearer = TestClient(client.app, headers={"Authorization": f"Bearer {NAMED}"})
    assert bearer.get("/auth/me").json() == {"username": "etl", "display_name": "etl", "role": "planner",
                                             "kind": "service"}
    assert bearer.post("/runs", json={}).status_code == 422  # authenticated; the scenario is invalid


def test_logout_ends_the_session(client: TestClient) -> None:
    login(client)
    sid, csrf = client.cookies["gp_session"], client.cookies["gp_csrf"]
    assert client.post("/auth/logout").status_code == 403  # a POST with the cookie needs the CSRF token
    r = client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert all("max-age=0" in v or "expires=" in v for v in set_cookies(r).values())
    replay = TestClient(client.app, cookies={"gp_session": sid})  # a copy of the old cookie is dead
    assert replay.get("/auth/me").status_code == 401
    assert replay.get("/runs").status_code == 401


def test_session_expires_after_inactivity(tmp_path: Path) -> None:
    with make_app(tmp_path, session_idle_s=1.5) as c:
        add_users(c.app.state.store)
        login(c)
        for _ in range(4):  # activity keeps it alive past the idle time
            time.sleep(0.5)
            assert c.get("/auth/me").status_code == 200
        time.sleep(0.8)
        time.sleep(0.8)
        r = c.get("/auth/me")
        assert r.status_code == 401 and "sign in again" in r.json()["detail"]


def test_disabling_a_user_ends_their_session(client: TestClient) -> None:
    login(client)
    assert client.get("/auth/me").status_code == 200
    client.app.state.store.update_user("zhang", disabled=True)
    assert client.get("/auth/me").status_code == 401


def test_one_time_link_works_once(client: TestClient) -> None:
    store = client.app.state.store
    code = store.create_login_code("li", 60)
    r = client.get(f"/auth/link/{code}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "httponly" in set_cookies(r)["gp_session"]
    assert client.get("/auth/me").json()["role"] == "admin"
    fresh = TestClient(client.app)
    again = fresh.get(f"/auth/link/{code}", follow_redirects=False)
    assert again.status_code in (401, 410) and "gp_session" not in set_cookies(again)
    assert fresh.get("/auth/me").status_code == 401
    # an expired link and a disabled user's link are dead too
    expired = store.create_login_code("zhang", 0.01)
    time.sleep(0.05)
    assert fresh.get(f"/auth/link/{expired}", follow_redirects=False).status_code == 410
    later = store.create_login_code("zhang", 60)
    store.update_user("zhang", disabled=True)
    assert fresh.get(f"/auth/link/{later}", follow_redirects=False).status_code == 410


def test_access_log_masks_link_codes() -> None:
    from api.security import mask_tokens

    line = 'GET /auth/link/Abc_DEF-123xyz HTTP/1.1'
    assert mask_tokens(line) == "GET /auth/link/*** HTTP/1.1"
    assert "s3cret" not in mask_tokens("/auth/link/s3cret?access_token=t0k")


# --------------------------------------------------------------------------- tokens


def test_service_tokens_named_and_user_tokens_act_as_the_user(client: TestClient) -> None:
    settings: ApiSettings = client.app.state.settings
    accounts = settings.token_accounts()
    assert accounts[SERVICE] == (service_name(SERVICE), "viewer")
    assert re.fullmatch(r"service-[0-9a-f]{6}", service_name(SERVICE)) and SERVICE not in service_name(SERVICE)
    assert accounts[NAMED] == ("etl", "planner")
    padded = ApiSettings(tokens="abc==:admin", seed_demo=False).token_accounts()
    assert list(padded) == ["abc=="]  # base64 padding is not a name
    svc = TestClient(client.app, headers={"Authorization": f"Bearer {SERVICE}"})
    assert svc.get("/auth/me").json()["username"] == service_name(SERVICE)
    token = client.app.state.store.issue_token("zhang", "script")
    user = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    assert user.get("/auth/me").json() == {"username": "zhang", "display_name": "张科长", "role": "planner",
                                           "kind": "user"}
    assert TestClient(client.app).get("/runs", params={"access_token": token}).status_code == 200
    assert TestClient(client.app, headers={"Authorization": "Bearer gpu_forged"}).get("/runs").status_code == 401


def test_tokens_file_with_names(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"t-one-aaaaaaaaaaaa": "admin", "t-two-bbbbbbbbbbbb": {"role": "viewer",
                                                                                      "name": "dashboard"}}))
    accounts = ApiSettings(tokens_file=path, seed_demo=False).token_accounts()
    assert accounts["t-two-bbbbbbbbbbbb"] == ("dashboard", "viewer")
    assert accounts["t-one-aaaaaaaaaaaa"][0].startswith("service-")


# --------------------------------------------------------------------------- admin routes


def test_admin_manages_users(client: TestClient) -> None:
    admin_token = client.app.state.store.issue_token("li", "admin-script")
    admin = TestClient(client.app, headers={"Authorization": f"Bearer {admin_token}"})
    users = admin.get("/admin/users").json()["users"]
    assert [u["username"] for u in users] == ["li", "wang", "zhang"]
    assert all(set(u) == {"username", "display_name", "role", "disabled", "created", "updated"} for u in users)
    r = admin.post("/admin/users", json={"username": "zhang", "display_name": "x", "role": "viewer",
                                         "password": PASSWORD})
    assert r.status_code == 409
    assert admin.post("/admin/users", json={"username": "zhao", "display_name": "赵", "role": "viewer",
                                            "password": "short"}).status_code == 422
    login(client)
    r = admin.patch("/admin/users/zhang", json={"role": "viewer", "display_name": "张同志"})
    assert r.status_code == 200 and r.json()["role"] == "viewer" and r.json()["display_name"] == "张同志"
    assert client.get("/auth/me").status_code == 401  # the new role ends the session
    assert admin.patch("/admin/users/zhang", json={"password": PASSWORD + "-new"}).status_code == 200
    assert login(client, "zhang", PASSWORD).status_code == 401
    assert login(client, "zhang", PASSWORD + "-new").json()["role"] == "viewer"
    # a JSON 0 is not false: what the schema calls invalid is rejected, not coerced
    assert admin.patch("/admin/users/zhang", json={"disabled": 0}).status_code == 422
    assert admin.patch("/admin/users/zhang", json={"disabled": True}).json()["disabled"] is True
    assert admin.patch("/admin/users/nobody", json={"disabled": True}).status_code == 404
    # the audit log's ``since``: an empty value is not a date (refused, not read as "from the start")
    assert admin.get("/admin/audit", params={"since": ""}).status_code == 422
    assert admin.get("/admin/audit", params={"since": "2000-01-01"}).status_code == 200
    assert admin.patch("/admin/users/li", json={"disabled": True}).status_code == 409  # not oneself
    issued = admin.post("/admin/users/wang/tokens", json={"name": "dashboard"})
    assert issued.status_code == 201 and issued.json()["token"].startswith("gpu_")
    assert admin.get("/admin/users/wang/tokens").json()["tokens"][0]["name"] == "dashboard"
    assert "gpu_" not in admin.get("/admin/users/wang/tokens").text
    as_wang = TestClient(client.app, headers={"Authorization": f"Bearer {issued.json()['token']}"})
    assert as_wang.get("/auth/me").json()["username"] == "wang"
    assert admin.post("/admin/users/nobody/tokens", json={}).status_code == 404
    planner = TestClient(client.app, headers={"Authorization": f"Bearer {NAMED}"})
    for r in (planner.get("/admin/users"), planner.post("/admin/users/wang/tokens", json={}), planner.get("/admin/audit"),
              planner.patch("/admin/users/wang", json={"role": "admin"})):
        assert r.status_code == 403


# --------------------------------------------------------------------------- the audit log (a real server)


def test_member_level_views_are_audited_by_name_and_hold_no_personal_data(hardened_server, hardened_demo,
                                                                            tmp_path: Path) -> None:
    """On the live service with the demo run: a user's own token, a configured token, a viewer."""
    import subprocess
    import sys

    import httpx
    import pandas as pd

    from ..support.paths import ROOT

    srv, run_id = hardened_server, hardened_demo["run_id"]
    members_ds = hardened_demo["reports"]["members"]["id"]
    store = srv.store()
    try:
        store.add_user("audit_zhang", "张审计", "planner", PASSWORD)
        token = store.issue_token("audit_zhang", "script")
    finally:
        store.close()
    before = {(r["actor"], r["what"]) for r in
              srv.client("admin").get("/admin/audit").json()["records"]}
    with httpx.Client(base_url=srv.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
        dispersed = c.get(f"/runs/{run_id}/branches/B01/dispersed")
        assert dispersed.status_code == 200
        n_dispersed = len(dispersed.json()["dispersed"])
        assert c.get(f"/runs/{run_id}/exports/members.csv").status_code == 200
        assert c.get(f"/runs/{run_id}/map").status_code == 200
        recs = c.get(f"/runs/{run_id}/recommendations").json()["recommendations"]
        assert c.get(f"/datasets/{members_ds}").status_code == 200
        assert c.get(f"/runs/{run_id}/coverage").status_code == 200  # aggregates: not audited
    with srv.client("planner") as env_planner:  # a configured token, unnamed
        assert env_planner.get(f"/runs/{run_id}/branches/B01/dispersed").status_code == 200
    with srv.client("viewer") as viewer:  # aggregates only: nothing to audit
        assert viewer.get(f"/runs/{run_id}/map").status_code == 200
        assert viewer.get(f"/runs/{run_id}/exports/recommendations.csv").status_code == 200
    with srv.client("admin") as admin:
        log = admin.get("/admin/audit", params={"since": "2000-01-01"})
        assert log.status_code == 200
        records = log.json()["records"]
        csv_text = admin.get("/admin/audit", params={"format": "csv"}).text
    mine = {r["what"]: r for r in records if r["actor"] == "audit_zhang"}
    assert set(mine) == {"dispersed", "members_export", "map", "recommendations", "import_report"}, mine
    assert all(r["actor_kind"] == "user" and r["role"] == "planner" for r in mine.values())
    assert all(r["run_id"] == run_id for w, r in mine.items() if w != "import_report")
    assert mine["dispersed"]["n_people"] == n_dispersed and mine["dispersed"]["detail"] == "branch B01"
    assert mine["members_export"]["n_people"] == hardened_demo["run"]["summary"]["members"]
    assert mine["map"]["n_people"] == hardened_demo["run"]["summary"]["members"]
    assert mine["recommendations"]["n_people"] == len({m for r in recs for m in r.get("member_ids") or []})
    assert mine["import_report"]["n_people"] > 0 and mine["import_report"]["detail"] == members_ds
    env_name = service_name(srv.tokens["planner"])
    assert any(r["actor"] == env_name and r["actor_kind"] == "service" and r["what"] == "dispersed"
               for r in records)
    new = {(r["actor"], r["what"]) for r in records} - before
    assert not any(actor == service_name(srv.tokens["viewer"]) for actor, _ in new)
    assert csv_text.startswith("\ufefftime,actor,") and "audit_zhang" in csv_text
    # the log holds no personal data: no member's name, address, phone or ID number, no token
    raw = pd.read_csv(DEMO / "members.csv", encoding="gb18030", dtype=str)
    cells = {v for col in raw.columns if any(k in col for k in ("姓名", "地址", "电话", "身份证"))
             for v in raw[col].dropna() if len(v) >= 2}
    assert len(cells) > 700
    dump = json.dumps(records, ensure_ascii=False) + csv_text
    leaked = [v for v in cells if v in dump]
    assert not leaked, leaked[:5]
    assert token not in dump and srv.tokens["planner"] not in dump
    # the same log from the command line, as CSV (mode 600)
    out = tmp_path / "audit.csv"
    env = {**srv.env(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "geo_planner", "audit", "--since", "2000-01-01", "--csv", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    cli = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert (out.stat().st_mode & 0o777) == 0o600
    assert {"audit_zhang", env_name} <= set(cli["actor"])
    assert len(cli) >= len(records)


def test_users_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``geo-planner users add|list|disable|reset|token`` on a data folder; passwords never echoed.

    The first command runs as a process (``python -m geo_planner``, as an administrator types it); the
    others call the same entry point in this process (``tests/support/commands.py``), with their own standard
    input and the folder in the environment, which saves a Python start-up per command.
    """
    import subprocess
    import sys

    from ..support.commands import Ran, run_cli
    from ..support.paths import ROOT

    data = tmp_path / "svc"

    def cli(*args: str, stdin: str = "") -> Ran:
        return run_cli(["users", *args], monkeypatch, stdin=stdin, env={"GEO_PLANNER_DATA_DIR": str(data)})

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "GEO_PLANNER_DATA_DIR": str(data)}
    added = subprocess.run([sys.executable, "-m", "geo_planner", "users", "add", "zhang", "--role", "planner",
                            "--display-name", "张科长", "--password-stdin"], cwd=ROOT, env=env,
                           input=PASSWORD + "\n", capture_output=True, text=True, timeout=120, check=False)
    assert added.returncode == 0 and PASSWORD not in added.stdout + added.stderr, added.stderr
    no_tty = cli("add", "li", "--role", "admin", stdin="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    assert cli("add", "wang", "--role", "boss", "--password-stdin", stdin=PASSWORD).returncode == 2
    token = cli("token", "zhang", "--name", "etl").stdout.strip()
    assert token.startswith("gpu_")
    assert cli("reset", "zhang", "--password-stdin", stdin=PASSWORD + "-2\n").returncode == 0
    assert cli("disable", "zhang").returncode == 0
    listed = cli("list").stdout.splitlines()
    assert listed[1].split("\t") == ["zhang", "张科长", "planner", "disabled", "1"]
    assert cli("disable", "nobody").returncode == 2
    store = Store(data)
    try:
        assert store.token_user(token) is None  # disabled
        store.update_user("zhang", disabled=False)
        assert store.token_user(token).username == "zhang"
        assert store.authenticate("zhang", PASSWORD + "-2") is not None
        assert store.authenticate("zhang", PASSWORD) is None
    finally:
        store.close()


def test_workspace_member_views_are_audited(hardened_server, hardened_demo) -> None:
    """The workspace's member layer, a member's details, the review list, all dispersed members, a members
    upload's problem rows each write one record naming the user, with the number of people and no personal
    data. (A comparison's member lists, ``compare_lists``, need a second run: not run here, to keep the
    suite short.)"""
    import httpx
    import pandas as pd

    srv, run_id = hardened_server, hardened_demo["run_id"]
    members_ds = hardened_demo["reports"]["members"]["id"]
    store = srv.store()
    try:
        store.add_user("audit_li", "李审计", "planner", PASSWORD)
        token = store.issue_token("audit_li", "script")
    finally:
        store.close()
    with httpx.Client(base_url=srv.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
        layer = c.get(f"/runs/{run_id}/layers/members").json()
        mid = layer["id"][0]
        assert c.get(f"/runs/{run_id}/members/{mid}").status_code == 200
        review = c.get(f"/runs/{run_id}/review").json()["members"]
        dispersed = c.get(f"/runs/{run_id}/dispersed").json()["members"]
        problems = c.get(f"/datasets/{members_ds}/problems.xlsx")
        assert problems.status_code == 200
    with srv.client("admin") as admin:
        records = admin.get("/admin/audit", params={"since": "2000-01-01"}).json()["records"]
    mine = {r["what"]: r for r in records if r["actor"] == "audit_li"}
    assert set(mine) == {"member_layer", "member_details", "location_review", "dispersed", "problem_rows"}, mine
    assert all(r["actor_kind"] == "user" and r["role"] == "planner" for r in mine.values())
    assert mine["member_layer"]["n_people"] == layer["n"] + layer["unplaced"]
    # the layer sent is the one made when the run ended, kept beside its outputs (weblayers.layer_json)
    assert json.loads((srv.data_dir / "runs" / run_id / "layer_members.json").read_bytes()) == layer
    assert mine["member_details"]["n_people"] == 1
    assert mine["location_review"]["n_people"] == len(review)
    assert mine["dispersed"]["n_people"] == len(dispersed)
    import io
    rows = pd.read_excel(io.BytesIO(problems.content), dtype=str)["行号"].dropna().nunique()
    assert mine["problem_rows"]["n_people"] == rows > 0 and mine["problem_rows"]["detail"] == members_ds
    raw = pd.read_csv(DEMO / "members.csv", encoding="gb18030", dtype=str)
    cells = {v for col in raw.columns if any(k in col for k in ("姓名", "地址", "电话", "身份证"))
             for v in raw[col].dropna() if len(v) >= 2}
    dump = json.dumps(records, ensure_ascii=False)
    assert not [v for v in cells if v in dump]
    assert mid not in json.dumps(list(mine.values()), ensure_ascii=False)
