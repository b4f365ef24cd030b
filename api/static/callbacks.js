// Call-back tasks: callers in an emergency (or urgent) whom nobody took. They sit above the queue
// until an agent records what happened; a new emergency sounds an alarm (Web Audio, no files).
// Loaded before console.js and uses its helpers (state, api, el, t, ...) only when called.
"use strict";

const CB_OUTCOMES = ["dispatched", "reached", "called_back", "false_alarm", "no_answer"];
const CB_REMIND_MS = 60000; // an emergency task nobody closed sounds again every minute

const cb = {
  tasks: [],
  details: {}, // id -> {sig, detail}
  seen: new Set(), // emergency task ids already announced with the alarm
  notes: {}, // id -> the note being typed, kept across re-renders
  nodes: {}, // id -> rendered <li>
  lastAlarm: 0,
  audio: null,
  alarms: 0,
  tones: 0,
  audioUrls: [],
  loads: 0,
};

// --- the alarm ----------------------------------------------------------------------------------
function unlockAlarm() {
  // Browsers start audio only after a user gesture: the sign-in click (or any click) unlocks it.
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  cb.audio = cb.audio || new Ctx();
  if (cb.audio.state === "suspended") cb.audio.resume().catch(() => {});
}
document.addEventListener("pointerdown", unlockAlarm);
document.addEventListener("keydown", unlockAlarm);

function alarm() {
  cb.alarms += 1;
  cb.lastAlarm = Date.now();
  document.body.dataset.alarms = String(cb.alarms);
  try {
    unlockAlarm();
    const ctx = cb.audio;
    if (!ctx) return;
    const start = ctx.currentTime + 0.05;
    for (let i = 0; i < 6; i++) { // three two-tone beeps, like a siren, about two seconds
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = start + i * 0.32;
      osc.type = "square";
      osc.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.28);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.3);
      cb.tones += 1;
    }
    document.body.dataset.alarmTones = String(cb.tones);
  } catch (e) {
    /* no audio device: the red card, the toast and the title still say it */
  }
}

// --- loading ------------------------------------------------------------------------------------
function cbSig(task) {
  return [task.status, task.caller_on_line, task.attempts.length, task.call_status].join("|");
}

async function loadCallbacks() {
  if (!state.token) return;
  const seq = ++cb.loads; // loads overlap (sign-in, hello, events): only the latest one renders
  let listed;
  try {
    listed = (await api("GET", "/v1/callbacks")).callbacks;
  } catch (e) {
    return;
  }
  // Each open task in full (transcript, recordings): they are few, and an agent needs them at once.
  await Promise.all(listed.map(async (task) => {
    const known = cb.details[task.id];
    if (known && known.sig === cbSig(task)) return;
    try {
      cb.details[task.id] = { sig: cbSig(task), detail: await api("GET", `/v1/callbacks/${encodeURIComponent(task.id)}`) };
    } catch (e) {
      cb.details[task.id] = { sig: "", detail: { ...task, transcript: [], call: null } };
    }
  }));
  if (seq !== cb.loads) return;
  cb.tasks = listed;
  const open = new Set(listed.map((task) => task.id));
  for (const id of Object.keys(cb.details)) if (!open.has(id)) delete cb.details[id];
  const fresh = listed.filter((task) => task.urgency === "emergency" && !cb.seen.has(task.id));
  for (const task of fresh) cb.seen.add(task.id);
  renderCallbacks();
  if (fresh.length) {
    alarm();
    toast(t("cb_new_emergency"), "alert");
  }
}

function onCallbackEvent(msg) {
  if (msg.type === "callback.created" && msg.callback && msg.callback.urgency !== "emergency") {
    toast(t("cb_new"), "info");
  }
  loadCallbacks(); // the alarm sounds there, once per new emergency task
}

function resetCallbacks() {
  cb.tasks = [];
  cb.details = {};
  cb.seen = new Set();
  cb.nodes = {};
  renderCallbacks();
}

function remindCallbacks() {
  const open = cb.tasks.some((task) => task.urgency === "emergency" && task.status === "open");
  if (open && Date.now() - cb.lastAlarm > CB_REMIND_MS) alarm();
}

// --- rendering ----------------------------------------------------------------------------------
function renderCallbacks(force) {
  const box = $("callbacks");
  box.hidden = cb.tasks.length === 0;
  $("callbacks-count").textContent = String(cb.tasks.length);
  box.classList.toggle("has-emergency", cb.tasks.some((task) => task.urgency === "emergency"));
  const nodes = {};
  for (const task of cb.tasks) {
    const entry = cb.details[task.id];
    const key = (entry ? entry.sig : "") + "|" + state.lang;
    const old = cb.nodes[task.id];
    nodes[task.id] = !force && old && old.dataset.key === key ? old : callbackCard(entry ? entry.detail : task, key);
  }
  cb.nodes = nodes;
  const list = $("callbacks-list");
  const wanted = cb.tasks.map((task) => nodes[task.id]);
  const same = wanted.length === list.children.length && wanted.every((node, i) => list.children[i] === node);
  if (!same) list.replaceChildren(...wanted); // untouched cards keep a note being typed, and focus
}

