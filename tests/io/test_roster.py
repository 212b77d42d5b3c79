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


# --------------------------------------------------------------------------- one run on both extracts

#: Addresses in places no loaded extract covers: (address, city, county or "" when only the city is named).
ELSEWHERE = {
    "guixi": [("江西省南昌市红谷滩区丰和中大道1999号", "南昌市", "红谷滩区"),  # another city (provincial capital)
              ("南昌市东湖区八一大道", "南昌市", "东湖区"),
              ("江西省南昌市", "南昌市", ""),
              ("湖南省长沙市岳麓区麓山路", "长沙市", "岳麓区"),  # another province
              ("湖南省长沙市岳麓区", "长沙市", "岳麓区")],
    "nanjing": [("上海市浦东新区世纪大道100号", "上海市", "浦东新区"),  # another province
                ("上海市浦东新区", "上海市", "浦东新区"),
                ("上海市浦东新区张杨路", "上海市", "浦东新区"),
                ("江苏省苏州市姑苏区人民路", "苏州市", "姑苏区")],  # another city
}
#: Points outside the extract's extent but in the branch's own city: (lon, lat).
EDGE = {"guixi": [(117.2200, 28.2776), (117.2200, 28.2700)], "nanjing": [(118.8010, 32.0450), (118.8120, 32.0400)]}
#: Meeting places (WGS-84) of each extract's branches and the homes around them.
CENTRE = {"guixi": (117.2400747, 28.2958127), "nanjing": (118.7880, 32.0460)}


def _run_roster(path: Path, seed: int) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """A roster of both extracts' members; returns the rows (1-based person numbers) of each group."""
    rng = np.random.default_rng(seed)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["贵溪市、南京市玄武区离退休干部花名册"])
    top = ["序号", "姓名", "出生年月", "离退休时间", "", "政治面貌", "所在党支部", "现居住地址", "经度", "纬度"]
    ws.append(top)
    ws.append(["", "", "", "年", "月", "", "", "", "", ""])
    ws.merge_cells("D2:E2")
    groups: dict[str, list[int]] = {"elsewhere": [], "edge": [], "local": [], "unknown": [], "blank": []}
    rows: list[list[object]] = []

    def add(group: str, branch: str, address: str, lon: float | str = "", lat: float | str = "") -> None:
        i = len(rows) + 1
        rows.append([i, f"成员{i:03d}", f"19{int(rng.integers(40, 62))}.0{int(rng.integers(1, 10))}", 2005, 6,
                     "中共党员", branch, address, lon, lat])
        groups[group].append(i)

    for extract in ("guixi", "nanjing"):
        spec = BRANCHES[extract]
        cx, cy = CENTRE[extract]
        for k in range(24):
            _bid, full, short = spec["branches"][k % len(spec["branches"])]  # type: ignore[index]
            x, y = cx + rng.uniform(-0.004, 0.004), cy + rng.uniform(-0.003, 0.003)
            add("local", short if k % 2 else full, "", round(x, 6), round(y, 6))
        for address, _city, _county in ELSEWHERE[extract]:
            add("elsewhere", spec["branches"][0][1], address)  # type: ignore[index]
        for x, y in EDGE[extract]:
            add("edge", spec["branches"][1][2], "", x, y)  # type: ignore[index]
        add("unknown", "老年大学临时党支部", "", cx, cy)
        add("blank", spec["branches"][2][2], "")  # type: ignore[index]
    for r in rows:
        ws.append(r)
    ws.append(["合计", "", "", "", "", "", "", f"{len(rows)}人"])
    ws.append(["填表人：张某", "", "审核人：李某", "", "", "填表日期：2026年12月1日"])
    wb.save(path)
    return pd.DataFrame(rows, columns=["n", "name", *top[2:]]), groups


