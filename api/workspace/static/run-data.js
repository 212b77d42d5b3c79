/* Ask for a run's data before MapLibre GL JS is parsed (run.js awaits these promises): the largest answer,
 * the members, is on its way while the browser compiles the map library; the recommendations after it. The base
 * map's style too (basemap.js, loaded before this): the map is made with it. */
'use strict';
window.gpData = (() => {
  const root = document.getElementById('run-root');
  const base = `/runs/${encodeURIComponent(root.dataset.runId)}`;
  const planner = root.dataset.planner === 'true';
  const ask = url => { const p = GP.api(url); p.catch(() => {}); return p; };  // failures are reported by run.js
  const layer = ask(planner ? `${base}/layers/members` : `${base}/layers/grid`);
  // the recommendations are drawn after the first render: asked for once the layer is here, so that the
  // server makes them (a viewer's are scrubbed of member names first) while the map draws, not before
  const recs = layer.then(() => null, () => null).then(() => ask(`${base}/recommendations?format=geojson`));
  recs.catch(() => {});
  loadBaseStyle(root.dataset.runId).catch(() => {});  // basemap.js: kept for run.js, which makes the map with it
  return { run: ask(base), facilities: ask(`${base}/layers/facilities`), layer, recs };
})();
