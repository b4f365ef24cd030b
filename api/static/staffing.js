// Operations page, forecast tab: the half-hour forecast with its held-out error, and the agents
// each half hour needs (GET /v1/staffing/plan), as tiles, an SVG chart and a table.
"use strict";

const st = { plan: null };

function pct(x) {
  return x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%";
}

function stTile(label, value, id) {
  const div = node("div", null, "sv-tile");
  const v = node("span", value, "sv-v");
  v.id = id;
  div.append(v, node("span", label, "sv-l"));
  return div;
}

function renderPlan() {
  const p = st.plan;
  const legend = byId("st-legend");
  legend.replaceChildren();
  for (const [k, d] of [["st_calls", "st_def_forecast"], ["st_mae", "st_def_error"], ["st_agents", "st_def_agents"], ["st_containment_v", "st_def_containment"]]) {
    legend.append(node("dt", tr(k)), node("dd", tr(d)));
  }
  if (!p) return;
  const peak = Math.max(0, ...p.slots.map((s) => s.agents));
  const summary = byId("st-summary");
  summary.replaceChildren(
    stTile(tr("st_mae"), p.mae === null ? "–" : p.mae.toFixed(2), "st-mae"),
    stTile(tr("st_mape"), pct(p.mape), "st-mape"),
    stTile(tr("st_containment_v"), pct(p.containment), "st-containment-v"),
    stTile(tr("st_aht_v"), Math.round(p.aht_s) + " s", "st-aht-v"),
    stTile(tr("st_peak"), String(peak), "st-peak"),
    stTile(tr("st_model"), p.model === "erlang_a" ? "Erlang A" : "Erlang C", "st-model"),
  );
  renderChart(p, peak);
  const table = byId("st-table");
  table.replaceChildren();
  const head = node("tr");
  for (const k of ["st_time", "st_calls", "st_agent_calls", "st_agents", "st_sl_v", "st_asa", "st_abandon", "st_occupancy"]) head.append(node("th", tr(k)));
  table.append(head);
  for (const s of p.slots) {
    const row = node("tr");
    row.append(node("td", localTime(s.start)), node("td", s.calls.toFixed(1)), node("td", s.agent_calls.toFixed(1)),
      node("td", String(s.agents)), node("td", pct(s.service_level)), node("td", s.asa_s === null ? "–" : s.asa_s.toFixed(1)),
      node("td", pct(s.abandon_rate)), node("td", pct(s.occupancy)));
    table.append(row);
  }
}

function renderChart(p, peak) {
  const svgNS = "http://www.w3.org/2000/svg";
  const w = 4, h = 160, pad = 24;
  const maxCalls = Math.max(1, ...p.slots.map((s) => s.calls));
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("width", String(p.slots.length * w + pad * 2));
  svg.setAttribute("height", String(h + pad * 2));
  svg.setAttribute("id", "st-svg");
  p.slots.forEach((s, i) => {
    const bar = document.createElementNS(svgNS, "rect");
    const bh = (s.calls / maxCalls) * h;
    bar.setAttribute("x", String(pad + i * w));
    bar.setAttribute("y", String(pad + h - bh));
    bar.setAttribute("width", String(w - 1));
    bar.setAttribute("height", String(bh));
    bar.setAttribute("fill", "#9ec5fe");
    const title = document.createElementNS(svgNS, "title");
    title.textContent = `${localTime(s.start)}: ${s.calls.toFixed(1)} · ${s.agents}`;
    bar.append(title);
    svg.append(bar);
  });
  const line = document.createElementNS(svgNS, "polyline");
  line.setAttribute("points", p.slots.map((s, i) => `${pad + i * w + w / 2},${pad + h - (s.agents / Math.max(1, peak)) * h}`).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#d92d20");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  for (const [y, text] of [[pad - 6, `${tr("st_calls")} ≤ ${maxCalls.toFixed(0)} · ${tr("st_agents")} ≤ ${peak}`]]) {
    const label = document.createElementNS(svgNS, "text");
    label.setAttribute("x", String(pad));
    label.setAttribute("y", String(y));
    label.setAttribute("class", "sv-axis");
    label.textContent = text;
    svg.append(label);
  }
  byId("st-chart").replaceChildren(svg);
}

async function runPlan(ev) {
  if (ev) ev.preventDefault();
  const q = new URLSearchParams({
    days: byId("st-days").value, holdout_days: byId("st-holdout").value,
    target_s: byId("st-target").value, service_level: byId("st-sl").value,
  });
  for (const [id, key] of [["st-aht", "aht_s"], ["st-patience", "patience_s"], ["st-containment", "containment"]]) {
    if (byId(id).value) q.set(key, byId(id).value);
  }
  byId("st-error").textContent = "";
  try {
    st.plan = await opFetch("/v1/staffing/plan?" + q.toString());
  } catch (e) {
    st.plan = null;
    byId("st-error").textContent = e.message;
  }
  renderPlan();
}

async function importCsv() {
  // A new deployment has no recorded calls: past half-hour volumes ("start,calls") from a CSV.
  const file = byId("st-csv").files[0];
  if (!file) return;
  const res = await fetch("/v1/staffing/volumes", {
    method: "POST", headers: { Authorization: "Bearer " + op.token, "Content-Type": "text/csv" }, body: await file.text(),
  });
  const body = await res.json().catch(() => ({}));
  byId("st-error").textContent = res.ok ? tr("st_imported", { rows: body.rows, imported: body.imported }) : String(body.detail || res.statusText);
}

document.addEventListener("DOMContentLoaded", () => {
  byId("st-form").addEventListener("submit", runPlan);
  byId("st-import").addEventListener("click", importCsv);
  op.onLang.push(renderPlan);
});
