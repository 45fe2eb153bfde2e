// GPT vs BERT on the same sentence (encoder.html): the decoder's causal attention next to the
// encoder's bidirectional one, then each one's guess for the hidden word: GPT's next token
// after the words before [MASK], BERT's fill-mask distribution, with the same sliders. Every
// number is the model's own (POST /api/attention, encoder_view.py).
import { probBars, samplingControls, DEFAULT_SETTINGS } from "./bars.js";
import { el, heatmap, html, pct, showToken } from "./draw.js";
import { addFigureButtons } from "./export.js";
import { chooseLanguage, getLanguage, pageStrings, setLanguage } from "./i18n.js";
import "./strings-teach.js";
import { decodeAll } from "./tensor.js";

const MASK = "[MASK]";
const STR = {
  it: {
    lang: "English",
    "nav.main": "← Explainer",
    "nav.history": "Come impara",
    title: "GPT e BERT a confronto: la stessa frase, due modi di leggerla",
    course:
      "GPT è un modello <b>solo-decoder</b> e <b>unidirezionale</b>: quando prevede un token può vedere solo i token che lo precedono. BERT è un modello <b>solo-encoder</b> e <b>bidirezionale</b>: grazie all'addestramento con MLM può vedere l'intera frase, sia prima che dopo un token. <i>In sintesi, GPT è come uno scrittore creativo che continua una storia, mentre BERT è come un lettore attento che analizza e comprende a fondo un testo già scritto.</i>",
    decoder: "Decoder (GPT)",
    encoder: "Encoder (BERT)",
    sentence: "Frase, con [MASK] al posto della parola da indovinare",
    run: "Confronta",
    hint: "BERT legge tutta la frase; GPT, per indovinare la parola nascosta, legge solo le parole prima di [MASK].",
    maps: "Attenzione: maschera causale contro nessuna maschera",
    "maps.explain":
      "Ogni riga è un token che guarda (query), ogni colonna un token guardato (key); il colore è il peso dell'attenzione (ogni riga somma a 100%). A sinistra GPT: le celle tratteggiate sono il futuro, nascosto dalla maschera causale. A destra BERT: nessuna maschera, ogni token guarda anche quelli che vengono dopo.",
    guess: "L'ultimo passo: la parola nascosta",
    "guess.explain":
      "GPT propone il token successivo alle parole prima di [MASK]; BERT propone il token al posto di [MASK], usando anche le parole dopo. Le probabilità vengono dai logit esatti dei modelli; i cursori li trasformano come nel passo finale dell'explainer.",
    block: "Blocco",
    head: "Testa",
    causal: "maschera causale: ogni token vede solo se stesso e i precedenti",
    bidirectional: "nessuna maschera: ogni token vede tutta la frase",
    future: "futuro, nascosto",
    next: "GPT: il token dopo «{t}»",
    mask: "BERT: al posto di [MASK] (posizione {pos})",
    "no.mask": "La frase non ha [MASK]: scrivine uno al posto di una parola.",
    "no.head": "Questo encoder non ha la testa MLM (es. MiniLM, addestrato per gli embedding): mostra l'attenzione, non indovina parole.",
    "no.models": "Servono un decoder e un encoder nel catalogo (es. i modelli inclusi dante e dante-bert).",
    temperature: "Temperatura",
    topk: "Top-k",
    topp: "Top-p",
    off: "spento",
    reads: "legge {n} token",
    error: "Errore: {e}",
  },
  en: {
    lang: "Italiano",
    "nav.main": "← Explainer",
    "nav.history": "Watch it learn",
    title: "GPT and BERT side by side: one sentence, two ways of reading it",
    course:
      "GPT is a <b>decoder-only</b>, <b>unidirectional</b> model: when it predicts a token it can see only the tokens before it. BERT is an <b>encoder-only</b>, <b>bidirectional</b> model: trained with MLM, it can see the whole sentence, before and after a token. <i>In short, GPT is like a creative writer who continues a story, while BERT is like an attentive reader who analyses and deeply understands a text already written.</i>",
    decoder: "Decoder (GPT)",
    encoder: "Encoder (BERT)",
    sentence: "Sentence, with [MASK] in place of the word to guess",
    run: "Compare",
    hint: "BERT reads the whole sentence; to guess the hidden word, GPT reads only the words before [MASK].",
    maps: "Attention: causal mask against no mask",
    "maps.explain":
      "Each row is a token that looks (query), each column a token looked at (key); the colour is the attention weight (each row sums to 100%). Left, GPT: the hatched cells are the future, hidden by the causal mask. Right, BERT: no mask, every token also looks at those that come after it.",
    guess: "The last step: the hidden word",
    "guess.explain":
      "GPT proposes the token after the words before [MASK]; BERT proposes the token in place of [MASK], using the words after it too. The probabilities come from the models' exact logits; the sliders transform them as in the explainer's final step.",
    block: "Block",
    head: "Head",
    causal: "causal mask: each token sees only itself and those before it",
    bidirectional: "no mask: each token sees the whole sentence",
    future: "future, hidden",
    next: "GPT: the token after “{t}”",
    mask: "BERT: in place of [MASK] (position {pos})",
    "no.mask": "The sentence has no [MASK]: write one in place of a word.",
    "no.head": "This encoder has no MLM head (e.g. MiniLM, trained for embeddings): it shows attention, it does not guess words.",
    "no.models": "The catalog needs a decoder and an encoder (e.g. the bundled dante and dante-bert).",
    temperature: "Temperature",
    topk: "Top-k",
    topp: "Top-p",
    off: "off",
    reads: "reads {n} tokens",
    error: "Error: {e}",
  },
};
const SENTENCES = { it: "Nel mezzo del [MASK] di nostra vita", en: "The capital of France is [MASK]." };

