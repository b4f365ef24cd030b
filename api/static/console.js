// The agent console: REST for actions and detail, the /v1/agents/stream WebSocket for live updates.
// No framework and no build step; every text from the server goes in through textContent.
"use strict";

const state = {
  token: localStorage.getItem("triage.token") || "",
  lang: localStorage.getItem("triage.lang") || ((navigator.language || "en").startsWith("zh") ? "zh" : "en"),
  me: null,
  labels: { topics: {}, request_types: {}, urgency: {} },
  waiting: [],
  accepted: [],
  selectedId: null,
  detail: null,
  ws: null,
  wsRetry: 0,
  audioUrls: [],
};

const $ = (id) => document.getElementById(id);
const t = (key) => (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function label(kind, id) {
  if (!id) return kind === "topics" ? t("no_topic") : t("unknown");
  const entry = state.labels[kind] && state.labels[kind][id];
  return entry ? entry[state.lang] || entry.en || id : id;
}
const urgencyLabel = (u) => t("u_" + u) || u;
const statusLabel = (s) => t("s_" + s);
const langLabel = (l) => (l ? t("lang_" + l) : t("unknown"));

function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
function fmtTime(iso) {
  if (!iso) return t("unknown");
  const d = new Date(iso);
  return d.toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}
function waitedSeconds(h) {
  if (h.status !== "waiting") return h.waited_s;
  return (Date.now() - new Date(h.created_at).getTime()) / 1000;
}

function opsToast(msg) {
  // Details and actions are on the operations page (operations.html); here a one-line toast.
  const fill = (key, values) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll("{" + k + "}", v), t(key));
  if (msg.type === "storm.detected") return fill("storm_toast", msg.storm);
  if (msg.type === "workorder.overdue") return fill("overdue_toast", msg.order);
  const i = msg.incident;
  return fill("incident_toast", { what: state.lang === "zh" ? i.what_zh : i.what_en, where: state.lang === "zh" ? i.where_zh : i.where_en });
}

function toast(message, kind) {
  const node = el("div", { class: "toast " + (kind || "info"), role: "status" }, message);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 5000);
}

// --- REST ----------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + state.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    signOut(t("login_bad"));
    throw new ApiError(401, t("login_bad"));
  }
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) {
    const detail = data && (data.message || (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)));
    throw new ApiError(res.status, detail || res.statusText);
  }
  return data;
}

// --- language ------------------------------------------------------------------------------------
function applyI18n() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = t("app_title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  $("lang-toggle").textContent = state.lang === "zh" ? "English" : "中文";
  setConn(state.connState || "off");
}

function setLang(lang) {
  state.lang = lang;
  localStorage.setItem("triage.lang", lang);
  applyI18n();
  fillSelects();
  renderQueue();
  if (state.detail) renderDetail(state.detail, { keepForm: true });
  renderMe();
  renderMyOrders();
  renderCallbacks();
}

// --- sign in -------------------------------------------------------------------------------------
function showLogin(message) {
  $("login").hidden = false;
  $("app").hidden = true;
  $("status-group").hidden = true;
  $("logout").hidden = true;
  $("me").textContent = "";
  $("login-error").textContent = message || "";
  $("token-input").focus();
}

function signOut(message) {
  state.token = "";
  localStorage.removeItem("triage.token");
  if (state.ws) {
    state.ws.onclose = null;
    state.ws.close();
    state.ws = null;
  }
  setConn("off");
  resetCallbacks();
  showLogin(message);
}

async function signIn(token) {
  state.token = token.trim();
  try {
    const me = await fetch("/v1/agents/me", { headers: { Authorization: "Bearer " + state.token } });
    if (me.status === 401) return showLogin(t("login_bad"));
    if (!me.ok) return showLogin(t("login_failed"));
    state.me = await me.json();
  } catch (e) {
    return showLogin(t("login_failed"));
  }
  localStorage.setItem("triage.token", state.token);
  $("login").hidden = true;
  $("app").hidden = false;
  $("status-group").hidden = false;
  $("logout").hidden = false;
  renderMe();
  try {
    state.labels = await api("GET", "/v1/agents/labels");
  } catch (e) {
    /* labels are cosmetic: ids are shown instead */
  }
  fillSelects();
  applyQueue(await api("GET", "/v1/agents/queue"));
  loadOrders();
  loadCallbacks();
  connect();
}

