"""The printable planner report: ``report.html`` (and ``report.pdf`` through headless Chromium).

One self-contained HTML page a 老干部局 can print or put on a screen in a meeting of the
organisation department: the situation in numbers (members, coverage by area, dispersed
members by reason), the map as a static picture, the trade-off curve and equity charts, the
recommendations with their rationale and stability, the sensitivity verdict and the phased
plan. Chinese by default, English one click away (both texts are in the page; a button
switches ``<html lang>``), and printable (``@media print``).

**No member data**: the report holds aggregates only — counts per area and per reason,
members drawn as counts on the viewer grid (``privacy.VIEWER_CELL_M`` cells, cells with
fewer than ``SMALL_CELL`` members hidden), recommendations with counts and their texts but
never member ids, names or addresses. So the one report is also the viewer version.

Charts are PNG pictures drawn with matplotlib's object API (no global pyplot state, safe in the
service's worker threads) and embedded as data URIs, so the file opens offline. The map is a
matplotlib rendering of the layers (walking network, member grid, stations, new sites) rather
than a screenshot of the Folium map: it needs no tiles, no browser and no network, and looks
the same in the PDF. The PDF is printed by headless Chromium when it is installed
(``chromium --headless --print-to-pdf``); without it the report is still written and
``run.json`` says why there is no PDF.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .atomic import atomic_write
from .privacy import VIEWER_CELL_M, small_count, small_recommendations
from .zhformat import date_zh

if TYPE_CHECKING:
    from .pipeline import RunResult

log = logging.getLogger(__name__)

__all__ = ["SMALL_CELL", "find_chromium", "render_report", "write_report"]

#: Grid cells with fewer members than this are not drawn (the viewer rule of the maps).
SMALL_CELL = 5
MODEL_NAMES = {
    "current": ("现状", "current"), "mclp": ("最大覆盖", "maximal covering"), "lscp": ("集合覆盖", "set covering"),
    "p_median": ("p-中位", "p-median"), "p_center": ("p-中心", "p-center"),
}
REASONS = {"remote": ("异地居住", "lives in another city"), "cross_township": ("跨街道(乡镇)居住", "another township"),
           "far": ("距支部过远", "far from the branch")}
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "SimHei", "Microsoft YaHei", "PingFang SC", "Noto Serif CJK SC")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in _CJK_FONTS if n in names), None)


# ----------------------------------------------------------------------------- charts


class _Charts:
    """Draws figures with the matplotlib object API and returns them as PNG data URIs."""

    def __init__(self) -> None:
        import matplotlib

        self.font = _cjk_font()
        self.rc = {"font.family": [self.font, "DejaVu Sans"] if self.font else ["DejaVu Sans"],
                   "axes.unicode_minus": False, "font.size": 9}
        self._mpl = matplotlib

    def label(self, zh: str, en: str) -> str:
        """Both languages where a CJK font exists, else English."""
        return f"{zh} {en}" if self.font else en

    def figure(self, w: float = 7.0, h: float = 3.6) -> Any:
        from matplotlib.figure import Figure

        return Figure(figsize=(w, h), dpi=96, layout="constrained")

    def png(self, fig: Any) -> str:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

    def draw(self, fn: Any, *args: Any, **kw: Any) -> str:
        with self._mpl.rc_context(self.rc):
            return fn(self, *args, **kw)


def _chart_tradeoff(ch: _Charts, curve: pd.DataFrame, p_run: int) -> str:
    fig = ch.figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(curve["p"], curve["marginal_share"] * 100, color="#c6dbef", label=ch.label("每增一站的增益", "gain of each site"))
    ax.plot(curve["p"], curve["weighted_coverage_share"] * 100, "o-", color="#b2182b",
            label=ch.label("覆盖率(加权)", "coverage (weighted)"))
    ax.plot(curve["p"], curve["coverage_share"] * 100, "s--", color="#2166ac", ms=4,
            label=ch.label("覆盖率(人数)", "coverage (members)"))
    ax.axvline(p_run, color="grey", ls=":", lw=1)
    ax.set_xlabel(ch.label("新建驿站数", "new stations p"))
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_xticks(curve["p"])
    ax.legend(loc="center right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ch.png(fig)


def _chart_equity(ch: _Charts, minutes: dict[str, np.ndarray], population: np.ndarray, thr: float) -> str:
    fig = ch.figure()
    ax = fig.add_subplot(1, 1, 1)
    cap = max(4 * thr, 60.0)
    grid = np.linspace(0, cap, 241)
    for name, values in minutes.items():
        t = np.sort(np.where(np.isnan(values[population]), np.inf, values[population]))
        if t.size == 0:
            continue
        share = np.searchsorted(t, grid, side="right") / t.size * 100
        zh, en = MODEL_NAMES.get(name, (name, name))
        ax.plot(grid, share, lw=2.2 if name == "current" else 1.4, ls="-" if name == "current" else "--",
                label=ch.label(zh, en))
    ax.axvline(thr, color="grey", ls=":", lw=1)
    ax.set_xlabel(ch.label("步行至最近驿站(分钟)", "walk to the nearest station (min)"))
    ax.set_ylabel(ch.label("老干部累计比例 %", "members, cumulative %"))
    ax.set_xlim(0, cap)
    ax.set_ylim(0, 100)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return ch.png(fig)


def _shown_areas(by_area: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Township rows with at least ``SMALL_CELL`` members (the viewer rule), and how many were hidden."""
    t = by_area[by_area["level"] == "township"]
    big = pd.to_numeric(t["members"], errors="coerce").fillna(0) >= SMALL_CELL
    return t[big], int((~big).sum())


