// Supervisor page: shared state, sign-in check, tabs, language, and the live wallboard, polled
// every few seconds from /v1/reports/live. reports.js adds the report tab.
"use strict";

const sv = {
  token: localStorage.getItem("triage.token") || "",
  lang: localStorage.getItem("triage.lang") || ((navigator.language || "en").startsWith("zh") ? "zh" : "en"),
  defs: null,
  live: null,
  timer: null,
  pollMs: Number(localStorage.getItem("triage.wallboard_poll_ms")) || 4000,
  onLang: [],
  onTab: [],
  soon: null,
};
const $ = (id) => document.getElementById(id);
const t = (key) => (I18N[sv.lang] && I18N[sv.lang][key]) || I18N.en[key] || key;
const RATES = new Set(["service_level", "abandonment_rate", "containment", "repeat_rate", "satisfied_share"]);
const SECONDS = new Set(["asa_s", "emergency_to_person_avg_s", "emergency_to_person_max_s"]);

function fmt(name, value) {
  if (value === null || value === undefined) return "–";
  if (RATES.has(name)) return (value * 100).toFixed(1) + "%";
  if (SECONDS.has(name)) return value.toFixed(1) + " " + t("s_seconds");
  if (name === "satisfaction_avg") return value.toFixed(2);
  return String(value);
}

function definition(name) {
  const d = sv.defs && (sv.defs.measures[name] || sv.defs.live[name]);
  return d ? d[sv.lang] || d.en : "";
}

