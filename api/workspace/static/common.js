/* The workspace's shared helpers: API calls (cookie session + CSRF header), texts, safe DOM building.
 * Text from tables is only ever set with textContent (el() below); never innerHTML with data. */
'use strict';

const GP = (() => {
  const T = JSON.parse(document.getElementById('gp-text').textContent);
  const LANG = document.body.dataset.lang || 'zh';

  function cookie(name) {
    for (const part of document.cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === name) return decodeURIComponent(v.join('='));
    }
    return null;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.detail) || ('HTTP ' + status));
      this.status = status;
      this.problems = (body && body.problems) || [];
    }
  }

  /* fetch a JSON API route; non-GET requests carry X-CSRF-Token = cookie gp_csrf (when present). */
  async function api(url, opts = {}) {
    const method = (opts.method || 'GET').toUpperCase();
    const headers = Object.assign({}, opts.headers || {});
    if (method !== 'GET' && method !== 'HEAD') {
      const csrf = cookie('gp_csrf');
      if (csrf) headers['X-CSRF-Token'] = csrf;
    }
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const resp = await fetch(url, { method, headers, body, credentials: 'same-origin' });
    if (opts.raw) return resp;
    let data = null;
    const type = resp.headers.get('content-type') || '';
    if (type.includes('json')) data = await resp.json();
    if (resp.status === 401 && !opts.noRedirect) {
      window.location.assign('/login');
    }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  /* el('td', {class: 'x'}, 'text', childNode …): strings become text nodes, never markup. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  /* shares as whole-ish percents (one decimal), minutes with one decimal: no more digits than the inputs carry */
  function pct(x) { return (x === null || x === undefined || Number.isNaN(x)) ? '–' : (100 * x).toFixed(1) + '%'; }
  function num(x, d = 1) { return (x === null || x === undefined || Number.isNaN(x)) ? '–' : Number(x).toFixed(d); }
  function int(x) { return (x === null || x === undefined) ? '–' : Math.round(x).toLocaleString(LANG === 'zh' ? 'zh-CN' : 'en'); }
  function kind(code) { return (T.kinds && T.kinds[code]) || code; }
  function reason(code) { return (T.reasons && T.reasons[code]) || code; }
  function reasons(text) { return String(text || '').split(/[;,]/).filter(Boolean).map(reason).join('；'); }
  function value(col, v) {
    if (v === null || v === undefined) return '';
    const tbl = T.values && (T.values[col] || (col.endsWith('_status') ? T.values._status : null));
    return (tbl && tbl[v]) || String(v);
  }
  function status(s) { return T['st_' + s] || s; }

    const MAX_ROWS = 2000;

  /* fill <table> with columns [{key, label, fmt}] and rows; onRow(tr, row) for extras. A city's tables are long:
   * the first MAX_ROWS rows are drawn, and a last row says how many more the downloads hold. */
  function fillTable(table, columns, rows, onRow) {
    const thead = clear(table.tHead || table.createTHead());
    thead.appendChild(el('tr', {}, columns.map(c => el('th', {}, c.label))));
    const tbody = clear(table.tBodies[0] || table.createTBody());
    const frag = document.createDocumentFragment();
    for (const row of rows.slice(0, MAX_ROWS)) {
      const tr = el('tr', {}, columns.map(c => el('td', { class: c.cls || null }, c.fmt ? c.fmt(row[c.key], row) : (row[c.key] ?? ''))));
      if (onRow) onRow(tr, row);
      frag.appendChild(tr);
    }
    if (rows.length > MAX_ROWS) {
      frag.appendChild(el('tr', { class: 'more' }, el('td', { colspan: columns.length },
        `${T.more_rows || '…'} ${(rows.length - MAX_ROWS).toLocaleString()}`)));
    }
    tbody.appendChild(frag);
    return tbody;
  }

  function whoAmI() {
    const who = document.getElementById('who');
    if (!who) return;
    api('/auth/me', { noRedirect: true }).then(me => {
      if (me && me.display_name) who.textContent = me.display_name;
    }).catch(() => {});
  }

  function wireLogout() {
    const btn = document.getElementById('logout');
    if (!btn) return;
    btn.addEventListener('click', async () => {
      try { await api('/auth/logout', { method: 'POST', noRedirect: true }); } catch (e) { /* signed out anyway */ }
      window.location.assign('/login');
    });
  }

  document.addEventListener('DOMContentLoaded', () => { whoAmI(); wireLogout(); });
  return { T, LANG, api, ApiError, el, clear, pct, num, int, kind, reason, reasons, value, status, fillTable, cookie };
})();
