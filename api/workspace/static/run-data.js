/* Ask for a run's data before MapLibre GL JS is parsed (run.js awaits these promises): the largest answer,
 * the members, is on its way while the browser compiles the map library. */
'use strict';
window.gpData = (() => {
  const root = document.getElementById('run-root');
  const base = `/runs/${encodeURIComponent(root.dataset.runId)}`;
  const planner = root.dataset.planner === 'true';
  const ask = url => { const p = GP.api(url); p.catch(() => {}); return p; };  // failures are reported by run.js
  return {
    run: ask(base),
    facilities: ask(`${base}/layers/facilities`),
    layer: ask(planner ? `${base}/layers/members` : `${base}/layers/grid`),
    recs: ask(`${base}/recommendations?format=geojson`),
  };
})();
