"""Seeded generator of the embedded demo scenario on the real 贵溪 and 南京 OSM extracts.

Everything about people, branches, stations and the 贵溪 hospitals is **synthetic** (marked
so in every file); the roads, communities, villages, townhalls, schools and the 南京
hospitals are real OpenStreetMap features (© OpenStreetMap contributors, ODbL).

The generator plants known answers that the tests check (``planted.json``):

* ``at_meeting_place``: a member living at her branch's meeting place (walk ≈ 0 min);
* ``gcj02_members``: members given in 高德 GCJ-02 / 百度 BD-09 with their true WGS-84 homes;
* ``address_only``: members with only an address, each with the place it must geocode to;
* ``joint_branch``: members of four small units far from their branches, living together
  around 城北社区/北街社区 — one joint branch;
* ``remote_cluster``: members living in 南京 — one remote branch (异地支部);
* ``uncovered``: the dense street grid east of 花园社区 with no station within 15 minutes —
  MCLP must site a new station there;
* ``bad_rows``: rows that must be rejected (or fixed with a warning) on import;
* ``township_example``: the branch with 70 members of whom only 15 live in its township.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_write
from .crs import wgs84_to_bd09, wgs84_to_gcj02
from .network import build_network
from .osm import read_elements, way_coords
from .roadpoints import RoadPointSampler

log = logging.getLogger(__name__)

GUIXI = "guixi_jiangxi.osm"
NANJING = "nanjing_xuanwu.osm"
SYNTHETIC = "合成数据(synthetic)"
#: Latitude of the demo town (贵溪), degrees: where the demo compares small offsets in ground units.
DEMO_LAT = 28.3

_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方邹熊")
_GIVEN = list("国建明华文军平志红春秀英兰玉芳云德福永海林金荣桂珍凤霞丽生成光新清远和俊强伟敏静洪梅松柏")

# branch id, name, meeting place (OSM name of the place node it meets at), size, share living near
_BRANCHES: list[tuple[str, str, str, int, float]] = [
    ("B01", "贵溪市委机关离退休第一党支部", "贵溪市人民政府", 60, 0.7),
    ("B02", "贵溪市教育局退休党支部", "贵溪市实验中学", 80, 0.6),
    ("B03", "花园街道机关退休党支部", "花园社区", 50, 0.8),
    ("B04", "雄石街道退休干部党支部", "雄石社区", 70, 0.7),
    ("B05", "东门街道退休干部党支部", "东门街道办事处", 60, 0.7),
    ("B06", "滨江镇退休干部党支部", "贵溪市滨江镇人民政府", 70, 0.0),
    ("B07", "贵溪市供电公司退休党支部", "发电厂社区", 60, 0.6),
    ("B08", "贵溪冶炼厂退休党支部", "炼厂社区", 90, 0.7),
    ("B09", "贵溪化肥厂退休党支部", "化肥厂社区", 50, 0.7),
    ("B10", "贵溪市卫健委退休党支部", "白果社区", 50, 0.6),
    ("B11", "贵溪市档案馆退休党支部", "贵溪市人民政府", 6, 1.0),
    ("B12", "贵溪市地方志办退休党支部", "花园社区", 5, 1.0),
    ("B13", "贵溪市气象局退休党支部", "炼厂社区", 5, 1.0),
    ("B14", "贵溪市文联退休党支部", "四建社区", 5, 1.0),
]
# planted joint-branch members per small unit (they live around 城北社区, far from their branch)
_JOINT = {"B11": 3, "B12": 2, "B13": 2, "B14": 2}
_STATIONS = [
    ("S01", "花园社区桑榆红驿站", "桑榆红驿站", "花园社区", 60),
    ("S02", "雄石社区老党员之家", "老党员之家", "雄石社区", 40),
    ("S03", "北街社区枫叶驿站", "枫叶驿站", "北街社区", 40),
    ("S04", "贵溪市老干部活动中心", "老干部活动中心", "贵溪市人民政府", 150),
    ("S05", "贵溪市老年大学", "老年大学", "白果社区", 200),
    ("S06", "江边社区红色驿站", "红色驿站", "江边社区", 40),
    ("S07", "炼厂社区老党员之家", "老党员之家", "炼厂社区", 60),
]
# synthetic hospitals in 贵溪 (lon, lat WGS-84), published to the planner in 高德 GCJ-02
_GUIXI_HOSPITALS = [
    ("H01", "贵溪市人民医院", "二级甲等", 117.2228, 28.2921),
    ("H02", "贵溪市中医院", "二级甲等", 117.2068, 28.2905),
    ("H03", "贵溪冶炼厂职工医院", "二级乙等", 117.2372, 28.3158),
]
_REMOTE_NANJING = 8
_SHENZHEN = [("广东省深圳市龙岗区龙城街道", 114.2101, 22.6903), ("广东省深圳市龙岗区龙城街道", 114.2155, 22.6921)]
_UNCOVERED_N = 35
_UNCOVERED_CENTRE = (117.2487, 28.2858)
# planted bad rows: rejected (or fixed with a warning) on import
_BAD_ROWS: list[dict[str, str]] = [
    {"编号": "M0001", "姓名": "重复编号", "所在党支部": "B01", "经度": "117.2300", "纬度": "28.2950",
     "坐标系": "WGS-84", "备注": SYNTHETIC},
    {"编号": "M9001", "姓名": "未知支部", "所在党支部": "贵溪市不存在党支部", "经度": "117.2300",
     "纬度": "28.2950", "坐标系": "WGS-84", "备注": SYNTHETIC},
    {"编号": "M9002", "姓名": "坐标错误", "所在党支部": "B02", "经度": "abc", "纬度": "28.2950",
     "坐标系": "WGS-84", "备注": SYNTHETIC},
    {"编号": "M9003", "姓名": "经纬颠倒", "所在党支部": "B02", "经度": "28.2950", "纬度": "117.2300",
     "坐标系": "WGS-84", "备注": SYNTHETIC},
    {"编号": "M9004", "姓名": "无地址", "所在党支部": "B03", "备注": SYNTHETIC},
]


@dataclass(frozen=True)
class Place:
    """A named OSM node: community, village, township, townhall, school, hospital."""

    name: str
    kind: str
    lon: float
    lat: float


def read_places(osm: Path) -> dict[str, Place]:
    """Named place/amenity nodes (and hospital ways, at their node centroid) of an extract."""
    coords, _, tagged = read_elements(osm)
    places: dict[str, Place] = {}
    for el in tagged:
        name = el.tags.get("name")
        if not name or name in places:
            continue
        kind = el.tags.get("place") or el.tags.get("amenity")
        if el.kind == "node" and kind:
            places[name] = Place(name, kind, el.lon, el.lat)
        elif el.kind == "way" and el.tags.get("amenity") == "hospital":
            pts = way_coords(el.refs, coords)
            if len(pts):
                places[name] = Place(name, "hospital", float(pts[:, 0].mean()), float(pts[:, 1].mean()))
    return places


def _names(rng: np.random.Generator, n: int) -> list[str]:
    s = rng.choice(_SURNAMES, n)
    g1 = rng.choice(_GIVEN, n)
    g2 = rng.choice(_GIVEN + [""] * 12, n)
    return [a + b + c for a, b, c in zip(s, g1, g2, strict=True)]


def _nearest(
    name_to_place: dict[str, Place], kinds: set[str], lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    cand = [p for p in name_to_place.values() if p.kind in kinds]
    clon = np.array([p.lon for p in cand])
    clat = np.array([p.lat for p in cand])
    k = np.cos(np.radians(DEMO_LAT))  # degrees of longitude shrink with latitude: compare in ground units
    d = ((lon[:, None] - clon[None, :]) * k) ** 2 + (lat[:, None] - clat[None, :]) ** 2
    return np.array([cand[i].name for i in d.argmin(axis=1)], dtype=object)


class _Draft:
    """Members drawn so far (one dict per member) and the planted answers, in the order drawn."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.planted: dict[str, object] = {}

    def add(self, branch: str, lon: np.ndarray, lat: np.ndarray, tag: str = "") -> list[str]:
        """Add members of ``branch`` living at ``lon``/``lat``; return their ids (``M0001``…)."""
        ids = []
        for lo, la in zip(lon, lat, strict=True):
            mid = f"M{len(self.rows) + 1:04d}"
            self.rows.append({"id": mid, "branch": branch, "lon": float(lo), "lat": float(la), "tag": tag})
            ids.append(mid)
        return ids


