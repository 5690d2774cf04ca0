// Ballast dashboard. Plain JS, no build step, no library. Everything shown comes from the API
// with the token entered once (kept in sessionStorage for this tab, sent only as an
// Authorization header, never in a URL). Live from /v1/events (read with fetch() streaming so
// the header is sent; resumed with Last-Event-ID); while the stream is not available, the page
// polls /v1/health every 2 s. All text is set with textContent: nothing from the API is HTML.
"use strict";

const TOKEN_KEY = "ballast.token";
const POLL_MS = 2000;            // fallback polling of /v1/health
const LIVE_REFRESH_MS = 10000;   // while live: the report again (subsystem details change quietly)
const STREAM_IDLE_MS = 45000;    // no byte (not even a keep-alive) for this long: reconnect
const BACKOFF_MAX_MS = 15000;    // reconnect delay bound
const SAMPLES_MAX = 720;         // chart points kept per series (older ones dropped)
const LIST_LIMIT = 50;           // rows asked per list
const EVENT_BUFFER_MAX = 1 << 20; // an SSE event larger than this is dropped (the stream restarts)

const LISTS = {
  services: "/v1/services",
  positions: "/v1/positions?limit=200",
  orders: "/v1/orders?status=open&limit=200",
  decisions: "/v1/decisions?limit=" + LIST_LIMIT,
  heals: "/v1/heals?limit=" + LIST_LIMIT,
  alerts: "/v1/alerts?limit=" + LIST_LIMIT,
};
// What an engine journal record's event (`event:` = its type's family) refreshes: one row per
// family of the engine's record types (a test checks each has its row).
const ENGINE_EVENTS = {
  journal: ["account"],
  market: ["positions", "orders", "decisions", "equity", "account"],
  engine: ["positions", "orders", "decisions", "equity", "account"],
  inbox: ["decisions"],
  order: ["positions", "orders", "decisions", "equity", "account"],
  paper: ["account"],
  signal: ["positions", "orders", "decisions", "equity", "account"],
  feed: ["health"],
  signals: ["decisions"],
  venue: ["positions", "orders", "decisions", "equity", "account"],
  reconcile: ["reconciliation", "positions", "orders", "decisions", "equity", "account"],
};
const EQUITY_PAGE = 1000;         // /v1/equity is oldest first: read forward from the last point
const EQUITY_PAGES_MAX = 12;      // pages read in one refresh (the API keeps 10 000 points)

const S = {
  token: null,
  health: null,
  healthAt: 0,              // local time the report arrived (the countdown runs from it)
  lists: {},                // name -> items
  missing: {},              // name -> true when this Ballast does not serve the list
  errors: {},               // name -> why the list could not be read just now
  lastEventId: null,
  mode: "off",              // live | poll | off
  stream: null,             // AbortController of the open stream
  pollTimer: null,
  refreshTimer: null,
  samples: { equity: [], exposure: [] },
  equityAfter: null,        // the cursor after the last equity point read
  cap: null,
  pollTick: 0,
};

// ---- the API ------------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

// Words for a refusal: the API's own message, with what to do for the common ones.
function explain(e) {
  if (!(e instanceof ApiFailure)) return "Ballast does not answer (" + e.message + "): is `ballast run` running?";
  if (e.status === 401) return "This token is not accepted by this Ballast: paste the content of run/api.token (or run/api.viewer.token) from its data directory.";
  if (e.status === 403) return "This is the viewer's token: it may only look. Sign in with the operator token (run/api.token) to control.";
  return e.message + (e.field ? " (field " + e.field + ")" : "") + " [" + e.status + "]";
}

// A call with the token of now; its failure remembers that token, so an answer to a call of an
// earlier sign-in (signed out since) signs nobody out.
async function api(method, path, body) {
  const token = S.token;
  if (!token) throw new ApiFailure(0, "signed_out", "signed out");
  const headers = { Authorization: "Bearer " + token, Accept: "application/json" };
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!r.ok) {
    const err = (json && json.error) || {};
    const failure = new ApiFailure(r.status, err.code || "http_" + r.status, err.message || r.statusText || "HTTP " + r.status, err.field);
    failure.token = token;
    throw failure;
  }
  return json;
}

function signedOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  S.token = null;
  stopLive();
  $("main").hidden = true;
  $("logout").hidden = true;
  setMode("off");
  showLogin(message);
}

