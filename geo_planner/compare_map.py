"""The difference map of two runs: who is newly covered or uncovered, and how each area's coverage changed.

Two layers for the comparison page's map (:mod:`geo_planner.compare` gives its figures and lists):

* :func:`difference_members` — planners: every member of the later run with a point, coded by
  what happened to their station coverage (members matched as :func:`geo_planner.compare.compare_runs`
  matches them: by id, else by name and birth month), and the members gone from the roster at
  their old homes. Parallel columns, for the same WebGL point layer as the run page.
* :func:`difference_areas` — every role: the fixed privacy grid (:func:`geo_planner.privacy.grid_cells`),
  each cell with the coverage share of the members the station models consider in either run and
  its change; for viewers under the small-cell rule (:func:`geo_planner.privacy.share_change_cells`).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from .compare import _flag, _match
from .errors import InputError, Problem
from .privacy import VIEWER_CELL_M, grid_cell_size, grid_cells, is_viewer, lonlat, share_change_cells
from .results import RunSource
from .siting.plan import siting_members
from .vocab import Role
from .weblayers import COORD_DECIMALS, members_subset

__all__ = ["CHANGE_CODES", "difference_areas", "difference_members"]

#: What a member's code in :func:`difference_members` means (index = code).
CHANGE_CODES: Final[tuple[str, ...]] = (
    "still_covered",  # matched, within the circle in both runs
    "still_uncovered",  # matched, outside it in both
    "newly_covered",  # matched, outside before, within now
    "newly_uncovered",  # matched, within before, outside now
    "new_covered",  # new in the later roster, within the circle
    "new_uncovered",  # new, outside it
    "gone",  # in the earlier roster only (drawn at the old home)
)
#: Member columns the two layers read.
_COLUMNS: Final = ("id", "name", "birth", "lon", "lat", "covered_station", "network_status", "dispersion_reason")


def _runs(store: RunSource, run_id: str, other_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if run_id == other_id:
        raise InputError(Problem("request", None, "with", "compare a run with another run, not with itself"))
    before = members_subset(store, other_id, _COLUMNS).reset_index(drop=True)
    after = members_subset(store, run_id, _COLUMNS).reset_index(drop=True)
    return before, after


def difference_members(store: RunSource, run_id: str, other_id: str) -> dict[str, Any]:
    """Members coded by the change of their station coverage (planners: member-level data).

    Parameters
    ----------
    store
        The store holding both runs.
    run_id, other_id
        The later run and the earlier one.

    Returns
    -------
    dict
        ``n`` (members drawn), ``unplaced`` (without a point, counted), ``id``, ``lon``, ``lat``
        and ``change`` (codes into ``codes``: :data:`CHANGE_CODES`) as parallel lists, and
        ``counts`` (members drawn per code).

    Raises
    ------
    InputError
        ``other_id`` is the run itself.
    NotFoundError, ConflictError
        Unknown or unfinished run.
    """
    before, after = _runs(store, run_id, other_id)
    bi, ai, _ = _match(before, after)
    cov_a = _flag(after, "covered_station")
    was = np.full(len(after), -1, dtype=np.int64)  # -1 new, else covered before (0/1)
    was[ai] = _flag(before, "covered_station")[bi].astype(np.int64)
    code = np.where(was < 0, np.where(cov_a, 4, 5), np.where(cov_a, np.where(was == 1, 0, 2), np.where(was == 1, 3, 1)))
    gone = before.drop(index=bi)
    both = pd.concat([after.assign(_code=code), gone.assign(_code=6)], ignore_index=True)
    lon, lat, ok = lonlat(both)
    placed = both.loc[ok]
    codes = placed["_code"].to_numpy(np.int64)
    return {
        "n": int(ok.sum()),
        "unplaced": int((~ok).sum()),
        "id": placed["id"].astype(str).tolist(),
        "lon": np.round(lon[ok], COORD_DECIMALS).tolist(),
        "lat": np.round(lat[ok], COORD_DECIMALS).tolist(),
        "change": codes.tolist(),
        "codes": list(CHANGE_CODES),
        "counts": {name: int((codes == k).sum()) for k, name in enumerate(CHANGE_CODES)},
    }


def _cell_counts(df: pd.DataFrame, cell_m: float) -> pd.DataFrame:
    """Considered members and those covered, per privacy-grid cell (``band``, ``ix``, ``iy``)."""
    lon, lat, ok = lonlat(df)
    use = ok & siting_members(df)
    cells = grid_cells(lon[use], lat[use], cell_m)
    out = pd.DataFrame(cells, columns=["band", "ix", "iy"])
    out["members"] = 1
    out["covered"] = _flag(df, "covered_station")[use].astype(np.int64)
    return out.groupby(["band", "ix", "iy"], as_index=False)[["members", "covered"]].sum()


def difference_areas(store: RunSource, run_id: str, other_id: str, *, role: Role,
                     cell_m: float = VIEWER_CELL_M) -> dict[str, Any]:
    """The privacy grid coloured by the change of station coverage between two runs.

    Each cell holds the members the station models consider (on the network, not 异地) of either
    run; ``before`` / ``after`` are the shares within the circle, ``change`` their difference.
    Viewers get the small-cell rule (:func:`geo_planner.privacy.share_change_cells`): a cell
    describing fewer than 5 people in either run, or 1–4 covered ones, is left out (counted in
    ``suppressed`` when that count is itself at least 5), shares in whole per cent.

    Returns
    -------
    dict
        GeoJSON FeatureCollection of cell polygons with ``members_before``, ``members_after``
        (planners), ``before``, ``after`` and ``change``; collection ``properties``: ``cell_m``,
        ``suppressed``.
    """
    before, after = _runs(store, run_id, other_id)
    cells = _cell_counts(before, cell_m).merge(
        _cell_counts(after, cell_m), on=["band", "ix", "iy"], how="outer", suffixes=("_before", "_after")
    ).fillna(0)
    for col in ("members_before", "covered_before", "members_after", "covered_after"):
        cells[col] = cells[col].astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cells["before"] = np.where(cells["members_before"] > 0, cells["covered_before"] / cells["members_before"], np.nan)
        cells["after"] = np.where(cells["members_after"] > 0, cells["covered_after"] / cells["members_after"], np.nan)
    cells["change"] = cells["after"] - cells["before"]
    hidden = None
    if is_viewer(role):
        cells, hidden = share_change_cells(cells)
    features = _cell_features(cells, cell_m, viewer=is_viewer(role))
    return {"type": "FeatureCollection", "features": features,
            "properties": {"cell_m": cell_m, "suppressed": hidden}}


def _cell_features(cells: pd.DataFrame, cell_m: float, *, viewer: bool) -> list[dict[str, Any]]:
    """One GeoJSON polygon per cell with its shares (4 decimals; viewers' already in whole per cent)."""
    if len(cells) == 0:
        return []
    band = cells["band"].to_numpy(np.int64)
    width, dlat = grid_cell_size(band, cell_m)
    west = np.round(cells["ix"].to_numpy(np.int64) * width, COORD_DECIMALS)
    south = np.round(cells["iy"].to_numpy(np.int64) * dlat, COORD_DECIMALS)
    east, north = np.round(west + width, COORD_DECIMALS), np.round(south + dlat, COORD_DECIMALS)

    def share(v: float) -> float | None:
        return None if not np.isfinite(v) else round(float(v), 4)

    out = []
    for k, row in enumerate(cells.itertuples(index=False)):
        props: dict[str, Any] = {"before": share(row.before), "after": share(row.after), "change": share(row.change)}
        if not viewer:
            props.update(members_before=int(row.members_before), members_after=int(row.members_after))
        w, s, e, n = float(west[k]), float(south[k]), float(east[k]), float(north[k])
        out.append({"type": "Feature", "properties": props,
                    "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}})
    return out