function renderMe() {
  if (!state.me) return;
  $("supervisor-link").hidden = state.me.role !== "supervisor";
  const role = state.me.role === "supervisor" ? (state.lang === "zh" ? "班长" : "supervisor") : "";
  $("me").textContent = state.me.name + (role ? ` · ${role}` : "");
  for (const b of document.querySelectorAll("#status-group button")) {
    b.classList.toggle("on", b.dataset.status === state.me.status);
    b.setAttribute("aria-pressed", b.dataset.status === state.me.status ? "true" : "false");
  }
}

// --- live stream ---------------------------------------------------------------------------------
function setConn(kind) {
  state.connState = kind;
  const node = $("conn");
  node.className = "conn conn-" + kind;
  node.textContent = t(kind === "live" ? "conn_live" : kind === "retry" ? "conn_retry" : "conn_off");
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/agents/stream`, ["triage.v1", `token.${state.token}`]);
  state.ws = ws;
  ws.onopen = () => {
    state.wsRetry = 0;
    setConn("live");
  };
  ws.onmessage = (ev) => onStream(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    if (state.ws !== ws) return;
    if (ev.code === 4401) return signOut(t("login_bad"));
    setConn("retry");
    const delay = Math.min(10000, 500 * 2 ** state.wsRetry++);
    setTimeout(() => state.token && state.ws === ws && connect(), delay);
  };
}

function onStream(msg) {
  switch (msg.type) {
    case "hello":
      applyQueue(msg);
      loadCallbacks(); // after a reconnect: anything announced while away
      break;
    case "queue":
      applyQueue(msg);
      break;
    case "callback.created":
    case "callback.updated":
    case "callback.closed":
      onCallbackEvent(msg);
      break;
    case "handoff.created":
      // Every emergency is announced; other callers only when they land at the top of the queue.
      if (msg.handoff.urgency === "emergency") toast(t("new_emergency"), "alert");
      else if (msg.top) toast(t("new_handoff"), "info");
      flashItem(msg.handoff.id);
      break;
    case "handoff.updated":
      if (state.selectedId === msg.handoff.id) refreshDetail();
      break;
    case "transcript":
      if (state.detail && msg.call_id === state.detail.call_id) appendLine(msg.utterance);
      break;
    case "workorder.changed":
      loadOrders();
      break;
    case "storm.detected": // supervisors only: a burst of calls about one problem in one place
    case "workorder.overdue": // supervisors and the order's agent (催办)
    case "incident.published":
      toast(opsToast(msg), msg.type === "incident.published" ? "info" : "alert");
      break;
    case "call.ended":
      if (state.detail && msg.call_id === state.detail.call_id) refreshDetail();
      softphoneCallEnded(msg);
      loadCallbacks(); // an emergency caller who hung up is now a call-back task
      break;
    case "error":
      toast(msg.message, "alert");
      break;
    default:
      break;
  }
}

// --- queue ---------------------------------------------------------------------------------------
function applyQueue(q) {
  state.waiting = q.waiting || [];
  state.accepted = q.accepted || [];
  if (q.agent) {
    state.me = q.agent;
    renderMe();
  }
  renderQueue();
}

function queueItem(h, index) {
  const li = el(
    "li",
    {
      class: `queue-item u-${h.urgency}` + (h.id === state.selectedId ? " selected" : ""),
      dataset: { id: h.id, urgency: h.urgency },
      tabindex: "0",
      onclick: () => select(h.id),
      onkeydown: (e) => e.key === "Enter" && select(h.id),
    },
    el("div", { class: "qi-top" },
      index ? el("span", { class: "pos" }, String(index)) : null,
      el("span", { class: "badge u-" + h.urgency }, urgencyLabel(h.urgency)),
      el("span", { class: "qi-topic" }, label("topics", h.topic)),
      el("span", { class: "qi-wait", dataset: { since: h.status === "waiting" ? h.created_at : "" } },
        fmtDuration(waitedSeconds(h)))),
    el("div", { class: "qi-sub" },
      el("span", {}, h.caller_number || t("unknown")),
      el("span", {}, label("request_types", h.request_type)),
      el("span", { class: "lang" }, (h.language || "").toUpperCase()),
      h.agent_name && h.status !== "waiting" ? el("span", { class: "who" }, h.agent_name) : null),
    el("div", { class: "qi-reason" }, h.reason || ""),
    h.transfer_note && h.status === "waiting"
      ? el("div", { class: "qi-transfer" }, `${t("sp_transfer_note")}: ${h.transfer_note}`)
      : null,
  );
  return li;
}

function renderQueue() {
  const list = $("queue-list");
  list.replaceChildren(...state.waiting.map((h, i) => queueItem(h, i + 1)));
  $("queue-empty").hidden = state.waiting.length > 0;
  $("queue-count").textContent = String(state.waiting.length);
  const mine = $("mine-list");
  mine.replaceChildren(...state.accepted.map((h) => queueItem(h, 0)));
  $("mine-empty").hidden = state.accepted.length > 0;
  $("mine-count").textContent = String(state.accepted.length);
  const urgent = state.waiting.filter((h) => h.urgency === "emergency").length;
  document.title = (state.waiting.length ? `(${state.waiting.length}${urgent ? "!" : ""}) ` : "") + t("app_title");
}

function flashItem(id) {
  const node = document.querySelector(`#queue-list [data-id="${CSS.escape(id)}"]`);
  if (node) {
    node.classList.add("flash");
    setTimeout(() => node.classList.remove("flash"), 3000);
  }
}

