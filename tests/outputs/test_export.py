"""Exports: real files written and read back (openpyxl, csv, geopandas/pyogrio)."""

from __future__ import annotations

import codecs
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from geo_planner.errors import InputError, PermissionDeniedError
from geo_planner.export import HEADERS, export_table, redact_for_role, translate_frame


@pytest.fixture()
def members() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["001", "002", "M3"],
            "name": ["张三丰", "李四", '=HYPERLINK("http://x")'],
            "status": ["lixiu", "tuixiu", "tuixiu"],
            "branch_id": ["B01", "B01", "B02"],
            "lon": [117.2400747, 117.2426354, np.nan],
            "lat": [28.2958127, 28.2899702, np.nan],
            "walk_min_branch": [12.5, 31.25, np.nan],
            "walk_min_station": [4.0, 18.0, np.nan],
            "nearest_station_id": ["S01", "S02", ""],
            "drive_min_hospital": [6.5, 9.0, np.nan],
            "dispersed": [False, True, False],
            "dispersion_reason": ["", "cross_township;far", ""],
            "network_status": ["ok", "ok", "no_location"],
        }
    )


@pytest.fixture()
def recommendations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rec_id": ["R001", "R002"],
            "kind": ["new_station", "joint_branch"],
            "name": ["新驿站（柏里村）", "城北社区联合党支部"],
            "lon": [117.23, 117.24],
            "lat": [28.29, 28.30],
            "member_ids": ["001;002;" + ";".join(f"{i:05d}" for i in range(50)), "003;004;005"],
            "n_members": [52, 3],
            "branch_ids": ["B01;B02", "B03"],
            "before_min": [25.0, 22.0],
            "after_min": [8.0, 9.5],
            "rationale_zh": ["52 名成员步行超过 15 分钟", "3 个单位就近组建联合党支部"],
            "rationale_en": ["52 members walk more than 15 minutes", "3 units form a joint branch"],
        }
    )


def test_xlsx_chinese_headers_frozen_widths(members: pd.DataFrame, tmp_path: Path) -> None:
    path = export_table(members, tmp_path / "out" / "members.xlsx", table="members")
    assert path.is_file()
    ws = load_workbook(path).active
    assert ws.title == "离退休干部"
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header[:4] == ["编号", "姓名", "离退休类别", "党支部编号"]
    for expected in (
        "步行至支部(分钟)",
        "步行至最近驿站(分钟)",
        "最近驿站",
        "驾车至最近医院(分钟)",
        "分散原因",
    ):
        assert expected in header
    assert ws[1][0].font.b
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows[0][0] == "001"  # ids keep their zeros: text, not numbers
    assert rows[0][2] == "离休"
    assert rows[1][header.index("分散原因")] == "跨街道(乡镇)居住；距支部过远"
    assert rows[1][header.index("居住分散")] == "是"
    assert rows[1][header.index("步行至支部(分钟)")] == pytest.approx(31.25)
    assert rows[2][header.index("经度")] is None  # NaN → empty cell
    # a value that looks like a formula stays text
    cell = ws.cell(row=4, column=2)
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"
    # widths follow content, CJK counted double, capped
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    col_of = {h: chr(ord("A") + i) for i, h in enumerate(header)}
    assert widths[col_of["步行至最近驿站(分钟)"]] >= 2 * 8  # 8 CJK characters + "(分钟)"
    assert widths[col_of["编号"]] < widths[col_of["步行至最近驿站(分钟)"]]
    assert all(6 <= w <= 60 for w in widths.values())


def test_xlsx_english_and_sheet_name(recommendations: pd.DataFrame, tmp_path: Path) -> None:
    path = export_table(
        recommendations,
        tmp_path / "recs.xlsx",
        table="recommendations",
        language="en",
        sheet_name="Recs/2024",
    )
    ws = load_workbook(path).active
    assert ws.title == "Recs_2024"
    assert [c.value for c in ws[1]][:3] == ["rec_id", "kind", "name"]
    assert ws["B2"].value == "new_station"
    # semicolon lists stay strings
    assert isinstance(ws["F2"].value, str) and ws["F2"].value.startswith("001;002;00000")


