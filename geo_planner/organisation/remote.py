"""Remote branches (异地支部) and mobile members (流动党员): members living in another city.

``remote`` members are grouped by ``member_city``. A city with at least
``min_branch_members`` of them gets a remote branch — split only when larger than
``max_branch_members``, and then by where they live (:func:`~.residence.split_by_residence`) —
meeting at the network medoid of its members (the centroid when none is on the network). A
smaller city gets one ``mobile_member`` row: manage them as mobile party members and keep
contact through their branch.
"""

from __future__ import annotations

import math

import numpy as np

from ..admin import locate_divisions
from ..network import RoadNetwork
from ..settings import BranchSettings
from ..siting.schema import recommendation_row
from .inputs import Members
from .medoid import network_medoid
from .records import (
    Rec,
    finite_max,
    finite_median,
    min_en,
    min_zh,
    mode,
    rule_members,
    walk_median,
)
from .residence import split_by_residence


def _mobile_row(m: Members, g: np.ndarray, city: str, rules: BranchSettings) -> Rec:
    """Make the ``mobile_member`` row of a city with too few remote members ``g`` for a branch."""
    label, label_en = city or "外地", city or "another city"
    located = np.isfinite(m.lon[g]) & np.isfinite(m.lat[g])
    return (recommendation_row(
        kind="mobile_member", name=f"{label}流动党员",
        lon=float(m.lon[g][located].mean()) if located.any() else math.nan,
        lat=float(m.lat[g][located].mean()) if located.any() else math.nan,
        n_members=int(g.size), branch_ids=";".join(sorted(set(m.branch[g]))), city=city,
        township=mode(m.township[g]), before_min=walk_median(m.before[g]), after_min=math.nan,
        max_after_min=math.nan,
        rule=f"{g.size} < {rules.min_branch_members} members: too few for a branch",
        rationale_zh=(f"{label}仅有{g.size}名党员（少于{rules.min_branch_members}人，不足以成立支部），"
                      f"建议按流动党员管理，由原支部通过电话、网络学习和返乡时参加组织生活保持联系。"),
        rationale_en=(f"Only {g.size} members live in {label_en} (fewer than "
                      f"{rules.min_branch_members}, too few for a branch): manage them as mobile "
                      f"party members and keep contact through their branch (phone, online study, "
                      f"meetings when they return)."),
        method="rule",
    ), g)


def _remote_parts(m: Members, g_all: np.ndarray, rules: BranchSettings) -> tuple[list[np.ndarray], list[str]]:
    """Split a city's remote members into parts of at most ``max_branch_members``, and each part's county.

    The county is ``""`` unless the city is split and the part lies in one county that no
    other part shares.
    """
    if g_all.size <= rules.max_branch_members:
        return [g_all], [""]
    county = locate_divisions(m.lon[g_all], m.lat[g_all])["county"].to_numpy(dtype=object)
    county_of = dict(zip(g_all.tolist(), county.tolist(), strict=True))
    parts = [g_all[p] for p in split_by_residence(
        m.lon[g_all], m.lat[g_all], county, m.township[g_all], rules.max_branch_members)]
    areas = [{county_of[int(i)] for i in g} for g in parts]
    subs = [a.pop() if len(a) == 1 else "" for a in areas]
    return parts, [s if subs.count(s) == 1 else "" for s in subs]  # 南京市秦淮区异地支部


def _remote_row(
    m: Members, g: np.ndarray, walk: RoadNetwork, city: str, name: str, rules: BranchSettings
) -> Rec:
    """Make the ``remote_branch`` row of remote members ``g`` of ``city``."""
    label, label_en = city or "外地", city or "another city"
    m_lon, m_lat, t, on_net = network_medoid(walk, m.snap.subset(g), m.lon[g], m.lat[g])
    src = sorted(set(m.branch[g]))
    b_med, a_med, a_max = walk_median(m.before[g]), finite_median(t), finite_max(t)
    where_zh = f"步行中位{min_zh(a_med)}" if on_net else "活动地点取成员住址中心"
    where_en = f"median walk {min_en(a_med)}" if on_net else "meeting near the centre of their homes"
    return (recommendation_row(
        kind="remote_branch", name=name,
        lon=m_lon, lat=m_lat, n_members=int(g.size), branch_ids=";".join(src), city=city,
        township=mode(m.township[g]), before_min=b_med, after_min=a_med, max_after_min=a_max,
        rule=f"{rule_members(g.size, rules)} living in {label_en}",
        rationale_zh=(f"{g.size}名党员（原属{len(src)}个支部：{'、'.join(src)}）长期居住在{label}，"
                      f"到原支部{min_zh(b_med)}，建议在当地成立异地党支部（{where_zh}）。"),
        rationale_en=(f"{g.size} members of {len(src)} branches ({', '.join(src)}) live in "
                      f"{label_en}, away from their branches: form a remote branch there "
                      f"({where_en})."),
        method="rule; network medoid" if on_net else "rule; centroid",
    ), g)


def remote_recs(m: Members, remote: np.ndarray, walk: RoadNetwork, *, rules: BranchSettings) -> list[Rec]:
    """Remote branches (≥ ``min_branch_members`` in a city) and mobile members (fewer), per city."""
    out: list[Rec] = []
    for city in sorted(set(m.city[remote])):
        g_all = remote[m.city[remote] == city]
        if g_all.size < rules.min_branch_members:
            out.append(_mobile_row(m, g_all, city, rules))
            continue
        label = city or "外地"
        parts, subs = _remote_parts(m, g_all, rules)
        for k, (g, sub) in enumerate(zip(parts, subs, strict=True), start=1):
            name = (f"{label}异地支部" if len(parts) == 1 else f"{label}{sub}异地支部" if sub
                    else f"{label}异地第{k}支部")
            out.append(_remote_row(m, g, walk, city, name, rules))
    return out
