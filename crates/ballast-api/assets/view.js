// Ballast dashboard: what the page draws — small DOM helpers, the report's cards, the lists'
// tables and the SVG charts. Loaded before app.js, which holds the state, the API calls, the
// event stream and the actions. All text is set with textContent: nothing from the API is HTML.
"use strict";

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

// A time of today as its clock time, another day's (market time in a replay) as its date.
function when(ts) {
  const t = new Date(ts);
  if (!isFinite(t.getTime())) return String(ts || "");
  return t.toDateString() === new Date().toDateString() ? clock(ts) : t.toISOString().slice(0, 10);
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
  renderChaos(h.subsystems || []);
  renderIssues(h.issues || []);
  renderRecommendations(h.recommendations || [], h.decided || []);
  renderLiveGate(h.live_gate);
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

// A chaos run (docs/CHAOS.md) is never mistaken for a clean one: its health check's words in
// a banner of its own, for as long as the report carries the "chaos" subsystem.
function renderChaos(subs) {
  const s = subs.find((x) => (x.name || (x.subsystem && x.subsystem.name)) === "chaos");
  const c = s && (s.checks || [])[0];
  const b = $("chaos-banner");
  b.hidden = !s;
  b.dataset.chaos = s ? "active" : "";
  b.textContent = s ? "CHAOS — " + ((c && c.detail) || "chaos modes active") : "";
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

// ---- rendering: reconciliation and the live gate ------------------------------------------

// Each dangerous difference as a diff (Ballast / the broker / the fills that would explain it)
// and, for an operator, its choices as buttons with the operator's words; a viewer reads only.
function renderReconciliation(body) {
  const box = $("reconciliation");
  if (S.missing.reconciliation) { replace(box, [none("Not served by this Ballast.")]); return; }
  if (!body) { replace(box, [none(S.errors.reconciliation || "Not known yet.")]); return; }
  const findings = body.findings || [];
  $("reconcile-count").textContent = String(findings.length);
  $("reconcile-count").className = "count" + (findings.length ? " hot" : "");
  const run = body.at ? (body.startup ? "startup" : "periodic") + " run at " + clock(body.at) + " (" + ago(body.at) + ")" : "no run yet";
  $("reconcile-head").textContent = body.broker + " broker · " + run + (body.unanswered && body.unanswered.length ? " · not asked: " + body.unanswered.join("; ") : "") + (body.choice_refused ? " · the engine refused the last choice: " + body.choice_refused : "");
  if (!findings.length) { replace(box, [none(body.at ? "No dangerous difference." : "Nothing reconciled yet.")]); return; }
  replace(box, findings.map((f) => {
    const diff = el("table", { class: "diff" },
      el("tr", {}, el("th", { text: "Ballast believes" }), el("td", { "data-side": "ours", text: f.ours })),
      el("tr", {}, el("th", { text: "The broker says" }), el("td", { "data-side": "theirs", text: f.theirs })),
      el("tr", {}, el("th", { text: "Fills that would explain it" }), el("td", { text: (f.explaining || []).length ? f.explaining.join("; ") : "none seen" })));
    const card = el("div", { class: "finding red", "data-finding": f.id }, el("div", { class: "row" }, el("strong", { text: f.said }), el("code", { class: "small", text: f.id })), diff);
    const choices = (f.choices || []).map((c) => (c === "stay_halted" ? "stay" : c));
    if (body.can_choose) {
      const reason = el("input", { type: "text", maxlength: "500", placeholder: "reason (journaled)", "data-reason": f.id });
      card.append(el("div", { class: "actions" }, reason, ...choices.map((c) =>
        el("button", { class: c === "adopt" ? "primary small" : c === "flatten" ? "danger small" : "small", type: "button", "data-choice": c, title: (f.effects || {})[c] || "", onclick: (ev) => chooseFinding(ev.target, f.id, c, reason.value, f.seen) }, c))));
    } else {
      card.append(el("ul", { class: "small muted" }, ...choices.map((c) => el("li", {}, el("code", { text: (f.commands || {})[c] || c }), " — " + ((f.effects || {})[c] || "")))));
    }
    return card;
  }));
}

// Principle 1's conditions from the report: each ok, missing or known only at the start.
function renderLiveGate(gate) {
  if (!gate || !gate.conditions) { replace($("live-gate"), [none("Not reported by this Ballast.")]); $("live-verdict").textContent = ""; return; }
  const allowed = gate.conditions.every((c) => c.met === "ok");
  const paper = gate.conditions.some((c) => c.name === "mode" && c.met !== "ok");
  $("live-verdict").textContent = allowed ? "every condition holds" : paper ? "paper mode: live trading is not asked for" : "live trading refused";
  replace($("live-gate"), gate.conditions.map((c) => el("li", { class: c.met === "ok" ? "green" : paper ? "grey" : c.met === "missing" ? "red" : "yellow", "data-condition": c.name, "data-met": c.met },
    el("div", { class: "row" }, el("strong", { text: c.name }), el("span", { class: "small", text: c.met === "at_start" ? "at start" : c.met })), el("div", { class: "small", text: c.words }))));
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
        el("td", { text: when(first(d, "at", "time")) }),
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

// A heal record's words: what it did to what, why, and how it ended.
function healWords(body) {
  const a = body.action;
  const parts = [a.reason || a.class || ""];
  if (body.before !== undefined || body.after !== undefined) parts.push((body.before || "?") + " → " + (body.after || "?"));
  if (body.quarantined) parts.push("moved aside to " + body.quarantined);
  if (body.error) parts.push("failed: " + body.error);
  return parts.filter(Boolean).join(" · ");
}

// One journal record of a log: its time, type, target and words.
function logItem(x) {
  const body = x.body && typeof x.body === "object" ? x.body : {};
  const kind = first(x, "type", "kind", "event") || "";
  const a = body.action && typeof body.action === "object" ? body.action : null;
  const target = (a ? [a.component, a.target].filter(Boolean).join(" / ") : "") || first(body, "target", "component", "service", "subsystem", "key") || "";
  const sev = String(first(body, "severity", "status", "outcome") || "").toUpperCase();
  const tone = body.error || /FAIL|ERROR|CRITICAL|REFUSED/.test(sev) || /fail|refus/.test(kind) ? "red" : kind === "heal.applied" ? "green" : /OK|DONE|SUCCE|RESOLVED|HEALTHY/.test(sev) ? "green" : colorOf(sev);
  return el("li", { class: tone, "data-type": kind },
    el("div", { class: "row" }, el("strong", { text: kind + (target ? " · " + target : "") }), el("span", { class: "small muted", text: clock(first(x, "ts", "at", "time")) + " · " + ago(first(x, "ts", "at", "time")) })),
    el("div", { class: "small", text: a ? healWords(body) : summary(x.body) }));
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
  // Too few points to draw: the figure says so in HTML (SVG text would be stretched).
  node.parentNode.classList.toggle("empty", points.length < 2);
  if (points.length < 2) {
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

// The account line above the charts.
function renderAccount() {
  const a = S.account;
  const node = $("account");
  if (S.missing.account || !a) {
    replace(node, S.errors.account ? [el("span", { class: "muted", text: S.errors.account })] : []);
    return;
  }
  const fact = (label, value) => el("div", { class: "fact" }, el("span", { class: "muted small", text: label }), value);
  const over = Number(a.exposure_pct) > Number(a.exposure_cap_pct);
  replace(node, [
    fact("Equity", el("strong", { text: money(a.equity) })),
    fact("Cash", el("span", { text: money(a.cash) })),
    fact("Day PnL", signed(a.day_pnl)),
    fact("Realized", signed(a.realized_pnl)),
    fact("Fees", el("span", { text: money(a.fees) })),
    fact("Exposure", el("span", { class: over ? "neg" : "", text: Number(a.exposure_pct).toFixed(1) + " % of " + Number(a.exposure_cap_pct) + " %" })),
    fact("Market time", el("span", { text: a.market_time ? String(a.market_time).slice(0, 10) : "—" })),
  ]);
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