def generate_demo(
    out_dir: Path | str, osm_dir: Path | str, *, seed: int = 20261125, cache_dir: Path | None = None
) -> Path:
    """Write the demo scenario (tables, ``scenario.toml``, ``planted.json``) to ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write into (created).
    osm_dir
        Folder holding ``guixi_jiangxi.osm`` and ``nanjing_xuanwu.osm``.
    seed
        Random seed; the same seed gives the same tables.
    cache_dir
        Network cache folder.

    Returns
    -------
    Path
        The written ``scenario.toml``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    osm_dir = Path(osm_dir)
    rng = np.random.default_rng(seed)  # every draw below, in this order, makes the demo
    gx = read_places(osm_dir / GUIXI)
    nj = read_places(osm_dir / NANJING)
    homes = RoadPointSampler(build_network([osm_dir / GUIXI], "walk", cache_dir=cache_dir), 0, rng)
    communities = [p for p in gx.values() if p.kind in ("quarter", "village")]
    draft = _Draft()
    _branch_members(draft, homes, gx, communities, rng)
    _planted_groups(draft, homes, gx)
    df = _admin_units(pd.DataFrame(draft.rows), gx)
    nj_homes = RoadPointSampler(build_network([osm_dir / NANJING], "walk", cache_dir=cache_dir), 0, rng)
    df = _remote_members(draft, df, nj_homes, rng)
    building = _personal_fields(df, rng)
    crs, true_lon, true_lat = _coordinate_systems(df, rng)
    _address_only(df, crs, building, communities, draft.planted)
    sample = df.index[(crs == "高德") | (crs == "百度")][:40]
    draft.planted["gcj02_members"] = {
        df.loc[i, "id"]: {"crs": str(crs[i]), "lon": float(true_lon[i]), "lat": float(true_lat[i])}
        for i in sample
    }
    members = _members_table(df, rng, draft.planted)
    branches = _branches_table(gx)
    stations = _stations_table(gx, rng)
    hospitals = _hospitals_table(nj, draft.planted)

    atomic_write(out / "members.csv", lambda p: members.to_csv(p, index=False, encoding="gb18030"))
    atomic_write(out / "branches.csv", lambda p: branches.to_csv(p, index=False, encoding="utf-8-sig"))
    atomic_write(out / "stations.xlsx", lambda p: stations.to_excel(p, index=False, sheet_name="驿站"))
    atomic_write(out / "hospitals.csv", lambda p: hospitals.to_csv(p, index=False, encoding="utf-8"))
    scenario = _scenario_toml(seed)
    atomic_write(out / "scenario.toml", lambda p: p.write_text(scenario, encoding="utf-8"))
    planted_json = json.dumps(draft.planted, ensure_ascii=False, indent=1, default=float)
    atomic_write(out / "planted.json", lambda p: p.write_text(planted_json, encoding="utf-8"))
    log.info("demo written to %s: %d members", out, len(members))
    return out / "scenario.toml"


def _branch_members(
    draft: _Draft,
    homes: RoadPointSampler,
    gx: dict[str, Place],
    communities: list[Place],
    rng: np.random.Generator,
) -> None:
    """Each branch's members: a share near its meeting place, the rest in communities across the city."""
    comm_w = np.array([3.0 if p.kind == "quarter" else 1.0 for p in communities])
    comm_w /= comm_w.sum()
    for bid, _bname, meet, size, near_share in _BRANCHES:
        n_planted = _JOINT.get(bid, 0)
        n = size - n_planted
        mp = gx[meet]
        if bid == "B06":
            # 70 members, only 15 live in the meeting place's township (东门街道): the rest
            # live in 花园街道 and far corners of the city.
            lo, la = homes.near(mp.lon, mp.lat, 15, 300)
            draft.add(bid, lo, la)
            rest = [gx["花园社区"], gx["四建社区"], gx["白果社区"], gx["化肥厂社区"], gx["炼厂社区"]]
            for i in range(n - 15):
                p = rest[i % len(rest)]
                lo, la = homes.near(p.lon, p.lat, 1)
                draft.add(bid, lo, la)
            draft.planted["township_example"] = {"branch_id": bid, "members": 70, "in_township": 15}
            continue
        k_near = int(round(n * near_share))
        lo, la = homes.near(mp.lon, mp.lat, k_near, 450)
        draft.add(bid, lo, la)
        for _ in range(n - k_near):
            p = communities[rng.choice(len(communities), p=comm_w)]
            lo, la = homes.near(p.lon, p.lat, 1)
            draft.add(bid, lo, la)
        if bid == "B03":
            draft.planted["at_meeting_place"] = draft.add(
                bid, np.array([mp.lon]), np.array([mp.lat]), "at_meeting"
            )[0]


