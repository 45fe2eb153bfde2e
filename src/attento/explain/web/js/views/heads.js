// All heads at once: every block x head as a small map of its attention weights, the heads
// that look most at the previous, first or same token (summaries computed by the server from
// the real weights, /api/heads), and one head opened large: key labels on the columns, and a
// row-focus mode that lists one query's weights as bars.
import { colour, el, hideTip, html, pct, showTip, showToken, tokenChip } from "../draw.js";
import { t, tHtml } from "../i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const KINDS = ["previous", "first", "same"];
const RANKED = 3; // heads listed per kind
const grids = new WeakMap(); // trace -> the answer of /api/heads (or the pending request)

function loadHeads(app) {
  const trace = app.trace;
  if (!grids.has(trace)) {
    const pending = app.api("/api/heads", { model: app.state.model, ids: app.state.ids }).then((res) => {
      const data = app.decode(res);
      grids.set(trace, data);
      return data;
    });
    pending.catch(() => grids.delete(trace));
    grids.set(trace, pending);
  }
  return Promise.resolve(grids.get(trace));
}

const fmtMean = (v) => (v === null || v === undefined ? "—" : v.toFixed(2));

// one head's map on a canvas of `size` px, causal future in light red
function miniMap(m, size) {
  const dpr = window.devicePixelRatio || 1;
  const canvas = el("canvas", { class: "head-map" });
  canvas.width = Math.round(size * dpr);
  canvas.height = Math.round(size * dpr);
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  const g = canvas.getContext("2d");
  const c = (size * dpr) / m.cols;
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) {
      g.fillStyle = j > i ? "#fbe9e7" : colour(m.get(i, j), 1, "seq") || "#eceff1";
      g.fillRect(Math.floor(j * c), Math.floor(i * c), Math.ceil(c), Math.ceil(c));
    }
  }
  return canvas;
}

// the opened head as SVG: query labels on the rows, key labels (rotated) on the columns
function bigMap(m, labels, focusRow, onRow) {
  const n = m.cols;
  const cell = Math.max(10, Math.min(26, Math.floor(560 / n)));
  const left = 80;
  const top = 70;
  const svg = document.createElementNS(SVG, "svg");
  const W = left + n * cell + 4;
  const H = top + n * cell + 4;
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "head-big");
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (let k = 0; k < n; k++) {
    const x = left + k * cell + cell / 2;
    add("text", { x, y: top - 6, transform: `rotate(-60 ${x} ${top - 6})`, class: "key-label" }, labels[k].slice(0, 10));
    const row = add("text", { x: left - 6, y: top + k * cell + cell / 2 + 4, "text-anchor": "end", class: `query-label${k === focusRow ? " focused" : ""}` }, labels[k].slice(0, 10));
    row.addEventListener("click", () => onRow(k));
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const r = add("rect", {
        x: left + j * cell,
        y: top + i * cell,
        width: cell,
        height: cell,
        fill: j > i ? "#fbe9e7" : colour(m.get(i, j), 1, "seq") || "#eceff1",
      });
      if (j <= i) {
        r.addEventListener("mousemove", (ev) => showTip(ev, html`«${labels[i]}» → «${labels[j]}»: <b>${pct(m.get(i, j))}</b>`));
        r.addEventListener("mouseleave", hideTip);
      }
      r.addEventListener("click", () => onRow(i));
    }
  }
  if (focusRow !== null) {
    add("rect", { x: left, y: top + focusRow * cell, width: n * cell, height: cell, fill: "none", stroke: "#e65100", "stroke-width": 2 });
  }
  return svg;
}

function opened(data, app, root) {
  const { state, trace } = app;
  const { block, head } = state.grid;
  const start = data.start;
  const labels = trace.tokens.slice(start).map((x) => showToken(x.text));
  const m = data.maps.mat(block, head);
  const row = state.grid.row ?? m.rows - 1;
  const pickRow = (r) => {
    state.grid.row = r;
    renderHeads(root, app);
  };
  const chips = el("div", { class: "tokens head-rows", role: "group", "aria-label": t("heads.row") });
  labels.forEach((_, r) => {
    const chip = tokenChip(trace.tokens[start + r], start + r, { showId: false, cls: r === row ? "selected" : "" });
    chip.tabIndex = 0;
    chip.setAttribute("role", "button");
    chip.dataset.row = String(r);
    chip.addEventListener("click", () => pickRow(r));
    chip.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), pickRow(r)));
    chips.append(chip);
  });
  const bars = el("div", { class: "head-bars", id: "head-bars" });
  for (let k = 0; k <= row; k++) {
    const w = m.get(row, k);
    bars.append(
      el(
        "div",
        { class: "head-bar", "data-key": String(k), "data-w": String(w) },
        el("span", { class: "look-tok", text: labels[k] }),
        el("span", { class: "bar-track" }, el("span", { class: "bar-fill", style: `--w:${w.toFixed(4)}` })),
        el("span", { class: "look-w", text: pct(w) }),
      ),
    );
  }
  const s = (k) => fmtMean(data.summaries[k][block]?.[head]);
  return el(
    "div",
    { class: "head-open", id: "head-open", "data-block": block, "data-head": head },
    el(
      "div",
      { class: "head-open-bar" },
      el("h3", { text: t("heads.open", { i: block + 1, h: head + 1 }) }),
      el("span", { class: "meta", text: KINDS.map((k) => `${t(`heads.kind.${k}`)} ${s(k)}`).join(" · ") }),
      el("button", {
        type: "button",
        id: "head-in-block",
        text: t("heads.open.block"),
        onclick: () => {
          state.open.add(block);
          state.heads[block] = head;
          app.rerender();
          document.querySelector(`#v-blocks details[data-block="${block}"]`)?.scrollIntoView({ block: "start" });
        },
      }),
      el("button", {
        type: "button",
        class: "link-btn",
        text: t("heads.close"),
        onclick: () => {
          state.grid = null;
          renderHeads(root, app);
        },
      }),
    ),
    el("div", { class: "row-figs" }, bigMap(m, labels, row, pickRow), el("div", { class: "head-focus" }, el("p", { class: "hint", text: t("heads.row") }), chips, bars)),
  );
}

