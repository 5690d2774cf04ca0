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

// ---- small helpers ------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

function replace(node, kids) {
  node.replaceChildren(...kids);
}

// The list of an answer: `{"items": [...]}` (paginated lists), a bare array, or the named member.
function itemsOf(body, name) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.items)) return body.items;
  if (body && Array.isArray(body[name])) return body[name];
  return [];
}

const first = (o, ...keys) => {
  for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
};

function colorOf(status) {
  switch (status) {
    case "HEALTHY": case "ALLOW_ALL": case "ACTIVE": case "RUNNING": case "AUTO": case "APPROVED": return "green";
    case "DEGRADED": case "SAFE_RISK_PROFILE": case "NO_NEW_TRADES": case "REDUCING": case "WAITING":
    case "STARTING": case "BACKOFF": case "PENDING": case "warning": case "WARNING": return "yellow";
    case "CRITICAL": case "FAILED": case "FAILED_CONFIG": case "FAILED_API_SCHEMA": case "DEFENSIVE_EXIT":
    case "EMERGENCY_SHUTDOWN": case "HALTED": case "STOPPED": case "critical": case "CRITICAL_ALERT": case "REJECTED": return "red";
    default: return "grey";
  }
}

const RANK = { green: 0, grey: 1, yellow: 2, red: 3 };
const worst = (...cs) => cs.reduce((a, b) => (RANK[b] > RANK[a] ? b : a), "green");

// The badge: the overall health, made red by a kill switch or a policy that stops trading.
function badgeOf(h) {
  if (!h || !h.policy || typeof h.policy !== "object") {
    return { label: (h && h.overall) || "NO REPORT", color: "grey", score: "" };
  }
  const p = h.policy;
  const color = worst(colorOf(h.overall), colorOf(p.policy), p.kill_switch ? "red" : "green");
  const label = p.kill_switch ? "KILL SWITCH" : p.policy === "EMERGENCY_SHUTDOWN" ? "EMERGENCY" : h.overall;
  return { label, color, score: h.score === undefined ? "" : String(h.score) };
}

function duration(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return "";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return hrs + " h " + (m % 60) + " min";
  const days = Math.floor(hrs / 24);
  if (days < 730) return days + " d" + (hrs % 24 ? " " + (hrs % 24) + " h" : "");
  return (days / 365.25).toFixed(1) + " years";
}

function ago(ts) {
  const t = Date.parse(ts);
  return isFinite(t) ? duration(Date.now() - t) + " ago" : "";
}

function clock(ts) {
  const t = new Date(ts);
  return isFinite(t.getTime()) ? t.toLocaleTimeString([], { hour12: false }) : String(ts || "");
}

function money(v) {
  const n = Number(v);
  if (v === undefined || v === null || v === "" || !isFinite(n)) return v === undefined || v === null ? "—" : String(v);
  return n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function qty(v) {
  const n = Number(v);
  return v === undefined || v === null ? "—" : isFinite(n) ? n.toLocaleString(undefined, { maximumFractionDigits: 6 }) : String(v);
}

function signed(v) {
  const n = Number(v);
  return el("span", { class: !isFinite(n) || n === 0 ? "" : n > 0 ? "pos" : "neg", text: money(v) });
}

function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = "toast" + (bad ? " bad" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, bad ? 8000 : 4000);
}

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

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + S.token, Accept: "application/json" };
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
    throw new ApiFailure(r.status, err.code || "http_" + r.status, err.message || r.statusText || "HTTP " + r.status, err.field);
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
  await Promise.all([loadHealth(), loadEquity(), loadCap(), ...Object.keys(LISTS).map(loadList)]);
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

// The exposure cap: `[risk] max_total_at_risk_pct` of the effective configuration.
async function loadCap() {
  try {
    const body = await api("GET", "/v1/config");
    const settings = (body && (body.settings || body.items)) || [];
    const cap = Array.isArray(settings) && settings.find((x) => x.section === "risk" && x.key === "max_total_at_risk_pct");
    if (cap && isFinite(Number(cap.value))) { S.cap = Number(cap.value); renderCharts(); }
  } catch (_) {
    // No cap line without the configuration; the chart still draws.
  }
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
    await Promise.all(todo.map((n) => (n === "health" ? loadHealth() : n === "equity" ? loadEquity() : loadList(n))));
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
    scheduleRefresh(["health", "equity", ...Object.keys(LISTS)]);
  } else if (k === "market" || k === "engine" || k === "order" || k === "fill" || k === "signal") {
    scheduleRefresh(["positions", "orders", "decisions", "equity"]);
  } else if (k !== "dropped") {
    scheduleRefresh(["heals", "alerts", "services", "health"]);
  }
}

