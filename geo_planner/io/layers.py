"""Loading one layer: read, map headers, check every row, georeference, and report.

:func:`load_layer` is the door through which members, branches, stations and hospitals
enter geo_planner: every input row is either accepted into the layer's frame or rejected
with its file, row, field and reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from ..errors import InputError, Problem
from ..settings import LayerInput
from ..vocab import LAYER_KINDS, LayerKind
from .aliases import CANONICAL_ORDER, HEADER_ALIASES, accepted_headers, match_columns
from .coords import Coords, coordinates
from .fields import member_fields, station_capacity
from .readers import read_table
from .rejections import BoolArray, Issues
from .roster import fill_ditto, footer_rows, report_footers

__all__ = ["LayerResult", "load_layer"]

logger = logging.getLogger(__name__)

_ID_PREFIX: Final[Mapping[str, str]] = MappingProxyType({"branches": "B", "stations": "S", "hospitals": "H"})


@dataclass(frozen=True)
class LayerResult:
    """One loaded layer.

    Attributes
    ----------
    frame
        Accepted rows, EPSG:4326.  Columns: the layer's canonical columns (all present, in
        a fixed order), then ``lon``, ``lat`` (WGS-84 degrees, NaN when the row has only an
        address), ``lon_in``, ``lat_in`` (as given, after fixing a swap), ``crs_in``
        (``WGS84``/``GCJ02``/``BD09`` the row was given in, ``""`` without coordinates),
        ``source_row`` (spreadsheet row number), then the file's other columns under their
        original headers, then ``geometry`` (Point, or ``None``).
    rejections
        One line per problem: :data:`REJECTION_COLUMNS`; ``action`` is ``"rejected"``
        (row dropped; a row may have several reasons), ``"warning"`` (row kept) or
        ``"not_a_member"`` (a total or footer row, not a person);
        ``row`` is empty for a note about the whole file.
    info
        ``file``, ``format``, ``encoding``, ``sheet``, ``header_row``, ``n_blank``, ``n_read``,
        ``n_accepted``, ``n_rejected`` (rows; ``n_read == n_accepted + n_rejected``),
        ``n_warnings``, ``n_not_member`` (合计/小计 and footer rows, not read, each a line with
        ``action = "not_a_member"``), ``header_notes`` (title rows skipped, a two-level header
        joined) when there are any, ``column_map`` ``{original header: canonical}``, ``headers``
        (the file's headers as read, in order) and ``column_override`` (``spec.columns``, ``{}``
        without one).
    """

    frame: gpd.GeoDataFrame
    rejections: pd.DataFrame
    info: dict[str, Any]


def _workbook_warnings(issues: Issues, info: Mapping[str, Any], rows: NDArray[np.int64]) -> None:
    """Warnings about how a workbook was read: sheets skipped, formulas without saved values."""
    if info.get("sheet_note"):
        issues.add_file("sheet", str(info["sheet_note"]))
    by_field: dict[str, list[int]] = {}
    for cell in info.get("uncached_formulas") or ():
        by_field.setdefault(str(cell["field"]), []).append(int(cell["row"]))
    for field, cells in by_field.items():
        mask = np.isin(rows, cells)
        reason = ("formula without a saved value, read as empty: open the workbook in Excel or WPS and "
                  "save it so the values are stored")
        issues.add(mask, field, "", reason, "warning")
        outside = sorted(set(cells) - set(rows[mask].tolist()))
        if outside:
            issues.add_file(field, f"rows {', '.join(map(str, outside[:20]))}: {reason}")


def _check_required(kind: str, present: set[str], file: str) -> None:
    """Raise one InputError listing every missing required column of layer ``kind``."""
    problems: list[Problem] = []

    def need(canonical: str) -> None:
        problems.append(
            Problem(
                file,
                None,
                canonical,
                f"missing required column '{canonical}' "
                f"(accepted headers: {accepted_headers(kind, canonical)})",
            )
        )

    if kind == "members":
        for canonical in ("id", "branch"):
            if canonical not in present:
                need(canonical)
    elif kind == "branches":
        if not present & {"id", "name"}:
            problems.append(
                Problem(
                    file,
                    None,
                    "id",
                    "missing required column 'id' or 'name' (accepted headers: "
                    f"id: {accepted_headers(kind, 'id')}; name: {accepted_headers(kind, 'name')})",
                )
            )
    elif "name" not in present:
        need("name")
    has_xy = {"lon", "lat"} <= present
    has_address = "address" in present or (kind == "branches" and "meeting_place" in present)
    if not has_xy and not has_address:
        missing = [c for c in ("lon", "lat") if c not in present]
        places = "address/meeting_place" if kind == "branches" else "address"
        accepted = "; ".join(
            f"{c}: {accepted_headers(kind, c)}"
            for c in ("lon", "lat", "address", *(("meeting_place",) if kind == "branches" else ()))
        )
        problems.append(
            Problem(
                file,
                None,
                "/".join(missing) or "address",
                f"missing required column(s) {' and '.join(repr(c) for c in missing)} or '{places}': "
                f"each row needs coordinates or an address (accepted headers: {accepted})",
            )
        )
    if problems:
        raise InputError(problems)


def _generate_ids(ids: pd.Series, need: BoolArray, prefix: str) -> pd.Series:
    """Fill ``ids`` where ``need`` with ``S001``-style ids that do not clash with existing ones."""
    n_new = int(need.sum())
    taken = set(ids[~need & (ids != "").to_numpy()])
    width = max(3, len(str(n_new + len(taken))))
    new: list[str] = []
    counter = 0
    while len(new) < n_new:
        counter += 1
        candidate = f"{prefix}{counter:0{width}d}"
        if candidate not in taken:
            new.append(candidate)
    out = ids.copy()
    out[need] = new
    return out


def load_layer(
    kind: LayerKind,
    spec: LayerInput,
    *,
    branches: pd.DataFrame | None = None,
    reference_date: dt.date | None = None,
) -> LayerResult:
    """Read, check and georeference one layer.

    Headers are mapped with :data:`HEADER_ALIASES`, corrected by ``spec.columns``; unknown columns
    are kept.  Required
    columns: members ``id``, ``branch`` and coordinates (``lon`` + ``lat``) or ``address``;
    branches ``id`` or ``name`` and coordinates, ``address`` or ``meeting_place`` (the
    meeting place's text fills an empty address); stations and hospitals ``name`` and
    coordinates or ``address`` (ids ``S001``/``H001``… generated when absent, ``B001``…
    for branches without ids, each stated as a warning).

    Every row is accepted or rejected, or reported as not a person (合计/小计 rows and
    填表人/审核人/填表日期/注 footers: ``action = "not_a_member"``, :mod:`.roster`).
    ``同上``/``同前``/``〃`` cells take the value of the row above (a warning).  Rejected: empty
    id (members) or name (stations, hospitals), duplicate id (every occurrence after the
    first, naming the first row); for facilities also coordinates that are half given, not
    numbers, out of range or outside China, an unknown 坐标系 value, no coordinates and no
    address.  A member row is a person and stays a member: those coordinate problems, no
    place at all, and an empty, unknown or ambiguous branch are warnings (the member is
    kept without a location or without a branch).  A branch written by name is matched
    tolerantly (:func:`~geo_planner.io.roster.match_branch_names`; a warning names what it
    matched and the score).  Warnings (row kept): longitude/latitude swapped (fixed),
    unknown 离退休类别, unreadable 年龄/出生年月/是否党员/容量, generated ids.

    Coordinates are converted to WGS-84 per row: the file's default is ``spec.crs``,
    overridden by a 坐标系 column (高德/腾讯 = GCJ02, 百度 = BD09).  For GeoJSON and
    GeoPackage the geometry's coordinates (reprojected to EPSG:4326 by :func:`read_table`)
    are the row's coordinates, and ``spec.crs``/坐标系 still apply to them: keep the
    default ``WGS84`` unless the points were digitised on a GCJ-02 map (高德 exports).

    Parameters
    ----------
    kind
        ``"members"``, ``"branches"``, ``"stations"`` or ``"hospitals"``.
    spec
        The file and its reading options.
    branches
        Accepted branches (a :attr:`LayerResult.frame` with ``id`` and ``name``), used to
        resolve each member's branch by id first, then by exact name (a name several
        branches share is rejected: use the id).  When ``None`` the
        check is skipped and ``branch_id`` is the member's ``branch`` value unchanged.
    reference_date
        Date at which ages are computed from birth dates (default: today).

    Returns
    -------
    LayerResult

    Raises
    ------
    InputError
        For problems with the whole file: unreadable, empty, two columns with the same
        meaning, missing required columns (listing the accepted headers), a ``spec.columns``
        naming a header the file lacks or a field the layer does not know.
    ValueError
        If ``kind`` is unknown or ``branches`` has no ``id`` column.
    """
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}")
    if branches is not None and "id" not in branches.columns:
        raise ValueError("branches frame has no 'id' column; pass load_layer('branches', …).frame")
    ref = reference_date or dt.date.today()
    file = str(spec.path)
    raw, read_info = read_table(spec.path, sheet=spec.sheet, encoding=spec.encoding)
    headers = list(raw.columns)
    column_map = match_columns(raw.columns, kind, file=file, overrides=spec.columns)
    _check_required(kind, set(column_map.values()), file)
    not_person, footer_kind = footer_rows(raw)  # 合计/小计 rows and 填表人/审核人… footers
    footers = report_footers(raw, not_person, footer_kind, file)
    raw = raw[~not_person]
    issues = Issues(file, raw.index.to_numpy(dtype=np.int64))
    raw = fill_ditto(raw, issues)  # 同上 / 同前 / 〃 take the value of the row above
    table = _Table(raw, {canonical: header for header, canonical in column_map.items()})
    _workbook_warnings(issues, read_info, table.rows)
    for note in read_info.get("header_notes") or ():
        issues.add_file("header", str(note))

    values: dict[str, Any] = {
        c: table.col(c) for c in CANONICAL_ORDER[kind] if c in HEADER_ALIASES[kind]
    }
    values["id"] = _ids(kind, table, issues)
    coord_fields = {c: table.fld(c) for c in ("lon", "lat", "crs")}
    n_parts = len(issues.parts)
    coords = coordinates(table.col("lon"), table.col("lat"), table.col("crs"), spec.crs, coord_fields, issues)
    if kind == "members":  # a person with unusable coordinates stays a member (placed by address, if any)
        issues.demote(n_parts, "; the member is kept: placed from the address if there is one, else without a "
                               "location (network_status = no_location)")
    values["address"] = _address(kind, table, coords, issues)
    if kind == "members":
        member_fields(values, table.col, table.fld, table.original, issues, branches, ref)
    elif kind == "stations":
        values["capacity"] = station_capacity(table.col("capacity"), table.fld("capacity"), issues)

    issues_frame, rejected = issues.finish()
    frame = _accepted_frame(kind, table, values, coords, ~rejected, file)
    if kind == "members" and "id_number" not in table.original:
        frame = frame.drop(columns="id_number")  # no 身份证号 column: none is made up
    info = _layer_info(kind, file, read_info, column_map, issues_frame, rejected, headers, spec.columns)
    info["n_not_member"] = int(not_person.sum())
    if len(footers):
        issues_frame = (pd.concat([issues_frame, footers], ignore_index=True)
                        .sort_values("row", na_position="first", kind="stable").reset_index(drop=True))
    return LayerResult(frame=frame, rejections=issues_frame, info=info)


class _Table:
    """A raw table with its recognised columns: ``original[canonical]`` is the file's header."""

    def __init__(self, raw: pd.DataFrame, original: Mapping[str, str]) -> None:
        self.raw = raw
        self.original = original
        self.blank = pd.Series("", index=raw.index, dtype=str)

    @property
    def rows(self) -> NDArray[np.int64]:
        """Spreadsheet row number of each row."""
        return self.raw.index.to_numpy(dtype=np.int64)

    def col(self, canonical: str) -> pd.Series:
        """The column's text; empty strings when the file lacks it."""
        return self.raw[self.original[canonical]] if canonical in self.original else self.blank

    def fld(self, canonical: str) -> str:
        """The header to name in messages: the file's own, else the canonical name."""
        return self.original.get(canonical, canonical)