def _planted_groups(draft: _Draft, homes: RoadPointSampler, gx: dict[str, Place]) -> None:
    """Plant the joint branch (small units' members around 城北社区) and the uncovered neighbourhood."""
    jc = gx["城北社区"]
    joint_ids: list[str] = []
    for bid, k in _JOINT.items():
        lo, la = homes.near(jc.lon, jc.lat, k, 200)
        joint_ids += draft.add(bid, lo, la, "joint")
    draft.planted["joint_branch"] = {"member_ids": joint_ids, "near": "城北社区"}
    # the dense street grid east of 花园社区, > 20 min from every station
    uc = _UNCOVERED_CENTRE
    lo, la = homes.near(uc[0], uc[1], _UNCOVERED_N, 250)
    draft.planted["uncovered"] = {"member_ids": draft.add("B03", lo, la, "uncovered"), "near": "花园社区以东",
                                  "lon": uc[0], "lat": uc[1]}


def _admin_units(df: pd.DataFrame, gx: dict[str, Place]) -> pd.DataFrame:
    """City, township and community of the 贵溪 members: the nearest real OSM place of each kind."""
    df["city"] = "贵溪市"
    df["township"] = _nearest(gx, {"town", "locality"}, df["lon"].to_numpy(), df["lat"].to_numpy())
    df.loc[df["township"] == "贵溪市滨江镇人民政府", "township"] = "东门街道"
    df["community"] = _nearest(gx, {"quarter", "village"}, df["lon"].to_numpy(), df["lat"].to_numpy())
    return df