async function openStream() {
  const ctrl = new AbortController();
  S.stream = ctrl;
  const headers = { Authorization: "Bearer " + S.token, Accept: "text/event-stream" };
  if (S.lastEventId) headers["Last-Event-ID"] = S.lastEventId;
  const r = await fetch("/v1/events", { headers, signal: ctrl.signal, cache: "no-store", credentials: "omit" });
  if (r.status === 401) { signedOut("The token was refused by the event stream: sign in again."); return "stop"; }
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
async function live() {
  S.backoff = 1000;
  while (S.token) {
    let outcome;
    try {
      outcome = await openStream();
    } catch (e) {
      outcome = e instanceof ApiFailure && (e.status === 404 || e.status === 405) ? "absent" : "failed";
    }
    if (outcome === "stop" || !S.token) return;
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
    if (S.pollTick % 3 === 0) { Object.keys(LISTS).forEach(loadList); loadEquity(); }
  }, POLL_MS);
}

function stopPolling() {
  clearInterval(S.pollTimer);
  S.pollTimer = null;
}

function stopLive() {
  stopPolling();
  clearInterval(S.liveTimer);
  if (S.stream) S.stream.abort();
  S.stream = null;
}

// ---- rendering: the report ----------------------------------------------------------------

function renderHealth() {
  const h = S.health;
  const b = badgeOf(h);
  const badge = $("badge");
  badge.className = "badge " + b.color;
  badge.dataset.overall = (h && h.overall) || "";
  badge.dataset.color = b.color;
  $("badge-label").textContent = b.label;
  $("badge-score").textContent = b.score;
  badge.title = h && h.overall ? "Overall " + h.overall + ", score " + h.score + " of 100" : "No health report yet";
  $("updated").textContent = h && h.at ? "report " + clock(h.at) : "";
  document.title = (b.color === "green" ? "● " : b.color === "red" ? "▲ " : "◆ ") + b.label + " · Ballast";
  if (!h || typeof h.policy !== "object") return;
  renderSafety(h);
  renderSubsystems(h.subsystems || [], h.counts);
  renderIssues(h.issues || []);
  renderRecommendations(h.recommendations || [], h.decided || []);
  renderCharts();
}

function renderSafety(h) {
  const p = h.policy;
  const policy = $("policy");
  policy.textContent = p.policy;
  policy.className = "st-" + colorOf(p.policy);
  $("policy-since").textContent = p.since ? "since " + clock(p.since) + " (" + ago(p.since) + ")" : "";
  const ts = $("trading-state");
  ts.textContent = p.trading_state;
  ts.dataset.trading = p.trading_state;
  ts.className = "st-" + colorOf(p.trading_state);
  $("trading-allowed").textContent = h.trading_allowed ? "trading allowed" : "trading not allowed";
  $("policy-reason").textContent = p.reason || "—";
  $("size-mult").textContent = "× " + p.size_multiplier + (p.floor ? " · operator floor " + p.floor : "");
  const latches = (p.latches || []).map((l) => l.kind + (l.until ? " until " + clock(l.until) : " until reset") + (l.detail ? ": " + l.detail : ""));
  $("latches").textContent = latches.length ? latches.join("; ") : "none";
  renderOutlook();
  const chipP = $("chip-policy");
  chipP.textContent = p.policy;
  chipP.dataset.policy = p.policy;
  chipP.className = "chip " + colorOf(p.policy);
  const chipT = $("chip-trading");
  chipT.textContent = "trading " + p.trading_state;
  chipT.dataset.trading = p.trading_state;
  chipT.className = "chip " + colorOf(p.trading_state);
  const engaged = !!p.kill_switch;
  const ks = $("kill-state");
  ks.dataset.engaged = String(engaged);
  ks.textContent = engaged ? "Kill switch ENGAGED: no orders are sent" : "Kill switch released";
  $("kill-engage").hidden = engaged;
  $("kill-release").hidden = !engaged && p.policy !== "EMERGENCY_SHUTDOWN";
  $("kill-release").textContent = engaged ? "Release kill switch" : "Leave EMERGENCY_SHUTDOWN";
  $("live-start").textContent = h.live_start ? "Live start refused: " + h.live_start : "";
}

