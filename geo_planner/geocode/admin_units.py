"""Points to their community and township (:func:`assign_admin_units`) and county (:func:`assign_county`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..crs import earth_xyz
from ..errors import InputError, Problem
from .gazetteer import Gazetteer
from .geometry import _nearest


def assign_admin_units(
    lon: ArrayLike,
    lat: ArrayLike,
    gazetteer: Gazetteer,
    *,
    community_max_m: float = 2000.0,
    township_max_m: float = 8000.0,
) -> pd.DataFrame:
    """Assign points to their community and township.

    A point inside a township (街道/乡镇) or community boundary polygon of the extracts
    (``boundary=administrative``, ``admin_level`` 7–8 / 9–10, where the extract holds the
    whole boundary) takes that unit; elsewhere the nearest seed decides (Voronoi on the
    gazetteer's ``place=town/suburb`` entries for townships, ``place=quarter/village/
    neighbourhood`` for communities; straight-line distances on the sphere, one KD-tree
    query per level).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees (array-likes of equal length; NaN allowed).
    gazetteer
        Provides the polygons and seeds.
    community_max_m, township_max_m
        Farther than this (metres) from every seed gives "" (outside every polygon).

    Returns
    -------
    pandas.DataFrame
        Columns ``township`` and ``community`` (str, "" when unassigned) and
        ``township_source`` / ``community_source`` (``osm_boundary``, ``osm_place`` or
        ""), aligned to the input (its index when ``lon`` is a Series, else a RangeIndex).

    Raises
    ------
    InputError
        If ``lon`` and ``lat`` differ in length.
    """
    index = lon.index if isinstance(lon, pd.Series) else None
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise InputError(Problem("<points>", None, "lon/lat", f"{len(x)} longitudes but {len(y)} latitudes"))
    xyz = earth_xyz(x, y)
    out: dict[str, NDArray[np.object_]] = {}
    names = gazetteer._names
    for col, seeds, max_m in (
        ("township", gazetteer._township_seeds, township_max_m),
        ("community", gazetteer._community_seeds, community_max_m),
    ):
        _, idx = _nearest(gazetteer._xyz[seeds], xyz, max_m)
        seed_names = np.asarray(names[seeds].tolist() + [""], dtype=object)
        out[col] = seed_names[idx]  # idx -1 → ""
        source = np.where(idx >= 0, "osm_place", "").astype(object)
        in_poly, poly_name = _in_areas(gazetteer, col, x, y)
        out[col] = np.where(in_poly, poly_name, out[col])
        out[f"{col}_source"] = np.where(in_poly, "osm_boundary", source)
    cols = ["township", "community", "township_source", "community_source"]
    index = index if index is not None else pd.RangeIndex(len(x))
    return pd.DataFrame({c: out[c] for c in cols}, index=index)


def _in_areas(
    gazetteer: Gazetteer, level: str, x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.bool_], NDArray[np.object_]]:
    """Which points lie in a boundary polygon of ``level``, and its name (the smallest one)."""
    import shapely

    hit = np.zeros(x.shape[0], dtype=bool)
    name = np.full(x.shape[0], "", dtype=object)
    areas = gazetteer.areas
    if len(areas) == 0:
        return hit, name
    sub = areas[areas["level"] == level]
    ok = np.isfinite(x) & np.isfinite(y)
    if len(sub) == 0 or not ok.any():
        return hit, name
    geoms = sub["geometry"].to_numpy(dtype=object)
    rows = np.flatnonzero(ok)
    pi, gi = shapely.STRtree(geoms).query(shapely.points(x[rows], y[rows]), predicate="intersects")
    if pi.size:
        area = shapely.area(geoms)[gi]
        order = np.lexsort((area, pi))  # smallest polygon first for each point
        pi, gi = pi[order], gi[order]
        first = np.ones(pi.size, dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        hit[rows[pi[first]]] = True
        name[rows[pi[first]]] = sub["name"].to_numpy(dtype=object)[gi[first]]
    return hit, name


def assign_county(
    lon: ArrayLike, lat: ArrayLike, gazetteer: Gazetteer, *, county_max_m: float = 60_000.0
) -> pd.DataFrame:
    """Assign points to their prefecture-level city, county-level division and province.

    Decided by boundary polygons (:func:`geo_planner.admin.locate_divisions`); a point
    outside every polygon (or every point, when the boundary data is not installed) falls
    back to the nearest county seat among the gazetteer's county-level entries (OSM
    city/county nodes and county centres).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees (NaN allowed).
    gazetteer
        Provides the fallback seeds.
    county_max_m
        Farther than this (metres) from every seed gives "" in the fallback.

    Returns
    -------
    pandas.DataFrame
        Columns ``city``, ``county``, ``province``, ``county_type`` (``district`` for a
        市辖区, ``county`` for 县/县级市/旗, "" when unknown) and ``admin_source``
        (``polygon``, ``nearest_seat`` or ""), str, aligned with the input (RangeIndex). In
        the fallback a county-level city whose prefecture is unknown stands for its city.
    """
    from ..admin import locate_divisions

    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    seeds = np.flatnonzero(gazetteer._levels == "county")
    _, idx = _nearest(gazetteer._xyz[seeds], earth_xyz(x, y), county_max_m)
    e = gazetteer.entries.iloc[seeds]

    def col(values: pd.Series) -> NDArray[np.object_]:
        return np.asarray(values.fillna("").astype(str).tolist() + [""], dtype=object)[idx]  # idx -1 → ""

    county, name = col(e["county"]), col(e["name"])
    county = np.where(county != "", county, name)
    city = col(e["city"])
    near = pd.DataFrame({"city": np.where(city != "", city, county), "county": county,
                         "province": col(e["province"])})
    poly = locate_divisions(x, y)
    found = (poly["county"] != "").to_numpy()
    out = pd.DataFrame({
        "city": np.where(found, poly["city"], near["city"]),
        "county": np.where(found, poly["county"], near["county"]),
        "province": np.where(found, poly["province"], near["province"]),
        "county_type": np.where(found, poly["county_type"], np.where(
            near["county"].str.endswith("区") & (near["county"] != ""), "district",
            np.where(near["county"] != "", "county", ""))),
        "admin_source": np.where(found, "polygon", np.where(near["county"] != "", "nearest_seat", "")),
    })
    return out.astype(object)