@pytest.fixture(scope="module")
def roster_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):  # noqa: ANN201
    """One run of a roster kept the usual way, on the 贵溪 and 南京 extracts (no hospitals, short limits)."""
    from geo_planner.pipeline import run
    from geo_planner.settings import scenario_from_dict

    from ..support.paths import GUIXI, NANJING

    folder = tmp_path_factory.mktemp("roster-run")
    roster, groups = _run_roster(folder / "members.xlsx", seed=19)
    lines = ["编号,支部名称,经度,纬度"]
    for extract in ("guixi", "nanjing"):
        cx, cy = CENTRE[extract]
        for k, (bid, full, _short) in enumerate(BRANCHES[extract]["branches"]):  # type: ignore[arg-type]
            lines.append(f"{bid},{full},{cx + 0.0005 * k:.6f},{cy:.6f}")
    (folder / "branches.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "stations.csv").write_text(
        "名称,经度,纬度\n花园社区桑榆红驿站,117.239785,28.2907838\n玄武老党员之家,118.7880,32.0460\n", encoding="utf-8")
    scenario = scenario_from_dict({
        "name": "roster", "network": {"osm": [str(GUIXI), str(NANJING)], "cache_dir": str(cache_dir)},
        "inputs": {"members": str(folder / "members.xlsx"), "branches": str(folder / "branches.csv"),
                   "stations": str(folder / "stations.csv")},
        "siting": {"new_stations": 1, "time_limit_s": 10, "decision_time_limit_s": 10},
        "report": {"pdf": False},
    }, base_dir=folder)
    out = folder / "out"
    run(scenario, out)
    members = pd.read_csv(out / "members.csv", dtype=str, encoding="utf-8-sig").set_index("name", drop=False)
    rej = pd.read_csv(out / "rejections.csv", encoding="utf-8-sig", dtype={"row": "Int64"})
    recs = pd.read_csv(out / "recommendations.csv", encoding="utf-8-sig", dtype=str)
    return roster, groups, members, rej, recs, out


def _names(groups: dict[str, list[int]], key: str) -> list[str]:
    return [f"成员{i:03d}" for i in groups[key]]


def test_run_keeps_every_person_and_reports_the_footer(roster_run) -> None:  # noqa: ANN001
    roster, groups, members, rej, _, _ = roster_run
    assert len(members) == len(roster) and set(members.index) == set(roster["name"])
    assert (rej["action"] == "rejected").sum() == 0
    assert (rej["action"] == "not_a_member").sum() == 2  # 合计 and the 填表人 line
    for name in _names(groups, "unknown"):
        assert members.loc[name, "branch_status"] == "unknown_branch" and members.loc[name, "branch_id"] != members.loc[name, "branch_id"]  # noqa: PLR0124 - NaN: no branch
        assert members.loc[name, "station_status"] == "ok"  # still counted for stations
    for name in _names(groups, "blank"):
        assert members.loc[name, "network_status"] == "no_location" and members.loc[name, "branch_id"] in ("B03", "N03")


@pytest.mark.parametrize("extract", ["guixi", "nanjing"])
def test_remote_from_the_address_text(roster_run, extract: str) -> None:  # noqa: ANN001
    _, groups, members, _, recs, _ = roster_run
    names = _names(groups, "elsewhere")
    start = 0 if extract == "guixi" else len(ELSEWHERE["guixi"])
    for name, (address, city, county) in zip(names[start:], ELSEWHERE[extract], strict=False):
        row = members.loc[name]
        assert row["dispersion_reason"] == "remote", (address, row["geocode_precision"])
        assert row["member_city"] == city
        assert row["geocode_precision"] == ("county" if county else "city")
        if county:
            assert row["member_county"] == county
        else:
            assert row["member_county"] != row["member_county"]  # NaN: a city's centre names no county
        assert row["network_status"] == "imprecise_location" and row["walk_min_station"] != row["walk_min_station"]
    # the 异地支部 recommendations count them: one per city with ≥ 3, else mobile members
    remote = recs[recs["kind"].isin(["remote_branch", "mobile_member"])]
    counted = {m for ids in remote["member_ids"] for m in ids.split(";")}
    ids = members.set_index("name")["id"]
    for name in names[start:start + len(ELSEWHERE[extract])]:
        assert ids[name] in counted, name
    if extract == "guixi":
        nanchang = remote[remote["name"].str.startswith("南昌市")]
        assert len(nanchang) == 1 and nanchang["kind"].iat[0] == "remote_branch"
        assert int(nanchang["n_members"].iat[0]) == 3


