"""The demo's people: an admin, a planner and a viewer with random passwords, and a one-time sign-in link.

``serve --demo`` (:func:`api.main.serve_demo`) calls these: the passwords go to a mode-600 file
in the data folder (never to the console, which often ends up in a shared log), and the console
gets a one-time link that signs the demo's admin in once, then is dead.
"""

from __future__ import annotations

import json
from pathlib import Path

from geo_planner.errors import NotFoundError
from geo_planner.store import Store, file_mode_600, new_password

#: ``(username, display name, role)`` of the demo users.
DEMO_USERS = (
    ("admin", "演示管理员", "admin"),
    ("planner", "演示规划员", "planner"),
    ("viewer", "演示查看员", "viewer"),
)
#: The demo user the printed one-time link signs in (may upload tables, start runs, manage users).
LINK_USER = "admin"
PASSWORDS_FILE = "demo_users.json"


def demo_users(store: Store) -> Path:
    """Create the demo users where missing; return ``<data_dir>/demo_users.json`` (mode 600).

    A demo user whose password is not in the file (file deleted) gets a new random one; users an
    admin made are never touched.

    Returns
    -------
    pathlib.Path
        The file ``{"username": {"password": …, "role": …}}``.
    """
    path = store.data_dir / PASSWORDS_FILE
    known: dict[str, dict[str, str]] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            known = {k: v for k, v in data.items() if isinstance(v, dict) and v.get("password")}
        except (OSError, ValueError):
            known = {}
    out: dict[str, dict[str, str]] = {}
    for username, display, role in DEMO_USERS:
        try:
            store.get_user(username)
            exists = True
        except NotFoundError:
            exists = False
        if exists and username in known:
            out[username] = known[username]
            continue
        password = new_password()
        if exists:
            store.update_user(username, password=password, disabled=False)
        else:
            store.add_user(username, display, role, password)
        out[username] = {"password": password, "role": role}
    file_mode_600(path, json.dumps(out, ensure_ascii=False, indent=2) + "\n")
    return path


def sign_in_link(store: Store, base_url: str, ttl_s: float, username: str = LINK_USER) -> str:
    """A one-time sign-in link ``{base_url}/auth/link/<code>`` for ``username``, valid ``ttl_s`` seconds."""
    return f"{base_url}/auth/link/{store.create_login_code(username, ttl_s)}"
