// Supervisor page, report tab: a period and a grouping -> /v1/reports; a table of every measure,
// a stacked bar chart (SVG, no library) of contained / handed off calls per group, CSV and Excel export.
"use strict";

const rp = { report: null };
const MEASURE_COLS = [
  "offered", "contained", "handed_off", "answered", "abandoned", "callbacks", "service_level", "asa_s",
  "abandonment_rate", "containment", "emergencies", "emergency_to_person_avg_s", "emergency_to_person_max_s",
  "repeat_calls", "repeat_rate", "wo_opened", "wo_closed", "wo_overdue", "rated", "satisfaction_avg",
  "satisfied_share",
];
const SVG_NS = "http://www.w3.org/2000/svg";

function isoDay(d) {
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

function reportQuery(format) {
  const q = new URLSearchParams({ from: $("rp-from").value, to: $("rp-to").value, by: $("rp-by").value });
  if (format) q.set("format", format);
  return "/v1/reports?" + q.toString();
}

function keyLabel(key) {
  if (key === null) return t("rp_none");
  const labels = (rp.report && rp.report.labels) || {};
  return labels[key] || key;
}

async function runReport(ev) {
  if (ev) ev.preventDefault();
  $("rp-error").textContent = "";
  try {
    rp.report = await (await svFetch(reportQuery())).json();
  } catch (e) {
    $("rp-error").textContent = e.message;
    return;
  }
  renderReport();
}

function renderReport() {
  const table = $("rp-table");
  table.replaceChildren();
  const r = rp.report;
  renderLegend($("rp-legend"), MEASURE_COLS);
  if (!r) return;
  const head = table.createTHead().insertRow();
  for (const name of ["group", ...MEASURE_COLS]) {
    const th = document.createElement("th");
    th.textContent = name === "group" ? t("by_" + r.options.by) : t("m_" + name);
    if (name !== "group") th.title = definition(name);
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of [...r.rows, { ...r.total, key: "__total" }]) {
    const tr = body.insertRow();
    if (row.key === "__total") tr.className = "sv-total";
    const cell = tr.insertCell();
    cell.textContent = row.key === "__total" ? t("rp_total") : keyLabel(row.key);
    for (const name of MEASURE_COLS) {
      const td = tr.insertCell();
      td.dataset.m = name;
      td.textContent = fmt(name, row[name]);
    }
  }
  renderChart(r.rows);
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderChart(rows) {
  const box = $("rp-chart");
  box.replaceChildren();
  if (!rows.length) return;
  const W = Math.max(600, rows.length * 36 + 80), H = 260, left = 50, bottom = 60, top = 24;
  const max = Math.max(1, ...rows.map((r) => r.offered));
  const scale = (H - bottom - top) / max;
  const bw = Math.max(6, (W - left - 10) / rows.length - 8);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
  chart.append(svg("line", { x1: left, y1: H - bottom, x2: W, y2: H - bottom, stroke: "#98a2b3" }));
  for (const f of [0, 0.5, 1]) {
    const y = H - bottom - f * max * scale;
    chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "sv-axis" }, Math.round(f * max)));
  }
  rows.forEach((r, i) => {
    const x = left + 6 + i * (bw + 8);
    const parts = [
      ["contained", r.contained, "#079455"],
      ["handed_off", r.handed_off, "#2457d6"],
      ["other", Math.max(0, r.offered - r.contained - r.handed_off), "#d0d5dd"],
    ];
    let y = H - bottom;
    for (const [name, v, colour] of parts) {
      const h = v * scale;
      y -= h;
      const rect = svg("rect", { x, y, width: bw, height: h, fill: colour, "data-series": name });
      rect.append(svg("title", {}, `${keyLabel(r.key)} · ${t(name === "other" ? "rp_other" : "m_" + name)} ${v}`));
      chart.append(rect);
    }
    chart.append(svg("text", { x: x + bw / 2, y: y - 4, "text-anchor": "middle", class: "sv-bar-v" }, r.offered));
    const label = svg("text", { x: x + bw / 2, y: H - bottom + 12, class: "sv-axis",
      transform: `rotate(35 ${x + bw / 2} ${H - bottom + 12})` }, String(keyLabel(r.key)).slice(0, 16));
    chart.append(label);
  });
  const legend = [["m_contained", "#079455"], ["m_handed_off", "#2457d6"], ["rp_other", "#d0d5dd"]];
  legend.forEach(([key, colour], i) => {
    chart.append(svg("rect", { x: left + i * 170, y: 4, width: 12, height: 12, fill: colour }));
    chart.append(svg("text", { x: left + 16 + i * 170, y: 14, class: "sv-axis" }, t(key)));
  });
  box.append(chart);
}

async function download(format) {
  $("rp-error").textContent = "";
  try {
    const res = await svFetch(reportQuery(format));
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `report_${$("rp-by").value}_${$("rp-from").value}_${$("rp-to").value}.${format}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  } catch (e) {
    $("rp-error").textContent = e.message;
  }
}

function fillBy() {
  const select = $("rp-by");
  const chosen = select.value || "day";
  select.replaceChildren();
  for (const by of (sv.defs && sv.defs.groupings) || ["day"]) {
    const o = document.createElement("option");
    o.value = by;
    o.textContent = t("by_" + by);
    select.append(o);
  }
  select.value = chosen;
}

document.addEventListener("DOMContentLoaded", () => {
  const today = new Date();
  $("rp-to").value = isoDay(today);
  $("rp-from").value = isoDay(new Date(today.getTime() - 6 * 86400000));
  $("rp-form").addEventListener("submit", runReport);
  $("rp-csv").addEventListener("click", () => download("csv"));
  $("rp-xlsx").addEventListener("click", () => download("xlsx"));
  sv.onLang.push(() => {
    fillBy();
    renderReport();
  });
});
