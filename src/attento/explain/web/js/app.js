// The explainer page: state, requests to the server, and rendering every view in order.
import { el, fmt, setExactResolver, showToken } from "./draw.js";
import { addExportButtons } from "./export.js";
import { chooseLanguage, getLanguage, setLanguage, t, tHtml, translatePage } from "./i18n.js";
import { presenting, setupPresenting, startPresenting } from "./present.js";
import "./strings-teach.js";
import { decodeAll } from "./tensor.js";
import { startTour } from "./tour.js";
import { renderBlocks } from "./views/blocks.js";
import { renderCache } from "./views/cache.js";
import { renderEmbed } from "./views/embed.js";
import { renderFinal, settingsOf } from "./views/final.js";
import { markPicked, renderFaces, renderGen, spinDie, updateGenButtons } from "./views/gen.js";
import { renderHeads } from "./views/heads.js";
import { renderStack } from "./views/stack.js";
import { renderTokens } from "./views/tokens.js";
import { applyUrl, followState, readUrl, urlOf } from "./url.js";

const state = {
  models: [],
  model: null,
  ids: [],
  promptLen: 0,
  start: null, // where the current seeded run of rolls began
  history: [], // earlier id lists, for "step back"
  steps: [], // the step answers matching `history`
  lastStep: null,
  settings: { temperature: 1, topK: 0, topP: 1, greedy: false },
  seed: "",
  runCount: 10,
  running: false, // run-on mode is generating
  rolling: false, // one roll (or greedy pick) is in progress
  stopRequested: false,
  generation: 0, // bumped by every new prompt or model: answers for an older one are dropped
  error: null, // the error shown under the prompt, kept to re-translate it
  stale: false, // the views show an earlier prompt than the one that failed
  message: "",
  showN: 15,
  focus: null,
  heads: {},
  open: new Set([0]),
  cacheLayer: 0,
  cacheHead: 0,
  grid: null, // the head opened in the grid of all heads: {block, head, row}
};

const app = {
  state,
  trace: null,
  facts: null,
  // details of the current trace, fetched when a view needs them (the overview comes first)
  blocks: new Map(), // block index -> its detail (or a pending Promise)
  stacks: new Map(), // token position -> its residual stream, stage by stage
  currentProbs: null,
  width: 800,
  settingsChanged: () => {
    state.start = null;
  },
  actions: {},
};
app.onProbs = () => renderFaces(app);
app.api = (path, body) => api(path, body);
app.decode = (res) => decodeAll(res);
app.rerender = () => render();
window.attento = app; // for the end-to-end tests and the curious

const $ = (s) => document.querySelector(s);
// how long the bar the die picked stays highlighted before the page recomputes
const PICK_HOLD_MS = 900;

let busyCount = 0;
function setBusy(busy) {
  busyCount = Math.max(0, busyCount + (busy ? 1 : -1));
  document.body.dataset.busy = busyCount > 0 ? "1" : "0";
}

// A 4xx/5xx answer: {detail (English), code (snake_case), params} from the server.
class ApiError extends Error {
  constructor(status, code, params, detail) {
    super(detail || code);
    Object.assign(this, { status, code, params });
  }
}

class NetworkError extends Error {}

// the sentence for an error, in the page's language: from its code, never from `detail`
function errorText(e) {
  if (e instanceof NetworkError) return t("error.network");
  if (!(e instanceof ApiError)) return t("error.unexpected");
  const key = `error.${e.code}`;
  const params = Object.fromEntries(
    Object.entries(e.params || {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)]),
  );
  if (e.code && t(key) !== key) return t(key, params);
  return t(e.status >= 500 ? "error.server" : "error.generic", { status: e.status });
}

app.errorText = errorText;

function showError(e) {
  state.error = e || null;
  const box = $("#error");
  box.textContent = e ? errorText(e) : "";
  box.title = e && e instanceof ApiError ? e.message : ""; // the server's English sentence
  box.hidden = !e;
}

// After a failed prompt the views still hold the previous prompt's numbers: say so on each
// one, and make it inert, until a trace succeeds.
function markStale(stale) {
  state.stale = stale;
  for (const view of document.querySelectorAll("main .view")) {
    view.toggleAttribute("data-stale", stale);
    view.toggleAttribute("inert", stale);
    if (stale) view.dataset.stale = t("error.stale");
  }
}