def _ids(kind: str, table: _Table, issues: Issues) -> pd.Series:
    """Row ids: empty ones rejected (members) or generated; duplicates rejected, naming the first row."""
    ids = table.col("id")
    if kind == "members":
        issues.add((ids == "").to_numpy(), table.fld("id"), ids, "empty id", "rejected")
    else:
        names = table.col("name")
        if kind == "branches":
            unnamed = ((ids == "") & (names == "")).to_numpy()
            issues.add(unnamed, table.fld("id"), ids, "branch has neither id nor name", "rejected")
        else:
            unnamed = (names == "").to_numpy()
            issues.add(unnamed, table.fld("name"), names, "empty name", "rejected")
        need = (ids == "").to_numpy() & ~unnamed
        if need.any():
            ids = _generate_ids(ids, need, _ID_PREFIX[kind])
            if "id" not in table.original:
                issues.add_file("id", f"no id column; ids generated as {_ID_PREFIX[kind]}001… in row order")
            else:
                issues.add(
                    need, table.fld("id"), ids, lambda m: "empty id; generated '" + ids[m] + "'", "warning"
                )
    duplicate = ((ids != "") & ids.duplicated(keep="first")).to_numpy()
    if duplicate.any():
        first_row = pd.Series(table.rows, index=table.raw.index).groupby(ids.to_numpy()).transform("first")
        issues.add(
            duplicate,
            table.fld("id"),
            ids,
            lambda m: "duplicate id '" + ids[m] + "' (first seen in row " + first_row[m].astype(str) + ")",
            "rejected",
        )
    return ids