def test_recommendation_headers_and_kinds(recommendations: pd.DataFrame) -> None:
    zh = translate_frame(recommendations, "recommendations")
    assert list(zh.columns[:3]) == ["建议编号", "类型", "名称"]
    assert zh["类型"].tolist() == ["新建驿站", "联合党支部"]
    for col, head in (
        ("rationale_zh", "理由"),
        ("n_members", "人数"),
        ("member_ids", "成员编号"),
        ("before_min", "调整前(分钟)"),
        ("after_min", "调整后(分钟)"),
    ):
        assert HEADERS["recommendations"][col] == head
        assert head in zh.columns
    assert zh["成员编号"].iloc[1] == "003;004;005"


def test_csv_bom_and_chinese_round_trip(members: pd.DataFrame, tmp_path: Path) -> None:
    path = export_table(members, tmp_path / "members.csv", table="members")
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back.columns[0] == "编号" and "姓名" in back.columns
    assert back["编号"].tolist() == ["001", "002", "M3"]
    assert back["姓名"].tolist()[:2] == ["张三丰", "李四"]
    # a formula-looking text is neutralised for spreadsheets, not lost
    assert back["姓名"].iloc[2] == '\'=HYPERLINK("http://x")'
    assert back["步行至支部(分钟)"].tolist()[:2] == ["12.5", "31.25"]


def test_csv_recommendations_lists_stay_strings(recommendations: pd.DataFrame, tmp_path: Path) -> None:
    path = export_table(recommendations, tmp_path / "recs.csv", table="recommendations")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert back["成员编号"].iloc[1] == "003;004;005"
    assert back["类型"].tolist() == ["新建驿站", "联合党支部"]


@pytest.mark.parametrize("ext", ["geojson", "gpkg"])
def test_gis_formats_points_in_wgs84(members: pd.DataFrame, tmp_path: Path, ext: str) -> None:
    path = export_table(members, tmp_path / f"members.{ext}", table="members")
    gdf = gpd.read_file(path)
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    assert len(gdf) == 3
    assert gdf.geometry.iloc[0].x == pytest.approx(117.2400747)
    assert gdf.geometry.iloc[0].y == pytest.approx(28.2958127)
    assert gdf.geometry.iloc[2] is None or gdf.geometry.iloc[2].is_empty  # no coordinates: null geometry
    assert gdf["姓名"].iloc[0] == "张三丰"
    assert gdf["编号"].iloc[0] == "001"
    if ext == "gpkg":
        import pyogrio

        assert [name for name, _ in pyogrio.list_layers(path)] == ["members"]


def test_gis_format_needs_coordinates(tmp_path: Path) -> None:
    df = pd.DataFrame({"branch_id": ["B01"], "members": [12]})
    with pytest.raises(InputError, match="no lon/lat"):
        export_table(df, tmp_path / "x.gpkg", table="coverage_by_branch")
    assert not (tmp_path / "x.gpkg").exists()


