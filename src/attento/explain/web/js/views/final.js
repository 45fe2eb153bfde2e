// 5. The final step: hidden state -> vocabulary projection -> logits -> temperature, top-k,
// top-p -> softmax. The sliders recompute the bars in the browser (sampling.js), from the
// model's exact logits of every token of the vocabulary: no round trip. The bars name the top
// candidates; any other token is found with the search box (the server lists the tokens whose
// text matches, /api/vocab) and shown with its rank and probability under the same settings.
import { el, fmt, html, pct, showToken, strip } from "../draw.js";
import { t } from "../i18n.js";
import { filterLogits, softmax } from "../sampling.js";

const ROW_H = 24;

function slider(id, label, attrs, value, onInput) {
  const out = el("output", { for: id, id: `${id}-out` });
  const input = el("input", { type: "range", id, ...attrs, value: String(value) });
  input.addEventListener("input", () => onInput(Number(input.value), out));
  return { box: el("div", { class: "ctl" }, el("label", { for: id, text: label }), input, out), input, out };
}

export function settingsOf(state) {
  return {
    temperature: state.settings.temperature,
    topK: state.settings.topK || null,
    topP: state.settings.topP >= 1 ? null : state.settings.topP,
  };
}

// softmax(z)_t = exp(z_t) / Σ_kept exp(z_i), with the sum's value; when exp would overflow,
// both sides are divided by exp(max z), which leaves the quotient unchanged
function softmaxFormula(tok, zs, p, kept) {
  let m = -Infinity;
  for (const v of zs) if (v > m) m = v;
  const shift = Number.isFinite(Math.exp(m)) ? 0 : m;
  let den = 0;
  for (const v of zs) if (v !== -Infinity) den += Math.exp(v - shift);
  const z = zs[tok.id];
  const vars = { t: showToken(tok.text), z: fmt(z), m: fmt(shift), n: kept, num: fmt(Math.exp(z - shift)), den: fmt(den), p: pct(p[tok.id]) };
  return t(shift === 0 ? "final.softmax" : "final.softmax.shifted", vars);
}

