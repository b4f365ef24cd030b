// The agent's softphone and the supervisor's listen-in (api/softphone.py), on top of console.js:
// after Accept the browser's microphone and speaker join the caller over WebRTC (non-trickle: one
// complete offer, one HTTP request, the answer back). Uses console.js's state, api, t, $, el, toast.
"use strict";

const phone = {
  pc: null,
  stream: null,
  handoffId: null,
  callId: null,
  state: "idle", // idle | connecting | connected | on_hold | muted | ended
  muted: false,
  onHold: false,
  listen: null, // { pc, callId } while a supervisor listens in
  agents: null, // [{id, name}] for the transfer form, when this agent may list them
};

const MIC = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

function iceGathered(pc, timeoutMs) {
  // Non-trickle: the offer goes out once it carries every candidate.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs || 3000);
  });
}

async function offerTo(pc, path) {
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  const answer = await api("POST", path, { sdp: pc.localDescription.sdp, type: "offer" });
  await pc.setRemoteDescription(answer);
}

function playRemote(pc, audio) {
  pc.ontrack = (ev) => {
    audio.srcObject = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
    audio.play().catch(() => {}); // Accept was a click, so autoplay is allowed
  };
}

// --- the agent's softphone -------------------------------------------------------------------------
async function openSoftphone(handoffId, callId) {
  closeSoftphone();
  phone.handoffId = handoffId;
  phone.callId = callId;
  phone.muted = false;
  phone.onHold = false;
  setPhoneState("connecting");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: MIC });
    const pc = new RTCPeerConnection({ iceServers: [] });
    phone.pc = pc;
    phone.stream = stream;
    for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
    pc.createDataChannel("events");
    playRemote(pc, $("sp-audio"));
    pc.addEventListener("connectionstatechange", () => {
      if (phone.pc !== pc) return;
      if (pc.connectionState === "connected") setPhoneState(phone.onHold ? "on_hold" : phone.muted ? "muted" : "connected");
      else if (["failed", "closed", "disconnected"].includes(pc.connectionState)) {
        setPhoneState("ended");
        releasePhone();
      }
    });
    await offerTo(pc, `/v1/agents/handoffs/${handoffId}/rtc`);
  } catch (e) {
    toast(e && e.name === "NotAllowedError" ? t("sp_no_mic") : `${t("sp_failed")}: ${e.message || e}`, "alert");
    setPhoneState("ended");
    releasePhone();
  }
}

function releasePhone() {
  if (phone.stream) for (const track of phone.stream.getTracks()) track.stop();
  if (phone.pc) phone.pc.close();
  phone.pc = null;
  phone.stream = null;
}

function closeSoftphone() {
  releasePhone();
  phone.handoffId = null;
  phone.callId = null;
  setPhoneState("idle");
}

function setPhoneState(s) {
  phone.state = s;
  const box = $("softphone");
  box.dataset.state = s;
  $("sp-state").textContent = t("sp_" + s);
  $("sp-state").className = "chip sp-" + s;
  const live = ["connected", "on_hold", "muted"].includes(s);
  for (const id of ["sp-mute", "sp-hold", "sp-transfer-open", "sp-hangup"]) $(id).disabled = !live;
  $("sp-mute").textContent = t(phone.muted ? "sp_unmute" : "sp_mute");
  $("sp-hold").textContent = t(phone.onHold ? "sp_resume" : "sp_hold");
  $("sp-connect").hidden = live || s === "connecting";
  if (!live) $("sp-transfer-form").hidden = true;
}

async function phoneAction(path, body) {
  try {
    return await api("POST", `/v1/agents/handoffs/${phone.handoffId}/${path}`, body);
  } catch (e) {
    toast(e.message, "alert");
    return null;
  }
}

async function toggleMute() {
  const r = await phoneAction("mute", { muted: !phone.muted });
  if (!r) return;
  phone.muted = r.muted;
  if (phone.stream) for (const track of phone.stream.getAudioTracks()) track.enabled = !r.muted;
  setPhoneState(r.state);
}

async function toggleHold() {
  const r = await phoneAction("hold", { on: !phone.onHold });
  if (!r) return;
  phone.onHold = r.on_hold;
  setPhoneState(r.state);
}

async function hangUp() {
  const r = await phoneAction("hangup");
  if (!r) return;
  releasePhone();
  setPhoneState("ended");
  toast(t("sp_hung_up"), "ok");
}

