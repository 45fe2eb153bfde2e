// The guided tour: short cards that walk a first-time visitor through the views in order,
// highlighting each one.
import { el } from "./draw.js";
import { t } from "./i18n.js";

const STOPS = ["#s-prompt", "#s-tokens", "#s-embed", "#s-blocks", "#s-stack", "#s-final", "#s-gen", "#s-cache"];

export function startTour() {
  let k = 0;
  const card = document.getElementById("tour");
  const close = () => {
    card.hidden = true;
    for (const e of document.querySelectorAll(".tour-focus")) e.classList.remove("tour-focus");
    document.removeEventListener("keydown", onKey);
  };
  const show = () => {
    for (const e of document.querySelectorAll(".tour-focus")) e.classList.remove("tour-focus");
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
    next.focus({ preventScroll: true });
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