function ranking(data, app, root) {
  const box = el("div", { class: "head-ranks" });
  for (const kind of KINDS) {
    const all = [];
    data.summaries[kind].forEach((heads, i) => heads && heads.forEach((v, h) => all.push({ i, h, v })));
    if (!all.length) continue;
    all.sort((a, b) => b.v - a.v);
    box.append(
      el(
        "p",
        { class: "head-rank", "data-kind": kind },
        el("span", { text: t("heads.rank", { k: t(`heads.kind.${kind}`) }) }),
        ...all.slice(0, RANKED).map(({ i, h, v }) =>
          el("button", {
            type: "button",
            class: "chip-btn",
            "data-block": i,
            "data-head": h,
            text: `${i + 1}.${h + 1} · ${v.toFixed(2)}`,
            onclick: () => {
              app.state.grid = { block: i, head: h, row: null };
              renderHeads(root, app);
            },
          }),
        ),
      ),
    );
  }
  return box;
}

// the grid is fetched when the section comes near the screen (or a head is asked for): at
// GPT-2 small it is ~0.8 MB, which a student rolling the die need not download every time
let watcher = null;

export function renderHeads(root, app) {
  const { trace, state } = app;
  const data = grids.get(trace);
  if (!data || data instanceof Promise) {
    root.replaceChildren(el("p", { class: "block-loading", text: t("block.loading") }));
    const load = () =>
      loadHeads(app).then(
        () => app.trace === trace && root.isConnected && app.keepInPlace(() => renderHeads(root, app)),
        (e) => root.replaceChildren(el("p", { class: "error", text: app.errorText(e) })),
      );
    if (watcher) watcher.disconnect();
    if (state.grid || !("IntersectionObserver" in window)) {
      load();
      return;
    }
    watcher = new IntersectionObserver(
      (entries) => {
        if (!entries.some((e) => e.isIntersecting)) return;
        watcher.disconnect();
        load();
      },
      { rootMargin: "300px" },
    );
    watcher.observe(root);
    return;
  }
  const L = data.n_layer;
  const H = data.n_head;
  const labelW = 64;
  const width = (root.clientWidth || app.width) - labelW - 8;
  const size = Math.max(24, Math.min(120, Math.floor(width / H) - 4));
  const grid = el("div", { class: "head-grid", style: `grid-template-columns:${labelW}px repeat(${H}, ${size}px)` });
  grid.append(el("span"));
  for (let h = 0; h < H; h++) grid.append(el("span", { class: "head-col", text: String(h + 1) }));
  const labels = trace.tokens.slice(data.start).map((x) => showToken(x.text));
  for (let i = 0; i < L; i++) {
    grid.append(el("span", { class: "head-rowlabel", text: t("heads.block", { i: i + 1 }) }));
    for (let h = 0; h < H; h++) {
      const m = data.maps.mat(i, h);
      const canvas = miniMap(m, size);
      const selected = state.grid && state.grid.block === i && state.grid.head === h;
      const cell = el("button", {
        type: "button",
        class: `head-cell${selected ? " selected" : ""}`,
        "data-block": i,
        "data-head": h,
        "aria-label": `${t("heads.block", { i: i + 1 })} ${t("heads.head", { h: h + 1 })}`,
      });
      cell.append(canvas);
      const mean = (k) => fmtMean(data.summaries[k][i]?.[h]);
      cell.addEventListener("mousemove", (ev) => {
        const r = canvas.getBoundingClientRect();
        const q = Math.floor(((ev.clientY - r.top) / r.height) * m.rows);
        const k = Math.floor(((ev.clientX - r.left) / r.width) * m.cols);
        const where = q >= 0 && q < m.rows && k >= 0 && k <= q ? html`<br>«${labels[q]}» → «${labels[k]}»: <b>${pct(m.get(q, k))}</b>` : "";
        showTip(ev, tHtml("heads.tip", { i: i + 1, h: h + 1, p: mean("previous"), f: mean("first"), s: mean("same") }) + where);
      });
      cell.addEventListener("mouseleave", hideTip);
      cell.addEventListener("click", () => {
        state.grid = { block: i, head: h, row: null };
        renderHeads(root, app);
      });
      grid.append(cell);
    }
  }
  root.replaceChildren(ranking(data, app, root));
  if (data.start > 0) root.append(el("p", { class: "meta", text: t("heads.window", { n: data.maps.shape[2] }) }));
  root.append(el("div", { class: "head-grid-scroll" }, grid));
  if (state.grid && state.grid.block < L && state.grid.head < H) root.append(opened(data, app, root));
}
