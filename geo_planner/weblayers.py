"""A finished run's map layers for the planner's web workspace (MapLibre GL in the browser).

The workspace draws a city's 56,000 members as one WebGL layer; what it needs from a run is
small, columnar and cheap to parse, so it is shaped here (the service's routes only call it):

* :func:`member_columns` — members (planners only) as parallel arrays: longitude, latitude,
  and dictionary-coded branch, 街道, 社区, geocoding precision and dispersion reasons (a bit
  mask over :data:`geo_planner.vocab.REASONS`); no name, address or phone (those come one
  member at a time, :func:`member_details`);
* :func:`viewer_grid` — what a viewer gets instead: member counts on the fixed privacy grid
  (:func:`geo_planner.privacy.grid_cells`), cells of fewer than
  :data:`geo_planner.privacy.MIN_GROUP` members left out (their members counted apart);
* :func:`facility_features` — stations, hospitals and branch meeting places (public places);
* :func:`road_lines` — the run's road network as straight node-to-node segments;
* :func:`dispersed_members` / :func:`member_details` — the planner's member tables;
* :func:`layer_json` — the first three as the JSON the service sends, made once per run and kept
  next to its outputs (:data:`LAYER_FILES`; :func:`write_layer_files` when the service's run ends).

Every function is vectorised (numpy/pandas over whole columns); coordinates are WGS-84,
rounded to 6 decimals (about 0.1 m, finer than any input).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from .atomic import atomic_write
from .errors import NotFoundError
from .network import RoadNetwork
from .privacy import MIN_GROUP, VIEWER_CELL_M, grid_cell_size, grid_cells, lonlat
from .results import DISPERSED_COLUMNS, RunSource, read_table
from .vocab import REASONS

log = logging.getLogger(__name__)

#: Decimals kept in coordinates sent to the browser (1e-6° ≈ 0.1 m).
COORD_DECIMALS: Final[int] = 6
#: Member columns a planner sees in the details panel (no raw input coordinates, no ID number).
DETAIL_COLUMNS: Final[tuple[str, ...]] = (
    "id", "name", "status", "age", "branch_id", "branch", "unit", "address", "township", "community",
    "phone", "lon", "lat", "geocode_precision", "geocode_score", "geocode_match", "network_status",
    "walk_min_branch", "branch_status", "walk_min_station", "nearest_station_id", "station_status",
    "drive_min_hospital", "nearest_hospital_id", "hospital_status", "covered_station", "covered_branch",
    "covered_hospital", "dispersed", "dispersion_reason", "dispersion_note", "member_city", "member_county",
    "recommendation_id", "recommendation_kind",
)
#: Most road segments sent to the browser (a province's roads are not drawn segment by segment).
MAX_ROAD_SEGMENTS: Final[int] = 400_000


def _codes(values: pd.Series) -> tuple[list[int], list[str]]:
    """Dictionary-code a text column: (code per row, labels); ``-1`` where the value is missing."""
    text = values.astype("object").where(values.notna(), None)
    text = text.map(lambda v: None if v is None or str(v).strip() == "" else str(v))
    codes, labels = pd.factorize(text, sort=True, use_na_sentinel=True)
    return codes.astype(int).tolist(), [str(x) for x in labels]


def reason_mask(reasons: pd.Series) -> np.ndarray:
    """Bit mask of dispersion reasons per member (bit ``i`` = :data:`~geo_planner.vocab.REASONS` ``[i]``).

    Parameters
    ----------
    reasons
        ``dispersion_reason`` texts, several reasons joined by ``;`` (or ``,``).

    Returns
    -------
    numpy.ndarray
        ``int64`` masks, 0 for a member who is not dispersed.
    """
    text = reasons.astype("object").where(reasons.notna(), "").astype(str)
    mask = np.zeros(len(text), dtype=np.int64)
    for bit, code in enumerate(REASONS):
        hit = text.str.contains(rf"(?:^|[;,\s]){code}(?:$|[;,\s])", regex=True).to_numpy(dtype=bool)
        mask[hit] |= 1 << bit
    return mask


#: Members' columns the map needs (read alone: a city's members table has 45 columns).
MAP_COLUMNS: Final[tuple[str, ...]] = (
    "id", "lon", "lat", "branch_id", "township", "community", "geocode_precision", "dispersion_reason",
    "covered_station", "covered_branch", "covered_hospital",
)


def members_subset(store: RunSource, run_id: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """The run's members with only ``columns`` (those it has), flags parsed, read from its CSV output.

    Reading a few columns of a city's ``members.csv`` is several times faster than the whole table;
    without the file (a store that keeps tables elsewhere) the whole table is read.
    """
    from .results import parse_flags
    from .store.files import TEXT_COLUMNS
    from .vocab import table_file

    store.finished_run(run_id)
    try:
        path = store.run_file(run_id, table_file("members"))
    except NotFoundError:
        df = read_table(store, run_id, "members")
        return df[[c for c in columns if c in df.columns]]
    wanted = set(columns)
    head = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    dtype = {c: str for c in head if c in TEXT_COLUMNS and c in wanted}
    df = pd.read_csv(path, encoding="utf-8-sig", usecols=lambda c: c in wanted, dtype=dtype, keep_default_na=True)
    for c in dtype:
        df[c] = df[c].fillna("")
    return parse_flags(df)


def member_columns(store: RunSource, run_id: str) -> dict[str, Any]:
    """Members of a finished run as columns for the workspace map (planners only: homes).

    Parameters
    ----------
    store
        The store holding the run.
    run_id
        A finished run.

    Returns
    -------
    dict
        ``n`` (members drawn), ``unplaced`` (members without a point, counted, not drawn),
        ``id``, ``lon``, ``lat`` (lists of length ``n``), ``branch``, ``township``,
        ``community``, ``precision`` (codes into the lists under ``labels``; ``-1`` missing),
        ``reasons`` (bit masks over ``reason_codes``), ``covered`` (bit 0 station, 1 branch,
        2 hospital) and ``labels`` (``branch`` also gives each branch's name under ``branch_names``).
    """
    members = members_subset(store, run_id, MAP_COLUMNS)
    lon, lat, ok = lonlat(members)
    placed = members.loc[ok]
    out: dict[str, Any] = {
        "n": int(ok.sum()),
        "unplaced": int((~ok).sum()),
        "id": placed["id"].astype(str).tolist(),
        "lon": np.round(lon[ok], COORD_DECIMALS).tolist(),
        "lat": np.round(lat[ok], COORD_DECIMALS).tolist(),
        "labels": {},
        "reason_codes": list(REASONS),
    }
    for key, col in (("branch", "branch_id"), ("township", "township"), ("community", "community"),
                     ("precision", "geocode_precision")):
        series = placed[col] if col in placed.columns else pd.Series(None, index=placed.index, dtype="object")
        out[key], out["labels"][key] = _codes(series)
    reasons = placed["dispersion_reason"] if "dispersion_reason" in placed.columns else pd.Series("", index=placed.index)
    out["reasons"] = reason_mask(reasons).tolist()
    covered = np.zeros(len(placed), dtype=np.int64)
    for bit, col in enumerate(("covered_station", "covered_branch", "covered_hospital")):
        if col in placed.columns:
            covered[placed[col].fillna(False).astype(bool).to_numpy()] |= 1 << bit
    out["covered"] = covered.tolist()
    names = read_table(store, run_id, "branches")
    by_id = dict(zip(names["id"].astype(str), names["name"].astype(str), strict=False))
    out["labels"]["branch_names"] = [by_id.get(b, b) for b in out["labels"]["branch"]]
    return out


def viewer_grid(store: RunSource, run_id: str, *, cell_m: float = VIEWER_CELL_M,
                min_group: int = MIN_GROUP) -> dict[str, Any]:
    """Member counts on the fixed privacy grid, as a GeoJSON FeatureCollection (what a viewer sees).

    Cells of fewer than ``min_group`` members are left out; ``suppressed`` (in the collection's
    ``properties``) counts their members when that count is itself at least ``min_group``, else
    it is ``None`` (no count of 1–4 people anywhere).

    Parameters
    ----------
    store, run_id
        The finished run.
    cell_m
        Grid cell size, metres (default the viewer grid of :mod:`geo_planner.privacy`).
    min_group
        Smallest count shown.

    Returns
    -------
    dict
        GeoJSON with one Polygon per shown cell and property ``count``.
    """
    members = members_subset(store, run_id, ("lon", "lat"))
    lon, lat, ok = lonlat(members)
    features: list[dict[str, Any]] = []
    hidden = 0
    if ok.any():
        cells, counts = np.unique(grid_cells(lon[ok], lat[ok], cell_m), axis=0, return_counts=True)
        width, dlat = grid_cell_size(cells[:, 0], cell_m)
        west = np.round(cells[:, 1] * width, COORD_DECIMALS)
        south = np.round(cells[:, 2] * dlat, COORD_DECIMALS)
        east = np.round(west + width, COORD_DECIMALS)
        north = np.round(south + dlat, COORD_DECIMALS)
        keep = counts >= min_group
        hidden = int(counts[~keep].sum())
        for w, s, e, n, c in zip(west[keep].tolist(), south[keep].tolist(), east[keep].tolist(),
                                 north[keep].tolist(), counts[keep].tolist(), strict=True):
            features.append({"type": "Feature", "properties": {"count": int(c)},
                             "geometry": {"type": "Polygon",
                                          "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}})
    return {"type": "FeatureCollection", "features": features,
            "properties": {"cell_m": cell_m, "min_group": min_group,
                           "suppressed": hidden if hidden >= min_group else None}}


def _points(df: pd.DataFrame | None, kind: str, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    lon, lat, ok = lonlat(df)
    if df is None or not ok.any():
        return []
    rows = df.loc[ok]
    cols = [c for c in ("id", "name", *extra) if c in rows.columns]
    props = rows[cols].astype("object").where(rows[cols].notna(), None).to_dict(orient="records")
    return [{"type": "Feature", "properties": {"layer": kind, **{k: (None if v is None else str(v))
                                                                for k, v in p.items()}},
             "geometry": {"type": "Point", "coordinates": [x, y]}}
            for p, x, y in zip(props, np.round(lon[ok], COORD_DECIMALS).tolist(),
                               np.round(lat[ok], COORD_DECIMALS).tolist(), strict=True)]


def facility_features(store: RunSource, run_id: str) -> dict[str, Any]:
    """Stations, hospitals and branch meeting places of a run as one GeoJSON FeatureCollection.

    Each feature has ``layer`` (``station``, ``hospital`` or ``branch``), ``id`` and ``name``
    (and ``kind``/``level``/``meeting_place`` where the table has them). These are public places;
    every role may see them.
    """
    from .results import optional_table

    features = (_points(read_table(store, run_id, "stations"), "station", ("kind",))
                + _points(optional_table(store, run_id, "hospitals"), "hospital", ("level",))
                + _points(read_table(store, run_id, "branches"), "branch", ("meeting_place",)))
    return {"type": "FeatureCollection", "features": features}


def road_lines(net: RoadNetwork, *, max_segments: int = MAX_ROAD_SEGMENTS) -> dict[str, Any]:
    """The road network as straight segments between its nodes (one MultiLineString feature).

    Edges are drawn from node to node (the curve between them is left out), which is enough to
    see where the roads run at city scale and costs one array operation.

    Parameters
    ----------
    net
        A road network (walk or drive).
    max_segments
        Above this many edges, only every k-th edge is kept (and ``sampled`` says so).

    Returns
    -------
    dict
        GeoJSON FeatureCollection with ``properties.segments`` and ``properties.sampled``.
    """
    u, v = np.asarray(net.edge_u), np.asarray(net.edge_v)
    step = max(1, int(np.ceil(len(u) / max_segments))) if len(u) else 1
    u, v = u[::step], v[::step]
    lon = np.round(np.asarray(net.node_lon, dtype=float), COORD_DECIMALS)
    lat = np.round(np.asarray(net.node_lat, dtype=float), COORD_DECIMALS)
    seg = np.stack([np.stack([lon[u], lat[u]], axis=1), np.stack([lon[v], lat[v]], axis=1)], axis=1)
    seg = seg[np.isfinite(seg).all(axis=(1, 2))]
    feature = {"type": "Feature", "properties": {"layer": "road"},
               "geometry": {"type": "MultiLineString", "coordinates": seg.tolist()}}
    return {"type": "FeatureCollection", "features": [feature] if len(seg) else [],
            "properties": {"segments": int(len(seg)), "sampled": step > 1}}


def dispersed_members(store: RunSource, run_id: str) -> pd.DataFrame:
    """Every dispersed member of a run (planners only), with :data:`~geo_planner.results.DISPERSED_COLUMNS`
    and ``branch_id``.

    Raises
    ------
    NotFoundError
        A run made before dispersion was computed.
    """
    members = members_subset(store, run_id, ("dispersed", "id", "branch_id", *DISPERSED_COLUMNS[1:]))
    if "dispersed" not in members.columns:
        raise NotFoundError(f"run {run_id!r} has no dispersion results (made by an older version)")
    dispersed = members[members["dispersed"].fillna(False).astype(bool)]
    cols = [c for c in ("id", "branch_id", *DISPERSED_COLUMNS[1:]) if c in dispersed.columns]
    return dispersed[cols]


def member_details(store: RunSource, run_id: str, member_id: str) -> dict[str, Any]:
    """One member of a run (planners only): :data:`DETAIL_COLUMNS` where the table has them.

    Raises
    ------
    NotFoundError
        No member with this id in the run.
    """
    members = members_subset(store, run_id, DETAIL_COLUMNS)
    row = members[members["id"].astype(str) == str(member_id)]
    if row.empty:
        raise NotFoundError(f"no member {member_id!r} in run {run_id!r}")
    cols = [c for c in DETAIL_COLUMNS if c in row.columns]
    rec = row[cols].iloc[0]
    return {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in rec.items()}


#: Geocoding precisions too coarse to place a home (the location review lists them).
COARSE_PRECISIONS: Final[tuple[str, ...]] = ("township", "county")
#: Columns of the location review list.
REVIEW_COLUMNS: Final[tuple[str, ...]] = (
    "id", "name", "branch_id", "address", "township", "community", "geocode_precision", "geocode_score",
    "geocode_match", "network_status", "lon", "lat",
)


def review_members(store: RunSource, run_id: str) -> pd.DataFrame:
    """Members whose home was placed only to a township or county, or not at all (planners only).

    Each with what was matched (``geocode_match``, ``geocode_score``, ``geocode_precision``), so a
    planner can see which addresses to correct; members without a point come first.

    Returns
    -------
    pandas.DataFrame
        :data:`REVIEW_COLUMNS` (those the run has).
    """
    members = members_subset(store, run_id, REVIEW_COLUMNS)
    _lon, _lat, ok = lonlat(members)
    precision = members.get("geocode_precision", pd.Series("", index=members.index)).astype("object")
    coarse = precision.isin(COARSE_PRECISIONS).to_numpy(dtype=bool) | ~ok
    out = members.loc[coarse, [c for c in REVIEW_COLUMNS if c in members.columns]].copy()
    out["_placed"] = ok[coarse]
    return out.sort_values(["_placed", "id"], kind="stable").drop(columns="_placed")


#: The layers the result page draws first, kept as JSON files next to a run's outputs: written when the
#: service's run ends (:func:`write_layer_files`), else on the first request (:func:`layer_json`).
LAYER_FILES: Final[dict[str, str]] = {
    "members": "layer_members.json", "grid": "layer_grid.json", "facilities": "layer_facilities.json",
}
_LAYER_MAKERS: Final = {"members": member_columns, "grid": viewer_grid, "facilities": facility_features}
_COUNTS_HEAD = re.compile(rb'^\{"n":(\d+),"unplaced":(\d+),')


def encode_layer(body: dict[str, Any]) -> bytes:
    """A layer as the service sends it: compact UTF-8 JSON (as ``fastapi.responses.JSONResponse`` writes it)."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def layer_json(store: RunSource, run_id: str, layer: str) -> bytes:
    """A finished run's ``members``, ``grid`` or ``facilities`` layer as JSON bytes, made once per run.

    A city's member layer takes a few hundred milliseconds to make from ``members.csv`` (and as long
    again to encode); the result page asks for it on every visit. It is read from the run's
    :data:`LAYER_FILES` file when there is one; otherwise made (:func:`member_columns`,
    :func:`viewer_grid`, :func:`facility_features`) and kept there (a run's outputs never change
    once it is done). The member layer is member-level data like ``members.csv`` beside it; the
    caller checks the role.

    Parameters
    ----------
    store, run_id
        The finished run.
    layer
        A key of :data:`LAYER_FILES`.

    Returns
    -------
    bytes
        :func:`encode_layer` of the layer.

    Raises
    ------
    NotFoundError, ConflictError
        Unknown or unfinished run.
    """
    name = LAYER_FILES[layer]
    record = store.finished_run(run_id)
    try:
        return store.run_file(run_id, name).read_bytes()
    except NotFoundError:
        pass
    body = _make(store, run_id, layer)
    out_dir = getattr(record, "out_dir", None)
    if out_dir is not None:
        try:
            _keep(Path(out_dir), layer, body)
        except OSError as exc:  # a read-only folder: made again next time
            log.warning("run %s: %s not kept: %s", run_id, name, exc)
    return body


def write_layer_files(store: RunSource, run_id: str) -> list[Path]:
    """Make and keep every :data:`LAYER_FILES` file of a run (the service calls it when a run ends).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out_dir = Path(store.finished_run(run_id).out_dir)
    return [_keep(out_dir, layer, _make(store, run_id, layer)) for layer in LAYER_FILES]


def _make(store: RunSource, run_id: str, layer: str) -> bytes:
    """The run's ``layer`` made from its outputs and encoded (:func:`encode_layer`)."""
    return encode_layer(_LAYER_MAKERS[layer](store, run_id))


def _keep(out_dir: Path, layer: str, body: bytes) -> Path:
    """Write ``body`` atomically to ``layer``'s :data:`LAYER_FILES` file in ``out_dir``; return the path."""
    return atomic_write(out_dir / LAYER_FILES[layer], lambda tmp: tmp.write_bytes(body))


def member_layer_counts(body: bytes) -> tuple[int, int]:
    """``(n, unplaced)`` of an encoded member layer, read from its head (the body is not parsed)."""
    head = _COUNTS_HEAD.match(body[:64])
    if head:
        return int(head.group(1)), int(head.group(2))
    doc = json.loads(body)
    return int(doc["n"]), int(doc["unplaced"])