async function openTransfer() {
  const select = $("sp-target");
  if (phone.agents === null) {
    try {
      phone.agents = (await api("GET", "/v1/agents")).filter((a) => !state.me || a.id !== state.me.id);
    } catch {
      phone.agents = []; // only supervisors list agents: the others transfer to a skill
    }
  }
  const agents = phone.agents.map((a) => el("option", { value: "agent:" + a.id }, `${t("sp_to_agent")}: ${a.name}`));
  const topics = Object.keys(state.labels.topics || {}).map((k) =>
    el("option", { value: "topic:" + k }, `${t("sp_to_topic")}: ${label("topics", k)}`));
  select.replaceChildren(...agents, ...topics);
  $("sp-transfer-form").hidden = false;
  $("sp-note").focus();
}

async function transfer(ev) {
  ev.preventDefault();
  const [kind, id] = $("sp-target").value.split(/:(.*)/s);
  const body = { note: $("sp-note").value.trim() };
  if (kind === "agent") body.to_agent_id = id;
  else body.topic = id;
  const r = await phoneAction("transfer", body);
  if (!r) return;
  $("sp-note").value = "";
  releasePhone();
  setPhoneState("ended");
  toast(t("sp_transferred"), "ok");
}

// --- listen-in (supervisors) -----------------------------------------------------------------------
async function toggleListen() {
  if (phone.listen) return stopListening();
  const callId = state.detail && state.detail.call_id;
  if (!callId) return;
  const pc = new RTCPeerConnection({ iceServers: [] });
  phone.listen = { pc, callId };
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.createDataChannel("events");
  playRemote(pc, $("listen-audio"));
  renderListen();
  try {
    await offerTo(pc, `/v1/agents/calls/${callId}/listen`);
  } catch (e) {
    toast(e.message, "alert");
    stopListening();
  }
}

function stopListening() {
  const l = phone.listen;
  phone.listen = null;
  if (l) {
    l.pc.close();
    api("POST", `/v1/agents/calls/${l.callId}/listen/stop`).catch(() => {});
  }
  renderListen();
}

function renderListen() {
  $("listen-btn").textContent = t(phone.listen ? "sp_stop_listen" : "sp_listen");
  $("listen-btn").classList.toggle("on", !!phone.listen);
}

// --- hooks from console.js ---------------------------------------------------------------------------
function softphoneAfterAccept(d) {
  if (d && d.call && d.call.status === "active") openSoftphone(d.id, d.call_id);
}

function renderSoftphone(d) {
  const mine = d.status === "accepted" && state.me && (d.agent_id === state.me.id || state.me.role === "supervisor");
  const live = !!(d.call && d.call.status === "active");
  const ours = phone.handoffId === d.id;
  $("softphone").hidden = !(ours || (mine && live));
  if (!ours && phone.state !== "idle" && phone.handoffId === null) setPhoneState("idle");
  if (!ours) {
    $("sp-state").textContent = t("sp_idle");
    $("sp-connect").hidden = !(mine && live);
    for (const id of ["sp-mute", "sp-hold", "sp-transfer-open", "sp-hangup"]) $(id).disabled = true;
  }
  const supervisor = state.me && state.me.role === "supervisor";
  $("listen-btn").hidden = !(supervisor && live && d.status !== "waiting");
  if (phone.listen && phone.listen.callId !== d.call_id) stopListening();
  renderListen();
  const note = $("d-transfer-note");
  note.hidden = !d.transfer_note;
  note.textContent = d.transfer_note ? `${t("sp_transfer_note")}: ${d.transfer_note}` : "";
}

function softphoneCallEnded(msg) {
  if (phone.callId && msg.call_id === phone.callId) {
    releasePhone();
    setPhoneState("ended");
  }
  if (phone.listen && msg.call_id === phone.listen.callId) stopListening();
}

function startSoftphone() {
  $("sp-mute").addEventListener("click", toggleMute);
  $("sp-hold").addEventListener("click", toggleHold);
  $("sp-hangup").addEventListener("click", hangUp);
  $("sp-transfer-open").addEventListener("click", openTransfer);
  $("sp-transfer-cancel").addEventListener("click", () => ($("sp-transfer-form").hidden = true));
  $("sp-transfer-form").addEventListener("submit", transfer);
  $("sp-connect").addEventListener("click", () => state.detail && openSoftphone(state.detail.id, state.detail.call_id));
  $("listen-btn").addEventListener("click", toggleListen);
  setPhoneState("idle");
}
