// The web caller page: the microphone to the bot over WebRTC (POST /v1/calls/rtc, non-trickle),
// the bot's voice back on the audio track, the call's events as captions over the "events" data
// channel. No framework and no build step; text from the service goes in through textContent.
"use strict";

const state = {
  lang: localStorage.getItem("triage.lang") || ((navigator.language || "en").startsWith("zh") ? "zh" : "en"),
  phase: "idle", // idle, connecting, bot, waiting, agent, ending, ended, failed
  urgency: null,
  pc: null,
  dc: null,
  mic: null,
  statsTimer: null,
  endTimer: null,
  errorKey: null,
  errorDetail: "",
};

const $ = (id) => document.getElementById(id);
const t = (key) => (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;
const IN_CALL = ["connecting", "bot", "waiting", "agent"];
const GATHER_TIMEOUT_MS = 3000;
const ENDED_WAIT_MS = 3000;

// --- language ------------------------------------------------------------------------------------
function applyI18n() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  $("lang-toggle").textContent = state.lang === "zh" ? "English" : "中文";
  $("meter").title = t("meter");
  for (const who of document.querySelectorAll("#captions .who")) who.textContent = t("speaker_" + who.dataset.speaker);
  render();
}

function setLang(lang) {
  state.lang = lang;
  localStorage.setItem("triage.lang", lang);
  applyI18n();
}

// --- what the caller sees ------------------------------------------------------------------------
function render() {
  const phase = state.phase;
  const key = phase === "waiting" && state.urgency === "emergency" ? "st_waiting_emergency" : "st_" + phase;
  const status = $("status");
  status.textContent = t(key);
  status.dataset.state = phase;
  $("call").dataset.state = phase;
  const btn = $("call-btn");
  const live = IN_CALL.includes(phase);
  btn.textContent = live || phase === "ending" ? t("hangup") : t("call");
  btn.classList.toggle("hangup", live || phase === "ending");
  btn.disabled = phase === "ending";
  const canType = ["bot", "waiting", "agent"].includes(phase) && state.dc && state.dc.readyState === "open";
  $("text-input").disabled = !canType;
  $("text-send").disabled = !canType;
  $("error").textContent = state.errorKey ? (t(state.errorKey) + " " + (state.errorDetail || "")).trim() : "";
}

function setPhase(phase) {
  state.phase = phase;
  render();
}

function showError(key, detail) {
  state.errorKey = key;
  state.errorDetail = detail || "";
  render();
}

function caption(speaker, text, kind) {
  $("captions-empty").hidden = true;
  const list = $("captions");
  let item = kind === "partial" ? list.querySelector("li.partial") : null;
  if (!item) {
    item = document.createElement("li");
    const who = document.createElement("span");
    who.className = "who";
    who.dataset.speaker = speaker;
    who.textContent = t("speaker_" + speaker);
    const words = document.createElement("span");
    words.className = "words";
    item.append(who, words);
    list.append(item);
  }
  item.className = `cap ${speaker} ${kind}`;
  item.dataset.speaker = speaker;
  item.dataset.kind = kind;
  item.querySelector(".words").textContent = text;
  item.scrollIntoView({ block: "nearest" });
}

function dropPartial() {
  const partial = $("captions").querySelector("li.partial");
  if (partial) partial.remove();
}

// --- the call's events ---------------------------------------------------------------------------
function onEvent(event) {
  switch (event.type) {
    case "started":
      $("call-id").textContent = event.call_id || "–";
      break;
    case "partial":
      if (event.text) caption("caller", event.text, "partial");
      break;
    case "final":
      if (event.speaker === "caller") dropPartial();
      caption(event.speaker === "agent" ? "agent" : "caller", event.text, "final");
      if (event.speaker === "agent" && IN_CALL.includes(state.phase)) setPhase("agent");
      break;
    case "bot_text":
      caption("bot", event.text, "final");
      break;
    case "handoff":
      state.urgency = event.urgency || null;
      $("call").dataset.urgency = state.urgency || "";
      $("call").dataset.handoffId = event.handoff_id || "";
      if (state.phase !== "agent") setPhase("waiting");
      break;
    case "hangup":
      setPhase("ending");
      break;
    case "ended":
      finish("ended");
      break;
    case "error":
      showError("err_message", event.message);
      break;
    default:
      break; // speech_started, decision, latency, playback_stopped...: nothing to show
  }
}

// --- WebRTC --------------------------------------------------------------------------------------
function gatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_TIMEOUT_MS); // send what was gathered: host candidates come first
  });
}

