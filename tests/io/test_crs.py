"""Tests of geo_planner.crs against the prcoords reference implementation."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import prcoords
import pytest
from numpy.typing import NDArray
from pyproj import Geod

from geo_planner import crs
from geo_planner.errors import CRSError

GEOD = Geod(ellps="WGS84")
Points = tuple[NDArray[np.float64], NDArray[np.float64]]
N_POINTS = 5000


def distance_m(
    lon1: NDArray[np.float64], lat1: NDArray[np.float64], lon2: NDArray[np.float64], lat2: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Geodesic distance on WGS-84, metres."""
    _, _, dist = GEOD.inv(np.ravel(lon1), np.ravel(lat1), np.ravel(lon2), np.ravel(lat2))
    return np.asarray(dist, dtype=np.float64)


@pytest.fixture(scope="module")
def china_points() -> Points:
    """Seeded random WGS-84 points across mainland China's extent (plus lon 105, where sqrt|x| kinks)."""
    rng = np.random.default_rng(20240531)
    lon = rng.uniform(73.6, 134.7, N_POINTS)
    lat = rng.uniform(18.2, 53.5, N_POINTS)
    lon[:10] = 105.0  # x = 0 in the GCJ formula
    return lon, lat


def _prc_map(
    func: Callable[[tuple[float, float]], tuple[float, float]],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Apply a prcoords (lat, lon) function point by point."""
    out = np.array([func((la, lo)) for lo, la in zip(lon, lat, strict=True)])
    return out[:, 1], out[:, 0]


# --------------------------------------------------------------------------------------
# GCJ-02


def test_gcj_round_trip_under_5_cm(china_points: Points) -> None:
    lon, lat = china_points
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    # the forward transform really moves points (else the round trip proves nothing)
    shift = distance_m(lon, lat, g_lon, g_lat)
    assert shift.min() > 10.0
    back_lon, back_lat = crs.gcj02_to_wgs84(g_lon, g_lat)
    err = distance_m(lon, lat, back_lon, back_lat)
    print(f"GCJ02 round trip max error: {err.max():.3e} m")
    assert err.max() < 0.5
    assert err.max() < 0.05


def test_gcj_inverse_beats_one_step_inverse(china_points: Points) -> None:
    lon, lat = china_points
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    # naive inverse: subtract the offset evaluated at the GCJ point
    n_lon, n_lat = crs.wgs84_to_gcj02(g_lon, g_lat)
    naive_err = distance_m(lon, lat, 2 * g_lon - n_lon, 2 * g_lat - n_lat)
    w_lon, w_lat = crs.gcj02_to_wgs84(g_lon, g_lat)
    err = distance_m(lon, lat, w_lon, w_lat)
    assert naive_err.max() > 0.5  # the one-step inverse is metre-level
    assert err.max() < naive_err.max() / 100


def test_gcj_forward_matches_prcoords(china_points: Points) -> None:
    lon, lat = china_points
    ref_lon, ref_lat = _prc_map(prcoords.wgs_gcj, lon, lat)
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    diff = max(np.abs(g_lon - ref_lon).max(), np.abs(g_lat - ref_lat).max())
    print(f"GCJ02 forward vs prcoords max diff: {diff:.3e} deg")
    assert diff < 1e-9


def test_gcj_inverse_matches_prcoords_bored(china_points: Points) -> None:
    lon, lat = china_points
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    ref_lon, ref_lat = _prc_map(prcoords.gcj_wgs_bored, g_lon, g_lat)
    w_lon, w_lat = crs.gcj02_to_wgs84(g_lon, g_lat)
    diff = distance_m(w_lon, w_lat, ref_lon, ref_lat)
    print(f"GCJ02 inverse vs prcoords.gcj_wgs_bored max diff: {diff.max():.3e} m")
    assert diff.max() < 0.05


def test_guixi_known_offset() -> None:
    lon, lat = 117.2199, 28.2986  # 贵溪, Jiangxi
    ref = prcoords.wgs_gcj((lat, lon))
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    assert float(g_lon) == pytest.approx(ref.lon, abs=1e-9)
    assert float(g_lat) == pytest.approx(ref.lat, abs=1e-9)
    # the published value, to 1e-8 degrees
    assert float(g_lon) == pytest.approx(117.22508064, abs=1e-8)
    assert float(g_lat) == pytest.approx(28.29531972, abs=1e-8)
    offset = distance_m(lon, lat, g_lon, g_lat)[0]
    assert 100.0 < offset < 1000.0


def test_outside_china_unchanged() -> None:
    lon = np.array([2.3522, -74.006, 139.6917, 151.2093, 37.6173])  # Paris, NYC, Tokyo, Sydney, Moscow
    lat = np.array([48.8566, 40.7128, 35.6895, -33.8688, 55.7558])
    assert crs.out_of_china(lon, lat).all()
    for func in (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_out_of_china_box_edges() -> None:
    lon = np.array([72.004, 137.8347, 72.0039, 137.8348, 100.0, 100.0, np.nan])
    lat = np.array([0.8293, 55.8271, 30.0, 30.0, 0.8292, 55.8272, 30.0])
    expected = np.array([False, False, True, True, True, True, True])
    np.testing.assert_array_equal(crs.out_of_china(lon, lat), expected)


@pytest.mark.parametrize(
    "func",
    [
        crs.wgs84_to_gcj02,
        crs.gcj02_to_wgs84,
        crs.gcj02_to_bd09,
        crs.bd09_to_gcj02,
        crs.wgs84_to_bd09,
        crs.bd09_to_wgs84,
    ],
)
def test_nan_propagates_and_shapes_kept(func: Callable[..., tuple[np.ndarray, np.ndarray]]) -> None:
    lon = np.array([[117.2, np.nan], [np.nan, 116.4]])
    lat = np.array([[28.3, 39.9], [np.nan, 39.9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out_lon, out_lat = func(lon, lat)
    assert out_lon.shape == lon.shape and out_lat.shape == lat.shape
    assert out_lon.dtype == np.float64 and out_lat.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(out_lon), [[False, True], [True, False]])
    np.testing.assert_array_equal(np.isnan(out_lat), [[False, True], [True, False]])
    assert out_lon[0, 0] != 117.2  # finite points still converted


def test_scalar_and_list_input() -> None:
    g_lon, g_lat = crs.wgs84_to_gcj02(117.2199, 28.2986)
    assert isinstance(g_lon, np.ndarray) and g_lon.shape == ()
    w_lon, w_lat = crs.gcj02_to_wgs84(float(g_lon), float(g_lat))
    assert w_lon.shape == () and float(w_lon) == pytest.approx(117.2199, abs=1e-9)
    assert float(w_lat) == pytest.approx(28.2986, abs=1e-9)
    l_lon, l_lat = crs.wgs84_to_gcj02([117.2199, 116.4], [28.2986, 39.9])
    assert l_lon.shape == (2,) and float(l_lon[0]) == float(g_lon)
    nan_lon, nan_lat = crs.gcj02_to_wgs84(np.nan, 30.0)
    assert np.isnan(nan_lon) and np.isnan(nan_lat)  # a half-NaN pair is no point


def test_inputs_not_modified() -> None:
    lon = np.array([117.2, 116.4])
    lat = np.array([28.3, 39.9])
    crs.wgs84_to_gcj02(lon, lat)
    crs.to_wgs84(lon, lat, np.array(["GCJ02", "BD09"]))
    np.testing.assert_array_equal(lon, [117.2, 116.4])
    np.testing.assert_array_equal(lat, [28.3, 39.9])


# --------------------------------------------------------------------------------------
# BD-09


def test_bd_round_trips(china_points: Points) -> None:
    lon, lat = china_points
    b_lon, b_lat = crs.wgs84_to_bd09(lon, lat)
    w_lon, w_lat = crs.bd09_to_wgs84(b_lon, b_lat)
    err_wgs = distance_m(lon, lat, w_lon, w_lat)
    b2_lon, b2_lat = crs.gcj02_to_bd09(lon, lat)  # treat the points as GCJ-02
    g_lon, g_lat = crs.bd09_to_gcj02(b2_lon, b2_lat)
    err_gcj = distance_m(lon, lat, g_lon, g_lat)
    print(f"BD09 round trips max error: WGS {err_wgs.max():.3e} m, GCJ {err_gcj.max():.3e} m")
    assert err_wgs.max() < 0.5 and err_gcj.max() < 0.5
    assert err_wgs.max() < 0.05 and err_gcj.max() < 0.05


def test_bd_forward_matches_prcoords(china_points: Points) -> None:
    lon, lat = china_points
    lon, lat = lon[:2000], lat[:2000]
    ref_lon, ref_lat = _prc_map(prcoords.gcj_bd, lon, lat)
    b_lon, b_lat = crs.gcj02_to_bd09(lon, lat)
    assert np.abs(b_lon - ref_lon).max() < 1e-9 and np.abs(b_lat - ref_lat).max() < 1e-9
    ref_lon, ref_lat = _prc_map(prcoords.wgs_bd, lon, lat)
    b_lon, b_lat = crs.wgs84_to_bd09(lon, lat)
    assert np.abs(b_lon - ref_lon).max() < 1e-9 and np.abs(b_lat - ref_lat).max() < 1e-9


def test_bd_inverse_matches_prcoords_bored(china_points: Points) -> None:
    lon, lat = china_points
    lon, lat = lon[:2000], lat[:2000]
    ref_lon, ref_lat = _prc_map(prcoords.bd_gcj_bored, lon, lat)
    g_lon, g_lat = crs.bd09_to_gcj02(lon, lat)
    assert distance_m(g_lon, g_lat, ref_lon, ref_lat).max() < 0.05
    ref_lon, ref_lat = _prc_map(prcoords.bd_wgs_bored, lon, lat)
    w_lon, w_lat = crs.bd09_to_wgs84(lon, lat)
    assert distance_m(w_lon, w_lat, ref_lon, ref_lat).max() < 0.05


def test_bd_inverse_better_than_closed_form(china_points: Points) -> None:
    lon, lat = china_points
    b_lon, b_lat = crs.gcj02_to_bd09(lon, lat)
    g_lon, g_lat = crs.bd09_to_gcj02(b_lon, b_lat)
    assert max(np.abs(g_lon - lon).max(), np.abs(g_lat - lat).max()) < 1e-8


# --------------------------------------------------------------------------------------
# names


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("WGS-84", "WGS84"),
        ("wgs84", "WGS84"),
        ("WGS 84", "WGS84"),
        ("GPS", "WGS84"),
        ("EPSG:4326", "WGS84"),
        ("4326", "WGS84"),
        (4326, "WGS84"),
        ("CGCS2000", "WGS84"),
        ("  WGS84  ", "WGS84"),
        ("ＷＧＳ８４", "WGS84"),  # full-width
        ("GCJ-02", "GCJ02"),
        ("gcj02", "GCJ02"),
        ("高德", "GCJ02"),
        ("高德地图", "GCJ02"),
        ("腾讯", "GCJ02"),
        ("腾讯地图", "GCJ02"),
        ("火星坐标", "GCJ02"),
        ("火星坐标系", "GCJ02"),
        ("国测局", "GCJ02"),
        ("amap", "GCJ02"),
        ("AMap", "GCJ02"),
        ("BD-09", "BD09"),
        ("bd09", "BD09"),
        ("bd09ll", "BD09"),
        ("百度", "BD09"),
        ("百度地图", "BD09"),
        ("百度坐标", "BD09"),
        ("baidu", "BD09"),
    ],
)
def test_normalize_crs_name(spelling: object, expected: str) -> None:
    assert crs.normalize_crs_name(spelling) == expected


@pytest.mark.parametrize("blank", [None, "", "   ", float("nan"), np.nan])
def test_normalize_crs_name_blank(blank: object) -> None:
    assert crs.normalize_crs_name(blank) is None


def test_normalize_crs_name_pandas_na() -> None:
    pd = pytest.importorskip("pandas")
    assert crs.normalize_crs_name(pd.NA) is None


@pytest.mark.parametrize("unknown", ["Beijing54", "EPSG:3857", "谷歌", True, 3857])
def test_normalize_crs_name_unknown(unknown: object) -> None:
    with pytest.raises(CRSError) as info:
        crs.normalize_crs_name(unknown)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    for accepted in ("WGS84", "GCJ02", "BD09", "高德", "百度", "EPSG:4326"):
        assert accepted in message


# --------------------------------------------------------------------------------------
# per-row conversion


def test_to_wgs84_mixed_rows_equal_group_functions(china_points: Points) -> None:
    lon, lat = china_points
    lon, lat = lon[:3000], lat[:3000]
    rng = np.random.default_rng(7)
    names = rng.choice(np.array(["WGS84", "GCJ02", "BD09"], dtype=object), size=lon.size)
    out_lon, out_lat = crs.to_wgs84(lon, lat, names)
    for name, func in (("GCJ02", crs.gcj02_to_wgs84), ("BD09", crs.bd09_to_wgs84)):
        mask = names == name
        exp_lon, exp_lat = func(lon[mask], lat[mask])
        np.testing.assert_array_equal(out_lon[mask], exp_lon)
        np.testing.assert_array_equal(out_lat[mask], exp_lat)
    mask = names == "WGS84"
    np.testing.assert_array_equal(out_lon[mask], lon[mask])
    np.testing.assert_array_equal(out_lat[mask], lat[mask])

    # and from_wgs84 undoes it
    back_lon, back_lat = crs.from_wgs84(out_lon, out_lat, names)
    assert distance_m(lon, lat, back_lon, back_lat).max() < 0.01


def test_to_wgs84_single_name_any_spelling() -> None:
    lon, lat = np.array([117.2199, 116.4]), np.array([28.2986, 39.9])
    for spelling in ("高德", "GCJ-02", "gcj02"):
        got = crs.to_wgs84(lon, lat, spelling)
        exp = crs.gcj02_to_wgs84(lon, lat)
        np.testing.assert_array_equal(got[0], exp[0])
        np.testing.assert_array_equal(got[1], exp[1])
    got = crs.to_wgs84(lon, lat, "WGS84")
    np.testing.assert_array_equal(got[0], lon)
    got = crs.from_wgs84(lon, lat, "百度")
    exp = crs.wgs84_to_bd09(lon, lat)
    np.testing.assert_array_equal(got[0], exp[0])


def test_to_wgs84_rejects_unknown_row_names() -> None:
    with pytest.raises(CRSError, match="1 row"):
        crs.to_wgs84([117.0, 116.0], [28.0, 39.0], ["GCJ02", "高德"])
    with pytest.raises(CRSError, match="shape"):
        crs.to_wgs84([117.0, 116.0], [28.0, 39.0], ["GCJ02", "BD09", "WGS84"])
    with pytest.raises(CRSError):
        crs.to_wgs84([117.0], [28.0], "  ")


# --------------------------------------------------------------------------------------
# sanity checks


def test_check_lonlat_flags() -> None:
    lon = np.array([117.22, 28.29, 2.3522, np.nan, 117.22, 200.0, 80.0])
    lat = np.array([28.29, 117.22, 48.8566, 28.29, np.nan, 30.0, 40.0])
    check = crs.check_lonlat(lon, lat)
    assert isinstance(check, crs.LonLatCheck)
    # rows: ok, swapped, Europe, NaN lon, NaN lat, lon > 180, ok (Xinjiang)
    np.testing.assert_array_equal(check.swapped, [False, True, False, False, False, False, False])
    np.testing.assert_array_equal(check.outside_china, [False, True, True, False, False, True, False])
    np.testing.assert_array_equal(check.invalid, [False, True, False, True, True, True, False])
    with pytest.raises(AttributeError):
        check.swapped = check.invalid  # type: ignore[misc]


def test_check_lonlat_swapped_within_valid_range() -> None:
    # western Xinjiang (lon 75.99, lat 39.47) swapped: both values are still valid degrees
    check = crs.check_lonlat(39.47, 75.99)
    assert bool(check.swapped) and bool(check.outside_china) and not bool(check.invalid)


# --------------------------------------------------------------------------------------
# metres from degrees


@pytest.mark.parametrize("lat0", [22.7, 28.3, 32.05, 41.15])  # 深圳, 贵溪, 南京, Porto
def test_metres_per_degree_matches_the_geodesic(lat0: float) -> None:
    m_lon, m_lat = crs.metres_per_degree(lat0)
    lon, lat = np.array([117.0]), np.array([lat0])
    east = distance_m(lon, lat, lon + 0.001, lat)[0] * 1000
    north = distance_m(lon, lat, lon, lat + 0.001)[0] * 1000
    assert float(m_lon) == pytest.approx(east, rel=0.002)
    assert float(m_lat) == pytest.approx(north, rel=0.005)
    lon_m, lat_m = crs.metres_per_degree(np.array([lat0, lat0]))
    assert lon_m.shape == lat_m.shape == (2,)


def test_local_xy_and_earth_xyz_give_ground_distances() -> None:
    rng = np.random.default_rng(7)
    lon1, lat1 = 117.0 + rng.uniform(0, 0.05, 200), 28.3 + rng.uniform(0, 0.05, 200)
    lon2, lat2 = lon1 + rng.uniform(-0.03, 0.03, 200), lat1 + rng.uniform(-0.03, 0.03, 200)
    truth = distance_m(lon1, lat1, lon2, lat2)
    x1, y1 = crs.local_xy(lon1, lat1, 28.3)
    x2, y2 = crs.local_xy(lon2, lat2, 28.3)
    np.testing.assert_allclose(np.hypot(x2 - x1, y2 - y1), truth, rtol=0.005)
    chord = np.linalg.norm(crs.earth_xyz(lon2, lat2) - crs.earth_xyz(lon1, lat1), axis=1)
    np.testing.assert_allclose(chord, truth, rtol=0.005)
