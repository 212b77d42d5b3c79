"""Chinese web-map coordinate systems: WGS-84, GCJ-02 ("Mars") and BD-09 (Baidu).

Planners' tables come with coordinates picked from whatever map they had open:
高德 (AMap) and 腾讯 (Tencent) give GCJ-02, 百度 (Baidu) gives BD-09, a GPS or
天地图 gives WGS-84 / CGCS2000.  Everything inside geo_planner is WGS-84; this module
converts to it on the way in (:func:`to_wgs84`) and back out for web-map tiles that
are drawn in GCJ-02 (:func:`from_wgs84`).

All transforms are vectorised over numpy arrays, accept scalars or array-likes,
broadcast ``lon`` against ``lat`` and return ``float64`` arrays of that shape
(0-d arrays for scalar input).  NaN in gives NaN out: a pair with either value
NaN comes out as NaN in both.  Longitude and latitude are
always in decimal degrees, longitude first.

The forward GCJ-02 transform is the published obfuscation (Krasovsky 1940
ellipsoid); points outside the rough China bounding box of :func:`out_of_china` are
returned unchanged, as the official algorithm does.  The inverses are exact up to
``1e-9`` degrees (about 0.1 mm): they iterate the forward transform until it
reproduces the input, rather than using the usual one-step approximation, which is
off by 1–3 m.

It is also the one home of metres from degrees (:func:`earth_xyz`, :func:`metres_per_degree`,
:func:`local_xy`); spellings of the systems' names are read by :mod:`geo_planner.crs_names`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .crs_names import _ACCEPTED_HELP, normalize_crs_name
from .errors import CRSError
from .settings import CRSName

__all__ = [
    "CRS_NAMES",
    "EARTH_RADIUS_M",
    "M_PER_DEG_LAT",
    "M_PER_DEG_LON_EQUATOR",
    "LonLatCheck",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_lonlat",
    "earth_xyz",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "local_xy",
    "metres_per_degree",
    "normalize_crs_name",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_Transform = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]

#: The canonical coordinate-system names, in the order they are documented.
CRS_NAMES: Final[tuple[CRSName, ...]] = ("WGS84", "GCJ02", "BD09")

# Krasovsky 1940 ellipsoid, as used by GCJ-02.
_GCJ_A: Final = 6378245.0
_GCJ_EE: Final = 0.00669342162296594323

# BD-09 constants.
_X_PI: Final = math.pi * 3000.0 / 180.0
_BD_DLON: Final = 0.0065
_BD_DLAT: Final = 0.006

# Rough China bounding box of the reference implementations (degrees).
_CHINA_LON_MIN: Final = 72.004
_CHINA_LON_MAX: Final = 137.8347
_CHINA_LAT_MIN: Final = 0.8293
_CHINA_LAT_MAX: Final = 55.8271

# Inverse iteration: stop when the forward transform reproduces the input to this (degrees).
_INVERSE_TOL_DEG: Final = 1e-9
_INVERSE_MAX_ITER: Final = 30

# --------------------------------------------------------------------------------------
# helpers


def _as_lonlat(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return ``lon`` and ``lat`` as broadcast, writable float64 copies; a half-NaN pair becomes all NaN."""
    try:
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        lon_b, lat_b = np.broadcast_arrays(lon_a, lat_a)
    except (TypeError, ValueError) as exc:
        raise CRSError(f"longitude/latitude must be numbers or arrays of equal shape: {exc}") from exc
    lon_c = np.array(lon_b, dtype=np.float64)
    lat_c = np.array(lat_b, dtype=np.float64)
    missing = np.isnan(lon_c) | np.isnan(lat_c)
    lon_c[missing] = np.nan
    lat_c[missing] = np.nan
    return lon_c, lat_c


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset (degrees) to add to a WGS-84 point, with no China check.

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude, degrees, finite.

    Returns
    -------
    tuple of numpy.ndarray
        ``(dlon, dlat)`` in degrees.
    """
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    # Offsets as arc lengths in metres (northward, eastward).
    dlat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y / 30.0 * np.pi)) * 2.0 / 3.0
    )
    dlon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat_m * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon_m * 180.0 / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def _gcj_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """WGS-84 → GCJ-02 with no China check (finite input)."""
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → BD-09, the published formula (finite input)."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd_inverse_approx(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """BD-09 → GCJ-02, the usual closed-form approximation (about 1e-7 degrees)."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: _Transform,
    lon_target: FloatArray,
    lat_target: FloatArray,
    lon_start: FloatArray,
    lat_start: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Invert ``forward`` by fixed-point iteration, on 1-D finite arrays.

    Each step moves the estimate by the residual ``forward(estimate) - target``; the
    transforms here are small, smooth offsets (Jacobian within ~0.02 of the identity),
    so the error shrinks by a factor of ~50 or more per step.  Only elements not yet
    converged are iterated.

    Parameters
    ----------
    forward
        The transform to invert.
    lon_target, lat_target
        Output of ``forward`` to invert, degrees.
    lon_start, lat_start
        Starting estimate, degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` such that ``forward(lon, lat)`` equals the target to within
        ``1e-9`` degrees.
    """
    lon = lon_start.copy()
    lat = lat_start.copy()
    active = np.arange(lon.size)
    for _ in range(_INVERSE_MAX_ITER):
        if active.size == 0:
            break
        fx, fy = forward(lon[active], lat[active])
        rx = fx - lon_target[active]
        ry = fy - lat_target[active]
        lon[active] -= rx
        lat[active] -= ry
        converged = np.maximum(np.abs(rx), np.abs(ry)) < _INVERSE_TOL_DEG
        active = active[~converged]
    if active.size:
        logger.warning(
            "coordinate inverse did not converge to %.0e degrees for %d point(s) after %d iterations",
            _INVERSE_TOL_DEG,
            active.size,
            _INVERSE_MAX_ITER,
        )
    return lon, lat


def _gcj_inverse(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → WGS-84 with no China check (finite input): the one-step inverse, iterated."""
    dlon, dlat = _gcj_offset(lon, lat)
    return _invert(_gcj_forward, lon, lat, lon - dlon, lat - dlat)


def _bd_inverse(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """BD-09 → GCJ-02 (finite input): the closed-form approximation, iterated."""
    return _invert(_bd_forward, lon, lat, *_bd_inverse_approx(lon, lat))


def _apply(
    func: _Transform, lon: ArrayLike, lat: ArrayLike, *, china_only: bool
) -> tuple[FloatArray, FloatArray]:
    """Apply ``func`` to the finite points (in China's box only if ``china_only``); others unchanged."""
    lon_a, lat_a = _as_lonlat(lon, lat)
    keep = ~out_of_china(lon_a, lat_a) if china_only else np.isfinite(lon_a) & np.isfinite(lat_a)
    lon_a[keep], lat_a[keep] = func(lon_a[keep], lat_a[keep])
    return lon_a, lat_a


# --------------------------------------------------------------------------------------
# public transforms


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> BoolArray:
    """Flag points outside the rough China bounding box used by GCJ-02.

    The box is longitude 72.004–137.8347 °E, latitude 0.8293–55.8271 °N (edges
    inside), the box the reference GCJ-02 implementations use to decide whether to
    obfuscate.  It is rough: it contains neighbouring countries and misses nothing of
    China.

    Parameters
    ----------
    lon, lat
        Longitude and latitude, degrees (scalars or array-likes, broadcast together).

    Returns
    -------
    numpy.ndarray of bool
        ``True`` where the point is outside the box, and where either value is NaN.
    """
    lon_a, lat_a = _as_lonlat(lon, lat)
    inside = (
        (lon_a >= _CHINA_LON_MIN)
        & (lon_a <= _CHINA_LON_MAX)
        & (lat_a >= _CHINA_LAT_MIN)
        & (lat_a <= _CHINA_LAT_MAX)
    )
    return np.asarray(~inside)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 to GCJ-02 (the "Mars" coordinates of 高德/腾讯 maps).

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude, degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``, degrees, float64, same shape as the broadcast input.
        Points outside :func:`out_of_china`'s box, and NaN, are returned unchanged.
    """
    return _apply(_gcj_forward, lon, lat, china_only=True)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to WGS-84, exactly (to 1e-9 degrees, about 0.1 mm).

    Starts from the usual one-step inverse and iterates the forward transform until it
    reproduces the input.  Whether a point is transformed at all is decided on the
    GCJ-02 input with :func:`out_of_china` (as the reference implementations do); points
    outside the box, and NaN, are returned unchanged.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``, degrees, float64, same shape as the broadcast input.
    """
    return _apply(_gcj_inverse, lon, lat, china_only=True)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to BD-09 (百度 ``bd09ll``), the published formula.

    Unlike GCJ-02 the BD-09 formula has no China check: it is applied everywhere.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``, degrees, float64, same shape as the broadcast input.
        NaN in gives NaN out.
    """
    return _apply(_bd_forward, lon, lat, china_only=False)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to GCJ-02, exactly (to 1e-9 degrees).

    Starts from the usual closed-form inverse (good to about 1e-7 degrees, ~1 cm) and
    iterates :func:`gcj02_to_bd09` until it reproduces the input.

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude, degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``, degrees, float64, same shape as the broadcast input.
        NaN in gives NaN out.
    """
    return _apply(_bd_inverse, lon, lat, china_only=False)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 to BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude, degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``, degrees, float64, same shape as the broadcast input.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to WGS-84 (via GCJ-02), exactly (to about 1e-9 degrees).

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude, degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``, degrees, float64, same shape as the broadcast input.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84: Final[dict[CRSName, _Transform | None]] = {
    "WGS84": None,
    "GCJ02": gcj02_to_wgs84,
    "BD09": bd09_to_wgs84,
}
_FROM_WGS84: Final[dict[CRSName, _Transform | None]] = {
    "WGS84": None,
    "GCJ02": wgs84_to_gcj02,
    "BD09": wgs84_to_bd09,
}


def _convert_by_group(
    lon: ArrayLike,
    lat: ArrayLike,
    crs: str | ArrayLike,
    table: dict[CRSName, _Transform | None],
) -> tuple[FloatArray, FloatArray]:
    """Apply ``table[name]`` to each group of rows sharing a coordinate-system name."""
    lon_a, lat_a = _as_lonlat(lon, lat)
    if isinstance(crs, str):
        name = normalize_crs_name(crs)
        if name is None:
            raise CRSError(f"no coordinate system given; use one of: {_ACCEPTED_HELP}")
        func = table[name]
        return (lon_a, lat_a) if func is None else func(lon_a, lat_a)

    names = np.asarray(crs, dtype=object)
    try:
        names = np.broadcast_to(names, lon_a.shape)
    except ValueError as exc:
        raise CRSError(
            f"per-row coordinate systems have shape {names.shape}, coordinates have shape {lon_a.shape}"
        ) from exc
    known = np.zeros(lon_a.shape, dtype=bool)
    for name, func in table.items():
        mask = np.asarray(names == name, dtype=bool)
        known |= mask
        if func is not None and mask.any():
            lon_a[mask], lat_a[mask] = func(lon_a[mask], lat_a[mask])
    if not known.all():
        bad_rows = np.flatnonzero(~known.ravel())
        bad_values = sorted({repr(v) for v in names.ravel()[bad_rows[:1000]]})
        raise CRSError(
            f"{bad_rows.size} row(s) have a coordinate system that is not one of {', '.join(CRS_NAMES)} "
            f"(values {', '.join(bad_values[:10])}; first positions {bad_rows[:10].tolist()}); "
            "normalise each value with normalize_crs_name first"
        )
    return lon_a, lat_a


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates from their coordinate system(s) to WGS-84.

    Parameters
    ----------
    lon, lat
        Longitude and latitude, degrees, in the system(s) named by ``crs``.
    crs
        Either one name for every point (any spelling :func:`normalize_crs_name`
        accepts), or an array of per-point canonical names (``"WGS84"``, ``"GCJ02"``,
        ``"BD09"``) broadcastable to the coordinates' shape.  Each group of points is
        converted in one vectorised call.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``, degrees, float64, same shape as the broadcast input.

    Raises
    ------
    CRSError
        If a name is unknown or blank, or the per-point names do not match the
        coordinates' shape; the message gives the offending values and positions.
    """
    return _convert_by_group(lon, lat, crs, _TO_WGS84)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 coordinates to the given coordinate system(s).

    Used by the maps to shift every layer to GCJ-02 when drawing on GCJ-02 tiles
    (高德, 腾讯).  Tiles of 天地图 are CGCS2000, i.e. WGS-84 here: they need no shift.

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude, degrees.
    crs
        Target: one name (any spelling :func:`normalize_crs_name` accepts), or an array
        of per-point canonical names, as in :func:`to_wgs84`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in the target system(s), degrees, float64.

    Raises
    ------
    CRSError
        As :func:`to_wgs84`.
    """
    return _convert_by_group(lon, lat, crs, _FROM_WGS84)


# --------------------------------------------------------------------------------------
# sanity checks


@dataclass(frozen=True)
class LonLatCheck:
    """Per-point flags from :func:`check_lonlat`; each field is a bool array of the input's shape.

    The flags are independent and may overlap (a swapped pair is also ``outside_china``
    and, when its "latitude" exceeds 90, ``invalid``).  A caller reporting problems
    would usually say "swapped" first, then "invalid", then "outside China".

    Attributes
    ----------
    swapped
        The pair as given is outside the China box of :func:`out_of_china`, but with
        longitude and latitude exchanged it is inside: latitude and longitude columns
        were probably swapped.
    outside_china
        Both values are finite and the pair as given (not swapped) is outside the China
        box of :func:`out_of_china`.
    invalid
        Either value is NaN or infinite, ``|lat| > 90`` or ``|lon| > 180``.
    """

    swapped: BoolArray
    outside_china: BoolArray
    invalid: BoolArray


def check_lonlat(lon: ArrayLike, lat: ArrayLike) -> LonLatCheck:
    """Flag coordinate pairs that look swapped, lie outside China or are not coordinates.

    Parameters
    ----------
    lon, lat
        Longitude and latitude as read from a table, degrees.

    Returns
    -------
    LonLatCheck
        Bool arrays ``swapped``, ``outside_china`` and ``invalid`` (see
        :class:`LonLatCheck` for their exact meaning), shaped like the broadcast input.
    """
    lon_a, lat_a = _as_lonlat(lon, lat)
    finite = np.isfinite(lon_a) & np.isfinite(lat_a)
    out = out_of_china(lon_a, lat_a)
    out_if_swapped = out_of_china(lat_a, lon_a)
    with np.errstate(invalid="ignore"):
        invalid = ~finite | (np.abs(lat_a) > 90.0) | (np.abs(lon_a) > 180.0)
    return LonLatCheck(
        swapped=np.asarray(out & ~out_if_swapped),
        outside_china=np.asarray(out & finite),
        invalid=np.asarray(invalid),
    )


# --------------------------------------------------------------------------------------
# metres on the ground

#: Mean Earth radius (IUGG), metres: the sphere of :func:`earth_xyz`.
EARTH_RADIUS_M: Final = 6_371_008.8
#: Metres per degree of longitude on the equator (WGS-84); times cos(latitude) elsewhere.
M_PER_DEG_LON_EQUATOR: Final = 111_320.0
#: Metres per degree of latitude (WGS-84 near the equator; 0.3 % short at 30° N, 0.6 % at 50° N).
M_PER_DEG_LAT: Final = 110_540.0


def metres_per_degree(lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Metres per degree of longitude and of latitude at latitude ``lat`` (degrees).

    The local equirectangular approximation for small offsets within a city (grid cells,
    search margins, jitter); places are measured on the road network or with :func:`earth_xyz`.
    Returns ``(M_PER_DEG_LON_EQUATOR · cos(lat), M_PER_DEG_LAT)``, float64, shaped like ``lat``.
    """
    lat_a = np.asarray(lat, dtype=np.float64)
    return M_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat_a)), np.full_like(lat_a, M_PER_DEG_LAT)


def local_xy(lon: ArrayLike, lat: ArrayLike, lat0: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Equirectangular metres east and north of 0°, 0° at the scale of latitude ``lat0``.

    ``(lon · M_PER_DEG_LON_EQUATOR · cos(lat0), lat · M_PER_DEG_LAT)``: differences of nearby
    points are ground offsets in metres (see :func:`metres_per_degree`).
    """
    x = np.asarray(lon, dtype=np.float64) * M_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat0))
    return np.asarray(x, dtype=np.float64), np.asarray(lat, dtype=np.float64) * M_PER_DEG_LAT


def earth_xyz(lon: ArrayLike, lat: ArrayLike) -> FloatArray:
    """Earth-centred Cartesian metres, ``(n, 3)``, of WGS-84 points (sphere of :data:`EARTH_RADIUS_M`).

    Over a few kilometres a chord equals the great-circle distance to a millimetre, so a
    KD-tree over these rows finds nearest points in metres.
    """
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    cos_phi, r = np.cos(phi), EARTH_RADIUS_M
    return np.column_stack((r * cos_phi * np.cos(lam), r * cos_phi * np.sin(lam), r * np.sin(phi)))
