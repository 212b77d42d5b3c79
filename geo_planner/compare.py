"""Compare two finished runs: who is new, gone, moved or in another branch, and what coverage did.

"What changed since last year's roster?": members of the two runs are matched by id; members
left unmatched on both sides are then matched by name and birth month (ids renumbered between
rosters), and the answer says how many were matched that way. A member **moved** when the home
moved more than :data:`MOVED_M` metres; **branch_changed** when the branch id differs. Coverage
is the runs' own: the share of the members the station models consider within the threshold, and
``coverage_by_area`` side by side.

Viewers get aggregates only (counts of 1–4 people hidden, areas under the small-cell rule);
planners also get the member lists and a work list: members who moved out of the station
circle, or moved and now live beyond their branch's walking threshold.
"""

from __future__ import annotations

import io
import re
from typing import Any, Final

import numpy as np
import pandas as pd

from .crs import metres_per_degree
from .errors import InputError, Problem
from .privacy import is_viewer, small_count
from .results import RunSource, read_table, table_for_role
from .siting.plan import siting_members
from .vocab import Role

__all__ = ["MOVED_M", "compare_runs", "comparison_workbook"]

#: A home that moved farther than this (metres) is a move.
MOVED_M: Final = 100.0
#: Member columns in a planner's lists.
LIST_COLUMNS: Final = ("id", "name", "branch_id", "township", "community")
_YEAR_MONTH = re.compile(r"(\d{4})\D{0,3}(\d{1,2})?")


def _flag(df: pd.DataFrame, col: str) -> np.ndarray:
    return df[col].fillna(False).astype(bool).to_numpy() if col in df else np.zeros(len(df), bool)


def _birth_key(df: pd.DataFrame) -> pd.Series:
    """``name|YYYY-MM`` per member ('' when the name or a readable birth year is missing)."""
    name = df.get("name", pd.Series("", index=df.index)).fillna("").astype(str).str.strip()
    birth = df.get("birth", pd.Series("", index=df.index)).fillna("").astype(str)
    parts = birth.str.extract(_YEAR_MONTH)
    month = pd.to_numeric(parts[1], errors="coerce")
    ym = parts[0].fillna("") + "-" + month.map(lambda m: "" if pd.isna(m) else f"{int(m):02d}")
    key = name + "|" + ym
    return key.where((name != "") & parts[0].notna(), "")


