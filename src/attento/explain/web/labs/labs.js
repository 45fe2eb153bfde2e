// The labs page: embeddings, being the human in RLHF, the refusal demo. Every text from the
// server is put in with textContent (never as HTML), and drawings are SVG built element by
// element.
import { STRINGS } from "./strings.js";

let lang = localStorage.getItem("attento.lang") || (navigator.language.startsWith("it") ? "it" : "en");
const $ = (id) => document.getElementById(id);
const t = (key, params = {}) =>
  (STRINGS[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ""));
const rerender = []; // redraw the current results in the new language

function el(tag, attrs = {}, ...children) {
  const svg = ["svg", "circle", "text", "line", "rect", "g"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const node of document.querySelectorAll("[data-t-placeholder]"))
    node.placeholder = t(node.dataset.tPlaceholder);
  $("lang").textContent = t("lang");
  rerender.forEach((f) => f());
}

function errorText(body) {
  const key = "err." + body.code;
  const params = { ...body.params };
  if (Array.isArray(params.available)) params.available = params.available.join(", ");
  return key in STRINGS[lang] ? t(key, params) : t("err.other", { detail: body.detail });
}

async function api(path, body, errorId) {
  const box = $(errorId);
  box.textContent = "";
  const res = await fetch("api/labs" + path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) {
    box.dataset.code = data.code;
    box.textContent = errorText(data);
    return null;
  }
  delete box.dataset.code;
  return data;
}

function lines(text) { return text.split(/\n/).map((s) => s.trim()).filter(Boolean); }
function wordsOf(text) { return text.split(/[\s,]+/).filter(Boolean); }
const embedder = () => $("emb-embedder").value;

// --- embeddings -------------------------------------------------------------------------

function heat(c) { // cosine -> background colour (blue for 1, white for 0, red below)
  const a = Math.min(1, Math.abs(c));
  return c >= 0 ? `rgba(21,101,192,${a * 0.8})` : `rgba(211,47,47,${a * 0.8})`;
}

async function runSimilarity() {
  const data = await api("/similarity", { embedder: embedder(), texts: lines($("sim-texts").value) }, "sim-error");
  const out = $("sim-out");
  out.replaceChildren();
  if (!data) return;
  const table = el("table", { class: "lab-table", id: "sim-matrix" });
  table.append(el("tr", {}, el("th"), ...data.texts.map((w) => el("th", {}, w))));
  data.matrix.forEach((row, i) => {
    table.append(el("tr", {}, el("th", {}, data.texts[i]),
      ...row.map((c) => el("td", { class: "val", style: `background:${heat(c)}` }, c.toFixed(3)))));
  });
  out.append(table);
}

async function runAnalogy() {
  const body = { embedder: embedder(), a: $("ana-a").value, b: $("ana-b").value, c: $("ana-c").value };
  const data = await api("/analogy", body, "ana-error");
  $("ana-out").replaceChildren(...(data ? data.results.map((r) => el("li", {}, `${r.word} (${r.cosine.toFixed(3)})`)) : []));
}

function scatter(points, xLabel, yLabel, id) {
  // points: [{label, x, y}] in any units; drawn with a margin, labelled
  const W = 720, H = 480, M = 50;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const span = (v) => { const lo = Math.min(...v), hi = Math.max(...v); return [lo, hi > lo ? hi : lo + 1]; };
  const [x0, x1] = span(xs), [y0, y1] = span(ys);
  const sx = (x) => M + ((x - x0) / (x1 - x0)) * (W - 2 * M);
  const sy = (y) => H - M - ((y - y0) / (y1 - y0)) * (H - 2 * M);
  const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, id, role: "img" });
  svg.append(el("line", { x1: M, y1: H - M, x2: W - M, y2: H - M, stroke: "#999" }));
  svg.append(el("line", { x1: M, y1: M, x2: M, y2: H - M, stroke: "#999" }));
  svg.append(el("text", { x: W / 2, y: H - 12, "text-anchor": "middle" }, xLabel));
  svg.append(el("text", { x: 14, y: H / 2, transform: `rotate(-90 14 ${H / 2})`, "text-anchor": "middle" }, yLabel));
  for (const p of points) {
    const g = el("g", { class: "point" });
    g.append(el("circle", { cx: sx(p.x), cy: sy(p.y), r: 4, fill: p.colour || "#3b6fb6" }));
    g.append(el("text", { x: sx(p.x) + 6, y: sy(p.y) - 6, "font-size": 13 }, p.label));
    svg.append(g);
  }
  return svg;
}

