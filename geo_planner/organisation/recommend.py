"""Recommendations from the dispersion stage's flags: :func:`recommend_branches`.

The rules are in the package docstring (:mod:`geo_planner.organisation`); each kind of
recommendation has its module, and this one runs them in order so that a member appears
in at most one recommendation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import sparse

from ..network import RoadNetwork
from ..settings import BranchSettings, Thresholds
from ..siting.budget import FRACTIONS, MIN_SHARE_S, TimeBudget
from ..siting.schema import recommendation_row
from ..travel import cost_matrix
from .cohesion import cohesion_blocks
from .inputs import Members, Places, dispersed_groups, read_members, validate
from .joint import JointBranchSolution, solve_joint_branches
from .records import (
    Rec,
    finite_max,
    finite_median,
    min_en,
    min_zh,
    mode,
    rule_members,
    rule_record,
    tabulate,
    walk_median,
)
from .remote import remote_recs
from .residence import party_group_recs
from .transfer import transfer_recs

log = logging.getLogger(__name__)

#: Share of :func:`recommend_branches`'s time limit the joint-branch model may use, its set-up
#: included (the rules — transfers, remote branches, party groups — take the rest; they are not
#: time-limited): ``FRACTIONS["organisation.joint_branch"]`` of :mod:`geo_planner.siting.budget`.
JOINT_SHARE = FRACTIONS["organisation.joint_branch"]


def _joint_rows(
    m: Members, cand: np.ndarray, sites: Places, is_station: np.ndarray, sol: JointBranchSolution, *,
    rules: BranchSettings, limit_min: float,
) -> list[Rec]:
    """One ``joint_branch`` row per open site of the solution (``cand``: the members solved)."""
    out: list[Rec] = []
    used_names: set[str] = set()
    for j in sol.open_sites:
        g, t = cand[sol.site == j], sol.minutes[sol.site == j]
        units = sorted(set(m.branch[g]))
        area = mode(m.community[g]) or mode(m.township[g]) or sites.name[j]
        name = f"{area}联合党支部"
        if name in used_names:
            name = f"{area}联合党支部（{sites.name[j]}）"
        used_names.add(name)
        b_med, a_med, a_max = walk_median(m.before[g]), finite_median(t), finite_max(t)
        place_zh, place_en = ("驿站", "station") if is_station[j] else ("公共场所", "candidate place")
        out.append((recommendation_row(
            kind="joint_branch", name=name, lon=sites.lon[j], lat=sites.lat[j], site_id=sites.ids[j],
            site_name=sites.name[j], n_members=int(g.size), branch_ids=";".join(units), city=mode(m.city[g]),
            township=mode(m.township[g]), before_min=b_med, after_min=a_med, max_after_min=a_max,
            rule=(f"{rule_members(g.size, rules)}; {len(units)} ≤ {rules.max_units_per_joint_branch} units; "
                  f"every member ≤ {limit_min:g} min walk"),
            rationale_zh=(f"来自{len(units)}个支部的{g.size}名居住分散党员住在{sites.name[j]}附近，"
                          f"到原支部步行中位{min_zh(b_med)}，到该{place_zh}全部不超过{a_max:.0f}分钟"
                          f"（中位{a_med:.0f}分钟），可成立联合党支部。"),
            rationale_en=(f"{g.size} dispersed members of {len(units)} branches (median walk to their branch "
                          f"{min_en(b_med)}) all live within {a_max:.0f} min of {sites.ids[j]} ({place_en}, "
                          f"median {a_med:.0f} min) and can form a joint branch there."),
            method=sol.method,
        ), g))
    return out


def _joint_branch_recs(
    m: Members, cand: np.ndarray, sites: Places, is_station: np.ndarray, walk: RoadNetwork, *,
    rules: BranchSettings, limit_min: float, max_snap_m: float, budget: TimeBudget, share_s: float,
    report: dict[str, object], progress: Callable[[str, float], None] | None = None,
) -> list[Rec]:
    """Joint branches for the candidates (row positions ``cand``) at the sites.

    The model and its set-up (its walks and neighbourhood blocks, steps of ``budget``) end
    within ``share_s`` seconds of the budget's start: the model gets what the set-up left.
    ``report`` receives its record under ``"joint_branch"``.
    """
    if cand.size == 0 or sites.ids.size == 0:
        report["joint_branch"] = {"method": "none", "status": "empty", "gap": None, "runtime_s": 0.0,
                                  "placed": 0, "bound": 0, "candidates": int(cand.size),
                                  "message": "no dispersed member or no site: nothing to group"}
        return []
    with budget.step("joint_walks"):
        cm = cost_matrix(walk, m.snap.subset(cand), sites.snap(walk, max_snap_m), limit_min)
    _, unit = np.unique(m.branch[cand], return_inverse=True)
    unit = unit.ravel()
    with budget.step("neighbourhood_blocks"):
        block = cohesion_blocks(walk, m.snap.subset(cand), unit, m.lon[cand], m.lat[cand],
                                cohesion_min=rules.cohesion_min, same_place_m=rules.cohesion_same_place_m)
    setup_s = budget.elapsed_s
    limit = share_s - setup_s
    with budget.step("joint_branch", max(MIN_SHARE_S, limit)) as part:
        if limit < MIN_SHARE_S:
            budget.note(f"the set-up (members, walks, neighbourhood blocks) took {setup_s:.2f} s of the "
                        f"joint-branch share of {share_s:.2f} s: the model had {MIN_SHARE_S:g} s (greedy grouping, "
                        "with its bound)")
        sol = solve_joint_branches(
            cm, unit, is_station, min_members=rules.min_branch_members, max_members=rules.max_branch_members,
            max_units=rules.max_units_per_joint_branch, threshold_min=limit_min,
            time_limit_s=part.total_s, block=block, progress=progress,
            max_exact_size=rules.joint_max_exact_size,
        )
    report["joint_branch"] = {**sol.summary(), "candidates": int(cand.size),
                              "neighbourhood_blocks": int(np.unique(block[block >= 0]).size),
                              "cohesion_min": float(rules.cohesion_min),
                              "setup_s": round(setup_s, 3),
                              "model_limit_s": round(part.total_s, 3)}
    if budget.notes:  # what the model gave up for lack of time (run.json, the CLI's warning)
        rec = report["joint_branch"]
        assert isinstance(rec, dict)
        rec["time_notes"] = list(budget.notes)
        rec["message"] = f"{rec['message']}; {'; '.join(budget.notes)}"
    return _joint_rows(m, cand, sites, is_station, sol, rules=rules, limit_min=limit_min)


def _fewer_sites(sites: pd.DataFrame, budget: TimeBudget, share_s: float) -> pd.DataFrame:
    """The candidate meeting places the joint-branch model can afford.

    When less than ``FRACTIONS["organisation.setup_floor"]`` of the joint-branch share is left
    after the set-up so far (the members, the transfer walks), the walks to every candidate
    place and the model over them would not fit: only the existing stations are candidate
    meeting places (fewer walks, a smaller model), and the budget's notes say so.
    """
    left = share_s - budget.elapsed_s
    stations = sites["kind"] == "station"
    if left >= FRACTIONS["organisation.setup_floor"] * share_s or stations.all() or not stations.any():
        return sites
    budget.note(f"{max(left, 0.0):.2f} s of the joint-branch share of {share_s:.2f} s were left after "
                f"{budget.elapsed_s:.2f} s of set-up: only the {int(stations.sum())} existing stations (not the "
                f"{int((~stations).sum())} other candidate places) were meeting places; the bound is over them")
    return sites[stations]


def _rule_recs(
    m: Members, recs: list[Rec], cand: np.ndarray, is_remote: np.ndarray, branches: Places,
    walk: RoadNetwork, *, rules: BranchSettings, limit_min: float, max_snap_m: float,
    to_branches: sparse.csr_matrix | None, report: dict[str, object], step: Callable[[str, float], None],
) -> list[Rec]:
    """Transfers, remote branches and party groups for the members the joint branches ``recs`` left.

    ``to_branches`` is the ``cand × branches`` walking-minute matrix (``None`` when either is
    empty); ``report`` receives each rule's record.
    """
    taken = np.zeros(m.ids.size, dtype=bool)
    for _, g in recs:
        taken[g] = True
    step("transfers", 0.8)
    t0 = time.perf_counter()
    left = ~taken[cand]
    out = transfer_recs(m, cand[left], branches, walk, limit_min=limit_min, max_snap_m=max_snap_m,
                        minutes=None if to_branches is None else to_branches[np.flatnonzero(left)])
    report["transfer"] = rule_record("rule: nearest other branch within branch_walk_min", out, t0, exact=True)
    step("remote branches", 0.85)
    t0 = time.perf_counter()
    more = remote_recs(m, np.flatnonzero(is_remote), walk, rules=rules)
    report["remote_branch"] = rule_record("rule by city; network medoid", more, t0)
    out += more
    for _, g in out:
        taken[g] = True
    step("party groups", 0.9)
    t0 = time.perf_counter()
    more = party_group_recs(m, ~taken & ~is_remote, branches, walk, rules=rules)
    report["party_group"] = rule_record("rule by residence area; network medoid", more, t0)
    return out + more


def recommend_branches(
    members: pd.DataFrame,
    branches: pd.DataFrame,
    sites: pd.DataFrame,
    walk: RoadNetwork,
    *,
    rules: BranchSettings,
    thresholds: Thresholds,
    max_snap_m: float = 500.0,
    time_limit_s: float = 60.0,
    budget: TimeBudget | None = None,
    report: dict[str, object] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recommend joint branches, transfers, party groups and remote branches.

    See the package docstring for the rules and :mod:`~geo_planner.organisation.joint` for
    the joint-branch model. A member appears in at most one recommendation: joint branches
    are formed first, transfers take the dispersed members left out, remote members go to
    remote branches or mobile members, and party groups are formed from the members left in
    each branch.

    Parameters
    ----------
    members
        One row per member: ``id``, ``branch_id``, ``lon``, ``lat`` (WGS-84, NaN when
        unknown), ``walk_min_branch`` (minutes, NaN when unreachable), ``network_status``
        (``ok``/``off_network``/``no_location``), ``dispersed`` (bool), ``dispersion_reason``
        (``;``-joined ``remote``/``cross_township``/``far``), ``member_city``; optional
        ``township`` and ``community``.
    branches
        ``id``, ``name``, ``lon``, ``lat`` of the meeting place; optional ``township``, ``city``.
    sites
        Candidate meeting places: ``id``, ``name``, ``kind`` (``station`` — preferred — or
        ``candidate``), ``lon``, ``lat``.
    walk
        The walking network.
    rules
        Branch rules (members per branch, units per joint branch, party-group size).
    thresholds
        ``branch_walk_min``: the longest walk any member of a joint branch (or a transferred
        member) may have to the meeting place, minutes.
    max_snap_m
        Points farther than this (metres) from a road are off the network.
    time_limit_s
        Time limit of this call, seconds, when no ``budget`` is given: the joint-branch model
        (its cost matrix, blocks and solves) stops at ``JOINT_SHARE`` of it, the rules take the rest.
    budget
        The organisation's part of the siting stage's budget (its limit replaces ``time_limit_s``);
        every step (members, walks, blocks, the model, the rules) is recorded in it.
    report
        When given, receives one record per organisation model for ``run.json``:
        ``joint_branch`` (method, status ``optimal``/``time_limit``/``greedy``/``empty``, gap,
        runtime, the bound on members placed, components) and ``transfer``, ``remote_branch``,
        ``party_group`` (rules: method, status ``optimal`` — the rule's answer is exact — or
        ``heuristic`` when a meeting point was chosen among a group's nearest members only,
        gap ``None``, runtime, rows).
    progress
        Called as ``progress(text, fraction)`` as the models run (fraction of this call).

    Returns
    -------
    recommendations, assignment
        The recommendations in the schema of :mod:`geo_planner.siting.schema`, with
        ``rec_id`` ``R001…`` in the order :func:`~geo_planner.siting.schema.finalize_recommendations`
        sorts them (kind, then size); and one row per input member (same index as
        ``members``): ``id`` and the ``rec_id`` and ``kind`` of its recommendation (``""`` for
        none).

    Raises
    ------
    InputError
        If a table lacks a required column, member ids repeat, or a site kind is unknown.
    SolverError
        If HiGHS rejects the joint-branch model.
    """
    validate(members, branches, sites, rules)
    budget = TimeBudget(time_limit_s, name="organisation") if budget is None else budget
    t_start = time.perf_counter()
    limit = float(thresholds.branch_walk_min)
    b = Places.of(branches)
    with budget.step("members"):
        m = read_members(members, b, walk, max_snap_m)
        is_remote, local, walkable = dispersed_groups(members, m)
    if (local & ~walkable).any():
        log.warning("%d dispersed, non-remote members are off the walking network: no joint branch or "
                    "transfer", int((local & ~walkable).sum()))
    cand = np.flatnonzero(local & walkable)
    rep: dict[str, object] = {}

    def step(text: str, fraction: float) -> None:
        if progress is not None:
            progress(text, fraction)

    step("joint branches", 0.0)
    # the transfer rule's walks, measured before the time-limited model so that its time counts
    with budget.step("transfer_walks"):
        to_branches = (cost_matrix(walk, m.snap.subset(cand), b.snap(walk, max_snap_m), limit)
                       if cand.size and b.ids.size else None)
    share_s = JOINT_SHARE * budget.total_s
    sites = _fewer_sites(sites, budget, share_s)
    recs = _joint_branch_recs(m, cand, Places.of(sites), (sites["kind"] == "station").to_numpy(), walk,
                              rules=rules, limit_min=limit, max_snap_m=max_snap_m, budget=budget,
                              share_s=share_s, report=rep,
                              progress=lambda text, fraction: step(text, 0.8 * fraction))
    with budget.step("rules"):
        recs += _rule_recs(m, recs, cand, is_remote, b, walk, rules=rules, limit_min=limit, max_snap_m=max_snap_m,
                           to_branches=to_branches, report=rep, step=step)
    if report is not None:
        report.update(rep)
    table, assignment = tabulate(recs, m.ids, members.index)
    made = ", ".join(f"{k} {v}" for k, v in table["kind"].value_counts().items()) or "none"
    log.info("branch recommendations: %s in %.2f s", made, time.perf_counter() - t_start)
    return table, assignment
