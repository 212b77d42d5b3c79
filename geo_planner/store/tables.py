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


def create_table(
    name: str, columns: Iterable[tuple[str, str]], types: Mapping[str, str], extra: Iterable[str] = ()
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``columns`` (types filled from ``types``) and ``extra`` lines."""
    lines = [f"{col} {kind.format_map(types)}" for col, kind in columns] + list(extra)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n    " + ",\n    ".join(lines) + "\n)"