async function svFetch(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + sv.token } });
  if (res.status === 401) throw Object.assign(new Error(t("sv_need_login")), { fatal: true });
  if (res.status === 403) throw Object.assign(new Error(t("sv_not_supervisor")), { fatal: true });
  if (!res.ok) {
    let detail = res.statusText;
    try {
      detail = (await res.json()).detail || detail;
    } catch (e) { /* not JSON */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return res;
}

function denied(message) {
  $("sv-denied").textContent = message;
  $("sv-denied").hidden = false;
  $("wallboard").hidden = true;
  $("reports").hidden = true;
  $("review").hidden = true;
  if (sv.timer) clearInterval(sv.timer);
}

function applyLang() {
  document.documentElement.lang = sv.lang === "zh" ? "zh-CN" : "en";
  document.title = t("sv_title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("sv-lang").textContent = sv.lang === "zh" ? "English" : "中文";
  for (const node of document.querySelectorAll("[data-m]")) node.title = definition(node.dataset.m);
  renderLegend($("wb-legend"), ["with_bot", "with_agents", "queue", "agents", "today", ...TODAY]);
  renderWallboard();
  for (const fn of sv.onLang) fn();
}

function renderLegend(dl, names) {
  dl.replaceChildren();
  for (const name of names) {
    const dt = document.createElement("dt");
    dt.textContent = t("m_" + name);
    const dd = document.createElement("dd");
    dd.textContent = definition(name);
    dl.append(dt, dd);
  }
}

function tile(name, value, sub, extraClass) {
  const div = document.createElement("div");
  div.className = "sv-tile" + (extraClass ? " " + extraClass : "");
  div.dataset.m = name;
  div.title = definition(name);
  const v = document.createElement("span");
  v.className = "sv-v";
  v.id = "wb-" + name;
  v.textContent = value;
  const l = document.createElement("span");
  l.className = "sv-l";
  l.textContent = t(name.startsWith("u_") || name.startsWith("a_") ? name : "m_" + name);
  div.append(v, l);
  if (sub) {
    const s = document.createElement("span");
    s.className = "sv-sub";
    s.textContent = sub;
    div.append(s);
  }
  return div;
}

const TODAY = [
  "offered", "contained", "handed_off", "abandoned", "service_level", "asa_s", "abandonment_rate",
  "emergencies", "emergency_to_person_avg_s", "satisfaction_avg", "satisfied_share",
];

function renderWallboard() {
  const live = sv.live;
  if (!live) return;
  $("wb-with_bot").textContent = live.with_bot;
  $("wb-with_agents").textContent = live.with_agents;
  const queue = $("wb-queue");
  queue.replaceChildren();
  for (const u of ["emergency", "urgent", "routine"]) {
    const q = live.queue[u];
    const sub = q.oldest_wait_s === null ? "" : `${t("sv_oldest")} ${Math.round(q.oldest_wait_s)} ${t("s_seconds")}`;
    const node = tile("u_" + u, q.waiting, sub, "sv-" + u + (q.waiting ? " sv-hot" : ""));
    node.title = definition("queue");
    queue.append(node);
  }
  const agents = $("wb-agents");
  agents.replaceChildren();
  for (const a of ["available", "busy", "offline"]) {
    const node = tile("a_" + a, live.agents[a] ?? 0, "", "sv-agent-" + a);
    node.title = definition("agents");
    agents.append(node);
  }
  const today = $("wb-today");
  today.replaceChildren();
  for (const name of TODAY) {
    let sub = "";
    let cls = "";
    if (name === "service_level") {
      sub = `${t("sv_target")} ${Math.round(live.service_level_target * 100)}% · ${live.service_level_s} ${t("s_seconds")}`;
      const v = live.today.service_level;
      cls = v === null ? "" : v >= live.service_level_target ? "sv-good" : "sv-bad";
    }
    if (name === "emergencies" && live.today.emergencies) cls = "sv-alert";
    today.append(tile(name, fmt(name, live.today[name]), sub, cls));
  }
}

async function pollLive() {
  try {
    sv.live = await (await svFetch("/v1/reports/live")).json();
    renderWallboard();
    const at = new Date(sv.live.at);
    $("sv-updated").textContent = `${t("sv_updated")} ${at.toLocaleTimeString(sv.lang === "zh" ? "zh-CN" : "en-GB")}`;
    $("sv-updated").className = "conn conn-live";
  } catch (e) {
    if (e.fatal) return denied(e.message);
    $("sv-updated").textContent = t("sv_stale");
    $("sv-updated").className = "conn conn-retry";
  }
}

// The console's event stream: any queue, handoff or call event refreshes the wallboard at once
// (debounced); the 4-second poll stays as the fallback and for figures no event announces.
function listen(retry = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/agents/stream`, ["triage.v1", `token.${sv.token}`]);
  ws.onopen = () => {
    retry = 0;
  };
  ws.onmessage = () => {
    if (sv.soon) return;
    sv.soon = setTimeout(() => {
      sv.soon = null;
      pollLive();
    }, 300);
  };
  ws.onclose = (ev) => {
    if (ev.code === 4401 || $("sv-denied").hidden === false) return;
    setTimeout(() => listen(retry + 1), Math.min(10000, 500 * 2 ** retry));
  };
}

function showTab(name) {
  for (const b of document.querySelectorAll("[data-tab]")) b.classList.toggle("on", b.dataset.tab === name);
  $("wallboard").hidden = name !== "wallboard";
  $("reports").hidden = name !== "reports";
  $("review").hidden = name !== "review";
  location.hash = name;
  for (const fn of sv.onTab) fn(name);
}

async function startSupervisor() {
  $("sv-lang").addEventListener("click", () => {
    sv.lang = sv.lang === "zh" ? "en" : "zh";
    localStorage.setItem("triage.lang", sv.lang);
    applyLang();
  });
  for (const b of document.querySelectorAll("[data-tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
  if (!sv.token) return (applyLang(), denied(t("sv_need_login")));
  try {
    sv.defs = await (await svFetch("/v1/reports/definitions")).json();
  } catch (e) {
    applyLang();
    return denied(e.message);
  }
  const tab = location.hash.slice(1);
  showTab(["reports", "review"].includes(tab) ? tab : "wallboard");
  applyLang();
  await pollLive();
  sv.timer = setInterval(pollLive, sv.pollMs);
  listen();
}

document.addEventListener("DOMContentLoaded", startSupervisor);
