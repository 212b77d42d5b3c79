"""The extract's own base map on the Folium map: named layers and a label layer, offline.

The features of :func:`geo_planner.basemap.build_basemap` are drawn by Leaflet on a canvas in
a pane under every overlay — one toggleable layer each for built-up areas, green, water,
buildings, railways, streets and boundaries — and the street, 街道 and 社区 names by a small
label layer written here (inline JavaScript, no CDN): on every zoom or pan it places the
names that are due at that zoom, most important first, each only where it overlaps no name
already placed, streets turned along their direction.

Coordinates travel as integers (1e-5°, about 1 m, the base map's own precision), each vertex a
difference from the one before, so a district's streets and buildings cost a few hundred
kilobytes of page.
"""

from __future__ import annotations

from typing import Any, Final

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement, Template

from ..basemap import BASE_COLORS, ROAD_WIDTHS, street_label_points
from .canvas import Canvas
from .elements import script_json

__all__ = ["BASE_GROUPS", "add_basemap", "encode_features", "label_rows"]

#: Scale of the integer coordinates, units per degree (1e-5°).
SCALE: Final[float] = 1e5
#: Base-map layers drawn as one toggleable group each: group key → (layers, label key of ``LABELS``).
BASE_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "base_landuse": ("landuse",),
    "base_green": ("green",),
    "base_water": ("water", "waterway"),
    "base_buildings": ("building",),
    "base_railways": ("railway",),
    "base_streets": ("road",),
    "base_boundaries": ("boundary",),
}
#: How each layer is drawn: (fill colour or None, stroke colour or None, stroke weight at zoom 12 / 17).
_LAYER_STYLE: Final[dict[str, dict[str, Any]]] = {
    "landuse": {"fill": BASE_COLORS["landuse"]},
    "green": {"fill": BASE_COLORS["green"]},
    "water": {"fill": BASE_COLORS["water"]},
    "waterway": {"line": BASE_COLORS["waterway"], "w": [1.0, 4.0]},
    "building": {"fill": BASE_COLORS["building"], "line": "#c4b8ab", "w": [0.5, 0.8]},
    "railway": {"line": BASE_COLORS["railway"], "w": [1.2, 2.5], "dash": "6 4"},
    "boundary": {"line": BASE_COLORS["boundary"], "w": [1.0, 2.0], "dash": "8 4 2 4"},
}


def _road_style(kind: str) -> dict[str, Any]:
    w12, w17 = ROAD_WIDTHS[kind]
    style: dict[str, Any] = {"line": BASE_COLORS[f"road_{kind}"], "w": [w12, w17]}
    if kind == "path":
        style["dash"] = "3 3"
        style["line"] = BASE_COLORS["road_path"]
    else:
        style["casing"] = BASE_COLORS["road_casing"]
    return style


def _flat_deltas(coords: np.ndarray, x0: float, y0: float) -> list[int]:
    """``[dx0, dy0, dx1, dy1, …]``: integer lon/lat steps (1e-5°), from the origin, then the vertex before."""
    q = np.rint((coords - np.array([x0, y0])) * SCALE).astype(np.int64)
    d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return d.ravel().tolist()  # type: ignore[no-any-return]


def encode_features(features: gpd.GeoDataFrame, origin: tuple[float, float]) -> list[list[Any]]:
    """Rows ``[kind, minzoom, polygon?, [flat deltas of each ring or the line]]`` of base-map features.

    Multi-part geometries become one row per part; ``polygon`` is 1 for areas (outer ring
    first, then holes), 0 for lines.  Coordinates must already be the display's.
    """
    if features.empty:
        return []
    geoms = np.asarray(features.geometry.to_numpy())
    parts, idx = shapely.get_parts(geoms, return_index=True)
    kinds = features["kind"].to_numpy()[idx]
    minzoom = features["minzoom"].to_numpy()[idx]
    rows: list[list[Any]] = []
    x0, y0 = origin
    for geom, kind, mz in zip(parts, kinds, minzoom, strict=True):
        if shapely.get_type_id(geom) == 3:
            rings = [geom.exterior, *geom.interiors]
            arrays = [_flat_deltas(np.asarray(r.coords)[:-1, :2], x0, y0) for r in rings]
            rows.append([str(kind), int(mz), 1, arrays])
        elif shapely.get_type_id(geom) == 1:
            rows.append([str(kind), int(mz), 0, [_flat_deltas(np.asarray(geom.coords)[:, :2], x0, y0)]])
    return rows


