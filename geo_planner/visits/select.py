"""Who a visit plan selects, and who of them cannot be routed (and why).

Members come as the run wrote them (``members.csv``, flag columns parsed by
:func:`geo_planner.results.parse_flags`). The rules of ``[visits] select`` are combined with *or*:
a member matching any of them is selected. A selected member is routed only when the run knows
where they live precisely enough and on the roads of this plan: imprecise addresses
(``imprecise_location``) and 异地 members (``remote``) are listed with their reason, never routed
as if their home were known.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from ..errors import InputError, Problem
from ..geocode import IMPRECISE_STATUS
from ..settings import VisitSettings
from ..vocab import IMPRECISE_LOCATION

#: Columns a members' table may use to say that a member lives alone (独居), first found wins.
ALONE_COLUMNS: Final = ("lives_alone", "独居", "是否独居", "独居老人", "alone")
_YES: Final = frozenset({"是", "独居", "yes", "y", "true", "1", "√", "✓", "x"})


def lives_alone(members: pd.DataFrame, source: str = "members.csv") -> pd.Series:
    """Whether each member lives alone (独居), from the table's own column.

    Raises
    ------
    InputError
        The rule ``alone`` was asked for but the table has no such column (naming the columns looked for).
    """
    col = next((c for c in ALONE_COLUMNS if c in members.columns), None)
    if col is None:
        raise InputError(Problem(source, None, "/".join(ALONE_COLUMNS),
                                 "the rule 'alone' needs a column saying who lives alone (独居: 是/否); "
                                 "the members' table has none"))
    values = members[col]
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).astype(bool)
    text = values.astype("string").str.strip().str.lower().fillna("")
    return text.isin(_YES).astype(bool)


def _flag(members: pd.DataFrame, column: str) -> pd.Series:
    """A parsed flag column as plain booleans (unknown = False); all False when missing."""
    if column not in members.columns:
        return pd.Series(False, index=members.index)
    col = members[column]
    if not pd.api.types.is_bool_dtype(col):
        col = col.astype("string").str.strip().str.lower().isin(["true", "1", "yes"])
    return col.fillna(False).astype(bool)


def select_members(members: pd.DataFrame, settings: VisitSettings, source: str = "members.csv") -> pd.Series:
    """Which members the rules of ``settings.select`` pick (a boolean Series aligned to ``members``).

    Raises
    ------
    InputError
        A member id in ``member_ids`` that the run does not hold (all of them named), or the
        ``alone`` rule on a table without a 独居 column.
    """
    pick = pd.Series(False, index=members.index)
    ids = members["id"].astype(str)
    for rule in settings.select:
        if rule == "all":
            pick |= True
        elif rule == "lixiu":
            pick |= members["status"].astype(str).eq("lixiu")
        elif rule == "age":
            pick |= pd.to_numeric(members.get("age"), errors="coerce").ge(settings.min_age).fillna(False)
        elif rule == "alone":
            pick |= lives_alone(members, source)
        elif rule == "ids":
            wanted = pd.Index(settings.member_ids).astype(str)
            unknown = wanted.difference(pd.Index(ids))
            if len(unknown):
                raise InputError([Problem("[visits] member_ids", None, "member_ids",
                                          f"no member {u!r} in this run") for u in unknown])
            pick |= ids.isin(wanted)
        elif rule == "far":
            pick |= _flag(members, "dispersed")
        elif rule == "uncovered":
            pick |= ~_flag(members, "covered_station") & members["lon"].notna()
    return pick.astype(bool)


def unroutable_reason(members: pd.DataFrame) -> pd.Series:
    """Why each member cannot be routed from the run's own findings ("" when they can).

    ``imprecise_location`` (address only to a township or county), ``remote`` (异地: visited by
    the host region), ``no_location``, ``off_network``.
    """
    reason = pd.Series("", index=members.index, dtype=object)
    status = members.get("network_status", pd.Series("", index=members.index)).astype("string").fillna("")
    located = pd.to_numeric(members["lon"], errors="coerce").notna() & pd.to_numeric(
        members["lat"], errors="coerce").notna()
    remote = members.get("dispersion_reason", pd.Series("", index=members.index)).astype("string").fillna("")
    remote = remote.str.split(";").apply(lambda r: "remote" in r).astype(bool)
    reason[(status == "off_network").to_numpy(bool)] = "off_network"
    reason[~located.to_numpy(bool)] = "no_location"
    reason[(status == IMPRECISE_STATUS).to_numpy(bool)] = IMPRECISE_LOCATION
    reason[remote.to_numpy(bool)] = "remote"
    return reason