@pytest.mark.parametrize("extract", ["guixi", "nanjing"])
def test_outside_the_extract_is_not_remote(roster_run, extract: str) -> None:  # noqa: ANN001
    _, groups, members, _, _, _ = roster_run
    start = 0 if extract == "guixi" else len(EDGE["guixi"])
    edge = members.loc[_names(groups, "edge")[start:start + len(EDGE[extract])]]
    assert not edge["dispersion_reason"].fillna("").str.contains("remote").any()
    assert set(edge["network_status"]) <= {"ok", "outside_network"}
    off = edge[edge["network_status"] == "outside_network"]
    assert len(off) >= 1 and off["walk_min_station"].isna().all()
    assert off["dispersion_note"].str.contains("load a larger extract").all()


def test_run_json_and_tradeoff_use_one_meaning_per_name(roster_run) -> None:  # noqa: ANN001
    """``coverage_share`` is the members' share in run.json and tradeoff.csv; the weighted one is named so."""
    import json

    out = roster_run[-1]
    mclp = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]["siting"]["mclp"]
    curve = pd.read_csv(out / "tradeoff.csv", encoding="utf-8-sig")
    row = curve[curve["p"] == mclp["new_sites"]].iloc[0]
    for name in ("coverage_share", "weighted_coverage_share", "members_covered"):
        assert row[name] == pytest.approx(mclp[name], abs=1e-4), name


# --------------------------------------------------------------------------- personal data

def _id(s17: str) -> str:
    """A GB 11643 number: 17 digits and their check digit."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return s17 + "10X98765432"[sum(int(c) * k for c, k in zip(s17, w, strict=True)) % 11]


def test_id_numbers_checked_and_masked_in_exports(tmp_path: Path) -> None:
    from geo_planner.errors import PermissionDeniedError
    from geo_planner.export import export_table
    from geo_planner.privacy import redact_for_role

    good, late = _id("36068119460315123"), _id("36068119500101002")
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    text = ("编号,姓名,所在党支部,住址,出生年月,身份证号,联系电话\n"
            f"1,甲,B1,贵溪市,1946.03,{good},13812345678\n"
            f"2,乙,B1,贵溪市,1946年3月,{late},\n"  # born 1950 by the number: a mismatch
            f"3,丙,B1,贵溪市,1946.03,{wrong_check},0701-1234567\n"
            "4,丁,B1,贵溪市,1946.03,36068119460315,\n"  # 15 characters
            f"5,戊,B1,贵溪市,,{''.join(chr(ord(c) + 0xFEE0) for c in good[:9])} {good[9:].lower()},\n")
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    res = load_layer("members", LayerInput(path=path), reference_date=REF)
    m, rej = res.frame, res.rejections
    assert len(m) == 5 and m["id_number"].iat[4] == good  # full-width/lower case normalised
    reasons = rej[rej["field"] == "身份证号"].set_index("row")["reason"]
    assert set(reasons.index) == {3, 4, 5}
    assert "1950-01-01" in reasons[3] and "出生年月" in reasons[3]
    assert "not valid" in reasons[4] and "not valid" in reasons[5]
    assert good not in " ".join(rej["reason"]) + " ".join(rej["value"])  # messages show it masked
    # planners' exports: masked by default, unmasked only when asked for
    masked = pd.read_csv(export_table(m, tmp_path / "m.csv", table="members", language="en"), dtype=str)
    assert masked["id_number"].iat[0] == good[:6] + "********" + good[-4:]
    assert masked["phone"].iat[0] == "138****5678"
    full = pd.read_csv(export_table(m, tmp_path / "full.csv", table="members", language="en", personal=True),
                       dtype=str)
    assert full["id_number"].iat[0] == good and full["phone"].iat[0] == "13812345678"
    # viewers never see a member row, so never an ID number
    with pytest.raises(PermissionDeniedError):
        redact_for_role(m, "members", "viewer")


def test_no_id_column_made_up(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("编号,所在党支部,住址\n1,B1,贵溪市\n", encoding="utf-8")
    assert "id_number" not in load_layer("members", LayerInput(path=path), reference_date=REF).frame.columns
