// Drawing helpers: heat maps on canvas, histograms in SVG, token chips, the tooltip.
// Colours follow the course diagram: input blue, decoder purple, output green, loop orange,
// causal mask red. Values: blue (negative) - white (0) - red (positive); weights: white -> purple.

export const TOKEN_COLOURS = ["#bbdefb", "#dcedc8", "#ffcdd2", "#c8e6c9", "#ffe0b2", "#e1bee7"];

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

export function fmt(v) {
  if (v === -Infinity) return "−∞";
  if (v === Infinity) return "∞";
  if (Number.isNaN(v)) return "NaN";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(3).replace("-", "−");
  return Number(v.toPrecision(4)).toString().replace("-", "−");
}

export function pct(p) {
  if (p === 0) return "0%";
  if (p < 0.0001) return "<0.01%";
  return (100 * p).toFixed(p < 0.1 ? 2 : 1) + "%";
}

// how a token is shown: spaces and newlines made visible
export function showToken(text) {
  return text.replace(/ /g, "␣").replace(/\n/g, "↵").replace(/\t/g, "⇥") || "∅";
}

// --- tooltip ---------------------------------------------------------------------------------

const tip = () => document.getElementById("tooltip");

// `markup` comes from html`...` (or holds only numbers and trusted STRINGS)
export function showTip(event, markup) {
  const t = tip();
  t.innerHTML = markup;
  t.hidden = false;
  const pad = 14;
  let x = event.clientX + pad;
  let y = event.clientY + pad;
  const r = t.getBoundingClientRect();
  if (x + r.width > window.innerWidth - 4) x = event.clientX - r.width - pad;
  if (y + r.height > window.innerHeight - 4) y = event.clientY - r.height - pad;
  t.style.left = `${Math.max(4, x)}px`;
  t.style.top = `${Math.max(4, y)}px`;
}

export function hideTip() {
  tip().hidden = true;
  hovered = null;
}

// Heat maps are drawn from reduced-precision numbers (tensors.js); the cell under the mouse is
// then shown with its exact float32, asked from the server by the app (resolver(name, index)
// -> Promise<number | null>). `hovered` is the cell the tooltip is about, so that a late
// answer for a cell the mouse has left is dropped.
let exactResolver = null;
let hovered = null;
export function setExactResolver(fn) {
  exactResolver = fn;
}
const EXACT_DELAY_MS = 60;

function tipWithExact(ev, m, i, j, render) {
  const v = m.get(i, j);
  if (m.exact !== false || !Number.isFinite(v)) {
    showTip(ev, render(v));
    return;
  }
  if (!m.at || !exactResolver) {
    showTip(ev, `${render(v)}<br>≈`); // no exact value to ask for
    return;
  }
  const where = m.at(i, j);
  const key = `${where.name}:${where.index.join(",")}`;
  showTip(ev, `${render(v)}<br>≈`); // until the exact value arrives
  if (hovered && hovered.key === key) {
    hovered.ev = ev;
    return;
  }
  const cell = { key, ev };
  hovered = cell;
  setTimeout(() => {
    if (hovered !== cell) return;
    exactResolver(where.name, where.index)
      .then((exact) => {
        if (hovered !== cell || exact === null || exact === undefined) return;
        showTip(cell.ev, `${render(exact)}<br>✓ float32`);
        tip().dataset.exact = String(exact);
      })
      .catch(() => {});
  }, EXACT_DELAY_MS);
}

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Markup whose interpolated values are all escaped: html`<b>${title}</b><br>«${token}»` is
// safe whatever a token's text is. The only way a token (or any model-supplied text) reaches
// innerHTML.
export function html(strings, ...values) {
  return strings.reduce((out, s, i) => out + escapeHtml(values[i - 1]) + s);
}

// --- colour maps -----------------------------------------------------------------------------

const NEG = [33, 102, 172];
const POS = [178, 24, 43];
const SEQ = [74, 20, 140];

function mix(c, t) {
  return `rgb(${Math.round(255 + (c[0] - 255) * t)},${Math.round(255 + (c[1] - 255) * t)},${Math.round(255 + (c[2] - 255) * t)})`;
}

export function colour(v, scale, cmap) {
  if (!Number.isFinite(v)) return null;
  if (cmap === "seq") return mix(SEQ, Math.min(1, Math.max(0, v / (scale || 1))));
  const t = Math.min(1, Math.abs(v) / (scale || 1));
  return mix(v < 0 ? NEG : POS, Math.sqrt(t));
}