def label_rows(features: gpd.GeoDataFrame, disp: Any) -> list[list[Any]]:
    """Rows ``[lat, lon, text, priority, minzoom, angle, street?]`` of the label layer, most important first.

    Places (街道 before 社区 before housing estates) come before streets; streets by class,
    then length.
    """
    places = features[(features["layer"] == "place") & (features["name"] != "")]
    streets = street_label_points(features)
    rows: list[list[Any]] = []
    if len(places):
        x, y = disp.xy(shapely.get_x(places.geometry.to_numpy()), shapely.get_y(places.geometry.to_numpy()))
        cols = zip(places["name"], places["rank"], places["minzoom"], strict=True)
        for i, (name, rank, mz) in enumerate(cols):
            rows.append([float(y[i]), float(x[i]), str(name), int(rank), int(mz), 0.0, 0])
    if len(streets):
        x, y = disp.xy(streets["lon"].to_numpy(), streets["lat"].to_numpy())
        # street names one zoom level after their lines appear, minor streets from 15
        mz = np.maximum(streets["minzoom"].to_numpy() + 1, np.where(streets["rank"].to_numpy() >= 3, 15, 12))
        for i, (name, rank) in enumerate(zip(streets["name"], streets["rank"], strict=True)):
            rows.append([float(y[i]), float(x[i]), str(name), 10 + int(rank), int(mz[i]),
                         round(float(streets["angle"].iloc[i]), 1), 1])
    rows.sort(key=lambda r: r[3])
    return rows


