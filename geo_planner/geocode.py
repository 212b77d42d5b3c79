"""Offline geocoding of Chinese addresses against a gazetteer built from OSM extracts.

Planners' member tables give addresses such as 「江西省贵溪市雄石街道花园社区三栋」, often
partial (「雄石街道」, 「花园社区」), with full-width digits, and repeated many times. This
module

* splits an address into its administrative parts (:func:`parse_address`),
* builds a :class:`Gazetteer` of named places, roads, POIs and house numbers from OSM
  extracts (WGS-84), each with the township / community / county it sits in, optionally
  completed by the county-level division centres shipped with the ``cpca`` package,
* matches each distinct address against it with rapidfuzz, most specific level first
  (poi → street → community → township → county), disambiguated by the city, county and
  township written in the address (:func:`geocode`),
* assigns points to their community / township (:func:`assign_admin_units`: the extract's
  boundary polygon where it holds one, else the nearest place node) and to their city and
  county-level division (:func:`assign_county`: boundary polygons of :mod:`geo_planner.admin`),
* and optionally asks an online geocoder (高德 / 天地图, off by default) for what the
  offline pass could place only coarsely, caching the answers in SQLite.

An address that cannot be matched well enough is reported as ``unmatched`` with NaN
coordinates — never placed at a default point.
"""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import json
import logging
import math
import os
import re
import sqlite3
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Final, Literal, Protocol, cast, runtime_checkable

import httpx
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from rapidfuzz import fuzz, process
from scipy.spatial import cKDTree

from .errors import GeocodeError, InputError, Problem
from .osm import osm_xml
from .settings import GeocodeSettings

__all__ = [
    "ENTRY_COLUMNS",
    "PRECISIONS",
    "AmapGeocoder",
    "GeocodeCache",
    "Gazetteer",
    "OnlineGeocoder",
    "ParsedAddress",
    "TiandituGeocoder",
    "IMPRECISE_STATUS",
    "assign_admin_units",
    "geocode",
    "precise_for_times",
    "load_county_centres",
    "normalise_address",
    "online_geocoder_from_settings",
    "parse_address",
]

logger = logging.getLogger(__name__)

Precision = Literal["poi", "street", "community", "township", "county", "unmatched"]

#: Precision levels, most specific first.
PRECISIONS: Final[tuple[str, ...]] = ("poi", "street", "community", "township", "county", "unmatched")
_RANK: Final[dict[str, int]] = {p: i for i, p in enumerate(PRECISIONS)}

#: Columns of :attr:`Gazetteer.entries`.
ENTRY_COLUMNS: Final[tuple[str, ...]] = (
    "name",  # the name as written in the source
    "kind",  # place value (city/town/quarter/village…), road, poi, address, admin_level=N, county_centre
    "level",  # county/township/community/street/poi (or prefecture: context only, never a match)
    "lon",
    "lat",  # WGS-84 degrees
    "province",
    "city",  # prefecture-level city
    "county",  # county-level division (区/县/县级市)
    "township",  # nearest place=town/suburb (街道/镇/乡)
    "community",  # nearest place=quarter/village/neighbourhood (社区/村)
    "street",  # addr:street
    "housenumber",  # addr:housenumber
    "tag",  # the OSM tag that made the entry, e.g. amenity=hospital
    "source",  # file name, or "cpca"
    "osm_id",  # node/123, way/456, relation/789 ("" for non-OSM entries)
)
_TEXT_COLUMNS: Final = tuple(c for c in ENTRY_COLUMNS if c not in ("lon", "lat"))

_EARTH_RADIUS_M: Final = 6_371_008.8
_CJK: Final = "\u4e00-\u9fff"

# ---------------------------------------------------------------------------------------
# Text normalisation and address parsing
# ---------------------------------------------------------------------------------------

_DROP_RE: Final = re.compile(r"[\s,，、;；:：\"'“”‘’()\[\]【】<>《》。·!！?？|]+")
_COUNTRY_RE: Final = re.compile(r"^(?:中华人民共和国|中国)")

_PROVINCES: Final[tuple[str, ...]] = (
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省",
    "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省",
    "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省", "甘肃省", "青海省", "台湾省",
    "内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
    "香港特别行政区", "澳门特别行政区",
)  # fmt: skip
_MUNICIPALITIES: Final = frozenset({"北京市", "天津市", "上海市", "重庆市"})
_ETHNIC_GROUPS: Final[tuple[str, ...]] = tuple(
    sorted(
        (
            "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 "
            "东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 "
            "俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺 各"
        ).split(),
        key=len,
        reverse=True,
    )
)
_REGION_SUFFIXES: Final[tuple[str, ...]] = (
    "特别行政区", "自治区", "自治州", "自治县", "自治旗", "林区", "特区", "地区",
    "省", "市", "盟", "区", "县", "旗",
)  # fmt: skip


def _province_short(full: str) -> str:
    for suffix in ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
        if full.endswith(suffix):
            return full[: -len(suffix)]
    return full