function maxAbs(m, masked) {
  let s = 0;
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) {
      if (masked && masked(i, j)) continue;
      const v = Math.abs(m.get(i, j));
      if (Number.isFinite(v) && v > s) s = v;
    }
  }
  return s || 1;
}

export function legend(scale, cmap) {
  const left = cmap === "seq" ? "0" : fmt(-scale);
  const bar = el("span", { class: `legend-bar ${cmap}` });
  return el("span", { class: "legend" }, el("span", { text: left }), bar, el("span", { text: fmt(scale) }));
}

// --- heat map --------------------------------------------------------------------------------

/*
 * A matrix as coloured cells on a canvas, with optional row labels (tokens).
 * opts: rowLabels, cmap ("div" | "seq"), scale, maxWidth, cellH, maxCellW, masked(i, j),
 *       colGroups (a white line every n columns, e.g. between heads),
 *       highlightRows (Set), rowClass(i) -> "new" | "cached" | null,
 *       describe(i, j, v) -> markup for the tooltip (build it with html`...`), title, note.
 */
export function heatmap(m, opts = {}) {
  const cmap = opts.cmap || "div";
  const scale = opts.scale || maxAbs(m, opts.masked);
  const labelW = opts.rowLabels ? Math.min(90, 8 + 7 * Math.max(...opts.rowLabels.map((s) => Math.min(s.length, 10)))) : 0;
  const avail = Math.max(60, (opts.maxWidth || 600) - labelW);
  // whole pixels when they fit; otherwise fractional cells so that the whole matrix shows
  const raw = Math.min(opts.maxCellW || 14, avail / m.cols);
  const cw = raw >= 1 ? Math.floor(raw) : raw;
  const ch = opts.cellH || (opts.rowLabels ? Math.max(Math.min(cw, 16), 12) : Math.max(cw, 4));
  const W = Math.ceil(labelW + m.cols * cw);
  const H = m.rows * ch;
  const dpr = window.devicePixelRatio || 1;
  const canvas = el("canvas", { class: "heat", role: "img", "aria-label": opts.title || "heat map" });
  canvas.width = W * dpr;
  canvas.height = H * dpr;
  canvas.style.width = `${W}px`;
  canvas.style.height = `${H}px`;

  const draw = (highlight) => {
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    g.font = "11px ui-monospace, SFMono-Regular, Menlo, monospace";
    g.textBaseline = "middle";
    for (let i = 0; i < m.rows; i++) {
      if (opts.rowLabels) {
        const cls = opts.rowClass ? opts.rowClass(i) : null;
        g.fillStyle = cls === "new" ? "#e65100" : cls === "cached" ? "#78909c" : "#37474f";
        g.textAlign = "right";
        g.fillText(opts.rowLabels[i].slice(0, 10), labelW - 6, i * ch + ch / 2);
      }
      for (let j = 0; j < m.cols; j++) {
        const x = labelW + j * cw;
        const y = i * ch;
        if (opts.masked && opts.masked(i, j)) {
          g.fillStyle = "#fbe9e7";
          g.fillRect(x, y, cw, ch);
          if (cw >= 5) {
            g.strokeStyle = "#e57373";
            g.lineWidth = 1;
            g.beginPath();
            g.moveTo(x, y + ch);
            g.lineTo(x + cw, y);
            g.stroke();
          }
          continue;
        }
        g.fillStyle = colour(m.get(i, j), scale, cmap) || "#eceff1";
        g.fillRect(x, y, cw, ch);
      }
      if (opts.rowClass && opts.rowClass(i) === "cached") {
        g.fillStyle = "rgba(236,239,241,0.55)";
        g.fillRect(labelW, i * ch, m.cols * cw, ch);
      }
    }
    if (opts.colGroups && cw >= 2) {
      g.fillStyle = "#ffffff";
      for (let j = opts.colGroups; j < m.cols; j += opts.colGroups) g.fillRect(labelW + j * cw - 1, 0, 2, H);
    }
    const rows = highlight ?? opts.highlightRows ?? new Set();
    for (const i of rows) {
      g.strokeStyle = "#e65100";
      g.lineWidth = 2;
      g.strokeRect(labelW + 1, i * ch + 1, m.cols * cw - 2, ch - 2);
    }
  };
  draw();

  canvas.addEventListener("mousemove", (ev) => {
    const r = canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - r.left - labelW) / cw);
    const i = Math.floor((ev.clientY - r.top) / ch);
    if (i < 0 || i >= m.rows || j < 0 || j >= m.cols) return hideTip();
    const masked = opts.masked && opts.masked(i, j);
    const render = (v) => (opts.describe ? opts.describe(i, j, v, masked) : html`[${i}, ${j}] = <b>${fmt(v)}</b>`);
    if (masked) showTip(ev, render(m.get(i, j)));
    else tipWithExact(ev, m, i, j, render);
    if (opts.onHoverRow) opts.onHoverRow(i);
  });
  canvas.addEventListener("mouseleave", () => {
    hideTip();
    if (opts.onHoverRow) opts.onHoverRow(null);
  });

  const fig = el("figure", { class: "heatfig" });
  if (opts.title) fig.append(el("figcaption", { class: "heat-title" }, opts.title));
  fig.append(el("div", { class: "heat-scroll" }, canvas));
  const foot = el("div", { class: "heat-foot" }, legend(scale, cmap));
  if (m.pooled > 1) foot.append(el("span", { class: "note", text: `⌀ ${m.pooled}` }));
  if (opts.note) foot.append(el("span", { class: "note" }, opts.note));
  fig.append(foot);
  fig.redraw = draw;
  return fig;
}

