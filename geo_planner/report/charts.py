"""The report's charts, drawn with matplotlib's object API and returned as PNG data URIs.

No global pyplot state, so charts are safe in the service's worker threads. The map is a
matplotlib rendering of the layers (walking network, member counts, stations, new sites)
rather than a screenshot of the Folium map: it needs no tiles, no browser and no network, and
looks the same in the PDF.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from ..basemap import read_basemap
from ..crs import M_PER_DEG_LAT, M_PER_DEG_LON_EQUATOR
from ..outputs import BASEMAP_FILE
from ..privacy import MIN_GROUP, VIEWER_CELL_M
from ..siting.models import MODELS
from ..vocab import REASON_LABELS, REASONS

if TYPE_CHECKING:
    from ..run_result import RunResult

__all__ = ["MODEL_NAMES", "SMALL_CELL", "Charts", "cjk_font_files", "shown_areas"]

log = logging.getLogger(__name__)

#: Grid cells and areas with fewer members than this are not drawn (the viewer rule of the maps).
SMALL_CELL: Final[int] = MIN_GROUP
#: Models by ``(zh, en)`` name, from the model registry; ``current`` for the stations there are now.
MODEL_NAMES: Final[dict[str, tuple[str, str]]] = {
    "current": ("现状", "current"), **{m.name: (m.label_zh, m.label_en) for m in MODELS.values()},
}
#: Dispersion reasons (:data:`geo_planner.vocab.REASONS`) as ``(zh, en)`` chart labels (the English
#: shortened to fit the chart).
_REASON_SHORT_EN: Final = {"remote": "lives in another city", "cross_township": "another township",
                           "far": "far from the branch"}
REASON_CHART_LABELS: Final[dict[str, tuple[str, str]]] = {
    code: (REASON_LABELS["zh"][code], _REASON_SHORT_EN[code]) for code in REASONS
}
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Noto Serif CJK SC",
              "Noto Sans CJK TC", "Noto Sans CJK KR", "Noto Sans CJK HK", "Source Han Serif SC",
              "AR PL UMing CN", "AR PL UKai CN", "Droid Sans Fallback")
#: Folders of system and user fonts (Linux, macOS, Windows) searched for CJK font files.
FONT_DIRS: Final = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts",
                    "/System/Library/Fonts", "/Library/Fonts", "C:/Windows/Fonts")
#: File names of CJK fonts (lower case, glob patterns).
_CJK_FILES: Final = ("*notosanscjk*", "*notoserifcjk*", "*sourcehansans*", "*sourcehanserif*", "wqy-*",
                     "simhei*", "simsun*", "msyh*", "pingfang*", "uming*", "ukai*", "droidsansfallback*")


def cjk_font_files(dirs: tuple[str, ...] = FONT_DIRS) -> list[Path]:
    """CJK font files installed on this machine (``.ttf``/``.otf``/``.ttc``), sans before serif."""
    import fnmatch

    found: list[Path] = []
    for folder in dirs:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            name = path.name.lower()
            font_file = path.suffix.lower() in (".ttf", ".otf", ".ttc")
            if font_file and any(fnmatch.fnmatch(name, p) for p in _CJK_FILES):
                found.append(path)
    return sorted(found, key=lambda p: ("serif" in p.name.lower(), "bold" in p.name.lower(), str(p)))


def _cjk_font() -> str | None:
    """A CJK font family matplotlib can draw with, registered from the files themselves.

    matplotlib's font list is a cache built the first time it ran: a machine whose fonts were
    installed later (a container image, a server) has a cache without them. So the files found
    by :func:`cjk_font_files` are registered with ``font_manager.fontManager.addfont`` (in this
    process only; the cache on disk is left alone), then the first known family is used.
    """
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    if not any(n in names for n in _CJK_FONTS):
        for path in cjk_font_files():
            try:
                font_manager.fontManager.addfont(str(path))
            except (OSError, RuntimeError, ValueError) as exc:  # an unreadable file: try the next one
                log.debug("font %s not registered: %s", path, exc)
        names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in _CJK_FONTS if n in names), None)


class Charts:
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
        """Return a new figure of ``w`` × ``h`` inches at 96 dpi."""
        from matplotlib.figure import Figure

        return Figure(figsize=(w, h), dpi=96, layout="constrained")

    def png(self, fig: Any) -> str:
        """Return ``fig`` as a PNG data URI."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

    def draw(self, fn: Any, *args: Any, **kw: Any) -> str:
        """Call the chart function ``fn(self, *args, **kw)`` with the report's fonts and sizes."""
        with self._mpl.rc_context(self.rc):
            return fn(self, *args, **kw)


def chart_tradeoff(ch: Charts, curve: pd.DataFrame, p_run: int) -> str:
    fig = ch.figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(curve["p"], curve["marginal_share"] * 100, color="#c6dbef",
           label=ch.label("每增一站的增益", "gain of each site"))
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


def chart_equity(ch: Charts, minutes: dict[str, np.ndarray], population: np.ndarray, thr: float) -> str:
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


