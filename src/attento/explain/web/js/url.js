// The page's state in its address (?model=…&prompt=…&t=…), so that a link restores what a
// teacher showed: prompt, model, sampling settings, seed, the open blocks and heads, the token
// the stack follows, the opened head of the grid, the language and the presentation stage.
// history.replaceState keeps it current without reloading; the #fragment stays for the
// diagram's links.

const num = (v, lo, hi) => {
  const x = Number(v);
  return v !== null && v !== "" && Number.isFinite(x) && x >= lo && x <= hi ? x : null;
};
const int = (v, lo, hi) => {
  const x = num(v, lo, hi);
  return x !== null && Number.isInteger(x) ? x : null;
};
const ints = (v) => (v ? v.split(",").map((x) => int(x, 0, 1e6)).filter((x) => x !== null) : []);

// what the address asks for; anything malformed is left out
export function readUrl(search = location.search) {
  const q = new URLSearchParams(search);
  const heads = {};
  for (const pair of (q.get("heads") || "").split(",")) {
    const [b, h] = pair.split(":").map((x) => int(x, 0, 1e6));
    if (b !== null && h !== null) heads[b] = h;
  }
  const grid = ints(q.get("grid"));
  const lang = q.get("lang");
  return {
    model: q.get("model"),
    prompt: q.get("prompt"),
    temperature: num(q.get("t"), 0.05, 3),
    topK: int(q.get("k"), 0, 100),
    topP: num(q.get("p"), 0.01, 1),
    greedy: q.get("greedy") === "1",
    seed: int(q.get("seed"), 0, 2 ** 53 - 1),
    open: q.has("open") ? ints(q.get("open")) : null,
    heads,
    focus: int(q.get("focus"), 0, 1e6),
    grid: grid.length >= 2 ? { block: grid[0], head: grid[1], row: grid[2] ?? null } : null,
    lang: lang === "it" || lang === "en" ? lang : null,
    present: int(q.get("present"), 0, 100),
  };
}

// the state into the wanted one (before the first trace)
export function applyUrl(state, wanted) {
  const s = state.settings;
  if (wanted.temperature !== null) s.temperature = wanted.temperature;
  if (wanted.topK !== null) s.topK = wanted.topK;
  if (wanted.topP !== null) s.topP = wanted.topP;
  s.greedy = wanted.greedy;
  if (wanted.seed !== null) state.seed = String(wanted.seed);
  if (wanted.open !== null) state.open = new Set(wanted.open);
  Object.assign(state.heads, wanted.heads);
  if (wanted.focus !== null) state.focus = wanted.focus;
  if (wanted.grid) state.grid = wanted.grid;
}

export function urlOf(app, lang, present) {
  const { state } = app;
  const s = state.settings;
  const q = new URLSearchParams();
  q.set("model", state.model);
  if (app.trace) q.set("prompt", app.trace.prompt);
  q.set("t", String(s.temperature));
  if (s.topK) q.set("k", String(s.topK));
  if (s.topP < 1) q.set("p", String(s.topP));
  if (s.greedy) q.set("greedy", "1");
  if (state.seed !== "") q.set("seed", state.seed);
  q.set("open", [...state.open].sort((a, b) => a - b).join(","));
  const heads = Object.entries(state.heads).filter(([, h]) => h).map(([b, h]) => `${b}:${h}`);
  if (heads.length) q.set("heads", heads.join(","));
  if (state.focus !== null) q.set("focus", String(state.focus));
  if (state.grid) q.set("grid", [state.grid.block, state.grid.head, ...(state.grid.row === null ? [] : [state.grid.row])].join(","));
  q.set("lang", lang);
  if (present !== null) q.set("present", String(present));
  return `?${q}`;
}

let pending = null;
// keep the address current: soon after any change (a slider, a click, a block opened)
export function followState(write) {
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(write, 120);
  };
  for (const type of ["input", "change", "click", "toggle", "keyup"]) document.addEventListener(type, soon, true);
  return soon;
}