// The hysteresis countdown, run from the moment the report arrived.
function renderOutlook() {
  const h = S.health;
  const o = h && h.policy && h.policy.outlook;
  const out = $("outlook");
  if (!o) { out.textContent = "steady"; return; }
  if (o.to && o.in_ms !== null && o.in_ms !== undefined) {
    const left = o.in_ms - (Date.now() - S.healthAt);
    out.textContent = left > 0 ? "steps down to " + o.to + " in " + duration(left) + " if clear" : "stepping down to " + o.to + "…";
  } else {
    out.textContent = o.text || "—";
  }
}

function renderSubsystems(subs, counts) {
  const tiles = subs.map((s) => {
    const name = s.name || (s.subsystem && s.subsystem.name) || "?";
    const worstCheck = (s.checks || []).find((c) => c.status !== "HEALTHY" && c.status !== "DISABLED");
    return el("button", { class: "tile " + colorOf(s.status), type: "button", "data-subsystem": name, title: worstCheck ? worstCheck.detail : name, onclick: () => showSubsystem(s) },
      el("span", { class: "name", text: name }),
      el("span", { class: "st st-" + colorOf(s.status), text: s.status + (s.critical ? " · critical" : "") }));
  });
  replace($("subsystems"), tiles.length ? tiles : [el("p", { class: "muted", text: "No subsystems reported yet." })]);
  $("sub-counts").textContent = counts ? counts.healthy + " of " + counts.subsystems + " healthy" : "";
}

function showSubsystem(s) {
  const name = s.name || (s.subsystem && s.subsystem.name) || "?";
  const facts = el("dl", { class: "kv" },
    el("dt", { text: "Status" }), el("dd", { class: "st-" + colorOf(s.status), text: s.status }),
    el("dt", { text: "Critical" }), el("dd", { text: s.critical ? "yes" : "no" }),
    el("dt", { text: "Impacts trading" }), el("dd", { text: s.impacts_trading ? "yes" : "no" }),
    el("dt", { text: "Depends on" }), el("dd", { text: (s.depends_on || []).join(", ") || "—" }),
    el("dt", { text: "Checked" }), el("dd", { text: s.checked_at ? clock(s.checked_at) + " (" + ago(s.checked_at) + ")" : "never" }),
    el("dt", { text: "Every" }), el("dd", { text: duration(s.interval_ms) }));
  const rows = (s.checks || []).map((c) => el("tr", {},
    el("td", { text: c.name }), el("td", { class: "st-" + colorOf(c.status), text: c.status }),
    el("td", { class: "wrap", text: c.detail + (c.root_cause ? " — root cause: " + c.root_cause : "") }),
    el("td", { class: "num", text: c.latency_us + " µs" })));
  const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Check" }), el("th", { text: "Status" }), el("th", { text: "Detail" }), el("th", { class: "num", text: "Latency" }))), el("tbody", {}, rows));
  showDetail("Subsystem " + name, [facts, el("div", { class: "scroll" }, table)]);
}

function showDetail(title, body) {
  $("detail-title").textContent = title;
  replace($("detail-body"), body);
  $("detail-dialog").showModal();
}

function none(text) {
  return el("li", { class: "none", text });
}

function renderIssues(issues) {
  $("issues-count").textContent = String(issues.length);
  $("issues-count").className = "count" + (issues.length ? " hot" : "");
  const items = issues.map((i) => el("li", { class: colorOf(i.status), "data-issue": i.id },
    el("div", { class: "row" }, el("strong", { text: i.subsystem + " / " + i.check }), el("span", { class: "small st-" + colorOf(i.status), text: i.status + " · " + i.severity })),
    el("div", { text: (i.symptoms || []).join("; ") }),
    i.root_cause ? el("div", { class: "small muted", text: "root cause: " + i.root_cause }) : null,
    el("div", { class: "small muted", text: "since " + ago(i.since) + (i.impacts_trading ? " · impacts trading → " + i.policy : "") })));
  replace($("issues"), items.length ? items : [none("No issues.")]);
}

