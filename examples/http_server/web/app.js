// supportbot's web page: a user chats with a bot, an admin manages its bots. Plain JavaScript
// over the REST API under /api/v1; no framework and no build step. Every piece of text that comes
// from the API or a person reaches the page through textContent or text nodes, never as HTML.
'use strict';

(function () {
  const API = '/api/v1';

  // ---- Small helpers ----------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  // el('p', {class: 'x', onclick: f}, 'text', child...): strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else if (k === 'text') node.textContent = String(v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(node, children) {
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  // A random UUID (v4) for a new conversation: the seed's clients send their own session id.
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  function newSessionId() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function toDate(v) {
    if (v === undefined || v === null || v === '') return null;
    if (typeof v === 'number') return new Date(v < 1e11 ? v * 1000 : v);
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  function formatTime(v) {
    const d = toDate(v);
    if (!d) return v === undefined || v === null ? '' : String(v);
    const now = new Date();
    const sameDay = d.toDateString() === now.toDateString();
    return sameDay
      ? d.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' })
      : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }
  function percent(x) {
    if (typeof x !== 'number' || !Number.isFinite(x)) return '–';
    const p = x * 100;
    if (p > 0 && p < 1) return '<1%';
    return Math.round(p).toString() + '%';
  }
  function truncate(s, n) {
    s = String(s ?? '');
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }

  const REASONS = {
    user_requested: 'Asked for a person',
    low_confidence: 'The bot was not sure it could answer',
    repeated_unanswered: 'Several questions in a row the bot could not answer',
    model_requested: 'The assistant asked for a person',
  };
  const REASONS_TO_USER = {
    user_requested: 'You asked to talk to a person.',
    low_confidence: 'The bot could not find a reliable answer to your question.',
    repeated_unanswered: 'The bot could not answer your last questions.',
    model_requested: 'The assistant decided a person should help you.',
  };
  const reasonLabel = (r) => REASONS[r] || (r ? String(r).replace(/_/g, ' ') : 'Unspecified');

  // ---- The API ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  // The {"detail": ...} of an error response, as a sentence for a person.
  async function errorOf(res) {
    let detail = '';
    try {
      const text = await res.text();
      try {
        const body = JSON.parse(text);
        const d = body && typeof body === 'object' ? body.detail : undefined;
        if (typeof d === 'string') detail = d;
        else if (Array.isArray(d)) {
          // FastAPI's 422: [{loc, msg, type}]
          detail = d
            .map((x) => (x && typeof x === 'object' ? [Array.isArray(x.loc) ? x.loc.filter((p) => p !== 'body').join('.') : '', x.msg].filter(Boolean).join(': ') : String(x)))
            .join('; ');
        } else if (d !== undefined) detail = JSON.stringify(d);
      } catch (_) {
        detail = text.length < 300 ? text.trim() : '';
      }
    } catch (_) {
      /* no body */
    }
    if (!detail) detail = `The server answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
    if (res.status === 429) {
      const after = res.headers.get('Retry-After');
      if (after) detail += ` Try again in ${after} seconds.`;
    }
    return new ApiError(res.status, detail);
  }

  // The URL of the next page from a `Link: <...>; rel="next"` header, or null.
  function nextLink(res) {
    const link = res.headers.get('Link');
    if (!link) return null;
    for (const part of link.split(',')) {
      const m = part.match(/<([^>]*)>\s*;(.*)$/);
      if (m && /rel="?next"?/i.test(m[2])) return m[1];
    }
    return null;
  }

  async function request(path, { method = 'GET', token, json, form, body, accept } = {}) {
    const headers = new Headers();
    headers.set('Accept', accept || 'application/json');
    if (token) headers.set('Authorization', 'Bearer ' + token);
    let payload = body;
    if (json !== undefined) {
      headers.set('Content-Type', 'application/json');
      payload = JSON.stringify(json);
    } else if (form instanceof URLSearchParams) {
      headers.set('Content-Type', 'application/x-www-form-urlencoded');
      payload = form.toString();
    } else if (form instanceof FormData) {
      payload = form; // the browser sets the multipart boundary
    }
    // Paths are under /api/v1; a Link header's next page is a whole path or URL already.
    const url = /^https?:\/\//.test(path) || path.startsWith(API + '/') ? path : API + path;
    let res;
    try {
      res = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
    } catch (_) {
      throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  async function readJson(res) {
    const text = await res.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (_) {
      throw new ApiError(res.status, 'The server sent an answer this page cannot read.');
    }
  }

  async function api(path, opts) {
    return readJson(await request(path, opts));
  }
  async function apiPage(path, opts) {
    const res = await request(path, opts);
    const data = await readJson(res);
    return { data, next: nextLink(res) };
  }

  const enc = encodeURIComponent;

  // ---- Tokens (sessionStorage: they go when the tab closes) ------------------------------

  const store = {
    get(key) {
      try {
        return JSON.parse(sessionStorage.getItem(key) || 'null');
      } catch (_) {
        return null;
      }
    },
    set(key, value) {
      try {
        if (value === null) sessionStorage.removeItem(key);
        else sessionStorage.setItem(key, JSON.stringify(value));
      } catch (_) {
        /* storage full or disabled: the page still works until reload */
      }
    },
  };
  const ADMIN_KEY = 'supportbot.admin';
  const userKey = (botId) => 'supportbot.user.' + botId;
  const sessionKey = (botId) => 'supportbot.session.' + botId;
  const LAST_BOT_KEY = 'supportbot.lastBot';

  async function login(scope, email, password) {
    const form = new URLSearchParams();
    form.set('username', email);
    form.set('password', password);
    const path = scope === 'admin' ? '/auth/admin/login' : `/auth/${enc(scope)}/login`;
    const body = await api(path, { method: 'POST', form });
    if (!body || typeof body.access_token !== 'string') throw new ApiError(500, 'The login answer has no token.');
    return body.access_token;
  }
  async function register(scope, email, password) {
    const path = scope === 'admin' ? '/auth/admin/register' : `/auth/${enc(scope)}/register`;
    return api(path, { method: 'POST', json: { email, password } });
  }

  // ---- Notices ------------------------------------------------------------------------------

  let noticeTimer = 0;
  function notice(text, kind = 'info') {
    const n = $('notice');
    n.textContent = text;
    n.className = 'notice ' + kind;
    n.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    show(n, true);
    clearTimeout(noticeTimer);
    if (kind !== 'error') noticeTimer = setTimeout(() => show(n, false), 6000);
  }
  function clearNotice() {
    show($('notice'), false);
  }
  function formError(id, err) {
    const p = $(id);
    p.textContent = err ? (err instanceof Error ? err.message : String(err)) : '';
    show(p, !!err);
  }

  function setBusy(button, busy, label) {
    if (busy) {
      button.dataset.label = button.textContent;
      if (label) button.textContent = label;
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
    } else {
      if (button.dataset.label) button.textContent = button.dataset.label;
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  // ---- Routing: #chat, #admin, #admin/<bot>/<tab> -------------------------------------------

  function route() {
    const hash = location.hash.replace(/^#\/?/, '');
    const parts = hash.split('/').map((p) => {
      try {
        return decodeURIComponent(p);
      } catch (_) {
        return p;
      }
    });
    let view = parts[0];
    if (view !== 'chat' && view !== 'admin') {
      const params = new URLSearchParams(location.search);
      view = params.get('bot') || !store.get(ADMIN_KEY) ? 'chat' : 'admin';
    }
    $('nav-chat').toggleAttribute('aria-current', view === 'chat');
    $('nav-admin').toggleAttribute('aria-current', view === 'admin');
    document.title = view === 'chat' ? 'Support chat · supportbot' : 'Admin · supportbot';
    if (view === 'chat') {
      $('nav-chat').setAttribute('aria-current', 'page');
      show($('view-admin'), false);
      show($('view-chat'), true);
      chat.enter();
    } else {
      $('nav-admin').setAttribute('aria-current', 'page');
      show($('view-chat'), false);
      show($('view-admin'), true);
      admin.enter(parts[1] || null, parts[2] || null);
    }
  }

  // ---- Server-sent events over a POST (EventSource can only GET) ----------------------------

  // Reads an SSE body: onEvent(type, data) per event. Follows the spec's line rules (CRLF, LF or
  // CR; "data:" lines joined with "\n"; ":" comments ignored).
  async function readEvents(res, onEvent) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = '';
    let type = '';
    let data = [];
    const line = (l) => {
      if (l === '') {
        if (data.length) onEvent(type || 'message', data.join('\n'));
        type = '';
        data = [];
        return;
      }
      if (l.startsWith(':')) return;
      const i = l.indexOf(':');
      const field = i < 0 ? l : l.slice(0, i);
      let value = i < 0 ? '' : l.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let text = pending + value;
      let hold = '';
      if (text.endsWith('\r')) {
        hold = '\r';
        text = text.slice(0, -1);
      }
      const lines = text.split(/\r\n|\n|\r/);
      pending = lines.pop() + hold;
      for (const l of lines) line(l);
    }
    if (pending) line(pending.replace(/\r$/, ''));
    line('');
  }

  function parseMaybeJson(s) {
    try {
      return JSON.parse(s);
    } catch (_) {
      return undefined;
    }
  }

  // One chat turn, streamed: onText(piece) as the reply is written; resolves to the final reply.
  // Tolerant of the event names: text pieces come as "delta"/"message"/"text"/"token" events
  // whose data is {"text": ...} or plain text; the whole reply is the event named
  // "done"/"reply"/"final"/"result" or any event whose JSON has a "response".
  async function chatTurn(botId, token, message, sessionId, onText, meta = {}) {
    const body = { message, session_id: sessionId };
    let res;
    try {
      res = await request(`/chat/${enc(botId)}/stream`, {
        method: 'POST',
        token,
        json: body,
        accept: 'text/event-stream',
      });
    } catch (err) {
      // A server without the streaming route: the plain route gives the same reply at once.
      if (err instanceof ApiError && (err.status === 404 || err.status === 405) && /^not found\.?$|method not allowed/i.test(err.message)) {
        const reply = await api(`/chat/${enc(botId)}`, { method: 'POST', token, json: body });
        meta.via = 'json';
        if (reply && typeof reply.response === 'string') onText(reply.response);
        return reply;
      }
      throw err;
    }
    const type = res.headers.get('Content-Type') || '';
    if (!type.includes('text/event-stream') || !res.body) {
      const reply = await readJson(res);
      meta.via = 'json';
      if (reply && typeof reply.response === 'string') onText(reply.response);
      return reply;
    }
    meta.via = 'stream';
    meta.pieces = 0;
    let final = null;
    let failure = null;
    await readEvents(res, (name, data) => {
      const obj = parseMaybeJson(data);
      const lname = name.toLowerCase();
      if (lname === 'error') {
        const detail = obj && typeof obj === 'object' && obj.detail ? obj.detail : data;
        failure = new ApiError(obj && obj.status ? obj.status : 500, String(detail || 'The reply failed.'));
        return;
      }
      if (['done', 'reply', 'final', 'result', 'complete', 'end'].includes(lname) ||
          (obj && typeof obj === 'object' && typeof obj.response === 'string')) {
        if (obj && typeof obj === 'object') final = obj;
        return;
      }
      let piece;
      if (obj && typeof obj === 'object') piece = obj.text ?? obj.delta ?? obj.content ?? '';
      else if (typeof obj === 'string') piece = obj;
      else piece = data;
      if (piece) {
        meta.pieces++;
        onText(String(piece));
      }
    });
    if (failure) throw failure;
    if (!final) throw new ApiError(0, 'The connection closed before the reply was complete. Please try again.');
    return final;
  }

  // ---- Rendering of messages (shared by the chat and the admin's history) --------------------

  function roleOf(m) {
    const r = m.role;
    if (r === 1 || r === 'assistant' || r === 'bot' || r === 'model') return 'assistant';
    return 'user';
  }

  // A message bubble: {text, role, time, meta...}; returns {li, textNode, extras} so that a
  // streamed reply can grow and get its sources and suggestions at the end.
  function bubble(role, text, time) {
    const textNode = el('div', { class: 'bubble-text' }, text || '');
    const extras = el('div', { class: 'bubble-extras' });
    const who = role === 'assistant' ? 'Support bot' : 'You';
    const li = el('li', { class: 'msg ' + role },
      el('div', { class: 'bubble' },
        el('span', { class: 'sr-only' }, who + ': '),
        textNode,
        extras),
      time ? el('div', { class: 'msg-time' }, formatTime(time)) : null);
    return { li, textNode, extras };
  }

  function handoverNote(reason, forUser) {
    return el('div', { class: 'handover-note', role: 'note' },
      el('strong', null, 'Handed over to a person'),
      el('span', null, ' — ' + (forUser ? REASONS_TO_USER[reason] || reasonLabel(reason) : reasonLabel(reason))));
  }

  function sourceItem(s) {
    return el('li', null,
      el('span', { class: 'source-q' }, s && s.question ? s.question : String(s && s.id ? s.id : s)),
      s && typeof s.confidence === 'number'
        ? el('span', { class: 'confidence', title: 'How likely this FAQ answers the question' }, ' ' + percent(s.confidence) + ' match')
        : null);
  }

  // The FAQs behind a reply. When the server says whether the reply answered from an FAQ, that
  // FAQ (the first) is the source and the others are shown folded as the FAQs also considered;
  // when no FAQ answered, all of them are folded.
  function sourcesList(sources, answered) {
    if (!Array.isArray(sources) || sources.length === 0) return null;
    if (typeof answered !== 'boolean') {
      return el('div', { class: 'sources' },
        el('span', { class: 'sources-label' }, sources.length === 1 ? 'Source' : 'Sources'),
        el('ul', null, sources.map(sourceItem)));
    }
    const rest = answered ? sources.slice(1) : sources;
    return el('div', { class: 'sources' },
      answered ? el('span', { class: 'sources-label' }, 'Answered from') : null,
      answered ? el('ul', { class: 'source-main' }, sourceItem(sources[0])) : null,
      rest.length
        ? el('details', { class: 'sources-more' },
          el('summary', null, answered ? `Other FAQs considered (${rest.length})` : `FAQs considered (${rest.length})`),
          el('ul', null, rest.map(sourceItem)))
        : null);
  }

  // ---- The user's chat ----------------------------------------------------------------------

  const chat = {
    botId: null,
    token: null,
    email: '',
    sessionId: null,
    busy: false,
    escalated: false,

    enter() {
      const params = new URLSearchParams(location.search);
      const fromUrl = (params.get('bot') || '').trim();
      const botId = fromUrl || this.botId || store.get(LAST_BOT_KEY) || '';
      const auth = botId ? store.get(userKey(botId)) : null;
      if (botId && auth && auth.token) {
        this.start(botId, auth.token, auth.email || '');
      } else {
        this.showAuth(botId);
      }
    },

    showAuth(botId, message) {
      this.token = null;
      show($('chat-app'), false);
      show($('chat-auth'), true);
      if (botId) $('chat-bot-id').value = botId;
      formError('chat-auth-error', message || null);
    },

    async submitAuth(ev) {
      ev.preventDefault();
      const action = ev.submitter && ev.submitter.value === 'register' ? 'register' : 'login';
      const botId = $('chat-bot-id').value.trim();
      const email = $('chat-email').value.trim();
      const password = $('chat-password').value;
      if (!botId || !email || !password) {
        formError('chat-auth-error', 'Enter the bot ID, your email and a password.');
        return;
      }
      const button = action === 'register' ? $('chat-register') : $('chat-login');
      setBusy(button, true, action === 'register' ? 'Creating…' : 'Logging in…');
      formError('chat-auth-error', null);
      try {
        if (action === 'register') await register(botId, email, password);
        const token = await login(botId, email, password);
        store.set(userKey(botId), { token, email });
        store.set(LAST_BOT_KEY, botId);
        $('chat-password').value = '';
        this.start(botId, token, email);
        if (action === 'register') notice('Your account is ready. Ask your first question.');
      } catch (err) {
        formError('chat-auth-error', err);
      } finally {
        setBusy(button, false);
      }
    },

    start(botId, token, email) {
      const changed = this.botId !== botId || this.token !== token;
      this.botId = botId;
      this.token = token;
      this.email = email;
      store.set(LAST_BOT_KEY, botId);
      show($('chat-auth'), false);
      show($('chat-app'), true);
      $('chat-who').textContent = email ? `Signed in as ${email}` : '';
      $('chat-title').textContent = 'Support chat';
      if (changed) {
        const saved = store.get(sessionKey(botId));
        this.sessionId = null;
        this.clearLog();
        this.loadBotName();
        if (saved) this.openSession(saved, false);
        this.loadSessions();
      }
      $('chat-input').focus();
    },

    async loadBotName() {
      // Users may not be allowed to read the bot: then the page keeps its plain title.
      try {
        const bot = await api(`/bots/${enc(this.botId)}`, { token: this.token });
        if (bot && bot.name) {
          $('chat-title').textContent = bot.name;
          document.title = `${bot.name} · supportbot`;
        }
      } catch (_) {
        /* not shown to users */
      }
    },

    logout() {
      store.set(userKey(this.botId), null);
      store.set(sessionKey(this.botId), null);
      const botId = this.botId;
      this.token = null;
      this.botId = null;
      this.clearLog();
      this.showAuth(botId);
      notice('You are logged out.');
    },

    authFailed(err) {
      if (err instanceof ApiError && err.status === 401) {
        store.set(userKey(this.botId), null);
        const botId = this.botId;
        this.botId = null;
        this.showAuth(botId, 'Your login has expired. Please log in again.');
        return true;
      }
      return false;
    },

    clearLog() {
      $('chat-log').replaceChildren();
      show($('chat-empty'), true);
      this.setEscalated(false);
    },

    newConversation() {
      this.sessionId = null;
      store.set(sessionKey(this.botId), null);
      this.clearLog();
      this.markCurrent();
      $('chat-input').focus();
    },

    setEscalated(on, reason) {
      this.escalated = on;
      show($('chat-handover'), on);
      $('chat-handover-text').textContent = on ? REASONS_TO_USER[reason] || '' : '';
    },

    async loadSessions() {
      if (!this.token) return;
      try {
        const { data } = await apiPage(`/chat/${enc(this.botId)}/sessions?limit=20`, { token: this.token });
        const list = Array.isArray(data) ? data : [];
        const ul = $('chat-sessions');
        ul.replaceChildren(...list.map((s) => {
          const id = s.session_id || s.id;
          const status = sessionStatus(s);
          return el('li', null,
            el('button', {
              type: 'button',
              class: 'session-item',
              'data-session': id,
              onclick: () => this.openSession(id, true),
            },
            el('span', { class: 'session-first' }, truncate(sessionLabel(s), 60)),
            el('span', { class: 'session-meta' },
              formatTime(s.last_updated || s.last_active),
              status.kind === 'warn' ? el('span', { class: 'badge warn' }, 'with a person') : null,
              status.label === 'Closed' ? el('span', { class: 'badge' }, 'closed') : null)));
        }));
        show($('chat-sessions-empty'), list.length === 0);
        this.markCurrent();
      } catch (err) {
        if (!this.authFailed(err)) show($('chat-sessions-empty'), true);
      }
    },

    markCurrent() {
      for (const b of $('chat-sessions').querySelectorAll('button[data-session]')) {
        if (b.dataset.session === this.sessionId) b.setAttribute('aria-current', 'true');
        else b.removeAttribute('aria-current');
      }
    },

    async openSession(sessionId, focus) {
      this.sessionId = sessionId;
      store.set(sessionKey(this.botId), sessionId);
      this.clearLog();
      this.markCurrent();
      try {
        let url = `/chat/history/${enc(sessionId)}?limit=100`;
        const messages = [];
        for (let page = 0; url && page < 20; page++) {
          const { data, next } = await apiPage(url, { token: this.token });
          if (Array.isArray(data)) messages.push(...data);
          url = next;
        }
        let escalatedReason = null;
        for (const m of messages) {
          const role = roleOf(m);
          const b = bubble(role, m.message ?? m.text ?? '', m.timestamp ?? m.created_at ?? m.created_ms);
          if (role === 'assistant' && m.escalated) {
            b.extras.appendChild(handoverNote(m.escalation_reason, true));
            escalatedReason = m.escalation_reason || '';
          }
          $('chat-log').appendChild(b.li);
        }
        show($('chat-empty'), messages.length === 0);
        if (escalatedReason !== null) this.setEscalated(true, escalatedReason);
        this.scrollDown();
      } catch (err) {
        if (this.authFailed(err)) return;
        if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
          // A conversation that is gone (or another account's): start afresh.
          this.sessionId = null;
          store.set(sessionKey(this.botId), null);
        } else {
          notice(err.message, 'error');
        }
      }
      if (focus) $('chat-input').focus();
    },

    scrollDown() {
      const log = $('chat-log');
      log.scrollTop = log.scrollHeight;
    },

    async send(text) {
      text = String(text || '').trim();
      if (!text || this.busy || !this.token) return;
      this.busy = true;
      clearNotice();
      const input = $('chat-input');
      const sendButton = $('chat-send');
      sendButton.disabled = true;
      input.setAttribute('aria-busy', 'true');
      show($('chat-empty'), false);
      // Earlier suggestions no longer apply.
      for (const s of $('chat-log').querySelectorAll('.suggestions')) s.remove();

      if (!this.sessionId) {
        this.sessionId = newSessionId();
        store.set(sessionKey(this.botId), this.sessionId);
      }
      const mine = bubble('user', text, Date.now());
      $('chat-log').appendChild(mine.li);
      const reply = bubble('assistant', '', null);
      reply.li.classList.add('pending');
      reply.li.setAttribute('aria-busy', 'true');
      const typing = el('span', { class: 'typing', 'aria-label': 'The bot is writing' }, el('span'), el('span'), el('span'));
      reply.textNode.appendChild(typing);
      $('chat-log').appendChild(reply.li);
      this.scrollDown();

      let streamed = '';
      const meta = {};
      const onText = (piece) => {
        if (!streamed) reply.textNode.replaceChildren();
        streamed += piece;
        reply.textNode.textContent = streamed;
        this.scrollDown();
      };
      try {
        let result;
        try {
          result = await chatTurn(this.botId, this.token, text, this.sessionId, onText, meta);
        } catch (err) {
          // A conversation the support team closed takes no more messages (409): this message
          // starts a new conversation instead.
          if (!(err instanceof ApiError && err.status === 409 && !streamed)) throw err;
          this.sessionId = newSessionId();
          store.set(sessionKey(this.botId), this.sessionId);
          this.setEscalated(false);
          $('chat-log').replaceChildren(
            el('li', { class: 'system-note', role: 'note' }, 'Your previous conversation was closed by the support team, so this message starts a new one.'),
            mine.li, reply.li);
          this.markCurrent();
          result = await chatTurn(this.botId, this.token, text, this.sessionId, onText, meta);
        }
        // How the reply came (for the end-to-end test and for anyone debugging).
        reply.li.dataset.delivery = meta.via || '';
        reply.li.dataset.pieces = String(meta.pieces || 0);
        this.showReply(reply, result || {});
        if (result && result.session_id && result.session_id !== this.sessionId) {
          this.sessionId = result.session_id;
          store.set(sessionKey(this.botId), this.sessionId);
        }
        input.value = '';
        this.loadSessions();
      } catch (err) {
        reply.li.classList.add('failed');
        if (!streamed) reply.textNode.textContent = 'The reply could not be delivered.';
        reply.extras.appendChild(el('p', { class: 'error-text', role: 'alert' }, err.message));
        this.authFailed(err);
      } finally {
        reply.li.classList.remove('pending');
        reply.li.removeAttribute('aria-busy');
        this.busy = false;
        sendButton.disabled = false;
        input.removeAttribute('aria-busy');
        this.scrollDown();
        if (this.token) input.focus();
      }
    },

    showReply(b, r) {
      const time = el('div', { class: 'msg-time' }, formatTime(Date.now()));
      b.li.appendChild(time);
      if (typeof r.response === 'string') b.textNode.textContent = r.response;
      if (r.escalated) {
        b.li.classList.add('escalated');
        b.extras.appendChild(handoverNote(r.escalation_reason, true));
        this.setEscalated(true, r.escalation_reason);
      }
      const sources = sourcesList(r.sources, r.answered);
      if (sources) b.extras.appendChild(sources);
      if (r.fallback) {
        b.extras.appendChild(el('p', { class: 'muted small' }, 'The AI assistant was unavailable, so this answer comes straight from the FAQs.'));
      }
      const actions = Array.isArray(r.suggested_actions) ? r.suggested_actions.filter((s) => typeof s === 'string' && s.trim()) : [];
      if (actions.length) {
        b.extras.appendChild(el('div', { class: 'suggestions', role: 'group', 'aria-label': 'Suggested questions' },
          el('span', { class: 'suggestions-label' }, 'You could ask'),
          actions.map((s) => el('button', {
            type: 'button',
            class: 'suggestion',
            onclick: () => this.send(s),
          }, s))));
      }
    },
  };

  // ---- The admin ----------------------------------------------------------------------------

  const admin = {
    token: null,
    email: '',
    bots: [],
    botId: null,
    tab: 'sessions',
    sessionsNext: null,
    historyNext: null,
    historySession: null,

    enter(botId, tab) {
      const auth = store.get(ADMIN_KEY);
      if (!auth || !auth.token) {
        this.showAuth();
        return;
      }
      const fresh = this.token !== auth.token;
      this.token = auth.token;
      this.email = auth.email || '';
      show($('admin-auth'), false);
      show($('admin-app'), true);
      $('admin-who').textContent = this.email ? `Signed in as ${this.email}` : '';
      if (fresh) {
        this.loadBots().then(() => {
          $('bot-create-box').open = this.bots.length === 0;
          this.select(botId, tab);
        });
      }
      else this.select(botId, tab);
    },

    showAuth(message) {
      this.token = null;
      this.botId = null;
      show($('admin-app'), false);
      show($('admin-auth'), true);
      formError('admin-auth-error', message || null);
    },

    authFailed(err) {
      if (err instanceof ApiError && err.status === 401) {
        store.set(ADMIN_KEY, null);
        this.showAuth('Your login has expired. Please log in again.');
        return true;
      }
      return false;
    },

    fail(err) {
      if (!this.authFailed(err)) notice(err.message, 'error');
    },

    async submitAuth(ev) {
      ev.preventDefault();
      const action = ev.submitter && ev.submitter.value === 'register' ? 'register' : 'login';
      const email = $('admin-email').value.trim();
      const password = $('admin-password').value;
      if (!email || !password) {
        formError('admin-auth-error', 'Enter your email and a password.');
        return;
      }
      const button = action === 'register' ? $('admin-register') : $('admin-login');
      setBusy(button, true, action === 'register' ? 'Creating…' : 'Logging in…');
      formError('admin-auth-error', null);
      try {
        if (action === 'register') await register('admin', email, password);
        const token = await login('admin', email, password);
        store.set(ADMIN_KEY, { token, email });
        $('admin-password').value = '';
        this.token = null; // enter() reloads for the new account
        this.enter(null, null);
        if (action === 'register') notice('Your admin account is ready. Create a bot from an FAQ file.');
      } catch (err) {
        formError('admin-auth-error', err);
      } finally {
        setBusy(button, false);
      }
    },

    logout() {
      store.set(ADMIN_KEY, null);
      this.bots = [];
      $('admin-bots').replaceChildren();
      this.showAuth();
      location.hash = '#admin';
      notice('You are logged out.');
    },

    async loadBots() {
      try {
        const data = await api('/bots/', { token: this.token });
        this.bots = Array.isArray(data) ? data : [];
      } catch (err) {
        this.bots = [];
        this.fail(err);
      }
      this.renderBots();
    },

    renderBots() {
      const ul = $('admin-bots');
      ul.replaceChildren(...this.bots.map((b) =>
        el('li', null,
          el('a', {
            href: `#admin/${enc(b.id)}/${this.tab}`,
            class: 'bot-item',
            'data-bot': b.id,
            'aria-current': b.id === this.botId ? 'page' : null,
          },
          el('span', { class: 'bot-name' }, b.name || '(unnamed)'),
          el('span', { class: 'bot-meta' }, faqCount(b) !== null ? `${faqCount(b)} FAQs` : truncate(b.id, 13))))));
      show($('admin-bots-empty'), this.bots.length === 0);
      // The creation form stays open until there is a bot; then it folds away.
      if (this.bots.length === 0) $('bot-create-box').open = true;
    },

    async createBot(ev) {
      ev.preventDefault();
      const name = $('bot-name').value.trim();
      const file = $('bot-file').files[0];
      if (!name || !file) {
        formError('bot-create-error', 'Give the bot a name and choose an FAQ file (.json or .csv).');
        return;
      }
      const form = new FormData();
      form.append('name', name);
      form.append('file', file, file.name);
      const button = $('bot-create');
      setBusy(button, true, 'Creating…');
      formError('bot-create-error', null);
      try {
        const bot = await api('/bots/', { method: 'POST', token: this.token, form });
        $('bot-create-form').reset();
        $('bot-create-box').open = false;
        notice(`Bot “${bot && bot.name ? bot.name : name}” is ready.`, 'success');
        await this.loadBots();
        if (bot && bot.id) location.hash = `#admin/${enc(bot.id)}/sessions`;
      } catch (err) {
        if (!this.authFailed(err)) formError('bot-create-error', err);
      } finally {
        setBusy(button, false);
      }
    },

    async select(botId, tab) {
      if (!botId) {
        this.botId = null;
        show($('bot-detail'), false);
        show($('bot-none'), true);
        this.renderBots();
        return;
      }
      tab = ['sessions', 'summaries', 'analytics'].includes(tab) ? tab : 'sessions';
      const changed = botId !== this.botId;
      this.botId = botId;
      this.tab = tab;
      this.renderBots();
      show($('bot-none'), false);
      show($('bot-detail'), true);
      if (changed) {
        const known = this.bots.find((b) => b.id === botId);
        this.renderBot(known || { id: botId, name: 'Bot' });
        this.loadBot(botId);
        this.resetPanes();
      }
      for (const t of document.querySelectorAll('.tabs [role=tab]')) {
        const on = t.dataset.tab === tab;
        t.setAttribute('aria-selected', on ? 'true' : 'false');
        t.tabIndex = on ? 0 : -1;
        show($('pane-' + t.dataset.tab), on);
      }
      if (tab === 'sessions' && (changed || !this.sessionsLoaded)) this.loadSessions(false);
      if (tab === 'summaries' && (changed || !this.summariesLoaded)) this.loadSummaries();
      if (tab === 'analytics' && (changed || !this.analyticsLoaded)) this.loadAnalytics();
    },

    resetPanes() {
      this.sessionsLoaded = this.summariesLoaded = this.analyticsLoaded = false;
      $('sessions-body').replaceChildren();
      show($('sessions-more'), false);
      show($('sessions-empty'), false);
      show($('history-panel'), false);
      $('summaries-list').replaceChildren();
      $('summaries-result').textContent = '';
      $('analytics-body').replaceChildren();
    },

    async loadBot(botId) {
      try {
        const bot = await api(`/bots/${enc(botId)}`, { token: this.token });
        if (bot && this.botId === botId) this.renderBot(bot);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          notice('That bot does not exist, or it is not one of yours.', 'error');
          location.hash = '#admin';
        } else this.fail(err);
      }
    },

    renderBot(bot) {
      $('bot-title').textContent = bot.name || 'Bot';
      document.title = `${bot.name || 'Bot'} · Admin · supportbot`;
      $('bot-id').textContent = bot.id;
      const link = `${location.pathname}?bot=${enc(bot.id)}#chat`;
      $('bot-chat-link').setAttribute('href', link);
      const facts = [];
      const n = faqCount(bot);
      if (n !== null) facts.push(['FAQs', String(n)]);
      const created = bot.created_at ?? bot.created_ms ?? bot.created;
      if (created !== undefined) facts.push(['Created', formatTime(created)]);
      $('bot-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
    },

    async replaceFaqs(ev) {
      ev.preventDefault();
      const botId = this.botId;
      const file = $('bot-replace-file').files[0];
      if (!file) {
        formError('bot-replace-error', 'Choose an FAQ file (.json or .csv).');
        return;
      }
      const form = new FormData();
      form.append('file', file, file.name);
      const button = $('bot-replace-submit');
      setBusy(button, true, 'Replacing…');
      formError('bot-replace-error', null);
      try {
        const bot = await api(`/bots/${enc(botId)}/faqs`, { method: 'PUT', token: this.token, form });
        $('bot-replace-form').reset();
        $('bot-replace').open = false;
        if (bot && this.botId === botId) this.renderBot(bot);
        const n = bot ? faqCount(bot) : null;
        notice(n !== null ? `The bot now answers from ${n} FAQs.` : 'The FAQs are replaced.', 'success');
        this.loadBots();
      } catch (err) {
        if (!this.authFailed(err)) formError('bot-replace-error', err);
      } finally {
        setBusy(button, false);
      }
    },

    // ---- Conversations and histories ----

    async loadSessions(more) {
      const botId = this.botId;
      const url = more && this.sessionsNext ? this.sessionsNext : `/chat/${enc(botId)}/sessions?limit=25`;
      const button = $('sessions-more');
      if (more) setBusy(button, true, 'Loading…');
      try {
        const { data, next } = await apiPage(url, { token: this.token });
        if (botId !== this.botId) return;
        const list = Array.isArray(data) ? data : [];
        if (!more) $('sessions-body').replaceChildren();
        for (const s of list) $('sessions-body').appendChild(this.sessionRow(s));
        this.sessionsNext = next;
        this.sessionsLoaded = true;
        show(button, !!next);
        show($('sessions-empty'), !more && list.length === 0);
        show($('sessions-table'), more || list.length > 0);
      } catch (err) {
        this.fail(err);
      } finally {
        if (more) setBusy(button, false);
      }
    },

    sessionRow(s) {
      const id = s.session_id || s.id;
      const status = sessionStatus(s);
      const open = () => this.openHistory(id, s);
      return el('tr', { 'data-session': id },
        el('td', null,
          el('button', { type: 'button', class: 'link row-link', onclick: open, 'aria-label': `Open conversation: ${truncate(sessionLabel(s), 80)}` },
            truncate(sessionLabel(s), 90))),
        el('td', null, formatTime(s.last_updated ?? s.last_active)),
        el('td', null, el('span', { class: 'badge ' + status.kind }, status.label)),
        el('td', { class: 'num' }, s.message_count ?? ''));
    },

    async openHistory(sessionId, info) {
      this.historySession = sessionId;
      this.historyNext = null;
      for (const tr of $('sessions-body').querySelectorAll('tr')) {
        if (tr.dataset.session === sessionId) tr.setAttribute('aria-current', 'true');
        else tr.removeAttribute('aria-current');
      }
      show($('history-panel'), true);
      $('history-title').textContent = info ? truncate(sessionLabel(info), 70) : 'Conversation';
      $('history-session').textContent = sessionId;
      $('history-log').replaceChildren();
      show($('history-summary-box'), false);
      show($('history-close'), !(info && sessionStatus(info).label === 'Closed'));
      await this.loadHistory(false);
      $('history-panel').scrollIntoView({ block: 'nearest' });
    },

    async loadHistory(more) {
      const sessionId = this.historySession;
      const url = more && this.historyNext ? this.historyNext : `/chat/history/${enc(sessionId)}?limit=50`;
      const button = $('history-more');
      if (more) setBusy(button, true, 'Loading…');
      try {
        const { data, next } = await apiPage(url, { token: this.token });
        if (sessionId !== this.historySession) return;
        for (const m of Array.isArray(data) ? data : []) {
          const role = roleOf(m);
          const b = bubble(role, m.message ?? m.text ?? '', m.timestamp ?? m.created_at ?? m.created_ms);
          if (role === 'assistant') {
            if (m.escalated) b.extras.appendChild(handoverNote(m.escalation_reason, false));
            const facts = [];
            if (typeof m.confidence === 'number' && m.confidence > 0) facts.push(`confidence ${percent(m.confidence)}`);
            if (m.responder) facts.push(`by ${m.responder}`);
            if (m.fallback) facts.push('fallback');
            if (m.error) facts.push('failed');
            if (Array.isArray(m.faq_ids) && m.faq_ids.length) facts.push(`FAQ ${m.faq_ids.join(', ')}`);
            if (facts.length) b.extras.appendChild(el('p', { class: 'msg-facts' }, facts.join(' · ')));
          }
          b.li.classList.add(roleOf(m));
          $('history-log').appendChild(b.li);
        }
        this.historyNext = next;
        show(button, !!next);
      } catch (err) {
        this.fail(err);
      } finally {
        if (more) setBusy(button, false);
      }
    },

    async closeSession() {
      const sessionId = this.historySession;
      const button = $('history-close');
      setBusy(button, true, 'Closing…');
      try {
        await api(`/chat/sessions/${enc(sessionId)}/close`, { method: 'POST', token: this.token });
        notice('The conversation is closed: the customer starts a new one with the next message.', 'success');
        show(button, false);
        await this.loadSessions(false);
        for (const tr of $('sessions-body').querySelectorAll('tr')) {
          if (tr.dataset.session === sessionId) tr.setAttribute('aria-current', 'true');
        }
      } catch (err) {
        this.fail(err);
      } finally {
        setBusy(button, false);
      }
    },

    async summarise() {
      const sessionId = this.historySession;
      const button = $('history-summary');
      setBusy(button, true, 'Summarising…');
      try {
        const s = await api(`/chat/summary/${enc(sessionId)}`, { token: this.token });
        if (sessionId !== this.historySession) return;
        const box = $('history-summary-box');
        box.replaceChildren(summaryCard(s || {}, false));
        show(box, true);
      } catch (err) {
        this.fail(err);
      } finally {
        setBusy(button, false);
      }
    },

    // ---- Summaries ----

    async loadSummaries() {
      const botId = this.botId;
      try {
        const data = await api(`/admin/bots/${enc(botId)}/summaries`, { token: this.token });
        if (botId !== this.botId) return;
        const list = Array.isArray(data) ? data : Array.isArray(data && data.summaries) ? data.summaries : [];
        $('summaries-list').replaceChildren(...list.map((s) => summaryCard(s, true)));
        show($('summaries-empty'), list.length === 0);
        this.summariesLoaded = true;
      } catch (err) {
        this.fail(err);
      }
    },

    async processSummaries() {
      const botId = this.botId;
      const button = $('summaries-process');
      setBusy(button, true, 'Summarising…');
      $('summaries-result').textContent = '';
      try {
        const r = await api(`/admin/bots/${enc(botId)}/process-summaries`, { method: 'POST', token: this.token });
        let text = 'Done.';
        if (r && typeof r === 'object') {
          const processed = r.processed ?? r.processed_count ?? r.count;
          const skipped = r.skipped ?? r.skipped_count;
          if (typeof processed === 'number') {
            text = `${processed} conversation${processed === 1 ? '' : 's'} summarised`;
            if (typeof skipped === 'number') text += `, ${skipped} already up to date`;
            text += '.';
          } else if (typeof r.message === 'string') text = r.message;
          else if (typeof r.detail === 'string') text = r.detail;
        }
        $('summaries-result').textContent = text;
        await this.loadSummaries();
        this.analyticsLoaded = false;
      } catch (err) {
        this.fail(err);
      } finally {
        setBusy(button, false);
      }
    },

    // ---- Analytics ----

    async loadAnalytics() {
      const botId = this.botId;
      const body = $('analytics-body');
      body.replaceChildren(el('p', { class: 'muted', role: 'status' }, 'Loading analytics…'));
      const params = new URLSearchParams();
      const from = $('analytics-from').value;
      const to = $('analytics-to').value;
      if (from) params.set('from', from);
      // A date as `to` means up to the end of that day (UTC) for the server.
      if (to) params.set('to', to);
      const q = params.toString();
      try {
        const a = await api(`/admin/bots/${enc(botId)}/analytics${q ? '?' + q : ''}`, { token: this.token });
        if (botId !== this.botId) return;
        body.replaceChildren(renderAnalytics(a || {}));
        this.analyticsLoaded = true;
        this.lastAnalytics = a;
      } catch (err) {
        body.replaceChildren(el('p', { class: 'error-text', role: 'alert' }, err.message));
        this.authFailed(err);
      }
    },
  };

  function faqCount(bot) {
    const n = bot.faq_count ?? bot.faqs_count ?? bot.faqs;
    return typeof n === 'number' ? n : Array.isArray(n) ? n.length : null;
  }

  // What names a conversation in a list: its first message, else when it started.
  function sessionLabel(s) {
    if (s.first_message) return s.first_message;
    const when = s.created_at ?? s.created_ms ?? s.last_updated;
    return when ? `Conversation of ${formatTime(when)}` : 'Conversation';
  }

  function sessionStatus(s) {
    const st = s.status;
    if (st === 'escalated' || st === 1) return { label: 'Escalated', kind: 'warn' };
    if (st === 'closed' || st === 2) return { label: 'Closed', kind: 'muted' };
    if (st === 'open' || st === 0) return { label: 'Open', kind: 'ok' };
    return { label: st ? String(st) : '—', kind: 'muted' };
  }

  function summaryCard(s, withSession) {
    const facts = [];
    if (typeof s.resolved === 'boolean') {
      facts.push(el('span', { class: 'badge ' + (s.resolved ? 'ok' : 'warn') }, s.resolved ? 'Resolved' : 'Not resolved'));
    }
    if (s.sentiment) facts.push(el('span', { class: 'badge sentiment-' + String(s.sentiment) }, String(s.sentiment)));
    const topics = Array.isArray(s.topics) ? s.topics : [];
    return el('article', { class: 'summary-card' },
      withSession && s.session_id
        ? el('p', { class: 'muted small' }, 'Session ', el('code', null, truncate(s.session_id, 40)),
          s.created_ms || s.updated_ms ? ' · ' + formatTime(s.updated_ms || s.created_ms) : '')
        : null,
      s.main_issue ? el('h3', null, s.main_issue) : null,
      facts.length ? el('div', { class: 'badges' }, facts) : null,
      el('p', null, s.summary || '(no summary)'),
      topics.length ? el('ul', { class: 'chips', 'aria-label': 'Topics' }, topics.map((t) => el('li', null, String(t)))) : null);
  }

  // ---- Charts (inline SVG, drawn here) --------------------------------------------------------

  // Each chart is a <figure> with a caption, the drawing (role="img" with a label that says what
  // it shows) and the same numbers as a table for screen readers and copying.
  function figure(title, description, drawing, table) {
    return el('figure', { class: 'chart' },
      el('figcaption', null, el('h3', null, title), description ? el('p', { class: 'muted small' }, description) : null),
      drawing,
      table ? el('details', { class: 'chart-table' }, el('summary', null, 'Show the numbers'), table) : null);
  }

  function dataTable(headers, rows) {
    return el('table', { class: 'table compact' },
      el('thead', null, el('tr', null, headers.map((h, i) => el('th', { scope: 'col', class: i ? 'num' : null }, h)))),
      el('tbody', null, rows.map((r) => el('tr', null, r.map((c, i) => el('td', { class: i ? 'num' : null }, c))))));
  }

  // Horizontal bars: label above each bar (wraps on narrow screens), the bar itself in SVG.
  function barList(items, { label, value, tone = 'accent', note, ariaLabel }) {
    const max = Math.max(1, ...items.map(value));
    return el('ol', { class: 'bars', 'aria-label': ariaLabel },
      items.map((it) => {
        const v = value(it);
        const w = (v / max) * 100;
        return el('li', { class: 'bar-row' },
          el('div', { class: 'bar-label' }, el('span', null, label(it)), el('span', { class: 'bar-value' }, String(v))),
          svg('svg', { class: 'bar-svg tone-' + tone, width: '100%', height: '14', 'aria-hidden': 'true', focusable: 'false' },
            svg('rect', { class: 'bar-track', x: '0', y: '0', width: '100%', height: '14', rx: '4' }),
            svg('rect', { class: 'bar-fill', x: '0', y: '0', width: Math.max(w, v > 0 ? 1.5 : 0).toFixed(2) + '%', height: '14', rx: '4' })),
          note ? note(it) : null);
      }));
  }

  // Sessions per day: a column chart over every day of the range (days without sessions show as
  // gaps, so the time axis is true), redrawn to the width it gets.
  function daysChart(perDay) {
    const map = new Map();
    for (const d of perDay) if (d && d.date) map.set(String(d.date).slice(0, 10), Number(d.sessions ?? d.count ?? 0));
    const keys = [...map.keys()].sort();
    const days = [];
    if (keys.length) {
      const start = new Date(keys[0] + 'T00:00:00Z');
      const end = new Date(keys[keys.length - 1] + 'T00:00:00Z');
      // At least a week on the axis, ending on the last day with sessions.
      const first = new Date(Math.min(start.getTime(), end.getTime() - 6 * 86400000));
      for (let t = first.getTime(), i = 0; t <= end.getTime() && i < 400; t += 86400000, i++) {
        const k = new Date(t).toISOString().slice(0, 10);
        days.push({ date: k, sessions: map.get(k) || 0 });
      }
    }
    const total = days.reduce((s, d) => s + d.sessions, 0);
    const holder = el('div', { class: 'day-chart' });
    const draw = () => {
      const width = Math.max(280, Math.floor(holder.clientWidth || 600));
      const height = 220;
      const m = { top: 14, right: 10, bottom: 38, left: 36 };
      const w = width - m.left - m.right;
      const h = height - m.top - m.bottom;
      const max = Math.max(1, ...days.map((d) => d.sessions));
      const step = niceStep(max);
      const top = Math.ceil(max / step) * step;
      const n = Math.max(1, days.length);
      const band = w / n;
      const barW = Math.max(1, Math.min(36, band * 0.7));
      const y = (v) => m.top + h - (v / top) * h;
      const root = svg('svg', {
        viewBox: `0 0 ${width} ${height}`,
        width: String(width),
        height: String(height),
        role: 'img',
        'aria-label': `Conversations per day: ${total} in ${days.length} days, at most ${max} in a day.`,
      });
      for (let v = 0; v <= top; v += step) {
        root.appendChild(svg('line', { class: 'grid', x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }));
        root.appendChild(svg('text', { class: 'axis', x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
      }
      const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(w / 64))));
      days.forEach((d, i) => {
        const x = m.left + i * band + (band - barW) / 2;
        const bar = svg('rect', {
          class: 'col',
          x: x.toFixed(1),
          y: y(d.sessions).toFixed(1),
          width: barW.toFixed(1),
          height: Math.max(0, m.top + h - y(d.sessions)).toFixed(1),
          rx: '2',
        }, svg('title', null, `${d.date}: ${d.sessions} conversation${d.sessions === 1 ? '' : 's'}`));
        root.appendChild(bar);
        if (d.sessions > 0 && barW >= 14) {
          root.appendChild(svg('text', { class: 'col-value', x: (x + barW / 2).toFixed(1), y: (y(d.sessions) - 4).toFixed(1), 'text-anchor': 'middle' }, String(d.sessions)));
        }
        if (i % labelEvery === 0 || i === days.length - 1) {
          const dt = new Date(d.date + 'T00:00:00Z');
          const label = dt.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
          root.appendChild(svg('text', { class: 'axis', x: (m.left + i * band + band / 2).toFixed(1), y: height - m.bottom + 16, 'text-anchor': 'middle' }, label));
        }
      });
      root.appendChild(svg('line', { class: 'baseline', x1: m.left, x2: width - m.right, y1: y(0), y2: y(0) }));
      holder.replaceChildren(root);
    };
    holder.draw = draw;
    charts.add(holder);
    requestAnimationFrame(draw);
    const table = dataTable(['Day', 'Conversations'], days.filter((d) => d.sessions > 0).map((d) => [d.date, String(d.sessions)]));
    return { node: holder, table, total };
  }

  function niceStep(max) {
    const raw = max / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    for (const f of [1, 2, 5, 10]) if (f * mag >= raw) return Math.max(1, f * mag);
    return Math.max(1, 10 * mag);
  }

  // A donut of parts (sentiment): [{label, value, tone}].
  function donut(parts, centerLabel) {
    const total = parts.reduce((s, p) => s + p.value, 0);
    const r = 44;
    const c = 2 * Math.PI * r;
    const root = svg('svg', {
      viewBox: '0 0 120 120',
      width: '120',
      height: '120',
      role: 'img',
      'aria-label': parts.map((p) => `${p.label}: ${p.value}`).join(', '),
    });
    root.appendChild(svg('circle', { class: 'donut-track', cx: '60', cy: '60', r: String(r) }));
    let offset = 0;
    for (const p of parts) {
      if (!p.value) continue;
      const len = (p.value / total) * c;
      root.appendChild(svg('circle', {
        class: 'donut-part tone-' + p.tone,
        cx: '60', cy: '60', r: String(r),
        'stroke-dasharray': `${len.toFixed(2)} ${(c - len).toFixed(2)}`,
        'stroke-dashoffset': (-offset).toFixed(2),
        transform: 'rotate(-90 60 60)',
      }, svg('title', null, `${p.label}: ${p.value}`)));
      offset += len;
    }
    root.appendChild(svg('text', { class: 'donut-total', x: '60', y: '58', 'text-anchor': 'middle' }, String(total)));
    root.appendChild(svg('text', { class: 'donut-sub', x: '60', y: '74', 'text-anchor': 'middle' }, centerLabel));
    return root;
  }

  const charts = new Set();
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!$('chat-app').hidden) chat.scrollDown();
      for (const c of [...charts]) {
        if (!c.isConnected) charts.delete(c);
        else c.draw();
      }
    }, 120);
  });

  // The library's figures may sit at the top level or under one key.
  function figuresOf(a) {
    if (a && typeof a === 'object') {
      if ('sessions_per_day' in a || 'escalation' in a) return a;
      for (const k of ['figures', 'analytics', 'library', 'stats', 'metrics']) {
        const v = a[k];
        if (v && typeof v === 'object' && ('sessions_per_day' in v || 'escalation' in v)) return v;
      }
    }
    return {};
  }

  function rateOf(x) {
    if (typeof x === 'number') return { rate: x };
    return x && typeof x === 'object' ? x : null;
  }

  function stat(label, value, detail) {
    return el('div', { class: 'stat' },
      el('span', { class: 'stat-label' }, label),
      el('span', { class: 'stat-value' }, value),
      detail ? el('span', { class: 'stat-detail' }, detail) : null);
  }

  function rateStat(label, r, what) {
    r = rateOf(r);
    if (!r) return null;
    const detail = typeof r.numerator === 'number' && typeof r.denominator === 'number' ? `${r.numerator} of ${r.denominator} ${what}` : null;
    return stat(label, percent(r.rate), detail);
  }

  function textItems(list) {
    return (Array.isArray(list) ? list : []).map((x) => {
      if (typeof x === 'string') return x;
      if (x && typeof x === 'object') {
        const t = x.topic ?? x.question ?? x.text ?? x.name ?? x.representative ?? JSON.stringify(x);
        const n = x.count ?? x.sessions ?? x.mentions;
        return typeof n === 'number' ? `${t} (${n})` : String(t);
      }
      return String(x);
    });
  }

  function renderAnalytics(a) {
    const f = figuresOf(a);
    const out = el('div', { class: 'analytics' });

    // Headline figures.
    const messages = f.messages && typeof f.messages === 'object' ? f.messages : {};
    const escalation = rateOf(f.escalation);
    const stats = [
      typeof f.sessions === 'number' ? stat('Conversations', String(f.sessions), typeof messages.total === 'number' ? `${messages.total} messages` : null) : null,
      typeof f.turns_per_session === 'number' ? stat('Questions per conversation', f.turns_per_session.toFixed(1)) : null,
      rateStat('Resolved by the bot', f.deflection, 'conversations'),
      rateStat('Handed to a person', escalation, 'conversations'),
      rateStat('Answered from an FAQ', f.answer, 'replies'),
      rateStat('Could not answer', f.unanswered, 'replies'),
      typeof a.total_summaries_analyzed === 'number' ? stat('Summaries analysed', String(a.total_summaries_analyzed)) : null,
    ].filter(Boolean);
    if (stats.length) out.appendChild(el('section', { class: 'stats', 'aria-label': 'Key figures' }, stats));

    const grid = el('div', { class: 'chart-grid' });
    out.appendChild(grid);

    // Conversations per day.
    const perDay = Array.isArray(f.sessions_per_day) ? f.sessions_per_day : [];
    if (perDay.length) {
      const c = daysChart(perDay);
      grid.appendChild(el('div', { class: 'wide' }, figure('Conversations per day', 'Days in UTC, by when the conversation started.', c.node, c.table)));
    } else {
      grid.appendChild(el('div', { class: 'wide' }, figure('Conversations per day', null, el('p', { class: 'muted' }, 'No conversations in this range yet.'))));
    }

    // Escalation reasons.
    const reasons = escalation && Array.isArray(escalation.reasons) ? escalation.reasons : [];
    grid.appendChild(figure('Why the bot handed over',
      escalation && typeof escalation.escalated_replies === 'number' ? `${escalation.escalated_replies} hand-over${escalation.escalated_replies === 1 ? '' : 's'} to a person.` : null,
      reasons.length
        ? barList(reasons, { label: (r) => reasonLabel(r.reason), value: (r) => Number(r.count) || 0, tone: 'warn', ariaLabel: 'Hand-overs by reason' })
        : el('p', { class: 'muted' }, 'No hand-overs to a person.'),
      reasons.length ? dataTable(['Reason', 'Hand-overs'], reasons.map((r) => [reasonLabel(r.reason), String(r.count)])) : null));

    // Sentiment.
    const s = f.sentiment && typeof f.sentiment === 'object' ? f.sentiment : null;
    if (s) {
      const parts = [
        { label: 'Positive', value: Number(s.positive) || 0, tone: 'ok' },
        { label: 'Neutral', value: Number(s.neutral) || 0, tone: 'muted' },
        { label: 'Negative', value: Number(s.negative) || 0, tone: 'bad' },
      ];
      const sum = parts.reduce((t, p) => t + p.value, 0);
      grid.appendChild(figure('How customers felt', 'Conversations by the tone of the customer’s messages.',
        sum
          ? el('div', { class: 'donut-wrap' }, donut(parts, 'conversations'),
            el('ul', { class: 'legend' }, parts.map((p) => el('li', null, el('span', { class: 'swatch tone-' + p.tone, 'aria-hidden': 'true' }), `${p.label}: ${p.value}`))))
          : el('p', { class: 'muted' }, 'No conversations to judge yet.')));
    }

    // Top FAQs.
    const top = Array.isArray(f.top_faqs) ? f.top_faqs : [];
    grid.appendChild(figure('Most used FAQs', 'How many replies answered from each FAQ.',
      top.length
        ? barList(top, { label: (t) => t.question || t.id, value: (t) => Number(t.count) || 0, tone: 'accent', ariaLabel: 'Replies by FAQ' })
        : el('p', { class: 'muted' }, 'No replies from an FAQ yet.'),
      top.length ? dataTable(['FAQ', 'Replies'], top.map((t) => [t.question || t.id, String(t.count)])) : null));

    // Knowledge gaps.
    const gaps = f.knowledge_gaps && typeof f.knowledge_gaps === 'object' ? f.knowledge_gaps : null;
    const groups = gaps && Array.isArray(gaps.groups) ? gaps.groups : [];
    grid.appendChild(figure('Knowledge gaps',
      gaps && typeof gaps.questions === 'number' ? `${gaps.questions} question${gaps.questions === 1 ? '' : 's'} the bot could not answer, grouped by similarity.` : 'Questions the bot could not answer.',
      groups.length
        ? barList(groups, {
          label: (g) => g.representative,
          value: (g) => Number(g.count) || 0,
          tone: 'bad',
          ariaLabel: 'Unanswered questions by group',
          note: (g) => Array.isArray(g.examples) && g.examples.length > 1
            ? el('details', { class: 'examples' }, el('summary', null, `${g.examples.length} examples`), el('ul', null, g.examples.map((x) => el('li', null, String(x)))))
            : null,
        })
        : el('p', { class: 'muted' }, 'No unanswered questions.'),
      groups.length ? dataTable(['Question', 'Times asked'], groups.map((g) => [g.representative, String(g.count)])) : null));

    // The seed's keys: topics, unanswered questions, suggested FAQs.
    const lists = el('div', { class: 'lists' });
    const topics = textItems(a.trending_topics);
    if (topics.length) {
      lists.appendChild(el('section', { class: 'card' }, el('h3', null, 'Trending topics'),
        el('ul', { class: 'chips' }, topics.map((t) => el('li', null, t)))));
    }
    const unanswered = textItems(a.unanswered_questions);
    if (unanswered.length) {
      lists.appendChild(el('section', { class: 'card' }, el('h3', null, 'Unanswered questions'),
        el('ul', { class: 'plain' }, unanswered.map((t) => el('li', null, t)))));
    }
    const suggested = Array.isArray(a.suggested_new_faqs) ? a.suggested_new_faqs : [];
    if (suggested.length) {
      lists.appendChild(el('section', { class: 'card wide' }, el('h3', null, 'Suggested new FAQs'),
        el('dl', { class: 'faq-suggestions' }, suggested.flatMap((q) => [
          el('dt', null, q && typeof q === 'object' ? q.question || '' : String(q)),
          el('dd', null, q && typeof q === 'object' && q.answer ? q.answer : 'Write an answer for this question.'),
        ]))));
    }
    const n = f.narrative || a.narrative;
    if (n && typeof n === 'object') {
      const sec = el('section', { class: 'card wide' }, el('h3', null, 'What stands out'));
      for (const [key, title] of [['key_themes', 'Key themes'], ['common_issues', 'Common issues'], ['suggestions', 'Suggestions']]) {
        const items = textItems(n[key]);
        if (items.length) sec.append(el('h4', null, title), el('ul', { class: 'plain' }, items.map((t) => el('li', null, t))));
      }
      lists.appendChild(sec);
    }
    if (lists.childElementCount) out.appendChild(lists);
    if (f.llm_usage && f.llm_usage.replies) {
      out.appendChild(el('p', { class: 'muted small' },
        `LLM usage: ${f.llm_usage.replies} replies, ${f.llm_usage.total_tokens} tokens (${f.llm_usage.prompt_tokens} prompt, ${f.llm_usage.completion_tokens} completion).`));
    }
    return out;
  }

  // ---- Wiring ---------------------------------------------------------------------------------

  function init() {
    $('chat-auth-form').addEventListener('submit', (ev) => chat.submitAuth(ev));
    $('chat-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      chat.send($('chat-input').value);
    });
    $('chat-input').addEventListener('keydown', (ev) => {
      // Enter sends, Shift+Enter makes a new line.
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        chat.send($('chat-input').value);
      }
    });
    $('chat-new').addEventListener('click', () => chat.newConversation());
    $('chat-logout').addEventListener('click', () => chat.logout());

    $('admin-auth-form').addEventListener('submit', (ev) => admin.submitAuth(ev));
    $('admin-logout').addEventListener('click', () => admin.logout());
    $('bot-create-form').addEventListener('submit', (ev) => admin.createBot(ev));
    $('sessions-more').addEventListener('click', () => admin.loadSessions(true));
    $('history-more').addEventListener('click', () => admin.loadHistory(true));
    $('history-summary').addEventListener('click', () => admin.summarise());
    $('history-close').addEventListener('click', () => admin.closeSession());
    $('bot-replace-form').addEventListener('submit', (ev) => admin.replaceFaqs(ev));
    $('summaries-process').addEventListener('click', () => admin.processSummaries());
    $('analytics-range').addEventListener('submit', (ev) => {
      ev.preventDefault();
      admin.loadAnalytics();
    });
    $('analytics-refresh').addEventListener('click', () => admin.loadAnalytics());
    $('bot-copy').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText($('bot-id').textContent);
        notice('Bot ID copied.');
      } catch (_) {
        notice('Select the ID and copy it by hand.', 'info');
      }
    });

    // Tabs: click, and arrow keys between them (WAI-ARIA tabs pattern).
    const tabs = [...document.querySelectorAll('.tabs [role=tab]')];
    for (const t of tabs) {
      t.addEventListener('click', () => {
        location.hash = `#admin/${enc(admin.botId)}/${t.dataset.tab}`;
      });
      t.addEventListener('keydown', (ev) => {
        const i = tabs.indexOf(t);
        let j = -1;
        if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
        else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
        else if (ev.key === 'Home') j = 0;
        else if (ev.key === 'End') j = tabs.length - 1;
        if (j >= 0) {
          ev.preventDefault();
          tabs[j].focus();
          tabs[j].click();
        }
      });
    }

    window.addEventListener('hashchange', route);
    route();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
