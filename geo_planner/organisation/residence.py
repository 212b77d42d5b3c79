"""Where members live: splitting a large group by residence, and party groups (党小组).

:func:`split_by_residence` cuts a remote branch that is too large along county, township and
finally a spatial axis. :func:`party_group_recs` gives a large branch one party group per
residence area (the township; the community when the branch lives in one township).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..network import RoadNetwork
from ..settings import BranchSettings
from ..siting.schema import recommendation_row
from .inputs import Members, Places
from .medoid import network_medoid, planar
from .records import Rec, finite_max, finite_median, min_en, min_zh, mode, walk_median


def split_by_residence(
    lon: np.ndarray, lat: np.ndarray, county: np.ndarray, township: np.ndarray, max_members: int
) -> list[np.ndarray]:
    """Split a group of members into parts of at most ``max_members`` by where they live.

    A group that fits stays whole. Otherwise members are grouped by county-level division;
    a division too large is grouped by 街道/乡镇; a township still too large is cut along
    its longer axis into contiguous runs. The parts are then merged back, smallest first,
    with the part whose centre is nearest, whenever the two fit together, so no part is
    split off without need.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees (NaN for members without a location: they join the largest part).
    county, township
        Where each member lives ("" when unknown).
    max_members
        The branch maximum.

    Returns
    -------
    list of numpy.ndarray
        Positions (into the inputs) of each part, largest first; together every member once.
    """
    n = lon.shape[0]
    everyone = np.arange(n)
    if n <= max_members:
        return [everyone]
    x, y = planar(lon, lat)

    def by_axis(idx: np.ndarray) -> list[np.ndarray]:
        k = math.ceil(idx.size / max_members)
        if k <= 1:
            return [idx]
        fx, fy = x[idx][np.isfinite(x[idx])], y[idx][np.isfinite(y[idx])]
        wide = fx.size and (np.ptp(fx) >= np.ptp(fy))
        axis = (x if wide else y)[idx]
        return np.array_split(idx[np.argsort(np.nan_to_num(axis, nan=np.inf), kind="stable")], k)

    def by_key(idx: np.ndarray, key: np.ndarray, then) -> list[np.ndarray]:  # noqa: ANN001
        if idx.size <= max_members:
            return [idx]
        out: list[np.ndarray] = []
        for value in sorted(set(key[idx].tolist())):
            part = idx[key[idx] == value]
            out += then(part) if part.size > max_members else [part]
        return out

    parts = by_key(everyone, np.asarray(county, dtype=object),
                   lambda p: by_key(p, np.asarray(township, dtype=object), by_axis))

    def centre(p: np.ndarray) -> tuple[float, float]:
        ok = np.isfinite(x[p]) & np.isfinite(y[p])
        return (float(x[p][ok].mean()), float(y[p][ok].mean())) if ok.any() else (math.nan, math.nan)

    merged = True
    while merged and len(parts) > 1:
        merged = False
        parts.sort(key=lambda p: p.size)
        for i, small in enumerate(parts):
            cx, cy = centre(small)
            best, best_d = -1, math.inf
            for j, other in enumerate(parts):
                if j == i or small.size + other.size > max_members:
                    continue
                ox, oy = centre(other)
                d = math.hypot(cx - ox, cy - oy) if np.isfinite([cx, cy, ox, oy]).all() else 1e18
                if d < best_d:
                    best, best_d = j, d
            if best >= 0:
                parts[best] = np.sort(np.concatenate([parts[best], small]))
                del parts[i]
                merged = True
                break
    return sorted(parts, key=lambda p: (-p.size, int(p[0])))


def _qualifying_branches(m: Members, free: np.ndarray, min_pg: int) -> tuple[np.ndarray, list[int]]:
    """Branches with two areas (townships, else communities) of ``min_pg`` free members.

    Returns the free members with a known branch and the branch rows that may qualify.
    """
    sel = np.flatnonzero(free & (m.branch_pos >= 0))
    df = pd.DataFrame({"b": m.branch_pos[sel], "t": m.township[sel], "c": m.community[sel]})
    qualify: set[int] = set()
    for col in ("t", "c"):
        sizes = df[df[col] != ""].groupby(["b", col]).size()
        big_areas = (sizes >= min_pg).groupby(level=0).sum()
        qualify |= {int(k) for k in big_areas[big_areas >= 2].index}
    return sel, sorted(qualify)


def _area_groups(
    m: Members, g_all: np.ndarray, min_pg: int
) -> tuple[str, list[str], pd.Series, np.ndarray] | None:
    """Split a branch's members into party groups by residence area.

    The area is the township, or the community when fewer than two townships have
    ``min_pg`` members. Members of smaller areas (or none) join the group whose centre is
    nearest (the largest group when they have no location).

    Returns
    -------
    (level, big, counts, group) or None
        ``township``/``community``; the areas with ``min_pg`` members, largest first; the
        member count per area; the group (index into ``big``) per member. ``None`` when
        fewer than two areas are large enough.
    """
    towns = pd.Series(m.township[g_all])
    level, area = "township", m.township[g_all]
    if int((towns[towns != ""].value_counts() >= min_pg).sum()) < 2:  # the branch lives in one township
        level, area = "community", m.community[g_all]
    counts = pd.Series(area)[pd.Series(area) != ""].value_counts()
    big = [str(a) for a, c in counts.items() if c >= min_pg]
    if len(big) < 2:
        return None
    group = pd.Index(big).get_indexer(pd.Index(area))  # -1: a small area or none
    loose = group < 0
    if loose.any():  # join the group whose centre is nearest (the largest without a location)
        x, y = planar(m.lon[g_all], m.lat[g_all])
        cx = np.array([np.nanmean(x[group == k]) if np.isfinite(x[group == k]).any() else np.nan
                       for k in range(len(big))])
        cy = np.array([np.nanmean(y[group == k]) if np.isfinite(y[group == k]).any() else np.nan
                       for k in range(len(big))])
        d = np.hypot(x[loose, None] - cx[None, :], y[loose, None] - cy[None, :])
        d = np.where(np.isfinite(d), d, np.inf)
        group[loose] = np.where(np.isfinite(d).any(axis=1), np.argmin(d, axis=1), 0)  # big[0] is largest
    return level, big, counts, group


def _party_group_row(
    m: Members, g: np.ndarray, walk: RoadNetwork, branches: Places, b: int, *, rank: int, area: str,
    n_core: int, level: str, n_areas: int, n_branch: int, rules: BranchSettings,
) -> Rec:
    """Make the row of party group ``rank`` of branch ``b``: members ``g``, ``n_core`` of them in ``area``."""
    m_lon, m_lat, t, on_net = network_medoid(walk, m.snap.subset(g), m.lon[g], m.lat[g])
    b_med, a_med, a_max = walk_median(m.before[g]), finite_median(t), finite_max(t)
    extra = g.size - n_core
    level_zh, level_en = ("街道", "townships") if level == "township" else ("社区", "communities")
    return (recommendation_row(
        kind="party_group", name=f"{branches.ids[b]}第{rank}党小组（{area}）", lon=m_lon, lat=m_lat,
        n_members=int(g.size), branch_ids=branches.ids[b], city=branches.city[b] or mode(m.city[g]),
        township=area if level == "township" else mode(m.township[g]),
        before_min=b_med, after_min=a_med, max_after_min=a_max,
        rule=(f"{branches.ids[b]} has {n_branch} ≥ {2 * rules.min_branch_members} members in "
              f"{n_areas} {level_en}; {n_core} ≥ {rules.party_group_min_members} members live in {area}"),
        rationale_zh=(f"{branches.name[b]}{n_branch}名成员分住{n_areas}个{level_zh}，"
                      f"建议按居住地设立党小组：{area}{n_core}人"
                      + (f"（另含附近{extra}人）" if extra else "")
                      + f"，就近活动步行中位{min_zh(a_med)}（到支部中位{min_zh(b_med)}）。"),
        rationale_en=(f"{branches.ids[b]}'s {n_branch} members live in {n_areas} {level_en}: "
                      f"a party group of the {n_core} members in {area}"
                      + (f" (plus {extra} nearby)" if extra else "")
                      + f" meets near home, median walk {min_en(a_med)} (to the branch "
                      f"{min_en(b_med)})."),
        method="rule; network medoid" if on_net else "rule; centroid",
    ), g)


def party_group_recs(
    m: Members, free: np.ndarray, branches: Places, walk: RoadNetwork, *, rules: BranchSettings,
) -> list[Rec]:
    """Party groups by residence area inside large branches (members ``free`` of other recommendations).

    A branch with at least ``2 × min_branch_members`` free members living in at least two
    areas of ``party_group_min_members`` each gets one party group per area (see
    :func:`_area_groups`), meeting at its network medoid.
    """
    out: list[Rec] = []
    sel, qualify = _qualifying_branches(m, free, rules.party_group_min_members)
    by_branch = sel[np.argsort(m.branch_pos[sel], kind="stable")]
    starts = np.searchsorted(m.branch_pos[by_branch], np.arange(branches.ids.size + 1))
    for b in qualify:
        g_all = np.sort(by_branch[starts[b]:starts[b + 1]])
        if g_all.size < 2 * rules.min_branch_members:
            continue
        groups = _area_groups(m, g_all, rules.party_group_min_members)
        if groups is None:
            continue
        level, big, counts, group = groups
        sizes = np.bincount(group, minlength=len(big))
        for rank, k in enumerate(np.argsort(-sizes, kind="stable"), start=1):
            out.append(_party_group_row(
                m, g_all[group == k], walk, branches, b, rank=rank, area=big[k], n_core=int(counts[big[k]]),
                level=level, n_areas=len(big), n_branch=int(g_all.size), rules=rules))
    return out