def _address(kind: str, table: _Table, coords: Coords, issues: Issues) -> pd.Series:
    """Addresses (a branch's meeting place fills an empty one); rows with no place at all rejected."""
    address = table.col("address")
    if kind == "branches" and "meeting_place" in table.original:
        address = address.where(address != "", table.col("meeting_place"))
    no_place = coords.none_given & (address == "").to_numpy()
    if "address" in table.original or kind != "branches":
        place_field = table.fld("address")
    else:
        place_field = table.fld("meeting_place")
    if kind == "members":  # a person without a place is still a member, counted in their branch
        issues.add(no_place, place_field, address, "neither coordinates nor an address: the member is kept "
                   "without a location (network_status = no_location)", "warning")
    else:
        issues.add(no_place, place_field, address, "neither coordinates nor an address", "rejected")
    return address


def _accepted_frame(
    kind: str, table: _Table, values: Mapping[str, Any], coords: Coords, keep: BoolArray, file: str
) -> gpd.GeoDataFrame:
    """The accepted rows: canonical columns, positions, the file's other columns, Point geometry."""
    data: dict[str, Any] = {}
    for c in CANONICAL_ORDER[kind]:
        v = values.get(c, table.blank)
        data[c] = v.to_numpy()[keep] if isinstance(v, pd.Series) else np.asarray(v)[keep]
    data.update(
        lon=coords.lon[keep],
        lat=coords.lat[keep],
        lon_in=coords.lon_in[keep],
        lat_in=coords.lat_in[keep],
        crs_in=coords.crs_in.to_numpy()[keep],
        source_row=table.rows[keep],
    )
    frame = pd.DataFrame(data)
    for c in CANONICAL_ORDER[kind]:
        if c not in ("age", "capacity", "is_party_member"):
            frame[c] = frame[c].astype(str)
    frame["crs_in"] = frame["crs_in"].astype(str)
    extras = _extra_columns(table, set(frame.columns) | {"geometry"}, keep, file)
    if extras:
        frame = pd.concat([frame, pd.DataFrame(extras, index=frame.index, dtype=str)], axis=1)
    lon_out = frame["lon"].to_numpy()
    lat_out = frame["lat"].to_numpy()
    has_point = np.isfinite(lon_out) & np.isfinite(lat_out)
    geometry = np.full(len(frame), None, dtype=object)
    if has_point.any():
        geometry[has_point] = shapely.points(lon_out[has_point], lat_out[has_point])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index, crs="EPSG:4326"))


