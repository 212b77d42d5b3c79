/* The base map under a run's layers: the run's own offline base map, built from its OSM extracts.
 *
 * GET /runs/{id}/basemap/style.json is a MapLibre style (geo_planner/basemap.py): one GeoJSON source
 * (/runs/{id}/basemap/basemap.geojson: landuse, water, green, buildings, railways, roads with names,
 * 街道/社区 names) and glyphs for Latin letters and digits (/basemap/glyphs/{fontstack}/{range}.pbf).
 * Chinese names are drawn by the browser from its own CJK fonts: the map is created with
 * localIdeographFontFamily = the style's metadata["geo_planner:localIdeographFontFamily"]
 * (baseFontFamily below), so no glyph of an ideograph is ever asked for.
 *
 * Every URL of the style is made a path of this service (any scheme and host the server wrote are
 * dropped), so the map asks nothing from outside and the session cookie goes with every request
 * (same origin; no token in a URL). A run without a base map (made before it existed) gets the run's
 * walking network as thin lines (GET /runs/{id}/layers/roads) instead.
 */
'use strict';

/** Prefix of every source and layer id this file adds (the run's own layers never start with it). */
const BASE_PREFIX = 'basemap-';
/** The font family for CJK text when the run has no base map style (MapLibre's own default). */
const BASE_DEFAULT_FONTS = 'sans-serif';
const baseStyles = new Map();

/* '/p', 'http://any-host:8000/p' → '/p': a path on this origin, whatever host the server named. */
function basePath(url) {
  const path = String(url).replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  if (!path.startsWith('/') || path.startsWith('//')) throw new Error('base map: not a path of this service: ' + url);
  return path;
}

/**
 * The run's base map style (asked for once per run), its URLs made paths of this service.
 * @param {string} runId  the run
 * @returns {Promise<object|null>} the style, or null when the run has none (then addBaseMap draws the roads)
 */
function loadBaseStyle(runId) {
  if (!baseStyles.has(runId)) {
    const url = `/runs/${encodeURIComponent(runId)}/basemap/style.json`;
    baseStyles.set(runId, GP.api(url).then((style) => {
      for (const src of Object.values(style.sources || {})) {
        if (typeof src.data === 'string') src.data = basePath(src.data);
        if (src.url) src.url = basePath(src.url);
        if (src.tiles) src.tiles = src.tiles.map(basePath);
      }
      if (style.glyphs) style.glyphs = basePath(style.glyphs);
      return style;
    }).catch((e) => {
      if (e instanceof GP.ApiError && (e.status === 404 || e.status === 409)) return null;  // no base map
      throw e;
    }));
  }
  return baseStyles.get(runId);
}

/**
 * The CSS font family MapLibre draws Chinese (and other CJK) text with: the style's choice.
 * @param {object|null} style  the run's base map style
 * @returns {string}
 */
function baseFontFamily(style) {
  return (style && style.metadata && style.metadata['geo_planner:localIdeographFontFamily']) || BASE_DEFAULT_FONTS;
}

/**
 * Add the base map's sources and layers to a MapLibre map, all below the run's own layers.
 * @param {maplibregl.Map} map  the run's map (style loaded; created with localIdeographFontFamily = baseFontFamily)
 * @param {string} runId        the run whose area is shown
 * @param {string} beforeId     the lowest layer of the run's own data: base layers go below it
 * @returns {Promise<void>}
 */
async function addBaseMap(map, runId, beforeId) {
  const before = map.getLayer(beforeId) ? beforeId : undefined;
  const style = await loadBaseStyle(runId);
  if (!style) return addRoadLines(map, runId, before);
  if (style.glyphs) map.setGlyphs(style.glyphs);
  for (const [id, src] of Object.entries(style.sources)) map.addSource(BASE_PREFIX + id, src);
  for (const layer of style.layers) {
    if (layer.type === 'background') {  // the map's own background takes the base map's colour
      if (map.getLayer('background')) map.setPaintProperty('background', 'background-color', layer.paint['background-color']);
      continue;
    }
    map.addLayer(Object.assign({}, layer, { id: BASE_PREFIX + layer.id, source: BASE_PREFIX + layer.source }), before);
  }
}

/* The run's walking network as thin lines: the base map of a run made before base maps existed. */
function addRoadLines(map, runId, before) {
  return GP.api(`/runs/${encodeURIComponent(runId)}/layers/roads`).then((roads) => {
    map.addSource(BASE_PREFIX + 'roads', { type: 'geojson', data: roads });
    map.addLayer({
      id: BASE_PREFIX + 'roads', type: 'line', source: BASE_PREFIX + 'roads',
      paint: { 'line-color': '#bdb8ad', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.4, 16, 2] },
    }, before);
  });
}
