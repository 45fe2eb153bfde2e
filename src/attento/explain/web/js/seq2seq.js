// The encoder–decoder at work (seq2seq.html): the encoder reads the source once with
// bidirectional self-attention; the decoder writes the target one token at a time, with
// masked self-attention over what it wrote and cross-attention over the source (which input
// token each output token reads); then the next token's probabilities with the final step's
// sliders. Every number is the model's own (POST /api/seq2seq, seq2seq_view.py); the steps
// are the generation loop's, so the page writes what `transduce` writes.
import { probBars, samplingControls, samplingOf, DEFAULT_SETTINGS } from "./bars.js";
import { colour, el, hideTip, html, pct, showTip, showToken, tokenChip } from "./draw.js";
import { addFigureButtons } from "./export.js";
import { chooseLanguage, getLanguage, pageStrings, setLanguage } from "./i18n.js";
import "./strings-teach.js";
import { decodeAll } from "./tensor.js";

const STR = {
  it: {
    lang: "English",
    "nav.main": "← Explainer",
    "nav.history": "Come impara",
    title: "L'encoder–decoder: leggere una sequenza, scriverne un'altra",
    course:
      "Nel paradigma <b>encoder–decoder</b> originale, l'encoder produce rappresentazioni ricche del testo in input, mentre il decoder genera l'output <b>condizionato sull'encoder</b>. Qui il Transformer del 2017 scrive un numero in lettere: l'encoder legge le cifre, il decoder scrive le lettere una alla volta e, a ogni passo, guarda le cifre con la <b>cross-attention</b>.",
    model: "Modello",
    source: "Sequenza in ingresso (per il modello incluso: un numero da 0 a 9999)",
    read: "Leggi",
    hint: "L'encoder legge tutto l'input una volta sola; poi il decoder scrive, un token per volta, finché non scrive <eos>.",
    output: "L'uscita, un token alla volta",
    "output.explain":
      "Il decoder parte da <bos> e a ogni passo aggiunge un token, come GPT: «Un token» ne scrive uno (greedy: il più probabile; altrimenti il dado con il seme scelto), «Fino alla fine» continua fino a <eos>.",
    step: "Un token",
    all: "Fino alla fine",
    back: "Indietro",
    greedy: "greedy",
    seed: "seme",
    written: "scritto finora",
    done: "Risposta completa: il decoder ha scritto <eos>.",
    full: "Il contesto del decoder è pieno.",
    encoder: "Encoder: self-attention bidirezionale sull'input",
    "encoder.explain":
      "Ogni riga è un token dell'input che guarda (query), ogni colonna un token guardato (key); ogni riga somma a 100%. Nessuna maschera: ogni cifra vede anche quelle dopo, come in BERT.",
    decoder: "Decoder: self-attention mascherata e cross-attention",
    "decoder.explain":
      "A sinistra il decoder guarda ciò che ha già scritto: le celle tratteggiate sono il futuro, nascosto dalla maschera causale (come in GPT). A destra la cross-attention: le righe sono i token dell'uscita, le colonne i token dell'ingresso; ogni riga dice quali cifre quel token sta leggendo.",
    "self.title": "self-attention mascherata (uscita → uscita)",
    "cross.title": "cross-attention (uscita → ingresso)",
    "enc.title": "self-attention (ingresso → ingresso)",
    reads: "«{t}» legge soprattutto «{s}» ({p})",
    final: "L'ultimo passo: il prossimo token",
    "final.explain":
      "Le probabilità del token dopo l'ultimo scritto vengono dai logit esatti del modello; i cursori li trasformano come nel passo finale dell'explainer. Il prossimo «Un token» sceglie con queste impostazioni.",
    next: "Dopo «{t}»",
    block: "Blocco",
    head: "Testa",
    future: "futuro, nascosto",
    temperature: "Temperatura",
    topk: "Top-k",
    topp: "Top-p",
    off: "spento",
    "no.models": "Il catalogo non ha un encoder–decoder (es. il modello incluso numeri).",
    error: "Errore: {e}",
  },
  en: {
    lang: "Italiano",
    "nav.main": "← Explainer",
    "nav.history": "Watch it learn",
    title: "The encoder–decoder: read one sequence, write another",
    course:
      "In the original <b>encoder–decoder</b> paradigm, the encoder produces rich representations of the input text, while the decoder generates the output <b>conditioned on the encoder</b>. Here the 2017 Transformer spells a number in Italian words: the encoder reads the digits, the decoder writes the letters one at a time and, at each step, looks at the digits through <b>cross-attention</b>.",
    model: "Model",
    source: "Input sequence (for the bundled model: a number from 0 to 9999)",
    read: "Read",
    hint: "The encoder reads the whole input once; then the decoder writes, one token at a time, until it writes <eos>.",
    output: "The output, one token at a time",
    "output.explain":
      "The decoder starts from <bos> and adds one token per step, as GPT does: “One token” writes one (greedy: the most likely; otherwise the die with the chosen seed), “To the end” goes on until <eos>.",
    step: "One token",
    all: "To the end",
    back: "Back",
    greedy: "greedy",
    seed: "seed",
    written: "written so far",
    done: "Answer complete: the decoder wrote <eos>.",
    full: "The decoder's context is full.",
    encoder: "Encoder: bidirectional self-attention over the input",
    "encoder.explain":
      "Each row is an input token that looks (query), each column a token looked at (key); each row sums to 100%. No mask: every digit also sees those after it, as in BERT.",
    decoder: "Decoder: masked self-attention and cross-attention",
    "decoder.explain":
      "Left, the decoder looks at what it has written: the hatched cells are the future, hidden by the causal mask (as in GPT). Right, cross-attention: rows are output tokens, columns input tokens; each row says which digits that token is reading.",
    "self.title": "masked self-attention (output → output)",
    "cross.title": "cross-attention (output → input)",
    "enc.title": "self-attention (input → input)",
    reads: "“{t}” reads mostly “{s}” ({p})",
    final: "The last step: the next token",
    "final.explain":
      "The probabilities of the token after the last one written come from the model's exact logits; the sliders transform them as in the explainer's final step. The next “One token” chooses with these settings.",
    next: "After “{t}”",
    block: "Block",
    head: "Head",
    future: "future, hidden",
    temperature: "Temperature",
    topk: "Top-k",
    topp: "Top-p",
    off: "off",
    "no.models": "The catalog has no encoder–decoder (e.g. the bundled numeri).",
    error: "Error: {e}",
  },
};

