"""Chinese date conventions in the zh exports and the report (``2026年12月1日``); ISO in English."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from geo_planner.export import export_table, translate_frame
from geo_planner.io import load_layer
from geo_planner.settings import LayerInput
from geo_planner.zhformat import date_zh, dates_zh, text_date_zh

BRANCHES_CSV = "支部编号,支部名称,经度,纬度\nB1,第一支部,116.39,39.90\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01", "2026年12月1日"),
        ("1948-10-05 00:00:00", "1948年10月5日"),
        ("1948/3/9", "1948年3月9日"),
        ("1948-10", "1948年10月"),
        (dt.date(2026, 12, 1), "2026年12月1日"),
        (dt.datetime(1940, 5, 1, 0, 0), "1940年5月1日"),
        (pd.Timestamp("1945-01-02"), "1945年1月2日"),
        # not dates: left exactly as the planner wrote them
        ("1948年3月", "1948年3月"),
        ("1950.10", "1950.10"),
        ("1948-13-01", "1948-13-01"),
        ("1948-02-30", "1948-02-30"),
        ("不详", "不详"),
        ("", ""),
    ],
)
def test_text_date_zh(value: object, expected: str) -> None:
    assert text_date_zh(value) == expected


def test_missing_values_stay_missing() -> None:
    out = dates_zh(pd.Series(["1940-05-01", None, np.nan, "1941.06"], index=[7, 3, 5, 1]))
    assert out.index.tolist() == [7, 3, 5, 1]
    assert out.iloc[0] == "1940年5月1日" and pd.isna(out.iloc[1]) and pd.isna(out.iloc[2])
    assert out.iloc[3] == "1941.06"
    assert date_zh(dt.date(2026, 1, 9)) == "2026年1月9日"


def _members(tmp_path: Path, source: str) -> pd.DataFrame:
    branches = tmp_path / "branches.csv"
    branches.write_text(BRANCHES_CSV, encoding="utf-8")
    b = load_layer("branches", LayerInput(path=branches)).frame
    if source == "xlsx":  # real Excel date cells
        path = tmp_path / "members.xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["人员编号", "姓名", "所在党支部", "出生日期", "经度", "纬度"])
        ws.append(["001", "张三", "B1", dt.datetime(1940, 5, 1), 116.397, 39.909])
        ws.append(["002", "李四", "B1", "1941.06", 116.4, 39.9])
        wb.save(path)
    else:  # dates typed as text
        path = tmp_path / "members.csv"
        path.write_text("人员编号,姓名,所在党支部,出生日期,经度,纬度\n001,张三,B1,1940-05-01,116.397,39.909\n"
                        "002,李四,B1,1941.06,116.4,39.9\n", encoding="utf-8")
    res = load_layer("members", LayerInput(path=path), branches=b, reference_date=dt.date(2025, 1, 1))
    assert res.info["n_accepted"] == 2
    return res.frame


@pytest.mark.parametrize("source", ["xlsx", "csv"])
def test_zh_exports_write_dates_the_chinese_way(tmp_path: Path, source: str) -> None:
    members = _members(tmp_path, source)
    assert members["birth"].tolist() == ["1940-05-01", "1941.06"]  # the library keeps ISO
    zh = translate_frame(members, "members", "zh")
    assert zh["出生年月"].tolist() == ["1940年5月1日", "1941.06"]
    assert translate_frame(members, "members", "en")["birth"].tolist() == ["1940-05-01", "1941.06"]

    xlsx = export_table(members, tmp_path / "members.xlsx", table="members", fmt="xlsx", language="zh")
    back = pd.read_excel(xlsx, dtype=str)
    assert back["出生年月"].tolist() == ["1940年5月1日", "1941.06"]
    csv = export_table(members, tmp_path / "members.csv", table="members", fmt="csv", language="zh")
    assert "1940年5月1日" in csv.read_text(encoding="utf-8-sig")
    # a planner can load the Chinese export again: the same ages come out
    again = tmp_path / "again.csv"
    again.write_text(csv.read_text(encoding="utf-8-sig").replace("出生年月", "出生日期"), encoding="utf-8")
    b = load_layer("branches", LayerInput(path=tmp_path / "branches.csv")).frame
    res = load_layer("members", LayerInput(path=again), branches=b, reference_date=dt.date(2025, 1, 1))
    assert res.frame["age"].tolist() == members["age"].tolist()
    csv_en = export_table(members, tmp_path / "members_en.csv", table="members", fmt="csv", language="en")
    assert "1940-05-01" in csv_en.read_text(encoding="utf-8-sig")


def test_report_date_in_chinese_and_iso(demo_run) -> None:
    _, _, out, _ = demo_run
    page = (out / "report.html").read_text(encoding="utf-8")
    zh = re.search(r'<span class="zh">(\d{4})年(\d{1,2})月(\d{1,2})日</span><span class="en">([\d-]+)</span>', page)
    assert zh, "report date not found"
    y, m, d = (int(zh.group(i)) for i in (1, 2, 3))
    assert dt.date(y, m, d).isoformat() == zh.group(4)