function recItem(r, withButtons) {
  const head = el("div", { class: "row" }, el("strong", { text: r.action + " on " + r.target }), el("span", { class: "small st-" + colorOf(r.state), text: r.state }));
  const li = el("li", { class: colorOf(r.state), "data-rec": r.id, "data-state": r.state }, head,
    el("div", { text: r.expected }),
    r.risks ? el("div", { class: "small muted", text: "risks: " + r.risks }) : null,
    el("div", { class: "small muted", text: "for issue " + r.issue + (r.expires ? " · expires in " + duration(Date.parse(r.expires) - Date.now()) : "") + (r.note ? " · " + r.note : "") }));
  if (withButtons && r.state === "PENDING") {
    li.append(el("div", { class: "actions" },
      el("button", { class: "primary small", type: "button", "data-approve": r.id, onclick: (ev) => decide(ev.target, r.id, "approve") }, "Approve"),
      el("button", { class: "small", type: "button", "data-reject": r.id, onclick: (ev) => decide(ev.target, r.id, "reject") }, "Reject")));
  }
  return li;
}

function renderRecommendations(recs, decided) {
  const pending = recs.filter((r) => r.state === "PENDING").length;
  $("recs-count").textContent = String(pending);
  $("recs-count").className = "count" + (pending ? " hot" : "");
  replace($("recommendations"), recs.length ? recs.map((r) => recItem(r, true)) : [none("Nothing to decide.")]);
  replace($("decided"), decided.length ? decided.map((r) => recItem(r, false)) : [none("None yet.")]);
}

// ---- rendering: the lists -----------------------------------------------------------------

function emptyRow(table, cols, text) {
  return el("tr", { class: "none" }, el("td", { colspan: cols, text }));
}

function fillTable(id, rows, cols, empty) {
  const tbody = $(id).tBodies[0];
  const missing = S.missing[id];
  const note = S.errors[id] ? [emptyRow(id, cols, S.errors[id])] : [];
  replace(tbody, missing ? [emptyRow(id, cols, "Not served by this Ballast.")] : note.concat(rows.length ? rows : note.length ? [] : [emptyRow(id, cols, empty)]));
}

function fillList(id, items, empty) {
  const note = S.errors[id] ? [none(S.errors[id])] : [];
  replace($(id), S.missing[id] ? [none("Not served by this Ballast.")] : note.concat(items.length ? items : note.length ? [] : [none(empty)]));
}