function callbackCard(d, key) {
  const since = d.call_status === "active" && d.handoff_created_at ? d.handoff_created_at : d.created_at;
  const li = el("li", { class: `callback u-${d.urgency}`, dataset: { id: d.id, urgency: d.urgency, key } },
    el("div", { class: "cb-top" },
      el("span", { class: "badge u-" + d.urgency }, urgencyLabel(d.urgency)),
      el("span", { class: "chip cb-trigger" }, t("cb_trigger_" + d.trigger)),
      el("span", { class: "cb-topic" }, label("topics", d.topic)),
      el("span", { class: "cb-since" }, t("cb_since") + " ",
        el("span", { dataset: { since } }, fmtDuration((Date.now() - new Date(since)) / 1000)))),
    el("div", { class: "cb-number" },
      d.caller_number ? el("a", { href: "tel:" + d.caller_number }, d.caller_number) : t("cb_no_number"),
      el("span", { class: "lang" }, langLabel(d.language))),
    d.caller_on_line
      ? el("p", { class: "cb-online" }, t("cb_on_line") + " ",
        el("button", { type: "button", class: "ghost small-btn", onclick: () => select(d.handoff_id) }, t("cb_open_call")))
      : null,
    el("p", { class: "cb-reason" }, el("b", {}, t("reason") + ": "), d.reason || t("unknown")),
  );
  const rows = detailRows(d.details || {});
  if (rows.length) li.append(el("dl", { class: "kv cb-details" }, ...rows));
  const lines = (d.transcript || []).map((u) => {
    const who = u.speaker === "bot" ? "bot" : "caller";
    return el("li", { class: "cb-line " + who }, el("span", { class: "who" }, t("speaker_" + who)), " ", u.text);
  });
  if (lines.length) li.append(el("h4", {}, t("cb_heard")), el("ol", { class: "cb-transcript" }, ...lines));
  const recordings = Object.entries((d.call && d.call.recordings) || {});
  if (recordings.length) {
    li.append(el("div", { class: "cb-recs" }, ...recordings.map(([track, url]) => {
      const slot = el("div", { class: "rec", dataset: { track } });
      const button = el("button", { type: "button", class: "ghost small-btn", onclick: () => loadAudio(slot, url, button, cb.audioUrls) },
        "▶ " + t(track === "caller" ? "rec_caller" : "rec_bot"));
      slot.append(button);
      return slot;
    })));
  }
  if (d.attempts && d.attempts.length) {
    li.append(el("ol", { class: "cb-attempts" }, ...d.attempts.map((a) =>
      el("li", {}, `${fmtTime(a.created_at)} · ${t("o_" + a.outcome)} · ${a.agent_name || a.agent_id}` + (a.note ? ` · ${a.note}` : "")))));
  }
  li.append(outcomeForm(d));
  return li;
}

function outcomeForm(d) {
  const note = el("textarea", { class: "cb-note", rows: "2", placeholder: t("cb_note"), "aria-label": t("cb_note") });
  note.value = cb.notes[d.id] || "";
  note.addEventListener("input", () => { cb.notes[d.id] = note.value; });
  const buttons = CB_OUTCOMES.map((outcome) =>
    el("button", {
      type: "button",
      class: "cb-outcome" + (outcome === "no_answer" ? "" : " primary") + (outcome === "false_alarm" ? " muted-btn" : ""),
      dataset: { outcome },
      onclick: () => recordOutcome(d.id, outcome, note, buttons),
    }, t("o_" + outcome)));
  return el("div", { class: "cb-form" }, note, el("div", { class: "cb-buttons" }, ...buttons));
}

async function recordOutcome(id, outcome, note, buttons) {
  for (const b of buttons) b.disabled = true;
  try {
    const task = await api("POST", `/v1/callbacks/${encodeURIComponent(id)}/outcome`, { outcome, note: note.value.trim() });
    delete cb.notes[id];
    note.value = "";
    toast(t(task.status === "closed" ? "cb_closed_toast" : "cb_attempt_toast"), "ok");
  } catch (e) {
    toast(e.message, "alert");
  } finally {
    for (const b of buttons) b.disabled = false;
  }
  await loadCallbacks();
}
