"""Chinese address text: normalisation, splitting into administrative parts, canonical names.

:func:`parse_address` splits 「江西省贵溪市雄石街道花园社区三栋」 into province, city, county,
township, community, road, house number and the remainder; the ``_canon_*`` and
:func:`_region_core` helpers give the forms names are matched on (居委会 ≡ 社区,
街道办事处 ≡ 街道, 余江区 ≡ 余江).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

_CJK: Final = "\u4e00-\u9fff"
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
                # 冶金大道东侧花园新村: a road comes first (but 东街社区(居委会), 中山路社区 stay whole)
                token = ""
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


@lru_cache(maxsize=1)
def _division_cores() -> frozenset[str]:
    """Cores of every county-level division name in the boundary data (余江区 → 余江)."""
    from ..admin import load_divisions

    div = load_divisions()
    return frozenset(_region_core(str(n)) for n in div.county) if div is not None else frozenset()