// --- histogram -------------------------------------------------------------------------------

export function histogram(h, { title, colour: fill = "#6a1b9a", width = 260, height = 110 } = {}) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 18}`);
  svg.setAttribute("class", "hist");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title || "histogram");
  const max = Math.max(...h.counts, 1);
  const bw = width / h.counts.length;
  h.counts.forEach((c, k) => {
    const r = document.createElementNS(ns, "rect");
    const bh = (c / max) * height;
    r.setAttribute("x", k * bw + 0.5);
    r.setAttribute("y", height - bh);
    r.setAttribute("width", Math.max(1, bw - 1));
    r.setAttribute("height", bh);
    r.setAttribute("fill", fill);
    const t = document.createElementNS(ns, "title");
    t.textContent = `[${fmt(h.edges[k])}, ${fmt(h.edges[k + 1])}): ${c}`;
    r.append(t);
    svg.append(r);
  });
  const zero = (0 - h.edges[0]) / (h.edges[h.edges.length - 1] - h.edges[0]);
  if (zero > 0 && zero < 1) {
    const l = document.createElementNS(ns, "line");
    l.setAttribute("x1", zero * width);
    l.setAttribute("x2", zero * width);
    l.setAttribute("y1", 0);
    l.setAttribute("y2", height);
    l.setAttribute("class", "zero-line");
    svg.append(l);
  }
  for (const [x, anchor, v] of [[0, "start", h.edges[0]], [width, "end", h.edges[h.edges.length - 1]]]) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x);
    t.setAttribute("y", height + 14);
    t.setAttribute("text-anchor", anchor);
    t.textContent = fmt(v);
    svg.append(t);
  }
  const fig = el("figure", { class: "histfig" });
  if (title) fig.append(el("figcaption", { class: "heat-title" }, title));
  fig.append(svg);
  return fig;
}

// --- tokens ----------------------------------------------------------------------------------

export function tokenChip(tok, i, { showId = true, cls = "" } = {}) {
  const chip = el(
    "span",
    { class: `tok ${cls}`, style: `--tok-bg:${TOKEN_COLOURS[i % TOKEN_COLOURS.length]}`, "data-pos": i },
    el("span", { class: "tok-text", text: showToken(tok.text) }),
  );
  if (showId) chip.append(el("span", { class: "tok-id", text: tok.id }));
  return chip;
}

// a small row of numbers: a vector as a single-row heat strip
// opts.exact (false: reduced precision) and opts.at(j) -> {name, index} of the exact value
export function strip(vec, opts = {}) {
  const at = opts.at ? (_i, j) => opts.at(j) : null;
  const m = { rows: 1, cols: vec.length, get: (_i, j) => vec[j], pooled: opts.pooled || 1, exact: opts.exact !== false, at };
  return heatmap(m, {
    cellH: opts.cellH || 18,
    maxCellW: opts.maxCellW || 8,
    ...opts,
  });
}
