"""Badges that never overlap: one screen-space clustering of every badge layer of the map.

Branches, stations, hospitals and each kind of recommendation are separate layers (each can be
switched off in the layer control: recommendations are filterable by kind), but their badges are
placed by one engine, written here as inline JavaScript: on every zoom, pan or layer switch it
takes the badges of the layers that are on, in priority order, and keeps a badge only where no
badge already kept lies within :data:`SPACING_PX` pixels (both axes); a badge that would come
closer joins that one, which then shows the number of places it stands for, in the colour of the
kind most of them are, and zooms in when clicked. As every badge is at most
:data:`SPACING_PX` − 2 pixels wide, no two badges on the screen overlap, at any zoom — in a city
with hundreds of recommendations as in a county with a few.
"""

from __future__ import annotations

from typing import Final

from branca.element import MacroElement, Template

__all__ = ["SPACING_PX", "BadgeEngine"]

#: Least distance (pixels, on both axes) between two badges on the screen; badges are smaller.
SPACING_PX: Final[int] = 28


class BadgeEngine(MacroElement):  # type: ignore[misc]
    """The engine (``window.gpBadges``) that :class:`~.elements.Markers` layers register with."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>.gp-cluster div{font:bold 11px sans-serif !important}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        window.gpBadges = (function () {
            var D = {{ this.spacing }}, sets = [], map = null, layer = null, pending = false;
            var esc = function (s) { var d = document.createElement("div"); d.textContent = s; return d.innerHTML; };
            var badge = function (c) {
                var by = {}, best = null;
                c.members.forEach(function (x) {
                    by[x[0].id] = by[x[0].id] || {set: x[0], n: 0};
                    by[x[0].id].n++;
                    if (!best || by[x[0].id].n > best.n) { best = by[x[0].id]; }
                });
                var n = c.members.length, color = best.set.color;
                var html = "<div data-n='" + n + "' style='width:" + (D - 2) + "px;height:" + (D - 2) + "px;line-height:" + (D - 6) +
                    "px;border-radius:50%;background:" + color + ";color:#fff;text-align:center;" +
                    "border:2px solid #fff;box-sizing:border-box;box-shadow:0 0 3px rgba(0,0,0,.6)'>" +
                    (n > 999 ? "999+" : n) + "</div>";
                var tip = Object.keys(by).map(function (k) { return esc(by[k].set.label) + " " + by[k].n; }).join("<br>");
                var m = L.marker(map.containerPointToLatLng(c.p), {icon: L.divIcon({html: html,
                    className: "gp-icon gp-cluster", iconSize: [D - 2, D - 2], iconAnchor: [(D - 2) / 2, (D - 2) / 2]})});
                m.bindTooltip(tip);
                m.on("click", function () {
                    var b = L.latLngBounds(c.members.map(function (x) { return x[1].getLatLng(); }));
                    if (b.getNorthEast().equals(b.getSouthWest())) { map.setView(b.getCenter(), map.getZoom() + 2); }
                    else { map.fitBounds(b.pad(0.5)); }
                });
                return m;
            };
            var redraw = function () {
                pending = false;
                if (!map || !map._loaded) { return; }
                layer.clearLayers();
                var size = map.getSize(), cells = {}, clusters = [];
                var active = sets.filter(function (s) { return map.hasLayer(s.group); });
                active.sort(function (a, b) { return a.priority - b.priority; });
                active.forEach(function (s) {
                    s.markers.forEach(function (mk) {
                        var p = map.latLngToContainerPoint(mk.getLatLng());
                        if (p.x < -D || p.y < -D || p.x > size.x + D || p.y > size.y + D) { return; }
                        var gx = Math.floor(p.x / D), gy = Math.floor(p.y / D), hit = null;
                        for (var dx = -1; dx <= 1 && !hit; dx++) {
                            for (var dy = -1; dy <= 1 && !hit; dy++) {
                                var cell = cells[(gx + dx) + ":" + (gy + dy)] || [];
                                for (var k = 0; k < cell.length; k++) {
                                    if (Math.abs(cell[k].p.x - p.x) < D && Math.abs(cell[k].p.y - p.y) < D) {
                                        hit = cell[k]; break;
                                    }
                                }
                            }
                        }
                        if (hit) { hit.members.push([s, mk]); return; }
                        var c = {p: p, members: [[s, mk]]};
                        (cells[gx + ":" + gy] = cells[gx + ":" + gy] || []).push(c);
                        clusters.push(c);
                    });
                });
                clusters.forEach(function (c) {
                    layer.addLayer(c.members.length === 1 ? c.members[0][1] : badge(c));
                });
                map.getContainer().setAttribute("data-gp-badges", clusters.length);
            };
            var later = function () { if (!pending) { pending = true; window.setTimeout(redraw, 0); } };
            return {
                register: function (m, group, markers, opts) {
                    if (!map) {
                        map = m;
                        layer = L.layerGroup().addTo(m);
                        m.on("zoomend moveend resize overlayadd overlayremove layeradd layerremove", function (e) {
                            if (e && e.layer === layer) { return; }
                            if (e && (e.type === "layeradd" || e.type === "layerremove") &&
                                !sets.some(function (s) { return s.group === e.layer; })) { return; }
                            later();
                        });
                    }
                    sets.push({id: sets.length, group: group, markers: markers, color: opts.color,
                               label: opts.label, priority: opts.priority});
                    later();
                }
            };
        })();
        {% endmacro %}
        """
    )

    def __init__(self, spacing_px: int = SPACING_PX) -> None:
        super().__init__()
        self._name = "BadgeEngine"
        self.spacing = int(spacing_px)
