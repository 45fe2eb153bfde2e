// The explainer page: state, requests to the server, and rendering every view in order.
import { el, fmt, showToken } from "./draw.js";
import { chooseLanguage, getLanguage, setLanguage, t, translatePage } from "./i18n.js";
import { decodeAll } from "./tensor.js";
import { startTour } from "./tour.js";
import { renderBlocks } from "./views/blocks.js";
import { renderCache } from "./views/cache.js";
import { renderEmbed } from "./views/embed.js";
import { renderFinal, settingsOf } from "./views/final.js";
import { renderGen, spinDie } from "./views/gen.js";
import { renderStack } from "./views/stack.js";
import { renderTokens } from "./views/tokens.js";

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
  running: false,
  stopRequested: false,
  message: "",
  showN: 15,
  focus: null,
  heads: {},
  open: new Set([0]),
  cacheLayer: 0,
  cacheHead: 0,
};

const app = {
  state,
  trace: null,
  facts: null,
  currentProbs: null,
  width: 800,
  settingsChanged: () => {
    state.start = null;
  },
  actions: {},
};
window.attento = app; // for the end-to-end tests and the curious

const $ = (s) => document.querySelector(s);

function setBusy(busy) {
  document.body.dataset.busy = busy ? "1" : "0";
}

function showError(message) {
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const d = data.detail;
    const msg = Array.isArray(d) ? d.map((x) => `${x.loc.slice(1).join(".")}: ${x.msg}`).join("; ") : d;
    throw new Error(msg || `${t("error.server")} (${res.status})`);
  }
  return data;
}

function renderFacts() {
  const f = app.facts;
  const item = (k, v) => el("span", { class: "fact" }, el("b", { text: v }), ` ${t(k)}`);
  $("#facts").replaceChildren(
    item("facts.layers", f.n_layer),
    item("facts.heads", f.n_head),
    item("facts.width", f.n_embd),
    item("facts.params", f.parameters.toLocaleString(getLanguage())),
    item("facts.vocab", f.vocab_size.toLocaleString(getLanguage())),
    item("facts.context", f.block_size),
    el("span", { class: "fact badge" }, t("facts.decoder")),
  );
}

function render() {
  translatePage();
  $("#lang").textContent = t("lang");
  $("#lang").title = t("lang.title");
  if (!app.trace) return;
  app.width = $("main").clientWidth - 48;
  renderFacts();
  const c = app.facts.n_embd;
  $("#embed-explain").innerHTML = t("embed.explain", { c });
  $("#final-explain").innerHTML = t("final.explain", { v: app.facts.vocab_size });
  renderTokens($("#v-tokens"), app);
  renderEmbed($("#v-embed"), app);
  renderBlocks($("#v-blocks"), app);
  renderStack($("#v-stack"), app);
  renderFinal($("#v-final"), app);
  renderGen($("#v-gen"), app);
  renderCache($("#v-cache"), app);
  $("#timing").textContent = `forward + trace ${fmt(app.trace.timing_ms.total)} ms`;
}

async function trace(body) {
  setBusy(true);
  try {
    const data = decodeAll(await api("/api/trace", { model: state.model, ...body }));
    app.trace = data;
    app.facts = data.model;
    state.ids = data.ids;
    showError("");
    render();
    return data;
  } finally {
    setBusy(false);
  }
}

async function tracePrompt(prompt) {
  const data = await trace(prompt === undefined ? {} : { prompt });
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

async function step(animate) {
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
  };
  const spin = animate && !s.greedy ? spinDie() : Promise.resolve();
  const [res] = await Promise.all([api("/api/step", body), spin]);
  const data = decodeAll(res);
  const restarted = seed !== null && !s.greedy && state.start !== null && data.start !== state.start;
  state.history.push(state.ids);
  state.steps.push(state.lastStep);
  state.start = data.start;
  state.lastStep = data;
  const shown = showToken(data.token.text);
  state.message = `${t("gen.picked", { t: shown, p: (100 * data.prob).toFixed(2) + "%" })}${restarted ? ` ${t("gen.restart")}` : ""}`;
  if (animate && app.flashToken) app.flashToken(data.token.id);
  await trace({ ids: data.ids });
}

app.actions.roll = async () => {
  try {
    await step(true);
  } catch (e) {
    showError(e.message);
  }
};

app.actions.back = async () => {
  if (!state.history.length) return;
  const ids = state.history.pop();
  state.lastStep = state.steps.pop();
  if (state.start !== null && state.start > ids.length) state.start = null;
  state.message = "";
  try {
    await trace({ ids });
  } catch (e) {
    showError(e.message);
  }
};

app.actions.run = async () => {
  state.running = true;
  state.stopRequested = false;
  renderGen($("#v-gen"), app);
  try {
    for (let k = 0; k < state.runCount && !state.stopRequested; k++) {
      if (state.ids.length >= app.facts.block_size) break;
      await step(false);
    }
  } catch (e) {
    showError(e.message);
  } finally {
    state.running = false;
    renderGen($("#v-gen"), app);
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

async function loadModels() {
  const data = await api("/api/models");
  state.models = data.models;
  state.model = data.default;
  const select = $("#model");
  select.replaceChildren(
    ...data.models.map((m) =>
      el("option", { value: m.name, text: `${m.name} · ${compact(m.parameters)}` }),
    ),
  );
  select.value = data.default;
}

async function main() {
  setBusy(true);
  setLanguage(chooseLanguage(null));
  translatePage();
  try {
    await loadModels();
    const facts = state.models.find((m) => m.name === state.model);
    setLanguage(chooseLanguage(facts && facts.language));
    await tracePrompt();
  } catch (e) {
    showError(e.message);
  } finally {
    setBusy(false);
  }

  $("#prompt-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await tracePrompt($("#prompt").value);
    } catch (err) {
      showError(err.message);
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
    try {
      await tracePrompt();
    } catch (err) {
      showError(err.message);
    }
  });
  $("#lang").addEventListener("click", () => {
    const next = getLanguage() === "it" ? "en" : "it";
    localStorage.setItem("attento.lang", next);
    setLanguage(next);
    render();
  });
  $("#tour-start").addEventListener("click", startTour);
  let resize = null;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(render, 200);
  });
}

main();
