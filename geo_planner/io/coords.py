"""Coordinates of each row: checked, swapped back when needed, and converted to WGS-84 at the edge.

A row's coordinates are given in the file's coordinate system (the layer's ``crs``) unless
its 坐标系 cell names another (高德/腾讯 = GCJ-02, 百度 = BD-09); every accepted point leaves
here in WGS-84 degrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..crs import check_lonlat, normalize_crs_name, to_wgs84
from ..errors import CRSError
from .fields import to_float
from .rejections import BoolArray, FloatArray, Issues

__all__ = ["Coords", "coordinates"]


@dataclass(frozen=True)
class Coords:
    """Coordinates of every row: WGS-84 (NaN unless accepted), as given (after a swap), CRS given."""

    lon: FloatArray
    lat: FloatArray
    lon_in: FloatArray
    lat_in: FloatArray
    crs_in: pd.Series
    none_given: BoolArray


def _numbers(lon_txt: pd.Series, lat_txt: pd.Series, fields: Mapping[str, str], issues: Issues
             ) -> tuple[FloatArray, FloatArray, BoolArray, BoolArray]:
    """Parse both columns; reject half-given pairs and text that is not a number.

    Returns ``(lon, lat, numeric, none_given)``: ``numeric`` where both are numbers.
    """
    lon_empty = (lon_txt == "").to_numpy()
    lat_empty = (lat_txt == "").to_numpy()
    lon_v = to_float(lon_txt)
    lat_v = to_float(lat_txt)
    issues.add(
        lon_empty & ~lat_empty, fields["lon"], lat_txt, "latitude given but longitude is empty", "rejected"
    )
    issues.add(
        lat_empty & ~lon_empty, fields["lat"], lon_txt, "longitude given but latitude is empty", "rejected"
    )
    for name, txt, v, empty in (("lon", lon_txt, lon_v, lon_empty), ("lat", lat_txt, lat_v, lat_empty)):
        word = "longitude" if name == "lon" else "latitude"

        def not_a_number(m: BoolArray, txt: pd.Series = txt, word: str = word) -> pd.Series:
            return f"{word} '" + txt[m] + "' is not a number (decimal degrees expected, e.g. 116.397)"

        issues.add(~empty & ~np.isfinite(v), fields[name], txt, not_a_number, "rejected")
    numeric = ~lon_empty & ~lat_empty & np.isfinite(lon_v) & np.isfinite(lat_v)
    return lon_v, lat_v, numeric, lon_empty & lat_empty


def _placed(
    lon_txt: pd.Series, lat_txt: pd.Series, lon_v: FloatArray, lat_v: FloatArray, numeric: BoolArray,
    fields: Mapping[str, str], issues: Issues,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Swap back swapped pairs (a warning); reject pairs out of range or outside China.

    Returns ``(lon, lat, bad)``: the pairs after the swap, and where they were rejected.
    """
    def pair(m: BoolArray) -> pd.Series:
        return "(" + lon_txt[m] + ", " + lat_txt[m] + ")"

    swapped = numeric & check_lonlat(lon_v, lat_v).swapped
    issues.add(
        swapped,
        fields["lon"],
        pair,
        lambda m: "longitude and latitude look swapped " + pair(m) + "; they were swapped back",
        "warning",
    )
    lon_f = np.where(swapped, lat_v, lon_v)
    lat_f = np.where(swapped, lon_v, lat_v)

    def fixed(m: BoolArray) -> list[str]:
        return [f"({x:.6f}, {y:.6f})" for x, y in zip(lon_f[m], lat_f[m], strict=True)]
    check = check_lonlat(lon_f, lat_f)
    invalid = numeric & check.invalid
    issues.add(
        invalid,
        np.where(np.abs(lat_f) > 90, fields["lat"], fields["lon"]),
        pair,
        lambda m: "coordinates "
        + pair(m)
        + " out of range: longitude must be within ±180 and latitude within ±90",
        "rejected",
    )
    outside = numeric & ~invalid & check.outside_china
    issues.add(
        outside,
        fields["lon"],
        pair,
        lambda m: [f"point {p} lies outside China; check the coordinates" for p in fixed(m)],
        "rejected",
    )
    return lon_f, lat_f, invalid | outside


def _row_crs(crs_txt: pd.Series, default_crs: str, field: str, issues: Issues) -> tuple[pd.Series, BoolArray]:
    """Each row's coordinate system (its 坐标系 cell, else ``default_crs``); unknown names rejected."""
    names: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for value in pd.unique(crs_txt[crs_txt != ""]):
        try:
            names[value] = normalize_crs_name(value)
        except CRSError as exc:
            errors[value] = str(exc)
    mapped = crs_txt.map(names)
    row_crs = mapped.where(mapped.notna(), default_crs).astype(str)
    unknown = crs_txt.isin(list(errors)).to_numpy()
    issues.add(unknown, field, crs_txt, lambda m: crs_txt[m].map(errors), "rejected")
    return row_crs, unknown


def coordinates(
    lon_txt: pd.Series,
    lat_txt: pd.Series,
    crs_txt: pd.Series,
    default_crs: str,
    fields: Mapping[str, str],
    issues: Issues,
) -> Coords:
    """Check and convert coordinates of every row to WGS-84, recording issues.

    ``fields`` names the file's headers of ``lon``, ``lat`` and ``crs`` for the messages.
    """
    n = len(lon_txt)
    lon_v, lat_v, numeric, none_given = _numbers(lon_txt, lat_txt, fields, issues)
    lon_f, lat_f, bad = _placed(lon_txt, lat_txt, lon_v, lat_v, numeric, fields, issues)
    row_crs, unknown = _row_crs(crs_txt, default_crs, fields["crs"], issues)
    ok = numeric & ~bad & ~unknown
    lon_w = np.full(n, np.nan)
    lat_w = np.full(n, np.nan)
    if ok.any():
        lon_w[ok], lat_w[ok] = to_wgs84(lon_f[ok], lat_f[ok], row_crs[ok].to_numpy(dtype=object))
    crs_in = row_crs.where(numeric & ~unknown, "").fillna("").astype(str)
    return Coords(
        lon=lon_w,
        lat=lat_w,
        lon_in=np.where(numeric, lon_f, np.nan),
        lat_in=np.where(numeric, lat_f, np.nan),
        crs_in=crs_in,
        none_given=none_given,
    )
