// Operations page: sign-in check, tabs, language, the live console stream (storm alerts, notices,
// overdue work orders), incident storms and notices, and the overdue work-order list (催办).
// staffing.js adds the forecast tab.
"use strict";

const op = {
  token: localStorage.getItem("triage.token") || "",
  lang: localStorage.getItem("triage.lang") || ((navigator.language || "en").startsWith("zh") ? "zh" : "en"),
  storms: [],
  incidents: [],
  overdue: { count: 0, orders: [] },
  alerts: 0,
  onLang: [],
};
const byId = (id) => document.getElementById(id);
const tr = (key, values) => {
  let s = (I18N[op.lang] && I18N[op.lang][key]) || I18N.en[key] || key;
  for (const [k, v] of Object.entries(values || {})) s = s.replaceAll("{" + k + "}", v);
  return s;
};

async function opFetch(path, init) {
  const headers = { Authorization: "Bearer " + op.token, ...(init && init.body ? { "Content-Type": "application/json" } : {}) };
  const res = await fetch(path, { ...(init || {}), headers });
  if (res.status === 401) throw Object.assign(new Error(tr("op_need_login")), { fatal: true });
  if (res.status === 403) throw Object.assign(new Error(tr("op_not_supervisor")), { fatal: true });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return res.json();
}

function node(tag, text, cls) {
  const n = document.createElement(tag);
  if (text !== undefined && text !== null) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}

function button(label, onClick, cls) {
  const b = node("button", label, cls);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function localTime(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(op.lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}

function showAlert(text) {
  op.alerts += 1;
  document.body.dataset.opAlerts = String(op.alerts);
  byId("op-alert").textContent = text;
  byId("op-alert").hidden = false;
}

// --- storms and notices ----------------------------------------------------------------------
function renderStorms() {
  const ul = byId("op-storms");
  ul.replaceChildren();
  if (!op.storms.length) ul.append(node("li", tr("op_no_storms"), "sv-sub"));
  for (const s of op.storms) {
    const li = node("li", null, "rv-item op-storm");
    li.dataset.storm = s.storm_id;
    const line = tr("op_storm_line", {
      calls: s.calls, topic: s.topic, district: s.district, minutes: Math.round(s.window_s / 60),
      expected: s.expected.toFixed(2), p: s.p_value.toExponential(1),
    });
    li.append(node("strong", line));
    li.append(button(tr("op_prefill"), () => prefill(s.storm_id)));
    li.append(button(tr("op_publish_now"), () => publishStorm(s.storm_id), "primary"));
    li.append(button(tr("op_dismiss"), () => dismissStorm(s.storm_id)));
    ul.append(li);
  }
}

function renderIncidents() {
  const ul = byId("op-incidents");
  ul.replaceChildren();
  if (!op.incidents.length) ul.append(node("li", tr("op_no_live"), "sv-sub"));
  for (const i of op.incidents) {
    const li = node("li", null, "rv-item op-storm");
    li.dataset.incident = i.incident_id;
    const zh = op.lang === "zh";
    li.append(node("strong", tr("op_notice_line", {
      what: zh ? i.what_zh : i.what_en, where: zh ? i.where_zh : i.where_en, fix: localTime(i.fix_by), calls: i.calls,
    })));
    li.append(button(tr("op_end"), () => endIncident(i.incident_id)));
    ul.append(li);
  }
}

async function loadIncidents() {
  [op.storms, op.incidents] = await Promise.all([opFetch("/v1/incidents/storms"), opFetch("/v1/incidents")]);
  renderStorms();
  renderIncidents();
}

function toLocalInput(iso) {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

async function prefill(stormId) {
  const d = await opFetch(`/v1/incidents/storms/${stormId}/draft`);
  byId("op-storm").value = stormId;
  byId("op-topic").value = d.topic;
  byId("op-where-zh").value = d.where_zh;
  byId("op-where-en").value = d.where_en;
  byId("op-what-zh").value = d.what_zh;
  byId("op-what-en").value = d.what_en;
  byId("op-fix-by").value = toLocalInput(d.fix_by);
}

async function publishStorm(stormId) {
  try {
    const i = await opFetch(`/v1/incidents/storms/${stormId}/publish`, { method: "POST", body: "{}" });
    byId("op-form-error").textContent = tr("op_published", { what: op.lang === "zh" ? i.what_zh : i.what_en, where: op.lang === "zh" ? i.where_zh : i.where_en });
  } catch (e) {
    byId("op-form-error").textContent = e.message;
  }
  await loadIncidents();
}

async function dismissStorm(stormId) {
  await opFetch(`/v1/incidents/storms/${stormId}/dismiss`, { method: "POST" });
  await loadIncidents();
}

async function endIncident(id) {
  await opFetch(`/v1/incidents/${id}/end`, { method: "POST" });
  await loadIncidents();
}

async function submitNotice(ev) {
  ev.preventDefault();
  const fix = byId("op-fix-by").value;
  const stormId = byId("op-storm").value;
  const body = {
    what_zh: byId("op-what-zh").value.trim(), what_en: byId("op-what-en").value.trim(),
    where_zh: byId("op-where-zh").value.trim(), where_en: byId("op-where-en").value.trim(),
    fix_by: fix ? new Date(fix).toISOString() : null,
  };
  try {
    const i = stormId
      ? await opFetch(`/v1/incidents/storms/${stormId}/publish`, { method: "POST", body: JSON.stringify(body) })
      : await opFetch("/v1/incidents", { method: "POST", body: JSON.stringify({ ...body, topic: byId("op-topic").value.trim(), district: body.where_zh }) });
    byId("op-form-error").textContent = tr("op_published", { what: op.lang === "zh" ? i.what_zh : i.what_en, where: op.lang === "zh" ? i.where_zh : i.where_en });
    byId("op-form").reset();
    byId("op-storm").value = "";
  } catch (e) {
    byId("op-form-error").textContent = e.message;
  }
  await loadIncidents();
}

// --- overdue work orders ---------------------------------------------------------------------
function renderOverdue() {
  byId("op-overdue-count").textContent = String(op.overdue.count);
  const table = byId("op-overdue");
  table.replaceChildren();
  if (!op.overdue.orders.length) {
    const tr0 = node("tr");
    tr0.append(node("td", tr("op_no_overdue")));
    table.append(tr0);
    return;
  }
  const head = node("tr");
  for (const k of ["op_col_ref", "op_col_topic", "op_col_urgency", "op_col_assigned", "op_col_due", "op_col_late", "op_col_urged", ""]) {
    head.append(node("th", k ? tr(k) : ""));
  }
  table.append(head);
  for (const o of op.overdue.orders) {
    const row = node("tr");
    row.dataset.order = o.work_order_id;
    for (const v of [o.reference, o.topic || "–", o.urgency, o.assigned_to || "–", localTime(o.due_at)]) row.append(node("td", v));
    row.append(node("td", o.overdue_h.toFixed(1), "op-late"));
    row.append(node("td", o.urged ? tr("op_yes") : tr("op_no")));
    const cell = node("td");
    cell.append(button(tr("op_urge"), async () => {
      await opFetch(`/v1/followup/${o.work_order_id}/urge`, { method: "POST" });
      await loadOverdue();
    }));
    row.append(cell);
    table.append(row);
  }
}

async function loadOverdue() {
  op.overdue = await opFetch("/v1/followup/overdue");
  renderOverdue();
}

// --- the live stream -------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/agents/stream`, ["triage.v1", `token.${op.token}`]);
  ws.onopen = () => { byId("op-conn").textContent = tr("op_live_conn"); byId("op-conn").className = "conn conn-live"; };
  ws.onclose = () => {
    byId("op-conn").textContent = tr("op_off_conn");
    byId("op-conn").className = "conn conn-retry";
    setTimeout(connect, 3000);
  };
  ws.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "storm.detected") {
      showAlert(tr("op_storm_alert", { calls: ev.storm.calls, topic: ev.storm.topic, district: ev.storm.district }));
      loadIncidents();
    } else if (ev.type && (ev.type.startsWith("incident.") || ev.type === "storm.updated")) {
      loadIncidents();
    } else if (ev.type === "workorder.overdue") {
      showAlert(tr("op_overdue_alert", { reference: ev.order.reference }));
      loadOverdue();
    }
  };
}

