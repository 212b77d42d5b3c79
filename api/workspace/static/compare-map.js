/* The comparison's difference map: planners see every member coded by the change of station coverage
 * (GET /runs/{id}/compare/members?with=) as one WebGL point layer (points.js, no DOM marker per member);
 * every role sees the privacy grid coloured by the change of the coverage share
 * (GET /runs/{id}/compare/areas?with=, viewers under the small-cell rule). The later run's base map underneath. */
'use strict';
(async () => {
  const { T, api, el, clear, int } = GP;
  const root = document.getElementById('cmp-root');
  const runId = root.dataset.runId, withId = root.dataset.withId;
  const planner = root.dataset.planner === 'true';
  const q = new URLSearchParams({ with: withId });
  const base = `/runs/${encodeURIComponent(runId)}`;
  // colours by code: still covered, still uncovered, newly covered, newly uncovered, new (covered / not), gone
  const CODE_COLORS = ['#a6d96a', '#d9d9d9', '#1a9850', '#d73027', '#2c7bb6', '#fdae61', '#7a0177'];
  const rgb = hex => [1, 3, 5].map(k => parseInt(hex.slice(k, k + 2), 16) / 255);
  const dm = window.gpDiffMap = { members: null, areas: null, layer: null };

  try {
    maplibregl.setWorkerUrl('/workspace/vendor/maplibre-gl-csp-worker.js');
    const baseStyle = await loadBaseStyle(runId).catch(() => null);
    const map = new maplibregl.Map({
      container: 'map', localIdeographFontFamily: baseFontFamily(baseStyle),
      style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#f6f5f1' } }] },
      center: [0, 0], zoom: 1, attributionControl: { compact: true, customAttribution: '© OpenStreetMap contributors' },
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
    window.gpMap = map;
    const [members, areas] = await Promise.all([
      planner ? api(`${base}/compare/members?${q}`) : Promise.resolve(null),
      api(`${base}/compare/areas?${q}`),
      new Promise(resolve => map.on('load', resolve)),
    ]);
    dm.members = members;
    dm.areas = areas;
    map.addSource('dm-areas', { type: 'geojson', data: areas });
    map.addLayer({ id: 'dm-areas', type: 'fill', source: 'dm-areas', paint: {
      'fill-color': ['case', ['==', ['get', 'change'], null], '#bdbdbd',
        ['interpolate', ['linear'], ['get', 'change'], -0.3, '#b2182b', -0.05, '#ef8a62', 0, '#f7f7f7', 0.05, '#67a9cf', 0.3, '#2166ac']],
      'fill-opacity': 0.65 } });
    map.addLayer({ id: 'dm-areas-line', type: 'line', source: 'dm-areas', paint: { 'line-color': '#636363', 'line-width': 0.4 } });
    let coords = areas.features.map(f => f.geometry.coordinates[0][0]);
    if (members) {
      dm.layer = new PointLayer('dm-members', members.lon, members.lat, members.change, CODE_COLORS.map(rgb));
      map.addLayer(dm.layer);
      coords = members.lon.map((x, i) => [x, members.lat[i]]);
      const show = (id, on) => map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
      const cbM = document.getElementById('dm-members'), cbA = document.getElementById('dm-areas');
      const sync = () => { show('dm-members', cbM.checked); show('dm-areas', cbA.checked); show('dm-areas-line', cbA.checked); };
      cbM.addEventListener('change', sync);
      cbA.addEventListener('change', sync);
      sync();
    }
    legend(members, areas);
    // the 2nd–98th percentile box (as the result page): members living in another city do not zoom the map out
    const quantile = (arr, p) => { const a = Float64Array.from(arr).sort(); return a[Math.min(a.length - 1, Math.floor(p * a.length))]; };
    if (coords.length) {
      const xs = coords.map(c => c[0]), ys = coords.map(c => c[1]);
      map.fitBounds([[quantile(xs, 0.02), quantile(ys, 0.02)], [quantile(xs, 0.98), quantile(ys, 0.98)]], { padding: 30, duration: 0, maxZoom: 16 });
    }
    await new Promise(resolve => map.once('idle', resolve));
    addBaseMap(map, runId, 'dm-areas').catch(() => {});
    window.gpDiffMapReady = true;
  } catch (e) {
    document.getElementById('cmp-status').textContent = `${T.error}: ${e.message}`;
    window.gpFailed = e.message;
  }

  function legend(members, areas) {
    const box = clear(document.getElementById('dm-legend'));
    const item = (color, text, key) => el('div', key ? { dataset: { code: key } } : {}, el('span', { class: 'swatch', style: `background:${color}` }), text);
    if (members) {
      members.codes.forEach((code, k) => box.append(item(CODE_COLORS[k], `${T['dm_' + code]}: ${int(members.counts[code])}`, code)));
    }
    box.append(item('#2166ac', T.dm_up), item('#f7f7f7', T.dm_same), item('#b2182b', T.dm_down), item('#bdbdbd', T.dm_half));
    const hidden = areas.properties && areas.properties.suppressed;
    document.getElementById('dm-suppressed').textContent = planner ? '' : T.dm_suppressed + (hidden ? ` (${int(hidden)})` : '');
  }
})();