def _match(before: pd.DataFrame, after: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """Row pairs (before, after) by id, then by name + birth among the rest; and how many by the latter."""
    b_ids = pd.Index(before["id"].astype(str))
    a_ids = after["id"].astype(str).to_numpy()
    pos = b_ids.get_indexer(a_ids)
    a_rows = np.flatnonzero(pos >= 0)
    b_rows = pos[a_rows]
    left_b = np.setdiff1d(np.arange(len(before)), b_rows)
    left_a = np.flatnonzero(pos < 0)
    kb, ka = _birth_key(before.iloc[left_b]), _birth_key(after.iloc[left_a])
    kb = kb[(kb != "") & ~kb.duplicated(keep=False)]  # an ambiguous key matches no one
    ka = ka[(ka != "") & ~ka.duplicated(keep=False)]
    both = pd.Index(kb.to_numpy()).get_indexer(ka.to_numpy())
    hit = both >= 0
    extra_a = ka.index[hit].to_numpy(np.int64)  # labels are positions (RangeIndex: compare_runs)
    extra_b = kb.index[both[hit]].to_numpy(np.int64)
    return np.r_[b_rows, extra_b].astype(np.int64), np.r_[a_rows, extra_a].astype(np.int64), int(hit.sum())


def _distance_m(b: pd.DataFrame, a: pd.DataFrame) -> np.ndarray:
    """Metres between the two homes of matched members (NaN where either has no point)."""
    lon0, lat0 = b["lon"].to_numpy(float), b["lat"].to_numpy(float)
    lon1, lat1 = a["lon"].to_numpy(float), a["lat"].to_numpy(float)
    mx, my = metres_per_degree((lat0 + lat1) / 2.0)
    return np.hypot((lon1 - lon0) * mx, (lat1 - lat0) * my)


def _coverage_share(members: pd.DataFrame) -> float | None:
    use = siting_members(members)
    return round(float((_flag(members, "covered_station") & use).sum() / use.sum()), 4) if use.any() else None


def _by_area(store: RunSource, before_id: str, after_id: str, role: Role) -> pd.DataFrame:
    """``coverage_by_area`` of both runs side by side (as the role may see each)."""
    keys = ["level", "township", "area"]
    cols = [*keys, "members", "share_covered_station"]
    b = table_for_role(store, before_id, "coverage_by_area", role)
    a = table_for_role(store, after_id, "coverage_by_area", role)
    out = b[[c for c in cols if c in b]].merge(
        a[[c for c in cols if c in a]], on=keys, how="outer", suffixes=("_before", "_after")
    )
    out = out.rename(
        columns={"share_covered_station_before": "before", "share_covered_station_after": "after"}
    )
    out["change"] = (out["after"] - out["before"]).round(4)
    return out.sort_values(["level", "change"], ascending=[False, True], kind="stable").reset_index(drop=True)


def compare_runs(store: RunSource, run_id: str, other_id: str, *, role: Role) -> dict[str, Any]:
    """Compare run ``run_id`` (after) with ``other_id`` (before).

    Parameters
    ----------
    store
        The store holding both runs.
    run_id, other_id
        The later run and the one to compare it with.
    role
        ``viewer``: aggregates only (no member ids, no count of 1–4 people).

    Returns
    -------
    dict
        ``run_id``, ``with``, ``members`` (``new``, ``gone``, ``moved``, ``branch_changed``,
        ``unchanged``), ``matched_by`` (``id``, ``name_birth``) and ``note``, ``coverage``
        (``before``, ``after``, ``by_area``), ``moved_out_of_circle``, ``moved_into_circle``,
        ``moved_m``; planners also ``lists`` (``new``, ``gone``, ``moved``, ``branch_changed``,
        ``work_list``: member rows).

    Raises
    ------
    InputError
        ``with`` names the run itself.
    NotFoundError, ConflictError
        Unknown or unfinished run.
    """
    if run_id == other_id:
        raise InputError(Problem("request", None, "with", "compare a run with another run, not with itself"))
    before = read_table(store, other_id, "members").reset_index(drop=True)
    after = read_table(store, run_id, "members").reset_index(drop=True)
    bi, ai, by_name = _match(before, after)
    b, a = before.iloc[bi].reset_index(drop=True), after.iloc[ai].reset_index(drop=True)
    dist = _distance_m(b, a)
    moved = np.nan_to_num(dist, nan=0.0) > MOVED_M
    branch = b["branch_id"].astype(str).to_numpy() != a["branch_id"].astype(str).to_numpy()
    cov_b, cov_a = _flag(b, "covered_station"), _flag(a, "covered_station")
    thr = store.finished_run(run_id).scenario_model().thresholds.branch_walk_min
    walk_b = pd.to_numeric(b.get("walk_min_branch"), errors="coerce").to_numpy(float)
    walk_a = pd.to_numeric(a.get("walk_min_branch"), errors="coerce").to_numpy(float)
    away = moved & (walk_b <= thr) & ~(walk_a <= thr)
    out_circle, into_circle = moved & cov_b & ~cov_a, moved & ~cov_b & cov_a
    new = np.setdiff1d(np.arange(len(after)), ai)
    gone = np.setdiff1d(np.arange(len(before)), bi)
    count = (lambda v: small_count(v)) if is_viewer(role) else int
    res: dict[str, Any] = {
        "run_id": run_id,
        "with": other_id,
        "members": {
            "new": count(new.size),
            "gone": count(gone.size),
            "moved": count(int(moved.sum())),
            "branch_changed": count(int(branch.sum())),
            "unchanged": count(int((~moved & ~branch).sum())),
        },
        "matched_by": {"id": count(len(bi) - by_name), "name_birth": count(by_name)},
        "note": (
            f"{by_name} member(s) matched by name and birth month: their ids differ between the rosters"
            if by_name
            else ""
        ),
        "coverage": {
            "before": _coverage_share(before),
            "after": _coverage_share(after),
            "by_area": _by_area(store, other_id, run_id, role),
        },
        "moved_out_of_circle": count(int(out_circle.sum())),
        "moved_into_circle": count(int(into_circle.sum())),
        "moved_m": MOVED_M,
    }
    if not is_viewer(role):
        res["lists"] = _lists(before, after, b, a, new, gone, dist, moved, branch, out_circle, away)
    return res


def _rows(df: pd.DataFrame, extra: dict[str, Any] | None = None) -> pd.DataFrame:
    out = df[[c for c in LIST_COLUMNS if c in df]].reset_index(drop=True).copy()
    for k, v in (extra or {}).items():
        out[k] = v
    return out


def _lists(
    before: pd.DataFrame,
    after: pd.DataFrame,
    b: pd.DataFrame,
    a: pd.DataFrame,
    new: np.ndarray,
    gone: np.ndarray,
    dist: np.ndarray,
    moved: np.ndarray,
    branch: np.ndarray,
    out_circle: np.ndarray,
    away: np.ndarray,
) -> dict[str, pd.DataFrame]:
    """Return the planner's member lists (tables; the route turns them into rows)."""
    walk = pd.to_numeric(a.get("walk_min_station"), errors="coerce").round(2).to_numpy()
    reason = np.where(
        out_circle & away, "station_circle,branch", np.where(out_circle, "station_circle", "branch")
    )
    work = out_circle | away
    return {
        "new": _rows(after.iloc[new]),
        "gone": _rows(before.iloc[gone]),
        "moved": _rows(
            a[moved],
            {
                "moved_m": np.round(dist[moved], 0),
                "covered_before": _flag(b, "covered_station")[moved],
                "covered_after": _flag(a, "covered_station")[moved],
            },
        ),
        "branch_changed": _rows(a[branch], {"branch_before": b["branch_id"].astype(str).to_numpy()[branch]}),
        "work_list": _rows(
            a[work],
            {"reason": reason[work], "walk_min_station": walk[work], "moved_m": np.round(dist[work], 0)},
        ),
    }


def comparison_workbook(result: dict[str, Any]) -> bytes:
    """Write the comparison as XLSX bytes, one sheet per part (members, coverage, by area, lists)."""
    summary = pd.DataFrame(
        [
            {"part": k, "value": v}
            for k, v in [
                *result["members"].items(),
                *(("matched_by_" + k, v) for k, v in result["matched_by"].items()),
                ("moved_out_of_circle", result["moved_out_of_circle"]),
                ("moved_into_circle", result["moved_into_circle"]),
                ("note", result["note"]),
            ]
        ]
    )
    coverage = pd.DataFrame(
        [
            {"run": result["with"], "coverage_share": result["coverage"]["before"]},
            {"run": result["run_id"], "coverage_share": result["coverage"]["after"]},
        ]
    )
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        summary.to_excel(xl, sheet_name="members", index=False)
        coverage.to_excel(xl, sheet_name="coverage", index=False)
        result["coverage"]["by_area"].to_excel(xl, sheet_name="by_area", index=False)
        for name, table in result.get("lists", {}).items():
            table.to_excel(xl, sheet_name=name, index=False)
    return buf.getvalue()