// --- page ------------------------------------------------------------------------------------
function denied(message) {
  byId("op-denied").textContent = message;
  byId("op-denied").hidden = false;
  for (const id of ["incidents", "followup", "staffing"]) byId(id).hidden = true;
}

function showOpTab(name) {
  for (const b of document.querySelectorAll("[data-op-tab]")) b.classList.toggle("on", b.dataset.opTab === name);
  for (const id of ["incidents", "followup", "staffing"]) byId(id).hidden = id !== name;
  location.hash = name;
}

function applyOpLang() {
  document.documentElement.lang = op.lang === "zh" ? "zh-CN" : "en";
  document.title = tr("op_title");
  for (const n of document.querySelectorAll("[data-i18n]")) n.textContent = tr(n.dataset.i18n);
  byId("op-lang").textContent = op.lang === "zh" ? "English" : "中文";
  renderStorms();
  renderIncidents();
  renderOverdue();
  for (const fn of op.onLang) fn();
}

async function startOperations() {
  byId("op-lang").addEventListener("click", () => {
    op.lang = op.lang === "zh" ? "en" : "zh";
    localStorage.setItem("triage.lang", op.lang);
    applyOpLang();
  });
  for (const b of document.querySelectorAll("[data-op-tab]")) b.addEventListener("click", () => showOpTab(b.dataset.opTab));
  byId("op-form").addEventListener("submit", submitNotice);
  applyOpLang();
  if (!op.token) return denied(tr("op_need_login"));
  try {
    await loadIncidents();
    await loadOverdue();
  } catch (e) {
    return denied(e.message);
  }
  const tab = location.hash.slice(1);
  showOpTab(["incidents", "followup", "staffing"].includes(tab) ? tab : "incidents");
  connect();
}

document.addEventListener("DOMContentLoaded", startOperations);