const RENDER = {
  services(items) {
    fillTable("services", items.map((s) => el("tr", { class: "clickable", "data-service": s.name, onclick: () => showService(s) },
      el("td", {}, el("strong", { text: s.name }), s.critical ? el("span", { class: "muted small", text: " critical" }) : null),
      el("td", { class: "st-" + colorOf(s.state), text: s.state }),
      el("td", { class: "num", text: s.restarts + (s.max_restarts !== undefined ? " (" + s.failures_in_window + "/" + s.max_restarts + " in window)" : "") }),
      el("td", { text: s.uptime_secs !== null && s.uptime_secs !== undefined ? duration(s.uptime_secs * 1000) : "—" }),
      el("td", { class: "wrap", text: s.last_exit || "—" }))), 5, "No services.");
  },
  positions(items) {
    $("positions-count").textContent = String(items.length);
    fillTable("positions", items.map((p) => el("tr", {},
      el("td", {}, el("strong", { text: p.symbol }), p.side ? el("span", { class: "muted small", text: " " + p.side }) : null),
      el("td", { class: "num", text: qty(first(p, "qty", "quantity")) }),
      el("td", { class: "num", text: money(first(p, "avg_price", "average_price", "avg_cost")) }),
      el("td", { class: "num", text: money(first(p, "market_value", "value")) }),
      el("td", { class: "num" }, signed(first(p, "unrealized_pnl", "unrealized"))),
      el("td", { class: "num", text: p.exposure_pct !== undefined ? Number(p.exposure_pct).toFixed(1) + " %" : "—" }))), 6, "Flat: no positions.");
  },
  orders(items) {
    $("orders-count").textContent = String(items.length);
    fillTable("orders", items.map((o) => el("tr", { title: first(o, "client_order_id", "id") || "" },
      el("td", {}, el("strong", { text: o.symbol })),
      el("td", { class: String(o.side).toLowerCase() === "buy" ? "pos" : "neg", text: String(o.side).toLowerCase() }),
      el("td", { class: "num", text: qty(first(o, "qty", "quantity")) }),
      el("td", { class: "num", text: qty(first(o, "filled", "filled_qty")) }),
      el("td", { class: "wrap", text: first(o, "state", "status") || "" }),
      el("td", { text: o.age_ms !== undefined ? duration(o.age_ms) : o.created_at ? ago(o.created_at) : "" }))), 6, "No open orders.");
  },
  decisions(items) {
    fillTable("decisions", items.map((d) => {
      const verdict = String(first(d, "verdict", "outcome") || "").toLowerCase();
      const why = (d.reasons || []).map((r) => r.check + ": " + r.detail).join("; ") || d.reason || "";
      const qtys = d.approved_qty !== undefined && d.approved_qty !== null && verdict === "resize" ? " → " + qty(d.approved_qty) : "";
      return el("tr", { title: why },
        el("td", { text: clock(first(d, "at", "time")) }),
        el("td", {}, el("strong", { text: d.symbol || "" }), " " + (d.side || "").toString().toLowerCase() + " " + qty(d.requested_qty) + qtys, el("span", { class: "muted small", text: " #" + d.signal_id })),
        el("td", { class: "verdict-" + verdict, text: verdict }),
        el("td", { class: "wrap", text: d.check || (verdict === "approve" ? "all checks passed" : why) || "—" }),
        el("td", { class: "num", text: d.limit ?? "—" }),
        el("td", { class: "num", text: d.observed ?? "—" }));
    }), 6, "No signals decided yet.");
  },
  heals(items) {
    fillList("heals", items.map((x) => logItem(x)), "No heal actions.");
  },
  alerts(items) {
    fillList("alerts", items.map((x) => logItem(x)), "No alerts.");
  },
};

// The words of a record's body: its own message if it has one, else its fields in brief.
function summary(body) {
  if (body === null || body === undefined) return "";
  if (typeof body !== "object") return String(body);
  const said = first(body, "message", "title", "detail", "summary", "reason", "note");
  if (typeof said === "string") return said;
  const text = Object.entries(body)
    .filter(([, v]) => v !== null && typeof v !== "object")
    .map(([k, v]) => k.replace(/_/g, " ") + " " + v)
    .join(" · ");
  return text.length > 240 ? text.slice(0, 239) + "…" : text;
}

// One journal record of a log: its time, type, target and words.
function logItem(x) {
  const body = x.body && typeof x.body === "object" ? x.body : {};
  const kind = first(x, "type", "kind", "event") || "";
  const target = first(body, "target", "component", "service", "subsystem", "key") || "";
  const sev = String(first(body, "severity", "status", "outcome") || "").toUpperCase();
  const tone = /FAIL|ERROR|CRITICAL|REFUSED/.test(sev) || /fail|refus/.test(kind) ? "red" : /OK|DONE|SUCCE|RESOLVED|HEALTHY/.test(sev) ? "green" : colorOf(sev);
  return el("li", { class: tone, "data-type": kind },
    el("div", { class: "row" }, el("strong", { text: kind + (target ? " · " + target : "") }), el("span", { class: "small muted", text: clock(first(x, "ts", "at", "time")) + " · " + ago(first(x, "ts", "at", "time")) })),
    el("div", { class: "small", text: summary(x.body) }));
}

function renderList(name) {
  if (RENDER[name]) RENDER[name](S.lists[name] || []);
}

function showService(s) {
  const facts = el("dl", { class: "kv" },
    ...Object.entries(s).flatMap(([k, v]) => [el("dt", { text: k.replace(/_/g, " ") }), el("dd", { text: v === null ? "—" : String(v) })]));
  const buttons = el("div", { class: "actions" },
    el("button", { type: "button", onclick: (ev) => serviceAction(ev.target, s.name, "restart") }, "Restart"),
    el("button", { type: "button", onclick: (ev) => serviceAction(ev.target, s.name, "reset") }, "Reset failure budget"));
  showDetail("Service " + s.name, [facts, buttons]);
}