class _BaseLayer(MacroElement):  # type: ignore[misc]
    """The features of one base-map group, drawn into its FeatureGroup on the base pane's canvas."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent._parent.get_name() }};
            var group = {{ this._parent.get_name() }};
            var styles = {{ this.styles_json }};
            var rows = {{ this.rows_json }};
            var o = {{ this.origin_json }};
            var renderer = window.gpBaseRenderer(map);
            var decode = function (a) {
                var out = new Array(a.length / 2), x = 0, y = 0;
                for (var i = 0; i < a.length; i += 2) {
                    x += a[i]; y += a[i + 1];
                    out[i / 2] = [o[1] + y / {{ this.scale }}, o[0] + x / {{ this.scale }}];
                }
                return out;
            };
            var byZoom = {};
            var styled = [];
            for (var i = 0; i < rows.length; i++) {
                var r = rows[i], s = styles[r[0]] || styles[""];
                if (!s) { continue; }
                var rings = r[3].map(decode);
                var key = r[1];
                byZoom[key] = byZoom[key] || L.layerGroup();
                var common = {renderer: renderer, interactive: false, lineCap: "round", lineJoin: "round"};
                if (r[2]) {
                    var p = L.polygon(rings, Object.assign({}, common, {
                        stroke: !!s.line, color: s.line || s.fill, weight: s.w ? s.w[0] : 0,
                        fill: !!s.fill, fillColor: s.fill, fillOpacity: 1}));
                    byZoom[key].addLayer(p);
                    if (s.line) { styled.push([p, s.w]); }
                } else {
                    if (s.casing) {
                        var c = L.polyline(rings[0], Object.assign({}, common,
                                                                   {color: s.casing, weight: s.w[0] + 1}));
                        byZoom[key].addLayer(c);
                        styled.push([c, s.w, 1]);
                    }
                    var l = L.polyline(rings[0], Object.assign({}, common, {color: s.line, weight: s.w[0],
                        dashArray: s.dash || null}));
                    l._gpTop = true;
                    byZoom[key].addLayer(l);
                    styled.push([l, s.w, 0]);
                }
            }
            var update = function () {
                var z = map.getZoom();
                var t = Math.max(0, Math.min(1, (z - 12) / 5));
                Object.keys(byZoom).forEach(function (k) {
                    var due = z >= Number(k);
                    if (due && !group.hasLayer(byZoom[k])) { group.addLayer(byZoom[k]); }
                    if (!due && group.hasLayer(byZoom[k])) { group.removeLayer(byZoom[k]); }
                });
                for (var j = 0; j < styled.length; j++) {
                    var w = styled[j][1];
                    var weight = w[0] + (w[1] - w[0]) * t * t + (styled[j][2] ? 2 : 0);
                    styled[j][0].setStyle({weight: weight});
                }
                group.eachLayer(function (g) {
                    g.eachLayer(function (f) { if (f._gpTop) { f.bringToFront(); } });
                });
            };
            map.on("zoomend", update);
            map.whenReady(update);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]], styles: dict[str, Any], origin: tuple[float, float]) -> None:
        super().__init__()
        self._name = "BaseLayer"
        self.rows_json = script_json(rows)
        self.styles_json = script_json(styles)
        self.origin_json = script_json([round(origin[0], 5), round(origin[1], 5)])
        self.scale = int(SCALE)


class _Labels(MacroElement):  # type: ignore[misc]
    """Street and place names without overlaps, placed again on every zoom and pan (see the module)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent._parent.get_name() }};
            var group = {{ this._parent.get_name() }};
            var rows = {{ this.rows_json }};
            var ctx = document.createElement("canvas").getContext("2d");
            var font = function (r) {
                var size = r[6] ? 12 : (r[3] <= 1 ? 16 : r[3] <= 2 ? 14 : r[3] <= 3 ? 13 : 12);
                return (r[6] ? "" : "bold ") + size +
                    "px 'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif";
            };
            var Labels = L.Layer.extend({
                onAdd: function (m) {
                    this._pane = m.getPane("gpLabels") || m.createPane("gpLabels");
                    this._pane.style.zIndex = 450;
                    this._pane.style.pointerEvents = "none";
                    this._box = L.DomUtil.create("div", "gp-labels", this._pane);
                    m.on("zoomend moveend resize", this._draw, this);
                    this._draw();
                },
                onRemove: function (m) {
                    m.off("zoomend moveend resize", this._draw, this);
                    L.DomUtil.remove(this._box);
                },
                _draw: function () {
                    var m = this._map;
                    if (!m || !m._loaded) { if (m) { m.whenReady(this._draw, this); } return; }
                    var z = m.getZoom(), size = m.getSize();
                    var box = this._box, cells = {}, placed = 0, seen = {};
                    box.innerHTML = "";
                    var hits = function (b) {
                        for (var gx = Math.floor(b[0] / 64); gx <= Math.floor(b[2] / 64); gx++) {
                            for (var gy = Math.floor(b[1] / 64); gy <= Math.floor(b[3] / 64); gy++) {
                                var c = cells[gx + ":" + gy] || [];
                                for (var k = 0; k < c.length; k++) {
                                    var o = c[k];
                                    if (b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]) {
                                        return true;
                                    }
                                }
                            }
                        }
                        return false;
                    };
                    var keep = function (b) {
                        for (var gx = Math.floor(b[0] / 64); gx <= Math.floor(b[2] / 64); gx++) {
                            for (var gy = Math.floor(b[1] / 64); gy <= Math.floor(b[3] / 64); gy++) {
                                (cells[gx + ":" + gy] = cells[gx + ":" + gy] || []).push(b);
                            }
                        }
                    };
                    for (var i = 0; i < rows.length && placed < 400; i++) {
                        var r = rows[i];
                        if (r[4] > z) { continue; }
                        var p = m.latLngToContainerPoint([r[0], r[1]]);
                        if (p.x < -50 || p.y < -20 || p.x > size.x + 50 || p.y > size.y + 20) { continue; }
                        ctx.font = font(r);
                        var w = ctx.measureText(r[2]).width + 6, h = r[6] ? 16 : 20;
                        var a = r[5] * Math.PI / 180;
                        var bw = Math.abs(w * Math.cos(a)) + Math.abs(h * Math.sin(a));
                        var bh = Math.abs(w * Math.sin(a)) + Math.abs(h * Math.cos(a));
                        var b = [p.x - bw / 2, p.y - bh / 2, p.x + bw / 2, p.y + bh / 2];
                        if (hits(b)) { continue; }
                        if (r[6]) {  // the same street name at most once per 250 px
                            var s = seen[r[2]] || [], near = false;
                            for (var q = 0; q < s.length; q++) {
                                if (Math.abs(s[q].x - p.x) + Math.abs(s[q].y - p.y) < 250) { near = true; }
                            }
                            if (near) { continue; }
                            s.push(p); seen[r[2]] = s;
                        }
                        keep(b);
                        placed++;
                        var cls = r[6] ? "gp-label gp-street" : "gp-label gp-place";
                        var el = L.DomUtil.create("div", cls, box);
                        el.textContent = r[2];
                        el.style.font = font(r);
                        var lp = m.containerPointToLayerPoint(p);
                        el.style.left = lp.x + "px";
                        el.style.top = lp.y + "px";
                        el.style.transform = "translate(-50%,-50%) rotate(" + r[5] + "deg)";
                    }
                    box.setAttribute("data-placed", placed);
                }
            });
            group.addLayer(new Labels());
        })();
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]]) -> None:
        super().__init__()
        self._name = "BaseLabels"
        self.rows_json = script_json(rows)


