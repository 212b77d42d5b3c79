/* What-if on a run's map (planner): click to add a station, drag one, click one of the run's to switch it
 * off; every edit asks POST /runs/{id}/whatif and the figures, the area table and the members' colours
 * update in place. Undo steps back; "save as scenario" uploads the edited stations as a dataset and starts
 * a new run with the run's other inputs. Stations are drawn by a GeoJSON layer (no DOM marker), members
 * stay in run.js's one WebGL layer (only their style codes change). */
'use strict';
(() => {
  const { T, api, el, clear, pct, num, int } = GP;
  const root = document.getElementById('run-root');
  if (!root || root.dataset.planner !== 'true' || !document.getElementById('whatif-card')) return;
  const runId = root.dataset.runId;
  const base = `/runs/${encodeURIComponent(runId)}`;
  const wi = {
    editing: false, add: [], close: [], move: {}, history: [], last: null, requests: 0, pending: null, seq: 0,
  };
  window.gpWhatIf = wi;  // for tests: the edits and the last answer

  const $ = id => document.getElementById(id);
  const snapshot = () => JSON.stringify({ add: wi.add, close: wi.close, move: wi.move, threshold: wi.threshold });
  const restore = (s) => {
    const o = JSON.parse(s);
    wi.add = o.add; wi.close = o.close; wi.move = o.move; wi.threshold = o.threshold || null;
    document.getElementById('wi-threshold').value = wi.threshold ? String(wi.threshold) : '';
  };
  const nEdits = () => wi.add.length + wi.close.length + Object.keys(wi.move).length + (wi.threshold ? 1 : 0);

  function runStations() {
    const st = window.gpState;
    return (st && st.facilities ? st.facilities.features : []).filter(f => f.properties.layer === 'station');
  }

  /* ------------------------------------------------------------------ the edits on the map */
  function editFeatures() {
    const feats = [];
    const pt = (c, props) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: c }, properties: props });
    for (const f of runStations()) {
      const id = String(f.properties.id);
      if (wi.close.includes(id)) feats.push(pt(f.geometry.coordinates, { id, edit: 'closed' }));
      else if (wi.move[id]) feats.push(pt([wi.move[id].lon, wi.move[id].lat], { id, edit: 'moved' }));
    }
    for (const s of wi.add) feats.push(pt([s.lon, s.lat], { id: s.id, edit: 'added' }));
    return { type: 'FeatureCollection', features: feats };
  }

  function drawEdits() {
    const map = window.gpMap;
    if (map.getSource('wi-edits')) map.getSource('wi-edits').setData(editFeatures());
  }

  function addLayers(map) {
    const empty = { type: 'FeatureCollection', features: [] };
    map.addSource('wi-areas', { type: 'geojson', data: empty });
    map.addLayer({ id: 'wi-areas', type: 'fill', source: 'wi-areas',
      paint: { 'fill-color': '#d7301f', 'fill-opacity': 0.15, 'fill-outline-color': '#d7301f' } }, 'fac-station');
    map.addSource('wi-edits', { type: 'geojson', data: empty });
    map.addLayer({ id: 'wi-edits', type: 'circle', source: 'wi-edits', paint: {
      'circle-radius': ['match', ['get', 'edit'], 'closed', 9, 7],
      'circle-color': ['match', ['get', 'edit'], 'closed', 'rgba(120,120,120,0.6)', 'added', '#d7301f', '#fd8d3c'],
      'circle-stroke-color': ['match', ['get', 'edit'], 'closed', '#333', '#fff'], 'circle-stroke-width': 2 } });
  }

  /* ------------------------------------------------------------------ asking the API */
  function body() {
    return {
      add_stations: wi.add.map(s => ({ lon: s.lon, lat: s.lat, name: s.name, id: s.id })),
      close_stations: wi.close.slice(),
      move_stations: Object.entries(wi.move).map(([id, p]) => ({ id, lon: p.lon, lat: p.lat })),
      ...(wi.threshold ? { station_walk_min: wi.threshold } : {}),
    };
  }

  async function ask() {
    const seq = ++wi.seq;
    const req = body();
    $('wi-status').textContent = T.loading;
    try {
      const res = await api(`${base}/whatif`, { method: 'POST', json: req });
      if (seq !== wi.seq) return;  // a later edit answered (or will)
      wi.requests++;
      wi.last = res;
      wi.lastRequest = req;
      show(res);
      $('wi-status').textContent = '';
    } catch (e) {
      if (seq !== wi.seq) return;
      $('wi-status').textContent = `${T.error}: ${e.message}`;
      wi.error = e.message;
      // the edit the service refused (e.g. a point off the roads) is taken back
      if (wi.history.length) { restore(wi.history.pop()); drawEdits(); listEdits(); }
    }
  }

  function edit(change) {
    wi.history.push(snapshot());
    change();
    wi.error = null;
    drawEdits();
    listEdits();
    ask();
  }

  /* ------------------------------------------------------------------ showing the answer */
  function figure(key, label, before, after) {
    return el('div', { class: 'figure', dataset: { key } }, el('span', { class: 'fl' }, label),
      el('b', { class: 'after' }, after), before === null ? null : el('span', { class: 'before hint' }, ` (${T.wi_before} ${before})`));
  }

  function show(res) {
    const b = res.before, eq = res.equity, beq = b.equity;
    clear($('wi-figures')).append(
      figure('coverage_share', T.wi_coverage, pct(b.coverage_share), pct(res.coverage_share)),
      figure('covered_station', T.wi_covered, int(b.covered_station), int(res.covered_station)),
      figure('weighted_coverage_share', T.wi_weighted, pct(b.weighted_coverage_share), pct(res.weighted_coverage_share)),
      figure('newly_covered', T.wi_newly_covered, null, int(res.newly_covered)),
      figure('newly_uncovered', T.wi_newly_uncovered, null, int(res.newly_uncovered)),
      figure('gini', T.wi_gini, num(beq.gini, 2), num(eq.gini, 2)),
      figure('p90_min', T.wi_p90, num(beq.p90_min, 0), num(eq.p90_min, 0)),
      figure('elapsed_ms', T.wi_elapsed, null, num(res.elapsed_ms, 0)),
    );
    GP.fillTable($('wi-areas'), [
      { key: 'level', label: T.level, fmt: v => GP.value('level', v) },
      { key: 'area', label: T.area },
      { key: 'members', label: T.wi_area_members, fmt: (v, r) => r.suppressed ? T.suppressed : int(v), cls: 'num' },
      { key: 'before_share', label: T.wi_before, fmt: pct, cls: 'num' },
      { key: 'coverage_share', label: T.wi_after, fmt: pct, cls: 'num' },
      { key: 'change', label: T.wi_change, fmt: v => (v === null || v === undefined) ? '–' : (v > 0 ? '+' : '') + (100 * v).toFixed(1), cls: 'num' },
    ], res.by_area.filter(r => r.change !== 0 || nEdits() === 0), (tr, r) => { if (r.change > 0) tr.classList.add('up'); else if (r.change < 0) tr.classList.add('down'); });
    const map = window.gpMap;
    if (map.getSource('wi-areas')) map.getSource('wi-areas').setData(res.service_areas);
    recolour(res);
  }

  /* members' colours: bit 0 (covered by a station) as the what-if answers it */
  function recolour(res) {
    const st = window.gpState, m = st.members, pl = st.pointLayer;
    if (!m || !pl) return;
    if (!wi.baseStyle) wi.baseStyle = Array.from(pl.style);
    const index = wi.index || (wi.index = new Map(m.id.map((id, i) => [String(id), i])));
    const style = wi.baseStyle.slice();
    for (const id of res.newly_covered_ids) { const i = index.get(String(id)); if (i !== undefined) style[i] |= 1; }
    for (const id of res.newly_uncovered_ids) { const i = index.get(String(id)); if (i !== undefined) style[i] &= ~1; }
    pl.style = style;
    const shown = new Uint8Array(m.n);
    for (const i of pl.indices) shown[i] = 1;
    pl.setIndices(pl.count === m.n ? null : i => shown[i] === 1);
    wi.covered = style.reduce((n, s) => n + (s & 1), 0);
  }

  function listEdits() {
    const box = clear($('wi-edits'));
    const names = new Map(runStations().map(f => [String(f.properties.id), f.properties.name || f.properties.id]));
    const items = [
      ...wi.add.map(s => `${T.wi_added}: ${s.name} (${s.lon.toFixed(5)}, ${s.lat.toFixed(5)})`),
      ...Object.keys(wi.move).map(id => `${T.wi_moved}: ${names.get(id) || id}`),
      ...wi.close.map(id => `${T.wi_closed}: ${names.get(id) || id}`),
      ...(wi.threshold ? [`${T.wi_threshold}: ${wi.threshold}`] : []),
    ];
    if (!items.length) box.appendChild(el('li', { class: 'hint' }, T.wi_none));
    for (const text of items) box.appendChild(el('li', {}, text));
    $('wi-undo').disabled = !wi.history.length;
    $('wi-reset').disabled = !nEdits();
    $('wi-save').disabled = !nEdits();
  }

  /* ------------------------------------------------------------------ mouse: add, drag, switch off */
  const EDIT_LAYERS = ['wi-edits', 'fac-station'];

  function hit(map, point) {
    const box = [[point.x - 6, point.y - 6], [point.x + 6, point.y + 6]];
    const feats = map.queryRenderedFeatures(box, { layers: EDIT_LAYERS });
    return feats.length ? feats[0] : null;
  }

  function wireMouse(map) {
    let drag = null;
    map.on('mousedown', (e) => {
      if (!wi.editing) return;
      const f = hit(map, e.point);
      if (!f) return;
      e.preventDefault();  // no pan while dragging a station
      drag = { id: String(f.properties.id), edit: f.properties.edit || 'run', start: e.point, moved: false, lngLat: e.lngLat };
    });
    map.on('mousemove', (e) => {
      if (!wi.editing) return;
      map.getCanvas().style.cursor = drag ? 'grabbing' : hit(map, e.point) ? 'grab' : 'crosshair';
      if (!drag || drag.edit === 'closed') return;
      if (Math.hypot(e.point.x - drag.start.x, e.point.y - drag.start.y) > 3) drag.moved = true;
      drag.lngLat = e.lngLat;
      if (!drag.moved) return;
      const src = map.getSource('wi-edits');
      const data = editFeatures();
      const f = data.features.find(x => x.properties.id === drag.id);
      if (f) f.geometry.coordinates = [e.lngLat.lng, e.lngLat.lat];
      else data.features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [e.lngLat.lng, e.lngLat.lat] }, properties: { id: drag.id, edit: 'moved' } });
      src.setData(data);
    });
    map.on('mouseup', () => {
      if (!drag) return;
      const d = drag;
      drag = null;
      wi.justDragged = true;
      setTimeout(() => { wi.justDragged = false; }, 0);
      if (d.moved) moveStation(d.id, d.edit, d.lngLat.lng, d.lngLat.lat);
      else toggleStation(d.id, d.edit);
    });
    map.on('click', (e) => {
      if (!wi.editing || wi.justDragged || hit(map, e.point)) return;
      addStation(e.lngLat.lng, e.lngLat.lat);
    });
  }

  function addStation(lon, lat) {
    edit(() => {
      let k = wi.add.length + 1;
      const ids = new Set(wi.add.map(s => s.id));
      while (ids.has('W' + k)) k++;
      wi.add.push({ id: 'W' + k, lon, lat, name: `${T.wi_new_station} ${k}` });
    });
  }

  function moveStation(id, kind, lon, lat) {
    edit(() => {
      if (kind === 'added') { const s = wi.add.find(x => x.id === id); if (s) { s.lon = lon; s.lat = lat; } }
      else wi.move[id] = { lon, lat };
    });
  }

  function toggleStation(id, kind) {
    edit(() => {
      if (kind === 'added') wi.add = wi.add.filter(s => s.id !== id);
      else if (kind === 'closed') wi.close = wi.close.filter(x => x !== id);
      else if (kind === 'moved') delete wi.move[id];
      else wi.close.push(id);
    });
  }

  /* ------------------------------------------------------------------ save as scenario */
  function csvCell(v) {
    const s = String(v === null || v === undefined ? '' : v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function stationsCsv() {
    const rows = [['驿站编号', '名称', '类型', '经度', '纬度']];
    for (const f of runStations()) {
      const p = f.properties, id = String(p.id);
      if (wi.close.includes(id)) continue;
      const c = wi.move[id] ? [wi.move[id].lon, wi.move[id].lat] : f.geometry.coordinates;
      rows.push([id, p.name || id, p.kind || '', c[0], c[1]]);
    }
    for (const s of wi.add) rows.push([s.id, s.name, '', s.lon, s.lat]);
    return '\ufeff' + rows.map(r => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
  }

  async function save() {
    const status = $('wi-save-status');
    status.textContent = T.wi_saving;
    try {
      const run = await api(base);
      const scenario = await api(`${base}/request`);
      const form = new FormData();
      form.append('file', new Blob([stationsCsv()], { type: 'text/csv' }), `stations_${runId}_whatif.csv`);
      const report = await api('/datasets/stations', { method: 'POST', body: form });
      const req = Object.assign({}, scenario, { name: `${run.name}（${T.wi_edits}）` });
      req.inputs = Object.assign({}, scenario.inputs, { stations: { dataset: report.id } });
      if (wi.threshold) req.thresholds = Object.assign({}, scenario.thresholds, { station_walk_min: wi.threshold });
      const created = await api('/runs', { method: 'POST', json: req });
      wi.saved = { dataset: report.id, run: created.id };
      clear(status).append(`${T.wi_saved}: `, el('a', { href: `/workspace/runs/${encodeURIComponent(created.id)}`, id: 'wi-new-run' }, created.name || created.id));
    } catch (e) {
      status.textContent = e.status === 403 ? T.wi_admin_only : `${T.error}: ${e.message}`;
      wi.saveError = e.message;
    }
  }

  /* ------------------------------------------------------------------ start */
  async function start() {
    while (!window.gpComplete) {
      if (window.gpFailed) return;
      await new Promise(r => setTimeout(r, 100));
    }
    const map = window.gpMap;
    addLayers(map);
    wireMouse(map);
    listEdits();
    $('wi-toggle').addEventListener('click', () => {
      wi.editing = !wi.editing;
      $('wi-toggle').textContent = wi.editing ? T.wi_stop : T.wi_edit;
      $('wi-toggle').classList.toggle('active', wi.editing);
      map.getCanvas().style.cursor = wi.editing ? 'crosshair' : '';
      if (wi.editing) map.doubleClickZoom.disable(); else map.doubleClickZoom.enable();
    });
    $('wi-undo').addEventListener('click', () => {
      if (!wi.history.length) return;
      restore(wi.history.pop());
      drawEdits();
      listEdits();
      ask();
    });
    $('wi-reset').addEventListener('click', () => edit(() => { wi.add = []; wi.close = []; wi.move = {}; }));
    $('wi-save').addEventListener('click', save);
    $('wi-threshold').addEventListener('change', () => {
      const v = Number($('wi-threshold').value);
      edit(() => { wi.threshold = ($('wi-threshold').value !== '' && Number.isFinite(v) && v > 0) ? v : null; });
    });
    wi.ready = true;
  }

  start().catch((e) => { $('wi-status').textContent = `${T.error}: ${e.message}`; });
})();
