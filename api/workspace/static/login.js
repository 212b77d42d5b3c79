/* The sign-in form: POST /auth/login (JSON), then go to the workspace. */
'use strict';
document.getElementById('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = document.getElementById('login-error');
  err.hidden = true;
  const username = document.getElementById('username').value;
  const password = document.getElementById('password').value;
  try {
    await GP.api('/auth/login', { method: 'POST', json: { username, password }, noRedirect: true });
    window.location.assign('/');
  } catch (e) {
    err.hidden = false;
  }
});
