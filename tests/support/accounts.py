"""Users, passwords and the in-process app the account, contract and workspace tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.main import create_app
from geo_planner.store import Store

#: The password of the account tests' users (``add_users``).
PASSWORD = "correct horse battery"
SERVICE = "svc-" + "x" * 20  # an unnamed configured token
NAMED = "etl-" + "y" * 20

#: The workspace's users, one per role, and their password (made in a server's store before a browser signs in).
WORKSPACE_PASSWORD = "workspace horse battery"
WORKSPACE_USERS = {"admin": "ws_admin", "planner": "ws_planner", "viewer": "ws_viewer"}


def make_app(tmp_path: Path, database_url: str | None = None, **overrides: object) -> TestClient:
    """The real app on an empty store in ``tmp_path/svc`` (no demo), with a viewer and a named planner token."""
    settings = ApiSettings(data_dir=tmp_path / "svc", database_url=database_url, seed_demo=False,
                           tokens=f"{SERVICE}:viewer,etl={NAMED}:planner", **overrides)
    return TestClient(create_app(settings))


def add_users(store: Store) -> None:
    """Three users with :data:`PASSWORD`: zhang (planner), li (admin), wang (viewer)."""
    store.add_user("zhang", "张科长", "planner", PASSWORD)
    store.add_user("li", "李局长", "admin", PASSWORD)
    store.add_user("wang", "王干事", "viewer", PASSWORD)


def sign_in_with_password(chromium: Any, server: Any, role: str) -> Any:
    """A fresh workspace browser that signs in on ``/login`` as the role's :data:`WORKSPACE_USERS` user."""
    from .browser import Browser

    b = Browser(chromium, server)
    b.goto("/login")
    b.page.page.fill("#username", WORKSPACE_USERS[role])
    b.page.page.fill("#password", WORKSPACE_PASSWORD)
    b.page.page.click("#login-form button[type='submit']")
    b.page.page.wait_for_url(server.base_url + "/", timeout=30_000)
    return b