def shown_areas(by_area: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Township rows with at least ``SMALL_CELL`` members (the viewer rule), and how many were hidden."""
    t = by_area[by_area["level"] == "township"]
    big = pd.to_numeric(t["members"], errors="coerce").fillna(0) >= SMALL_CELL
    return t[big], int((~big).sum())


def chart_areas(ch: Charts, by_area: pd.DataFrame) -> str:
    t = shown_areas(by_area)[0].sort_values("share_covered_station")
    fig = ch.figure(7.0, max(2.0, 0.32 * len(t) + 0.8))
    ax = fig.add_subplot(1, 1, 1)
    labels = t["area"].astype(str) if ch.font else [f"area {i + 1}" for i in range(len(t))]
    ax.barh(list(labels), t["share_covered_station"] * 100, color="#4393c3")
    for y, (v, n) in enumerate(zip(t["share_covered_station"], t["members"], strict=True)):
        ax.text(min(v * 100 + 1, 92), y, f"{v:.0%} · {int(n)}", va="center", fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel(ch.label("15分钟驿站覆盖率 %", "station coverage %"))
    return ch.png(fig)


def chart_reasons(ch: Charts, counts: dict[str, int]) -> str:
    fig = ch.figure(5.0, 2.2)
    ax = fig.add_subplot(1, 1, 1)
    keys = [k for k in REASONS if counts.get(k)]
    ax.barh([ch.label(*REASON_CHART_LABELS[k]) for k in keys], [counts[k] for k in keys], color="#f4a582")
    for y, k in enumerate(keys):
        ax.text(counts[k], y, f" {counts[k]}", va="center", fontsize=8)
    ax.set_xlabel(ch.label("人数", "members"))
    return ch.png(fig)


def chart_sensitivity(ch: Charts, sens: pd.DataFrame, stability: dict[str, Any], nearby: dict[str, Any],
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


def chart_phases(ch: Charts, phased: pd.DataFrame, base_share: float) -> str:
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


def chart_map(ch: Charts, result: RunResult) -> str:
    """Draw the layers as a static picture: the base map, member counts on 500 m cells, stations, new sites.

    Members living in another city (``remote``) are left out, so the picture shows the city.
    """
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
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1 / k)
    base = _run_basemap(result)
    if base is not None and len(base):
        from .basemap import draw_basemap

        draw_basemap(ax, base, (x0, x1, y0, y1), labels=ch.font is not None)
    else:  # a run from before base maps: the walking network's lines
        u, v = walk.edge_u, walk.edge_v
        ex, ey = np.c_[walk.node_lon[u], walk.node_lon[v]], np.c_[walk.node_lat[u], walk.node_lat[v]]
        inside = ((ex >= x0) & (ex <= x1) & (ey >= y0) & (ey <= y1)).any(axis=1)
        segs = np.stack([np.c_[ex[inside, 0], ey[inside, 0]], np.c_[ex[inside, 1], ey[inside, 1]]], axis=1)
        ax.add_collection(LineCollection(segs, colors="#bbbbbb", linewidths=0.4, zorder=1))
    _draw_member_cells(ch, fig, ax, lon[ok], lat[ok], k)
    st = result.stations
    ax.scatter(st["lon"], st["lat"], marker="o", s=46, c="#2166ac", edgecolors="white", zorder=3,
               label=ch.label("现有驿站", "existing station"))
    _draw_new_sites(ch, ax, new)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1 / k)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    ax.set_title("© OpenStreetMap contributors (ODbL)", fontsize=7, loc="right")
    return ch.png(fig)


def _run_basemap(result: RunResult) -> Any:
    """The run's base map (``basemap.geojson`` in its folder), or ``None`` when it has none."""
    path = result.out_dir / BASEMAP_FILE
    return read_basemap(path) if path.is_file() else None


def _draw_member_cells(ch: Charts, fig: Any, ax: Any, lon: np.ndarray, lat: np.ndarray, k: float) -> None:
    """Draw members as counts on cells of ``VIEWER_CELL_M`` metres, cells under ``SMALL_CELL`` hidden.

    The picture's own grid, its width set at the view's mid-latitude (``k`` is its cosine); the
    web map counts on :func:`geo_planner.privacy.grid_cells`.
    """
    cx = VIEWER_CELL_M / (M_PER_DEG_LON_EQUATOR * k)
    cy = VIEWER_CELL_M / M_PER_DEG_LAT
    gx, gy = np.floor(lon / cx), np.floor(lat / cy)
    if not gx.size:
        return
    cells, n = np.unique(np.c_[gx, gy], axis=0, return_counts=True)
    big = n >= SMALL_CELL
    sc = ax.scatter((cells[big, 0] + 0.5) * cx, (cells[big, 1] + 0.5) * cy, s=90, c=n[big], cmap="YlOrRd",
                    marker="s", alpha=0.6, zorder=2, edgecolors="none")
    if big.any():
        fig.colorbar(sc, ax=ax, shrink=0.6, label=ch.label(f"每{VIEWER_CELL_M:g}米网格人数",
                                                           f"members per {VIEWER_CELL_M:g} m cell"))


def _draw_new_sites(ch: Charts, ax: Any, new: pd.DataFrame) -> None:
    """Draw the recommended new stations, one marker per model."""
    styles = {"mclp": ("*", "#b2182b", 160), "lscp": ("P", "#762a83", 70), "p_median": ("D", "#1b7837", 46),
              "p_center": ("^", "#e08214", 70)}
    if not len(new):
        return
    model = new["method"].astype(str).str.split(" ").str[0]
    for key, (mk, col, size) in styles.items():
        sel = new[model == key]
        if len(sel):
            zh, en = MODEL_NAMES[key]
            ax.scatter(sel["lon"].astype(float), sel["lat"].astype(float), marker=mk, s=size, c=col,
                       edgecolors="black", linewidths=0.5, zorder=4,
                       label=ch.label(f"新建（{zh}）", f"new ({en})"))