def _chart_areas(ch: _Charts, by_area: pd.DataFrame) -> str:
    t = _shown_areas(by_area)[0].sort_values("share_covered_station")
    fig = ch.figure(7.0, max(2.0, 0.32 * len(t) + 0.8))
    ax = fig.add_subplot(1, 1, 1)
    labels = t["area"].astype(str) if ch.font else [f"area {i + 1}" for i in range(len(t))]
    ax.barh(list(labels), t["share_covered_station"] * 100, color="#4393c3")
    for y, (v, n) in enumerate(zip(t["share_covered_station"], t["members"], strict=True)):
        ax.text(min(v * 100 + 1, 92), y, f"{v:.0%} · {int(n)}", va="center", fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel(ch.label("15分钟驿站覆盖率 %", "station coverage %"))
    return ch.png(fig)


def _chart_reasons(ch: _Charts, counts: dict[str, int]) -> str:
    fig = ch.figure(5.0, 2.2)
    ax = fig.add_subplot(1, 1, 1)
    keys = [k for k in REASONS if counts.get(k)]
    ax.barh([ch.label(*REASONS[k]) for k in keys], [counts[k] for k in keys], color="#f4a582")
    for y, k in enumerate(keys):
        ax.text(counts[k], y, f" {counts[k]}", va="center", fontsize=8)
    ax.set_xlabel(ch.label("人数", "members"))
    return ch.png(fig)


def _chart_sensitivity(ch: _Charts, sens: pd.DataFrame, stability: dict[str, Any], nearby: dict[str, Any],
                       names: dict[str, str]) -> str:
    fig = ch.figure(7.0, 3.4)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.4, 1])
    rows = sens[sens["kind"] != "geocode_uncertainty"]
    draws = sens[sens["kind"] == "geocode_uncertainty"]
    labels = list(rows["scenario"])
    vals = list(rows["weighted_coverage_share"] * 100)
    base_vals = list(rows["base_sites_coverage_share"] * 100)
    if len(draws):
        labels.append(f"geocode ×{len(draws)}")
        vals.append(float(draws["weighted_coverage_share"].mean() * 100))
        base_vals.append(float(draws["base_sites_coverage_share"].mean() * 100))
    y = np.arange(len(labels))
    ax1.barh(y + 0.2, vals, 0.4, color="#92c5de", label=ch.label("重新优化", "re-optimised"))
    ax1.barh(y - 0.2, base_vals, 0.4, color="#d6604d", label=ch.label("原推荐站点", "recommended sites"))
    ax1.set_yticks(y, labels, fontsize=7)
    ax1.set_xlim(0, 100)
    ax1.set_xlabel(ch.label("覆盖率(加权) %", "coverage %"))
    ax1.legend(fontsize=7, loc="lower right")
    ids = list(stability)
    lab = [names.get(i, i) if ch.font else i for i in ids]
    yy = np.arange(len(ids))
    ax2.barh(yy + 0.2, [100 * (nearby.get(i) or 0) for i in ids], 0.4, color="#b8e186",
             label=ch.label("含附近替代点", "incl. nearby"))
    ax2.barh(yy - 0.2, [100 * (stability.get(i) or 0) for i in ids], 0.4, color="#4d9221",
             label=ch.label("同一站点", "same site"))
    ax2.set_yticks(yy, lab, fontsize=7)
    ax2.set_xlim(0, 100)
    ax2.axvline(50, color="grey", ls=":", lw=1)
    ax2.set_xlabel(ch.label("再次入选 %", "chosen again %"))
    ax2.legend(fontsize=7, loc="lower right")
    return ch.png(fig)


