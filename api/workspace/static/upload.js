/* Upload page: drop the four tables, pick each file's layer and sheet, check (and correct) which header
 * became which field, upload (branches first, so that members are checked against them), and read each
 * import report as a table. */
'use strict';
(() => {
  const { T, api, el, clear, int } = GP;
  const KINDS = ['branches', 'members', 'stations', 'hospitals'];
  const GUESS = [[/member|成员|花名册|人员|干部/i, 'members'], [/branch|支部/i, 'branches'],
    [/station|驿站|阵地|活动中心/i, 'stations'], [/hospital|医院/i, 'hospitals']];
  const pending = [];  // {file, kind, sheet, crs, sheets, columns: {headers, fields, labels, remembered_from}, set}
  const drop = document.getElementById('drop');
  const input = document.getElementById('file-input');
  const uploadBtn = document.getElementById('upload-all');
  window.gpUpload = { reports: [] };

  function guess(name) {
    for (const [re, kind] of GUESS) if (re.test(name)) return kind;
    return KINDS[pending.length % KINDS.length];
  }

  async function sheetsOf(item) {
    if (!/\.(xlsx|gpkg)$/i.test(item.file.name)) return [];
    const form = new FormData();
    form.append('file', item.file, item.file.name);
    try { return (await api(`/datasets/${item.kind}/sheets`, { method: 'POST', body: form })).sheets; }
    catch (e) { return []; }
  }

  function select(options, selected, onchange, attrs) {
    const sel = el('select', attrs || {}, options.map(([v, text]) => el('option', { value: v, selected: v === selected }, text)));
    sel.addEventListener('change', () => onchange(sel.value));
    return sel;
  }

  /* The file's headers with the importer's own match (and the corrections kept for the same headers). */
  async function columnsOf(item) {
    const form = new FormData();
    form.append('file', item.file, item.file.name);
    if (item.sheet) form.append('sheet', item.sheet);
    const ask = item.asked = (item.asked || 0) + 1;
    let cols = null;
    try { cols = await api(`/datasets/${item.kind}/columns`, { method: 'POST', body: form }); }
    catch (e) { cols = { error: e.message, headers: [] }; }
    if (ask !== item.asked) return;  // the layer or sheet changed meanwhile
    item.columns = cols;
    item.set = {};
    for (const h of cols.headers) item.set[h.header] = h.field || 'ignore';
    renderMappings();
  }

  /* The corrections to send: every header whose field differs from the automatic match. */
  function corrections(item) {
    const out = {};
    for (const h of item.columns.headers) {
      const chosen = item.set[h.header];
      if (chosen !== (h.auto || 'ignore')) out[h.header] = chosen;
    }
    return out;
  }

  function fieldText(cols, f) {
    return GP.LANG === 'zh' && cols.labels && cols.labels[f] ? `${cols.labels[f]}（${f}）` : f;
  }

  function renderMappings() {
    const box = clear(document.getElementById('mappings'));
    pending.forEach((item) => {
      const cols = item.columns;
      if (!cols) return;
      const sec = el('section', { class: 'mapping', dataset: { file: item.file.name, kind: item.kind } },
        el('h2', {}, `${T.columns_title}: ${item.file.name} → ${T[item.kind + '_layer']}`));
      if (cols.error) { sec.appendChild(el('p', { class: 'error' }, cols.error)); box.appendChild(sec); return; }
      sec.appendChild(el('p', { class: 'hint' }, T.columns_hint));
      if (cols.remembered_from) sec.appendChild(el('p', { class: 'hint remembered' }, T.remembered));
      const options = [['ignore', T.ignore], ...cols.fields.map(f => [f, fieldText(cols, f)])];
      const table = el('table', { class: 'grid columns' },
        el('thead', {}, el('tr', {}, el('th', {}, T.header), el('th', {}, T.field_auto), el('th', {}, T.field_set))));
      const tbody = el('tbody');
      for (const h of cols.headers) {
        const chosen = item.set[h.header];
        const changed = chosen !== (h.auto || 'ignore');
        const sel = select(options, chosen, (v) => {
          // one header per field: a field taken from another header leaves that header unused
          if (v !== 'ignore') for (const k of Object.keys(item.set)) if (k !== h.header && item.set[k] === v) item.set[k] = 'ignore';
          item.set[h.header] = v;
          renderMappings();
        }, { class: 'field-select', 'aria-label': h.header });
        tbody.appendChild(el('tr', { class: changed ? 'corrected' : null, dataset: { header: h.header } },
          el('td', {}, h.header), el('td', {}, h.auto ? fieldText(cols, h.auto) : T.no_field),
          el('td', {}, sel, changed ? el('span', { class: 'hint' }, ` ${T.corrected}`) : null)));
      }
      table.appendChild(tbody);
      sec.appendChild(table);
      box.appendChild(sec);
    });
  }

  function render() {
    const tbody = clear(document.querySelector('#pending tbody'));
    pending.forEach((item, i) => {
      const sheetCell = item.sheets && item.sheets.length
        ? select(item.sheets.map(s => [s, s]), item.sheet, v => { item.sheet = v; columnsOf(item); }, { class: 'sheet-select' })
        : '—';
      tbody.appendChild(el('tr', { dataset: { file: item.file.name } },
        el('td', {}, item.file.name),
        el('td', {}, select(KINDS.map(k => [k, T[k + '_layer']]), item.kind, v => { item.kind = v; columnsOf(item); }, { class: 'kind-select' })),
        el('td', {}, sheetCell),
        el('td', {}, select(['WGS84', 'GCJ02', 'BD09'].map(c => [c, c]), item.crs, v => { item.crs = v; })),
        el('td', {}, el('button', { type: 'button', onclick: () => { pending.splice(i, 1); render(); } }, '×'))));
    });
    uploadBtn.disabled = pending.length === 0;
    renderMappings();
  }

  async function add(files) {
    for (const file of files) {
      const item = { file, kind: guess(file.name), sheet: null, crs: 'WGS84', sheets: [] };
      pending.push(item);
      item.sheets = await sheetsOf(item);
      item.sheet = item.sheets[0] || null;
    }
    render();
    await Promise.all(files.map((f) => pending.find(p => p.file === f)).filter(Boolean).map(columnsOf));
    window.gpUpload.columnsShown = true;
  }

  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); add([...e.dataTransfer.files]); });
  input.addEventListener('change', () => { add([...input.files]); input.value = ''; });

  function report(item, rep, err) {
    const box = el('div', { class: 'report', dataset: { kind: item.kind, file: item.file.name } });
    box.appendChild(el('h2', {}, `${T.import_report}: ${item.file.name} → ${T[item.kind + '_layer']}`));
    if (err) {
      box.appendChild(el('p', { class: 'error' }, err.message));
    } else {
      box.appendChild(el('div', { class: 'counts' },
        el('span', {}, `${T.read}: `, el('b', {}, int(rep.n_read))),
        el('span', {}, `${T.accepted}: `, el('b', { class: 'n-accepted' }, int(rep.accepted))),
        el('span', {}, `${T.rejected}: `, el('b', { class: 'n-rejected' }, int(rep.rejected))),
        el('span', {}, `${T.warnings}: `, el('b', {}, int(rep.warnings)))));
      if (rep.column_override_from) box.appendChild(el('p', { class: 'hint remembered' }, T.remembered));
      const map = Object.entries(rep.column_map || {});
      if (map.length) box.appendChild(el('p', { class: 'hint' }, `${T.column_map}: `, map.map(([h, f]) => `${h} → ${f}`).join('，')));
      if (rep.rejections.length) {
        box.appendChild(el('a', { href: `/datasets/${encodeURIComponent(rep.id)}/problems.xlsx`, class: 'problems-link' }, T.download_problems));
      }
    }
    const rows = err ? err.problems : rep.rejections;
    if (rows && rows.length) {
      const table = el('table', { class: 'grid rejections' });
      GP.fillTable(table, [
        { key: 'file', label: T.file }, { key: 'row', label: T.row, cls: 'num' }, { key: 'field', label: T.field },
        { key: 'value', label: T.value }, { key: 'reason', label: T.reason_col }, { key: 'action', label: T.action },
      ], rows);
      box.appendChild(table);
    }
    document.getElementById('reports').appendChild(box);
    if (!err && item.kind === 'members') return branchMatches(box, rep.id);
    return null;
  }

  /* Issue #19: members whose branch was matched by a tolerant name, listed for review, with a download. */
  async function branchMatches(box, id) {
    const sec = el('section', { class: 'branch-matches' }, el('h3', {}, T.fuzzy_title));
    box.appendChild(sec);
    let data;
    try { data = await api(`/datasets/${encodeURIComponent(id)}/branch-matches`); }
    catch (e) { sec.appendChild(el('p', { class: 'error' }, e.message)); return; }
    if (!data.matches.length) { sec.appendChild(el('p', { class: 'hint' }, T.no_fuzzy)); return; }
    sec.appendChild(el('p', { class: 'hint' }, T.fuzzy_hint));
    sec.appendChild(el('a', { href: `/datasets/${encodeURIComponent(id)}/branch-matches.xlsx`, class: 'matches-link' }, T.download_fuzzy));
    const table = el('table', { class: 'grid matches' });
    GP.fillTable(table, [
      { key: 'row', label: T.row, cls: 'num' }, { key: 'member_id', label: '#' }, { key: 'member_name', label: T.name },
      { key: 'branch_written', label: T.branch_written }, { key: 'branch_matched', label: T.branch_matched },
      { key: 'branch_id', label: T.branch }, { key: 'score', label: T.score, cls: 'num' },
    ], data.matches);
    sec.appendChild(table);
  }

  uploadBtn.addEventListener('click', async () => {
    uploadBtn.disabled = true;
    clear(document.getElementById('reports'));
    const order = pending.slice().sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
    let branchesId = null;
    for (const item of order) {
      const form = new FormData();
      form.append('file', item.file, item.file.name);
      if (item.sheet) form.append('sheet', item.sheet);
      form.append('crs', item.crs);
      if (item.kind === 'members' && branchesId) form.append('branches_dataset', branchesId);
      if (item.columns && !item.columns.error) form.append('columns', JSON.stringify(corrections(item)));
      try {
        const rep = await api(`/datasets/${item.kind}`, { method: 'POST', body: form });
        if (item.kind === 'branches') branchesId = rep.id;
        window.gpUpload.reports.push(rep);
        await report(item, rep, null);
      } catch (e) {
        window.gpUpload.reports.push({ error: e.message, kind: item.kind });
        report(item, null, e);
      }
    }
    pending.length = 0;
    render();
    window.gpUpload.done = true;
  });
})();