def test_unknown_format_is_refused(members: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        export_table(members, tmp_path / "m.txt", table="members")
    path = export_table(members, tmp_path / "m.txt", table="members", fmt="csv")
    assert path.read_bytes().startswith(codecs.BOM_UTF8)


def test_coverage_headers(tmp_path: Path) -> None:
    cov = pd.DataFrame(
        {
            "level": ["township"],
            "area": ["花园街道"],
            "township": ["花园街道"],
            "members": [40],
            "share_covered_station": [0.75],
            "median_walk_station_min": [9.5],
        }
    )
    path = export_table(cov, tmp_path / "cov.xlsx", table="coverage_by_area")
    ws = load_workbook(path).active
    assert [c.value for c in ws[1]] == [
        "区域层级",
        "区域",
        "街道(乡镇)",
        "离退休干部人数",
        "驿站步行覆盖率",
        "步行至最近驿站中位数(分钟)",
    ]
    assert ws["A2"].value == "街道(乡镇)"


def test_atomic_write_keeps_old_file_on_error(members: pd.DataFrame, tmp_path: Path) -> None:
    path = export_table(members, tmp_path / "m.csv", table="members")
    before = path.read_bytes()
    with pytest.raises(ValueError):
        export_table(members, path, table="members", language="fr")  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_redact_for_viewer(members: pd.DataFrame, recommendations: pd.DataFrame) -> None:
    with pytest.raises(PermissionDeniedError):
        redact_for_role(members, "members", "viewer")
    viewer = redact_for_role(recommendations, "recommendations", "viewer")
    assert "member_ids" not in viewer.columns
    # the small-cell rule: a recommendation about 3 members shows no count
    assert viewer["n_members"].iloc[0] == 52 and pd.isna(viewer["n_members"].iloc[1])
    assert "member_ids" in recommendations.columns  # the input is untouched
    for role in ("planner", "admin"):
        assert redact_for_role(members, "members", role).equals(members)
        assert "member_ids" in redact_for_role(recommendations, "recommendations", role).columns
    with pytest.raises(ValueError, match="role"):
        redact_for_role(members, "members", "guest")  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_rows", [20_000, 700])
def test_xlsx_cells_round_trip_exactly(tmp_path: Path, chunk_rows: int, monkeypatch) -> None:
    from geo_planner.export import xlsx

    monkeypatch.setattr(xlsx, "_CHUNK_ROWS", chunk_rows)  # rows streamed in one chunk, or in five
    n = 3000
    long_ids = ";".join(f"M{i:06d}" for i in range(5000))  # 40,000 characters: over Excel's cell limit
    df = pd.DataFrame(
        {
            "id": [f"{i:05d}" for i in range(n)],
            "name": ["a & b <c> ' \"d\"", " padded ", "bell\x07here", *(["普通"] * (n - 3))],
            "n_members": pd.array([1, None, *range(n - 2)], dtype="Int64"),
            "after_min": [0.1, np.nan, np.inf, *np.linspace(0, 1, n - 3)],
            "flagged": [True, False, *([True] * (n - 2))],
            "member_ids": [long_ids, "", *(["x;y"] * (n - 2))],
        }
    )
    path = export_table(df, tmp_path / "cells.xlsx", table="recommendations", language="en")
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert len(rows) == n + 1
    assert rows[1][:2] == ("00000", "a & b <c> ' \"d\"")
    assert rows[2][1] == " padded " and rows[3][1] == "bellhere"
    assert rows[1][2] == 1 and rows[2][2] is None and rows[n][2] == n - 3
    assert rows[1][3] == pytest.approx(0.1) and rows[2][3] is None and rows[3][3] is None
    assert rows[1][4] is True and rows[2][4] is False
    assert 32000 < len(rows[1][5]) <= 32767 and rows[1][5].startswith("M000000;M000001")
    assert "截断" in rows[1][5] and rows[2][5] is None


def test_viewer_decision_tables_hide_counts_of_fewer_than_five(demo_run) -> None:
    """The gain of one more site and a year's newly served members are people counts too."""
    result = demo_run[0]
    tradeoff = result.decision.tradeoff.copy()
    plan = result.decision.phased_plan.copy()
    # plant small gains beside the real ones so the rule has something to hide on any demo
    tradeoff.loc[len(tradeoff) - 1, ["marginal_members", "marginal_weight"]] = [3, 4.5]
    plan.loc[len(plan) - 1, ["new_members", "new_weight"]] = [2, 2.0]
    big_t = tradeoff["marginal_members"] >= 5
    t = redact_for_role(tradeoff, "tradeoff", "viewer")
    p = redact_for_role(plan, "phased_plan", "viewer")
    assert "member_ids" not in p.columns
    # no cumulative count a viewer could subtract into a hidden gain; shares in whole per cent
    assert not {"members_covered", "covered_weight", "total_weight"} & set(t.columns)
    shares = t["coverage_share"].dropna().to_numpy() * 100
    assert np.allclose(shares, np.round(shares))
    for frame, col, derived in ((t, "marginal_members", "marginal_weight"), (p, "new_members", "new_weight")):
        values = pd.to_numeric(frame[col], errors="coerce")
        assert not ((values >= 1) & (values < 5)).any(), frame[col].tolist()
        assert frame.loc[frame.index[-1], [col, derived]].isna().all()
    # counts of 5 or more, and everything for planners, stay as they were
    assert (t.loc[big_t, "marginal_members"].to_numpy() == tradeoff.loc[big_t, "marginal_members"].to_numpy()).all()
    pd.testing.assert_frame_equal(redact_for_role(tradeoff, "tradeoff", "planner"), tradeoff)
    pd.testing.assert_frame_equal(redact_for_role(plan, "phased_plan", "planner"), plan)
