"""County-level division centres shipped with the ``cpca`` package, converted from GCJ-02 to WGS-84."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..crs import gcj02_to_wgs84
from ..errors import GeocodeError
from .parse import _MUNICIPALITIES

logger = logging.getLogger(__name__)


def _gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = gcj02_to_wgs84(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _cpca_adcodes_path() -> Path | None:
    """Locate ``cpca/resources/adcodes.csv`` without importing cpca (its import builds matchers)."""
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "resources" / "adcodes.csv"
        if path.is_file():
            return path
    return None


def load_county_centres(path: Path | str | None = None) -> pd.DataFrame:
    """Read county-level division centres (and their prefecture and province).

    The table is ``resources/adcodes.csv`` of the ``cpca`` package (MIT licence; 高德
    district centres, GCJ-02), converted here to WGS-84. Rows without coordinates and the
    placeholder 市辖区 rows are dropped.

    Parameters
    ----------
    path
        An ``adcodes.csv`` to read instead of the installed package's.

    Returns
    -------
    pandas.DataFrame
        Columns ``adcode`` (6 digits), ``name``, ``level`` (``county`` or ``prefecture``),
        ``lon``, ``lat`` (WGS-84), ``province``, ``city`` (prefecture; the municipality for
        直辖市 districts, "" for counties directly under a province). Empty (same
        columns) when cpca is not installed.

    Raises
    ------
    GeocodeError
        If the file exists but cannot be read.
    """
    csv_path = Path(path) if path is not None else _cpca_adcodes_path()
    if csv_path is None:
        logger.info("cpca is not installed: no county-level centres in the gazetteer")
        return _empty_centres()
    try:
        raw = pd.read_csv(csv_path, dtype={"adcode": str, "name": str})
    except (OSError, ValueError) as exc:
        raise GeocodeError(f"cannot read county centres from {csv_path}: {exc}") from exc
    code = raw["adcode"].astype(str).str.slice(0, 6)
    names = dict(zip(code, raw["name"].astype(str), strict=True))
    is_province = code.str.slice(2) == "0000"
    is_prefecture = ~is_province & (code.str.slice(4) == "00")
    province = code.str.slice(0, 2).map(lambda c: names.get(c + "0000", ""))
    prefecture = code.str.slice(0, 4).map(lambda c: names.get(c + "00", ""))
    placeholder = prefecture.isin(["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"])
    prefecture = prefecture.where(~placeholder, "")
    municipality = province.isin(_MUNICIPALITIES)
    prefecture = prefecture.where(~municipality, province)
    table = pd.DataFrame(
        {
            "adcode": code,
            "name": raw["name"].astype(str),
            "level": np.where(is_prefecture, "prefecture", "county"),
            "lon": pd.to_numeric(raw["longitude"], errors="coerce"),
            "lat": pd.to_numeric(raw["latitude"], errors="coerce"),
            "province": province,
            "city": prefecture,
        }
    )
    keep = ~is_province & table["lon"].notna() & table["lat"].notna() & ~table["name"].isin(["市辖区", "县"])
    table = table[keep].reset_index(drop=True)
    if table.empty:
        return _empty_centres()
    table.loc[table["level"] == "prefecture", "city"] = table.loc[table["level"] == "prefecture", "name"]
    lon, lat = _gcj02_to_wgs84(table["lon"].to_numpy(), table["lat"].to_numpy())
    table["lon"], table["lat"] = lon, lat
    return table[list(_CENTRE_COLUMNS)]


_CENTRE_COLUMNS: Final = ("adcode", "name", "level", "lon", "lat", "province", "city")


def _empty_centres() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=np.float64 if c in ("lon", "lat") else object) for c in _CENTRE_COLUMNS}
    )
