// Presentation mode, for a projector: larger type, one stage of the course per screen, the
// arrow keys (or Page Up / Page Down) move through the stages, Escape leaves.

let current = null; // the stage shown, or null outside the mode
let onChange = () => {};

const stages = () => [...document.querySelectorAll("main .stage")];

function typing(e) {
  const tag = e.target && e.target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
}

function show(k) {
  const all = stages();
  current = Math.max(0, Math.min(all.length - 1, k));
  all.forEach((s, i) => s.classList.toggle("present-current", i === current));
  document.body.dataset.stage = String(current);
  window.scrollTo(0, 0);
  onChange();
}

// the views measure their width when drawn: redraw them at the mode's size
const redraw = () => window.dispatchEvent(new Event("resize"));

function onKey(e) {
  if (current === null || typing(e) || document.querySelector("#tour:not([hidden])")) return;
  if (e.key === "ArrowRight" || e.key === "PageDown") show(current + 1);
  else if (e.key === "ArrowLeft" || e.key === "PageUp") show(current - 1);
  else if (e.key === "Escape") stopPresenting();
  else return;
  e.preventDefault();
}

export function presenting() {
  return current;
}

export function startPresenting(k = 0) {
  document.body.classList.add("presenting");
  document.addEventListener("keydown", onKey);
  show(k);
  redraw();
}

export function stopPresenting() {
  current = null;
  document.body.classList.remove("presenting");
  delete document.body.dataset.stage;
  for (const s of stages()) s.classList.remove("present-current");
  document.removeEventListener("keydown", onKey);
  onChange();
  redraw();
}

// `changed`: called whenever the mode or its stage changes (to keep the address current)
export function setupPresenting(button, changed) {
  onChange = changed;
  button.addEventListener("click", () => (current === null ? startPresenting(0) : stopPresenting()));
}
