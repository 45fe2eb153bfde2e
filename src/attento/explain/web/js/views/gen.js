// 6. Generate: roll the die (or pick greedily), append the token, recompute; step back;
// a seed for reproducible runs; run-on mode for N tokens.
import { el, pct, showToken, tokenChip } from "../draw.js";
import { t } from "../i18n.js";

const FACES = ["⚀", "⚁", "⚂", "⚃", "⚄", "⚅"];
const FACES_SHOWN = 8; // the die's most likely faces drawn next to it

// The die's faces: the most likely tokens under the current settings (the bars of step 5),
// beside the die, so that the face it picks lights up where the student is looking.
export function renderFaces(app) {
  const box = document.getElementById("die-faces");
  const p = app.currentProbs;
  if (!box || !p) return;
  const faces = app.trace.final.top.filter((c) => p[c.id] > 0).slice(0, FACES_SHOWN);
  const shown = new Set(faces.map((c) => c.id));
  let other = 0;
  for (let i = 0; i < p.length; i++) if (!shown.has(i)) other += p[i];
  const top = faces.length ? p[faces[0].id] : 1;
  const face = (id, text, pr) =>
    el(
      "span",
      { class: "look face", "data-id": id, style: `--w:${(0.85 * pr / top).toFixed(4)}` },
      el("span", { class: "look-tok", text }),
      el("span", { class: "look-w", text: pct(pr) }),
    );
  box.replaceChildren(
    el("span", { class: "looks-label", text: t("gen.faces") }),
    ...faces.map((c) => face(String(c.id), showToken(c.text), p[c.id])),
  );
  if (other > 0) box.append(face("other", t("gen.other"), other));
}

// light up the face (and so the bar) the die picked, until the page recomputes
export function markPicked(id) {
  const box = document.getElementById("die-faces");
  if (!box) return;
  const face = box.querySelector(`.face[data-id="${id}"]`) || box.querySelector('.face[data-id="other"]');
  if (face) face.classList.add("picked");
}

// Roll, run and step back are off while a roll or a run is in progress (one at a time); only
// the buttons change, so the view does not move and keyboard focus stays.
export function updateGenButtons(app) {
  const { state, trace, facts } = app;
  const busy = state.rolling || state.running;
  const full = trace.tokens.length >= facts.block_size;
  const set = (id, disabled) => {
    const b = document.getElementById(id);
    if (b) b.disabled = disabled;
  };
  set("roll", full || busy);
  set("run", full || busy);
  set("step-back", state.history.length === 0 || busy);
  const stop = document.getElementById("stop");
  if (stop) stop.hidden = !state.running;
}

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
    onclick: () => actions.roll(),
  });
  const back = el("button", { type: "button", id: "step-back", text: t("gen.back"), onclick: () => actions.back() });
  const run = el("button", {
    type: "button",
    id: "run",
    text: t("gen.run", { n: state.runCount }),
    onclick: () => actions.run(),
  });
  const stop = el("button", { type: "button", id: "stop", text: t("gen.stop"), onclick: () => actions.stop() });
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
    el("div", { class: "looks die-faces", id: "die-faces", "aria-hidden": "true" }),
    message,
  );
  updateGenButtons(app);
  renderFaces(app);
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
