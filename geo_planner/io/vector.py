"""Reading a GeoJSON or GeoPackage layer: attributes as text, points as lon/lat text (WGS-84)."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .aliases import LONLAT_KEYS, header_keys
from .grid import WS_CHARS, cell_text, clean_headers, input_error, strip_text

logger = logging.getLogger(__name__)


def _series_text(series: pd.Series) -> pd.Series:
    """Attribute column → text (integers without ``.0``; missing → empty)."""
    return pd.Series([cell_text(v) for v in series.astype(object)], index=series.index, dtype=str)


def _open_layer(path: Path, layer: str | None, fmt: str) -> tuple[gpd.GeoDataFrame, str]:
    """Read layer ``layer`` (the first one when ``None``) of a GIS file; it must hold features."""
    import pyogrio
    import pyogrio.errors

    file = str(path)
    read_errors = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError)
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except read_errors as exc:
        raise input_error(file, f"not a readable {fmt} file: {exc}") from None
    if not layers:
        raise input_error(file, "file is empty: it has no layers")
    if layer is None:
        layer = layers[0]
    elif layer not in layers:
        raise input_error(
            file, f"layer '{layer}' not found; the file has: {', '.join(layers)}", field="sheet"
        )
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except read_errors as exc:
        raise input_error(file, f"layer '{layer}' cannot be read: {exc}") from None
    if len(gdf) == 0:
        raise input_error(file, f"layer '{layer}' has no features (file is empty)")
    if not isinstance(gdf, gpd.GeoDataFrame) or "geometry" not in gdf.columns:
        raise input_error(file, f"layer '{layer}' has no geometry: not a GeoPackage/GeoJSON table of "
                                "points; save it as CSV or XLSX with 经度/纬度 columns")
    return gdf, layer


def _points(geom: gpd.GeoSeries, file: str) -> tuple[Any, Any, int]:
    """Return one point per feature, the mask of features with a geometry and the non-point count.

    A feature that is not a point is placed at a point on its surface (with a warning).
    """
    values = geom.to_numpy()
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    is_point = present & (shapely.get_type_id(values) == 0)
    non_point = present & ~is_point
    points = values.copy()
    if non_point.any():
        points[non_point] = shapely.point_on_surface(values[non_point])
        logger.warning(
            "%s: %d feature(s) with a non-point geometry placed at a point on their surface",
            file,
            int(non_point.sum()),
        )
    return points, present, int(non_point.sum())


def _add_lonlat(attrs: pd.DataFrame, points: Any, present: Any) -> None:
    """Write the points' lon/lat as text into the file's own 经度/纬度 columns, or new lon/lat ones."""
    x = shapely.get_x(np.where(present, points, None))
    y = shapely.get_y(np.where(present, points, None))
    for canonical, coord in (("lon", x), ("lat", y)):
        text = pd.Series(
            ["" if math.isnan(v) else repr(float(v)) for v in coord], index=attrs.index, dtype=str
        )
        keys = LONLAT_KEYS[canonical]
        target = next((c for c in attrs.columns if header_keys(c)[0] in keys), canonical)
        if target in attrs.columns:
            attrs[target] = text.where(present, attrs[target])
        else:
            attrs[target] = text


def read_vector(path: Path, layer: str | None, fmt: str) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    """Read a GeoJSON/GeoPackage layer: attributes as text, point coordinates as lon/lat text (WGS-84).

    Returns
    -------
    attributes, layer name, facts
        ``facts``: ``source_crs`` (the layer's CRS or ``None``) and ``n_non_point``.
    """
    file = str(path)
    gdf, layer = _open_layer(path, layer, fmt)
    extra: dict[str, Any] = {"source_crs": None if gdf.crs is None else gdf.crs.to_string()}
    attrs = pd.DataFrame(
        {str(c): strip_text(_series_text(gdf[c])) for c in gdf.columns if c != gdf.geometry.name},
        index=gdf.index,
    )
    attrs.columns = clean_headers([str(c).strip(WS_CHARS) for c in attrs.columns])
    geom = gdf.geometry
    if geom.crs is None:
        if fmt != "geojson":
            logger.warning("%s: layer '%s' declares no CRS; coordinates taken as WGS-84", file, layer)
    elif geom.crs.to_epsg() != 4326:
        logger.info("%s: reprojecting layer '%s' from %s to EPSG:4326", file, layer, geom.crs.to_string())
        geom = geom.to_crs(4326)
    points, present, extra["n_non_point"] = _points(geom, file)
    if present.any():
        _add_lonlat(attrs, points, present)
    attrs.index = pd.Index(np.arange(len(attrs)) + 2, name="source_row")
    return attrs, layer, extra