async function runAxes() {
  const body = {
    embedder: embedder(),
    words: wordsOf($("axes-words").value),
    axes: [[$("axes-x1").value, $("axes-x2").value], [$("axes-y1").value, $("axes-y2").value]],
  };
  const data = await api("/axes", body, "axes-error");
  const out = $("axes-out");
  out.replaceChildren();
  if (!data) return;
  const [ax, ay] = data.axes;
  out.append(scatter(data.points.map((p) => ({ label: p.word, x: p.coords[0], y: p.coords[1] })),
    `${ax[0]} (0) → ${ax[1]} (1)`, `${ay[0]} (0) → ${ay[1]} (1)`, "axes-plot"));
}

async function runMap() {
  const data = await api("/map", { embedder: embedder(), words: wordsOf($("map-words").value) }, "map-error");
  const out = $("map-out");
  out.replaceChildren();
  if (!data) return;
  const draw = () => {
    out.replaceChildren(scatter(data.points.map((p) => ({ label: p.word, x: p.x, y: p.y })), "PCA 1", "PCA 2", "map-plot"),
      el("p", { class: "note" }, `${t("map.explained")}: ${(data.explained * 100).toFixed(0)}%`));
  };
  draw();
  rerender.push(draw);
}

async function runBias() {
  const data = await api("/bias", { lang: $("bias-lang").value }, "bias-error");
  const out = $("bias-out");
  out.replaceChildren();
  if (!data) return;
  const W = 720, M = 30, rowH = 22, H = rowH * (data.rows.length + 1) + 50;
  const lo = Math.min(data.neutral.position, ...data.rows.map((r) => r.position));
  const hi = Math.max(data.neutral.position, ...data.rows.map((r) => r.position));
  const sx = (x) => 160 + ((x - lo) / (hi - lo || 1)) * (W - 160 - M);
  const svg = el("svg", { width: W, height: H, id: "bias-plot", role: "img" });
  const mid = sx(data.neutral.position);
  svg.append(el("line", { x1: mid, y1: 10, x2: mid, y2: H - 30, stroke: "#999", "stroke-dasharray": "4 3" }));
  svg.append(el("text", { x: mid, y: H - 12, "text-anchor": "middle", class: "neutral" },
    `${data.neutral.word} (${t("bias.neutral")})`));
  svg.append(el("text", { x: 160, y: H - 12 }, `← ${data.axis[0]}`));
  svg.append(el("text", { x: W - M, y: H - 12, "text-anchor": "end" }, `${data.axis[1]} →`));
  data.rows.forEach((r, i) => {
    const y = 20 + i * rowH;
    const g = el("g", { class: "bias-row" });
    g.append(el("text", { x: 150, y: y + 4, "text-anchor": "end" }, r.word));
    g.append(el("line", { x1: mid, y1: y, x2: sx(r.position), y2: y, stroke: r.lean < 0 ? "#1565c0" : "#c2185b", "stroke-width": 8 }));
    svg.append(g);
  });
  out.append(el("p", { class: "note" }, data.model), svg);
}

// --- RLHF -------------------------------------------------------------------------------

let sampled = null; // {prompt, answers, token}: what the server sampled, and its signature

function answerItems() { return [...$("rlhf-answers").children]; }

function showAnswers() {
  const list = $("rlhf-answers");
  list.replaceChildren();
  sampled.answers.forEach((a, i) => {
    const li = el("li", { tabindex: 0, draggable: "true", "data-index": i }, a || "∅");
    li.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
      e.preventDefault();
      const other = e.key === "ArrowUp" ? li.previousElementSibling : li.nextElementSibling;
      if (!other) return;
      e.key === "ArrowUp" ? other.before(li) : other.after(li);
      li.focus();
    });
    li.addEventListener("dragstart", (e) => { li.classList.add("dragging"); e.dataTransfer.setData("text/plain", String(i)); });
    li.addEventListener("dragend", () => li.classList.remove("dragging"));
    li.addEventListener("dragover", (e) => e.preventDefault());
    li.addEventListener("drop", (e) => {
      e.preventDefault();
      const moved = list.querySelector(".dragging");
      if (!moved || moved === li) return;
      const below = e.clientY > li.getBoundingClientRect().top + li.offsetHeight / 2;
      below ? li.after(moved) : li.before(moved);
    });
    list.append(li);
  });
  $("rlhf-save").disabled = false;
}

