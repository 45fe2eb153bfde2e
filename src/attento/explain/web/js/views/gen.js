// 6. Generate: roll the die (or pick greedily), append the token, recompute; step back;
// a seed for reproducible runs; run-on mode for N tokens.
import { el, tokenChip } from "../draw.js";
import { t } from "../i18n.js";

const FACES = ["⚀", "⚁", "⚂", "⚃", "⚄", "⚅"];

export function renderGen(root, app) {
  const { trace, state, actions } = app;
  root.replaceChildren();

  const seq = el("div", { class: "tokens sequence", id: "sequence", "aria-live": "polite" });
  trace.tokens.forEach((tok, i) => {
    seq.append(tokenChip(tok, i, { showId: false, cls: i >= state.promptLen ? "generated" : "" }));
  });

  const seed = el("input", {
    type: "number",
    id: "seed",
    min: "0",
    step: "1",
    inputmode: "numeric",
    value: state.seed,
    placeholder: t("gen.seed.placeholder"),
  });
  seed.addEventListener("change", () => {
    state.seed = seed.value.trim();
    app.settingsChanged();
  });
  const count = el("input", { type: "number", id: "run-count", min: "1", max: "200", step: "1", value: String(state.runCount) });
  count.addEventListener("change", () => {
    state.runCount = Math.max(1, Math.min(200, Number(count.value) || 1));
    run.textContent = t("gen.run", { n: state.runCount });
  });
  const full = trace.tokens.length >= app.facts.block_size;
  const roll = el("button", {
    type: "button",
    id: "roll",
    class: "primary",
    text: state.settings.greedy ? t("gen.pick") : t("gen.roll"),
    disabled: full || state.running,
    onclick: () => actions.roll(),
  });
  const back = el("button", {
    type: "button",
    id: "step-back",
    text: t("gen.back"),
    disabled: state.history.length === 0 || state.running,
    onclick: () => actions.back(),
  });
  const run = el("button", {
    type: "button",
    id: "run",
    text: t("gen.run", { n: state.runCount }),
    disabled: full || state.running,
    onclick: () => actions.run(),
  });
  const stop = el("button", { type: "button", id: "stop", text: t("gen.stop"), hidden: !state.running, onclick: () => actions.stop() });
  const die = el("div", { class: "die", id: "die", "aria-hidden": "true", text: FACES[4] });
  const message = el("p", { class: "gen-message", id: "gen-message", role: "status" });
  if (full) message.textContent = t("gen.full", { n: app.facts.block_size });
  else if (state.message) message.textContent = state.message;

  root.append(
    seq,
    el(
      "div",
      { class: "gen-controls" },
      die,
      roll,
      back,
      el("span", { class: "ctl inline" }, el("label", { for: "seed", text: t("gen.seed") }), seed),
      el("span", { class: "ctl inline" }, el("label", { for: "run-count", text: t("gen.count") }), count),
      run,
      stop,
    ),
    message,
  );
}

// spin the die for `ms`, then show the face for the drawn token
export function spinDie(ms = 650) {
  const die = document.getElementById("die");
  if (!die || window.matchMedia("(prefers-reduced-motion: reduce)").matches) return Promise.resolve();
  die.classList.add("rolling");
  let k = 0;
  const timer = setInterval(() => {
    die.textContent = FACES[k++ % 6];
  }, 70);
  return new Promise((resolve) =>
    setTimeout(() => {
      clearInterval(timer);
      die.classList.remove("rolling");
      resolve();
    }, ms),
  );
}
