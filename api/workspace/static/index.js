/* The workspace's home: runs with status and headline figures (live while running), and the new-run form. */
'use strict';
(() => {
  const { T, api, el, clear, pct, int, status } = GP;
  const planner = !!document.getElementById('run-form');
  const polling = new Map();

  function share(summary, key) {
    if (!summary || summary[key] === null || summary[key] === undefined || !summary.members) return '–';
    return pct(summary[key] / summary.members);
  }

  function progressCell(run) {
    const bar = el('progress', { max: 100, value: run.percent });
    const label = el('span', { class: 'stage' }, run.stage ? ` ${run.stage} ` : ' ', `${Math.round(run.percent)}%`);
    return el('span', { class: 'progress' }, bar, label);
  }

  function row(run) {
    const s = run.summary;
    const actions = el('td', {});
    if (run.status === 'done') actions.appendChild(el('a', { href: `/workspace/runs/${encodeURIComponent(run.id)}`, class: 'open' }, T.open));
    if (run.status === 'done') actions.appendChild(el('label', { class: 'inline' }, ' ', el('input', { type: 'checkbox', class: 'cmp-pick', value: run.id, dataset: { created: run.created || '' } }), T.cmp_pick));
    if (planner && (run.status === 'queued' || run.status === 'running')) {
      actions.appendChild(el('button', { type: 'button', class: 'cancel', onclick: () => cancel(run.id) }, T.cancel));
    }
    return el('tr', { id: 'run-' + run.id, dataset: { status: run.status, runId: run.id } },
      el('td', {}, run.name),
      el('td', { class: 'status st-' + run.status }, status(run.status)),
      el('td', {}, run.status === 'done' ? '100%' : (run.status === 'queued' || run.status === 'running') ? progressCell(run) : (run.error || '')),
      el('td', {}, (run.created || '').replace('T', ' ').slice(0, 19)),
      el('td', { class: 'num' }, s ? int(s.members) : '–'),
      el('td', { class: 'num' }, share(s, 'covered_station')),
      el('td', { class: 'num' }, share(s, 'covered_branch')),
      el('td', { class: 'num' }, share(s, 'covered_hospital')),
      el('td', { class: 'num' }, s ? share(s, 'dispersed') : '–'),
      actions);
  }

  function upsert(run) {
    const tbody = document.querySelector('#runs tbody');
    const fresh = row(run);
    const old = document.getElementById('run-' + run.id);
    if (old) old.replaceWith(fresh); else tbody.prepend(fresh);
    document.getElementById('no-runs').hidden = true;
    if (run.status === 'queued' || run.status === 'running') watch(run.id);
  }

  function watch(id) {
    if (polling.has(id)) return;
    const tick = async () => {
      try {
        const run = await api(`/runs/${encodeURIComponent(id)}`);
        polling.delete(id);
        upsert(run);
      } catch (e) { polling.delete(id); }
    };
    polling.set(id, setTimeout(tick, 700));
  }

  async function cancel(id) {
    try { upsert(await api(`/runs/${encodeURIComponent(id)}/cancel`, { method: 'POST' })); }
    catch (e) { alertProblem(e); }
  }

  function alertProblem(e) {
    const box = document.getElementById('form-problems');
    if (!box) return;
    clear(box).appendChild(el('p', {}, e.message));
    box.hidden = false;
  }

  async function loadRuns() {
    const data = await api('/runs');
    clear(document.querySelector('#runs tbody'));
    for (const run of data.runs.slice().reverse()) upsert(run);
    document.getElementById('no-runs').hidden = data.runs.length > 0;
  }

  async function loadDatasets() {
    if (!planner) return;
    const data = await api('/datasets');
    for (const sel of document.querySelectorAll('.dataset-select')) {
      const kind = sel.dataset.kind;
      for (const d of data.datasets.filter(x => x.kind === kind)) {
        const text = `${d.filename} · ${(d.created || '').slice(0, 16).replace('T', ' ')} · ${d.accepted ?? '–'}`;
        sel.appendChild(el('option', { value: d.id }, text));
      }
      if (kind !== 'hospitals' || sel.options.length > 1) sel.selectedIndex = kind === 'hospitals' ? 1 : 0;
    }
  }

  /* the form's value of one field as the run request wants it; undefined = leave the default */
  function fieldValue(input) {
    const kind = input.dataset.input;
    const dflt = input.dataset.default;
    if (kind === 'checkbox') {
      const v = input.checked;
      return (dflt === 'true') === v ? undefined : v;
    }
    const raw = input.value.trim();
    if (raw === (dflt ?? '')) return undefined;
    if (raw === '') return null;
    if (kind === 'number') return Number(raw);
    if (kind === 'integer') return Number.isInteger(Number(raw)) ? Number(raw) : raw;
    if (kind === 'list') return raw.split(/[,，\s]+/).filter(Boolean).map(Number);
    if (kind === 'json') { try { return JSON.parse(raw); } catch (e) { return raw; } }
    return raw;
  }

  function request(form) {
    const body = { name: form.elements.name.value.trim(), network: { osm: [] }, inputs: {} };
    for (const box of form.querySelectorAll('input[name="network.osm"]:checked')) body.network.osm.push(box.value);
    for (const sel of form.querySelectorAll('.dataset-select')) {
      if (sel.value) body.inputs[sel.dataset.kind] = { dataset: sel.value };
    }
    const seed = form.elements.seed.value.trim();
    if (seed !== '' && seed !== '0') body.seed = Number(seed);
    for (const input of form.querySelectorAll('.section [data-input]')) {
      const v = fieldValue(input);
      if (v === undefined) continue;
      const [section, name] = input.name.split('.');
      body[section] = body[section] || {};
      body[section][name] = v;
    }
    return body;
  }

  function showProblems(err) {
    const box = clear(document.getElementById('form-problems'));
    for (const f of document.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
    box.appendChild(el('p', {}, T.invalid));
    const list = el('ul', {});
    for (const p of (err.problems.length ? err.problems : [{ reason: err.message }])) {
      const path = (p.field || '').replace(/^body\./, '');
      const field = path && document.querySelector(`.field[data-field="${CSS.escape(path)}"]`);
      if (field) field.classList.add('invalid');
      list.appendChild(el('li', {}, path ? `${path}: ${p.reason}` : p.reason));
    }
    box.appendChild(list);
    box.hidden = false;
  }

  function wireForm() {
    const form = document.getElementById('run-form');
    if (!form) return;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const btn = document.getElementById('start-run');
      btn.disabled = true;
      document.getElementById('form-problems').hidden = true;
      try {
        const run = await api('/runs', { method: 'POST', json: request(form) });
        upsert(run);
        document.getElementById('runs').scrollIntoView({ behavior: 'smooth' });
      } catch (e) {
        if (e instanceof GP.ApiError) showProblems(e); else alertProblem(e);
      } finally {
        btn.disabled = false;
      }
    });
  }

  wireForm();
  loadRuns().catch(alertProblem);
  loadDatasets().catch(alertProblem);
})();