def _chart_phases(ch: _Charts, phased: pd.DataFrame, base_share: float) -> str:
    years = phased.groupby("year").first().reset_index()
    fig = ch.figure(5.5, 2.8)
    ax = fig.add_subplot(1, 1, 1)
    x = np.r_[0, years["year"].to_numpy()]
    ax.step(x, np.r_[base_share, years["year_weighted_share"]] * 100, where="post", color="#b2182b",
            label=ch.label("计划", "plan"))
    ax.plot(years["year"], years["horizon_optimum_share"] * 100, "o", mfc="none", color="#2166ac",
            label=ch.label("同等站点数最优", "best at that horizon"))
    ax.set_xticks(x)
    ax.set_xlabel(ch.label("年度", "year"))
    ax.set_ylabel(ch.label("覆盖率(加权) %", "coverage %"))
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return ch.png(fig)


def _chart_map(ch: _Charts, result: RunResult) -> str:
    """Draw the layers as a static picture: roads, members on the viewer grid, stations, new sites."""
    from matplotlib.collections import LineCollection

    m = result.members
    walk = result.walk
    lon = pd.to_numeric(m["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(m["lat"], errors="coerce").to_numpy(float)
    reason = m.get("dispersion_reason", pd.Series("", index=m.index)).fillna("").astype(str)
    ok = np.isfinite(lon) & np.isfinite(lat) & ~reason.str.contains("remote").to_numpy()
    recs = result.recommendations if result.recommendations is not None else pd.DataFrame()
    new = recs[recs["kind"] == "new_station"] if len(recs) else recs
    pts_lon = np.r_[lon[ok], result.stations["lon"].to_numpy(float)]
    pts_lat = np.r_[lat[ok], result.stations["lat"].to_numpy(float)]
    if pts_lon.size == 0:
        pts_lon, pts_lat = walk.node_lon, walk.node_lat
    x0, x1 = np.nanpercentile(pts_lon, [1, 99])
    y0, y1 = np.nanpercentile(pts_lat, [1, 99])
    pad_x, pad_y = max((x1 - x0) * 0.08, 0.004), max((y1 - y0) * 0.08, 0.004)
    x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y
    k = np.cos(np.radians((y0 + y1) / 2))
    aspect = (y1 - y0) / max((x1 - x0) * k, 1e-9)
    fig = ch.figure(7.0, float(np.clip(7.0 * aspect, 3.5, 9.0)))
    ax = fig.add_subplot(1, 1, 1)
    u, v = walk.edge_u, walk.edge_v
    ex, ey = np.c_[walk.node_lon[u], walk.node_lon[v]], np.c_[walk.node_lat[u], walk.node_lat[v]]
    inside = ((ex >= x0) & (ex <= x1) & (ey >= y0) & (ey <= y1)).any(axis=1)
    segs = np.stack([np.c_[ex[inside, 0], ey[inside, 0]], np.c_[ex[inside, 1], ey[inside, 1]]], axis=1)
    ax.add_collection(LineCollection(segs, colors="#bbbbbb", linewidths=0.4, zorder=1))
    # members as counts on the viewer grid, small cells hidden
    cx = VIEWER_CELL_M / (111_320.0 * k)
    cy = VIEWER_CELL_M / 110_540.0
    gx, gy = np.floor(lon[ok] / cx), np.floor(lat[ok] / cy)
    if gx.size:
        cells, n = np.unique(np.c_[gx, gy], axis=0, return_counts=True)
        big = n >= SMALL_CELL
        sc = ax.scatter((cells[big, 0] + 0.5) * cx, (cells[big, 1] + 0.5) * cy, s=90, c=n[big], cmap="YlOrRd",
                        marker="s", alpha=0.75, zorder=2, edgecolors="none")
        if big.any():
            fig.colorbar(sc, ax=ax, shrink=0.6, label=ch.label(f"每{VIEWER_CELL_M:g}米网格人数",
                                                               f"members per {VIEWER_CELL_M:g} m cell"))
    st = result.stations
    ax.scatter(st["lon"], st["lat"], marker="o", s=46, c="#2166ac", edgecolors="white", zorder=3,
               label=ch.label("现有驿站", "existing station"))
    styles = {"mclp": ("*", "#b2182b", 160), "lscp": ("P", "#762a83", 70), "p_median": ("D", "#1b7837", 46),
              "p_center": ("^", "#e08214", 70)}
    if len(new):
        model = new["method"].astype(str).str.split(" ").str[0]
        for key, (mk, col, size) in styles.items():
            sel = new[model == key]
            if len(sel):
                zh, en = MODEL_NAMES[key]
                ax.scatter(sel["lon"].astype(float), sel["lat"].astype(float), marker=mk, s=size, c=col,
                           edgecolors="black", linewidths=0.5, zorder=4, label=ch.label(f"新建（{zh}）", f"new ({en})"))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1 / k)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    ax.set_title("© OpenStreetMap contributors (ODbL)", fontsize=7, loc="right")
    return ch.png(fig)


# ----------------------------------------------------------------------------- HTML


def _t(zh: str, en: str, tag: str = "span") -> str:
    return f'<{tag} class="zh">{html.escape(zh)}</{tag}><{tag} class="en">{html.escape(en)}</{tag}>'


def _pct(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(f) else f"{f:.1%}"


def _num(v: Any, digits: int = 1) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(f) else f"{f:.{digits}f}"


def _count(v: Any) -> str:
    """A whole number of people, or "<5" where the small-cell rule left it empty."""
    return "<5" if v is None or pd.isna(v) else str(int(v))


def _table(header: list[tuple[str, str]], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{_t(zh, en)}</th>" for zh, en in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _img(src: str, zh: str, en: str, name: str) -> str:
    return (f'<figure><img class="chart" data-chart="{name}" src="{src}" alt="{html.escape(en)}">'
            f"<figcaption>{_t(zh, en)}</figcaption></figure>")


_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
 max-width:960px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.2em;border-bottom:2px solid #b2182b;margin-top:1.6em}
html[lang=zh] .en{display:none} html[lang=en] .zh{display:none}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.6em 0} th,td{border:1px solid #ccc;padding:3px 6px;
 text-align:left;vertical-align:top} th{background:#f3f3f3}
.kpi{display:flex;flex-wrap:wrap;gap:.6em} .kpi div{border:1px solid #ddd;border-radius:6px;padding:.4em .8em;min-width:9em}
.kpi b{display:block;font-size:1.4em;color:#b2182b}
figure{margin:.8em 0;text-align:center} img.chart{max-width:100%} figcaption{font-size:.85em;color:#555}
.verdict{background:#fff7e6;border-left:4px solid #e08214;padding:.5em .8em}
.note{font-size:.8em;color:#666} #lang{float:right}
@media print{#lang{display:none} h2{break-before:auto} figure,table{break-inside:avoid} body{max-width:none}}
"""

_JS = """
document.getElementById('lang').addEventListener('click', function () {
  var h = document.documentElement; h.lang = (h.lang === 'zh') ? 'en' : 'zh';
});
"""


def render_report(result: RunResult) -> str:
    """Render the report as one self-contained HTML string (aggregates only; see the module docstring).

    Parameters
    ----------
    result
        A finished run with its decision-support results (``result.decision``).

    Returns
    -------
    str
        HTML with the charts embedded as PNG data URIs.
    """
    sc = result.scenario
    thr = sc.thresholds.station_walk_min
    lang = sc.map.language
    dec = result.decision
    m = result.members
    ch = _Charts()
    counts = result.counts
    siting = counts.get("siting", {}) if isinstance(counts.get("siting"), dict) else {}
    n = len(m)
    # shares over the members placed precisely enough for times, as in coverage_by_area
    n_timed = int((m["network_status"] != "imprecise_location").sum()) if "network_status" in m else n
    parts: list[str] = []
    today = datetime.now().date()
    parts.append('<button id="lang" type="button">中文 / English</button>')
    parts.append(f"<h1>{html.escape(sc.name)}</h1>")
    parts.append(f'<p class="note">{_t("离退休干部服务覆盖规划报告", "Service-coverage planning report")} · '
                 f"{_t(date_zh(today), today.isoformat())} · geo_planner · "
                 f'{_t("本报告仅含汇总数据，不含任何个人信息", "aggregates only, no personal data")}</p>')

    # 1. situation in numbers
    cov = {c: int(m[c].sum()) for c in ("covered_station", "covered_branch", "covered_hospital") if c in m}
    disp = int(m["dispersed"].sum()) if "dispersed" in m else 0
    reasons = counts.get("dispersion_reasons", {}) if isinstance(counts.get("dispersion_reasons"), dict) else {}
    kpis = [("离退休干部", "members", f"{n}"),
            (f"{thr:g}分钟内有驿站", f"station within {thr:g} min", _pct(cov.get("covered_station", 0) / n_timed if n_timed else 0)),
            (f"{sc.thresholds.branch_walk_min:g}分钟内到支部", f"branch within {sc.thresholds.branch_walk_min:g} min",
             _pct(cov.get("covered_branch", 0) / n_timed if n_timed else 0)),
            (f"{sc.thresholds.hospital_drive_min:g}分钟车程内有医院",
             f"hospital within {sc.thresholds.hospital_drive_min:g} min drive",
             _pct(cov.get("covered_hospital", 0) / n_timed if n_timed else 0)),
            ("居住分散", "dispersed", f"{disp}"), ("现有驿站", "stations", f"{len(result.stations)}")]
    parts.append(f"<h2>{_t('一、基本情况', '1. The situation in numbers')}</h2>")
    parts.append('<div class="kpi">' + "".join(f"<div>{_t(zh, en)}<b>{v}</b></div>" for zh, en, v in kpis) + "</div>")
    by_area = result.coverage_by_area
    hidden_note = ""
    if by_area is not None and len(by_area):
        shown, hidden = _shown_areas(by_area)
        if hidden:
            zh = f"另有 {hidden} 个街道(乡镇)不足 {SMALL_CELL} 人，不单独列出。"
            en = f"{hidden} townships with fewer than {SMALL_CELL} members are not shown separately."
            hidden_note = f'<p class="note">{_t(zh, en)}</p>'
        parts.append(_img(ch.draw(_chart_areas, by_area), "各街道(乡镇)驿站步行覆盖率与人数",
                          "station coverage and members by township", "areas"))
        parts.append(hidden_note)
    if reasons:
        parts.append(_img(ch.draw(_chart_reasons, reasons), "居住分散的原因（一人可有多项）",
                          "why members are dispersed (a member may have several reasons)", "reasons"))
    parts.append(_img(ch.draw(_chart_map, result), f"地图：路网、老干部分布（{VIEWER_CELL_M:g}米网格，少于{SMALL_CELL}人的网格不显示）、驿站与建议新站",
                      f"map: roads, members on a {VIEWER_CELL_M:g} m grid (cells under {SMALL_CELL} hidden), stations "
                      "and recommended sites", "map"))

    # 2. equity and the trade-off curve
    if dec is not None:
        from .siting.plan import siting_members

        population = siting_members(m)
        parts.append(f"<h2>{_t('二、多建一个站能多覆盖多少人', '2. What each extra station brings')}</h2>")
        p_run = sc.siting.new_stations
        parts.append(_img(ch.draw(_chart_tradeoff, dec.tradeoff, p_run),
                          f"新建 0–{int(dec.tradeoff['p'].max())} 个驿站的最优覆盖率（每点均为最大覆盖模型最优解），虚线为本次方案 p = {p_run}",
                          f"best coverage for 0–{int(dec.tradeoff['p'].max())} new stations (each point a proven "
                          f"maximal covering optimum); dotted line: this run's p = {p_run}", "tradeoff"))
        not_opt = dec.tradeoff[dec.tradeoff["status"] != "optimal"]
        if len(not_opt):
            parts.append(f'<p class="note">{_t("以下点未证明最优（达到时间上限）：", "Not proven optimal (time limit): ")}'
                         f"p = {', '.join(str(int(p)) for p in not_opt['p'])}</p>")
        rows = []
        for name, fig in dec.equity.items():
            zh, en = MODEL_NAMES.get(name, (name, name))
            rows.append([_t(zh, en), _num(fig.get("gini"), 3), _pct(fig.get("share_beyond")), _num(fig.get("p90_min")),
                         _num(fig.get("max_min")), str(fig.get("n_unreachable", 0))])
        parts.append(f"<h2>{_t('三、公平性：谁仍被落下', '3. Equity: who is still left out')}</h2>")
        parts.append(_img(ch.draw(_chart_equity, dec.minutes, population, thr),
                          f"步行至最近驿站时间的分布（现状与各模型方案），竖线为 {thr:g} 分钟标准",
                          f"walk to the nearest station, now and with each model's sites; line: {thr:g} min", "equity"))
        parts.append(_table([("方案", "plan"), ("基尼系数", "Gini"), (f"超出{thr:g}分钟比例", f"beyond {thr:g} min"),
                             ("90%分位(分钟)", "90th pct (min)"), ("最长(分钟)", "longest (min)"),
                             ("路网不可达人数", "unreachable")], rows))
        if by_area is not None and "current_gini" in by_area:
            t = _shown_areas(by_area)[0]
            rows = [[html.escape(str(r["area"])), str(int(r["members"])), _pct(r.get("current_share_beyond")),
                     _pct(r.get("mclp_share_beyond")), _num(r.get("current_p90_min")), _num(r.get("mclp_p90_min")),
                     _num(r.get("current_gini"), 3)] for _, r in t.iterrows()]
            parts.append(_table([("街道(乡镇)", "township"), ("人数", "members"), ("现状超标比例", "beyond now"),
                                 ("最大覆盖方案后", "beyond after MCLP"), ("现状90%分位", "p90 now"),
                                 ("方案后90%分位", "p90 after MCLP"), ("现状基尼系数", "Gini now")], rows))
            parts.append(hidden_note)

    # 4. recommendations
    recs = result.recommendations if result.recommendations is not None else pd.DataFrame()
    parts.append(f"<h2>{_t('四、建议', '4. Recommendations')}</h2>")
    if len(recs):
        # the report is also the viewer's: a site serving fewer than 5 members shows no count or minutes
        st = small_recommendations(recs[recs["kind"] == "new_station"], lang)
        rows = []
        for _, r in st.iterrows():
            model = str(r["method"]).split(" ")[0]
            zh, en = MODEL_NAMES.get(model, (model, model))
            rows.append([html.escape(str(r["rec_id"])), _t(zh, en), html.escape(str(r["site_name"])),
                         _count(r["n_members"]), f"{_num(r['before_min'])} → {_num(r['after_min'])}",
                         _pct(r.get("stability")) + " / " + _pct(r.get("stability_nearby")),
                         _t(str(r["rationale_zh"]), str(r["rationale_en"]))])
        if rows:
            parts.append(_table([("编号", "id"), ("模型", "model"), ("选址", "site"), ("受益人数", "members"),
                                 ("步行中位数(分钟)", "median walk (min)"), ("稳定性", "stability"),
                                 ("理由", "rationale")], rows, "recs"))
        other = recs[recs["kind"] != "new_station"]["kind"].value_counts()
        labels = {"joint_branch": ("联合党支部", "joint branches"), "transfer": ("就近参加活动", "transfers"),
                  "party_group": ("党小组", "party groups"), "remote_branch": ("异地支部", "remote branches"),
                  "mobile_member": ("流动党员", "mobile members")}
        if len(other):
            items = "".join(f"<li>{_t(*labels.get(k, (k, k)))}: {int(v)}</li>" for k, v in other.items())
            parts.append(f"<p>{_t('组织设置建议（详见调整建议表）：', 'Branch organisation (see the recommendations table):')}</p>"
                         f"<ul>{items}</ul>")
        models = [(k, v) for k, v in siting.items()
                  if k in ("mclp", "lscp", "p_median", "p_center") and isinstance(v, dict)]
        rows = [[_t(*MODEL_NAMES[k]), str(v.get("new_sites", "")), html.escape(str(v.get("status", ""))),
                 _num(v.get("gap"), 4), html.escape(str(v.get("method", "")))] for k, v in models]
        parts.append(_table([("模型", "model"), ("新建数", "new sites"), ("状态", "status"), ("差距", "gap"),
                             ("方法", "method")], rows))
    else:
        parts.append(f"<p>{_t('本次没有建议。', 'No recommendation in this run.')}</p>")

    if dec is not None:
        # 5. sensitivity
        ss = dec.summary["sensitivity"]
        parts.append(f"<h2>{_t('五、结论是否稳健', '5. Does the answer hold?')}</h2>")
        parts.append(f'<p class="verdict">{_t(ss["verdict_zh"], ss["verdict_en"])}</p>')
        names = dict(zip(result.recommendations["site_id"].astype(str), result.recommendations["site_name"].astype(str),
                         strict=False)) if result.recommendations is not None else {}
        parts.append(_img(ch.draw(_chart_sensitivity, dec.sensitivity, dec.stability, dec.stability_nearby, names),
                          "左：不同步行标准、速度(±20%)与定位误差下的覆盖率；右：各推荐站点再次入选的比例",
                          "left: coverage under other thresholds, speeds (±20 %) and geocoding draws; right: how "
                          "often each recommended site is chosen again", "sensitivity"))
        # 6. phased plan
        ph = dec.phased_plan
        ps = dec.summary["phased_plan"]
        parts.append(f"<h2>{_t('六、分年度建设计划', '6. The phased plan')}</h2>")
        base_share = float(dec.tradeoff["weighted_coverage_share"].iloc[0]) if len(dec.tradeoff) else 0.0
        parts.append(_img(ch.draw(_chart_phases, ph, base_share),
                          f"每年新建不超过 {ps['per_year']} 个、共 {ps['years']} 年的累计覆盖率，圆圈为同等站点数的最优值",
                          f"coverage year by year ({ps['per_year']} a year, {ps['years']} years); circles: the best "
                          "any plan of that size reaches", "phased"))
        rows = [[str(int(r["year"])), html.escape(str(r["site_name"]) or "—"), _count(small_count(r["new_members"])),
                 _pct(r["year_weighted_share"]), _pct(r["horizon_optimum_share"]),
                 _t("是", "yes") if r["optimal_at_horizon"] else _t("否", "no"), html.escape(str(r["note"] or ""))]
                for _, r in ph.iterrows()]
        parts.append(_table([("年度", "year"), ("新建站点", "site"), ("新增覆盖人数", "newly served"),
                             ("累计覆盖率", "coverage"), ("同等最优", "best possible"), ("最优", "optimal"),
                             ("说明", "note")], rows))
        if ps.get("optimal_at_every_horizon"):
            parts.append(f"<p>{_t('该计划在每一年都达到同等站点数下的最优覆盖。', 'The plan is optimal at every year.')}</p>")
    source = _t("数据来源：OpenStreetMap 路网（© OpenStreetMap contributors, ODbL）；各模型由 HiGHS 求解。",
                "Roads: © OpenStreetMap contributors (ODbL); models solved with HiGHS.")
    parts.append(f'<p class="note">{source}</p>')
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(sc.name)}</title><style>{_CSS}</style></head>"
            f"<body>{body}<script>{_JS}</script></body></html>")


def print_pdf(html_path: Path, pdf_path: Path, *, chromium: str | None = None, timeout_s: float = 120.0) -> str | None:
    """Print an HTML file to PDF with headless Chromium.

    Returns
    -------
    str or None
        ``None`` on success, else why there is no PDF (Chromium missing, failed, timed out).
    """
    exe = chromium or find_chromium()
    if exe is None:
        return "chromium is not installed; report.pdf not written (report.html prints from any browser)"
    with tempfile.TemporaryDirectory(prefix="gp-report-") as tmp:
        out = Path(tmp) / "report.pdf"
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run",
               "--disable-background-networking", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
               f"--print-to-pdf={out}", html_path.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return f"chromium did not print the report within {timeout_s:g} s"
        if not out.is_file() or out.stat().st_size == 0 or out.read_bytes()[:5] != b"%PDF-":
            tail = proc.stderr.decode("utf-8", "replace")[-300:]
            return f"chromium could not print the report (exit {proc.returncode}): {tail}"
        atomic_write(pdf_path, lambda p: shutil.copyfile(out, p))
    return None


def write_report(result: RunResult) -> dict[str, Path]:
    """Write ``report.html`` (and ``report.pdf`` where Chromium is installed) into the run folder.

    Returns
    -------
    dict
        ``{"report_html": path, "report_pdf": path}`` (PDF only when printed); why a PDF is
        missing is logged and put in ``result.counts["report"]``.
    """
    out = result.out_dir
    page = render_report(result)
    path = out / "report.html"
    atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
    files = {"report_html": path}
    info: dict[str, Any] = {"html_bytes": len(page.encode("utf-8"))}
    if result.scenario.report.pdf:
        why = print_pdf(path, out / "report.pdf")
        if why is None:
            files["report_pdf"] = out / "report.pdf"
        else:
            log.warning(why)
            info["pdf"] = why
    else:
        info["pdf"] = "disabled ([report] pdf = false)"
    result.counts["report"] = info
    return files