// ---- charts (plain SVG) -------------------------------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";
const W = 300;
const H = 90;

function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// The points of a series scaled into the chart (pure: what the SVG draws).
function scale(points, lo, hi) {
  const t0 = points[0][0];
  const t1 = points[points.length - 1][0];
  const dt = t1 - t0 || 1;
  const dv = hi - lo || 1;
  return points.map(([t, v]) => [((t - t0) / dt) * W, H - 4 - ((v - lo) / dv) * (H - 8)]);
}

// Under a chart: its lowest value, the time it spans, its highest value.
function axis(id, points, fmt) {
  const node = $(id.replace("chart-", "axis-"));
  if (!node) return;
  if (points.length < 2) { replace(node, []); return; }
  const vs = points.map((p) => p[1]);
  const span = points[points.length - 1][0] - points[0][0];
  replace(node, [el("span", { text: "low " + fmt(Math.min(...vs)) }), el("span", { text: duration(span) }), el("span", { text: "high " + fmt(Math.max(...vs)) })]);
}

function drawChart(id, points, opts) {
  const node = $(id);
  axis(id, points, opts.fmt || String);
  const kids = [0.25, 0.5, 0.75].map((f) => svg("line", { class: "grid-line", x1: 0, x2: W, y1: H * f, y2: H * f }));
  if (points.length < 2) {
    kids.push(Object.assign(svg("text", { class: "empty", x: 8, y: H / 2 }), { textContent: "waiting for data…" }));
    replace(node, kids);
    return;
  }
  const values = points.map((p) => p[1]).concat(opts.cap !== undefined && opts.cap !== null && isFinite(opts.cap) ? [opts.cap] : []);
  let lo = opts.min !== undefined ? opts.min : Math.min(...values);
  let hi = opts.max !== undefined ? opts.max : Math.max(...values);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const xy = scale(points, lo, hi);
  const d = xy.map(([x, y], i) => (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1)).join(" ");
  kids.push(svg("path", { class: "area", d: d + " L" + W + " " + H + " L0 " + H + " Z" }));
  kids.push(svg("path", { class: "line", d }));
  if (opts.cap !== undefined && opts.cap !== null && isFinite(opts.cap)) {
    const y = H - 4 - ((opts.cap - lo) / (hi - lo || 1)) * (H - 8);
    kids.push(svg("line", { class: "cap", x1: 0, x2: W, y1: y, y2: y }));
  }
  replace(node, kids);
}

function push(series, point) {
  const s = S.samples[series];
  if (s.length && s[s.length - 1][0] >= point[0]) return;
  s.push(point);
  if (s.length > SAMPLES_MAX) s.splice(0, s.length - SAMPLES_MAX);
}

// Without the equity history (an older Ballast), the charts are drawn from the reports seen.
function sample(h) {
  const e = h.engine;
  const at = Date.parse(h.at);
  if (S.missing.equity && e && isFinite(Number(e.equity)) && isFinite(at)) push("equity", [at, Number(e.equity)]);
}

function renderCharts() {
  const eq = S.samples.equity;
  drawChart("chart-equity", eq, { fmt: money });
  $("equity-now").textContent = eq.length ? money(eq[eq.length - 1][1]) : "";
  const ex = S.samples.exposure;
  drawChart("chart-exposure", ex, { min: 0, cap: S.cap, fmt: (v) => v.toFixed(1) + " %" });
  $("exposure-now").textContent = (ex.length ? ex[ex.length - 1][1].toFixed(1) + " %" : "") + (S.cap !== null && isFinite(S.cap) ? " of " + S.cap + " % cap" : "");
  const hist = ((S.health && S.health.history) || []).map((p) => [Date.parse(p.at), Number(p.score)]).filter((p) => isFinite(p[0]) && isFinite(p[1]));
  drawChart("chart-score", hist, { min: 0, max: 100, fmt: (v) => String(Math.round(v)) });
  $("score-now").textContent = hist.length ? hist[hist.length - 1][1] + " / 100" : "";
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
  S.liveTimer = setInterval(() => { if (S.mode === "live") { loadHealth(); Object.keys(LISTS).forEach(loadList); } }, LIVE_REFRESH_MS);
  S.equityAfter = null;
  S.samples = { equity: [], exposure: [] };
  live();
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