def _remote_members(
    draft: _Draft, df: pd.DataFrame, nj_homes: RoadPointSampler, rng: np.random.Generator
) -> pd.DataFrame:
    """Remote members: a cluster in 南京 (新街口) and two in 深圳 (outside every extract)."""
    xjk = Place("新街口", "square", 118.7786, 32.0415)  # centre of the 南京 remote cluster
    lo, la = nj_homes.near(xjk.lon, xjk.lat, _REMOTE_NANJING, 500)
    remote_branches = rng.choice(["B01", "B02", "B05", "B07", "B08"], _REMOTE_NANJING)
    remote_ids = []
    for b, x, y in zip(remote_branches, lo, la, strict=True):
        remote_ids += draft.add(str(b), np.array([x]), np.array([y]), "remote")
    sz_ids = []
    for _addr, x, y in _SHENZHEN:
        sz_ids += draft.add("B08", np.array([x]), np.array([y]), "shenzhen")
    df = pd.DataFrame(draft.rows).merge(df[["id", "city", "township", "community"]], on="id", how="left")
    df.loc[df["id"].isin(remote_ids), ["city", "township", "community"]] = ["南京市", "新街口街道", ""]
    df.loc[df["id"].isin(sz_ids), ["city", "township", "community"]] = ["深圳市", "龙城街道", ""]
    draft.planted["remote_cluster"] = {"member_ids": remote_ids, "city": "南京市"}
    draft.planted["off_network"] = {"member_ids": sz_ids, "city": "深圳市"}
    return df


