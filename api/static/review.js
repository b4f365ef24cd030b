// Supervisor page, review tab: calls the bot probably got wrong (/v1/review), each with the
// bot's topic, urgency and answer preselected; the supervisor corrects what is wrong and saves
// in one click (POST /v1/review/{call_id}). Exports: NLU training rows and KB corrections.
"use strict";

const rv = { items: [], options: null, loaded: false };

function labelOf(section, code) {
  const entry = rv.options && rv.options.labels[section] && rv.options.labels[section][code];
  return entry ? entry[sv.lang] || entry.en : code;
}

function select(section, chosen, withEmpty) {
  const node = document.createElement("select");
  node.dataset.field = section;
  const codes = Object.keys((rv.options && rv.options.labels[section]) || {});
  if (withEmpty) node.append(new Option("–", ""));
  for (const code of codes) node.append(new Option(labelOf(section, code), code));
  node.value = chosen && codes.includes(chosen) ? chosen : withEmpty ? "" : codes[0] || "";
  return node;
}

function entrySelect(chosen) {
  const node = document.createElement("select");
  node.dataset.field = "kb_entry_id";
  node.append(new Option(t("rv_no_entry"), ""));
  const entries = (rv.options && rv.options.kb_entries) || [];
  for (const e of entries) node.append(new Option(`${e.id} · ${e.question}`, e.id));
  if (chosen && !entries.some((e) => e.id === chosen)) node.append(new Option(chosen, chosen));
  node.value = chosen || "";
  return node;
}

function field(labelKey, control) {
  const label = document.createElement("label");
  const span = document.createElement("span");
  span.textContent = t(labelKey);
  label.append(span, control);
  return label;
}

function renderReview() {
  const list = $("rv-list");
  list.replaceChildren();
  $("rv-count").textContent = rv.items.length;
  $("rv-empty").hidden = rv.items.length > 0;
  for (const item of rv.items) {
    const li = document.createElement("li");
    li.className = "rv-item";
    li.dataset.call = item.call_id;
    const head = document.createElement("div");
    head.className = "rv-head";
    for (const reason of item.reasons) {
      const badge = document.createElement("span");
      badge.className = "badge rv-reason";
      badge.textContent = t("rv_reason_" + reason);
      head.append(badge);
    }
    const meta = document.createElement("span");
    meta.className = "muted small";
    const bits = [new Date(item.started_at).toLocaleString(sv.lang === "zh" ? "zh-CN" : "en-GB")];
    if (item.confidence !== null) bits.push(`${t("rv_confidence")} ${item.confidence.toFixed(2)}`);
    if (item.rating !== null) bits.push(`${t("rv_rating")} ${item.rating}`);
    meta.textContent = bits.join(" · ");
    head.append(meta);
    const asked = document.createElement("p");
    asked.className = "rv-q";
    asked.textContent = `${t("rv_asked")}: ${item.question}`;
    const bot = document.createElement("p");
    bot.className = "muted";
    bot.textContent = `${t("rv_bot")}: ${item.bot_answer || "–"}${item.bot_kb_entry_id ? ` (${item.bot_kb_entry_id})` : ""}`;
    const form = document.createElement("div");
    form.className = "rv-form";
    form.append(
      field("rv_topic", select("topics", item.bot_topic, true)),
      field("rv_urgency", select("urgency", item.bot_urgency || "routine", false)),
      field("rv_request_type", select("request_types", item.bot_request_type, true)),
      field("rv_answer", entrySelect(item.bot_kb_entry_id)),
    );
    const save = document.createElement("button");
    save.type = "button";
    save.className = "primary rv-save";
    save.textContent = t("rv_save");
    save.addEventListener("click", () => saveLabel(item, li, save));
    form.append(save);
    li.append(head, asked, bot, form);
    list.append(li);
  }
}

async function saveLabel(item, li, button) {
  const value = (name) => li.querySelector(`[data-field=${name}]`).value || null;
  const body = {
    topic: value("topics"),
    urgency: value("urgency"),
    request_type: value("request_types"),
    kb_entry_id: value("kb_entry_id"),
  };
  button.disabled = true;
  try {
    const res = await fetch(`/v1/review/${item.call_id}`, {
      method: "POST",
      headers: { Authorization: "Bearer " + sv.token, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await res.json();
    if (!res.ok) throw new Error(typeof data.detail === "string" ? data.detail : res.statusText);
    rv.items = rv.items.filter((x) => x.call_id !== item.call_id);
    $("rv-status").textContent = t(data.kb_correction ? "rv_saved_kb" : "rv_saved");
    $("rv-status").className = "small rv-ok";
    renderReview();
  } catch (e) {
    $("rv-status").textContent = e.message;
    $("rv-status").className = "small error";
    button.disabled = false;
  }
}

async function loadReview() {
  try {
    if (!rv.options) rv.options = await (await svFetch("/v1/review/options")).json();
    rv.items = (await (await svFetch("/v1/review")).json()).items;
    rv.loaded = true;
    renderReview();
  } catch (e) {
    $("rv-status").textContent = e.message;
    $("rv-status").className = "small error";
  }
}

async function exportReview(kind) {
  try {
    const blob = await (await svFetch(`/v1/review/export?kind=${kind}`)).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `review_${kind}.jsonl`;
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    $("rv-status").textContent = e.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("rv-export-nlu").addEventListener("click", () => exportReview("nlu"));
  $("rv-export-kb").addEventListener("click", () => exportReview("kb"));
  sv.onTab.push((name) => {
    if (name === "review") loadReview();
  });
  sv.onLang.push(() => {
    if (rv.loaded) renderReview();
  });
});
