// Shared by encoder.html and history.html: the sliders of the final step (temperature, top-k,
// top-p) and a list of the most likely tokens as bars. The probabilities come from the model's
// exact float32 logits through sampling.js, the same pipeline as the main page's final step.
import { el, pct, showToken } from "./draw.js";
import { probabilities } from "./sampling.js";

export const DEFAULT_SETTINGS = { temperature: 1, topK: 0, topP: 1 };

// {temperature, topK: 0 = off, topP: 1 = off} -> sampling.js settings
export function samplingOf(s) {
  return { temperature: s.temperature, topK: s.topK || null, topP: s.topP >= 1 ? null : s.topP };
}

function slider(id, label, attrs, value, show, onInput) {
  const out = el("output", { for: id, id: `${id}-out`, text: show(value) });
  const input = el("input", { type: "range", id, ...attrs, value: String(value) });
  input.addEventListener("input", () => {
    out.textContent = show(Number(input.value));
    onInput(Number(input.value));
  });
  return el("div", { class: "ctl" }, el("label", { for: id, text: label }), input, out);
}

// sliders that edit `settings` in place and call onChange(); `words`: {temperature, topk, topp, off}
export function samplingControls(settings, words, vocab, onChange, prefix = "") {
  const off = (f) => (v) => f(v) ?? words.off;
  return el(
    "div",
    { class: "controls" },
    slider(`${prefix}temperature`, words.temperature, { min: 0.05, max: 3, step: 0.05 }, settings.temperature, (v) => v.toFixed(2), (v) => {
      settings.temperature = v;
      onChange();
    }),
    slider(`${prefix}top-k`, words.topk, { min: 0, max: Math.min(vocab, 100), step: 1 }, settings.topK, off((v) => (v === 0 ? null : String(v))), (v) => {
      settings.topK = v;
      onChange();
    }),
    slider(`${prefix}top-p`, words.topp, { min: 0.01, max: 1, step: 0.01 }, settings.topP, off((v) => (v >= 1 ? null : v.toFixed(2))), (v) => {
      settings.topP = v;
      onChange();
    }),
  );
}

// the `n` most likely of `top` ([{id, text, logit}], by logit) as bars under `settings`;
// each row carries data-id and data-p (the exact probability) for tests and the curious
export function probBars(logits, top, settings, n = 10) {
  const p = probabilities(logits, samplingOf(settings));
  const rows = top.slice(0, n).map((c, r) =>
    el(
      "div",
      { class: "pb-row", "data-id": String(c.id), "data-p": String(p[c.id]) },
      el("span", { class: "rank", text: String(r + 1) }),
      el("span", { class: "p-tok", text: showToken(c.text) }),
      el("span", { class: "pb-track" }, el("span", { class: "pb-bar", style: `width:${(100 * p[c.id]).toFixed(2)}%` })),
      el("span", { class: "pb-value", text: pct(p[c.id]) }),
    ),
  );
  return el("div", { class: "pb-list" }, ...rows);
}