def _personal_fields(df: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Name, 离退休类别, birth month and home address of every member; returns the building numbers."""
    n = len(df)
    df["name"] = _names(rng, n)
    age = rng.integers(60, 96, n)
    lixiu = (age >= 90) & (rng.random(n) < 0.5)
    df["status"] = np.where(lixiu, "离休", "退休")
    birth_year = 2026 - age
    df["birth"] = [f"{y}年{m}月" for y, m in zip(birth_year, rng.integers(1, 13, n), strict=True)]
    building = rng.integers(1, 30, n)
    prov = np.where(df["city"] == "贵溪市", "江西省", np.where(df["city"] == "南京市", "江苏省", "广东省"))
    county = np.where(df["city"] == "南京市", "玄武区", np.where(df["city"] == "深圳市", "龙岗区", ""))
    df["address"] = [
        f"{p}{c}{co}{t}{cm}{b}栋"
        for p, c, co, t, cm, b in zip(
            prov, df["city"], county, df["township"], df["community"], building, strict=True
        )
    ]
    return building


def _coordinate_systems(
    df: pd.DataFrame, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates as planners get them: WGS-84, 高德 GCJ-02, 百度 BD-09, or address only.

    Sets ``crs``, ``lon_out`` and ``lat_out``; returns the CRS names and the true WGS-84 homes.
    """
    n = len(df)
    u = rng.random(n)
    crs = np.where(u < 0.65, "WGS-84", np.where(u < 0.82, "高德", np.where(u < 0.90, "百度", "")))
    crs[df["tag"].isin(["at_meeting", "joint", "uncovered", "remote", "shenzhen"]).to_numpy()] = "WGS-84"
    df["crs"] = crs
    true_lon, true_lat = df["lon"].to_numpy().copy(), df["lat"].to_numpy().copy()
    glon, glat = wgs84_to_gcj02(true_lon, true_lat)
    blon, blat = wgs84_to_bd09(true_lon, true_lat)
    lon_out = np.where(crs == "高德", np.round(glon, 7), np.where(crs == "百度", np.round(blon, 7), true_lon))
    lat_out = np.where(crs == "高德", np.round(glat, 7), np.where(crs == "百度", np.round(blat, 7), true_lat))
    addr_only = crs == ""
    df["lon_out"] = np.where(addr_only, np.nan, lon_out)
    df["lat_out"] = np.where(addr_only, np.nan, lat_out)
    return crs, true_lon, true_lat


def _address_only(
    df: pd.DataFrame,
    crs: np.ndarray,
    building: np.ndarray,
    communities: list[Place],
    planted: dict[str, object],
) -> None:
    """Plant the address-only members: most at their community, six at a street, two at their 街道."""
    addr_only = crs == ""
    # their homes are the community they name (geocoded at community level)
    comm_pts = {p.name: (p.lon, p.lat) for p in communities}
    address_only = {
        r.id: {"community": r.community, "lon": comm_pts[r.community][0], "lat": comm_pts[r.community][1]}
        for r in df[addr_only].itertuples()
    }
    planted["address_only"] = address_only
    # a few give a street address instead (street precision)
    street_rows = df.index[addr_only][:6]
    streets = ["建设路", "雄石路", "复兴路", "永泰路", "站前路", "交通路"]
    for i, s in zip(street_rows, streets, strict=True):
        df.loc[i, "address"] = f"江西省贵溪市{s}{int(building[i]) * 3}号"
        address_only[df.loc[i, "id"]] = {"street": s}
    # two give only their 街道: placed at township precision, shown on the map but given no travel
    # time (min_precision_for_times = community) and left out of the coverage shares
    township_rows = df.index[addr_only][6:8]
    for i in township_rows:
        df.loc[i, "address"] = f"江西省贵溪市{df.loc[i, 'township']}"
        df.loc[i, "community"] = ""  # nothing finer is known of them
        del address_only[df.loc[i, "id"]]
    planted["imprecise"] = {"member_ids": df.loc[township_rows, "id"].tolist(), "precision": "township",
                            "townships": df.loc[township_rows, "township"].tolist()}


def _members_table(df: pd.DataFrame, rng: np.random.Generator, planted: dict[str, object]) -> pd.DataFrame:
    """Build the members table as a planner keeps it (Chinese headers, branch by id or name).

    The planted bad rows come last; their spreadsheet rows go into ``planted["bad_rows"]``.
    """
    members = pd.DataFrame(
        {
            "编号": df["id"],
            "姓名": df["name"],
            "离退休类别": df["status"],
            "出生年月": df["birth"],
            "所在党支部": df["branch"],
            "家庭住址": df["address"],
            "所在街道": df["township"],
            "所在社区": df["community"],
            "经度": df["lon_out"].map(lambda v: "" if np.isnan(v) else f"{v:.7f}"),
            "纬度": df["lat_out"].map(lambda v: "" if np.isnan(v) else f"{v:.7f}"),
            "坐标系": df["crs"],
            "是否党员": "是",
            "备注": SYNTHETIC,
        }
    )
    # branch given by name instead of id for some rows (planners do both)
    bname = {b[0]: b[1] for b in _BRANCHES}
    by_name = rng.random(len(df)) < 0.2
    members.loc[by_name, "所在党支部"] = members.loc[by_name, "所在党支部"].map(bname)
    first_bad_row = len(members) + 2  # spreadsheet row of the first bad row (header is row 1)
    members = pd.concat([members, pd.DataFrame(_BAD_ROWS)], ignore_index=True).fillna("")
    planted["bad_rows"] = {
        "duplicate_id": {"row": first_bad_row, "id": "M0001"},
        "unknown_branch": {"row": first_bad_row + 1, "id": "M9001"},
        "bad_lon": {"row": first_bad_row + 2, "id": "M9002"},
        "swapped": {"row": first_bad_row + 3, "id": "M9003", "lon": 117.23, "lat": 28.295},
        "no_location": {"row": first_bad_row + 4, "id": "M9004"},
    }
    return members


def _branches_table(gx: dict[str, Place]) -> pd.DataFrame:
    """Build the branches table: each meets at a real OSM place."""
    return pd.DataFrame(
        {
            "支部编号": [b[0] for b in _BRANCHES],
            "支部名称": [b[1] for b in _BRANCHES],
            "活动地点": [b[2] for b in _BRANCHES],
            "经度": [f"{gx[b[2]].lon:.7f}" for b in _BRANCHES],
            "纬度": [f"{gx[b[2]].lat:.7f}" for b in _BRANCHES],
            "坐标系": "WGS-84",
            "备注": SYNTHETIC,
        }
    )


def _stations_table(gx: dict[str, Place], rng: np.random.Generator) -> pd.DataFrame:
    """Build the stations table: each within ~30 m of a real community node."""
    st_lon = np.array([gx[s[3]].lon for s in _STATIONS]) + rng.uniform(-0.0003, 0.0003, len(_STATIONS))
    st_lat = np.array([gx[s[3]].lat for s in _STATIONS]) + rng.uniform(-0.0003, 0.0003, len(_STATIONS))
    return pd.DataFrame(
        {
            "驿站编号": [s[0] for s in _STATIONS],
            "名称": [s[1] for s in _STATIONS],
            "类型": [s[2] for s in _STATIONS],
            "地址": [f"江西省贵溪市{s[3]}" for s in _STATIONS],
            "经度": np.round(st_lon, 7),
            "纬度": np.round(st_lat, 7),
            "可容纳人数": [s[4] for s in _STATIONS],
            "备注": SYNTHETIC,
        }
    )


def _hospitals_table(nj: dict[str, Place], planted: dict[str, object]) -> pd.DataFrame:
    """Build the hospitals table: the synthetic 贵溪 ones in 高德 GCJ-02, the real 南京 ones in WGS-84."""
    h_lon = np.array([h[3] for h in _GUIXI_HOSPITALS])
    h_lat = np.array([h[4] for h in _GUIXI_HOSPITALS])
    hg_lon, hg_lat = wgs84_to_gcj02(h_lon, h_lat)
    nj_h = [p for p in nj.values() if p.kind == "hospital"]
    planted["hospitals_true"] = {h[0]: {"lon": h[3], "lat": h[4]} for h in _GUIXI_HOSPITALS}
    return pd.DataFrame(
        {
            "医院编号": [h[0] for h in _GUIXI_HOSPITALS] + [f"H{11 + i:02d}" for i in range(len(nj_h))],
            "医院名称": [h[1] for h in _GUIXI_HOSPITALS] + [p.name for p in nj_h],
            "医院等级": [h[2] for h in _GUIXI_HOSPITALS] + [""] * len(nj_h),
            "经度": [f"{x:.7f}" for x in hg_lon] + [f"{p.lon:.7f}" for p in nj_h],
            "纬度": [f"{x:.7f}" for x in hg_lat] + [f"{p.lat:.7f}" for p in nj_h],
            "坐标系": ["高德"] * len(_GUIXI_HOSPITALS) + ["WGS-84"] * len(nj_h),
            "备注": [SYNTHETIC] * len(_GUIXI_HOSPITALS) + ["OpenStreetMap (ODbL)"] * len(nj_h),
        }
    )


def _scenario_toml(seed: int) -> str:
    """Return the demo's ``scenario.toml``: the tables, both OSM extracts, thresholds and siting options."""
    rel = Path("..") / "osm"
    return f"""# Demo scenario on the real 贵溪 (and 南京) OpenStreetMap extracts. People, branches,
# stations and the 贵溪 hospitals are synthetic; written by `geo-planner demo` (seed {seed}).
name = "贵溪市离退休干部服务覆盖（演示）"
seed = {seed}

[network]
osm = ["{(rel / GUIXI).as_posix()}", "{(rel / NANJING).as_posix()}"]
walk_speed_kmh = 4.0

[inputs]
members = {{ path = "members.csv" }}
branches = "branches.csv"
stations = {{ path = "stations.xlsx", sheet = "驿站" }}
hospitals = "hospitals.csv"

[geocode]
default_region = "江西省贵溪市"

[thresholds]
station_walk_min = 15
branch_walk_min = 20
hospital_drive_min = 30

[siting]
new_stations = 3
target_coverage = 0.95

[branches]
min_branch_members = 3
max_branch_members = 50
max_units_per_joint_branch = 5
"""
