"""Tests of geo_planner.io: reading planners' tables and checking every row.

Every fixture is a real file written into ``tmp_path`` (CSV in several encodings, XLSX,
GeoJSON, GeoPackage); nothing is mocked.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point

from geo_planner.atomic import atomic_write
from geo_planner.crs import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from geo_planner.errors import InputError
from geo_planner.io import (
    HEADER_ALIASES,
    REJECTION_COLUMNS,
    load_layer,
    match_columns,
    read_table,
    write_rejections,
)
from geo_planner.settings import LayerInput

REF = dt.date(2025, 1, 1)

MEMBERS_CN = (
    "人员编号,姓名,离退休类别,所在党支部,经度,纬度,出生年月,住址,备注\n"
    "001,张三,离休,第一支部,116.397,39.909,1940-05,北京市西城区某路1号,腿脚不便\n"
    "002,李四,退休,B2,116.401,39.912,1950.10,北京市西城区某路2号,\n"
    "003,王五,退休,第二支部,,,1948年3月,北京市西城区某路3号,\n"
)
BRANCHES_CSV = "支部编号,支部名称,活动地点,经度,纬度\nB1,第一支部,某社区党群服务中心,116.39,39.90\nB2,第二支部,,116.40,39.91\n"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _branches(tmp_path: Path) -> gpd.GeoDataFrame:
    res = load_layer("branches", LayerInput(path=_write(tmp_path / "branches.csv", BRANCHES_CSV)))
    assert res.info["n_rejected"] == 0
    return res.frame


def _assert_partition(res) -> None:  # noqa: ANN001 - LayerResult
    """Every input row is in exactly one of accepted / rejected."""
    rejected_rows = set(res.rejections.loc[res.rejections["action"] == "rejected", "row"].astype(int))
    accepted_rows = set(res.frame["source_row"].astype(int))
    assert not rejected_rows & accepted_rows
    assert res.info["n_accepted"] == len(res.frame) == len(accepted_rows)
    assert res.info["n_rejected"] == len(rejected_rows)
    assert res.info["n_accepted"] + res.info["n_rejected"] == res.info["n_read"]
    assert list(res.rejections.columns) == list(REJECTION_COLUMNS)


# --------------------------------------------------------------------------------------
# read_table: encodings and formats


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("gb18030", "gb18030"), ("gbk", "gb18030"), ("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8")],
)
def test_csv_encoding_detected_from_bytes(tmp_path: Path, encoding: str, expected: str) -> None:
    path = _write(tmp_path / "members.txt", MEMBERS_CN, encoding)
    frame, info = read_table(path)
    assert info["encoding"] == expected
    assert info["format"] == "csv"
    assert list(frame.columns)[:4] == ["人员编号", "姓名", "离退休类别", "所在党支部"]
    assert frame["姓名"].tolist() == ["张三", "李四", "王五"]
    assert frame["人员编号"].tolist() == ["001", "002", "003"]  # leading zeros kept
    assert frame.index.tolist() == [2, 3, 4]  # spreadsheet rows
    assert info["n_rows"] == 3


def test_forced_encoding_and_undecodable(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", MEMBERS_CN, "gb18030")
    frame, info = read_table(path, encoding="gb18030")
    assert frame.loc[2, "住址"] == "北京市西城区某路1号"
    with pytest.raises(InputError, match="m.csv.*utf-8"):
        read_table(path, encoding="utf-8")


def test_whitespace_stripped_and_strings_kept(tmp_path: Path) -> None:
    text = " 人员编号 ,\u3000姓名\u3000,经度\n 007 ,\u3000张\u3000三\u3000, 116.5 \n"
    frame, _ = read_table(_write(tmp_path / "m.csv", text))
    assert list(frame.columns) == ["人员编号", "姓名", "经度"]
    assert frame.iloc[0].tolist() == ["007", "张\u3000三", "116.5"]  # inner spaces kept


def test_title_row_above_header_skipped(tmp_path: Path) -> None:
    text = "某单位离退休干部花名册,,,\n,,,\n人员编号,姓名,所在党支部,住址\n001,张三,B1,某路1号\n\n002,李四,B1,某路2号\n"
    frame, info = read_table(_write(tmp_path / "m.csv", text))
    assert info["header_row"] == 3
    assert info["n_blank"] == 1
    assert frame.index.tolist() == [4, 6]
    assert frame["人员编号"].tolist() == ["001", "002"]


def test_xlsx_first_and_named_sheet(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "说明"
    ws.append(["编号", "名称", "地址"])
    ws.append(["S01", "桑榆红驿站", "某街1号"])
    members = wb.create_sheet("花名册")
    members.append(["人员编号", "姓名", "所在党支部", "出生年月", "经度", "纬度"])
    members.append(["001", "张三", "B1", dt.datetime(1940, 5, 1), 116.397, 39.909])
    members.append([2, "李四", "B1", "1941.06", 116.4, 39.9])
    wb.save(path)

    first, info = read_table(path)
    assert info["format"] == "xlsx" and info["sheet"] == "说明" and info["encoding"] is None
    assert first["名称"].tolist() == ["桑榆红驿站"]

    frame, info = read_table(path, sheet="花名册")
    assert info["sheet"] == "花名册"
    assert frame["人员编号"].tolist() == ["001", "2"]  # text kept, integer without .0
    assert frame["出生年月"].tolist() == ["1940-05-01", "1941.06"]
    assert frame["经度"].tolist() == ["116.397", "116.4"]

    with pytest.raises(InputError) as err:
        read_table(path, sheet="不存在")
    assert "不存在" in str(err.value) and "说明" in str(err.value) and "花名册" in str(err.value)
    assert "book.xlsx" in str(err.value)


def test_xlsx_members_layer_with_excel_dates(tmp_path: Path) -> None:
    path = tmp_path / "members.xlsx"
    df = pd.DataFrame(
        {
            "人员编号": ["0001", "0002"],
            "姓名": ["张三", "李四"],
            "所在党支部": ["B1", "第二支部"],
            "出生日期": [dt.datetime(1940, 5, 1), dt.datetime(1945, 1, 2)],
            "经度": [116.397, 116.4],
            "纬度": [39.909, 39.9],
        }
    )
    df.to_excel(path, index=False, sheet_name="Sheet1")
    res = load_layer("members", LayerInput(path=path), branches=_branches(tmp_path), reference_date=REF)
    assert res.frame["id"].tolist() == ["0001", "0002"]
    assert res.frame["age"].tolist() == [84.0, 79.0]
    assert res.frame["branch_id"].tolist() == ["B1", "B2"]
    assert res.frame["source_row"].tolist() == [2, 3]


def test_geojson_round_trip(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"编号": ["S001", "S002"], "驿站名称": ["桑榆红驿站", "老党员之家"], "容量": [30, 50]},
        geometry=[Point(116.397, 39.909), Point(116.41, 39.92)],
        crs="EPSG:4326",
    )
    path = tmp_path / "stations.geojson"
    gdf.to_file(path, driver="GeoJSON")
    frame, info = read_table(path)
    assert info["format"] == "geojson"
    assert frame["编号"].tolist() == ["S001", "S002"]
    assert frame["容量"].tolist() == ["30", "50"]
    assert frame["lon"].astype(float).tolist() == [116.397, 116.41]

    res = load_layer("stations", LayerInput(path=path))
    _assert_partition(res)
    assert res.frame.crs.to_epsg() == 4326
    assert res.frame["name"].tolist() == ["桑榆红驿站", "老党员之家"]
    assert res.frame["capacity"].tolist() == [30.0, 50.0]
    np.testing.assert_allclose(res.frame.geometry.x, [116.397, 116.41])
    np.testing.assert_allclose(res.frame["lat"], [39.909, 39.92])


def test_geopackage_reprojected_and_named_layer(tmp_path: Path) -> None:
    wgs = gpd.GeoDataFrame(
        {"医院名称": ["市人民医院", "中医院"], "医院等级": ["三甲", "二甲"]},
        geometry=[Point(117.2, 28.25), Point(117.22, 28.24)],
        crs="EPSG:4326",
    )
    path = tmp_path / "hospitals.gpkg"
    wgs.to_crs(3857).to_file(path, layer="webmerc", driver="GPKG")
    wgs.to_file(path, layer="plain", driver="GPKG")

    frame, info = read_table(path, sheet="webmerc")
    assert info["format"] == "gpkg" and info["sheet"] == "webmerc"
    assert "3857" in info["source_crs"]
    np.testing.assert_allclose(frame["lon"].astype(float), [117.2, 117.22], atol=1e-9)

    res = load_layer("hospitals", LayerInput(path=path, sheet="webmerc"))
    _assert_partition(res)
    np.testing.assert_allclose(res.frame["lon"], [117.2, 117.22], atol=1e-9)
    np.testing.assert_allclose(res.frame["lat"], [28.25, 28.24], atol=1e-9)
    assert res.frame["level"].tolist() == ["三甲", "二甲"]
    assert res.frame["id"].tolist() == ["H001", "H002"]  # generated, with a file-level warning
    assert (res.rejections["action"] == "warning").sum() == 1
    assert res.rejections["row"].isna().all()

    with pytest.raises(InputError, match="webmerc"):
        read_table(path, sheet="missing")


# --------------------------------------------------------------------------------------
# whole-file errors


def test_empty_and_header_only_files_name_the_file(tmp_path: Path) -> None:
    empty = _write(tmp_path / "空表.csv", "")
    with pytest.raises(InputError, match="空表.csv.*empty"):
        read_table(empty)
    header_only = _write(tmp_path / "members_header.csv", "人员编号,姓名,所在党支部,住址\n\n", "gb18030")
    with pytest.raises(InputError, match="members_header.csv.*no data rows"):
        load_layer("members", LayerInput(path=header_only))
    with pytest.raises(InputError, match="nothere.csv.*not found"):
        read_table(tmp_path / "nothere.csv")


def test_missing_required_column_lists_it_and_aliases(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "人员编号,姓名,经度,纬度\n001,张三,116.4,39.9\n")
    with pytest.raises(InputError) as err:
        load_layer("members", LayerInput(path=path))
    message = str(err.value)
    assert "m.csv" in message and "'branch'" in message and "所在党支部" in message
    assert [p.field for p in err.value.problems] == ["branch"]

    no_place = _write(tmp_path / "s.csv", "名称,类型\n驿站,桑榆红驿站\n")
    with pytest.raises(InputError) as err:
        load_layer("stations", LayerInput(path=no_place))
    assert "'lon' and 'lat'" in str(err.value) and "住址" in str(err.value)


def test_two_columns_with_same_meaning_are_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "人员编号,所在党支部,住址,家庭住址\n001,B1,a,b\n")
    with pytest.raises(InputError) as err:
        load_layer("members", LayerInput(path=path))
    assert "'住址'" in str(err.value) and "'家庭住址'" in str(err.value) and "address" in str(err.value)


def test_old_xls_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(InputError, match="old.xls.*xlsx"):
        read_table(path)


# --------------------------------------------------------------------------------------
# header aliases


def test_alias_table_is_immutable() -> None:
    with pytest.raises(TypeError):
        HEADER_ALIASES["members"]["id"] = ("x",)  # type: ignore[index]
    assert "支部编号" in HEADER_ALIASES["branches"]["id"]


def test_alias_matching_variants() -> None:
    columns = ["ID", "Name", "社区（村）", "所在街道/乡镇", "年龄（岁）", "Ｌｏｎ", "LATITUDE", "坐标类型", "爱好"]
    mapping = match_columns(columns, "members")
    assert mapping == {
        "ID": "id",
        "Name": "name",
        "社区（村）": "community",
        "所在街道/乡镇": "township",
        "年龄（岁）": "age",
        "Ｌｏｎ": "lon",
        "LATITUDE": "lat",
        "坐标类型": "crs",
    }
    # 支部名称 is the branch of a member but the name of a branch
    assert match_columns(["支部名称"], "members") == {"支部名称": "branch"}
    assert match_columns(["支部名称"], "branches") == {"支部名称": "name"}
    # a roster's 序号 gives way to a real id column
    assert match_columns(["序号", "人员编号"], "members") == {"人员编号": "id"}
    assert match_columns(["序号"], "members") == {"序号": "id"}


def test_english_headers_and_unknown_columns_kept(tmp_path: Path) -> None:
    text = (
        "id,name,status,branch_id,lng,lat,party_member,hobby,性别\n"
        "007,Zhang,lixiu,B1,116.397,39.909,N,chess,男\n"
        "008,Li,retired,B2,116.4,39.9,1,,女\n"
    )
    path = _write(tmp_path / "m.csv", text)
    res = load_layer("members", LayerInput(path=path), branches=_branches(tmp_path))
    _assert_partition(res)
    f = res.frame
    assert f["id"].tolist() == ["007", "008"]
    assert f["status"].tolist() == ["lixiu", "tuixiu"]
    assert f["is_party_member"].tolist() == [False, True]
    assert f["hobby"].tolist() == ["chess", ""] and f["性别"].tolist() == ["男", "女"]
    cols = list(f.columns)
    assert cols[:3] == ["id", "name", "status"]
    assert cols.index("source_row") < cols.index("hobby") < cols.index("geometry")
    assert res.info["column_map"]["lng"] == "lon" and "hobby" not in res.info["column_map"]
    assert res.info["n_warnings"] == 0


# --------------------------------------------------------------------------------------
# row rules


def test_members_chinese_csv_end_to_end(tmp_path: Path) -> None:
    path = _write(tmp_path / "members.csv", MEMBERS_CN, "gb18030")
    res = load_layer("members", LayerInput(path=path), branches=_branches(tmp_path), reference_date=REF)
    _assert_partition(res)
    assert res.info["encoding"] == "gb18030" and res.info["n_read"] == 3 and res.info["n_rejected"] == 0
    f = res.frame
    assert f["id"].tolist() == ["001", "002", "003"]
    assert f["branch_id"].tolist() == ["B1", "B2", "B2"]  # by name, by id, by name
    assert f["status"].tolist() == ["lixiu", "tuixiu", "tuixiu"]
    assert f["age"].tolist() == [84.0, 74.0, 76.0]
    assert f["is_party_member"].tolist() == [True, True, True]  # column absent → True
    assert f["备注"].tolist() == ["腿脚不便", "", ""]
    # address-only row: NaN coordinates, no geometry, no crs
    assert np.isnan(f.loc[2, "lon"]) and f.geometry.iloc[2] is None and f.loc[2, "crs_in"] == ""
    assert f.crs.to_epsg() == 4326
    assert f.geometry.iloc[0].equals(Point(116.397, 39.909))


def test_per_row_crs_column_converted(tmp_path: Path) -> None:
    gcj = wgs84_to_gcj02(116.397, 39.909)
    bd = wgs84_to_bd09(116.41, 39.92)
    text = (
        "编号,名称,经度,纬度,坐标系\n"
        f"S1,甲,{float(gcj[0])!r},{float(gcj[1])!r},高德\n"
        f"S2,乙,{float(bd[0])!r},{float(bd[1])!r},百度\n"
        "S3,丙,116.42,39.93,\n"
        "S4,丁,116.43,39.94,腾讯地图\n"
    )
    res = load_layer("stations", LayerInput(path=_write(tmp_path / "s.csv", text), crs="BD09"))
    _assert_partition(res)
    f = res.frame.set_index("id")
    assert f["crs_in"].tolist() == ["GCJ02", "BD09", "BD09", "GCJ02"]  # S3: the file default
    expected = {
        "S1": gcj02_to_wgs84(gcj[0], gcj[1]),
        "S2": bd09_to_wgs84(bd[0], bd[1]),
        "S3": bd09_to_wgs84(116.42, 39.93),
        "S4": gcj02_to_wgs84(116.43, 39.94),
    }
    for sid, (lon, lat) in expected.items():
        assert f.loc[sid, "lon"] == pytest.approx(float(lon), abs=1e-12)
        assert f.loc[sid, "lat"] == pytest.approx(float(lat), abs=1e-12)
    assert f.loc["S1", "lon"] == pytest.approx(116.397, abs=1e-8)
    assert f.loc["S2", "lat"] == pytest.approx(39.92, abs=1e-8)
    assert f.loc["S4", "lon_in"] == 116.43


def test_swapped_fixed_with_warning_and_outside_china_rejected(tmp_path: Path) -> None:
    text = (
        "编号,名称,经度,纬度\n"
        "S1,对,116.397,39.909\n"
        "S2,反,39.909,116.397\n"
        "S3,巴黎,2.35,48.85\n"
        "S4,零点,0,0\n"
        "S5,乱码,abc,39.9\n"
        "S6,越界,200,39\n"
        "S7,缺纬度,116.4,\n"
    )
    res = load_layer("stations", LayerInput(path=_write(tmp_path / "s.csv", text)))
    _assert_partition(res)
    assert res.frame["id"].tolist() == ["S1", "S2"]
    np.testing.assert_allclose(res.frame["lon"], [116.397, 116.397])
    np.testing.assert_allclose(res.frame["lat"], [39.909, 39.909])
    rej = res.rejections.set_index("row")
    assert rej.loc[3, "action"] == "warning" and "swapped" in rej.loc[3, "reason"]
    for row in (4, 5):
        assert rej.loc[row, "action"] == "rejected" and "outside China" in rej.loc[row, "reason"]
    assert "not a number" in rej.loc[6, "reason"] and rej.loc[6, "field"] == "经度"
    assert "out of range" in rej.loc[7, "reason"]
    assert rej.loc[8, "field"] == "纬度" and "empty" in rej.loc[8, "reason"]
    assert res.info["n_warnings"] == 1


def test_unknown_crs_value_and_no_place_kept_as_members(tmp_path: Path) -> None:
    """A member row is a person: an unknown 坐标系 or no place at all is a warning, the member stays."""
    text = "人员编号,所在党支部,经度,纬度,坐标系,住址\n1,B1,116.4,39.9,火星文,\n2,B1,,,,\n3,B1,,,,某路3号\n"
    res = load_layer("members", LayerInput(path=_write(tmp_path / "m.csv", text)))
    _assert_partition(res)
    assert res.frame["id"].tolist() == ["1", "2", "3"]
    assert res.frame["lon"].isna().all()  # none has a usable point
    rej = res.rejections.set_index("row")
    assert (rej["action"] == "warning").all()
    assert rej.loc[2, "field"] == "坐标系" and "火星文" in rej.loc[2, "reason"] and "kept" in rej.loc[2, "reason"]
    assert rej.loc[3, "field"] == "住址" and "neither coordinates nor an address" in rej.loc[3, "reason"]
    assert "no_location" in rej.loc[3, "reason"]
    assert res.frame["branch_id"].tolist() == ["B1"] * 3  # branches=None: unresolved value kept


def test_unknown_crs_value_and_no_place_reject_a_facility(tmp_path: Path) -> None:
    text = "名称,经度,纬度,坐标系,地址\n甲站,116.4,39.9,火星文,\n乙站,,,,\n丙站,,,,某路3号\n"
    res = load_layer("stations", LayerInput(path=_write(tmp_path / "s.csv", text)))
    _assert_partition(res)
    assert res.frame["name"].tolist() == ["丙站"]
    rej = res.rejections[res.rejections["action"] == "rejected"].set_index("row")
    assert "火星文" in rej.loc[2, "reason"] and "neither coordinates nor an address" in rej.loc[3, "reason"]


def test_duplicate_id_rejected_naming_first_row(tmp_path: Path) -> None:
    text = "人员编号,所在党支部,住址\n001,B1,a\n002,B1,b\n001,B1,c\n1,B1,d\n001,B1,e\n,B1,f\n"
    res = load_layer("members", LayerInput(path=_write(tmp_path / "m.csv", text)))
    _assert_partition(res)
    assert res.frame["id"].tolist() == ["001", "002", "1"]
    rej = res.rejections
    dup = rej[rej["reason"].str.startswith("duplicate")]
    assert dup["row"].tolist() == [4, 6]
    assert dup["reason"].str.contains("first seen in row 2").all()
    assert dup["field"].eq("人员编号").all()
    assert rej.loc[rej["row"] == 7, "reason"].tolist() == ["empty id"]


def test_unknown_and_ambiguous_branch_kept_without_a_branch(tmp_path: Path) -> None:
    branches = pd.DataFrame({"id": ["B1", "B2", "B3"], "name": ["第一支部", "同名支部", "同名支部"]})
    text = "人员编号,所在党支部,住址\n1,B1,a\n2,第一支部,b\n3,第九支部,c\n4,同名支部,d\n5,,e\n6,B3,f\n"
    res = load_layer("members", LayerInput(path=_write(tmp_path / "m.csv", text)), branches=branches)
    _assert_partition(res)
    assert res.frame["id"].tolist() == ["1", "2", "3", "4", "5", "6"]  # nobody is lost
    assert res.frame["branch_id"].tolist() == ["B1", "B1", "", "", "", "B3"]
    rej = res.rejections
    assert (rej["action"] == "warning").all()
    reasons = rej.set_index("row")["reason"]
    assert reasons[4].startswith("unknown branch '第九支部'") and "unknown_branch" in reasons[4]
    assert "several branches" in reasons[5]
    assert reasons[6].startswith("empty branch")


def test_status_party_and_age_parsing(tmp_path: Path) -> None:
    text = (
        "人员编号,所在党支部,住址,离退休类别,是否党员,年龄,出生年月\n"
        "1,B1,a,离休,是,,1940.05\n"
        "2,B1,a,退休干部,否,,1940年5月\n"
        "3,B1,a,tuixiu,Y,,19400501\n"
        "4,B1,a,在职,中共党员,,14732\n"
        "5,B1,a,,群众,88岁,1940-05\n"
        "6,B1,a,退休,也许,,不详\n"
        "7,B1,a,退休,0,,1940年12月31日\n"
    )
    res = load_layer("members", LayerInput(path=_write(tmp_path / "m.csv", text)), reference_date=REF)
    _assert_partition(res)
    f = res.frame
    assert res.info["n_rejected"] == 0
    assert f["status"].tolist() == ["lixiu", "tuixiu", "tuixiu", "", "", "tuixiu", "tuixiu"]
    assert f["is_party_member"].tolist() == [True, False, True, True, False, True, False]
    # 14732 is the Excel serial of 1940-05-01; an explicit 年龄 wins over 出生年月
    assert f["age"].tolist()[:5] == [84.0, 84.0, 84.0, 84.0, 88.0]
    assert np.isnan(f["age"].iloc[5])
    assert f["age"].iloc[6] == 84.0  # birthday not yet reached on 2025-01-01
    warnings = res.rejections[res.rejections["action"] == "warning"]
    assert set(warnings["row"]) == {5, 6, 7}
    assert len(warnings[warnings["row"] == 7]) == 2  # party flag and birth date


def test_station_ids_generated_without_clashing(tmp_path: Path) -> None:
    text = "编号,驿站名称,类型,可容纳人数,地址\nS002,桑榆红驿站,桑榆红驿站,40,a\n,老党员之家,老党员之家,20人,b\n,,,,c\n"
    res = load_layer("stations", LayerInput(path=_write(tmp_path / "s.csv", text)))
    _assert_partition(res)
    assert res.frame["id"].tolist() == ["S002", "S001"]
    assert res.frame["capacity"].tolist() == [40.0, 20.0]
    rej = res.rejections.set_index("row")
    assert rej.loc[3, "action"] == "warning" and "S001" in rej.loc[3, "reason"]
    assert rej.loc[4, "reason"] == "empty name"


def test_branches_meeting_place_fills_address(tmp_path: Path) -> None:
    text = "支部名称,活动地点,住址\n第一支部,某社区党群服务中心,\n第二支部,,某路2号\n第三支部,,\n"
    res = load_layer("branches", LayerInput(path=_write(tmp_path / "b.csv", text)))
    _assert_partition(res)
    assert res.frame["id"].tolist() == ["B001", "B002"]
    assert res.frame["address"].tolist() == ["某社区党群服务中心", "某路2号"]
    assert res.rejections.loc[res.rejections["action"] == "rejected", "row"].tolist() == [4]


def test_file_default_crs_applies(tmp_path: Path) -> None:
    lon, lat = wgs84_to_gcj02(117.07, 28.23)
    text = f"编号,名称,经度,纬度\nH1,医院,{float(lon)!r},{float(lat)!r}\n"
    res = load_layer("hospitals", LayerInput(path=_write(tmp_path / "h.csv", text), crs="GCJ02"))
    assert res.frame["crs_in"].tolist() == ["GCJ02"]
    assert res.frame["lon"].iloc[0] == pytest.approx(117.07, abs=1e-8)
    assert res.frame["lat"].iloc[0] == pytest.approx(28.23, abs=1e-8)


# --------------------------------------------------------------------------------------
# writing


def test_write_rejections_utf8_bom_atomic(tmp_path: Path) -> None:
    text = "人员编号,所在党支部,住址\n001,B1,a\n001,B1,b\n"
    res = load_layer("members", LayerInput(path=_write(tmp_path / "m.csv", text)))
    out = tmp_path / "out" / "rejections.csv"
    write_rejections(res.rejections, out)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert list(back.columns) == list(REJECTION_COLUMNS)
    assert back["value"].tolist() == ["001"] and "first seen in row 2" in back["reason"].iloc[0]
    assert [p.name for p in out.parent.iterdir()] == ["rejections.csv"]  # no temp left


def test_atomic_write_keeps_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "result.csv"
    target.write_text("old", encoding="utf-8")

    def failing(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.csv"]

    atomic_write(target, lambda p: p.write_text("new", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "new"