async function startCall() {
  state.errorKey = null;
  state.urgency = null;
  $("captions").replaceChildren();
  $("captions-empty").hidden = false;
  $("call-id").textContent = "–";
  if (!window.RTCPeerConnection || !navigator.mediaDevices) {
    showError("err_no_webrtc");
    setPhase("failed");
    return;
  }
  setPhase("connecting");
  try {
    state.mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
  } catch (e) {
    showError("err_mic", e && e.name ? `(${e.name})` : "");
    setPhase("failed");
    return;
  }
  const pc = (state.pc = new RTCPeerConnection({ iceServers: [] }));
  for (const track of state.mic.getAudioTracks()) pc.addTrack(track, state.mic);
  const dc = (state.dc = pc.createDataChannel("events"));
  dc.onopen = render;
  dc.onmessage = (e) => {
    try {
      onEvent(JSON.parse(e.data));
    } catch (err) {
      console.warn("unreadable event", e.data, err);
    }
  };
  pc.ontrack = (e) => {
    const audio = $("remote-audio");
    audio.srcObject = e.streams[0] || new MediaStream([e.track]);
    audio.play().catch(() => {}); // the Call click allows playback; nothing to do if a browser refuses
  };
  pc.onconnectionstatechange = () => {
    if (pc !== state.pc) return;
    if (pc.connectionState === "connected" && state.phase === "connecting") setPhase("bot");
    if (pc.connectionState === "failed" && IN_CALL.includes(state.phase)) {
      showError("err_connection");
      finish("failed");
    }
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    let res;
    try {
      res = await fetch("/v1/calls/rtc", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer", language: state.lang }),
      });
    } catch (e) {
      showError("err_unreachable");
      finish("failed");
      return;
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const detail = body.message || (typeof body.detail === "string" ? body.detail : "");
      showError(res.status === 503 ? "err_not_ready" : "err_refused", res.status === 503 ? "" : detail);
      finish("failed");
      return;
    }
    if (pc !== state.pc) return; // hung up while the request was on its way
    $("call-id").textContent = body.call_id || "–";
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
    state.statsTimer = setInterval(readStats, 200);
  } catch (e) {
    showError("err_connection", e && e.message ? e.message : "");
    finish("failed");
  }
}

function hangUp() {
  if (state.dc && state.dc.readyState === "open") {
    state.dc.send(JSON.stringify({ type: "hangup" }));
    setPhase("ending");
    state.endTimer = setTimeout(() => finish("ended"), ENDED_WAIT_MS); // "ended" normally comes first
  } else {
    finish("ended");
  }
}

function finish(phase) {
  clearTimeout(state.endTimer);
  clearInterval(state.statsTimer);
  state.statsTimer = null;
  if (state.pc) readStats(); // keep the last figures on the page
  if (state.mic) for (const track of state.mic.getTracks()) track.stop();
  if (state.pc) state.pc.close();
  state.pc = state.dc = state.mic = null;
  dropPartial();
  setPhase(phase);
}

// How much the caller has heard, from the receiver's statistics: shown as a meter, and kept in
// data-audio-energy / data-audio-level / data-audio-samples for tests and support.
async function readStats() {
  const pc = state.pc;
  if (!pc) return;
  let stats;
  try {
    stats = await pc.getStats();
  } catch (e) {
    return;
  }
  stats.forEach((report) => {
    if (report.type !== "inbound-rtp" || report.kind !== "audio") return;
    const root = $("call");
    root.dataset.audioEnergy = String(report.totalAudioEnergy || 0);
    root.dataset.audioLevel = String(report.audioLevel || 0);
    root.dataset.audioSamples = String(report.totalSamplesReceived || 0);
    $("meter-bar").style.width = `${Math.min(100, Math.round(Math.sqrt(report.audioLevel || 0) * 100))}%`;
  });
}

// --- wiring --------------------------------------------------------------------------------------
function sendText(e) {
  e.preventDefault();
  const input = $("text-input");
  const text = input.value.trim();
  if (!text) {
    showError("err_text");
    return;
  }
  if (!state.dc || state.dc.readyState !== "open") return;
  const language = /[\u3400-\u9fff]/.test(text) ? "zh" : "en";
  state.dc.send(JSON.stringify({ type: "text", text, language }));
  input.value = "";
  state.errorKey = null;
  render();
}

document.addEventListener("DOMContentLoaded", () => {
  $("lang-toggle").addEventListener("click", () => setLang(state.lang === "zh" ? "en" : "zh"));
  $("call-btn").addEventListener("click", () => (IN_CALL.includes(state.phase) ? hangUp() : startCall()));
  $("text-form").addEventListener("submit", sendText);
  window.addEventListener("pagehide", () => {
    if (state.dc && state.dc.readyState === "open") state.dc.send(JSON.stringify({ type: "hangup" }));
  });
  applyI18n();
});
