/* The admin page: users (GET/POST/PATCH /admin/users) and the audit log (GET /admin/audit, CSV download).
 * Every value is set as text (GP.el); writes carry the CSRF header (GP.api). */
'use strict';
(() => {
  const { T, api, el, fillTable } = GP;
  const ROLES = JSON.parse(document.getElementById('gp-roles').textContent);
  const msg = document.getElementById('admin-message');
  const err = document.getElementById('admin-error');

  function say(text, isError) {
    msg.hidden = isError; err.hidden = !isError;
    (isError ? err : msg).textContent = text;
  }

  async function change(username, patch, done) {
    try {
      await api(`/admin/users/${encodeURIComponent(username)}`, { method: 'PATCH', json: patch });
      if (done) say(done, false);
      await loadUsers();
    } catch (e) { say(e.message, true); }
  }

  function actions(u) {
    const role = el('select', { class: 'role-select', 'aria-label': T.role },
      ROLES.map(r => el('option', { value: r, selected: r === u.role }, T['role_' + r] || r)));
    role.addEventListener('change', () => change(u.username, { role: role.value }));
    const toggle = el('button', { type: 'button', class: u.disabled ? 'enable' : 'disable' },
      u.disabled ? T.enable : T.disable);
    toggle.addEventListener('click', () => change(u.username, { disabled: !u.disabled }));
    const pw = el('input', { type: 'password', class: 'new-password', minlength: 10, placeholder: T.new_password,
      autocomplete: 'new-password', 'aria-label': T.new_password });
    const reset = el('button', { type: 'button', class: 'reset' }, T.reset_password);
    reset.addEventListener('click', () => {
      if (pw.value.length < 10) { say(T.new_password, true); return; }
      const value = pw.value; pw.value = '';
      change(u.username, { password: value }, T.password_set);
    });
    return el('span', { class: 'actions' }, role, ' ', toggle, ' ', pw, ' ', reset);
  }

  async function loadUsers() {
    const data = await api('/admin/users');
    fillTable(document.getElementById('users'), [
      { key: 'username', label: T.username },
      { key: 'display_name', label: T.display_name },
      { key: 'disabled', label: T.state, fmt: v => (v ? T.disabled : T.active) },
      { key: 'role', label: T.actions, fmt: (_v, u) => actions(u) },
    ], data.users, (tr, u) => { tr.id = 'user-' + u.username; tr.dataset.username = u.username; tr.dataset.role = u.role;
      tr.dataset.disabled = String(u.disabled); });
  }

  async function loadAudit() {
    const data = await api('/admin/audit?limit=500');
    const rows = data.records.slice().reverse();  // newest first
    fillTable(document.getElementById('audit'), [
      { key: 'time', label: T.time }, { key: 'actor', label: T.actor }, { key: 'actor_kind', label: T.actor_kind },
      { key: 'role', label: T.role }, { key: 'run_id', label: T.run }, { key: 'what', label: T.what },
      { key: 'n_people', label: T.n_people }, { key: 'detail', label: T.detail }, { key: 'client', label: T.client },
    ], rows);
  }

  document.getElementById('add-user').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const body = Object.fromEntries(new FormData(form).entries());
    try {
      await api('/admin/users', { method: 'POST', json: body });
      form.reset();
      say(T.user_added, false);
      await loadUsers();
    } catch (e) { say(e.message, true); }
  });

  Promise.all([loadUsers(), loadAudit()]).then(() => { window.gpAdminReady = true; })
    .catch(e => { say(e.message, true); window.gpAdminReady = 'failed'; });
})();
