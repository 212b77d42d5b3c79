/* Ask for a run's data before MapLibre GL JS is parsed (run.js awaits these promises): the largest answer,
 * the members, is on its way while the browser compiles the map library (the recommendations come later). The base
 * map's style too (basemap.js, loaded before this): the map is made with it. */
'use strict';
window.gpData = (() => {
  const root = document.getElementById('run-root');
  const base = `/runs/${encodeURIComponent(root.dataset.runId)}`;
  const planner = root.dataset.planner === 'true';
  const ask = url => { const p = GP.api(url); p.catch(() => {}); return p; };  // failures are reported by run.js
  const layer = ask(planner ? `${base}/layers/members` : `${base}/layers/grid`);
  // the recommendations are drawn after the first render and asked for then (run.js calls this): the server
  // makes them (a viewer's are scrubbed of member names first, ~1 s for a city) while nothing else waits
  const recs = () => GP.api(`${base}/recommendations?format=geojson`);
  loadBaseStyle(root.dataset.runId).catch(() => {});  // basemap.js: kept for run.js, which makes the map with it
  return { run: ask(base), facilities: ask(`${base}/layers/facilities`), layer, recs };
})();
