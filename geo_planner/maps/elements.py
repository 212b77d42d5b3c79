"""Building blocks of the map page.

Coordinate display, escaped texts, popups, badges and the Leaflet elements that carry many
markers as one JSON array.

Every text reaches the page HTML-escaped in Python and, inside scripts, as script-safe JSON
(:func:`script_json`), never inside a JavaScript template literal.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template
from folium import plugins
from folium.template import Template as FoliumTemplate
from numpy.typing import ArrayLike, NDArray

from ..crs import from_wgs84

__all__ = [
    "Display", "Html", "LazyGeoJson", "Markers", "MetricScale", "PointLayer", "html_minutes", "html_text", "icon_html",
    "popup_html", "ramp", "script_json",
]

FloatArray = NDArray[np.float64]


class Display:
    """Converts WGS-84 to the tiles' coordinates (GCJ-02 for 高德) and rounds to 1e-6°."""

    def __init__(self, gcj02: bool) -> None:
        self.gcj02 = gcj02

    def xy(self, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Display longitudes and latitudes of WGS-84 points."""
        lon_a = np.asarray(lon, dtype="float64")
        lat_a = np.asarray(lat, dtype="float64")
        if self.gcj02 and lon_a.size:
            lon_a, lat_a = from_wgs84(lon_a, lat_a, "GCJ02")
        return np.round(lon_a, 6), np.round(lat_a, 6)

    def geoms(self, geoms: NDArray[Any]) -> NDArray[Any]:
        """Geometries with every vertex converted as by :meth:`xy`."""
        def shift(xy: FloatArray) -> FloatArray:
            x, y = self.xy(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geoms, shift)


def html_text(value: Any) -> str:
    """Escaped text for HTML; missing values become an em dash."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return html.escape(str(value))


def html_minutes(value: Any) -> str:
    """Minutes with one decimal; missing or infinite values become an em dash."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(x) else f"{x:.1f}"


def popup_html(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """Popup HTML; ``title`` and the row values must already be escaped."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<div class='gp-pop'><b>{title}</b><table>{body}</table></div>"


def ramp(colors: Sequence[str], values: ArrayLike, vmin: float, vmax: float) -> list[str]:
    """Hex colours on a linear ramp (vectorised interpolation between the stops)."""
    stops = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=float)
    x = np.asarray(values, dtype="float64")
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((np.nan_to_num(x, nan=vmin) - vmin) / span, 0.0, 1.0) * (len(colors) - 1)
    i = np.minimum(np.floor(t).astype(int), len(colors) - 2)
    f = (t - i)[:, None]
    rgb = np.rint(stops[i] * (1 - f) + stops[i + 1] * f).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]

def icon_html(glyph: str, color: str, size: int = 22, shape: str = "50%") -> str:
    """Return a small coloured badge with a glyph, used as a Leaflet ``divIcon``."""
    style = (
        f"width:{size}px;height:{size}px;line-height:{size}px;border-radius:{shape};background:{color};"
        "color:#fff;font:bold 12px sans-serif;text-align:center;border:2px solid #fff;"
        "box-sizing:border-box;box-shadow:0 0 3px rgba(0,0,0,.6)"
    )
    return f"<div style='{style}'>{html.escape(glyph)}</div>"

def script_json(obj: Any) -> str:
    """Return compact JSON that is safe inside ``<script>``.

    Like Jinja's ``tojson`` (``<``, ``>``, ``&`` and ``'`` escaped) but with Chinese kept as
    UTF-8 instead of escaped code points, which would double the page size.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text

class PointLayer(plugins.MarkerCluster):  # type: ignore[misc]
    """Many circle markers from one compact array, clustered or not, as one toggleable layer.

    Rows are ``[lat, lon, colour_index, values]``; ``values`` is ``[title, v1, v2, …]`` of
    already HTML-escaped strings, turned into a popup table (with ``labels``) only when
    clicked, so 20,000 members cost a few megabytes, not tens.
    """

    _template = FoliumTemplate(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var labels = {{ this.labels_json }};
            var colors = {{ this.colors_json }};
            var popup = function (v) {
                return function () {
                    var h = "<div class='gp-pop'><b>" + v[0] + "</b><table>";
                    for (var j = 1; j < v.length; j++) {
                        h += "<tr><th>" + labels[j - 1] + "</th><td>" + v[j] + "</td></tr>";
                    }
                    return h + "</table></div>";
                };
            };
            var build = function () {
                // the data inside the function: a layer switched off costs the parser a scan, no objects
                var data = {{ this.data_json }};
                var markers = new Array(data.length);
                for (var i = 0; i < data.length; i++) {
                    var r = data[i];
                    var m = L.circleMarker([r[0], r[1]], {radius: {{ this.radius }}, color: "#ffffff", weight: 1,
                        fillColor: colors[r[2]], fillOpacity: 0.9});
                    if (r[3]) { m.bindPopup(popup(r[3]), {maxWidth: 360}); }
                    markers[i] = m;
                }
                return markers;
            };
            {% if this.cluster %}
            var group = L.markerClusterGroup({{ this.options|tojavascript }});
            var fill = function () { group.addLayers(build()); };
            {% else %}
            var group = L.featureGroup();
            var fill = function () { build().forEach(function (m) { group.addLayer(m); }); };
            {% endif %}
            {% if this.show %}
            fill();
            {% else %}
            // a layer that starts switched off is built the first time it is switched on
            group.once("add", fill);
            {% endif %}
            return group;
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: list[list[Any]],
        *,
        labels: Sequence[str],
        colors: Sequence[str],
        name: str,
        cluster: bool,
        radius: int = 5,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show, maxClusterRadius=50,
                         chunkedLoading=True)
        self._name = "PointLayer"
        self.data_json = script_json(data)
        self.labels_json = script_json([html.escape(x) for x in labels])
        self.colors_json = script_json(list(colors))
        self.cluster = bool(cluster)
        self.radius = int(radius)
        self.show = bool(show)

class Html(MacroElement):
    """A fixed HTML block on the page (legend, title)."""

    _template = Template("{% macro html(this, kwargs) %}{{ this.content }}{% endmacro %}")

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "Html"
        self.content = content

class MetricScale(MacroElement):
    """Leaflet's scale bar in metres/kilometres only (folium's ``control_scale`` also shows feet)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, metric: true, maxWidth: 150}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"

