/* The base map under a run's layers.
 *
 * This is THE place for the offline base map built from the OSM extract (landuse, water, roads with
 * names …): add its sources and layers in addBaseMap(). Every layer added here goes below the run's
 * own layers (beforeId). Until that base map exists, the run's walking network is drawn as thin
 * lines (GET /runs/{id}/layers/roads), which is enough to see where the roads run.
 */
'use strict';

/**
 * Add the base map's sources and layers to a MapLibre map.
 * @param {maplibregl.Map} map  the run's map (style loaded)
 * @param {string} runId        the run whose area is shown
 * @param {string} beforeId     the lowest layer of the run's own data: base layers go below it
 * @returns {Promise<void>}
 */
function addBaseMap(map, runId, beforeId) {
  return GP.api(`/runs/${encodeURIComponent(runId)}/layers/roads`).then((roads) => {
    map.addSource('base-roads', { type: 'geojson', data: roads });
    map.addLayer({
      id: 'base-roads', type: 'line', source: 'base-roads',
      paint: { 'line-color': '#bdb8ad', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.4, 16, 2] },
    }, map.getLayer(beforeId) ? beforeId : undefined);
  });
}