function tick() {
  for (const node of document.querySelectorAll("[data-since]")) {
    if (node.dataset.since) node.textContent = fmtDuration((Date.now() - new Date(node.dataset.since)) / 1000);
  }
  if (state.detail && state.detail.status === "waiting") {
    $("d-waited").textContent = fmtDuration(waitedSeconds(state.detail));
  }
  remindCallbacks();
}

// --- the selected handoff ------------------------------------------------------------------------
async function select(id) {
  state.selectedId = id;
  for (const node of document.querySelectorAll(".queue-item")) {
    node.classList.toggle("selected", node.dataset.id === id);
  }
  try {
    const detail = await api("GET", `/v1/agents/handoffs/${encodeURIComponent(id)}`);
    if (state.selectedId !== id) return;
    renderDetail(detail, {});
    loadDraft(detail);
  } catch (e) {
    toast(e.message, "alert");
  }
}

async function refreshDetail() {
  if (!state.selectedId) return;
  try {
    const detail = await api("GET", `/v1/agents/handoffs/${encodeURIComponent(state.selectedId)}`);
    renderDetail(detail, { keepForm: true });
  } catch (e) {
    if (e.status === 403) {
      state.selectedId = null;
      state.detail = null;
      $("detail").hidden = true;
      $("side").hidden = true;
      $("detail-empty").hidden = false;
    }
  }
}

