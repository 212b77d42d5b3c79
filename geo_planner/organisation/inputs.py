"""The input tables of :func:`~geo_planner.organisation.recommend_branches`, checked and as arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..network import RoadNetwork, Snap
from ..settings import BranchSettings
from ..travel import STATUS_BEYOND_LIMIT
from ..vocab import DispersionReason

#: Columns :func:`~geo_planner.organisation.recommend_branches` needs in each input table.
MEMBER_COLUMNS: tuple[str, ...] = (
    "id", "branch_id", "lon", "lat", "walk_min_branch", "network_status", "dispersed", "dispersion_reason",
    "member_city",
)
BRANCH_COLUMNS: tuple[str, ...] = ("id", "name", "lon", "lat")
SITE_COLUMNS: tuple[str, ...] = ("id", "name", "kind", "lon", "lat")

#: Reasons (in ``dispersion_reason``) that make a member a joint-branch / transfer candidate.
LOCAL_REASONS: frozenset[DispersionReason] = frozenset({"cross_township", "far"})


def as_bool(s: pd.Series) -> np.ndarray:
    """Booleans from a bool column or text such as ``True``/``False``/``1``/``是``."""
    if s.dtype == bool:
        return s.to_numpy()
    text = s.fillna("").astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "1.0", "yes", "y", "是"]).to_numpy()


def text(s: pd.Series | None, n: int) -> np.ndarray:
    """Return stripped text per row (``""`` for missing values; ``n`` empty strings without a column)."""
    if s is None:
        return np.full(n, "", dtype=object)
    return s.fillna("").astype(str).str.strip().to_numpy(dtype=object)


@dataclass(frozen=True)
class Members:
    """The member columns the rules read, as aligned numpy arrays."""

    ids: np.ndarray
    branch: np.ndarray
    branch_pos: np.ndarray  # row of the member's branch in the branches table (-1 unknown)
    lon: np.ndarray
    lat: np.ndarray
    before: np.ndarray  # walk_min_branch (inf: beyond the search cut-off)
    city: np.ndarray
    township: np.ndarray
    community: np.ndarray
    snap: Snap


@dataclass(frozen=True)
class Places:
    """Ids, names and WGS-84 points of branches' meeting places or candidate sites."""

    ids: np.ndarray
    name: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    city: np.ndarray
    township: np.ndarray

    @classmethod
    def of(cls, df: pd.DataFrame) -> Places:
        """Read a branches or sites table: ``id``, ``name``, ``lon``, ``lat`` (``city``, ``township``)."""
        n = len(df)
        return cls(df["id"].astype(str).to_numpy(dtype=object), text(df["name"], n),
                   pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=np.float64),
                   pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=np.float64),
                   text(df.get("city"), n), text(df.get("township"), n))

    def snap(self, walk: RoadNetwork, max_snap_m: float) -> Snap:
        """Snap the places to the walking network."""
        return walk.snap(self.lon, self.lat, max_snap_m=max_snap_m)


def validate(
    members: pd.DataFrame, branches: pd.DataFrame, sites: pd.DataFrame, rules: BranchSettings
) -> None:
    """Raise :class:`InputError` naming missing columns, repeated ids, unknown site kinds, bad rules."""
    problems: list[Problem] = []
    for name, df, cols in (("members", members, MEMBER_COLUMNS), ("branches", branches, BRANCH_COLUMNS),
                           ("sites", sites, SITE_COLUMNS)):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            problems.append(Problem(name, None, ", ".join(missing), "required column(s) missing"))
    if "id" in members.columns:
        dup = members["id"].astype(str).duplicated()
        if dup.any():
            shown = ", ".join(members["id"][dup].astype(str)[:5])
            problems.append(Problem("members", None, "id", f"duplicate ids: {shown}"))
    if "kind" in sites.columns:
        bad = ~sites["kind"].isin(["station", "candidate"])
        if bad.any():
            problems.append(Problem("sites", None, "kind", "must be 'station' or 'candidate' (rows "
                                    + ", ".join(str(i) for i in sites.index[bad][:5]) + ")"))
    if rules.min_branch_members > rules.max_branch_members:
        problems.append(Problem("scenario", None, "branches.min_branch_members",
                                "must not exceed branches.max_branch_members"))
    if problems:
        raise InputError(problems)


def read_members(members: pd.DataFrame, branches: Places, walk: RoadNetwork, max_snap_m: float) -> Members:
    """Read the members table as aligned arrays, snapped to the walking network."""
    n = len(members)
    bid = members["branch_id"].astype(str).to_numpy(dtype=object)
    lon = pd.to_numeric(members["lon"], errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(members["lat"], errors="coerce").to_numpy(dtype=np.float64)
    return Members(
        ids=members["id"].astype(str).to_numpy(dtype=object), branch=bid,
        branch_pos=pd.Index(branches.ids).get_indexer(bid), lon=lon, lat=lat,
        before=_walks_before(members),
        city=text(members["member_city"], n), township=text(members.get("township"), n),
        community=text(members.get("community"), n), snap=walk.snap(lon, lat, max_snap_m=max_snap_m),
    )


def _walks_before(members: pd.DataFrame) -> np.ndarray:
    """Walks to the own branch, ``inf`` for a member beyond the search cut-off (longer than it)."""
    before = pd.to_numeric(members["walk_min_branch"], errors="coerce").to_numpy(dtype=np.float64, copy=True)
    if "branch_status" in members.columns:
        beyond = (members["branch_status"].astype(str) == STATUS_BEYOND_LIMIT).to_numpy() & np.isnan(before)
        before[beyond] = np.inf
    return before


def dispersed_groups(members: pd.DataFrame, m: Members) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which dispersed members the rules take up.

    Returns
    -------
    is_remote, local, walkable
        Per member: dispersed and ``remote``; dispersed, not remote, for a local reason
        (:data:`LOCAL_REASONS`); located on the walking network (``network_status`` ``ok``).
    """
    n = len(members)
    dispersed = as_bool(members["dispersed"])
    reasons = [set(r.split(";")) for r in text(members["dispersion_reason"], n)]
    is_remote = dispersed & np.array(["remote" in r for r in reasons], dtype=bool)
    local = dispersed & ~is_remote & np.array([bool(r & LOCAL_REASONS) for r in reasons], dtype=bool)
    walkable = (text(members["network_status"], n) == "ok") & m.snap.on_network
    return is_remote, local, walkable