async function api(path, body) {
  let res;
  try {
    res = await fetch(path, body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new NetworkError("the server does not answer");
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = typeof data.detail === "string" ? data.detail : "";
    throw new ApiError(res.status, data.code, data.params, detail);
  }
  return data;
}

// Re-rendering replaces the views' contents, so the page's height changes above whatever the
// student is looking at; scroll anchoring cannot follow a removed element (Chrome lost the
// focused roll button: 431 -> 1117 px) and Safari has none. Keep one element where it was on
// screen: the control just used (by id: the views re-create it), else the first section
// visible under the sticky header.
function keepInPlace(anchorId, paint) {
  const shown = (e) => e && e.getClientRects().length > 0;
  const header = $(".topbar").getBoundingClientRect().bottom;
  const section = [...document.querySelectorAll("main .stage")].find((s) => s.getBoundingClientRect().bottom > header);
  const find = shown(anchorId && document.getElementById(anchorId)) ? () => document.getElementById(anchorId) : () => section;
  const before = find()?.getBoundingClientRect().top;
  paint();
  const now = find();
  if (before !== undefined && shown(now)) window.scrollBy(0, now.getBoundingClientRect().top - before);
}

function renderFacts() {
  const f = app.facts;
  const item = (k, v) => el("span", { class: "fact" }, el("b", { text: v }), ` ${t(k)}`);
  const kv = f.n_kv_head && f.n_kv_head !== f.n_head ? [item("facts.kv_heads", f.n_kv_head)] : [];
  $("#facts").replaceChildren(
    item("facts.layers", f.n_layer),
    item("facts.heads", f.n_head),
    ...kv,
    item("facts.width", f.n_embd),
    item("facts.params", f.parameters.toLocaleString(getLanguage())),
    item("facts.vocab", f.vocab_size.toLocaleString(getLanguage())),
    item("facts.context", f.block_size),
    el("span", { class: "fact badge" }, t("facts.decoder")),
  );
}

let lastAnchor = null;
function render(anchorId = null) {
  lastAnchor = anchorId;
  keepInPlace(anchorId, () => paint());
}
// a view whose numbers arrive after the render (a block, a token's stack) fills in place too
app.keepInPlace = (paint) => keepInPlace(lastAnchor, paint);

function paint() {
  translatePage();
  $("#lang").textContent = t("lang");
  $("#lang").title = t("lang.title");
  if (state.error) showError(state.error);
  if (!app.trace) return;
  app.width = $("main").clientWidth - 48;
  renderFacts();
  const c = app.facts.n_embd;
  $("#embed-explain").innerHTML = tHtml("embed.explain", { c });
  $("#final-explain").innerHTML = tHtml("final.explain", { v: app.facts.vocab_size });
  renderTokens($("#v-tokens"), app);
  renderEmbed($("#v-embed"), app);
  renderBlocks($("#v-blocks"), app);
  renderHeads($("#v-heads"), app);
  renderStack($("#v-stack"), app);
  renderFinal($("#v-final"), app);
  renderGen($("#v-gen"), app);
  renderCache($("#v-cache"), app);
  $("#timing").textContent = `forward + trace ${fmt(app.trace.timing_ms.total)} ms`;
  markStale(state.stale);
  addExportButtons();
  writeUrl();
}

// the address carries the state shown (url.js): a link restores it
function writeUrl() {
  if (!state.model) return;
  history.replaceState(null, "", urlOf(app, getLanguage(), presenting()) + location.hash);
  $("#present").textContent = t(presenting() === null ? "present.start" : "present.stop");
  $("#present").title = t("present.hint");
}

class Superseded extends Error {}

// One block's detail for the current trace: asked once, kept until the next trace.
app.loadBlock = (i) => {
  if (!app.blocks.has(i)) {
    const trace = app.trace;
    const pending = api("/api/block", { model: state.model, ids: state.ids, block: i }).then((res) => {
      const detail = decodeAll(res);
      if (app.trace === trace) app.blocks.set(i, detail);
      return detail;
    });
    pending.catch(() => app.blocks.get(i) === pending && app.blocks.delete(i));
    app.blocks.set(i, pending);
  }
  return Promise.resolve(app.blocks.get(i));
};

// One token's residual stream after every sub-layer (the overview carries the last token's).
app.loadStack = (pos) => {
  if (!app.stacks.has(pos)) {
    const trace = app.trace;
    const pending = api("/api/stack", { model: state.model, ids: state.ids, pos }).then((res) => {
      const stack = decodeAll(res);
      if (app.trace === trace) app.stacks.set(pos, stack);
      return stack;
    });
    pending.catch(() => app.stacks.get(pos) === pending && app.stacks.delete(pos));
    app.stacks.set(pos, pending);
  }
  return Promise.resolve(app.stacks.get(pos));
};

// The cached keys and values of one more layer of a step (the step sent those of one layer):
// asked once; a failure is kept as the layer's error text.
app.loadCacheLayer = (step, i) => {
  const layer = step.cache.layers[i];
  layer.pending ||= api("/api/cache", { model: state.model, ids: step.ids, layer: i }).then(
    (res) => Object.assign(layer, decodeAll(res)),
    (e) => (layer.error = errorText(e)),
  );
  return layer.pending;
};

// The exact float32 behind a heat-map cell; a few hundred kept per trace.
const exactValues = new Map();
setExactResolver(async (name, index) => {
  const key = `${state.model}|${state.ids.join(",")}|${name}|${index.join(",")}`;
  if (!exactValues.has(key)) {
    if (exactValues.size > 500) exactValues.clear();
    const res = await api("/api/cell", { model: state.model, ids: state.ids, name, index });
    exactValues.set(key, res.value);
  }
  return exactValues.get(key);
});

// Tokens of the vocabulary matching a text (the page has the exact logits of all of them).
app.searchVocab = (query) => api("/api/vocab", { model: state.model, query });

// `generation`: the prompt this request belongs to; a newer prompt or model drops its answer
async function trace(body, anchorId = null, generation = state.generation) {
  setBusy(true);
  try {
    const data = decodeAll(await api("/api/trace", { model: state.model, ...body }));
    if (generation !== state.generation) throw new Superseded();
    app.trace = data;
    app.facts = data.model;
    app.blocks = new Map();
    app.stacks = new Map([[data.stream.focus.pos, data.stream.focus]]);
    state.ids = data.ids;
    state.error = null;
    showError(null);
    state.stale = false;
    render(anchorId);
    return data;
  } finally {
    setBusy(false);
  }
}

// the prompt a model opens on, in its own language (from the catalog), else the server's
function modelPrompt() {
  const facts = state.models.find((m) => m.name === state.model);
  return (facts && facts.prompt) || undefined;
}

async function tracePrompt(prompt) {
  const generation = ++state.generation;
  let data;
  try {
    data = await trace(prompt === undefined ? {} : { prompt }, null, generation);
  } catch (e) {
    if (!(e instanceof Superseded) && app.trace) markStale(true);
    throw e;
  }
  $("#prompt").value = data.prompt;
  state.promptLen = data.ids.length;
  state.start = null;
  state.history = [];
  state.steps = [];
  state.lastStep = null;
  state.message = "";
  renderAfterReset();
}

function renderAfterReset() {
  renderTokens($("#v-tokens"), app);
  renderGen($("#v-gen"), app);
  renderCache($("#v-cache"), app);
}

// one token: the die (or the greedy pick), the picked bar held in view, then the new trace
async function step(animate) {
  const generation = state.generation;
  const s = state.settings;
  const settings = settingsOf(state);
  const seed = state.seed === "" ? null : Number(state.seed);
  const body = {
    model: state.model,
    ids: state.ids,
    start: state.start ?? state.ids.length,
    temperature: settings.temperature,
    top_k: settings.topK,
    top_p: settings.topP,
    greedy: s.greedy,
    seed,
    cache_layer: Math.min(state.cacheLayer, app.facts.n_layer - 1),
  };
  const spin = animate && !s.greedy ? spinDie() : Promise.resolve();
  const [res] = await Promise.all([api("/api/step", body), spin]);
  if (generation !== state.generation) return;
  const data = decodeAll(res);
  const restarted = seed !== null && !s.greedy && state.start !== null && data.start !== state.start;
  const shown = showToken(data.token.text);
  const message = `${t("gen.picked", { t: shown, p: (100 * data.prob).toFixed(2) + "%" })}${restarted ? ` ${t("gen.restart")}` : ""}`;
  if (animate) {
    if (app.flashToken) app.flashToken(data.token.id);
    markPicked(data.token.id);
    $("#gen-message").textContent = message;
    await new Promise((resolve) => setTimeout(resolve, PICK_HOLD_MS));
    if (generation !== state.generation) return;
  }
  const saved = { start: state.start, lastStep: state.lastStep, message: state.message };
  state.history.push(state.ids);
  state.steps.push(state.lastStep);
  state.start = data.start;
  state.lastStep = data;
  state.message = message;
  try {
    await trace({ ids: data.ids }, animate ? "roll" : "run", generation);
  } catch (e) {
    if (!(e instanceof Superseded)) {
      // the token was not appended: history and the views stay as they were
      state.history.pop();
      state.steps.pop();
      Object.assign(state, saved);
    }
    throw e;
  }
}

const generating = () => state.rolling || state.running;

// after the buttons come back, give the keyboard its place again
function refocus(id) {
  const e = document.getElementById(id);
  if (e && !e.disabled && !e.hidden) e.focus({ preventScroll: true });
}

function report(e) {
  if (e instanceof Superseded) return;
  if (!(e instanceof ApiError) && !(e instanceof NetworkError)) console.error(e); // a bug: say so
  showError(e);
}

app.actions.roll = async () => {
  if (generating()) return; // one roll at a time: extra clicks are ignored
  state.rolling = true;
  updateGenButtons(app);
  setBusy(true);
  try {
    await step(true);
  } catch (e) {
    report(e);
  } finally {
    state.rolling = false;
    setBusy(false);
    updateGenButtons(app);
    refocus("roll");
  }
};

app.actions.back = async () => {
  if (generating() || !state.history.length) return;
  const ids = state.history.pop();
  state.lastStep = state.steps.pop();
  if (state.start !== null && state.start > ids.length) state.start = null;
  state.message = "";
  try {
    await trace({ ids }, "step-back");
  } catch (e) {
    report(e);
  }
  refocus("step-back");
};

app.actions.run = async () => {
  if (generating()) return;
  state.running = true;
  state.stopRequested = false;
  updateGenButtons(app);
  setBusy(true);
  const generation = state.generation;
  try {
    for (let k = 0; k < state.runCount && !state.stopRequested && generation === state.generation; k++) {
      if (state.ids.length >= app.facts.block_size) break;
      await step(false);
    }
  } catch (e) {
    report(e);
  } finally {
    state.running = false;
    setBusy(false);
    updateGenButtons(app);
    refocus("run");
  }
};

app.actions.stop = () => {
  state.stopRequested = true;
};

// 2222208 -> "2.2M parameters"
function compact(n) {
  const [v, unit] = n >= 1e9 ? [n / 1e9, "B"] : n >= 1e6 ? [n / 1e6, "M"] : n >= 1e3 ? [n / 1e3, "k"] : [n, ""];
  return `${Number(v.toPrecision(2))}${unit} ${t("facts.params")}`;
}

// 12 blocks × 12 heads (KV 4) × 768 · vocabulary 50,257 · context 1024
function shape(m) {
  const lang = getLanguage();
  const kv = m.n_kv_head && m.n_kv_head !== m.n_head ? ` (KV ${m.n_kv_head})` : "";
  return `${m.n_layer} ${t("facts.layers")} × ${m.n_head}${kv} ${t("facts.heads")} × ${m.n_embd} · ${t("facts.vocab")} ${m.vocab_size.toLocaleString(lang)} · ${t("facts.context")} ${m.block_size}`;
}

async function loadModels() {
  const data = await api("/api/models");
  // encoders (BERT) have their own page, beside a decoder: encoder.html
  const opened = data.models.find((m) => m.name === data.default);
  if (opened && !opened.decoder_only) location.replace(`${opened.encoder_decoder ? "seq2seq.html?model" : "encoder.html?encoder"}=${encodeURIComponent(opened.name)}`);
  state.models = data.models.filter((m) => m.decoder_only);
  state.model = opened && opened.decoder_only ? data.default : state.models[0]?.name;
  const select = $("#model");
  select.replaceChildren(
    ...state.models.map((m) => el("option", { value: m.name, text: `${m.name} · ${compact(m.parameters)} · ${shape(m)}` })),
  );
  select.value = state.model;
}

async function main() {
  setBusy(true);
  const wanted = readUrl();
  setLanguage(wanted.lang ?? chooseLanguage(null));
  translatePage();
  try {
    await loadModels();
    if (wanted.model && state.models.some((m) => m.name === wanted.model)) {
      state.model = wanted.model;
      $("#model").value = wanted.model;
    }
    const facts = state.models.find((m) => m.name === state.model);
    setLanguage(wanted.lang ?? chooseLanguage(facts && facts.language));
    applyUrl(state, wanted);
    await tracePrompt(wanted.prompt ?? modelPrompt());
    if (wanted.present !== null) startPresenting(wanted.present);
  } catch (e) {
    report(e);
  } finally {
    setBusy(false);
  }

  $("#prompt-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await tracePrompt($("#prompt").value);
    } catch (err) {
      report(err);
    }
  });
  $("#prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("#prompt-form").requestSubmit();
    }
  });
  $("#model").addEventListener("change", async (e) => {
    state.model = e.target.value;
    state.heads = {};
    state.focus = null;
    state.grid = null;
    try {
      await tracePrompt(modelPrompt());
    } catch (err) {
      report(err);
    }
  });
  $("#lang").addEventListener("click", () => {
    const next = getLanguage() === "it" ? "en" : "it";
    localStorage.setItem("attento.lang", next);
    setLanguage(next);
    render();
  });
  $("#tour-start").addEventListener("click", startTour);
  setupPresenting($("#present"), writeUrl);
  followState(writeUrl);
  let resize = null;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(render, 200);
  });
}

main();