function renderDetail(d, opts) {
  const previousCall = state.detail && state.detail.call_id;
  state.detail = d;
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("side").hidden = false;
  $("detail").dataset.id = d.id;
  $("detail").className = "card detail u-" + d.urgency;
  const badge = $("d-urgency");
  badge.className = "badge u-" + d.urgency;
  badge.textContent = urgencyLabel(d.urgency);
  $("d-topic").textContent = label("topics", d.topic);
  $("d-type").textContent = label("request_types", d.request_type);
  $("d-type").hidden = !d.request_type;
  $("d-status").textContent = statusLabel(d.status);
  $("d-status").className = "chip s-" + d.status;
  $("d-caller").textContent = d.caller_number || t("unknown");
  $("d-lang").textContent = langLabel(d.language || (d.call && d.call.language));
  $("d-waited").textContent = fmtDuration(waitedSeconds(d));
  const conf = d.confidence === null || d.confidence === undefined ? null : Math.round(d.confidence * 100);
  $("d-conf").textContent = conf === null ? t("unknown") : conf + "%";
  $("d-conf-bar").style.width = (conf || 0) + "%";
  $("d-agent").textContent = d.agent_name || t("unknown");
  $("d-reason").textContent = d.reason || t("unknown");
  $("d-ended").hidden = !(d.status === "abandoned" || (d.call && d.call.status !== "active" && d.status !== "resolved"));

  const mineAccepted = d.status === "accepted" && state.me && (d.agent_id === state.me.id || state.me.role === "supervisor");
  $("accept-btn").hidden = d.status !== "waiting";
  $("resolve-form").hidden = !mineAccepted;
  $("d-resolution").hidden = !d.resolution;
  $("d-resolution").textContent = d.resolution ? `${t("resolution")}: ${d.resolution}` : "";
  $("live-dot").hidden = !(d.call && d.call.status === "active");

  const list = $("transcript");
  list.replaceChildren();
  for (const u of d.transcript) appendLine(u);

  renderDetails(d.details || {});
  const tried = d.answers_tried || [];
  const answers = tried.map((a, i) =>
    el("li", {}, a.answer, a.kb_entry_id ? el("span", { class: "kb" }, a.kb_entry_id) : null,
      i === tried.length - 1 && a.kb_entry_id ? correctionButton(d.call_id) : null));
  $("answers").replaceChildren(...answers);
  $("answers-empty").hidden = answers.length > 0;
  renderHistory(d.history);
  if (previousCall !== d.call_id) renderRecordings(d.call);
  renderOrders(d.work_orders || []);
  renderSoftphone(d);
  if (!opts.keepForm) resetForm(d);
}

// An agent marks the bot's last knowledge-base answer wrong: the right entry id, or none.
function correctionButton(callId) {
  const btn = el("button", { type: "button", class: "kb-wrong" }, t("kb_wrong"));
  btn.addEventListener("click", async () => {
    const entry = window.prompt(t("kb_right_entry"), "");
    if (entry === null) return;
    try {
      await api("POST", `/v1/calls/${callId}/kb-correction`, { entry_id: entry.trim() || null });
      btn.textContent = t("kb_correction_saved");
      btn.disabled = true;
    } catch (e) {
      btn.textContent = e.message;
    }
  });
  return btn;
}

function appendLine(u) {
  const list = $("transcript");
  if (u.seq !== null && u.seq !== undefined && list.querySelector(`[data-seq="${u.seq}"]`)) return;
  const who = u.speaker === "bot" ? "bot" : u.speaker === "agent" ? "agent" : "caller";
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(
    el("li", { class: "line " + who, dataset: { seq: u.seq ?? "" } },
      el("span", { class: "who" }, t("speaker_" + who)),
      el("span", { class: "text" }, u.text)),
  );
  if (atBottom || list.children.length < 4) list.scrollTop = list.scrollHeight;
}

function detailKey(key) {
  const k = "k_" + key;
  return I18N.en[k] ? t(k) : key;
}

function renderDetails(details) {
  const rows = detailRows(details);
  $("details").replaceChildren(...rows);
  $("details-empty").hidden = rows.length > 0;
}

function detailRows(details) {
  const rows = [];
  for (const [key, value] of Object.entries(details)) {
    if (value === null || value === undefined || (Array.isArray(value) && !value.length) || value === "") continue;
    const one = (v) => {
      if (v === null || typeof v !== "object") return String(v);
      // The classifier's Extracted: {kind, text, value, display}; display is what an agent should see.
      const shown = v.display || v.text || v.value || Object.values(v).join(" ");
      return v.kind && v.kind !== key ? `${shown} (${detailKey(v.kind)})` : shown;
    };
    const text = Array.isArray(value)
      ? value.map(one).join("; ")
      : typeof value === "object" ? one(value) : String(value);
    rows.push(el("div", { dataset: { key } }, el("dt", {}, detailKey(key)), el("dd", {}, text)));
  }
  return rows;
}

function orderItem(o) {
  return el("li", { dataset: { id: o.id } },
    el("span", { class: "chip s-" + o.status }, statusLabel(o.status)),
    el("span", { class: "h-main" }, o.summary),
    el("span", { class: "h-meta" }, `${fmtTime(o.created_at)} · #${o.id.slice(0, 6)}` +
      (o.assigned_to_name ? ` · ${o.assigned_to_name}` : "")));
}