let seed = 0;
async function runSample() {
  const data = await api("/sample", { prompt: $("rlhf-prompt").value, k: Number($("rlhf-k").value), seed: seed++ }, "rlhf-error");
  $("rlhf-saved").textContent = "";
  if (!data) return;
  sampled = data;
  showAnswers();
}

async function saveRanking() {
  const order = answerItems().map((li) => Number(li.dataset.index));
  const body = { ...sampled, order, who: $("rlhf-who").value };
  const data = await api("/rank", body, "rlhf-error");
  if (!data) return;
  $("rlhf-saved").textContent = t("rlhf.saved", data);
  $("rlhf-save").disabled = true;
}

async function runCompare() {
  const data = await api("/compare", { prompt: $("rlhf-prompt").value }, "cmp-error");
  const table = $("cmp-out");
  table.replaceChildren();
  if (!data) return;
  const score = (r) => (r === null ? "—" : r.toFixed(3));
  table.append(el("tr", {}, el("th"), el("th", {}, t("cmp.answer")), el("th", {}, t("cmp.reward"))));
  for (const key of ["before", "after"])
    table.append(el("tr", { class: key }, el("th", {}, t("cmp." + key)), el("td", {}, data[key].answer || "∅"),
      el("td", { class: "val" }, score(data[key].reward))));
}

// --- refusal ----------------------------------------------------------------------------

let report = null;
function drawRefusal() {
  if (!report) return;
  const pct = (x) => `${Math.round(x * 100)}%`;
  $("ref-rates").replaceChildren(
    el("tr", {}, el("th", {}, t("ref.stage")), el("th", {}, t("ref.refusal")), el("th", {}, t("ref.over"))),
    ...report.stages.map((s) => el("tr", {}, el("td", {}, t("stage." + s.name)),
      el("td", { class: "val" }, pct(s.refusal_rate_harmful)), el("td", { class: "val" }, pct(s.over_refusal_rate_harmless)))),
  );
  const names = report.stages.map((s) => s.name);
  const want = $("ref-lang").value;
  const rows = report.rows.filter((r) => !want || r.lang === want);
  $("ref-rows").replaceChildren(
    el("tr", {}, el("th", {}, t("ref.prompt")), el("th", {}, t("ref.kind")), ...names.map((n) => el("th", {}, t("stage." + n)))),
    ...rows.map((r) => el("tr", { "data-lang": r.lang }, el("td", {}, r.prompt), el("td", {}, t("ref." + r.kind)),
      ...names.map((n) => el("td", { class: r.answers[n]?.refused ? "refused" : "" }, r.answers[n]?.answer ?? "")))),
  );
}

async function loadRefusal() {
  report = await api("/refusal", undefined, "ref-error");
  drawRefusal();
}

// --- start --------------------------------------------------------------------------------

function showTab(name) {
  for (const b of document.querySelectorAll("[data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const s of document.querySelectorAll("section.lab")) s.hidden = s.id !== "tab-" + name;
  location.hash = name;
}

async function start() {
  const info = await api("", undefined, "sim-error");
  for (const name of info.embedders) $("emb-embedder").append(el("option", { value: name }, name));
  const status = () => {
    $("rlhf-status").textContent = info.rlhf.chat
      ? t("rlhf.ready") + (info.rlhf.rankings ? "" : " " + t("rlhf.norankings"))
      : t("rlhf.nochat");
  };
  rerender.push(status, drawRefusal);
  $("lang").addEventListener("click", () => {
    lang = lang === "it" ? "en" : "it";
    localStorage.setItem("attento.lang", lang);
    translate();
  });
  for (const b of document.querySelectorAll("[data-tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("sim-run").addEventListener("click", runSimilarity);
  $("ana-run").addEventListener("click", runAnalogy);
  $("axes-run").addEventListener("click", runAxes);
  $("map-run").addEventListener("click", runMap);
  $("bias-run").addEventListener("click", runBias);
  $("rlhf-sample").addEventListener("click", runSample);
  $("rlhf-save").addEventListener("click", saveRanking);
  $("cmp-run").addEventListener("click", runCompare);
  $("ref-lang").addEventListener("change", drawRefusal);
  translate();
  showTab(["emb", "rlhf", "refusal"].includes(location.hash.slice(1)) ? location.hash.slice(1) : "emb");
  if (info.refusal) await loadRefusal();
  else $("ref-error").textContent = t("err.no_refusal_report");
  document.body.dataset.busy = "0";
}

start();
