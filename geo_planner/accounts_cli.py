"""``geo-planner users …`` and ``geo-planner audit``: the service's accounts and audit log from the command line.

Both work on the service's store: the data folder (``--data-dir``, else ``GEO_PLANNER_DATA_DIR``,
else ``out/service``) and, when set, its PostgreSQL database (``--database-url``, else
``GEO_PLANNER_DATABASE_URL``). Passwords are read from a prompt that does not echo, or from the
first line of standard input with ``--password-stdin`` (scripts); they are never printed. A token
or a sign-in link is printed once: only its hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TextIO

from .errors import InputError, Problem
from .store import Store, parse_since, write_audit_csv
from .store.audit import AUDIT_COLUMNS
from .vocab import ROLES

#: Default data folder of the service (as ``api.config.ApiSettings.data_dir``).
DEFAULT_DATA_DIR = Path("out/service")
#: How long a link made by ``users link`` stays valid by default, seconds.
LINK_TTL_S = 3600.0


def open_store(args: argparse.Namespace) -> Store:
    """The service's store named by ``--data-dir``/``--database-url`` or the ``GEO_PLANNER_*`` environment."""
    data_dir = args.data_dir or Path(os.environ.get("GEO_PLANNER_DATA_DIR") or DEFAULT_DATA_DIR)
    url = args.database_url or os.environ.get("GEO_PLANNER_DATABASE_URL") or None
    return Store(data_dir, url)


def read_password(args: argparse.Namespace, stdin: TextIO | None = None) -> str:
    """The new password: the first line of standard input (``--password-stdin``) or typed twice at a prompt.

    Raises
    ------
    InputError
        No terminal to prompt on and no ``--password-stdin``; the two typed passwords differ.
    """
    stdin = stdin or sys.stdin
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    if not stdin.isatty():
        raise InputError(Problem("standard input", None, "password",
                                 "no terminal to ask on: pipe the password with --password-stdin"))
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InputError(Problem("prompt", None, "password", "the two passwords differ"))
    return first


def _cmd_users(args: argparse.Namespace) -> int:
    store = open_store(args)
    try:
        action = args.action
        if action == "add":
            user = store.add_user(args.username, args.display_name or args.username, args.role, read_password(args))
            print(f"user {user.username} ({user.display_name}, {user.role}) added")
        elif action == "list":
            print("username\tdisplay_name\trole\tstatus\ttokens")
            for u in store.list_users():
                status = "disabled" if u.disabled else "active"
                print(f"{u.username}\t{u.display_name}\t{u.role}\t{status}\t{len(store.list_tokens(u.username))}")
        elif action in ("disable", "enable"):
            store.update_user(args.username, disabled=action == "disable")
            print(f"user {args.username} {action}d")
        elif action == "reset":
            store.update_user(args.username, password=read_password(args))
            print(f"user {args.username}: new password set; their sessions are ended")
        elif action == "token":
            token = store.issue_token(args.username, args.name)
            print(f"# API token of {args.username} ({args.name}); shown once, keep it secret", file=sys.stderr)
            print(token)
        elif action == "revoke":
            n = store.revoke_tokens(args.username)
            print(f"user {args.username}: {n} token(s) revoked")
        elif action == "link":
            code = store.create_login_code(args.username, args.ttl)
            print(f"{args.url.rstrip('/')}/auth/link/{code}")
        return 0
    finally:
        store.close()


def _cmd_audit(args: argparse.Namespace) -> int:
    store = open_store(args)
    try:
        records = store.audit_log(parse_since(args.since) if args.since else None, args.limit)
    finally:
        store.close()
    if args.csv:
        path = write_audit_csv(records, args.csv)
        print(f"{len(records)} audit record(s) written to {path}")
        return 0
    print("\t".join(AUDIT_COLUMNS))
    for r in records:
        print("\t".join("" if v is None else str(v) for v in (getattr(r, c) for c in AUDIT_COLUMNS)))
    return 0


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None,
                   help="the service's data folder (default $GEO_PLANNER_DATA_DIR or out/service)")
    p.add_argument("--database-url", default=None,
                   help="its PostgreSQL database (default $GEO_PLANNER_DATABASE_URL; none: SQLite in the folder)")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``users`` and ``audit`` to the ``geo-planner`` command line."""
    u = sub.add_parser("users", help="the service's users: add, list, disable, enable, reset, token, revoke, link")
    actions = u.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user (password from a prompt or --password-stdin)")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--display-name", default=None, help="the name shown, e.g. 张科长 (default: the username)")
    actions.add_parser("list", help="list users (never a password)")
    for name, text in (("disable", "disable a user: sign-in, sessions, tokens and links stop at once"),
                       ("enable", "enable a disabled user"),
                       ("reset", "set a new password (ends the user's sessions)"),
                       ("token", "issue an API token to a user (printed once, stored hashed)"),
                       ("revoke", "revoke every API token of a user"),
                       ("link", "print a one-time sign-in link for a user")):
        a = actions.add_parser(name, help=text)
        a.add_argument("username")
    for a in (add, actions.choices["reset"]):
        a.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input (not echoed)")
    actions.choices["token"].add_argument("--name", default="api", help="what the token is for (e.g. etl)")
    link = actions.choices["link"]
    link.add_argument("--url", default="http://127.0.0.1:8000", help="the service's address as users open it")
    link.add_argument("--ttl", type=float, default=LINK_TTL_S, help="valid for this many seconds (default 3600)")
    for a in (add, *(actions.choices[n] for n in ("list", "disable", "enable", "reset", "token", "revoke", "link"))):
        _store_options(a)
    u.set_defaults(func=_cmd_users)

    au = sub.add_parser("audit", help="the audit log of member-level data (who viewed or exported what)")
    au.add_argument("--since", default=None, help="from this date (2026-12-01) or ISO 8601 time on")
    au.add_argument("--limit", type=int, default=None, help="only the newest N records")
    au.add_argument("--csv", type=Path, default=None, help="write the records to this CSV file (mode 600)")
    _store_options(au)
    au.set_defaults(func=_cmd_audit)