class Markers(MacroElement):
    """Badge markers with popups and tooltips from one JSON array, placed by the badge engine.

    Every text reaches the page as script-safe JSON (:func:`script_json`; never inside a
    JavaScript template literal, where ``${…}`` in a planner's data would run, as folium's
    ``Popup``/``Tooltip`` do), and popups/tooltips are HTML-escaped in Python.
    Rows: ``[lat, lon, icon_html, popup_html, tooltip_html, size]``.  The markers are not
    added to the parent layer itself: :class:`~.badges.BadgeEngine` (``window.gpBadges``)
    shows them while the parent layer is on, joined where they would overlap (``label`` and
    ``color`` name and colour such a joined badge; a smaller ``priority`` is placed first).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var data = {{ this.data_json }};
            var parent = {{ this._parent.get_name() }};
            var shared = {{ this.shared_json }};  // the one badge of a layer whose badges are all alike
            var markers = new Array(data.length);
            for (var i = 0; i < data.length; i++) {
                var r = data[i];
                var icon = L.divIcon({html: r[2] || shared, className: 'gp-icon', iconSize: [r[5], r[5]],
                                      iconAnchor: [r[5] / 2, r[5] / 2]});
                var m = L.marker([r[0], r[1]], {icon: icon});
                if (r[3]) { m.bindPopup(r[3], {maxWidth: {{ this.max_width }}}); }
                if (r[4]) { m.bindTooltip(r[4]); }
                markers[i] = m;
            }
            var map = {{ this._parent._parent.get_name() }};
            if (window.gpBadges) {
                window.gpBadges.register(map, parent, markers, {{ this.opts_json }});
            } else {
                markers.forEach(function (m) { m.addTo(parent); });
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, data: list[list[Any]], max_width: int = 360, *, label: str = "", color: str = "#555555",
        priority: int = 5,
    ) -> None:
        super().__init__()
        self._name = "Markers"
        icons = {r[2] for r in data}
        shared = icons.pop() if len(icons) == 1 else ""
        if shared:
            data = [[*r[:2], "", *r[3:]] for r in data]
        self.shared_json = script_json(shared)
        self.data_json = script_json(data)
        self.max_width = int(max_width)
        self.opts_json = script_json({"label": label, "color": color, "priority": int(priority)})


class LazyGeoJson(MacroElement):  # type: ignore[misc]
    """Polygons with a style and a tooltip per feature, built when their layer is first switched on.

    ``features`` carry ``label`` (HTML-escaped tooltip) and ``style`` (Leaflet path options) in
    their properties. The parent layer (a ``FeatureGroup``) that starts switched off costs only
    its JSON at load: a city's map has several such layers (count grid, service areas).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var group = {{ this._parent.get_name() }};
            var built = false;
            var build = function () {
                if (built) { return; }
                built = true;
                var data = {{ this.data_json }};
                L.geoJson(data, {
                    style: function (f) { return f.properties.style; },
                    onEachFeature: function (f, l) {
                        if (f.properties.label) { l.bindTooltip(f.properties.label, {sticky: true}); }
                    }
                }).addTo(group);
            };
            if (group._map) { build(); } else { group.once("add", build); }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, features: Any) -> None:
        super().__init__()
        self._name = "LazyGeoJson"
        text = features.to_json(ensure_ascii=False, drop_id=True)
        for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"),
                        ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
            text = text.replace(ch, esc)
        self.data_json = text
