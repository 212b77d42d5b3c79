/* A run's result: headline figures, the MapLibre map (members as one WebGL layer for planners, grid
 * counts for viewers), filters, details on click, tables that highlight on the map and back, downloads. */
'use strict';
(async () => {
  const { T, LANG, api, el, clear, pct, num, int, kind, reasons, value } = GP;
  const root = document.getElementById('run-root');
  const runId = root.dataset.runId;
  const planner = root.dataset.planner === 'true';
  const base = `/runs/${encodeURIComponent(runId)}`;
  const KIND_COLORS = { new_station: '#d7301f', joint_branch: '#6a51a3', transfer: '#2171b5',
    party_group: '#238b45', remote_branch: '#e6550d', mobile_member: '#636363' };
  // times: the first render's steps, ms from navigation start (benchmarks/workspace.py --profile prints them)
  const state = { members: null, recs: null, facilities: null, kinds: new Set(), filter: {}, times: {} };
  const mark = k => { state.times[k] = Math.round(performance.now()); };
  window.gpState = state;  // for tests and the benchmark: what the page drew

  maplibregl.setWorkerUrl('/workspace/vendor/maplibre-gl-csp-worker.js');
  maplibregl.prewarm();  // the map's worker starts (its script fetched and parsed) while the style is awaited
  // the run's base map style (basemap.js) first: its font family for Chinese names is fixed when the map is made
  const baseStyle = await loadBaseStyle(runId).catch(() => null);
  const map = new maplibregl.Map({
    container: 'map', localIdeographFontFamily: baseFontFamily(baseStyle),
    // no fades or paint transitions: each is a few more frames before the map is idle (a frame of 56,000 points
    // drawn in software is ~0.1 s on a busy office PC)
    style: { version: 8, sources: {}, transition: { duration: 0, delay: 0 },
      layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#f6f5f1' } }] },
    center: [0, 0], zoom: 1, fadeDuration: 0, attributionControl: { compact: true, customAttribution: '© OpenStreetMap contributors' },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  window.gpMap = map;
  mark('map_made');
  const mapLoaded = new Promise(resolve => map.on('load', resolve)).then(() => mark('map_loaded'));

  /* ---------------------------------------------------------------- headline */
  function figure(label, valueText) { return el('div', { class: 'figure' }, el('span', { class: 'fl' }, label), el('b', {}, valueText)); }

  function headline(run, nRecs) {
    const s = run.summary || {};
    const box = clear(document.getElementById('headline'));
    const share = k => (s[k] === null || s[k] === undefined || !s.members) ? '–' : pct(s[k] / s.members);
    box.append(figure(T.members, int(s.members)), figure(T.covered_station, share('covered_station')),
      figure(T.covered_branch, share('covered_branch')), figure(T.covered_hospital, share('covered_hospital')),
      figure(T.dispersed, share('dispersed')), figure(T.recommendations, int(nRecs)));
    const th = run.thresholds;
    document.getElementById('run-status').textContent = `${GP.status(run.status)} · ${(run.finished || '').replace('T', ' ').slice(0, 19)}` +
      (th ? ` · ${T.stations} ≤ ${th.station_walk_min} ${T.minutes} · ${T.branches} ≤ ${th.branch_walk_min} ${T.minutes} · ${T.hospitals} ≤ ${th.hospital_drive_min} ${T.minutes}` : '');
  }

  /* ---------------------------------------------------------------- members (planner) */
  /* the filter as a predicate over member indices; null when nothing is filtered */
  function memberPredicate() {
    const m = state.members, f = state.filter;
    const want = k => (f[k] === undefined || f[k] === '') ? null : Number(f[k]);
    const wb = want('branch'), wt = want('township'), wc = want('community'), wp = want('precision');
    const bit = f.reason ? (1 << m.reason_codes.indexOf(f.reason)) : 0;
    if (wb === null && wt === null && wc === null && wp === null && !bit) return null;
    return i => (wb === null || m.branch[i] === wb) && (wt === null || m.township[i] === wt)
      && (wc === null || m.community[i] === wc) && (wp === null || m.precision[i] === wp) && (!bit || (m.reasons[i] & bit));
  }

  function applyFilter() {
    if (!state.members) return;
    const keep = memberPredicate();
    if (state.pointLayer) state.pointLayer.setIndices(keep);
    countShown();
  }

  function countShown() {
    const keep = memberPredicate();
    let n = 0;
    for (let i = 0; i < state.members.n; i++) if (!keep || keep(i)) n++;
    state.shown = n;
    document.getElementById('shown-count').textContent = int(n);
  }

  function fillSelect(id, labels, key, fmt) {
    const sel = document.getElementById(id);
    labels.forEach((text, code) => sel.appendChild(el('option', { value: String(code) }, fmt ? fmt(text, code) : text)));
    sel.addEventListener('change', () => { state.filter[key] = sel.value; applyFilter(); });
  }

  function setupFilters(m) {
    fillSelect('f-branch', m.labels.branch, 'branch', (id, code) => `${m.labels.branch_names[code] || id} (${id})`);
    fillSelect('f-township', m.labels.township, 'township');
    fillSelect('f-community', m.labels.community, 'community');
    fillSelect('f-precision', m.labels.precision, 'precision');
    const rsel = document.getElementById('f-reason');
    m.reason_codes.forEach(code => rsel.appendChild(el('option', { value: code }, GP.reason(code))));
    rsel.addEventListener('change', () => { state.filter.reason = rsel.value; applyFilter(); });
    if (m.unplaced) document.getElementById('unplaced').textContent = `${T.unplaced}: ${int(m.unplaced)}`;
  }

  function setFilter(key, label) {
    const m = state.members;
    if (!m) return;
    const code = m.labels[key].indexOf(label);
    const sel = document.getElementById('f-' + key);
    sel.value = code >= 0 ? String(code) : '';
    state.filter[key] = sel.value;
    applyFilter();
  }

  async function showMember(index) {
    const m = state.members;
    const id = m.id[index];
    const box = clear(document.getElementById('details'));
    box.appendChild(el('p', { class: 'hint' }, T.loading));
    try {
      const d = await api(`${base}/members/${encodeURIComponent(id)}`);
      clear(box);
      const rows = Object.entries(d).filter(([, v]) => v !== null && v !== '').map(([k, v]) => {
        let text = (k === 'dispersion_reason') ? reasons(v) : (typeof v === 'number' && !Number.isInteger(v)) ? num(v, k.endsWith('_min') ? 1 : 6) : value(k, v);
        return el('tr', {}, el('th', {}, k), el('td', { dataset: { key: k } }, text));
      });
      box.appendChild(el('table', { class: 'kv', id: 'member-details' }, el('tbody', {}, rows)));
      highlight([m.lon[index], m.lat[index]], false);
    } catch (e) {
      clear(box).appendChild(el('p', { class: 'error' }, e.message));
    }
  }

  /* ---------------------------------------------------------------- highlight both ways */
  function highlight(coords, fly = true) {
    const src = map.getSource('highlight');
    if (!src || !coords) return;
    src.setData({ type: 'FeatureCollection', features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: coords }, properties: {} }] });
    state.highlighted = coords;
    if (fly) map.flyTo({ center: coords, zoom: Math.max(map.getZoom(), 15), duration: 400 });
  }

  function markRow(tableId, rowId) {
    for (const tr of document.querySelectorAll(`#${tableId} tr.hl`)) tr.classList.remove('hl');
    const tr = document.getElementById(rowId);
    if (tr) { tr.classList.add('hl'); tr.scrollIntoView({ block: 'nearest' }); }
    return tr;
  }

  /* ---------------------------------------------------------------- recommendations */
  function recData() {
    const feats = state.recs.features.filter(f => f.geometry && state.kinds.has(f.properties.kind));
    return { type: 'FeatureCollection', features: feats };
  }

  function setupKinds() {
    const box = document.getElementById('kind-filters');
    const kinds = [...new Set(state.recs.features.map(f => f.properties.kind))];
    for (const k of kinds) {
      state.kinds.add(k);
      const cb = el('input', { type: 'checkbox', checked: true, value: k, class: 'kind-filter' });
      cb.addEventListener('change', () => {
        if (cb.checked) state.kinds.add(k); else state.kinds.delete(k);
        const src = map.getSource('recs');
        if (src) src.setData(recData());
      });
      box.appendChild(el('label', { class: 'inline' }, cb, el('span', { class: 'swatch', style: `background:${KIND_COLORS[k] || '#444'}` }), kind(k)));
    }
  }

  function recTable() {
    const rows = state.recs.features.map(f => ({ ...f.properties, _coords: f.geometry && f.geometry.coordinates }));
    GP.fillTable(document.getElementById('t-recs'), [
      { key: 'rec_id', label: '#' },
      { key: 'kind', label: T.kind, fmt: kind },
      { key: 'name', label: T.name },
      { key: 'n_members', label: T.n_members, fmt: int, cls: 'num' },
      { key: 'before_min', label: T.before_after, fmt: (v, r) => `${num(v)} → ${num(r.after_min)}`, cls: 'num' },
      { key: LANG === 'zh' ? 'rationale_zh' : 'rationale_en', label: T.rationale, cls: 'wrap' },
    ], rows, (tr, r) => {
      tr.id = 'rec-' + r.rec_id;
      tr.dataset.recId = r.rec_id;
      tr.classList.add('clickable');
      tr.addEventListener('click', () => { markRow('t-recs', tr.id); if (r._coords) highlight(r._coords); state.openedRec = r.rec_id; });
    });
  }

  /* ---------------------------------------------------------------- other tables */
  async function areaTable() {
    const data = await api(`${base}/coverage`);
    GP.fillTable(document.getElementById('t-areas'), [
      { key: 'level', label: T.level, fmt: v => value('level', v) },
      { key: 'area', label: T.area }, { key: 'township', label: T.township },
      { key: 'members', label: T.members, fmt: (v, r) => r.suppressed ? T.suppressed : int(v), cls: 'num' },
      { key: 'share_covered_station', label: T.share_station, fmt: pct, cls: 'num' },
      { key: 'share_covered_branch', label: T.share_branch, fmt: pct, cls: 'num' },
      { key: 'share_covered_hospital', label: T.share_hospital, fmt: pct, cls: 'num' },
    ], data.areas, (tr, r) => {
      if (!planner) return;
      tr.classList.add('clickable');
      tr.addEventListener('click', () => {
        setFilter('township', r.level === 'township' ? r.area : r.township);
        if (r.level === 'community') setFilter('community', r.area); else setFilter('community', '');
        markRow('t-areas', tr.id = tr.id || ('area-' + Math.random().toString(36).slice(2)));
      });
    });
  }

  async function branchTable() {
    const data = await api(`${base}/coverage/branches`);
    const places = new Map((state.facilities ? state.facilities.features : []).filter(f => f.properties.layer === 'branch')
      .map(f => [f.properties.id, f.geometry.coordinates]));
    GP.fillTable(document.getElementById('t-branches'), [
      { key: 'branch_id', label: '#' }, { key: 'branch_name', label: T.branch },
      { key: 'members', label: T.members, fmt: (v, r) => r.suppressed ? T.suppressed : int(v), cls: 'num' },
      { key: 'share_covered_station', label: T.share_station, fmt: pct, cls: 'num' },
      { key: 'share_covered_branch', label: T.share_branch, fmt: pct, cls: 'num' },
      { key: 'share_dispersed', label: T.dispersed, fmt: pct, cls: 'num' },
    ], data.branches, (tr, r) => {
      tr.id = 'branch-' + r.branch_id;
      tr.classList.add('clickable');
      tr.addEventListener('click', () => {
        markRow('t-branches', tr.id);
        highlight(places.get(String(r.branch_id)));
        if (planner) setFilter('branch', String(r.branch_id));
      });
    });
  }

  async function dispersedTable() {
    if (!planner) return;
    const data = await api(`${base}/dispersed`);
    const index = new Map(state.members ? state.members.id.map((id, i) => [id, i]) : []);
    GP.fillTable(document.getElementById('t-dispersed'), [
      { key: 'id', label: '#' }, { key: 'name', label: T.name }, { key: 'branch_id', label: T.branch },
      { key: 'township', label: T.township }, { key: 'community', label: T.community },
      { key: 'walk_min_branch', label: T.minutes, fmt: v => num(v), cls: 'num' },
      { key: 'dispersion_reason', label: T.reason, fmt: reasons },
      { key: 'dispersion_note', label: T.details, cls: 'wrap' },
    ], data.members, (tr, r) => {
      tr.id = 'member-' + r.id;
      tr.classList.add('clickable');
      tr.addEventListener('click', () => {
        markRow('t-dispersed', tr.id);
        const i = index.get(String(r.id));
        if (i !== undefined) { highlight([state.members.lon[i], state.members.lat[i]]); showMember(i); }
      });
    });
  }

  /* manual placement: the next click on the map places the member (PUT …/placement), kept for later runs */
  function startPlacing(id) {
    state.placing = id;
    document.getElementById('map').classList.add('placing');
    const note = document.getElementById('placing-note');
    if (note) { note.hidden = false; note.textContent = `${T.placing} ${id}`; }
    document.getElementById('map').scrollIntoView();
  }

  async function placeAt(lngLat, id) {
    id = id || state.placing;
    state.placing = null;
    document.getElementById('map').classList.remove('placing');
    const note = document.getElementById('placing-note');
    try {
      const pl = await api(`${base}/members/${encodeURIComponent(id)}/placement`,
        { method: 'PUT', json: { lon: lngLat.lng, lat: lngLat.lat } });
      const tr = document.getElementById('review-' + id);
      if (tr) { tr.dataset.placed = pl.geocode_precision; tr.classList.add('placed'); tr.cells[4].textContent = pl.geocode_precision; }
      if (note) note.textContent = `${id}: ${T.placed} (${pl.lon.toFixed(5)}, ${pl.lat.toFixed(5)})`;
    } catch (e) {
      if (note) note.textContent = e.message;
    }
  }

  /* manual placement by a named place: the run's gazetteer searched, a candidate picked (PUT …/placement) */
  function startNaming(id) {
    const form = document.getElementById('place-search');
    if (!form) return;
    state.naming = id;
    form.hidden = false;
    form.dataset.memberId = id;
    document.getElementById('place-search-label').textContent = `${T.place_search} ${id}`;
    clear(document.getElementById('place-results'));
    const q = document.getElementById('place-q');
    q.value = '';
    q.focus();
  }

  async function searchPlaces(ev) {
    ev.preventDefault();
    const q = document.getElementById('place-q').value.trim();
    const list = clear(document.getElementById('place-results'));
    if (!q || !state.naming) return;
    const id = state.naming;
    let data;
    try { data = await api(`${base}/places?q=${encodeURIComponent(q)}`); }
    catch (e) { list.appendChild(el('li', { class: 'error' }, e.message)); return; }
    if (!data.places.length) list.appendChild(el('li', { class: 'hint' }, T.no_places));
    for (const p of data.places) {
      const where = [p.county, p.township, p.community].filter(Boolean).join(' · ');
      const level = (T.levels && T.levels[p.precision]) || p.precision;
      list.appendChild(el('li', { class: 'place-candidate', dataset: { precision: p.precision } },
        el('b', {}, p.name), ` (${T.precision_of}: ${level}; ${where}; ${T.score} ${p.score}) `,
        el('button', { type: 'button', class: 'pick-place', onclick: async () => {
          await placeAt({ lng: p.lon, lat: p.lat }, id);
          document.getElementById('place-search').hidden = true;
          highlight([p.lon, p.lat]);
        } }, T.pick_place)));
    }
    window.gpPlaces = data;
  }

  async function reviewTable() {
    if (!planner) return;
    const form = document.getElementById('place-search');
    if (form && !form.dataset.bound) { form.addEventListener('submit', searchPlaces); form.dataset.bound = '1'; }
    const data = await api(`${base}/review`);
    const index = new Map(state.members ? state.members.id.map((id, i) => [id, i]) : []);
    GP.fillTable(document.getElementById('t-review'), [
      { key: 'id', label: '#' }, { key: 'name', label: T.name }, { key: 'branch_id', label: T.branch },
      { key: 'address', label: T.area, cls: 'wrap' }, { key: 'geocode_precision', label: T.precision },
      { key: 'geocode_match', label: T.match }, { key: 'geocode_score', label: T.score, fmt: v => num(v, 0), cls: 'num' },
      { key: 'id', label: '', fmt: (_v, r) => el('button', { type: 'button', class: 'place', dataset: { memberId: String(r.id) },
        onclick: (ev) => { ev.stopPropagation(); startPlacing(String(r.id)); } }, T.place_on_map) },
      { key: 'id', label: '', fmt: (_v, r) => el('button', { type: 'button', class: 'name-place', dataset: { memberId: String(r.id) },
        onclick: (ev) => { ev.stopPropagation(); startNaming(String(r.id)); } }, T.place_by_name) },
    ], data.members, (tr, r) => {
      tr.id = 'review-' + r.id;
      tr.dataset.memberId = String(r.id);
      const i = index.get(String(r.id));
      if (i === undefined) return;
      tr.classList.add('clickable');
      tr.addEventListener('click', () => { markRow('t-review', tr.id); highlight([state.members.lon[i], state.members.lat[i]]); showMember(i); });
    });
  }

  async function downloads() {
    const list = clear(document.getElementById('downloads'));
    const data = await api(`${base}/exports`);
    const name = tbl => (T.exports && T.exports[tbl]) || tbl;
    for (const x of data.exports) {
      const url = new URL(x.url, window.location.href);
      url.searchParams.set('language', LANG);
      list.appendChild(el('li', {}, el('a', { href: url.pathname + url.search, class: 'export', dataset: { table: x.table, format: x.format } }, `${name(x.table)} (${x.table}.${x.format})`)));
    }
    list.appendChild(el('li', {}, el('a', { href: `${base}/report`, target: '_blank', rel: 'noopener', id: 'report-link' }, T.report)));
    list.appendChild(el('li', {}, el('a', { href: `${base}/report.pdf` }, T.report_pdf)));
  }

  function wireTabs() {
    for (const btn of document.querySelectorAll('#tabs button')) {
      btn.addEventListener('click', () => {
        for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b === btn);
        for (const tab of document.querySelectorAll('.tab')) tab.hidden = tab.id !== 'tab-' + btn.dataset.tab;
      });
    }
  }

  /* ---------------------------------------------------------------- the map's layers */
  function bounds(coords) {
    let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    for (const [x, y] of coords) { if (x < w) w = x; if (x > e) e = x; if (y < s) s = y; if (y > n) n = y; }
    return Number.isFinite(w) ? [[w, s], [e, n]] : null;
  }

  /* the 2nd–98th percentile box of the members: a few members living in another city do not zoom the map out */
  function coreBounds(lon, lat) {
    const q = (arr, p) => { const a = Float64Array.from(arr).sort(); return a[Math.min(a.length - 1, Math.floor(p * a.length))]; };
    if (!lon.length) return [];
    return [[q(lon, 0.02), q(lat, 0.02)], [q(lon, 0.98), q(lat, 0.98)]];
  }

  /* the grid (viewers) and the facilities, the camera on the members; the members' points
   * come after (addPoints): MapLibre's worker cuts these GeoJSON sources into tiles over a few frames, and
   * without the points each of those frames is cheap */
  function addLayers(grid) {
    let coords = [];
    if (grid) {
      state.grid = grid;
      map.addSource('grid', { type: 'geojson', data: grid });
      map.addLayer({ id: 'grid', type: 'fill', source: 'grid', paint: {
        'fill-color': ['step', ['get', 'count'], '#fdd49e', 10, '#fc8d59', 30, '#d7301f', 100, '#7f0000'], 'fill-opacity': 0.6 } });
      map.addLayer({ id: 'grid-line', type: 'line', source: 'grid', paint: { 'line-color': '#b30000', 'line-width': 0.5 } });
      // the same 2nd–98th percentile box as the planner's, over the cells' members: the cells of members
      // living in another city (a city's roster reaches hundreds of km) do not zoom the map out
      const lon = [], lat = [];
      for (const f of grid.features) {
        const ring = f.geometry.coordinates[0];
        for (let k = 0; k < (f.properties.count || 1); k++) for (const c of [ring[0], ring[2]]) { lon.push(c[0]); lat.push(c[1]); }
      }
      coords = coreBounds(lon, lat);
    }
    if (state.members) coords = coreBounds(state.members.lon, state.members.lat);
    map.addSource('facilities', { type: 'geojson', data: state.facilities });
    for (const [layer, color, radius] of [['station', '#2b8cbe', 6], ['hospital', '#e31a1c', 7], ['branch', '#6a51a3', 5]]) {
      map.addLayer({ id: 'fac-' + layer, type: 'circle', source: 'facilities', filter: ['==', ['get', 'layer'], layer],
        paint: { 'circle-radius': radius, 'circle-color': '#ffffff', 'circle-stroke-color': color, 'circle-stroke-width': 2.5 } });
    }
    if (!coords.length) coords = state.facilities.features.map(f => f.geometry.coordinates);
    const b = bounds(coords);
    if (b) map.fitBounds(b, { padding: 30, duration: 0, maxZoom: 16 });
    legend(!!grid);
  }

  /* the ring around what a table row or a click shows (after the first render: one source fewer to cut before it) */
  function addHighlight() {
    map.addSource('highlight', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    map.addLayer({ id: 'highlight', type: 'circle', source: 'highlight', paint: {
      'circle-radius': 14, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#000', 'circle-stroke-width': 3 } });
  }

  /* the members' points, one WebGL layer under the facilities */
  function addPoints() {
    const m = state.members;
    const style = new Uint8Array(m.n);
    for (let i = 0; i < m.n; i++) style[i] = (m.covered[i] & 1) | (m.reasons[i] > 0 ? 2 : 0);
    state.pointLayer = new PointLayer('members', m.lon, m.lat, style);
    map.addLayer(state.pointLayer, 'fac-station');
    map.on('click', (e) => { if (state.placing) { placeAt(e.lngLat); return; } const i = state.pointLayer.pick(e.lngLat); if (i >= 0) showMember(i); });
    map.on('mousemove', (e) => { map.getCanvas().style.cursor = state.pointLayer.pick(e.lngLat) >= 0 ? 'pointer' : ''; });
  }

  /* the recommendations, clustered, by kind (they arrive after the members: a viewer's are scrubbed first) */
  function addRecLayers() {
    map.addSource('recs', { type: 'geojson', data: recData(), cluster: true, clusterRadius: 36, clusterMaxZoom: 14 });
    map.addLayer({ id: 'rec-clusters', type: 'circle', source: 'recs', filter: ['has', 'point_count'],
      paint: { 'circle-color': '#fec44f', 'circle-stroke-color': '#993404', 'circle-stroke-width': 1.5,
        'circle-radius': ['step', ['get', 'point_count'], 10, 5, 14, 20, 18] } }, 'highlight');
    map.addLayer({ id: 'recs', type: 'circle', source: 'recs', filter: ['!', ['has', 'point_count']],
      paint: { 'circle-radius': 7, 'circle-color': ['match', ['get', 'kind'], ...Object.entries(KIND_COLORS).flat(), '#444'],
        'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } }, 'highlight');
    map.on('click', 'recs', (e) => {
      const f = e.features && e.features[0];
      if (!f) return;
      document.querySelector('#tabs button[data-tab="recs"]').click();
      markRow('t-recs', 'rec-' + f.properties.rec_id);
      state.openedRec = f.properties.rec_id;
    });
    map.on('click', 'rec-clusters', async (e) => {
      const f = e.features[0];
      const zoom = await map.getSource('recs').getClusterExpansionZoom(f.properties.cluster_id);
      map.easeTo({ center: f.geometry.coordinates, zoom });
    });
  }

  function legend(viewer) {
    const box = clear(document.getElementById('legend'));
    const item = (color, text, ring) => el('div', {}, el('span', { class: 'swatch' + (ring ? ' ring' : ''), style: ring ? `border-color:${color}` : `background:${color}` }), text);
    if (viewer) box.append(item('#fc8d59', T.grid));
    else box.append(item('#1a9850', T.legend_covered), item('#f46d43', T.legend_uncovered), item('#7a0177', T.legend_dispersed, true));
    box.append(item('#2b8cbe', T.stations, true), item('#e31a1c', T.hospitals, true), item('#6a51a3', T.branches, true));
  }

  /* ---------------------------------------------------------------- start */
  async function start() {
    wireTabs();
    const data = window.gpData;  // asked for by run-data.js before the map library was parsed
    const [run, facilities, layer] = await Promise.all([data.run, data.facilities, data.layer]);
    mark('data');
    state.facilities = facilities;
    if (planner) state.members = layer;
    headline(run, null);
    await mapLoaded;
    const idle = () => new Promise(resolve => map.once('idle', resolve));
    addLayers(planner ? null : layer);
    if (planner) {
      await idle();  // the facilities cut into tiles first
      mark('facilities');
      addPoints();
    }
    mark('layers');
    // first render: the map idle with every member (or grid cell) drawn; the rest follows it
    await idle();
    window.gpReady = { ms: performance.now(), members: planner ? layer.n : 0, cells: planner ? 0 : layer.features.length };
    const recsLoaded = data.recs();
    addHighlight();
    if (planner) { setupFilters(layer); countShown(); }
    state.recs = await recsLoaded;
    mark('recs');
    headline(run, state.recs.features.length);
    setupKinds();
    addRecLayers();
    await new Promise(resolve => map.once('idle', resolve));
    window.gpComplete = { ms: performance.now() };
    addBaseMap(map, runId, planner ? 'members' : 'grid').then(() => { state.baseMap = true; }).catch(() => { state.baseMap = false; });
    recTable();
    await Promise.all([areaTable(), branchTable(), dispersedTable(), reviewTable(), downloads()]);
    state.tables = true;
  }

  start().catch((e) => {
    document.getElementById('run-status').textContent = `${T.error}: ${e.message}`;
    window.gpFailed = e.message;
  });
})();
