// The guided tour: short cards that walk a first-time visitor through the views in order.
// Each card does what it describes (opens the block and hovers a token, opens a head, picks a
// token, moves the temperature slider, rolls the die) and says what it did.
import { el } from "./draw.js";
import { t } from "./i18n.js";

// wait (a few seconds at most) for an element that a view fills in when its numbers arrive
async function find(selector, tries = 100) {
  for (let k = 0; k < tries; k++) {
    const e = document.querySelector(selector);
    if (e) return e;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}

const ACTIONS = {
  "#s-tokens": async () => {
    const chip = await find("#v-tokens .tok");
    if (chip) chip.classList.add("tour-pick");
  },
  "#s-blocks": async () => {
    const block = document.querySelector('#v-blocks details.block[data-block="0"]');
    if (block && !block.open) block.open = true;
    const chips = await find('#v-blocks details.block[data-block="0"] .attn-tokens .tok:nth-child(2)');
    if (chips) chips.dispatchEvent(new MouseEvent("mouseenter"));
  },
  "#s-heads": async () => {
    const best = await find('#v-heads .head-rank[data-kind="previous"] button');
    if (best) best.click();
  },
  "#s-stack": async () => {
    const first = document.querySelector("#v-stack .picker .tok");
    if (first) first.click();
  },
  "#s-final": async () => {
    const slider = document.getElementById("temperature");
    if (!slider) return;
    slider.value = "0.5";
    slider.dispatchEvent(new Event("input", { bubbles: true }));
  },
  "#s-gen": async () => {
    const roll = document.getElementById("roll");
    if (roll && !roll.disabled) roll.click();
  },
};

const STOPS = ["#s-prompt", "#s-tokens", "#s-embed", "#s-blocks", "#s-heads", "#s-stack", "#s-final", "#s-gen", "#s-cache"];

export function startTour() {
  let k = 0;
  const card = document.getElementById("tour");
  const close = () => {
    card.hidden = true;
    for (const e of document.querySelectorAll(".tour-focus, .tour-pick")) e.classList.remove("tour-focus", "tour-pick");
    document.removeEventListener("keydown", onKey);
  };
  const show = () => {
    for (const e of document.querySelectorAll(".tour-focus, .tour-pick")) e.classList.remove("tour-focus", "tour-pick");
    const target = document.querySelector(STOPS[k]);
    target.classList.add("tour-focus");
    target.scrollIntoView({ behavior: "smooth", block: "start" });
    const prev = el("button", { type: "button", text: t("tour.prev"), disabled: k === 0, onclick: () => go(-1) });
    const last = k === STOPS.length - 1;
    const next = el("button", {
      type: "button",
      class: "primary",
      id: "tour-next",
      text: last ? t("tour.end") : t("tour.next"),
      onclick: () => (last ? close() : go(1)),
    });
    card.replaceChildren(
      el("p", { class: "tour-count", text: `${k + 1} / ${STOPS.length}` }),
      el("p", { class: "tour-text", text: t(`tour.${k}`) }),
      el("div", { class: "tour-buttons" }, prev, next, el("button", { type: "button", class: "link-btn", text: "✕", "aria-label": "close", onclick: close })),
    );
    card.hidden = false;
    card.dataset.stop = STOPS[k];
    next.focus({ preventScroll: true });
    const act = ACTIONS[STOPS[k]];
    card.dataset.acted = "0";
    if (act) act().finally(() => (card.dataset.acted = "1"));
    else card.dataset.acted = "1";
  };
  const go = (d) => {
    k = Math.max(0, Math.min(STOPS.length - 1, k + d));
    show();
  };
  const onKey = (e) => {
    if (e.key === "Escape") close();
    else if (e.key === "ArrowRight") go(1);
    else if (e.key === "ArrowLeft") go(-1);
  };
  document.addEventListener("keydown", onKey);
  show();
}
