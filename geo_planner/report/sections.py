"""The report's sections, each a list of HTML pieces, in the order they are printed.

Aggregates only: a count or figure describing fewer than :data:`~.charts.SMALL_CELL` people is
left out (the small-cell rule of :mod:`geo_planner.privacy`).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..privacy import VIEWER_CELL_M, small_count, small_recommendations
from ..siting.plan import siting_members
from ..vocab import IMPRECISE_LOCATION, KIND_LABELS
from ..zhformat import date_zh
from .charts import (
    MODEL_NAMES,
    SMALL_CELL,
    Charts,
    chart_areas,
    chart_equity,
    chart_map,
    chart_phases,
    chart_reasons,
    chart_sensitivity,
    chart_tradeoff,
    shown_areas,
)
from .page import count, figure, num, pct, table, tr

if TYPE_CHECKING:
    from ..run_result import RunResult

__all__ = ["equity", "header", "phased_plan", "recommendations", "sensitivity", "situation", "tradeoff"]

#: Organisation recommendations by kind, as ``(zh, en)`` list labels (English in the plural).
_ORG_KINDS: dict[str, tuple[str, str]] = {
    kind: (KIND_LABELS["zh"][kind], en)
    for kind, en in (("joint_branch", "joint branches"), ("transfer", "transfers"),
                     ("party_group", "party groups"), ("remote_branch", "remote branches"),
                     ("mobile_member", "mobile members"))
}
_SITING_MODELS = ("mclp", "lscp", "p_median", "p_center")


def header(result: RunResult) -> list[str]:
    """Return the language button, the title and the line saying what the report is."""
    sc = result.scenario
    today = datetime.now().date()
    return [
        '<button id="lang" type="button">中文 / English</button>',
        f"<h1>{html.escape(sc.name)}</h1>",
        f'<p class="note">{tr("离退休干部服务覆盖规划报告", "Service-coverage planning report")} · '
        f"{tr(date_zh(today), today.isoformat())} · geo_planner · "
        f'{tr("本报告仅含汇总数据，不含任何个人信息", "aggregates only, no personal data")}</p>',
    ]


def situation(ch: Charts, result: RunResult) -> list[str]:
    """Return section 1: key figures, coverage by township, reasons for dispersion and the map."""
    counts = result.counts
    reasons = counts.get("dispersion_reasons")
    reasons = reasons if isinstance(reasons, dict) else {}
    kpis = "".join(f"<div>{tr(zh, en)}<b>{v}</b></div>" for zh, en, v in _kpis(result))
    parts = [f"<h2>{tr('一、基本情况', '1. The situation in numbers')}</h2>",
             f'<div class="kpi">{kpis}</div>']
    by_area = result.coverage_by_area
    if by_area is not None and len(by_area):
        parts.append(figure(ch.draw(chart_areas, by_area), "各街道(乡镇)驿站步行覆盖率与人数",
                            "station coverage and members by township", "areas"))
        parts.append(_hidden_note(by_area))
    if reasons:
        parts.append(figure(ch.draw(chart_reasons, reasons), "居住分散的原因（一人可有多项）",
                            "why members are dispersed (a member may have several reasons)", "reasons"))
    parts.append(figure(ch.draw(chart_map, result),
                        f"地图：路网、老干部分布（{VIEWER_CELL_M:g}米网格，"
                        f"少于{SMALL_CELL}人的网格不显示）、驿站与建议新站",
                        f"map: roads, members on a {VIEWER_CELL_M:g} m grid "
                        f"(cells under {SMALL_CELL} hidden), stations and recommended sites", "map"))
    return parts


def _kpis(result: RunResult) -> list[tuple[str, str, str]]:
    """Return the key figures as ``(zh, en, value)``."""
    sc = result.scenario
    thr = sc.thresholds
    m = result.members
    n = len(m)
    # shares over the members placed precisely enough for times, as in coverage_by_area
    n_timed = int((m["network_status"] != IMPRECISE_LOCATION).sum()) if "network_status" in m else n
    cov = {c: int(m[c].sum()) for c in ("covered_station", "covered_branch", "covered_hospital") if c in m}
    disp = int(m["dispersed"].sum()) if "dispersed" in m else 0

    def share(col: str) -> str:
        return pct(cov.get(col, 0) / n_timed if n_timed else 0)

    kpis = [("离退休干部", "members", f"{n}"),
            (f"{thr.station_walk_min:g}分钟内有驿站", f"station within {thr.station_walk_min:g} min",
             share("covered_station")),
            (f"{thr.branch_walk_min:g}分钟内到支部", f"branch within {thr.branch_walk_min:g} min",
             share("covered_branch")),
            (f"{thr.hospital_drive_min:g}分钟车程内有医院",
             f"hospital within {thr.hospital_drive_min:g} min drive", share("covered_hospital")),
            ("居住分散", "dispersed", f"{disp}"), ("现有驿站", "stations", f"{len(result.stations)}")]
    beyond = int((m["branch_status"] == "beyond_limit").sum()) if "branch_status" in m else 0
    limit = thr.branch_limit()
    if beyond and limit:  # members whose walk to the branch was only measured to the cut-off
        kpis.insert(3, (f"到支部步行超过{limit:g}分钟", f"walk to branch > {limit:g} min", f"{beyond}"))
    return kpis


def _hidden_note(by_area: pd.DataFrame) -> str:
    """Return the note saying how many townships are too small to be listed ("" when none)."""
    hidden = shown_areas(by_area)[1]
    if not hidden:
        return ""
    zh = f"另有 {hidden} 个街道(乡镇)不足 {SMALL_CELL} 人，不单独列出。"
    en = f"{hidden} townships with fewer than {SMALL_CELL} members are not shown separately."
    return f'<p class="note">{tr(zh, en)}</p>'


def tradeoff(ch: Charts, result: RunResult) -> list[str]:
    """Return section 2: the best coverage for each number of new stations."""
    dec = result.decision
    assert dec is not None
    p_run = result.scenario.siting.new_stations
    p_max = int(dec.tradeoff["p"].max())
    parts = [f"<h2>{tr('二、多建一个站能多覆盖多少人', '2. What each extra station brings')}</h2>",
             figure(ch.draw(chart_tradeoff, dec.tradeoff, p_run),
                    f"新建 0–{p_max} 个驿站的最优覆盖率（每点均为最大覆盖模型最优解），"
                    f"虚线为本次方案 p = {p_run}",
                    f"best coverage for 0–{p_max} new stations (each point a proven "
                    f"maximal covering optimum); dotted line: this run's p = {p_run}", "tradeoff")]
    not_opt = dec.tradeoff[dec.tradeoff["status"] != "optimal"]
    if len(not_opt):
        note = tr("以下点未证明最优（达到时间上限）：", "Not proven optimal (time limit): ")
        parts.append(f'<p class="note">{note}p = {", ".join(str(int(p)) for p in not_opt["p"])}</p>')
    return parts


def equity(ch: Charts, result: RunResult) -> list[str]:
    """Return section 3: who is still left out, per plan and per township."""
    dec = result.decision
    assert dec is not None
    thr = result.scenario.thresholds.station_walk_min
    rows = []
    for name, fig in dec.equity.items():
        zh, en = MODEL_NAMES.get(name, (name, name))
        rows.append([tr(zh, en), num(fig.get("gini"), 3), pct(fig.get("share_beyond")),
                     num(fig.get("p90_min")), num(fig.get("max_min")), str(fig.get("n_unreachable", 0))])
    parts = [f"<h2>{tr('三、公平性：谁仍被落下', '3. Equity: who is still left out')}</h2>",
             figure(ch.draw(chart_equity, dec.minutes, siting_members(result.members), thr),
                    f"步行至最近驿站时间的分布（现状与各模型方案），竖线为 {thr:g} 分钟标准",
                    f"walk to the nearest station, now and with each model's sites; line: {thr:g} min",
                    "equity"),
             table([("方案", "plan"), ("基尼系数", "Gini"), (f"超出{thr:g}分钟比例", f"beyond {thr:g} min"),
                    ("90%分位(分钟)", "90th pct (min)"), ("最长(分钟)", "longest (min)"),
                    ("路网不可达人数", "unreachable")], rows)]
    by_area = result.coverage_by_area
    if by_area is not None and "current_gini" in by_area:
        rows = [[html.escape(str(r["area"])), str(int(r["members"])), pct(r.get("current_share_beyond")),
                 pct(r.get("mclp_share_beyond")), num(r.get("current_p90_min")), num(r.get("mclp_p90_min")),
                 num(r.get("current_gini"), 3)] for _, r in shown_areas(by_area)[0].iterrows()]
        parts.append(table([("街道(乡镇)", "township"), ("人数", "members"), ("现状超标比例", "beyond now"),
                            ("最大覆盖方案后", "beyond after MCLP"), ("现状90%分位", "p90 now"),
                            ("方案后90%分位", "p90 after MCLP"), ("现状基尼系数", "Gini now")], rows))
        parts.append(_hidden_note(by_area) if len(by_area) else "")
    return parts


def recommendations(result: RunResult) -> list[str]:
    """Return section 4: new stations, organisation changes and the models' status."""
    recs = result.recommendations if result.recommendations is not None else pd.DataFrame()
    parts = [f"<h2>{tr('四、建议', '4. Recommendations')}</h2>"]
    if not len(recs):
        return [*parts, f"<p>{tr('本次没有建议。', 'No recommendation in this run.')}</p>"]
    # the report is also the viewer's: a site serving fewer than 5 members shows no count or minutes
    rows = [_site_row(r) for _, r in small_recommendations(recs[recs["kind"] == "new_station"],
                                                         result.scenario.map.language).iterrows()]
    if rows:
        parts.append(table([("编号", "id"), ("模型", "model"), ("选址", "site"), ("受益人数", "members"),
                            ("步行中位数(分钟)", "median walk (min)"), ("稳定性", "stability"),
                            ("理由", "rationale")], rows, "recs"))
    other = recs[recs["kind"] != "new_station"]["kind"].value_counts()
    if len(other):
        items = "".join(f"<li>{tr(*_ORG_KINDS.get(k, (k, k)))}: {int(v)}</li>" for k, v in other.items())
        intro = tr("组织设置建议（详见调整建议表）：", "Branch organisation (see the recommendations table):")
        parts.append(f"<p>{intro}</p><ul>{items}</ul>")
    counts = result.counts
    siting = counts.get("siting", {}) if isinstance(counts.get("siting"), dict) else {}
    models = [(k, v) for k, v in siting.items() if k in _SITING_MODELS and isinstance(v, dict)]
    rows = [[tr(*MODEL_NAMES[k]), str(v.get("new_sites", "")), html.escape(str(v.get("status", ""))),
             num(v.get("gap"), 4), html.escape(str(v.get("method", "")))] for k, v in models]
    parts.append(table([("模型", "model"), ("新建数", "new sites"), ("状态", "status"), ("差距", "gap"),
                        ("方法", "method")], rows))
    return parts


