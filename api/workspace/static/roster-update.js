/* "Update the roster" on a finished run: upload next year's roster (POST /datasets/members, matched against
 * the run's branches dataset), start the run's scenario with that roster (POST /runs), follow it, then open
 * the comparison with this run (/workspace/runs/{new}/compare/{this}): who is new, gone, moved, and the
 * planner's work list. Uploading a dataset needs an administrator (the API says so with a 403). */
'use strict';
(() => {
  const { T, api, el, clear } = GP;
  const root = document.getElementById('run-root');
  const runId = root.dataset.runId;
  const base = `/runs/${encodeURIComponent(runId)}`;
  const $ = id => document.getElementById(id);
  const ru = window.gpRoster = { dataset: null, run: null, error: null };
  if (!$('ru-go')) return;

  $('ru-file').addEventListener('change', async () => {
    const file = $('ru-file').files[0];
    $('ru-go').disabled = !file;
    $('ru-sheet-label').hidden = true;
    clear($('ru-sheet'));
    if (!file || !/\.xlsx$/i.test(file.name)) return;
    const form = new FormData();
    form.append('file', file, file.name);
    try {
      const sheets = (await api('/datasets/members/sheets', { method: 'POST', body: form })).sheets || [];
      for (const s of sheets) $('ru-sheet').append(el('option', { value: s }, s));
      $('ru-sheet-label').hidden = sheets.length < 2;
    } catch (e) { /* the upload itself reports what is wrong with the file */ }
  });

  async function follow(id) {
    for (;;) {
      const r = await api(`/runs/${encodeURIComponent(id)}`);
      if (r.status === 'done' || r.status === 'failed' || r.status === 'cancelled') return r;
      $('ru-status').textContent = `${T.ru_running} ${r.stage || ""}`;
      await new Promise(res => setTimeout(res, 1000));
    }
  }

  $('ru-go').addEventListener('click', async () => {
    const file = $('ru-file').files[0];
    if (!file) return;
    $('ru-go').disabled = true;
    $('ru-status').textContent = T.ru_uploading;
    try {
      const run = await api(base);
      const scenario = await api(`${base}/request`);
      const form = new FormData();
      form.append('file', file, file.name);
      if ($('ru-sheet').value) form.append('sheet', $('ru-sheet').value);
      // the new roster is read as the last one was: its coordinate system, matched against the run's branches
      const inputs = scenario.inputs || {};
      const last = inputs.members && inputs.members.dataset;
      const listed = await api('/datasets?kind=members');
      const prev = (listed.datasets || []).find(d => d.id === last);
      if (prev && prev.crs) form.append('crs', prev.crs);
      const branches = inputs.branches && inputs.branches.dataset;
      if (branches) form.append('branches_dataset', branches);
      const report = await api('/datasets/members', { method: 'POST', body: form });
      ru.dataset = report.id;
      const req = Object.assign({}, scenario, { name: `${run.name}（${T.ru_title}）` });
      req.inputs = Object.assign({}, scenario.inputs, { members: { dataset: report.id } });
      const created = await api('/runs', { method: 'POST', json: req });
      ru.run = created.id;
      const done = await follow(created.id);
      if (done.status !== 'done') throw new Error(`${T.ru_failed}: ${done.error || done.status}`);
      $('ru-status').textContent = T.ru_done;
      window.location.assign(`/workspace/runs/${encodeURIComponent(created.id)}/compare/${encodeURIComponent(runId)}`);
    } catch (e) {
      ru.error = e.message;
      $('ru-status').textContent = e.status === 403 ? T.wi_admin_only : `${T.error}: ${e.message}`;
      $('ru-go').disabled = false;
    }
  });
})();
