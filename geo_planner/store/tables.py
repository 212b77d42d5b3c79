"""The record tables' columns, written once for both backends (:mod:`.sqlite`, :mod:`.postgres`).

A column type may name a placeholder filled per dialect: ``{bigint}`` (a 64-bit integer) and
``{real}`` (a double).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: ``(name, type)`` of each column of ``datasets``.
DATASETS = (
    ("id", "TEXT PRIMARY KEY"),
    ("kind", "TEXT NOT NULL"),
    ("filename", "TEXT NOT NULL"),
    ("stored_name", "TEXT NOT NULL"),
    ("sheet", "TEXT"),
    ("crs", "TEXT NOT NULL"),
    ("encoding", "TEXT"),
    ("size_bytes", "{bigint} NOT NULL"),
    ("sha256", "TEXT NOT NULL"),
    ("created", "TEXT NOT NULL"),
    ("report", "TEXT NOT NULL"),
)
#: Columns of ``runs`` in the first release.
_RUNS_FIRST = (
    ("id", "TEXT PRIMARY KEY"),
    ("name", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("stage", "TEXT"),
    ("progress", "{real} NOT NULL DEFAULT 0"),
    ("created", "TEXT NOT NULL"),
    ("started", "TEXT"),
    ("finished", "TEXT"),
    ("error", "TEXT"),
    ("request", "TEXT NOT NULL"),
    ("scenario", "TEXT NOT NULL"),
    ("counts", "TEXT"),
    ("origin", "TEXT NOT NULL DEFAULT 'api'"),
)
#: Columns added since the first release: a store written by an older version gets them when opened.
ADDED = {"runs": (("claimed_by", "TEXT"), ("heartbeat", "TEXT"), ("claims", "INTEGER NOT NULL DEFAULT 0"))}
#: ``(name, type)`` of each column of ``runs``.
RUNS = _RUNS_FIRST + ADDED["runs"]

# accounts and the audit log (:mod:`.accounts`, :mod:`.audit`); times as epoch seconds where they
# are compared with "now" on every request, ISO 8601 where people read them
#: People who sign in: the password only as an argon2 hash.
USERS = (
    ("username", "TEXT PRIMARY KEY"),
    ("display_name", "TEXT NOT NULL"),
    ("role", "TEXT NOT NULL"),
    ("password_hash", "TEXT"),
    ("disabled", "INTEGER NOT NULL DEFAULT 0"),
    ("created", "TEXT NOT NULL"),
    ("updated", "TEXT NOT NULL"),
)
#: Browser sessions: only hashes of the session id and of its CSRF token are kept.
SESSIONS = (
    ("id_hash", "TEXT PRIMARY KEY"),
    ("username", "TEXT NOT NULL"),
    ("csrf_hash", "TEXT NOT NULL"),
    ("created", "{real} NOT NULL"),
    ("last_seen", "{real} NOT NULL"),
)
#: One-time sign-in codes (hash only), exchanged once for a session.
LOGIN_LINKS = (
    ("code_hash", "TEXT PRIMARY KEY"),
    ("username", "TEXT NOT NULL"),
    ("created", "{real} NOT NULL"),
    ("expires", "{real} NOT NULL"),
    ("used", "{real}"),
)
#: Bearer tokens issued to a user (hash only), so that the audit log names the person.
API_TOKENS = (
    ("token_hash", "TEXT PRIMARY KEY"),
    ("username", "TEXT NOT NULL"),
    ("name", "TEXT NOT NULL"),
    ("created", "TEXT NOT NULL"),
)
#: Who viewed or exported member-level data: never the data itself.
AUDIT = (
    ("time", "TEXT NOT NULL"),
    ("actor", "TEXT NOT NULL"),
    ("actor_kind", "TEXT NOT NULL"),
    ("role", "TEXT NOT NULL"),
    ("run_id", "TEXT"),
    ("what", "TEXT NOT NULL"),
    ("n_people", "INTEGER NOT NULL"),
    ("detail", "TEXT"),
    ("client", "TEXT"),
)
#: ``(table, columns)`` of the account tables, in creation order.
ACCOUNT_TABLES = (("users", USERS), ("sessions", SESSIONS), ("login_links", LOGIN_LINKS),
                  ("api_tokens", API_TOKENS))


def create_table(
    name: str, columns: Iterable[tuple[str, str]], types: Mapping[str, str], extra: Iterable[str] = ()
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``columns`` (types filled from ``types``) and ``extra`` lines."""
    lines = [f"{col} {kind.format_map(types)}" for col, kind in columns] + list(extra)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n    " + ",\n    ".join(lines) + "\n)"