def _site_row(r: pd.Series) -> list[str]:
    """Return a new station's table row: id, model, site, members, minutes, stability, rationale."""
    model = str(r["method"]).split(" ")[0]
    zh, en = MODEL_NAMES.get(model, (model, model))
    return [html.escape(str(r["rec_id"])), tr(zh, en), html.escape(str(r["site_name"])),
            count(r["n_members"]), f"{num(r['before_min'])} → {num(r['after_min'])}",
            pct(r.get("stability")) + " / " + pct(r.get("stability_nearby")),
            tr(str(r["rationale_zh"]), str(r["rationale_en"]))]


def sensitivity(ch: Charts, result: RunResult) -> list[str]:
    """Return section 5: the verdict and coverage under other assumptions, and how stable each site is."""
    dec = result.decision
    assert dec is not None
    ss = dec.summary["sensitivity"]
    recs = result.recommendations
    names: dict[str, Any] = dict(zip(recs["site_id"].astype(str), recs["site_name"].astype(str),
                                     strict=False)) if recs is not None else {}
    return [f"<h2>{tr('五、结论是否稳健', '5. Does the answer hold?')}</h2>",
            f'<p class="verdict">{tr(ss["verdict_zh"], ss["verdict_en"])}</p>',
            figure(ch.draw(chart_sensitivity, dec.sensitivity, dec.stability, dec.stability_nearby, names),
                   "左：不同步行标准、速度(±20%)与定位误差下的覆盖率；右：各推荐站点再次入选的比例",
                   "left: coverage under other thresholds, speeds (±20 %) and geocoding draws; right: how "
                   "often each recommended site is chosen again", "sensitivity")]


