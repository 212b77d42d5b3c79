"""Names of coordinate systems as planners write them: 高德, GCJ-02, EPSG:4326, 百度….

:func:`normalize_crs_name` maps a spelling from a table cell or a setting to the canonical
``"WGS84"``, ``"GCJ02"`` or ``"BD09"`` that :mod:`geo_planner.crs` converts between.
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from typing import Final

import numpy as np

from .errors import CRSError
from .settings import CRSName

__all__ = ["normalize_crs_name"]

# Spellings → canonical name. Keys are in the form produced by ``_crs_key``.
_CRS_ALIASES: Final[dict[str, CRSName]] = {
    # WGS-84 (and CGCS2000, which differs from WGS-84 by centimetres)
    "wgs84": "WGS84",
    "wgs1984": "WGS84",
    "wgs": "WGS84",
    "gps": "WGS84",
    "epsg4326": "WGS84",
    "4326": "WGS84",
    "cgcs2000": "WGS84",
    "cgcs": "WGS84",
    "epsg4490": "WGS84",
    "4490": "WGS84",
    "天地图": "WGS84",
    "大地2000": "WGS84",
    # GCJ-02
    "gcj02": "GCJ02",
    "gcj": "GCJ02",
    "gcj2": "GCJ02",
    "高德": "GCJ02",
    "高德地图": "GCJ02",
    "amap": "GCJ02",
    "autonavi": "GCJ02",
    "gaode": "GCJ02",
    "腾讯": "GCJ02",
    "腾讯地图": "GCJ02",
    "tencent": "GCJ02",
    "qq": "GCJ02",
    "火星": "GCJ02",
    "火星坐标": "GCJ02",
    "国测局": "GCJ02",
    "mars": "GCJ02",
    # BD-09
    "bd09": "BD09",
    "bd09ll": "BD09",
    "bd": "BD09",
    "百度": "BD09",
    "百度地图": "BD09",
    "baidu": "BD09",
}

_ACCEPTED_HELP: Final = (
    "WGS84 (also WGS-84, WGS 84, GPS, EPSG:4326, 4326, CGCS2000, 天地图), "
    "GCJ02 (also GCJ-02, 高德, 高德地图, 腾讯, 腾讯地图, 火星坐标, 国测局, amap), "
    "BD09 (also BD-09, bd09ll, 百度, 百度地图, baidu)"
)


def _crs_key(text: str) -> str:
    """Fold a spelling to a lookup key: NFKC, lower case, no spaces/punctuation/suffix."""
    key = unicodedata.normalize("NFKC", text).strip().lower()
    key = "".join(ch for ch in key if ch.isalnum())
    for suffix in ("坐标系", "坐标"):
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key


def _is_blank(value: object) -> bool:
    """Whether ``value`` means "no value": None, NaN, pandas NA/NaT, or blank text."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        return math.isnan(float(value))
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False
    return value is pd.NA or value is pd.NaT


def normalize_crs_name(value: object) -> CRSName | None:
    """Map a planner's spelling of a coordinate system to ``"WGS84"``, ``"GCJ02"`` or ``"BD09"``.

    Matching ignores case, spaces, punctuation (``-``, ``_``, ``:``, …), full-width
    forms, and a trailing ``坐标``/``坐标系``.  Accepted spellings include:

    * ``"WGS84"``: WGS-84, WGS 84, wgs84, GPS, EPSG:4326, 4326, CGCS2000 (and EPSG:4490,
      天地图; CGCS2000 differs from WGS-84 by centimetres, below data accuracy);
    * ``"GCJ02"``: GCJ-02, gcj02, 高德, 高德地图, 腾讯, 腾讯地图, 火星坐标, 国测局, amap;
    * ``"BD09"``: BD-09, bd09, bd09ll, 百度, 百度地图, baidu.

    Parameters
    ----------
    value
        A string (or a number such as ``4326``) read from a table cell or a setting.

    Returns
    -------
    str or None
        The canonical name, or ``None`` when ``value`` is blank, ``None`` or NaN.

    Raises
    ------
    CRSError
        If the spelling is not recognised; the message lists the accepted values.
    """
    if _is_blank(value):
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        text = str(int(value))
    elif (isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
          and float(value).is_integer()):
        text = str(int(float(value)))
    elif isinstance(value, str):
        text = value
    else:
        raise CRSError(f"unknown coordinate system {value!r}; use one of: {_ACCEPTED_HELP}")
    name = _CRS_ALIASES.get(_crs_key(text))
    if name is None:
        raise CRSError(f"unknown coordinate system {value!r}; use one of: {_ACCEPTED_HELP}")
    return name