function renderHistory(history) {
  const calls = (history && history.calls) || [];
  const orders = (history && history.work_orders) || [];
  $("history-calls").replaceChildren(...calls.map((c) =>
    el("li", {},
      el("span", { class: "chip s-" + c.status }, fmtTime(c.started_at)),
      el("span", { class: "h-main" }, label("topics", c.topic)),
      el("span", { class: "h-meta" }, [c.last_action, c.end_reason, c.rating ? `${t("rating")} ${"★".repeat(c.rating)}` : null]
        .filter(Boolean).join(" · ")))));
  $("history-calls-empty").hidden = calls.length > 0;
  $("history-orders").replaceChildren(...orders.map(orderItem));
  $("history-orders-empty").hidden = orders.length > 0;
}

function renderOrders(orders) {
  $("wo-existing").replaceChildren(...orders.map(orderItem));
}

function renderRecordings(call) {
  for (const url of state.audioUrls) URL.revokeObjectURL(url);
  state.audioUrls = [];
  const box = $("recordings");
  const tracks = Object.entries((call && call.recordings) || {});
  box.replaceChildren(...tracks.map(([track, url]) => {
    const slot = el("div", { class: "rec", dataset: { track } });
    const button = el("button", { type: "button", class: "ghost small-btn", onclick: () => loadAudio(slot, url, button) },
      "▶ " + t("rec_" + track));
    slot.append(button);
    return slot;
  }));
  $("recordings-empty").hidden = tracks.length > 0;
}

async function loadAudio(slot, url, button, blobUrls) {
  // <audio src> cannot send the bearer token, so fetch the WAV and play it from a blob.
  button.disabled = true;
  try {
    const res = await fetch(url, { headers: { Authorization: "Bearer " + state.token } });
    if (!res.ok) throw new Error((await res.json()).detail || res.statusText);
    const blobUrl = URL.createObjectURL(await res.blob());
    (blobUrls || state.audioUrls).push(blobUrl);
    const audio = el("audio", { controls: true, src: blobUrl, preload: "metadata" });
    slot.append(audio);
    audio.play().catch(() => {});
  } catch (e) {
    toast(e.message, "alert");
    button.disabled = false;
  }
}

// --- my work orders ------------------------------------------------------------------------------
async function loadOrders() {
  try {
    state.orders = await api("GET", "/v1/workorders?limit=30");
  } catch (e) {
    return;
  }
  renderMyOrders();
}

function renderMyOrders() {
  const orders = (state.orders || []).filter((o) => o.status !== "resolved" || state.openOrder === o.id);
  $("orders-list").replaceChildren(...orders.map((o) => {
    const li = orderItem(o);
    li.classList.add("order");
    li.tabIndex = 0;
    li.addEventListener("click", (ev) => {
      if (ev.target.closest("form")) return;
      state.openOrder = state.openOrder === o.id ? null : o.id;
      renderMyOrders();
    });
    if (state.openOrder === o.id) li.append(orderEditor(o));
    return li;
  }));
  $("orders-empty").hidden = orders.length > 0;
  $("orders-count").textContent = String(orders.length);
}

function orderEditor(o) {
  const select = el("select", { class: "wo-status" },
    el("option", { value: "" }, t("keep_status")),
    ...o.next_statuses.map((s) => el("option", { value: s }, statusLabel(s))));
  const note = el("textarea", { class: "wo-note", rows: "2", placeholder: t("note") });
  const form = el("form", { class: "order-edit" }, select, note,
    el("button", { type: "submit", class: "primary" }, t("save")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { note: note.value.trim() };
    if (select.value) body.status = select.value;
    try {
      await api("PATCH", `/v1/workorders/${encodeURIComponent(o.id)}`, body);
      toast(t("order_saved"), "ok");
      state.openOrder = null;
      await loadOrders();
    } catch (e) {
      toast(e.message, "alert");
    }
  });
  return form;
}

