// comanda staff pages: a thin client of the JSON API. Loaded from our own origin (CSP script-src 'self');
// no inline script, no third-party code. Tokens live in sessionStorage for the tab's lifetime only.
'use strict';

const store = {
  get: (key) => sessionStorage.getItem('comanda.' + key),
  set: (key, value) => (value == null ? sessionStorage.removeItem('comanda.' + key) : sessionStorage.setItem('comanda.' + key, value)),
};

const page = document.body.dataset.page;
const english = document.body.dataset.lang === 'en';
const $ = (selector) => document.querySelector(selector);

function showError(problem) {
  const box = $('.error');
  if (!box) return;
  const field = problem && problem.errors && problem.errors[0];
  box.textContent = field ? `${field.field}: ${field.message}` : (problem && (problem.detail || problem.title)) || (english ? 'Something went wrong' : 'Algo salió mal');
  box.hidden = false;
}

function clearError() {
  const box = $('.error');
  if (box) box.hidden = true;
}

async function api(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((data && data.detail) || response.statusText);
    error.problem = data;
    error.status = response.status;
    throw error;
  }
  return data;
}

function keepTokens(tokens) {
  store.set('access', tokens.access_token);
  store.set('refresh', tokens.refresh_token);
  store.set('enroll', null);
  store.set('mfa', null);
}

// Calls the API with the access token, refreshing it once when it has expired.
async function authed(method, path, body) {
  try {
    return await api(method, path, body, store.get('access'));
  } catch (error) {
    if (error.status !== 401 || !store.get('refresh')) throw error;
    const tokens = await api('POST', '/api/v1/auth/refresh', { refresh_token: store.get('refresh') });
    keepTokens(tokens);
    return api(method, path, body, store.get('access'));
  }
}

function afterSignIn(outcome) {
  if (outcome.access_token) {
    keepTokens(outcome);
    location.assign('/dashboard');
  } else if (outcome.enrollment_token) {
    store.set('enroll', outcome.enrollment_token);
    location.assign('/enroll');
  } else if (outcome.mfa_token) {
    store.set('mfa', outcome.mfa_token);
    $('#signin-form').hidden = true;
    $('#code-form').hidden = false;
    $('#code-form input').focus();
  }
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function onSubmit(selector, handler) {
  const form = $(selector);
  if (!form) return;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await handler(formValues(form), form);
    } catch (error) {
      showError(error.problem);
    } finally {
      button.disabled = false;
    }
  });
}

const pages = {
  signup() {
    onSubmit('#signup-form', async (v) => {
      await api('POST', '/api/v1/signup', {
        business_name: v.business_name,
        country: v.country,
        owner: { name: v.name, email: v.email, password: v.password },
      });
      afterSignIn(await api('POST', '/api/v1/auth/login', { email: v.email, password: v.password }));
    });
  },

  signin() {
    onSubmit('#signin-form', async (v) => afterSignIn(await api('POST', '/api/v1/auth/login', v)));
    onSubmit('#code-form', async (v) => {
      keepTokens(await api('POST', '/api/v1/auth/mfa/verify', { mfa_token: store.get('mfa'), code: v.code }));
      location.assign('/dashboard');
    });
  },

  async enroll() {
    const token = store.get('enroll') || store.get('access');
    if (!token) return location.assign('/signin');
    try {
      const enrollment = await api('POST', '/api/v1/auth/mfa/totp/enroll', {}, token);
      $('#totp-qr').src = 'data:image/svg+xml;base64,' + btoa(enrollment.qr_svg);
      $('#totp-secret').textContent = enrollment.secret;
    } catch (error) {
      showError(error.problem);
    }
    onSubmit('#confirm-form', async (v) => {
      const confirmed = await api('POST', '/api/v1/auth/mfa/totp/confirm', { code: v.code }, token);
      keepTokens(confirmed);
      const list = $('#recovery-codes');
      for (const code of confirmed.recovery_codes) {
        const item = document.createElement('li');
        item.textContent = code;
        list.appendChild(item);
      }
      $('#enroll-step').hidden = true;
      $('#recovery-step').hidden = false;
    });
    $('#continue').addEventListener('click', () => location.assign('/dashboard'));
  },

  async dashboard() {
    if (!store.get('access')) return location.assign('/signin');
    try {
      const me = await authed('GET', '/api/v1/me');
      $('#me-name').textContent = me.name;
      $('#me-role').textContent = me.role;
      $('#me-mfa').textContent = me.mfa.enabled
        ? (english ? 'Two-step verification is on.' : 'La verificación en dos pasos está activa.')
        : (english ? 'Two-step verification is off.' : 'La verificación en dos pasos está apagada.');
    } catch (error) {
      if (error.problem && error.problem.type === 'https://comanda.dev/problems/mfa-enrollment-required') {
        return location.assign('/enroll');
      }
      showError(error.problem);
    }
    const signOut = (path) => async () => {
      try { await authed('POST', path, {}); } finally { store.set('access', null); store.set('refresh', null); location.assign('/signin'); }
    };
    $('#signout').addEventListener('click', signOut('/api/v1/auth/logout'));
    $('#signout-all').addEventListener('click', signOut('/api/v1/auth/logout-all'));
  },

  async staff() {
    if (!store.get('access')) return location.assign('/signin');
    const render = async () => {
      const list = await authed('GET', '/api/v1/staff?limit=200');
      const body = $('#staff-table tbody');
      body.replaceChildren();
      const roles = ['owner', 'manager', 'server', 'kitchen', 'host', 'analyst'];
      for (const member of list.items) {
        const row = document.createElement('tr');
        for (const value of [member.name, member.email]) {
          const cell = document.createElement('td');
          cell.textContent = value;
          row.appendChild(cell);
        }
        const roleCell = document.createElement('td');
        const select = document.createElement('select');
        select.setAttribute('aria-label', member.email);
        for (const role of roles) {
          const option = new Option(role, role, false, role === member.role);
          select.add(option);
        }
        select.addEventListener('change', async () => {
          clearError();
          try {
            await authed('PATCH', `/api/v1/staff/${member.id}`, { role: select.value });
          } catch (error) {
            showError(error.problem);
            select.value = member.role;
          }
        });
        roleCell.appendChild(select);
        if (member.payout_authority) roleCell.append(' · $');
        row.appendChild(roleCell);
        const mfa = document.createElement('td');
        mfa.textContent = member.mfa_enabled ? '✓' : '—';
        row.appendChild(mfa);
        body.appendChild(row);
      }
    };
    try { await render(); } catch (error) { showError(error.problem); }
    onSubmit('#invite-form', async (v, form) => {
      await authed('POST', '/api/v1/staff', { name: v.name, email: v.email, role: v.role, payout_authority: v.payout_authority === 'on' });
      form.reset();
      $('#invite-sent').hidden = false;
      await render();
    });
  },

  invitation() {
    onSubmit('#accept-form', async (v, form) => {
      await api('POST', `/api/v1/staff/invitations/${encodeURIComponent(form.dataset.token)}/accept`, { password: v.password });
      location.assign('/signin');
    });
  },
};

if (pages[page]) pages[page]();