// A read that failed: a 401 signs out (the token was rotated), a missing list is noted.
function readFailed(name, e) {
  if (e instanceof ApiFailure && (e.code === "signed_out" || (e.token && e.token !== S.token))) return;
  if (e instanceof ApiFailure && e.status === 401) { signedOut(explain(e)); return; }
  if (e instanceof ApiFailure && (e.status === 404 || e.status === 405)) { S.missing[name] = true; return; }
  S.errors[name] = explain(e);
  if (name === "health") banner(explain(e), e instanceof ApiFailure && e.status === 503 ? "warn" : "");
}

// ---- loading ------------------------------------------------------------------------------

async function loadHealth() {
  try {
    const h = await api("GET", "/v1/health");
    banner(null);
    applyHealth(h);
  } catch (e) {
    readFailed("health", e);
  }
}

async function loadList(name) {
  if (S.missing[name]) return;
  try {
    const body = await api("GET", LISTS[name]);
    S.lists[name] = itemsOf(body, name);
    S.errors[name] = body && body.warning ? "Note: " + body.warning : null;
  } catch (e) {
    readFailed(name, e);
  }
  renderList(name);
}

async function loadAll() {
  await Promise.all([loadHealth(), loadEquity(), loadAccount(), loadReconciliation(), ...Object.keys(LISTS).map(loadList)]);
}

// The latest reconciliation (503 until the engine has reported: said in the panel).
async function loadReconciliation() {
  if (S.missing.reconciliation) return;
  try {
    S.reconciliation = await api("GET", "/v1/reconciliation");
    S.errors.reconciliation = null;
  } catch (e) {
    S.reconciliation = null;
    readFailed("reconciliation", e);
  }
  renderReconciliation(S.reconciliation);
}

// The equity history (for the charts), read forward from the last point seen: the first read
// walks to the newest points, later ones only take what was appended.
async function loadEquity() {
  if (S.missing.equity || S.loadingEquity) return;
  S.loadingEquity = true;
  try {
    for (let i = 0; i < EQUITY_PAGES_MAX; i++) {
      const after = S.equityAfter ? "&after=" + encodeURIComponent(S.equityAfter) : "";
      const body = await api("GET", "/v1/equity?limit=" + EQUITY_PAGE + after);
      const items = itemsOf(body, "equity");
      for (const p of items) {
        const at = Date.parse(first(p, "at", "time"));
        push("equity", [at, Number(p.equity)]);
        push("exposure", [at, Number(p.exposure_pct)]);
        if (isFinite(Number(p.exposure_cap_pct))) S.cap = Number(p.exposure_cap_pct);
      }
      // The cursor after an item is its key (`n` + the seq in hex) when the page says no more.
      const last = items[items.length - 1];
      if (body && body.next) S.equityAfter = body.next;
      else if (last && last.seq !== undefined) S.equityAfter = "n" + Number(last.seq).toString(16);
      if (!body || !body.next) break;
    }
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 422) { S.equityAfter = null; S.samples.equity = []; S.samples.exposure = []; }
    else readFailed("equity", e);
  } finally {
    S.loadingEquity = false;
  }
  renderCharts();
}

// The account as the engine's own view computes it (equity, cash, PnL, exposure and its cap).
async function loadAccount() {
  if (S.missing.account) return;
  try {
    S.account = await api("GET", "/v1/account");
    S.errors.account = null;
    if (S.account && isFinite(Number(S.account.exposure_cap_pct))) S.cap = Number(S.account.exposure_cap_pct);
  } catch (e) {
    readFailed("account", e);
  }
  renderAccount();
  renderCharts();
}

// Many events in a burst make one refresh.
function scheduleRefresh(names) {
  S.pending = S.pending || new Set();
  for (const n of names) S.pending.add(n);
  if (S.refreshTimer) return;
  S.refreshTimer = setTimeout(async () => {
    const todo = [...S.pending];
    S.pending.clear();
    S.refreshTimer = null;
    await Promise.all(todo.map((n) => (n === "health" ? loadHealth() : n === "equity" ? loadEquity() : n === "account" ? loadAccount() : n === "reconciliation" ? loadReconciliation() : loadList(n))));
  }, 250);
}

function applyHealth(h) {
  if (!h || typeof h !== "object") return;
  S.health = h;
  S.healthAt = Date.now();
  sample(h);
  renderHealth();
}

// ---- server-sent events over fetch() ------------------------------------------------------

function setMode(mode) {
  S.mode = mode;
  const c = $("conn");
  c.className = "conn-dot " + mode;
  c.dataset.mode = mode;
  c.textContent = mode === "live" ? "live" : mode === "poll" ? "polling every 2 s" : "offline";
}

