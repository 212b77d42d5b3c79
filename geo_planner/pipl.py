"""Which answers hold member-level data (PIPL), and how many people each concerns, for the audit log.

Members' names, addresses, phones, ID numbers and homes are personal information under the
个人信息保护法. Viewers never get them (:mod:`geo_planner.privacy`); every time a planner or an
admin views or exports them the service writes an audit record (``api.deps.audit``, stored by
:class:`geo_planner.store.Store`). This module decides *whether* an answer is member-level and
*how many people* it concerns; it never copies the personal data into the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .privacy import is_viewer
from .vocab import AuditWhat, Role

#: Export tables that hold member-level data for a planner, and the audit word of their download.
MEMBER_LEVEL_EXPORTS: Mapping[str, AuditWhat] = {"members": "members_export",
                                                  "recommendations": "recommendations_export"}


def export_audit_what(table: str, role: Role) -> AuditWhat | None:
    """The audit word of downloading ``table`` as ``role``; ``None`` when the download holds no member.

    A viewer's downloads are aggregates (no member table; recommendations without member ids).
    """
    if is_viewer(role):
        return None
    return MEMBER_LEVEL_EXPORTS.get(table)


def people_in(df: pd.DataFrame, table: str) -> int:
    """How many distinct people a table answer concerns.

    ``members`` (and any table with an ``id`` per member): its rows; ``recommendations``: the
    distinct ids in its ``member_ids`` (semicolon-separated, or lists).
    """
    if table == "recommendations":
        return len(member_ids(df["member_ids"] if "member_ids" in df.columns else []))
    if "id" in df.columns:
        return int(df["id"].nunique(dropna=True))
    return len(df)


def member_ids(values: Iterable[Any]) -> set[str]:
    """The distinct member ids in ``member_ids`` cells (``"m1;m2"`` strings or lists; blanks ignored)."""
    out: set[str] = set()
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            continue
        parts = v if isinstance(v, list | tuple) else str(v).split(";")
        out.update(str(p).strip() for p in parts if str(p).strip())
    return out


def rejected_rows(rejections: Iterable[Mapping[str, Any]]) -> int:
    """How many distinct rows of an uploaded table its import report quotes (the people it shows)."""
    return len({r.get("row") for r in rejections if r.get("row") is not None})


def map_people(counts: Mapping[str, Any]) -> int:
    """How many members a planner's run map shows (the run's member count)."""
    try:
        return int(counts.get("members") or 0)
    except (TypeError, ValueError):
        return 0


def visit_people(visits: pd.DataFrame, unvisited: pd.DataFrame) -> int:
    """How many distinct members a home-visit plan names (visited and unvisited; departures and returns
    carry no member)."""
    ids: set[str] = set()
    for df in (visits, unvisited):
        if "member_id" in df.columns:
            ids.update(str(v) for v in df["member_id"].dropna() if str(v).strip())
    return len(ids)


def list_people(lists: Mapping[str, pd.DataFrame]) -> int:
    """How many distinct members a comparison's member lists name (by ``id``, else by row)."""
    ids: set[str] = set()
    rows = 0
    for df in lists.values():
        if "id" in df.columns:
            ids.update(str(v) for v in df["id"].dropna())
        else:
            rows += len(df)
    return len(ids) + rows