export function renderFinal(root, app) {
  const { trace, facts, state } = app;
  const fin = trace.final;
  const V = fin.logits.data.length;
  root.replaceChildren();

  const hidden = strip(fin.hidden.vec(), {
    maxWidth: Math.min(root.clientWidth || 800, 900),
    title: t("final.hidden", { c: facts.n_embd }),
    describe: (_i, j, v) => html`dim ${j}: <b>${fmt(v)}</b>`,
  });
  root.append(
    el("div", { class: "final-flow" }, hidden, el("div", { class: "proj", text: t("final.projection", { v: V, c: facts.n_embd }) })),
  );

  // controls
  const s = state.settings;
  const controls = el("div", { class: "controls" });
  const kMax = Math.min(V, 100);
  const temp = slider("temperature", t("final.temperature"), { min: 0.05, max: 3, step: 0.05 }, s.temperature, (v, out) => {
    s.temperature = v;
    out.textContent = v.toFixed(2);
    app.settingsChanged();
    update();
  });
  const topk = slider("top-k", t("final.topk"), { min: 0, max: kMax, step: 1 }, s.topK, (v, out) => {
    s.topK = v;
    out.textContent = v === 0 ? t("final.off") : String(v);
    app.settingsChanged();
    update();
  });
  const topp = slider("top-p", t("final.topp"), { min: 0.01, max: 1, step: 0.01 }, s.topP, (v, out) => {
    s.topP = v;
    out.textContent = v >= 1 ? t("final.off") : v.toFixed(2);
    app.settingsChanged();
    update();
  });
  temp.out.textContent = s.temperature.toFixed(2);
  topk.out.textContent = s.topK === 0 ? t("final.off") : String(s.topK);
  topp.out.textContent = s.topP >= 1 ? t("final.off") : s.topP.toFixed(2);
  const greedy = el("input", { type: "checkbox", id: "greedy", checked: s.greedy });
  greedy.addEventListener("change", () => {
    s.greedy = greedy.checked;
    app.settingsChanged();
    update();
  });
  controls.append(
    temp.box,
    topk.box,
    topp.box,
    el("div", { class: "ctl check" }, greedy, el("label", { for: "greedy", text: t("final.greedy") })),
  );
  root.append(controls);

  // bars: labels | tracks (with the cumulative line) | values
  const n = Math.min(state.showN, fin.top.length);
  const top = fin.top.slice(0, n);
  const labels = el("div", { class: "p-labels" }, el("div", { class: "p-head" }, el("span", { text: "token" }), el("span", { class: "p-logit", text: t("final.logit") })));
  const head = (text) => el("div", { class: "p-head" }, el("span", { text }));
  const tracks = el("div", { class: "p-tracks" }, head(t("final.prob")));
  const values = el("div", { class: "p-values" }, head("p"));
  const shown = new Set(top.map((c) => c.id));
  const rows = top.map((c, r) => {
    const label = el(
      "div",
      { class: "p-label" },
      el("span", { class: "rank", text: r + 1 }),
      el("span", { class: "p-tok", text: showToken(c.text) }),
      el("span", { class: "p-logit", text: fmt(c.logit) }),
    );
    const bar = el("div", { class: "p-bar" });
    const track = el("div", { class: "p-track" }, bar);
    const value = el("div", { class: "p-value" });
    labels.append(label);
    tracks.append(track);
    values.append(value);
    return { c, label, bar, track, value };
  });
  const rest = {
    label: el("div", { class: "p-label rest" }),
    bar: el("div", { class: "p-bar rest" }),
    value: el("div", { class: "p-value rest" }),
  };
  labels.append(rest.label);
  tracks.append(el("div", { class: "p-track" }, rest.bar));
  values.append(rest.value);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "cumulative");
  svg.setAttribute("viewBox", `0 0 100 ${(n + 2) * ROW_H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(ns, "polyline");
  const pLine = document.createElementNS(ns, "line");
  pLine.setAttribute("class", "p-threshold");
  svg.append(pLine, line);
  tracks.append(svg);
  const probsBox = el("div", { class: "probs", id: "probs" }, labels, tracks, values);
  const summary = el("p", { class: "meta" });
  const toggle = el("button", {
    type: "button",
    class: "link-btn",
    text: state.showN > 15 ? t("final.less") : t("final.more"),
    onclick: () => {
      state.showN = state.showN > 15 ? 15 : 50;
      renderFinal(root, app);
    },
  });
  const formula = el("p", { class: "formula" });
  root.append(probsBox, el("div", { class: "probs-foot" }, summary, el("span", { class: "meta legend-line", text: t("final.cumulative") }), toggle), formula);

  // search: any token of the vocabulary, with its rank and probability under these settings
  const query = el("input", { type: "search", id: "vocab-query", maxlength: "100", placeholder: t("final.search.placeholder"), value: app.vocab?.query ?? "" });
  const results = el("div", { class: "vocab-box", id: "vocab-results", "aria-live": "polite" });
  const form = el(
    "form",
    { class: "vocab-search", id: "vocab-form" },
    el("label", { for: "vocab-query", text: t("final.search") }),
    query,
    el("button", { type: "submit", text: t("final.search.go") }),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = query.value;
    if (!q) return;
    try {
      const found = await app.searchVocab(q);
      app.vocab = { ...found, model: facts.name };
    } catch (err) {
      app.vocab = { query: q, error: app.errorText(err), model: facts.name };
    }
    showResults();
  });
  root.append(form, results);

  // rank among all tokens by logit (1 = the most likely), its logit and probability now
  function showResults() {
    const found = app.vocab;
    results.replaceChildren();
    if (!found || found.model !== facts.name) return;
    if (found.error) {
      results.append(el("p", { class: "error", text: found.error }));
      return;
    }
    const logits = fin.logits.data;
    const p = app.currentProbs;
    const grid = el(
      "div",
      { class: "vocab-results" },
      ...["token", "id", t("final.rank"), t("final.logit"), "p"].map((h) => el("span", { class: "vr-head", text: h })),
    );
    const row = (c) => {
      const z = logits[c.id];
      let rank = 1;
      for (let i = 0; i < logits.length; i++) if (logits[i] > z) rank++;
      grid.append(
        el("span", { class: "p-tok", text: showToken(c.text) }),
        el("span", { text: String(c.id) }),
        el("span", { text: String(rank) }),
        el("span", { text: fmt(z) }),
        el("span", { class: "vr-p", "data-id": c.id, "data-p": String(p[c.id]), text: pct(p[c.id]) }),
      );
    };
    const seen = new Set();
    if (found.encoded.length) {
      results.append(el("p", { class: "meta", text: t("final.search.encoded", { q: found.query }) }));
    }
    for (const c of found.encoded) {
      row(c);
      seen.add(c.id);
    }
    const more = found.matches.filter((c) => !seen.has(c.id));
    if (found.total === 0 && !found.encoded.length) {
      results.append(el("p", { class: "meta", text: t("final.search.none", { q: found.query }) }));
      return;
    }
    if (more.length) {
      if (found.encoded.length) grid.append(el("span", { class: "vr-head", style: "grid-column: 1 / -1", text: t("final.search.count", { n: found.total, q: found.query }) }));
      else results.append(el("p", { class: "meta", text: t("final.search.count", { n: found.total, q: found.query }) }));
    }
    for (const c of more) row(c);
    results.append(grid);
  }

  function update() {
    const settings = settingsOf(state);
    const zs = filterLogits(fin.logits.data, settings); // logit/T, −∞ where excluded
    const p = softmax(zs);
    app.currentProbs = p;
    let cum = 0;
    const points = [];
    let best = 0;
    for (let i = 1; i < V; i++) if (fin.logits.data[i] > fin.logits.data[best]) best = i;
    rows.forEach((row, r) => {
      const pr = p[row.c.id];
      cum += pr;
      row.bar.style.width = `${(100 * pr).toFixed(3)}%`;
      row.value.textContent = pct(pr);
      row.value.dataset.p = String(pr);
      row.track.dataset.id = String(row.c.id);
      row.track.dataset.p = String(pr);
      const out = pr === 0;
      for (const e of [row.label, row.track, row.value]) {
        e.classList.toggle("excluded", out);
        e.classList.toggle("greedy-pick", s.greedy && row.c.id === best);
      }
      row.label.title = `id ${row.c.id} · ${t("final.logit")} ${fmt(row.c.logit)}`;
      points.push(`${(100 * cum).toFixed(3)},${(r + 1.5) * ROW_H}`);
    });
    // summed, not 1 − the rows: exactly 0 when every other token is excluded
    let restP = 0;
    for (let i = 0; i < V; i++) if (!shown.has(i)) restP += p[i];
    rest.bar.style.width = `${(100 * restP).toFixed(3)}%`;
    rest.value.textContent = pct(restP);
    rest.value.dataset.p = String(restP);
    rest.label.textContent = t("final.rest", { n: V - n });
    line.setAttribute("points", points.join(" "));
    const tp = settings.topP;
    pLine.setAttribute("x1", tp === null ? 100 : 100 * tp);
    pLine.setAttribute("x2", tp === null ? 100 : 100 * tp);
    pLine.setAttribute("y1", ROW_H);
    pLine.setAttribute("y2", (n + 1) * ROW_H);
    pLine.style.display = tp === null ? "none" : "";
    let kept = 0;
    for (const x of p) if (x > 0) kept++;
    summary.textContent = t("final.kept", { n: kept });
    formula.textContent = softmaxFormula(top[0], zs, p, kept);
    for (const input of [temp.input, topk.input, topp.input]) input.disabled = s.greedy;
    showResults();
    if (app.onProbs) app.onProbs(); // the die's faces follow the sliders
  }
  update();
  // the bar the die picked: marked until the page recomputes
  app.flashToken = (id) => {
    const row = rows.find((r) => r.c.id === id);
    if (!row) return;
    for (const e of [row.label, row.track, row.value]) {
      e.classList.add("picked");
      e.classList.remove("flash");
      void e.offsetWidth;
      e.classList.add("flash");
    }
  };
}