// --- actions ------------------------------------------------------------------------------------
async function accept() {
  if (!state.detail) return;
  try {
    await api("POST", `/v1/agents/handoffs/${state.detail.id}/accept`);
    toast(t("accepted_toast"), "ok");
  } catch (e) {
    toast(e.message, "alert");
  }
  await refreshDetail();
  if (state.detail && state.detail.status === "accepted" && state.detail.agent_id === state.me.id) {
    softphoneAfterAccept(state.detail); // softphone.js: the microphone and speaker join the caller
  }
  applyQueue(await api("GET", "/v1/agents/queue"));
}

async function resolveHandoff(ev) {
  ev.preventDefault();
  const note = $("resolve-note").value.trim();
  if (!note || !state.detail) return;
  try {
    await api("POST", `/v1/agents/handoffs/${state.detail.id}/resolve`, { resolution: note });
    $("resolve-note").value = "";
    toast(t("resolved_toast"), "ok");
  } catch (e) {
    toast(e.message, "alert");
  }
  await refreshDetail();
  applyQueue(await api("GET", "/v1/agents/queue"));
}

async function setStatus(status) {
  try {
    state.me = await api("PUT", "/v1/agents/me/status", { status });
    renderMe();
  } catch (e) {
    toast(e.message, "alert");
  }
}

// --- work-order form ----------------------------------------------------------------------------
function fillSelects() {
  for (const [id, kind] of [["wo-topic", "topics"], ["wo-type", "request_types"]]) {
    const select = $(id);
    const current = select.value;
    const options = [el("option", { value: "" }, t("unknown"))];
    for (const key of Object.keys(state.labels[kind] || {})) options.push(el("option", { value: key }, label(kind, key)));
    select.replaceChildren(...options);
    ensureOption(select, current, kind);
    select.value = current;
  }
}

function ensureOption(select, value, kind) {
  if (value && ![...select.options].some((o) => o.value === value)) {
    select.append(el("option", { value }, label(kind, value)));
  }
}

function resetForm(d) {
  ensureOption($("wo-topic"), d.topic, "topics");
  ensureOption($("wo-type"), d.request_type, "request_types");
  $("wo-topic").value = d.topic || "";
  $("wo-type").value = d.request_type || "";
  $("wo-urgency").value = d.urgency || "routine";
  $("wo-summary").value = "";
  $("wo-note").value = "";
  $("wo-assign").checked = true;
}

async function loadDraft(d) {
  try {
    const draft = await api("GET", `/v1/workorders/draft?handoff_id=${encodeURIComponent(d.id)}`);
    if (state.detail && state.detail.id === d.id && !$("wo-summary").value) $("wo-summary").value = draft.summary;
  } catch (e) {
    /* the form still works: the agent writes the summary */
  }
}

async function createOrder(ev) {
  ev.preventDefault();
  if (!state.detail) return;
  const body = {
    handoff_id: state.detail.id,
    summary: $("wo-summary").value.trim() || null,
    topic: $("wo-topic").value || null,
    request_type: $("wo-type").value || null,
    urgency: $("wo-urgency").value,
    note: $("wo-note").value.trim(),
    assign_to_me: $("wo-assign").checked,
  };
  $("wo-submit").disabled = true;
  try {
    const order = await api("POST", "/v1/workorders", body);
    toast(`${t("wo_created")} #${order.id.slice(0, 6)}`, "ok");
    $("wo-note").value = "";
    await refreshDetail();
    await loadOrders();
  } catch (e) {
    toast(e.message, "alert");
  } finally {
    $("wo-submit").disabled = false;
  }
}

// --- start ---------------------------------------------------------------------------------------
function start() {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("token-input").value);
  });
  $("logout").addEventListener("click", () => signOut(""));
  $("lang-toggle").addEventListener("click", () => setLang(state.lang === "zh" ? "en" : "zh"));
  $("accept-btn").addEventListener("click", accept);
  $("resolve-form").addEventListener("submit", resolveHandoff);
  $("wo-form").addEventListener("submit", createOrder);
  for (const b of document.querySelectorAll("#status-group button")) {
    b.addEventListener("click", () => setStatus(b.dataset.status));
  }
  startSoftphone();
  applyI18n();
  setInterval(tick, 1000);
  if (state.token) signIn(state.token);
  else showLogin("");
}

start();