// Parse the text received so far into events; answer the rest (an incomplete event).
function parseEvents(buffer, onEvent) {
  const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
  const rest = blocks.pop();
  for (const block of blocks) {
    const ev = { id: null, event: "message", data: [] };
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === "" || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? "" : line.slice(i + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") ev.data.push(value);
      else if (field === "event") ev.event = value;
      else if (field === "id" && !value.includes("\0")) ev.id = value;
    }
    if (ev.id !== null) S.lastEventId = ev.id;
    if (ev.data.length) onEvent(ev.event, ev.data.join("\n"));
  }
  return rest;
}

// What an event changes: the report itself when it carries one, else the lists it touches.
function onEvent(kind, data) {
  let body = null;
  try { body = JSON.parse(data); } catch (_) { return; }
  const k = String(kind || "");
  if (k.startsWith("health")) {
    if (body && body.overall && body.policy && typeof body.policy === "object") applyHealth(body);
    else scheduleRefresh(["health"]);
    return;
  }
  if (k === "missed") {
    // Resumed from before what the server keeps: read everything again.
    scheduleRefresh(["health", "equity", "account", ...Object.keys(LISTS)]);
  } else if (Object.prototype.hasOwnProperty.call(ENGINE_EVENTS, k)) {
    scheduleRefresh(ENGINE_EVENTS[k]);
  } else if (k !== "dropped") {
    scheduleRefresh(["heals", "alerts", "services", "health"]);
  }
}

async function openStream() {
  const ctrl = new AbortController();
  S.stream = ctrl;
  const token = S.token;
  const headers = { Authorization: "Bearer " + token, Accept: "text/event-stream" };
  if (S.lastEventId) headers["Last-Event-ID"] = S.lastEventId;
  const r = await fetch("/v1/events", { headers, signal: ctrl.signal, cache: "no-store", credentials: "omit" });
  if (r.status === 401) {
    if (token === S.token) signedOut("The token was refused by the event stream: sign in again.");
    return "stop";
  }
  if (!r.ok || !r.body) throw new ApiFailure(r.status, "stream", "the event stream answered " + r.status);
  setMode("live");
  stopPolling();
  S.backoff = 1000;
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let idle = setTimeout(() => ctrl.abort(), STREAM_IDLE_MS);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      clearTimeout(idle);
      idle = setTimeout(() => ctrl.abort(), STREAM_IDLE_MS);
      buffer = parseEvents(buffer + value, onEvent);
      if (buffer.length > EVENT_BUFFER_MAX) throw new Error("an event larger than 1 MiB");
    }
  } finally {
    clearTimeout(idle);
  }
  return "ended";
}

// Keep a stream open; while it is not, poll. Reconnects resume after the last event seen.
// One loop per sign-in: a loop of an earlier sign-in (`gen` no longer current) ends.
async function live(gen) {
  S.backoff = 1000;
  while (S.token && gen === S.gen) {
    let outcome;
    try {
      outcome = await openStream();
    } catch (e) {
      outcome = e instanceof ApiFailure && (e.status === 404 || e.status === 405) ? "absent" : "failed";
    }
    if (outcome === "stop" || !S.token || gen !== S.gen) return;
    startPolling();
    // Resumed: what happened while away comes as events; the lists are read again anyway.
    const wait = outcome === "absent" ? 30000 : S.backoff;
    S.backoff = Math.min(BACKOFF_MAX_MS, S.backoff * 2);
    await new Promise((res) => setTimeout(res, wait));
  }
}

function startPolling() {
  if (S.pollTimer) return;
  setMode("poll");
  S.pollTimer = setInterval(() => {
    S.pollTick += 1;
    loadHealth();
    if (S.pollTick % 3 === 0) { Object.keys(LISTS).forEach(loadList); loadEquity(); loadAccount(); loadReconciliation(); }
  }, POLL_MS);
}

function stopPolling() {
  clearInterval(S.pollTimer);
  S.pollTimer = null;
}

function stopLive() {
  S.gen = (S.gen || 0) + 1;
  stopPolling();
  clearTimeout(S.refreshTimer);
  S.refreshTimer = null;
  if (S.pending) S.pending.clear();
  clearInterval(S.liveTimer);
  if (S.stream) S.stream.abort();
  S.stream = null;
}

// ---- actions ------------------------------------------------------------------------------