const s = pageStrings(STR);

const $ = (q) => document.querySelector(q);
const state = { models: [], decoder: null, encoder: null, views: {}, pick: {}, settings: { ...DEFAULT_SETTINGS }, generation: 0 };
const page = { state };
window.attentoEncoder = page; // for the end-to-end tests and the curious

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`);
  return data;
}

// what GPT reads: the words before the first [MASK] (all of them when there is none)
export function decoderText(sentence) {
  const at = sentence.indexOf(MASK);
  return (at < 0 ? sentence : sentence.slice(0, at)).trimEnd();
}

function translate() {
  document.documentElement.lang = getLanguage();
  for (const e of document.querySelectorAll("[data-s]")) e.textContent = s(e.dataset.s);
  $("#course").innerHTML = s("course"); // trusted markup from STR
  $("#lang").textContent = s("lang");
}

function select(id, models, value) {
  $(id).replaceChildren(...models.map((m) => el("option", { value: m.name, text: `${m.name} · ${m.n_layer}×${m.n_head} · ${m.n_embd}` })));
  $(id).value = value;
}

function attentionPane(root, view, key) {
  const pick = (state.pick[key] ??= { layer: view.n_layer - 1, head: 0 });
  pick.layer = Math.min(pick.layer, view.n_layer - 1);
  pick.head = Math.min(pick.head, view.n_head - 1);
  const labels = view.tokens.map((tk) => showToken(tk.text));
  const choose = (id, label, n, value, onChange) => {
    const sel = el("select", { id }, ...Array.from({ length: n }, (_, i) => el("option", { value: String(i), text: String(i) })));
    sel.value = String(value);
    sel.addEventListener("change", () => onChange(Number(sel.value)));
    return el("label", { class: "ctl-inline" }, `${label} `, sel);
  };
  const redraw = () => attentionPane(root, view, key);
  const m = view.weights.mat(pick.layer, pick.head);
  const masked = view.causal ? (r, c) => c > r : null;
  const fig = heatmap(m, {
    rowLabels: labels,
    cmap: "seq",

    maxWidth: Math.max(240, root.clientWidth - 8),
    maxCellW: 26,
    masked,
    title: `${view.model.name} · ${s(view.causal ? "causal" : "bidirectional")}`,
    describe: (r, c, v, isMasked) => html`«${labels[r]}» (${r}) → «${labels[c]}» (${c})<br>${isMasked ? s("future") : pct(v)}`,
  });
  fig.dataset.causal = String(view.causal);
  root.replaceChildren(
    el(
      "div",
      { class: "pane-head" },
      el("b", { text: view.model.name }),
      el("span", { class: "meta", text: ` · ${s("reads", { n: view.tokens.length })}` }),
      choose(`${key}-layer`, s("block"), view.n_layer, pick.layer, (v) => ((pick.layer = v), redraw())),
      choose(`${key}-head`, s("head"), view.n_head, pick.head, (v) => ((pick.head = v), redraw())),
    ),
    fig,
  );
}

function renderGuesses() {
  const dec = state.views.decoder;
  const enc = state.views.encoder;
  const settings = state.settings;
  const vocab = Math.max(dec ? dec.next.logits.data.length : 1, enc?.masks[0] ? enc.masks[0].logits.data.length : 1);
  $("#v-controls").replaceChildren(samplingControls(settings, { temperature: s("temperature"), topk: s("topk"), topp: s("topp"), off: s("off") }, vocab, renderGuesses.bars));
  renderGuesses.bars();
}
renderGuesses.bars = () => {
  const dec = state.views.decoder;
  const enc = state.views.encoder;
  if (dec) {
    const last = dec.tokens[dec.tokens.length - 1];
    $("#v-next").replaceChildren(el("h3", { text: s("next", { t: showToken(last.text) }) }), probBars(dec.next.logits.data, dec.next.top, state.settings));
  }
  if (enc) {
    let body;
    if (!enc.mlm_head) body = [el("p", { class: "meta", text: s("no.head") })];
    else if (!enc.masks.length) body = [el("p", { class: "meta", text: s("no.mask") })];
    else body = enc.masks.map((mk) => el("div", { class: "mask-guess", "data-pos": String(mk.pos) }, el("h3", { text: s("mask", { pos: mk.pos }) }), probBars(mk.logits.data, mk.top, state.settings)));
    $("#v-mask").replaceChildren(...body);
  }
};

function render() {
  translate();
  if (state.views.decoder) attentionPane($("#v-decoder"), state.views.decoder, "decoder");
  if (state.views.encoder) attentionPane($("#v-encoder"), state.views.encoder, "encoder");
  renderGuesses();
  addFigureButtons();
}

function showError(e) {
  $("#error").hidden = !e;
  $("#error").textContent = e ? s("error", { e: e.message }) : "";
}

async function compare() {
  const generation = ++state.generation;
  const sentence = $("#sentence").value;
  document.body.dataset.busy = "1";
  try {
    // each model on its own: one that cannot read the sentence (too long, a character it
    // lacks) leaves the other one shown
    const [dec, enc] = await Promise.allSettled([
      state.decoder ? api("/api/attention", { model: state.decoder, prompt: decoderText(sentence) || sentence }) : null,
      state.encoder ? api("/api/attention", { model: state.encoder, prompt: sentence }) : null,
    ]);
    if (generation !== state.generation) return;
    const value = (r) => (r.status === "fulfilled" && r.value ? decodeAll(r.value) : null);
    state.views = { decoder: value(dec), encoder: value(enc) };
    const failed = [dec, enc].find((r) => r.status === "rejected");
    showError(failed ? failed.reason : null);
    for (const id of ["#v-decoder", "#v-encoder", "#v-next", "#v-mask"]) $(id).replaceChildren();
    render();
    const q = new URLSearchParams({ decoder: state.decoder || "", encoder: state.encoder || "", text: sentence });
    history.replaceState(null, "", `?${q}`);
  } catch (e) {
    showError(e);
  } finally {
    document.body.dataset.busy = "0";
  }
}

async function main() {
  const params = new URLSearchParams(location.search);
  setLanguage(chooseLanguage(null));
  translate();
  try {
    const data = await api("/api/models");
    state.models = data.models;
    const decoders = data.models.filter((m) => m.decoder_only);
    const encoders = data.models.filter((m) => !m.decoder_only && !m.encoder_decoder);
    const named = (list, want) => (list.some((m) => m.name === want) ? want : list[0]?.name ?? null);
    state.encoder = named(encoders, params.get("encoder"));
    const enc = encoders.find((m) => m.name === state.encoder);
    if (enc && !localStorage.getItem("attento.lang")) setLanguage(chooseLanguage(enc.language));
    // a decoder in the encoder's language, if there is one
    const sameLanguage = decoders.find((m) => enc && m.language && m.language === enc.language);
    state.decoder = named(decoders, params.get("decoder") ?? sameLanguage?.name);
    select("#decoder", decoders, state.decoder);
    select("#encoder", encoders, state.encoder);
    const own = enc && enc.prompt && enc.prompt.includes(MASK) ? enc.prompt : null;
    $("#sentence").value = params.get("text") ?? own ?? SENTENCES[getLanguage()];
    if (!state.decoder || !state.encoder) showError(new Error(s("no.models")));
  } catch (e) {
    showError(e);
  }
  $("#form").addEventListener("submit", (e) => {
    e.preventDefault();
    compare();
  });
  $("#sentence").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("#form").requestSubmit();
    }
  });
  $("#decoder").addEventListener("change", (e) => ((state.decoder = e.target.value), compare()));
  $("#encoder").addEventListener("change", (e) => ((state.encoder = e.target.value), compare()));
  $("#lang").addEventListener("click", () => {
    const next = getLanguage() === "it" ? "en" : "it";
    localStorage.setItem("attento.lang", next);
    setLanguage(next);
    render();
  });
  await compare();
  document.body.dataset.busy = "0";
}

main();