class _BasePane(MacroElement):  # type: ignore[misc]
    """The pane (under every overlay) and the one canvas renderer the base layers draw on."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>.leaflet-container{background:{{ this.background }}}
        .gp-label{position:absolute;white-space:nowrap;color:#333;line-height:1;
          text-shadow:-1px -1px 0 #fff,1px -1px 0 #fff,-1px 1px 0 #fff,1px 1px 0 #fff,0 0 3px #fff}
        .gp-street{color:#555}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        window.gpBaseRenderer = function (map) {
            if (!map._gpBaseRenderer) {
                var pane = map.createPane("gpBase");
                pane.style.zIndex = 250;
                pane.style.pointerEvents = "none";
                map._gpBaseRenderer = L.canvas({pane: "gpBase", padding: 0.3});
            }
            return map._gpBaseRenderer;
        };
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "BasePane"
        self.background = BASE_COLORS["background"]


def add_basemap(c: Canvas, base: gpd.GeoDataFrame | None, *, show: bool = True) -> None:
    """Draw the base map's groups and its label layer on the map (see the module docstring).

    Parameters
    ----------
    c
        The map being drawn.
    base
        Features from :func:`geo_planner.basemap.build_basemap` (``None`` or empty: nothing drawn).
    show
        Whether the groups are on at first (off under 天地图 or other tiles).
    """
    if base is None or base.empty:
        return
    L = c.labels
    geoms = c.disp.geoms(np.asarray(base.geometry.to_numpy()))
    feats = base.set_geometry(list(geoms), crs="EPSG:4326")
    minx, miny, _, _ = feats.total_bounds
    origin = (float(minx), float(miny))
    c.m.add_child(_BasePane(), name="gp_base_pane")
    for key, layers in BASE_GROUPS.items():
        sub = feats[feats["layer"].isin(layers)]
        if sub.empty:
            continue
        if layers == ("road",):
            styles = {k: _road_style(k) for k in ROAD_WIDTHS}
        else:
            # one style per layer; features carry their layer name as kind for the browser
            styles = {layer: _LAYER_STYLE[layer] for layer in layers}
            sub = sub.assign(kind=sub["layer"])
        group = folium.FeatureGroup(name=L[key], show=show)
        group.add_child(_BaseLayer(encode_features(sub, origin), styles, origin))
        group.add_to(c.m)
    rows = label_rows(base, c.disp)
    if rows:
        group = folium.FeatureGroup(name=L["base_labels"], show=show)
        group.add_child(_Labels(rows))
        group.add_to(c.m)