def phased_plan(ch: Charts, result: RunResult) -> list[str]:
    """Return section 6: the year-by-year plan and how close each year is to the best possible."""
    dec = result.decision
    assert dec is not None
    ph = dec.phased_plan
    ps = dec.summary["phased_plan"]
    base_share = float(dec.tradeoff["weighted_coverage_share"].iloc[0]) if len(dec.tradeoff) else 0.0
    rows = [[str(int(r["year"])), html.escape(str(r["site_name"]) or "—"),
             count(small_count(r["new_members"])), pct(r["year_weighted_share"]),
             pct(r["horizon_optimum_share"]), tr("是", "yes") if r["optimal_at_horizon"] else tr("否", "no"),
             html.escape(str(r["note"] or ""))]
            for _, r in ph.iterrows()]
    parts = [f"<h2>{tr('六、分年度建设计划', '6. The phased plan')}</h2>",
             figure(ch.draw(chart_phases, ph, base_share),
                    f"每年新建不超过 {ps['per_year']} 个、共 {ps['years']} 年的累计覆盖率，"
                    "圆圈为同等站点数的最优值",
                    f"coverage year by year ({ps['per_year']} a year, {ps['years']} years); "
                    "circles: the best any plan of that size reaches", "phased"),
             table([("年度", "year"), ("新建站点", "site"), ("新增覆盖人数", "newly served"),
                    ("累计覆盖率", "coverage"), ("同等最优", "best possible"), ("最优", "optimal"),
                    ("说明", "note")], rows)]
    if ps.get("optimal_at_every_horizon"):
        done = tr("该计划在每一年都达到同等站点数下的最优覆盖。", "The plan is optimal at every year.")
        parts.append(f"<p>{done}</p>")
    return parts