const s = pageStrings(STR);

const $ = (q) => document.querySelector(q);
const SVG = "http://www.w3.org/2000/svg";
const state = { models: [], model: null, view: null, pick: {}, settings: { ...DEFAULT_SETTINGS }, generation: 0 };
const page = { state };
window.attentoSeq2seq = page; // for the end-to-end tests and the curious

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`);
  return data;
}

function translate() {
  document.documentElement.lang = getLanguage();
  for (const e of document.querySelectorAll("[data-s]")) e.textContent = s(e.dataset.s);
  $("#course").innerHTML = s("course"); // trusted markup from STR
  $("#lang").textContent = s("lang");
}

// one attention map as SVG: query labels on the rows, key labels (rotated) on the columns;
// each cell carries its weight in data-w (the model's, as sent), the future is hatched
function attentionMap(m, rows, cols, causal, kind) {
  const cell = Math.max(12, Math.min(26, Math.floor(420 / Math.max(cols.length, 1))));
  const left = 64;
  const top = 52;
  const W = left + cols.length * cell + 4;
  const H = top + rows.length * cell + 4;
  const svg = document.createElementNS(SVG, "svg");
  for (const [k, v] of Object.entries({ width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "s2s-map", "data-kind": kind })) svg.setAttribute(k, v);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  cols.forEach((label, j) => {
    const x = left + j * cell + cell / 2;
    add("text", { x, y: top - 6, transform: `rotate(-60 ${x} ${top - 6})`, class: "key-label" }, label.slice(0, 10));
  });
  rows.forEach((label, i) => add("text", { x: left - 6, y: top + i * cell + cell / 2 + 4, "text-anchor": "end", class: "query-label" }, label.slice(0, 10)));
  for (let i = 0; i < rows.length; i++) {
    for (let j = 0; j < cols.length; j++) {
      const hidden = causal && j > i;
      const w = m.get(i, j);
      const r = add("rect", { x: left + j * cell, y: top + i * cell, width: cell, height: cell, fill: hidden ? "#fbe9e7" : colour(w, 1, "seq") || "#eceff1", class: "cell", "data-row": i, "data-col": j, "data-w": String(w) });
      r.addEventListener("mousemove", (ev) => showTip(ev, html`«${rows[i]}» (${i}) → «${cols[j]}» (${j})<br>${hidden ? s("future") : pct(w)}`));
      r.addEventListener("mouseleave", hideTip);
    }
  }
  return svg;
}

function picker(id, label, n, value, onChange) {
  const sel = el("select", { id }, ...Array.from({ length: n }, (_, i) => el("option", { value: String(i), text: String(i) })));
  sel.value = String(value);
  sel.addEventListener("change", () => onChange(Number(sel.value)));
  return el("label", { class: "ctl-inline" }, `${label} `, sel);
}

// a map of `kind` ("encoder", "decoder", "cross") with its own block and head pickers
function pane(root, kind, rows, cols, causal, title, extra = () => []) {
  const view = state.view;
  const pick = (state.pick[kind] ??= { layer: view.n_layer - 1, head: 0 });
  pick.layer = Math.min(pick.layer, view.n_layer - 1);
  pick.head = Math.min(pick.head, view.n_head - 1);
  const redraw = () => pane(root, kind, rows, cols, causal, title, extra);
  const m = view[kind].mat(pick.layer, pick.head);
  const fig = el("figure", { class: "heatfig", "data-kind": kind }, el("figcaption", { class: "heat-title", text: title }), attentionMap(m, rows, cols, causal, kind));
  root.replaceChildren(
    el(
      "div",
      { class: "pane-head" },
      picker(`${kind}-layer`, s("block"), view.n_layer, pick.layer, (v) => ((pick.layer = v), redraw())),
      picker(`${kind}-head`, s("head"), view.n_head, pick.head, (v) => ((pick.head = v), redraw())),
    ),
    fig,
    ...extra(m),
  );
}

// for each output token, the input token its cross-attention row weighs most (a label of
// the weights shown, not a computation of the model)
function mostRead(m, rows, cols) {
  const list = el("ul", { class: "s2s-reads" });
  for (let i = 0; i < rows.length; i++) {
    let best = 0;
    for (let j = 1; j < cols.length; j++) if (m.get(i, j) > m.get(i, best)) best = j;
    list.append(el("li", { "data-row": String(i), "data-col": String(best), text: s("reads", { t: rows[i], s: cols[best], p: pct(m.get(i, best)) }) }));
  }
  return [list];
}

function renderOutput() {
  const v = state.view;
  const chips = el("div", { class: "tokens s2s-target" }, ...v.target.map((tk, i) => tokenChip(tk, i, { cls: tk.special ? "special" : "" })));
  const last = v.target[v.target.length - 1];
  const note = v.done ? s(last.special && last.text === "<eos>" ? "done" : "full") : "";
  $("#v-output").replaceChildren(
    el("p", { class: "s2s-line" }, el("b", { class: "s2s-source", text: v.source.map((x) => x.text).join("") }), " → ", el("b", { class: "s2s-text", text: v.text || "…" })),
    el("p", { class: "meta", text: s("written") }),
    chips,
    note ? el("p", { class: "meta s2s-done", text: note }) : null,
  );
  $("#step").disabled = v.done;
  $("#all").disabled = v.done;
  $("#back").disabled = v.written.length === 0;
}

function renderMaps() {
  const v = state.view;
  const src = v.source.map((x) => showToken(x.text));
  const tgt = v.target.map((x) => showToken(x.text));
  pane($("#v-encoder"), "encoder", src, src, false, s("enc.title"));
  pane($("#v-decoder"), "decoder", tgt, tgt, true, s("self.title"));
  pane($("#v-cross"), "cross", tgt, src, false, s("cross.title"), (m) => mostRead(m, tgt, src));
}

function renderFinal() {
  const v = state.view;
  $("#v-controls").replaceChildren(samplingControls(state.settings, { temperature: s("temperature"), topk: s("topk"), topp: s("topp"), off: s("off") }, v.next.logits.data.length, renderFinal.bars));
  renderFinal.bars();
}
renderFinal.bars = () => {
  const v = state.view;
  const last = v.target[v.target.length - 1];
  $("#v-next").replaceChildren(el("figure", { class: "s2s-next" }, el("figcaption", { class: "heat-title", text: s("next", { t: showToken(last.text) }) }), probBars(v.next.logits.data, v.next.top, state.settings)));
};

function render() {
  translate();
  if (!state.view) return;
  renderOutput();
  renderMaps();
  renderFinal();
  addFigureButtons();
}

function showError(e) {
  $("#error").hidden = !e;
  $("#error").textContent = e ? s("error", { e: e.message }) : "";
}

// what the next step asks: the final step's sliders, greedy or the seeded die
function stepSettings() {
  const { temperature, topK, topP } = samplingOf(state.settings);
  const seed = $("#seed").value === "" ? null : Number($("#seed").value);
  return { temperature, top_k: topK, top_p: topP, greedy: $("#greedy").checked, seed };
}

async function ask(body) {
  const generation = ++state.generation;
  document.body.dataset.busy = "1";
  try {
    const data = decodeAll(await api("/api/seq2seq", { model: state.model, ...body }));
    if (generation !== state.generation) return false;
    state.view = data;
    showError(null);
    render();
    const q = new URLSearchParams({ model: state.model, source: $("#source").value });
    history.replaceState(null, "", `?${q}`);
    return true;
  } catch (e) {
    if (generation === state.generation) showError(e);
    return false;
  } finally {
    if (generation === state.generation) document.body.dataset.busy = "0";
  }
}

page.read = () => ask({ source: $("#source").value, target: [] });
page.step = () => {
  const v = state.view;
  return ask({ src: v.src, target: v.written, start: v.start ?? 0, step: true, ...stepSettings() });
};
page.all = async () => {
  while (state.view && !state.view.done) if (!(await page.step())) return;
};
page.back = () => {
  const v = state.view;
  return ask({ src: v.src, target: v.written.slice(0, -1) });
};

async function main() {
  const params = new URLSearchParams(location.search);
  setLanguage(chooseLanguage(null));
  translate();
  try {
    const data = await api("/api/models");
    state.models = data.models.filter((m) => m.encoder_decoder);
    const want = params.get("model");
    state.model = state.models.some((m) => m.name === want) ? want : state.models[0]?.name ?? null;
    const facts = state.models.find((m) => m.name === state.model);
    if (facts && !localStorage.getItem("attento.lang")) setLanguage(chooseLanguage(facts.language));
    translate();
    $("#model").replaceChildren(...state.models.map((m) => el("option", { value: m.name, text: `${m.name} · ${m.n_layer}+${m.n_layer}×${m.n_head} · ${m.n_embd}` })));
    $("#model").value = state.model ?? "";
    $("#source").value = params.get("source") ?? facts?.prompt ?? "";
    if (!state.model) showError(new Error(s("no.models")));
  } catch (e) {
    showError(e);
  }
  $("#form").addEventListener("submit", (e) => {
    e.preventDefault();
    page.read();
  });
  $("#model").addEventListener("change", (e) => {
    state.model = e.target.value;
    $("#source").value = state.models.find((m) => m.name === state.model)?.prompt ?? "";
    page.read();
  });
  $("#step").addEventListener("click", () => page.step());
  $("#all").addEventListener("click", () => page.all());
  $("#back").addEventListener("click", () => page.back());
  $("#lang").addEventListener("click", () => {
    const next = getLanguage() === "it" ? "en" : "it";
    localStorage.setItem("attento.lang", next);
    setLanguage(next);
    render();
  });
  if (state.model) await page.read();
  document.body.dataset.busy = "0";
}

main();
