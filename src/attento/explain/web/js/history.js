// Watching a model learn (history.html): a slider over the snapshots a run kept
// (attento train --keep-checkpoints N), the loss curve from its log.csv with a cursor at that
// step, and for the same prompt what the model computed at that step: its next-token
// probabilities and its attention (POST /api/history, /api/snapshot; history_view.py).
import { probBars, samplingControls, DEFAULT_SETTINGS } from "./bars.js";
import { el, heatmap, html, pct, showToken } from "./draw.js";
import { addFigureButtons } from "./export.js";
import { chooseLanguage, getLanguage, pageStrings, setLanguage } from "./i18n.js";
import "./strings-teach.js";
import { decodeAll } from "./tensor.js";

const STR = {
  it: {
    lang: "English",
    "nav.main": "← Explainer",
    "nav.encoder": "GPT e BERT",
    title: "Come impara un modello: lo stesso prompt lungo l'addestramento",
    intro: "Un modello appena creato ha pesi casuali: le sue probabilità sono quasi uniformi e la sua attenzione è sparsa. Ogni passo di addestramento corregge un po' i pesi per abbassare la loss. Sposta il cursore: vedi la curva della loss e che cosa calcola il modello a quel passo.",
    model: "Modello (con una storia di addestramento)",
    prompt: "Prompt",
    run: "Calcola",
    curve: "La curva della loss",
    "curve.explain": "La linea è la loss sui dati di addestramento, i punti quella sui dati di validazione (testo mai visto); il cursore verticale è il passo scelto. Ogni passo vede un batch di esempi e aggiorna i pesi.",
    step: "Passo di addestramento",
    "at.step": "Il modello a questo passo",
    "at.explain": "A sinistra le probabilità del token successivo (dai logit esatti di quel passo, con gli stessi cursori del passo finale); a destra l'attenzione di un blocco e di una testa.",
    next: "Dopo «{t}», al passo {step}",
    block: "Blocco",
    head: "Testa",
    train: "loss di addestramento",
    val: "loss di validazione",
    temperature: "Temperatura",
    topk: "Top-k",
    topp: "Top-p",
    off: "spento",
    "no.history": "Nessun modello del catalogo ha una storia: addestrane uno con attento train --keep-checkpoints N.",
    error: "Errore: {e}",
  },
  en: {
    lang: "Italiano",
    "nav.main": "← Explainer",
    "nav.encoder": "GPT and BERT",
    title: "Watching a model learn: the same prompt along its training",
    intro: "A freshly made model has random weights: its probabilities are almost uniform and its attention is spread out. Each training step corrects the weights a little to lower the loss. Move the slider: you see the loss curve and what the model computes at that step.",
    model: "Model (with a training history)",
    prompt: "Prompt",
    run: "Compute",
    curve: "The loss curve",
    "curve.explain": "The line is the loss on the training data, the dots the loss on validation data (text never seen); the vertical cursor is the chosen step. Each step sees one batch of examples and updates the weights.",
    step: "Training step",
    "at.step": "The model at this step",
    "at.explain": "Left, the next-token probabilities (from that step's exact logits, with the final step's sliders); right, the attention of one block and head.",
    next: "After “{t}”, at step {step}",
    block: "Block",
    head: "Head",
    train: "training loss",
    val: "validation loss",
    temperature: "Temperature",
    topk: "Top-k",
    topp: "Top-p",
    off: "off",
    "no.history": "No model in the catalog has a history: train one with attento train --keep-checkpoints N.",
    error: "Error: {e}",
  },
};

const s = pageStrings(STR);

