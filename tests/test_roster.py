"""Rosters (花名册) as a 老干部局 keeps them: nobody lost, the sheet as people lay it out.

Every roster here is a real XLSX written with openpyxl into ``tmp_path`` (seeded): a merged title
row, a two-row header (离退休时间 merged over 年 / 月, the other headers merged down), 序号, 政治面貌,
branches written by name and shortened, ``同上`` cells, blank addresses, a 合计 row and a
填表人 / 审核人 / 填表日期 footer — on the branches of two extracts (贵溪 and 南京).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from geo_planner.io import load_layer, read_table
from geo_planner.io.roster import FOOTER_ACTION, branch_key
from geo_planner.settings import LayerInput

REF = dt.date(2026, 12, 1)

#: (id, full name, how planners shorten it) per extract; the members' places are on that extract.
BRANCHES = {
    "guixi": {
        "region": "江西省贵溪市",
        "branches": [
            ("B01", "贵溪市财政局离退休干部党支部", "财政局离退休党支部"),
            ("B02", "贵溪市教育局第一退休干部党支部", "教育局1支部"),
            ("B03", "贵溪市教育局第二退休干部党支部", "教育局二支部"),
            ("B04", "中共贵溪市卫健委离退休干部党支部", "贵溪市卫健委 退休党支部"),
        ],
        "lonlat": (117.2400, 28.2905),
        "addresses": ["贵溪市雄石街道花园社区3栋2单元", "贵溪市东门街道炼厂社区宿舍"],
    },
    "nanjing": {
        "region": "江苏省南京市玄武区",
        "branches": [
            ("N01", "南京市玄武区教育局离退休干部党支部", "教育局离退休党支部"),
            ("N02", "南京市玄武区财政局第三退休党支部", "玄武区财政局３支部"),
            ("N03", "南京市玄武区城市管理局离退休干部党支部", "城市管理局退休党支部"),
        ],
        "lonlat": (118.7900, 32.0500),
        "addresses": ["南京市玄武区玄武门街道珠江路1号", "南京市玄武区梅园新村街道长江路"],
    },
}
HEADER_TOP = ["序号", "姓名", "性别", "出生年月", "离退休时间", "", "类别", "政治面貌", "所在党支部", "现居住地址",
              "联系电话"]
HEADER_SUB = ["", "", "", "", "年", "月", "", "", "", "", ""]


def _branches_frame(extract: str) -> pd.DataFrame:
    rows = BRANCHES[extract]["branches"]
    return pd.DataFrame({"id": [b[0] for b in rows], "name": [b[1] for b in rows]})


def write_roster(path: Path, extract: str, n: int, seed: int) -> dict[str, object]:
    """Write a roster of ``n`` persons the way a 老干部局 keeps it; return what was planted."""
    rng = np.random.default_rng(seed)
    spec = BRANCHES[extract]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "花名册"
    ws.append([f"{spec['region']}离退休干部花名册（2026年）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER_TOP))
    ws.append(HEADER_TOP)
    ws.append(HEADER_SUB)
    for col, top in enumerate(HEADER_TOP, start=1):  # every header but 离退休时间 spans both rows
        if top and top != "离退休时间":
            ws.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
    ws.merge_cells(start_row=2, start_column=5, end_row=2, end_column=6)
    planted: dict[str, object] = {"short": [], "unknown": [], "blank_address": [], "ditto": [], "persons": n}
    for i in range(n):
        bid, full, short = spec["branches"][int(rng.integers(len(spec["branches"])))]
        pick = rng.random()
        branch: str = full
        if pick < 0.3:
            branch = short
            planted["short"].append((i + 1, bid))  # type: ignore[union-attr]
        elif pick < 0.35:
            branch = "老年体协联络组"  # no such branch
            planted["unknown"].append(i + 1)  # type: ignore[union-attr]
        address = spec["addresses"][int(rng.integers(len(spec["addresses"])))]
        if rng.random() < 0.1:
            address = ""
            planted["blank_address"].append(i + 1)  # type: ignore[union-attr]
        year = int(rng.integers(1935, 1960))
        row = [i + 1, f"成员{i + 1:03d}", "男" if rng.random() < 0.6 else "女", f"{year}.{int(rng.integers(1, 13)):02d}",
               year + 60, int(rng.integers(1, 13)), "退休" if rng.random() < 0.9 else "离休",
               "中共党员" if rng.random() < 0.85 else "群众", branch, address, f"1{rng.integers(10**9, 10**10)}"]
        if i > 0 and rng.random() < 0.1:
            row[8] = "同上"
            planted["ditto"].append(i + 1)  # type: ignore[union-attr]
        ws.append(row)
    ws.append(["合计", "", "", "", "", "", "", "", "", f"共{n}人"])
    ws.append([])
    ws.append(["填表人：张某", "", "", "审核人：李某", "", "", "填表日期：2026年12月1日"])
    ws.append(["注：本表由各支部填报，地址以现居住地为准。"])
    wb.save(path)
    return planted


@pytest.mark.parametrize("extract,seed", [("guixi", 1), ("nanjing", 2)])
def test_every_person_row_is_a_member_or_a_reported_footer(tmp_path: Path, extract: str, seed: int) -> None:
    n = 60
    path = tmp_path / f"{extract}.xlsx"
    planted = write_roster(path, extract, n, seed)
    res = load_layer("members", LayerInput(path=path), branches=_branches_frame(extract), reference_date=REF)
    m, rej = res.frame, res.rejections
    # every person is a member; the 合计 row and the three footer lines are reported, not members
    assert len(m) == n and res.info["n_rejected"] == 0 and res.info["n_not_member"] == 3
    assert m["name"].tolist() == [f"成员{i:03d}" for i in range(1, n + 1)]
    footers = rej[rej["action"] == FOOTER_ACTION]
    assert len(footers) == 3 and footers["reason"].str.contains("not a member").all()
    assert footers["reason"].str.contains("合计").sum() == 1
    assert not rej[rej["action"] == "rejected"].size
    # the sheet as laid out: the title named, the two-level header joined
    assert res.info["header_row"] == 3
    assert {"离退休时间_年", "离退休时间_月"} <= set(m.columns)
    notes = " ".join(rej.loc[rej["row"].isna(), "reason"])
    assert "read as a title" in notes and "花名册" in notes
    assert "two-level header" in notes
    data_row = 4  # title row 1, header rows 2–3
    by_row = m.set_index("source_row")
    # short-form branches matched, each with a warning naming what it matched and its score
    branch_warn = rej[(rej["field"] == "所在党支部") & rej["reason"].str.contains("matched")].set_index("row")
    ditto = set(planted["ditto"])  # type: ignore[arg-type]
    for i, bid in planted["short"]:  # type: ignore[attr-defined]
        if i in ditto:
            continue
        assert by_row.loc[data_row + i - 1, "branch_id"] == bid
        assert "score" in branch_warn.loc[data_row + i - 1, "reason"]
    # unknown branch: kept without a branch, warned
    for i in planted["unknown"]:  # type: ignore[attr-defined]
        if i in ditto:
            continue
        assert by_row.loc[data_row + i - 1, "branch_id"] == ""
        assert "unknown_branch" in " ".join(rej.loc[rej["row"] == data_row + i - 1, "reason"])
    # blank address: kept, counted in its branch
    for i in planted["blank_address"]:  # type: ignore[attr-defined]
        assert by_row.loc[data_row + i - 1, "address"] == "" and np.isnan(by_row.loc[data_row + i - 1, "lon"])
    # 同上 takes the value above, with a warning naming the row it came from
    for i in ditto:
        row = data_row + i - 1
        source = row - 1
        while source - data_row + 1 in ditto:  # 同上 under 同上: the last written value
            source -= 1
        assert by_row.loc[row, "branch"] == by_row.loc[source, "branch"] != "同上"
        texts = rej.loc[(rej["row"] == row) & (rej["field"] == "所在党支部"), "reason"].tolist()
        assert any(f"row {source} above" in t for t in texts), texts
    # 政治面貌: 群众 are not party members but are members of the roster
    assert (~m["is_party_member"]).sum() > 0


def test_short_branch_names_share_a_key_and_strangers_do_not() -> None:
    for extract in BRANCHES.values():
        for _bid, full, short in extract["branches"]:  # type: ignore[attr-defined]
            assert branch_key(full) == branch_key(short), (full, short)
    assert branch_key("贵溪市教育局第一退休干部党支部") != branch_key("贵溪市教育局第二退休干部党支部")
    assert branch_key("第一支部") == branch_key("一支部") == branch_key("１支部")


def test_fuzzy_branch_match_is_a_warning_and_a_near_tie_is_unknown(tmp_path: Path) -> None:
    branches = pd.DataFrame({"id": ["B1", "B2", "B3"],
                             "name": ["贵溪市财政局离退休干部党支部", "贵溪市交通运输局离退休干部党支部",
                                      "贵溪市交通运输局退休二支部"]})
    text = ("编号,姓名,所在党支部,住址\n1,甲,交通运揄局离退休党支部,贵溪市\n2,乙,贵溪市不存在党支部,贵溪市\n"
            "3,丙,贵溪市财政局离退休干部党支部,贵溪市\n4,丁,教育局离退休党支部,贵溪市\n")
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    res = load_layer("members", LayerInput(path=path), branches=branches, reference_date=REF)
    assert res.frame["branch_id"].tolist() == ["B2", "", "B1", ""]
    reasons = res.rejections.set_index("row")["reason"]
    assert reasons[2].startswith("branch '交通运揄局离退休党支部' matched '贵溪市交通运输局离退休干部党支部' (B2) "
                                 "by a fuzzy match, score 86")
    assert "unknown branch '贵溪市不存在党支部'" in reasons[3] and "unknown branch" in reasons[5]
    assert 4 not in reasons.index  # an exact name is no warning
    assert (res.rejections["action"] == "warning").all()


def test_two_level_header_in_a_csv_export(tmp_path: Path) -> None:
    text = ("某市离退休干部花名册\n序号,姓名,离退休时间,,所在党支部,住址\n,,年,月,,\n"
            "1,张三,2001,5,B1,贵溪市\n2,李四,2003,11,同上,贵溪市\n合计,,,,,2人\n填表人：王五\n")
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    frame, info = read_table(path)
    assert list(frame.columns) == ["序号", "姓名", "离退休时间_年", "离退休时间_月", "所在党支部", "住址"]
    assert info["header_row"] == 3
    res = load_layer("members", LayerInput(path=path), reference_date=REF)
    assert res.frame["branch_id"].tolist() == ["B1", "B1"] and res.frame["离退休时间_月"].tolist() == ["5", "11"]
    assert res.info["n_not_member"] == 2 and len(res.frame) == 2
