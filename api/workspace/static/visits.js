/* Home visits (planner): the [visits] form (offices, cars, days, who), POST /runs/{id}/visits?lines=true, the
 * visitor-day list, and the chosen day's route drawn along the roads (the legs' lines) with its stops. */
'use strict';
(() => {
  const { T, api, el, clear, num, int } = GP;
  const root = document.getElementById('vis-root');
  const runId = root.dataset.runId;
  const base = `/runs/${encodeURIComponent(runId)}`;
  const vis = { plan: null, day: null };
  window.gpVisits = vis;  // for tests: the plan and the day drawn
  const $ = id => document.getElementById(id);

  maplibregl.setWorkerUrl('/workspace/vendor/maplibre-gl-csp-worker.js');
  const map = new maplibregl.Map({
    container: 'map',
    style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#f6f5f1' } }] },
    center: [0, 0], zoom: 1, attributionControl: { compact: true, customAttribution: '© OpenStreetMap contributors' },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  window.gpMap = map;
  const empty = { type: 'FeatureCollection', features: [] };
  const mapLoaded = new Promise(resolve => map.on('load', () => {
    map.addSource('route', { type: 'geojson', data: empty });
    map.addLayer({ id: 'route', type: 'line', source: 'route', layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: { 'line-color': '#d7301f', 'line-width': 3.5, 'line-opacity': 0.85 } });
    map.addSource('stops', { type: 'geojson', data: empty });
    map.addLayer({ id: 'stops', type: 'circle', source: 'stops', paint: {
      'circle-radius': 8, 'circle-color': ['match', ['get', 'stop'], 'visit', '#ffffff', '#2b8cbe'],
      'circle-stroke-color': '#d7301f', 'circle-stroke-width': 2 } });
    resolve();
  }));
  mapLoaded.then(() => addBaseMap(map, runId, 'route')).then(() => { vis.baseMap = true; }).catch(() => { vis.baseMap = false; });

  /* ------------------------------------------------------------------ the form */
  function offices(text, form) {
    const visitors = Number(form.elements.visitors.value), days = Number(form.elements.days.value);
    return text.split(/\r?\n/).map(s => s.trim()).filter(Boolean).map((line) => {
      const parts = line.split(/[,，]/).map(s => s.trim());
      const o = { name: parts[0], visitors, days };
      if (parts.length >= 3) { o.lon = Number(parts[1]); o.lat = Number(parts[2]); } else if (parts.length === 2) o.site = parts[1];
      return o;
    });
  }

  function request(form) {
    const select = Array.from(form.querySelectorAll('input[name="select"]:checked')).map(cb => cb.value);
    return {
      offices: offices(form.elements.offices.value, form), select: select.length ? select : ['all'],
      min_age: Number(form.elements.min_age.value), duration_min: Number(form.elements.duration_min.value), time_limit_s: 3,
    };
  }

  async function plan(form) {
    const box = $('vis-problems');
    box.hidden = true;
    $('vis-status').textContent = T.vis_planning;
    $('vis-plan').disabled = true;
    try {
      const body = request(form);
      vis.request = body;
      const res = await api(`${base}/visits?lines=true`, { method: 'POST', json: body });
      vis.plan = res;
      $('vis-status').textContent = '';
      show(res);
    } catch (e) {
      $('vis-status').textContent = '';
      clear(box).append(e.message, ...(e.problems || []).map(p => el('div', {}, `${p.field || ''}: ${p.reason || p.message || ''}`)));
      box.hidden = false;
      vis.error = e.message;
    } finally {
      $('vis-plan').disabled = false;
    }
  }

  /* ------------------------------------------------------------------ the plan */
  function show(res) {
    const s = res.summary || {};
    const fig = (key, label, text) => el('div', { class: 'figure', dataset: { key } }, el('span', { class: 'fl' }, label), el('b', {}, text));
    clear($('vis-summary')).append(
      fig('visits_planned', T.vis_planned, int(s.visits_planned)),
      fig('unvisited', T.vis_unvisited, int(res.unvisited.length)),
      fig('drive_min', T.vis_total_drive, num(s.drive_min_total ?? s.drive_min, 0)),
      fig('status', T.vis_status, String((s.solver && s.solver.status) || '–')));
    const days = new Map();
    for (const r of res.visits) {
      const k = `${r.visitor}\u0000${r.day}`;
      if (!days.has(k)) days.set(k, { visitor: r.visitor, day: r.day, office: r.office, stops: 0, drive: 0 });
      const d = days.get(k);
      if (r.stop === 'visit') d.stops++;
      d.drive += r.drive_min || 0;
    }
    vis.days = [...days.values()].filter(d => d.stops > 0);
    GP.fillTable($('vis-days'), [
      { key: 'visitor', label: T.vis_visitor }, { key: 'day', label: T.vis_day, cls: 'num' },
      { key: 'stops', label: T.vis_stops, fmt: int, cls: 'num' }, { key: 'drive', label: T.vis_drive, fmt: v => num(v, 0), cls: 'num' },
    ], vis.days, (tr, d) => {
      tr.classList.add('clickable');
      tr.dataset.visitor = d.visitor; tr.dataset.day = String(d.day);
      tr.addEventListener('click', () => showDay(d.visitor, d.day, tr));
    });
    GP.fillTable($('vis-unvisited'), [
      { key: 'member_id', label: '#' }, { key: 'name', label: T.name }, { key: 'reason', label: T.reason_col },
    ], res.unvisited);
    const first = document.querySelector('#vis-days tbody tr');
    if (first) first.click();
  }

  async function showDay(visitor, day, tr) {
    for (const x of document.querySelectorAll('#vis-days tr.hl')) x.classList.remove('hl');
    if (tr) tr.classList.add('hl');
    const plan = vis.plan;
    const stops = plan.visits.filter(r => r.visitor === visitor && r.day === day);
    const lines = (plan.lines || []).filter(l => l.visitor === visitor && l.day === day && l.coordinates.length >= 2);
    GP.fillTable($('vis-stops'), [
      { key: 'order', label: T.vis_order, cls: 'num' }, { key: 'member_id', label: T.vis_member },
      { key: 'arrive', label: T.vis_arrive }, { key: 'leave', label: T.vis_leave },
      { key: 'drive_min', label: T.vis_drive, fmt: v => num(v, 0), cls: 'num' }, { key: 'office', label: T.vis_office },
    ], stops);
    await mapLoaded;
    const feats = lines.map(l => ({ type: 'Feature', geometry: { type: 'LineString', coordinates: l.coordinates },
      properties: { order: l.order, span: l.span } }));
    map.getSource('route').setData({ type: 'FeatureCollection', features: feats });
    // each leg ends at its stop: the stops are the legs' last points (the office is the first leg's start)
    const pts = [];
    for (const l of lines) {
      const stop = stops.find(r => r.order === l.order && r.span === l.span);
      if (stop && stop.stop === 'visit') pts.push({ type: 'Feature', geometry: { type: 'Point', coordinates: l.coordinates[l.coordinates.length - 1] }, properties: { order: stop.order, stop: 'visit' } });
    }
    if (lines.length) pts.push({ type: 'Feature', geometry: { type: 'Point', coordinates: lines[0].coordinates[0] }, properties: { order: 0, stop: 'office' } });
    map.getSource('stops').setData({ type: 'FeatureCollection', features: pts });
    const all = lines.flatMap(l => l.coordinates);
    if (all.length) {
      let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
      for (const [x, y] of all) { w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y); }
      map.fitBounds([[w, s], [e, n]], { padding: 40, duration: 0, maxZoom: 16 });
    }
    vis.day = { visitor, day, legs: lines.length, points: all.length, stops: pts.length };
  }

  async function start() {
    const fac = await api(`${base}/layers/facilities`);
    const st = fac.features.find(f => f.properties.layer === 'station');
    if (st && !$('vis-offices').value) $('vis-offices').value = `${String(st.properties.name || T.vis_office).replace(/[,，\n]/g, ' ')},${st.properties.id}`;
    const form = $('vis-form');
    form.addEventListener('submit', (e) => { e.preventDefault(); plan(form); });
    await mapLoaded;
    const coords = fac.features.map(f => f.geometry.coordinates);
    if (coords.length) {
      let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
      for (const [x, y] of coords) { w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y); }
      map.fitBounds([[w, s], [e, n]], { padding: 30, duration: 0, maxZoom: 16 });
    }
    vis.ready = true;
  }

  start().catch((e) => { $('vis-status').textContent = `${T.error}: ${e.message}`; window.gpFailed = e.message; });
})();