def _extra_columns(
    table: _Table, reserved: set[str], keep: BoolArray, file: str
) -> dict[str, NDArray[Any]]:
    """The file's unrecognised columns under their own headers (``_orig`` added when a name is taken)."""
    recognised = set(table.original.values())
    extras: dict[str, NDArray[Any]] = {}
    for header in table.raw.columns:
        if header in recognised:
            continue
        name = header
        while name in reserved:
            name = f"{name}_orig"
        if name != header:
            logger.warning(
                "%s: extra column '%s' renamed '%s' (name taken by a canonical column)", file, header, name
            )
        reserved.add(name)
        extras[name] = table.raw[header].to_numpy()[keep]
    return extras


def _layer_info(
    kind: str,
    file: str,
    read_info: Mapping[str, Any],
    column_map: Mapping[str, str],
    issues_frame: pd.DataFrame,
    rejected: BoolArray,
    headers: list[str],
    overrides: Mapping[str, str] | None,
) -> dict[str, Any]:
    """:attr:`LayerResult.info` of a loaded layer (and one log line)."""
    n = len(rejected)
    n_rejected = int(rejected.sum())
    info: dict[str, Any] = {
        "file": file,
        **read_info,
        "n_read": n,
        "n_accepted": n - n_rejected,
        "n_rejected": n_rejected,
        "n_warnings": int((issues_frame["action"] == "warning").sum()),
        "column_map": dict(column_map),
        "headers": [str(h) for h in headers],
        "column_override": dict(overrides or {}),
    }
    info.pop("n_rows", None)
    logger.info(
        "%s (%s): %d row(s) read, %d accepted, %d rejected, %d warning(s)",
        file,
        kind,
        n,
        info["n_accepted"],
        n_rejected,
        info["n_warnings"],
    )
    return info