async function act(button, run, done) {
  button.disabled = true;
  try {
    const answer = await run();
    toast(done);
    if (answer && answer.overall && answer.policy) applyHealth(answer);
    await loadHealth();
    scheduleRefresh(["services", "heals"]);
    return true;
  } catch (e) {
    toast(explain(e), true);
    return e;
  } finally {
    button.disabled = false;
  }
}

async function decide(button, id, how) {
  await act(button, () => api("POST", "/v1/recommendations/" + encodeURIComponent(id) + "/" + how), (how === "approve" ? "Approved " : "Rejected ") + id);
}

async function chooseFinding(button, id, choice, reason, seen) {
  await act(button, () => api("POST", "/v1/reconciliation/" + encodeURIComponent(id) + "/" + choice, { reason: reason.trim(), seen: seen }), choice + " " + id + " sent: the engine journals it at its next pass");
  await loadReconciliation();
}

async function serviceAction(button, name, how) {
  await act(button, () => api("POST", "/v1/services/" + encodeURIComponent(name) + "/" + how), how + " of " + name + " asked");
}

async function engageKill() {
  const body = { reason: $("kill-reason").value.trim() || "engaged from the dashboard", flatten: $("kill-flatten").checked };
  const result = await act($("kill-confirm"), () => api("POST", "/v1/kill-switch", body), "Kill switch engaged" + (body.flatten ? ", flattening" : ""));
  if (result === true) { $("kill-dialog").close(); return; }
  $("kill-error").textContent = explain(result);
  $("kill-error").hidden = false;
}

async function releaseKill() {
  const release = async () => {
    try {
      return await api("DELETE", "/v1/kill-switch");
    } catch (e) {
      if (e instanceof ApiFailure && (e.status === 404 || e.status === 405)) return api("POST", "/v1/kill-switch/release");
      throw e;
    }
  };
  const result = await act($("release-confirm"), release, "Kill switch released");
  $("release-dialog").close();
  if (result !== true) banner(explain(result), "warn");
}

// ---- sign-in and start --------------------------------------------------------------------

function banner(text, kind) {
  const b = $("banner");
  b.hidden = !text;
  b.textContent = text || "";
  b.className = "banner" + (kind ? " " + kind : "");
}

function showLogin(message) {
  const err = $("login-error");
  err.hidden = !message;
  err.textContent = message || "";
  $("token").value = "";
  if (!$("login").open) $("login").showModal();
  $("token").focus();
}

async function signIn(token) {
  S.token = token;
  try {
    applyHealth(await api("GET", "/v1/health"));
  } catch (e) {
    if (!(e instanceof ApiFailure) || e.status === 401 || e.status === 403) {
      S.token = null;
      return explain(e);
    }
    // 503 before the first report: the token is good, the report comes.
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("login-error").hidden = true;
  start();
  return null;
}

function start() {
  $("login").close();
  $("main").hidden = false;
  $("logout").hidden = false;
  S.missing = {};
  loadAll();
  clearInterval(S.liveTimer);
  S.liveTimer = setInterval(() => { if (S.mode === "live") { loadHealth(); loadAccount(); loadReconciliation(); Object.keys(LISTS).forEach(loadList); } }, LIVE_REFRESH_MS);
  S.equityAfter = null;
  S.samples = { equity: [], exposure: [] };
  S.gen = (S.gen || 0) + 1;
  live(S.gen);
}

function wire() {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    $("login-submit").disabled = true;
    const failure = await signIn(token);
    $("login-submit").disabled = false;
    if (failure) showLogin(failure);
  });
  $("login").addEventListener("cancel", (ev) => ev.preventDefault());
  $("logout").addEventListener("click", () => signedOut(null));
  $("kill-engage").addEventListener("click", () => {
    $("kill-error").hidden = true;
    $("kill-dialog").showModal();
  });
  $("kill-flatten").addEventListener("change", (ev) => {
    $("kill-confirm").textContent = ev.target.checked ? "Engage and flatten" : "Engage kill switch";
  });
  $("kill-cancel").addEventListener("click", () => $("kill-dialog").close());
  $("kill-confirm").addEventListener("click", engageKill);
  $("kill-release").addEventListener("click", () => $("release-dialog").showModal());
  $("release-cancel").addEventListener("click", () => $("release-dialog").close());
  $("release-confirm").addEventListener("click", releaseKill);
  setInterval(renderOutlook, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  wire();
  setMode("off");
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    S.token = saved;
    start();
  } else {
    showLogin(null);
  }
});