const $ = (q) => document.querySelector(q);
const state = { model: null, history: null, index: 0, view: null, pick: { layer: 0, head: 0 }, settings: { ...DEFAULT_SETTINGS }, generation: 0, views: new Map() };
const page = { state };
window.attentoHistory = page; // for the end-to-end tests and the curious

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`);
  return data;
}

function translate() {
  document.documentElement.lang = getLanguage();
  for (const e of document.querySelectorAll("[data-s]")) e.textContent = s(e.dataset.s);
  $("#lang").textContent = s("lang");
}

function showError(e) {
  $("#error").hidden = !e;
  $("#error").textContent = e ? s("error", { e: e.message }) : "";
}

// the loss curve as SVG: training loss a line, validation loss dots, a cursor at `step`
function curve(log, step) {
  const ns = "http://www.w3.org/2000/svg";
  const W = 720;
  const H = 220;
  const pad = { l: 44, r: 12, t: 10, b: 28 };
  const pts = log.step.map((x, i) => [x, log.train_loss[i], log.val_loss[i]]);
  const ys = pts.flatMap(([, a, b]) => [a, b]).filter((v) => v !== null);
  const xMax = Math.max(1, ...log.step, ...state.history.steps);
  const yMin = Math.min(...ys, Infinity);
  const yMax = Math.max(...ys, -Infinity);
  const lo = Number.isFinite(yMin) ? yMin : 0;
  const hi = Number.isFinite(yMax) && yMax > lo ? yMax : lo + 1;
  const X = (x) => pad.l + ((W - pad.l - pad.r) * x) / xMax;
  const Y = (y) => pad.t + ((H - pad.t - pad.b) * (hi - y)) / (hi - lo);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "loss-curve");
  svg.setAttribute("role", "img");
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  add("line", { x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b, class: "axis" });
  add("line", { x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b, class: "axis" });
  for (const v of [lo, (lo + hi) / 2, hi]) add("text", { x: pad.l - 4, y: Y(v) + 4, "text-anchor": "end", class: "tick" }, v.toFixed(2));
  for (const v of [0, xMax]) add("text", { x: X(v), y: H - 8, "text-anchor": "middle", class: "tick" }, String(v));
  const train = pts.filter(([, a]) => a !== null).map(([x, a]) => `${X(x).toFixed(1)},${Y(a).toFixed(1)}`);
  add("polyline", { points: train.join(" "), class: "train-line" });
  for (const [x, , b] of pts) if (b !== null) add("circle", { cx: X(x), cy: Y(b), r: 3.5, class: "val-dot" });
  for (const x of state.history.steps) add("line", { x1: X(x), y1: H - pad.b, x2: X(x), y2: H - pad.b + 5, class: "snap-tick" });
  add("line", { x1: X(step), y1: pad.t, x2: X(step), y2: H - pad.b, class: "cursor", id: "cursor", "data-step": step });
  const box = el("figure", { class: "curve-fig" }, svg);
  box.append(el("figcaption", { class: "meta" }, el("span", { class: "key train", text: `— ${s("train")}` }), " ", el("span", { class: "key val", text: `● ${s("val")}` })));
  return box;
}

function renderAtStep() {
  const v = state.view;
  if (!v) return;
  const step = state.history.steps[state.index];
  $("#step-out").textContent = String(step);
  $("#v-curve").replaceChildren(curve(state.history.log, step));
  const vocab = v.final.logits.data.length;
  $("#v-controls").replaceChildren(samplingControls(state.settings, { temperature: s("temperature"), topk: s("topk"), topp: s("topp"), off: s("off") }, vocab, renderBars));
  renderBars();
  renderAttention();
}

function renderBars() {
  const v = state.view;
  const last = v.attention.tokens[v.attention.tokens.length - 1];
  const box = el("div", { id: "probs-at-step", "data-step": String(v.step) }, el("h3", { text: s("next", { t: showToken(last.text), step: v.step }) }), probBars(v.final.logits.data, v.final.top, state.settings));
  $("#v-probs").replaceChildren(box);
}

function renderAttention() {
  const a = state.view.attention;
  const pick = state.pick;
  pick.layer = Math.min(pick.layer, a.n_layer - 1);
  pick.head = Math.min(pick.head, a.n_head - 1);
  const labels = a.tokens.map((tk) => showToken(tk.text));
  const choose = (id, label, n, value, onChange) => {
    const sel = el("select", { id }, ...Array.from({ length: n }, (_, i) => el("option", { value: String(i), text: String(i) })));
    sel.value = String(value);
    sel.addEventListener("change", () => onChange(Number(sel.value)));
    return el("label", { class: "ctl-inline" }, `${label} `, sel);
  };
  const fig = heatmap(a.weights.mat(pick.layer, pick.head), {
    rowLabels: labels,
    cmap: "seq",

    maxWidth: Math.max(240, $("#v-attn").clientWidth - 8),
    maxCellW: 26,
    masked: (r, c) => c > r,
    describe: (r, c, w, isMasked) => html`«${labels[r]}» (${r}) → «${labels[c]}» (${c})<br>${isMasked ? "—" : pct(w)}`,
  });
  $("#v-attn").replaceChildren(
    el("div", { class: "pane-head" }, choose("h-layer", s("block"), a.n_layer, pick.layer, (x) => ((pick.layer = x), renderAttention())), choose("h-head", s("head"), a.n_head, pick.head, (x) => ((pick.head = x), renderAttention()))),
    fig,
  );
}

// the model at snapshot `index` for the prompt; answers are kept per (step, prompt)
async function showStep(index) {
  state.index = index;
  const step = state.history.steps[index];
  const prompt = $("#prompt").value;
  const key = `${state.model}|${step}|${prompt}`;
  const generation = ++state.generation;
  document.body.dataset.busy = "1";
  try {
    if (!state.views.has(key)) state.views.set(key, decodeAll(await api("/api/snapshot", { model: state.model, step, prompt })));
    if (generation !== state.generation) return;
    state.view = state.views.get(key);
    showError(null);
    renderAtStep();
  } catch (e) {
    showError(e);
  } finally {
    if (generation === state.generation) document.body.dataset.busy = "0";
  }
}

async function openModel(name) {
  state.model = name;
  state.views = new Map();
  state.history = await api("/api/history", { model: name });
  const slider = $("#step");
  slider.max = String(state.history.steps.length - 1);
  slider.value = slider.max;
  await showStep(state.history.steps.length - 1);
}

async function main() {
  setLanguage(chooseLanguage(null));
  translate();
  const params = new URLSearchParams(location.search);
  try {
    const data = await api("/api/models");
    const histories = data.models.filter((m) => m.snapshots > 0 && m.decoder_only);
    if (!histories.length) throw new Error(s("no.history"));
    const name = histories.some((m) => m.name === params.get("model")) ? params.get("model") : histories[0].name;
    const facts = histories.find((m) => m.name === name);
    if (!localStorage.getItem("attento.lang")) setLanguage(chooseLanguage(facts.language));
    translate();
    $("#model").replaceChildren(...histories.map((m) => el("option", { value: m.name, text: `${m.name} · ${m.snapshots} snapshot` })));
    $("#model").value = name;
    $("#prompt").value = params.get("prompt") ?? facts.prompt ?? "";
    await openModel(name);
  } catch (e) {
    showError(e);
  }
  $("#step").addEventListener("input", (e) => showStep(Number(e.target.value)));
  $("#form").addEventListener("submit", (e) => {
    e.preventDefault();
    showStep(state.index);
  });
  $("#model").addEventListener("change", async (e) => {
    const facts = (await api("/api/models")).models.find((m) => m.name === e.target.value);
    $("#prompt").value = facts?.prompt ?? $("#prompt").value;
    openModel(e.target.value).catch(showError);
  });
  $("#lang").addEventListener("click", () => {
    const next = getLanguage() === "it" ? "en" : "it";
    localStorage.setItem("attento.lang", next);
    setLanguage(next);
    translate();
    renderAtStep();
  });
  addFigureButtons();
  document.body.dataset.busy = "0";
}

main();