_PROVINCE_PREFIXES: Final[tuple[tuple[str, str], ...]] = tuple(
    sorted(
        [(p, p) for p in _PROVINCES] + [(_province_short(p), p) for p in _PROVINCES],
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
)

_CITY_RE: Final = re.compile(rf"^([{_CJK}]{{2,7}}?(?:自治州|地区|盟|市))")
_COUNTY_RE: Final = re.compile(rf"^([{_CJK}]{{1,9}}?(?:自治县|自治旗|林区|特区|区|县|旗|市))")
_TOWNSHIP_RE: Final = re.compile(
    rf"^([{_CJK}]{{1,10}}?(?:街道办事处|街道办|街道|镇人民政府|乡人民政府|镇|乡|苏木))(?![路街巷弄道])"
)
_COMMUNITY_SUFFIXES_URBAN: Final = (
    "社区居民委员会",
    "社区居委会",
    "社区居委",
    "居民委员会",
    "居委会",
    "社区",
)
_COMMUNITY_SUFFIXES_RURAL: Final = ("村民委员会", "村委会", "村")
_COMMUNITY_SUFFIX_ALT: Final = "|".join(_COMMUNITY_SUFFIXES_URBAN + _COMMUNITY_SUFFIXES_RURAL)
_COMMUNITY_RE: Final = re.compile(rf"^([{_CJK}]{{1,12}}?(?:{_COMMUNITY_SUFFIX_ALT}))(?![路街巷弄道])")
_ROAD_RE: Final = re.compile(
    rf"^([{_CJK}0-9]{{1,12}}?(?:大道|大街|胡同|路|街|巷|弄)|[{_CJK}]{{1,8}}?里(?=[0-9]+[号號]))"
)
_NUMBER_RE: Final = re.compile(
    r"^([附甲乙丙]?(?:[0-9]+(?:[-之][0-9]+)?|[一二三四五六七八九十百零〇两]+)[号號])"
)

_ROAD_STARTS: Final = ("路", "街", "巷", "弄", "大道", "大街", "里", "道", "胡同")
_CITY_BAD_CHARS: Final = frozenset("区县镇乡村路街号社栋楼院道巷")
_COUNTY_BAD_ENDINGS: Final = (
    "小区",
    "社区",
    "园区",
    "校区",
    "景区",
    "厂区",
    "片区",
    "街区",
    "商区",
    "院区",
    "库区",
)
_COUNTY_BAD_CHARS: Final = frozenset("路街号社村镇乡栋楼院巷道")
_TOWNSHIP_BAD_CHARS: Final = frozenset("号栋楼")
_COMMUNITY_BAD_CHARS: Final = frozenset("号栋楼")


@dataclass(frozen=True)
class ParsedAddress:
    """The parts of a Chinese address, as written (after :func:`normalise_address`).

    Attributes
    ----------
    province
        省 / 自治区 / 直辖市 (a short name such as 江西 is expanded to 江西省).
    city
        The first 市 / 自治州 / 地区 / 盟 — a prefecture-level city, or a county-level city
        when no prefecture is written (「贵溪市建设路」 gives ``city="贵溪市"``).
    county
        区 / 县 / 旗 / a second 市 (「鹰潭市贵溪市」 gives ``county="贵溪市"``).
    township
        …街道 / …镇 / …乡 (also …街道办事处).
    community
        …社区 / …村 / …居委会 / …居民委员会 / …村委会.
    road
        …路 / …街 / …大道 / …大街 / …巷 / …弄.
    number
        House number (…号) following the road.
    poi
        Whatever remains: building, 小区, 栋, 单元, a POI name.
    raw
        The input text, unmodified.
    """

    province: str = ""
    city: str = ""
    county: str = ""
    township: str = ""
    community: str = ""
    road: str = ""
    number: str = ""
    poi: str = ""
    raw: str = ""

    @property
    def local(self) -> str:
        """Return the address below county level (township … poi), as one string."""
        return "".join((self.township, self.community, self.road, self.number, self.poi))

    @property
    def has_region(self) -> bool:
        """Whether a province, city or county is written."""
        return bool(self.province or self.city or self.county)


def normalise_address(text: str) -> str:
    """Normalise an address for parsing, matching and caching.

    Applies Unicode NFKC (full-width digits and letters become ASCII), removes blanks and
    punctuation, and drops a leading 中国 / 中华人民共和国.

    Parameters
    ----------
    text
        The address as typed.

    Returns
    -------
    str
        The normalised address ("" for blank input).
    """
    t = unicodedata.normalize("NFKC", text)
    t = _DROP_RE.sub("", t)
    return _COUNTRY_RE.sub("", t)


def _take(regex: re.Pattern[str], text: str) -> str:
    m = regex.match(text)
    return m.group(1) if m else ""


def _valid_city(token: str) -> bool:
    core = token[:-1] if token.endswith(("市", "盟")) else token[:-2]
    return not (set(core) & _CITY_BAD_CHARS)


def _valid_county(token: str) -> bool:
    if len(token) < 2 or token.endswith(_COUNTY_BAD_ENDINGS):
        return False
    if len(token) >= 3 and _region_core(token) in _division_cores():
        return True  # a real division, even with a 楼/街/路 in its name (鼓楼区, 街子镇…)
    if set(token[:-1]) & _COUNTY_BAD_CHARS:
        return False
    if token.endswith("市") and len(token) > 3:  # 香铺营集贸市(场) is no county-level city
        known = _division_cores()
        return not known or _region_core(token) in known
    return True


def parse_address(text: str) -> ParsedAddress:
    """Split a Chinese address into its administrative parts.

    The parser reads the address left to right, taking each level at most once and in
    order: province, city, county, township, then community / road (+ number), and
    leaves the remainder as ``poi``. Communities are tried before roads, so a community
    whose name contains a road suffix (东街社区, 中山路社区) stays a community; a suffix
    directly followed by a road character (五老村路) is not taken as a community.

    Parameters
    ----------
    text
        The address; full-width characters and blanks are normalised first.

    Returns
    -------
    ParsedAddress
        Empty strings for the parts not written.

    Examples
    --------
    >>> p = parse_address("江西省贵溪市雄石街道花园社区三栋")
    >>> (p.province, p.city, p.township, p.community, p.poi)
    ('江西省', '贵溪市', '雄石街道', '花园社区', '三栋')
    """
    rest = normalise_address(text)
    parts: dict[str, str] = {}

    for prefix, full in _PROVINCE_PREFIXES:
        if not rest.startswith(prefix):
            continue
        following = rest[len(prefix) : len(prefix) + 2]
        if prefix != full and following[:1] in ("市", "省"):  # 吉林市 is a city, not the province
            continue
        if following.startswith(_ROAD_STARTS):  # 上海路, 江西大道, 湖南里 are roads
            continue
        if rest.startswith(prefix):
            parts["province"] = full
            rest = rest[len(prefix) :]
            break

    city = _take(_CITY_RE, rest)
    if city and _valid_city(city):
        parts["city"] = city
        rest = rest[len(city) :]
    elif parts.get("province") in _MUNICIPALITIES:
        parts["city"] = parts["province"]

    county = _take(_COUNTY_RE, rest)
    if county and _valid_county(county) and not _NUMBER_RE.match(rest[len(county) :]):
        parts["county"] = county
        rest = rest[len(county) :]

    township = _take(_TOWNSHIP_RE, rest)
    if township and not (set(township) & _TOWNSHIP_BAD_CHARS) and len(township) > 1:
        parts["township"] = township
        rest = rest[len(township) :]

    while rest:
        if "community" not in parts:
            token = _take(_COMMUNITY_RE, rest)
            road = _take(_ROAD_RE, token) if token else ""
            after = token[len(road) :]
            if (road and "road" not in parts and _COMMUNITY_RE.match(after)
                    and not after.startswith(_COMMUNITY_SUFFIXES_URBAN + _COMMUNITY_SUFFIXES_RURAL)):
                token = ""  # 冶金大道东侧花园新村: a road comes first (but 东街社区(居委会), 中山路社区 stay whole)
            if token and not (set(token) & _COMMUNITY_BAD_CHARS):
                parts["community"] = token
                rest = rest[len(token) :]
                continue
        if "road" not in parts:
            token = _take(_ROAD_RE, rest)
            if token and len(token) >= 2:
                parts["road"] = token
                rest = rest[len(token) :]
                number = _take(_NUMBER_RE, rest)
                if number:
                    parts["number"] = number
                    rest = rest[len(number) :]
                continue
        break
    parts["poi"] = rest
    return ParsedAddress(raw=text, **parts)


# --- canonical forms used for matching ---------------------------------------------------


def _region_core(name: str) -> str:
    """Return the distinctive part of an admin name: 余江区/余江县 → 余江, 广西壮族自治区 → 广西."""
    if not name:
        return ""
    core = name
    for suffix in _REGION_SUFFIXES:
        if core.endswith(suffix) and len(core) > len(suffix):
            core = core[: -len(suffix)]
            break
    changed = True
    while changed and core.endswith("族"):
        changed = False
        for group in _ETHNIC_GROUPS:
            if core.endswith(group + "族") and len(core) > len(group) + 1:
                core = core[: -(len(group) + 1)]
                changed = True
                break
    return core if len(core) >= 2 else name


def _canon_township(name: str) -> str:
    """花园街道办事处 → 花园街道, 滨江镇人民政府 → 滨江镇."""
    for suffix, canon in (
        ("街道办事处", "街道"),
        ("街道办", "街道"),
        ("镇人民政府", "镇"),
        ("乡人民政府", "乡"),
    ):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + canon
    return name


def _canon_community(name: str, kind: str = "") -> str:
    """花园居委会 / 花园社区居民委员会 → 花园社区; 黄坑村委会 → 黄坑村; a bare village name gets 村."""
    for suffix in _COMMUNITY_SUFFIXES_URBAN:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + "社区"
    for suffix in _COMMUNITY_SUFFIXES_RURAL:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + "村"
    if kind == "village":
        return name + "村"
    if kind in ("quarter", "neighbourhood"):
        return name + "社区"
    return name


def _digits(number: str) -> str:
    """12号 / 12 / 附12号 → 12 (house numbers compared on their digits)."""
    m = re.search(r"[0-9]+(?:[-之][0-9]+)?", unicodedata.normalize("NFKC", number))
    return m.group(0).replace("之", "-") if m else number


# ---------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------


def _xyz(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
    """Earth-centred Cartesian coordinates in metres (chord distances ≈ ground distances)."""
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.column_stack(
        (
            _EARTH_RADIUS_M * cos_phi * np.cos(lam),
            _EARTH_RADIUS_M * cos_phi * np.sin(lam),
            _EARTH_RADIUS_M * np.sin(phi),
        )
    )


def _line_length_m(coords: NDArray[np.float64]) -> float:
    if len(coords) < 2:
        return 0.0
    xyz = _xyz(coords[:, 0], coords[:, 1])
    return float(np.linalg.norm(np.diff(xyz, axis=0), axis=1).sum())


def _polygon_centroid(coords: NDArray[np.float64]) -> tuple[float, float]:
    """Area centroid of a closed ring (lon/lat; planar, fine at building/district scale)."""
    x, y = coords[:, 0], coords[:, 1]
    x0, y0 = x.mean(), y.mean()  # shift for numerical stability
    xs, ys = x - x0, y - y0
    cross = xs[:-1] * ys[1:] - xs[1:] * ys[:-1]
    area = cross.sum() / 2.0
    if abs(area) < 1e-14:
        return float(x0), float(y0)
    cx = ((xs[:-1] + xs[1:]) * cross).sum() / (6.0 * area)
    cy = ((ys[:-1] + ys[1:]) * cross).sum() / (6.0 * area)
    return float(cx + x0), float(cy + y0)


def _nearest(
    seed_xyz: NDArray[np.float64], query_xyz: NDArray[np.float64], max_m: float
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Nearest seed of each query point (distance inf / index -1 beyond ``max_m`` or for NaN)."""
    n = len(query_xyz)
    dist = np.full(n, np.inf)
    idx = np.full(n, -1, dtype=np.intp)
    if len(seed_xyz) == 0 or n == 0:
        return dist, idx
    finite = np.isfinite(query_xyz).all(axis=1)
    if finite.any():
        d, i = cKDTree(seed_xyz).query(query_xyz[finite], k=1, distance_upper_bound=max_m)
        ok = np.isfinite(d)
        sub_idx = np.where(ok, i, -1)
        dist[finite] = d
        idx[finite] = sub_idx
    return dist, idx


# ---------------------------------------------------------------------------------------
# GCJ-02 conversion and county centres (cpca)
# ---------------------------------------------------------------------------------------


def _gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    try:
        from .crs import gcj02_to_wgs84
    except ImportError as exc:  # pragma: no cover - crs ships with geo_planner
        raise GeocodeError("geo_planner.crs is needed to convert GCJ-02 coordinates to WGS-84") from exc
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


# ---------------------------------------------------------------------------------------
# OSM reading
# ---------------------------------------------------------------------------------------

_POI_KEYS: Final[tuple[str, ...]] = (
    "amenity", "healthcare", "shop", "office", "tourism", "leisure", "craft", "historic", "club",
    "emergency", "government", "building", "landuse", "man_made",
)  # fmt: skip
_PLACE_LEVEL: Final[dict[str, str]] = {
    "city": "county",  # in China's OSM, place=city nodes inside an extract are mostly county seats/districts
    "county": "county",
    "district": "county",
    "town": "township",
    "suburb": "township",
    "township": "township",
    "quarter": "community",
    "village": "community",
    "neighbourhood": "community",
}
_PLACE_SKIP: Final = frozenset(
    {"country", "state", "province", "region", "archipelago", "continent", "ocean", "sea"}
)
_COMMUNITY_SEED_KINDS: Final = ("quarter", "village", "neighbourhood")
_LATIN_TAIL_RE: Final = re.compile(r"[A-Za-z][A-Za-z .'-]*$")  # 凤岗镇 (Fenggang) → 凤岗镇
_TOWNSHIP_SEED_KINDS: Final = ("town", "suburb")
_ADMIN_LEVEL: Final[dict[str, str]] = {"5": "prefecture", "6": "county", "7": "township", "8": "township",
                                       "9": "community", "10": "community"}  # fmt: skip


@dataclass
class _OsmElement:
    kind: str  # node / way / relation
    osm_id: str
    tags: dict[str, str]
    lon: float = math.nan
    lat: float = math.nan
    refs: tuple[str, ...] = ()
    members: tuple[tuple[str, str, str], ...] = ()  # (type, ref, role)


def _open_osm(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if path.suffix == ".bz2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    return path.open("rb")


def _read_osm(
    path: Path,
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[str, ...]], list[_OsmElement]]:
    """Stream an OSM XML file: all node coordinates, all way node lists, the tagged elements."""
    coords: dict[str, tuple[float, float]] = {}
    way_refs: dict[str, tuple[str, ...]] = {}
    tagged: list[_OsmElement] = []
    try:
        with _open_osm(path) as fh:
            for _, elem in ET.iterparse(fh, events=("end",)):
                tag = elem.tag
                if tag not in ("node", "way", "relation"):
                    continue
                osm_id = elem.get("id", "")
                tags = {t.get("k", ""): t.get("v", "") for t in elem.iter("tag")}
                if tag == "node":
                    lon, lat = float(elem.get("lon", "nan")), float(elem.get("lat", "nan"))
                    coords[osm_id] = (lon, lat)
                    if tags:
                        tagged.append(_OsmElement("node", osm_id, tags, lon=lon, lat=lat))
                elif tag == "way":
                    refs = tuple(nd.get("ref", "") for nd in elem.iter("nd"))
                    way_refs[osm_id] = refs
                    if tags:
                        tagged.append(_OsmElement("way", osm_id, tags, refs=refs))
                else:
                    members = tuple(
                        (m.get("type", ""), m.get("ref", ""), m.get("role", "")) for m in elem.iter("member")
                    )
                    if tags:
                        tagged.append(_OsmElement("relation", osm_id, tags, members=members))
                elem.clear()
    except ET.ParseError as exc:
        raise InputError(Problem(str(path), None, None, f"not valid OSM XML: {exc}")) from None
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(Problem(str(path), None, None, f"cannot read OSM file: {exc}")) from None
    return coords, way_refs, tagged


def _name_of(tags: dict[str, str]) -> str:
    name = tags.get("name") or tags.get("name:zh") or tags.get("name:zh-Hans") or ""
    return normalise_address(name)


def _poi_tag(tags: dict[str, str]) -> str:
    for key in _POI_KEYS:
        if key in tags:
            return f"{key}={tags[key]}"
    if tags.get("railway") in ("station", "halt") or tags.get("public_transport") == "station":
        return f"railway={tags.get('railway', 'station')}"
    return ""


def _way_coords(refs: Sequence[str], coords: dict[str, tuple[float, float]]) -> NDArray[np.float64]:
    pts = [coords[r] for r in refs if r in coords]
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2)


def _records_from_osm(
    path: Path, source: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], tuple[float, float, float, float]]:
    """Turn one extract into raw gazetteer records (no admin context yet).

    Returns the records, the township/community boundary polygons whose rings the extract
    holds completely (``name``, ``level``, ``geometry``, ``osm_id``, ``source``) and the
    extract's extent: min lon, min lat, max lon, max lat of the nodes of its roads
    (``highway=*`` ways), the area its road network can measure — not of all nodes, since a
    boundary way reaches far beyond the extract.
    """
    coords, way_refs, tagged = _read_osm(path)
    source = source or path.name
    areas = _admin_areas(tagged, coords, way_refs, source)
    road_nodes = {r for el in tagged if el.kind == "way" and "highway" in el.tags for r in el.refs}
    pts = [coords[r] for r in road_nodes if r in coords]
    extent = (math.nan, math.nan, math.nan, math.nan)
    if pts:
        xy = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        extent = (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))
    records: list[dict[str, Any]] = []

    def add(
        el: _OsmElement, name: str, kind: str, level: str, lon: float, lat: float, tag: str, **extra: Any
    ) -> None:
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return
        rec = {
            "name": name, "kind": kind, "level": level, "lon": lon, "lat": lat, "tag": tag, "source": source,
            "osm_id": f"{el.kind}/{el.osm_id}", "street": "", "housenumber": "",
            "_addr_city": normalise_address(el.tags.get("addr:city", "")),
            "_addr_district": normalise_address(el.tags.get("addr:district", "")),
            "_addr_province": normalise_address(el.tags.get("addr:province", "")),
            "_length_m": 0.0,
        }  # fmt: skip
        rec.update(extra)
        records.append(rec)

    for el in tagged:
        tags = el.tags
        name = _name_of(tags)
        street = normalise_address(tags.get("addr:street", ""))
        housenumber = normalise_address(tags.get("addr:housenumber", ""))
        place = tags.get("place", "")
        poi_tag = _poi_tag(tags)
        is_road = el.kind == "way" and "highway" in tags and bool(name)
        is_admin = el.kind == "relation" and tags.get("boundary") == "administrative"
        if not name and not (street and housenumber):
            continue

        # representative point
        if el.kind == "node":
            lon, lat = el.lon, el.lat
        elif el.kind == "way":
            pts = _way_coords(el.refs, coords)
            if len(pts) == 0:
                continue
            closed = len(el.refs) >= 4 and el.refs[0] == el.refs[-1] and len(pts) == len(el.refs)
            if is_road:
                mid = pts[len(pts) // 2]
                add(el, name, "road", "street", float(mid[0]), float(mid[1]), f"highway={tags['highway']}",
                    _length_m=_line_length_m(pts))  # fmt: skip
                continue
            if closed:
                lon, lat = _polygon_centroid(pts)
            else:
                mid = pts[len(pts) // 2]
                lon, lat = float(mid[0]), float(mid[1])
        else:
            lon, lat = _relation_point(el, coords, way_refs, admin=is_admin)
            if not math.isfinite(lon):
                continue

        if is_admin and name:
            level = _ADMIN_LEVEL.get(tags.get("admin_level", ""))
            if level is not None:
                add(
                    el, name, f"admin_level={tags['admin_level']}", level, lon, lat, "boundary=administrative"
                )
            continue
        if place and name and place not in _PLACE_SKIP:
            level = _PLACE_LEVEL.get(place, "poi")
            add(el, name, place, level, lon, lat, f"place={place}")
            continue
        if name and poi_tag:
            add(el, name, "poi", "poi", lon, lat, poi_tag, street=street, housenumber=housenumber)
            continue
        if street and housenumber and el.kind != "relation":
            label = street + housenumber + ("号" if housenumber.isdigit() else "")
            add(el, name or label, "address", "poi", lon, lat, "addr:housenumber", street=street,
                housenumber=housenumber)  # fmt: skip
    logger.debug("%s: %d raw gazetteer records, %d boundary polygons", path, len(records), len(areas))
    return records, areas, extent


_AREA_LEVEL: Final[dict[str, str]] = {"7": "township", "8": "township", "9": "community", "10": "community"}


def _admin_areas(
    tagged: Sequence[_OsmElement],
    coords: dict[str, tuple[float, float]],
    way_refs: dict[str, tuple[str, ...]],
    source: str,
) -> list[dict[str, Any]]:
    """Township/community ``boundary=administrative`` relations whose outer rings are complete.

    An extract usually cuts a boundary: only relations whose every outer way and node is in
    the file, joined into closed rings, become polygons; the others are left to the nearest
    place node.
    """
    import shapely

    out: list[dict[str, Any]] = []
    for el in tagged:
        tags = el.tags
        level = _AREA_LEVEL.get(tags.get("admin_level", ""))
        if el.kind != "relation" or tags.get("boundary") != "administrative" or level is None:
            continue
        name = _LATIN_TAIL_RE.sub("", _name_of(tags))
        outer = [(mtype, ref) for mtype, ref, role in el.members if mtype == "way" and role in ("outer", "")]
        if not name or not outer or any(ref not in way_refs for _, ref in outer):
            continue
        ways = [way_refs[ref] for _, ref in outer]
        rings = _assemble_rings(ways)
        if sum(len(r) - 1 for r in rings) != sum(len(w) - 1 for w in ways):
            continue  # some way did not close into a ring
        polys = []
        for ring in rings:
            pts = _way_coords(ring, coords)
            if len(pts) != len(ring):
                break
            polys.append(shapely.make_valid(shapely.Polygon(pts)))
        else:
            geom = shapely.union_all(polys)
            if not geom.is_empty and geom.area > 0:
                canon = _canon_township(name) if level == "township" else name
                out.append({"name": canon, "level": level, "geometry": geom,
                            "osm_id": f"relation/{el.osm_id}", "source": source})
    return out


def _relation_point(
    el: _OsmElement,
    coords: dict[str, tuple[float, float]],
    way_refs: dict[str, tuple[str, ...]],
    *,
    admin: bool,
) -> tuple[float, float]:
    """Label/admin-centre node of a boundary, or the centroid of a multipolygon's largest outer ring."""
    for role in ("label", "admin_centre"):
        for mtype, ref, mrole in el.members:
            if mtype == "node" and mrole == role and ref in coords:
                return coords[ref]
    if admin:  # partial boundary rings would give a misleading centroid
        return math.nan, math.nan
    best: tuple[float, float] = (math.nan, math.nan)
    best_area = -1.0
    outer = [way_refs[ref] for mtype, ref, mrole in el.members
             if mtype == "way" and mrole in ("outer", "") and ref in way_refs]  # fmt: skip
    for refs in _assemble_rings(outer):
        pts = _way_coords(refs, coords)
        if len(pts) < 4 or len(pts) != len(refs):
            continue
        x, y = pts[:, 0], pts[:, 1]
        area = abs(float((x[:-1] * y[1:] - x[1:] * y[:-1]).sum())) / 2.0
        if area > best_area:
            best_area, best = area, _polygon_centroid(pts)
    return best


def _assemble_rings(ways: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Join multipolygon member ways end to end into closed rings (open leftovers dropped)."""
    rings: list[tuple[str, ...]] = []
    open_parts = [list(w) for w in ways if len(w) >= 2]
    while open_parts:
        ring = open_parts.pop(0)
        grown = True
        while ring[0] != ring[-1] and grown:
            grown = False
            for i, part in enumerate(open_parts):
                if part[0] == ring[-1]:
                    ring += part[1:]
                elif part[-1] == ring[-1]:
                    ring += part[-2::-1]
                elif part[-1] == ring[0]:
                    ring = part[:-1] + ring
                elif part[0] == ring[0]:
                    ring = part[:0:-1] + ring
                else:
                    continue
                open_parts.pop(i)
                grown = True
                break
        if len(ring) >= 4 and ring[0] == ring[-1]:
            rings.append(tuple(ring))
    return rings


# ---------------------------------------------------------------------------------------
# Gazetteer
# ---------------------------------------------------------------------------------------


def _region_prefixes(*names: str) -> list[str]:
    """Full and core forms of region names, longest first."""
    forms = {form for n in names for form in (n, _region_core(n))} - {""}
    return sorted(forms, key=len, reverse=True)


def _strip_region_prefix(name: str, prefixes: Sequence[str]) -> tuple[str, str]:
    """Split 贵溪市实验中学 into (实验中学, 贵溪) when 贵溪市 is one of the entry's region names.

    Returns the name without its leading region names and the core of the last (most
    specific) one stripped ("" when none).
    """
    stripped = ""
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if p and name.startswith(p) and len(name) - len(p) >= 2:
                name, stripped = name[len(p) :], p
                changed = True
                break
    return name, _region_core(stripped)


class Gazetteer:
    """Named places, roads, POIs and house numbers with WGS-84 points and admin context.

    Build one with :meth:`from_osm`, or pass a table with the :data:`ENTRY_COLUMNS`
    (at least ``name``, ``level``, ``lon``, ``lat``) — for instance a department's own
    list of 社区 with coordinates.

    Parameters
    ----------
    entries
        The gazetteer table; missing text columns are filled with "".
    areas
        Township/community boundary polygons (``name``, ``level`` — ``township`` or
        ``community`` —, ``geometry`` as shapely polygons in WGS-84), used before the nearest
        place node by :func:`assign_admin_units`.
    extents
        The loaded extracts' extents ``(min lon, min lat, max lon, max lat)``: a point
        outside all of them lives outside the loaded map (see :meth:`in_extents`).

    Raises
    ------
    GeocodeError
        If required columns are missing or the table is empty.
    """

    def __init__(
        self,
        entries: pd.DataFrame,
        *,
        areas: pd.DataFrame | None = None,
        extents: Sequence[tuple[float, float, float, float]] = (),
    ) -> None:
        missing = [c for c in ("name", "level", "lon", "lat") if c not in entries.columns]
        if missing:
            raise GeocodeError(f"gazetteer table lacks column(s) {', '.join(missing)}")
        table = entries.reset_index(drop=True).copy()
        for col in _TEXT_COLUMNS:
            if col not in table.columns:
                table[col] = ""
            table[col] = table[col].fillna("").astype(str)
        table["lon"] = pd.to_numeric(table["lon"], errors="coerce").astype(np.float64)
        table["lat"] = pd.to_numeric(table["lat"], errors="coerce").astype(np.float64)
        table = table[table["lon"].notna() & table["lat"].notna() & (table["name"] != "")]
        table = table.reset_index(drop=True)
        if table.empty:
            raise GeocodeError("the gazetteer has no named entries with coordinates")
        extra = [c for c in table.columns if c not in ENTRY_COLUMNS]
        self._entries = table[list(ENTRY_COLUMNS) + extra]
        self._areas = (
            areas.reset_index(drop=True) if areas is not None and len(areas)
            else pd.DataFrame({"name": pd.Series(dtype=object), "level": pd.Series(dtype=object),
                               "geometry": pd.Series(dtype=object)})
        )
        self._extents = np.asarray(list(extents), dtype=np.float64).reshape(-1, 4)
        self._build_index()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_osm(
        cls,
        paths: Sequence[Path | str] | Path | str,
        *,
        counties: bool = True,
        community_max_m: float = 2000.0,
        township_max_m: float = 8000.0,
        county_max_m: float = 60000.0,
        cache_dir: Path | str | None = None,
    ) -> Gazetteer:
        """Build a gazetteer from OSM extracts (WGS-84).

        Entries: ``place=*`` nodes/areas (city/county → county level, town/suburb →
        township, quarter/village/neighbourhood → community), administrative boundaries at
        their label or admin-centre node, named roads (one entry per road name and county:
        the middle vertex of its longest way, so the point lies on the road), named POIs
        (nodes; areas at their centroid) and ``addr:street`` + ``addr:housenumber``
        addresses (poi level). Each entry gets the nearest township and community seed
        (see :func:`assign_admin_units`) and its county, prefecture and province (nearest
        county-level place or county centre; ``addr:district`` / ``addr:city`` /
        ``addr:province`` tags override).

        Parameters
        ----------
        paths
            One or more ``.osm`` (optionally ``.gz``/``.bz2``) or ``.pbf`` files; a PBF is
            converted once by :func:`geo_planner.osm.osm_xml` (the same file the road
            network reads), so both give identical gazetteers.
        counties
            Add the county-level centres of :func:`load_county_centres` (when cpca is
            installed) as county-level entries, and use them for the region context.
        community_max_m, township_max_m
            Context assignment radii, metres.
        county_max_m
            Farthest county seed used as an entry's county context, metres.
        cache_dir
            Where converted PBF files are kept (the system's temporary folder if ``None``).

        Returns
        -------
        Gazetteer

        Raises
        ------
        InputError
            If a file is missing, is not OSM XML or is an unreadable PBF.
        GeocodeError
            When nothing named was found.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        problems: list[Problem] = []
        for p in paths:
            path = Path(p)
            if not path.is_file():
                problems.append(Problem(str(path), None, None, "OSM file not found"))
        if problems:
            raise InputError(problems)
        records: list[dict[str, Any]] = []
        areas: list[dict[str, Any]] = []
        extents: list[tuple[float, float, float, float]] = []
        for p in paths:
            recs, found, extent = _records_from_osm(osm_xml(p, cache_dir), source=Path(p).name)
            records.extend(recs)
            areas.extend(found)
            if all(math.isfinite(v) for v in extent):
                extents.append(extent)
        if not records:
            raise GeocodeError(f"no named places, roads or POIs in {', '.join(str(p) for p in paths)}")
        raw = pd.DataFrame.from_records(records)
        centres = load_county_centres() if counties else _empty_centres()
        table = _add_context(raw, centres, community_max_m, township_max_m, county_max_m)
        if counties and not centres.empty:
            cc = centres[centres["level"] == "county"]
            county_rows = pd.DataFrame(
                {
                    "name": cc["name"], "kind": "county_centre", "level": "county", "lon": cc["lon"],
                    "lat": cc["lat"], "province": cc["province"], "city": cc["city"], "county": cc["name"],
                    "township": "", "community": "", "street": "", "housenumber": "",
                    "tag": "adcode=" + cc["adcode"], "source": "cpca", "osm_id": "",
                }
            )  # fmt: skip
            table = pd.concat([table, county_rows], ignore_index=True)
        gaz = cls(table, areas=pd.DataFrame.from_records(areas) if areas else None, extents=extents)
        logger.info(
            "gazetteer: %d entries (%s) from %d file(s)",
            len(gaz.entries),
            ", ".join(f"{k} {v}" for k, v in gaz.entries["level"].value_counts().items()),
            len(paths),
        )
        return gaz

    # -- accessors ------------------------------------------------------------------------

    @property
    def entries(self) -> pd.DataFrame:
        """The gazetteer table (see :data:`ENTRY_COLUMNS`)."""
        return self._entries

    @property
    def areas(self) -> pd.DataFrame:
        """Township/community boundary polygons read from the extracts (may be empty)."""
        return self._areas

    @property
    def extents(self) -> NDArray[np.float64]:
        """The extracts' extents, one ``(min lon, min lat, max lon, max lat)`` row each."""
        return self._extents

    def in_extents(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point lies inside the extent of a loaded extract.

        ``True`` for every finite point when no extent is known (a gazetteer built from a
        table); ``False`` for NaN.
        """
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        finite = np.isfinite(x) & np.isfinite(y)
        if len(self._extents) == 0:
            return finite
        e = self._extents
        inside = (
            (x[:, None] >= e[None, :, 0]) & (y[:, None] >= e[None, :, 1])
            & (x[:, None] <= e[None, :, 2]) & (y[:, None] <= e[None, :, 3])
        )
        return finite & inside.any(axis=1)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        counts = self._entries["level"].value_counts().to_dict()
        return f"Gazetteer({len(self)} entries: {counts})"

    # -- matching index -----------------------------------------------------------------

    def _build_index(self) -> None:
        e = self._entries
        self._names = e["name"].to_numpy(dtype=object)
        self._levels = e["level"].to_numpy(dtype=object)
        self._xyz = _xyz(e["lon"].to_numpy(), e["lat"].to_numpy())
        self._prov_core = np.array([_region_core(v) for v in e["province"]], dtype=object)
        self._city_core = np.array([_region_core(v) for v in e["city"]], dtype=object)
        self._county_core = np.array([_region_core(v) for v in e["county"]], dtype=object)
        self._township = np.array([_canon_township(v) for v in e["township"]], dtype=object)
        self._level_rows: dict[str, NDArray[np.intp]] = {
            lvl: np.flatnonzero(self._levels == lvl) for lvl in PRECISIONS[:-1]
        }
        kinds = e["kind"].to_numpy(dtype=object)
        match_name = self._names.copy()
        for row in self._level_rows["community"]:
            match_name[row] = _canon_community(self._names[row], kinds[row])
        for row in self._level_rows["township"]:
            match_name[row] = _canon_township(self._names[row])
        for row in self._level_rows["county"]:
            match_name[row] = _region_core(self._names[row])
        self._match_name = match_name
        self._raw_names = {lvl: self._names[rows].tolist() for lvl, rows in self._level_rows.items()}
        self._match_names = {lvl: match_name[rows].tolist() for lvl, rows in self._level_rows.items()}
        poi = e.iloc[self._level_rows["poi"]]
        split = [
            _strip_region_prefix(n, _region_prefixes(p, c, k))
            for n, p, c, k in zip(poi["name"], poi["province"], poi["city"], poi["county"], strict=True)
        ]
        self._poi_core = [core for core, _ in split]
        self._poi_prefix = np.array([prefix for _, prefix in split], dtype=object)
        self._addr_index: dict[tuple[str, str], list[int]] = {}
        has_addr = (e["street"] != "") & (e["housenumber"] != "")
        for row in np.flatnonzero(has_addr.to_numpy()):
            key = (e["street"].iat[row], _digits(e["housenumber"].iat[row]))
            self._addr_index.setdefault(key, []).append(int(row))
        self._community_by_name = _positions_by_name(self._raw_names["community"])
        self._county_by_core = _positions_by_name(self._match_names["county"])
        self._known_county = frozenset(self._county_core[self._county_core != ""].tolist())
        self._known_city = frozenset(self._city_core[self._city_core != ""].tolist())
        self._community_seeds = np.flatnonzero(np.isin(kinds, _COMMUNITY_SEED_KINDS))
        self._township_seeds = np.flatnonzero(np.isin(kinds, _TOWNSHIP_SEED_KINDS))


def _positions_by_name(names: list[str]) -> dict[str, NDArray[np.intp]]:
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    return {k: np.asarray(v, dtype=np.intp) for k, v in groups.items()}


def _add_context(
    raw: pd.DataFrame,
    centres: pd.DataFrame,
    community_max_m: float,
    township_max_m: float,
    county_max_m: float,
) -> pd.DataFrame:
    """Give raw OSM records their county/prefecture/province and township/community context."""
    table = raw.copy()
    xyz = _xyz(table["lon"].to_numpy(), table["lat"].to_numpy())

    # OSM place=city nodes that are prefecture-level cities are context only
    prefectures = centres[centres["level"] == "prefecture"]
    county_names = set(centres.loc[centres["level"] == "county", "name"])
    pref_names = set(prefectures["name"]) - county_names
    is_pref = (table["level"] == "county") & table["name"].isin(pref_names)
    table.loc[is_pref, "level"] = "prefecture"

    # county seeds: OSM county-level places + county centres; each with prefecture/province
    cc = centres[centres["level"] == "county"].reset_index(drop=True)
    cc_xyz = _xyz(cc["lon"].to_numpy(), cc["lat"].to_numpy()) if len(cc) else np.empty((0, 3))
    osm_seed = table[table["level"] == "county"]
    seed_name = osm_seed["name"].tolist() + cc["name"].tolist()
    seed_city = [""] * len(osm_seed) + cc["city"].tolist()
    seed_prov = [""] * len(osm_seed) + cc["province"].tolist()
    osm_seed_xyz = xyz[osm_seed.index.to_numpy()]
    for i, (name, pt) in enumerate(zip(osm_seed["name"], osm_seed_xyz, strict=True)):
        same = np.flatnonzero(cc["name"].to_numpy() == name) if len(cc) else np.empty(0, dtype=np.intp)
        if len(same):
            j = same[np.argmin(np.linalg.norm(cc_xyz[same] - pt, axis=1))]
            seed_city[i], seed_prov[i] = cc.at[j, "city"], cc.at[j, "province"]
    seed_xyz = np.vstack([osm_seed_xyz, cc_xyz]) if len(seed_name) else np.empty((0, 3))
    _, idx = _nearest(seed_xyz, xyz, county_max_m)
    for col, values in (("county", seed_name), ("city", seed_city), ("province", seed_prov)):
        table[col] = np.asarray(values + [""], dtype=object)[idx]  # idx -1 → ""

    # boundary polygons decide where they cover the entry (the nearest seat errs near a line)
    from .admin import locate_divisions

    poly = locate_divisions(table["lon"].to_numpy(), table["lat"].to_numpy())
    found = (poly["county"] != "").to_numpy()
    for col in ("county", "city", "province"):
        table.loc[found, col] = poly.loc[found, col].to_numpy()

    # prefecture-level places: their own city
    table.loc[is_pref, "city"] = table.loc[is_pref, "name"]
    table.loc[table["level"] == "county", "county"] = table.loc[table["level"] == "county", "name"]

    # addr:* tags override; file-level majority fills what is still unknown
    district = table["_addr_district"]
    has_district = district.str.contains(r"(?:区|县|旗|市)$", regex=True)
    table.loc[has_district, "county"] = district[has_district]
    for col, tag in (("city", "_addr_city"), ("province", "_addr_province")):
        tagged = table[tag] != ""
        differs = tagged & (table[tag].map(_region_core) != table[col].map(_region_core))
        table.loc[differs, col] = table.loc[differs, tag]
        for source, group in table[tagged].groupby("source"):
            majority = Counter(group[tag].map(_region_core)).most_common(1)[0][0]
            fill = (table["source"] == source) & (table[col] == "")
            table.loc[fill, col] = majority

    # township / community context (Voronoi on place nodes)
    kinds = table["kind"].to_numpy(dtype=object)
    for col, seed_kinds, max_m in (
        ("community", _COMMUNITY_SEED_KINDS, community_max_m),
        ("township", _TOWNSHIP_SEED_KINDS, township_max_m),
    ):
        seeds = np.flatnonzero(np.isin(kinds, seed_kinds))
        _, nidx = _nearest(xyz[seeds], xyz, max_m)
        names = np.asarray(table["name"].to_numpy(dtype=object)[seeds].tolist() + [""], dtype=object)
        table[col] = np.where(nidx >= 0, names[nidx], "")
    lvl = table["level"]
    table.loc[lvl == "township", "township"] = table.loc[lvl == "township", "name"].map(_canon_township)
    table.loc[lvl == "township", "community"] = ""
    table.loc[lvl == "community", "community"] = table.loc[lvl == "community", "name"]
    above = lvl.isin(["county", "prefecture"])
    table.loc[above, ["township", "community"]] = ""

    # one road entry per (source, name, county): the longest way's middle vertex
    roads = table["kind"] == "road"
    longest = (
        table[roads]
        .sort_values("_length_m", ascending=False, kind="stable")
        .drop_duplicates(["source", "name", "county"])
    )
    table = pd.concat([table[~roads], longest]).sort_index(kind="stable")
    table = table.drop_duplicates(["name", "level", "lon", "lat"])
    return table[list(ENTRY_COLUMNS)].reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Admin-unit assignment
# ---------------------------------------------------------------------------------------


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
    xyz = _xyz(x, y)
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
    return pd.DataFrame({c: out[c] for c in cols}, index=index if index is not None else pd.RangeIndex(len(x)))


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


def assign_county(lon: ArrayLike, lat: ArrayLike, gazetteer: Gazetteer, *, county_max_m: float = 60_000.0) -> pd.DataFrame:
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
    from .admin import locate_divisions

    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    seeds = np.flatnonzero(gazetteer._levels == "county")
    _, idx = _nearest(gazetteer._xyz[seeds], _xyz(x, y), county_max_m)
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


# ---------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------

#: Top candidates tied on score but farther apart than this (metres) make a level ambiguous.
_AMBIGUOUS_M: Final[dict[str, float]] = {
    "poi": 300.0,
    "street": 2000.0,
    "community": 1000.0,
    "township": 3000.0,
    "county": 20000.0,
}
#: Free-text POI names must match more closely than structured parts.
_POI_NAME_MIN_SCORE: Final = 85.0
_CONTEXT_BONUS: Final = 5.0
_CHUNK: Final = 2000


_NEAR_DIVISION_DEG: Final = 0.005  # ≈ 500 m


def _near_division(g: Gazetteer, county: str, city: str) -> NDArray[np.bool_]:
    """Entries within about 500 m of the county-level division(s) named ``county`` (core name)."""
    import shapely

    from .admin import load_divisions

    n = len(g._names)
    div = load_divisions()
    if div is None:
        return np.zeros(n, dtype=bool)
    pick = np.array([_region_core(str(c)) == county for c in div.county], dtype=bool)
    if city:
        in_city = np.array([_region_core(str(c)) == city for c in div.city], dtype=bool)
        pick = pick & in_city if (pick & in_city).any() else pick
    if not pick.any():
        return np.zeros(n, dtype=bool)
    area = shapely.union_all(div.geoms[pick]).buffer(_NEAR_DIVISION_DEG)
    lon, lat = g._entries["lon"].to_numpy(), g._entries["lat"].to_numpy()
    return np.asarray(shapely.contains_xy(area, lon, lat), dtype=bool)


@lru_cache(maxsize=1)
def _division_cores() -> frozenset[str]:
    """Cores of every county-level division name in the boundary data (余江区 → 余江)."""
    from .admin import load_divisions

    div = load_divisions()
    return frozenset(_region_core(str(n)) for n in div.county) if div is not None else frozenset()


@dataclass(frozen=True)
class _Query:
    parsed: ParsedAddress
    from_default: bool  # region parts come from settings.default_region
    prov: str
    city: str
    county: str
    township: str  # canonical
    poi: str = ""  # the remainder without its building/unit/room detail (3栋2单元501室)
    alt_road: str = ""  # a road written without 路/街/巷 before a house number (估衣廊82号)
    alt_number: str = ""


#: Building, unit, room and "nearby" detail at the end of an address: never a place to match.
_BUILDING_TAIL_RE: Final = re.compile(
    r"(?:[0-9A-Za-z一二三四五六七八九十百零〇两甲乙丙丁-]+"
    r"(?:号楼|栋|幢|座|单元|室|层|楼|户|门|号院|号)"
    r"|[0-9]+[A-Za-z]?|[A-Za-z][0-9]+|-|附近|旁边|对面|楼上|楼下)+$"
)
_ALT_ROAD_RE: Final = re.compile(rf"^([{_CJK}0-9A-Za-z-]{{2,12}}?)([附甲乙丙]?[0-9]+(?:[-之][0-9]+)?[号號])")


def _strip_building(text: str) -> str:
    """花园小区3栋2单元501室 → 花园小区; 估衣廊82号附近 → 估衣廊82号 is left to the road rule."""
    for i in range(1, len(text)):
        if _BUILDING_TAIL_RE.fullmatch(text, i):
            return text[:i]
    return text


@dataclass(frozen=True)
class _Match:
    row: int  # gazetteer row, -1 when unmatched
    precision: str
    score: float


def _make_query(text: str, default: ParsedAddress | None) -> _Query:
    parsed = parse_address(text)
    from_default = False
    if default is not None and not parsed.has_region and default.has_region:
        parsed = ParsedAddress(
            province=default.province,
            city=default.city,
            county=default.county,
            township=parsed.township,
            community=parsed.community,
            road=parsed.road,
            number=parsed.number,
            poi=parsed.poi,
            raw=parsed.raw,
        )
        from_default = True
    alt_road = alt_number = ""
    m = _ALT_ROAD_RE.match(parsed.community + parsed.road + parsed.number + parsed.poi)
    if m and not m.group(1).isdigit() and m.group(1) != parsed.road:
        alt_road, alt_number = m.group(1), m.group(2)  # 估衣廊82号; 新街口转盘11号 (not 新街)
    return _Query(
        parsed=parsed,
        from_default=from_default,
        prov=_region_core(parsed.province),
        city=_region_core(parsed.city),
        county=_region_core(parsed.county),
        township=_canon_township(parsed.township),
        poi=_strip_building(parsed.poi),
        alt_road=alt_road,
        alt_number=alt_number,
    )


_Cands = tuple[NDArray[np.intp], NDArray[np.float32]]  # (positions within a level, scores)
_NO_CANDS: Final[_Cands] = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32))
_MAX_CELLS: Final = 20_000_000  # score-matrix cells per rapidfuzz call (80 MB of float32)


def _fuzzy(queries: list[str], choices: list[str], cutoff: float) -> dict[str, _Cands]:
    """Score each distinct query against all choices with rapidfuzz's ratio.

    Only the scores at or above ``cutoff`` are kept, as sparse (positions, scores) pairs,
    so memory stays proportional to the plausible candidates.
    """
    out: dict[str, _Cands] = {}
    distinct = sorted({q for q in queries if q})
    if not choices:
        return dict.fromkeys(distinct, _NO_CANDS)
    chunk_rows = max(1, _MAX_CELLS // len(choices))
    for start in range(0, len(distinct), chunk_rows):
        chunk = distinct[start : start + chunk_rows]
        scores = process.cdist(
            chunk, choices, scorer=fuzz.ratio, dtype=np.float32, score_cutoff=cutoff, workers=-1
        )
        for query, row in zip(chunk, scores, strict=True):
            pos = np.flatnonzero(row)
            out[query] = (pos, row[pos])
    return out


def _merge(*cands: _Cands) -> _Cands:
    """Union of candidate sets, keeping each position's best score."""
    pos = np.concatenate([c[0] for c in cands])
    if len(pos) == 0:
        return _NO_CANDS
    score = np.concatenate([c[1] for c in cands])
    order = np.lexsort((-score, pos))
    pos, score = pos[order], score[order]
    first = np.ones(len(pos), dtype=bool)
    first[1:] = pos[1:] != pos[:-1]
    return pos[first], score[first]


def _exact(index: dict[str, NDArray[np.intp]], *names: str) -> _Cands:
    """Candidates whose match name equals one of ``names`` (score 100)."""
    pos = [index[n] for n in dict.fromkeys(names) if n in index]
    if not pos:
        return _NO_CANDS
    found = np.unique(np.concatenate(pos))
    return found, np.full(len(found), 100.0, dtype=np.float32)


def _poi_texts(q: _Query) -> list[str]:
    """Texts matched against POI names: the remainder (without building detail), else the local part.

    The local part (东门街道办事处) is left out when it is only a road and number (上海路 is the
    road, not the metro station of that name) or only the community written (荷坳村 is the
    village, not the 荷坳 metro station).
    """
    p = q.parsed
    local = _strip_building(p.local)
    skip = {p.road, p.road + p.number, p.community}
    out = [t for t in dict.fromkeys((q.poi, local, p.poi, p.local)) if len(t) >= 2 and t not in skip]
    return out


class _Matcher:
    """Scores the distinct addresses of one :func:`geocode` call against a gazetteer."""

    def __init__(self, gaz: Gazetteer, queries: list[_Query], min_score: float) -> None:
        self.gaz = gaz
        self.queries = queries
        self.min_score = min_score
        cutoff = max(0.0, min_score - 2 * _CONTEXT_BONUS)
        p = [q.parsed for q in queries]
        texts = [t for q in queries for t in _poi_texts(q)] + [q.parsed.local for q in queries]
        self.poi_scores = _fuzzy(texts, gaz._raw_names["poi"], cutoff)
        self.poi_core_scores = _fuzzy(texts, gaz._poi_core, cutoff)
        self.street_scores = _fuzzy([x.road for x in p] + [q.alt_road for q in queries],
                                    gaz._match_names["street"], cutoff)
        self.community_scores = _fuzzy(
            [_canon_community(x.community) for x in p], gaz._match_names["community"], cutoff
        )
        self.township_scores = _fuzzy([q.township for q in queries], gaz._match_names["township"], cutoff)
        self._region_cache: dict[tuple[str, str, str], tuple[NDArray[np.bool_], NDArray[np.bool_]]] = {}

    # -- region check ---------------------------------------------------------------------

    def region(self, q: _Query) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Return the (allowed, confirmed) masks over all entries for the region written in ``q``."""
        key = (q.prov, q.city, q.county)
        hit = self._region_cache.get(key)
        if hit is not None:
            return hit
        g = self.gaz
        n = len(g._names)
        allowed = np.ones(n, dtype=bool)
        confirmed = np.zeros(n, dtype=bool)
        if q.prov:
            allowed &= (g._prov_core == "") | (g._prov_core == q.prov)
        tokens = [t for t in (q.city, q.county) if t]
        if tokens:
            known = (g._city_core != "") | (g._county_core != "")
            hits = np.zeros(n, dtype=bool)
            for t in tokens:
                hits |= (g._city_core == t) | (g._county_core == t)
            allowed &= ~known | hits
            confirmed = hits.copy()
            if q.county and (q.county in g._known_county or q.county in _division_cores()):
                # a real county written: must agree — or lie within 500 m of its boundary (a road
                # along a district line, 太平北路 in 玄武区 written as 秦淮区)
                near = _near_division(g, q.county, q.city)
                allowed &= (g._county_core == "") | (g._county_core == q.county) | near
        self._region_cache[key] = (allowed, confirmed)
        return allowed, confirmed

    # -- one level ------------------------------------------------------------------------

    def pick(self, q: _Query, level: str, cands: _Cands, threshold: float) -> tuple[int, float]:
        """Return the best row of ``level`` for ``q`` among ``cands``.

        ``(-1, best score)`` when the best is below ``threshold``; ``(-1, 0.0)`` when there
        is no allowed candidate or the best ones are far apart (ambiguous).
        """
        g = self.gaz
        cand, sims = cands
        if len(cand) == 0:
            return -1, 0.0
        rows = g._level_rows[level][cand]
        allowed, confirmed = self.region(q)
        ok = allowed[rows]
        if not ok.any():
            return -1, 0.0
        rows, score = rows[ok], sims[ok].astype(np.float64)
        if not q.from_default:
            score = score + _CONTEXT_BONUS * confirmed[rows]
        if q.township and level in ("poi", "street", "community"):
            ent = g._township[rows]
            known = ent != ""
            score = (
                score
                + _CONTEXT_BONUS * (known & (ent == q.township))
                - _CONTEXT_BONUS * (known & (ent != q.township))
            )
        score = np.clip(score, 0.0, 100.0)
        best = float(score.max())
        if best < threshold:
            return -1, best
        tied = rows[score >= best - 1e-9]
        if len(tied) > 1:
            spread = np.linalg.norm(g._xyz[tied] - g._xyz[tied[0]], axis=1).max()
            if spread > _AMBIGUOUS_M[level]:
                logger.debug(
                    "%r: %d equally good %s matches %.0f m apart", q.parsed.raw, len(tied), level, spread
                )
                return -1, 0.0  # ambiguous: not a near miss either
        return int(tied[0]), best

    def _core_cands(self, q: _Query, text: str) -> _Cands:
        """POI candidates matched without their region prefix (实验中学 ↔ 贵溪市实验中学).

        The prefix must be one of the regions the address names — unless it names none, so
        南京市人民政府 does not match 玄武区人民政府.
        """
        pos, score = self.poi_core_scores.get(text, _NO_CANDS)
        tokens = {t for t in (q.prov, q.city, q.county) if t}
        if not tokens or len(pos) == 0:
            return pos, score
        prefix = self.gaz._poi_prefix[pos]
        ok = (prefix == "") | np.isin(prefix, list(tokens))
        return pos[ok], score[ok]

    def _house_number(self, q: _Query, road: str, number: str) -> _Match | None:
        """The OSM address ``road`` + ``number`` (``addr:street``/``addr:housenumber``), if known."""
        rows = self.gaz._addr_index.get((road, _digits(number)), [])
        if not rows:
            return None
        pos = np.searchsorted(self.gaz._level_rows["poi"], rows)
        row, score = self.pick(q, "poi", (pos, np.full(len(pos), 100.0, dtype=np.float32)), self.min_score)
        return _Match(row, "poi", score) if row >= 0 else None

    def match(self, q: _Query) -> _Match:
        """Most specific acceptable match of one address."""
        g = self.gaz
        p = q.parsed
        near_miss = 0.0

        # poi: house number on a road, then POI names
        if p.road and p.number:
            found = self._house_number(q, p.road, p.number)
            if found is not None:
                return found
        texts = _poi_texts(q)
        if texts:
            cands = _merge(*(self.poi_scores[t] for t in texts), *(self._core_cands(q, t) for t in texts))
            row, score = self.pick(q, "poi", cands, max(self.min_score, _POI_NAME_MIN_SCORE))
            if row >= 0:
                return _Match(row, "poi", score)
            near_miss = max(near_miss, score)

        if p.road:
            row, score = self.pick(q, "street", self.street_scores[p.road], self.min_score)
            if row >= 0:
                return _Match(row, "street", score)
            near_miss = max(near_miss, score)
        if q.alt_road:  # 估衣廊82号, 大学道63号: a road named without 路/街/巷, then a number
            found = self._house_number(q, q.alt_road, q.alt_number)
            if found is not None:
                return found
            row, score = self.pick(q, "street", self.street_scores[q.alt_road],
                                   max(self.min_score, _POI_NAME_MIN_SCORE))
            if row >= 0:
                return _Match(row, "street", score)
        if p.road and p.number and not q.poi:  # a POI named with its address (植物咖啡馆慈悲路18号)
            text = p.local
            cands = _merge(self.poi_scores.get(text, _NO_CANDS), self._core_cands(q, text))
            row, score = self.pick(q, "poi", cands, max(self.min_score, _POI_NAME_MIN_SCORE))
            if row >= 0:
                return _Match(row, "poi", score)

        if p.community:
            cands = self.community_scores[_canon_community(p.community)]
            row, score = self.pick(q, "community", cands, self.min_score)
            if row >= 0:
                return _Match(row, "community", score)
            near_miss = max(near_miss, score)
        elif p.poi or p.local:  # a bare place name such as 大岩苏家: exact names only
            bare = (q.poi, p.poi, _strip_building(p.local), p.local)
            cands = _exact(g._community_by_name, *(t for t in bare if t))
            row, score = self.pick(q, "community", cands, self.min_score)
            if row >= 0:
                return _Match(row, "community", score)

        if q.township:
            row, score = self.pick(q, "township", self.township_scores[q.township], self.min_score)
            if row >= 0:
                return _Match(row, "township", score)
            near_miss = max(near_miss, score)

        if not q.from_default:  # the default region is context, not evidence of a location
            for token in (q.county, q.city):
                if not token:
                    continue
                row, score = self.pick(q, "county", _exact(g._county_by_core, token), self.min_score)
                if row >= 0:
                    return _Match(row, "county", score)
        return _Match(-1, "unmatched", near_miss)


# ---------------------------------------------------------------------------------------
# Online geocoders (off by default)
# ---------------------------------------------------------------------------------------


@runtime_checkable
class OnlineGeocoder(Protocol):
    """An online geocoding service.

    ``geocode`` returns ``None`` when the service found nothing usable, else a dict with
    ``lon``, ``lat`` (WGS-84), ``precision`` (one of :data:`PRECISIONS`), ``score``
    (0–100) and ``match`` (the service's formatted address).
    """

    name: str

    def geocode(self, address: str) -> dict[str, Any] | None:
        """Geocode one address."""
        ...


_AMAP_LEVELS: Final[dict[str, str]] = {
    "门牌号": "poi", "单元号": "poi", "楼栋": "poi", "兴趣点": "poi", "公交站台、地铁站": "poi",
    "公交站台": "poi", "地铁站": "poi", "道路": "street", "道路交叉路口": "street", "村庄": "community",
    "热点商圈": "community", "乡镇": "township", "区县": "county", "开发区": "county",
}  # fmt: skip
_TIANDITU_LEVELS: Final[dict[str, str]] = {
    "门址": "poi", "门牌号": "poi", "兴趣点": "poi", "POI": "poi", "道路": "street", "村庄": "community",
    "乡镇": "township", "区县": "county",
}  # fmt: skip
_AMAP_BAD_KEY: Final = frozenset({"10001", "10002", "10003", "10004", "10005", "10009", "10044"})


class _HttpGeocoder:
    name = "online"
    score = 90.0  # services that report no score get this one

    def __init__(self, key: str, *, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        if not key:
            raise GeocodeError(f"{type(self).__name__} needs an API key")
        self._key = key
        self._timeout_s = timeout_s
        self._client = client

    def build_request(self, address: str) -> httpx.Request:  # pragma: no cover - overridden
        raise NotImplementedError

    def parse_response(self, payload: dict[str, Any]) -> dict[str, Any] | None:  # pragma: no cover
        raise NotImplementedError

    def geocode(self, address: str) -> dict[str, Any] | None:
        """Query the service for one address (``None`` when nothing usable was found).

        Raises
        ------
        GeocodeError
            When the service rejects the key or quota, so a batch stops at once.
        """
        request = self.build_request(address)
        try:
            if self._client is not None:
                response = self._client.send(request)
            else:
                with httpx.Client(timeout=self._timeout_s) as client:
                    response = client.send(request)
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("%s geocoder failed for %r: %s", self.name, address, exc)
            return None
        return self.parse_response(payload)


class AmapGeocoder(_HttpGeocoder):
    """高德 (AMap) REST geocoding API v3; answers are GCJ-02 and converted to WGS-84.

    Parameters
    ----------
    key
        The Web-service key.
    city
        Optional city restriction (name or adcode; not a county-level city).
    timeout_s
        HTTP timeout, seconds.
    client
        An ``httpx.Client`` to reuse (tests pass a mock transport).
    """

    name = "amap"
    url = "https://restapi.amap.com/v3/geocode/geo"

    def __init__(
        self,
        key: str,
        *,
        city: str | None = None,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(key, timeout_s=timeout_s, client=client)
        self._city = city

    def build_request(self, address: str) -> httpx.Request:
        """Return the GET request for ``address`` (not sent)."""
        params = {"key": self._key, "address": address, "output": "JSON"}
        if self._city:
            params["city"] = self._city
        return httpx.Request("GET", self.url, params=params)

    def parse_response(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Turn an API answer into a result dict (WGS-84), or ``None``."""
        if str(payload.get("status")) != "1":
            code = str(payload.get("infocode", ""))
            if code in _AMAP_BAD_KEY:
                raise GeocodeError(f"高德 geocoder refused the key: {payload.get('info', code)}")
            logger.warning("高德 geocoder error %s: %s", code, payload.get("info"))
            return None
        geocodes = payload.get("geocodes") or []
        if not geocodes:
            return None
        first = geocodes[0]
        precision = _AMAP_LEVELS.get(str(first.get("level", "")))
        try:
            gx, gy = (float(v) for v in str(first.get("location", "")).split(","))
        except ValueError:
            return None
        if precision is None:
            return None
        x, y = _gcj02_to_wgs84(gx, gy)
        return {
            "lon": float(x),
            "lat": float(y),
            "precision": precision,
            "score": self.score,
            "match": str(first.get("formatted_address", "")),
        }


class TiandituGeocoder(_HttpGeocoder):
    """天地图 geocoder (CGCS2000, used as WGS-84 — they differ by centimetres).

    Parameters
    ----------
    key
        The server key (``tk``).
    timeout_s
        HTTP timeout, seconds.
    client
        An ``httpx.Client`` to reuse.
    """

    name = "tianditu"
    url = "https://api.tianditu.gov.cn/geocoder"

    def build_request(self, address: str) -> httpx.Request:
        """Return the GET request for ``address`` (not sent)."""
        ds = json.dumps({"keyWord": address}, ensure_ascii=False)
        return httpx.Request("GET", self.url, params={"ds": ds, "tk": self._key})

    def parse_response(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Turn an API answer into a result dict, or ``None``."""
        if str(payload.get("status")) != "0":
            message = str(payload.get("msg", ""))
            if "key" in message.lower() or "权限" in message:
                raise GeocodeError(f"天地图 geocoder refused the key: {message}")
            logger.warning("天地图 geocoder error: %s", message)
            return None
        loc = payload.get("location") or {}
        precision = _TIANDITU_LEVELS.get(str(loc.get("level", "")))
        try:
            x, y = float(loc["lon"]), float(loc["lat"])
        except (KeyError, TypeError, ValueError):
            return None
        if precision is None:
            return None
        score = loc.get("score")
        return {
            "lon": x,
            "lat": y,
            "precision": precision,
            "score": float(score) if score is not None else self.score,
            "match": str(loc.get("keyWord", "")),
        }


def online_geocoder_from_settings(settings: GeocodeSettings) -> OnlineGeocoder | None:
    """Build the online geocoder the settings ask for.

    Parameters
    ----------
    settings
        ``online_provider`` (``None``, ``amap`` or ``tianditu``) and ``online_key_env``.

    Returns
    -------
    OnlineGeocoder or None
        ``None`` when no provider is set (the default: offline only).

    Raises
    ------
    GeocodeError
        If a provider is set but the key environment variable is empty.
    """
    provider = settings.online_provider
    if provider is None:
        return None
    key = os.environ.get(settings.online_key_env, "").strip()
    if not key:
        raise GeocodeError(
            f"online geocoder '{provider}' is configured but the environment variable "
            f"{settings.online_key_env} holding its key is empty"
        )
    if provider == "amap":
        region = parse_address(settings.default_region or "")
        return AmapGeocoder(key, city=region.city if region.city and not region.county else None)
    return TiandituGeocoder(key)


class GeocodeCache:
    """SQLite cache of geocoding answers keyed on (provider, normalised address).

    Negative answers (``None``) are cached too, so an address the service cannot place is
    not asked again.

    Parameters
    ----------
    path
        The database file (created with its folder if missing).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS geocode_cache ("
                " provider TEXT NOT NULL, address TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL,"
                " PRIMARY KEY (provider, address))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30.0)

    def lookup(self, provider: str, address: str) -> tuple[bool, dict[str, Any] | None]:
        """Return ``(found, result)``; ``result`` may be ``None`` for a cached miss."""
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT result FROM geocode_cache WHERE provider = ? AND address = ?",
                (provider, normalise_address(address)),
            ).fetchone()
        if row is None:
            return False, None
        return True, json.loads(row[0])

    def get(self, provider: str, address: str) -> dict[str, Any] | None:
        """Return the cached result (``None`` when absent or a cached miss)."""
        return self.lookup(provider, address)[1]

    def put(self, provider: str, address: str, result: dict[str, Any] | None) -> None:
        """Store a result (or a miss) for ``address``."""
        with closing(self._connect()) as con, con:
            con.execute(
                "INSERT OR REPLACE INTO geocode_cache (provider, address, result, created)"
                " VALUES (?, ?, ?, ?)",
                (provider, normalise_address(address), json.dumps(result, ensure_ascii=False), time.time()),
            )

    def __len__(self) -> int:
        with closing(self._connect()) as con:
            return int(con.execute("SELECT COUNT(*) FROM geocode_cache").fetchone()[0])


# ---------------------------------------------------------------------------------------
# geocode()
# ---------------------------------------------------------------------------------------

_OUTPUT_COLUMNS: Final = (
    "lon", "lat", "geocode_precision", "geocode_score", "geocode_match",
    "geocode_township", "geocode_community",
)  # fmt: skip


#: ``network_status`` of a member placed too coarsely for travel times.
IMPRECISE_STATUS: Final = "imprecise_location"


def precise_for_times(precision: ArrayLike, min_precision: str = "community") -> NDArray[np.bool_]:
    """Whether each member's location is precise enough for travel times.

    Parameters
    ----------
    precision
        ``geocode_precision`` values: ``coordinates`` (given in the table: always precise
        enough), one of :data:`PRECISIONS`, or "" / NaN (treated as ``coordinates`` when the
        row has coordinates — the caller masks unlocated rows separately).
    min_precision
        The coarsest level that still gets times (``poi`` < ``street`` < ``community`` <
        ``township`` < ``county``).

    Returns
    -------
    numpy.ndarray of bool
        False for rows geocoded more coarsely than ``min_precision`` (and for ``unmatched``).

    Raises
    ------
    ValueError
        For an unknown ``min_precision``.
    """
    if min_precision not in _RANK or min_precision == "unmatched":
        raise ValueError(f"min_precision_for_times must be one of {', '.join(PRECISIONS[:-1])}, not {min_precision!r}")
    values = pd.Series(np.asarray(precision, dtype=object).ravel()).fillna("").astype(str)
    rank = values.map(_RANK).fillna(-1).to_numpy()  # coordinates / "" → -1 (finer than poi)
    return rank <= _RANK[min_precision]


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return value is pd.NA or value is pd.NaT


def geocode(
    addresses: Sequence[str | None],
    gazetteer: Gazetteer,
    settings: GeocodeSettings | None = None,
    *,
    cache: GeocodeCache | None = None,
    online: OnlineGeocoder | None = None,
) -> pd.DataFrame:
    """Geocode addresses against a gazetteer, most specific level first.

    Each distinct (normalised) address is parsed and matched once: a house number on a
    road or a POI name (poi), a road (street), a 社区/村 (community), a 街道/镇/乡
    (township), a written county-level division (county). Names are compared with
    rapidfuzz's ratio (0–100) on canonical forms (居委会 ≡ 社区, 街道办事处 ≡ 街道); a
    社区 never matches a 村 of the same name. Candidates outside the province / city /
    county written in the address (or ``settings.default_region`` when it has none) are
    excluded; agreement with that region and with the written township adds 5 points
    each, a different township takes 5 off; ties between far-apart places make the level
    ambiguous and the next coarser one is tried. Free-text POI names need at least 85.
    A score below ``settings.min_score`` leaves the address unmatched.

    If ``online`` is given, addresses left unmatched or coarser than "street" are sent to
    it (answers cached in ``cache`` under the service's name) and its answer is used when
    more precise.

    Parameters
    ----------
    addresses
        One address per member (None/NaN/blank allowed).
    gazetteer
        From :meth:`Gazetteer.from_osm`.
    settings
        ``min_score`` and ``default_region``; defaults when ``None``.
    cache
        Cache for online answers.
    online
        An online geocoder (see :func:`online_geocoder_from_settings`); none by default.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``addresses`` (RangeIndex) with columns ``lon``, ``lat`` (WGS-84, NaN
        when unmatched), ``geocode_precision`` (poi/street/community/township/county/
        unmatched), ``geocode_score`` (0–100; for unmatched rows the best score seen below
        the threshold, 0 if none), ``geocode_match`` (matched name, "" if none),
        ``geocode_township`` and ``geocode_community`` (as written in the address, else
        the matched place's context, else "").

    Raises
    ------
    GeocodeError
        If the online geocoder rejects its key.
    """
    settings = settings or GeocodeSettings()
    texts: list[str] = []
    for value in addresses:
        texts.append("" if _is_missing(value) else normalise_address(str(value)))
    distinct = sorted({t for t in texts if t})
    default = parse_address(settings.default_region) if settings.default_region else None
    queries = [_make_query(t, default) for t in distinct]
    matcher = _Matcher(gazetteer, queries, settings.min_score)
    e = gazetteer.entries
    lon_all, lat_all = e["lon"].to_numpy(), e["lat"].to_numpy()
    names = e["name"].to_numpy(dtype=object)
    ent_township = e["township"].to_numpy(dtype=object)
    ent_community = e["community"].to_numpy(dtype=object)

    results: dict[str, tuple[float, float, str, float, str, str, str]] = {}
    online_calls = 0
    for text, q in zip(distinct, queries, strict=True):
        m = matcher.match(q)
        p = q.parsed
        township = q.township or (ent_township[m.row] if m.row >= 0 else "")
        community = _canon_community(p.community) if p.community else ""
        if m.row >= 0:
            if m.precision == "community":
                community = names[m.row]
            elif m.precision == "township":
                township = _canon_township(names[m.row])
            if not community and m.precision in ("poi", "street"):
                community = ent_community[m.row]
            row = (
                lon_all[m.row],
                lat_all[m.row],
                m.precision,
                round(m.score, 1),
                names[m.row],
                township,
                community,
            )
        else:
            row = (math.nan, math.nan, "unmatched", round(m.score, 1), "", township, community)
        if online is not None and _RANK[row[2]] > _RANK["street"]:
            full = (
                text
                if p.has_region or not settings.default_region
                else normalise_address(settings.default_region + text)
            )
            answer, called = _online_lookup(online, full, cache)
            online_calls += called
            if answer is not None and _RANK.get(str(answer.get("precision")), 99) < _RANK[row[2]]:
                label = f"{online.name}:{answer.get('match', '')}"
                row = (
                    float(answer["lon"]), float(answer["lat"]), str(answer["precision"]),
                    float(answer.get("score", 90.0)), label, township, community,
                )  # fmt: skip
        results[text] = row

    empty = (math.nan, math.nan, "unmatched", 0.0, "", "", "")
    rows = [results.get(t, empty) if t else empty for t in texts]
    out = pd.DataFrame.from_records(rows, columns=list(_OUTPUT_COLUMNS))
    out["lon"] = out["lon"].astype(np.float64)
    out["lat"] = out["lat"].astype(np.float64)
    out["geocode_score"] = out["geocode_score"].astype(np.float64)
    for col in ("geocode_precision", "geocode_match", "geocode_township", "geocode_community"):
        out[col] = out[col].astype(object)
    counts = out["geocode_precision"].value_counts().to_dict()
    logger.info(
        "geocoded %d addresses (%d distinct%s): %s",
        len(texts),
        len(distinct),
        f", {online_calls} online requests" if online is not None else "",
        counts,
    )
    return out


def _online_lookup(
    online: OnlineGeocoder, address: str, cache: GeocodeCache | None
) -> tuple[dict[str, Any] | None, int]:
    provider = getattr(online, "name", type(online).__name__)
    if cache is not None:
        found, result = cache.lookup(provider, address)
        if found:
            return result, 0
    result = online.geocode(address)
    if cache is not None:
        cache.put(provider, address, result)
    return result, 1
