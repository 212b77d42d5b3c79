"""What each role may see of a result table (the rules themselves live in :mod:`geo_planner.privacy`)."""

from __future__ import annotations

import pandas as pd

from ..errors import PermissionDeniedError
from ..privacy import small_cell_rule, viewer_decision_table, viewer_recommendations
from ..vocab import ROLES, Role, TableName
from .labels import check_table

__all__ = ["redact_for_role"]


def redact_for_role(
    df: pd.DataFrame, table: TableName, role: Role, *, members: pd.DataFrame | None = None,
    language: str = "zh",
) -> pd.DataFrame:
    """Remove what the role may not see from a result table.

    A *viewer* (e.g. a leader looking at the overview) never sees a single member:
    members tables are refused; recommendations lose their ``member_ids`` and, given the
    run's ``members``, their texts are scrubbed of member names, ids and addresses and any
    point on a member's home moves to its grid cell's centre (``privacy.viewer_recommendations``).
    Planners and admins see everything.

    Parameters
    ----------
    df
        The table (canonical column names).
    table
        Which table it is.
    role
        ``viewer``, ``planner`` or ``admin``.
    members
        The run's members, needed to scrub recommendations for a viewer.
    language
        Language of the word replacing a member in scrubbed texts.

    Returns
    -------
    pandas.DataFrame
        A copy the role may see.

    Raises
    ------
    PermissionDeniedError
        If a viewer asks for the members table.
    ValueError
        If ``role`` or ``table`` is unknown.
    """
    check_table(table)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if role != "viewer":
        return df.copy()
    if table == "members":
        raise PermissionDeniedError(
            "role 'viewer' may not see individual members; use the coverage summaries or ask a planner"
        )
    if table == "recommendations":
        return viewer_recommendations(df, members, language)
    out = df.drop(columns=[c for c in ("member_ids",) if c in df.columns])
    if table in ("coverage_by_area", "coverage_by_branch", "branches"):
        out = small_cell_rule(out)  # no count under 5, no statistic of fewer than 5 people
    if table in ("tradeoff", "phased_plan", "sensitivity"):
        # no gain of one site for 1–4 people, even by subtraction
        out = viewer_decision_table(out, table)
    return out
