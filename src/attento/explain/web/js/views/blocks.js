// 3. The transformer blocks, each one expandable: attention per head in its stages, Add & Norm,
// feed-forward (expansion, activation, compression), Add & Norm. A block's numbers are asked
// from the server when it is opened (app.loadBlock); with grouped-query attention the heads
// are shown in the groups that share one key/value head.
import { el, fmt, heatmap, histogram, html, pct, showToken, tokenChip } from "../draw.js";
import { t, tHtml } from "../i18n.js";
import { describeCell } from "./embed.js";

// query heads 1..n; with kv < n key/value heads, in boxes of n / kv that share one
function headPicker(n, kv, current, onPick) {
  const bar = el("div", { class: "heads", role: "group", "aria-label": t("block.head") });
  bar.append(el("span", { class: "heads-label", text: t("block.head") }));
  const group = n / kv;
  const button = (h) =>
    el("button", {
      type: "button",
      class: "chip-btn",
      "aria-pressed": h === current ? "true" : "false",
      "data-head": h,
      text: String(h + 1),
      onclick: () => onPick(h),
    });
  for (let g = 0; g < kv; g++) {
    const heads = Array.from({ length: group }, (_, k) => button(g * group + k));
    if (kv === n) {
      bar.append(...heads);
      continue;
    }
    const a = g * group + 1;
    bar.append(
      el(
        "span",
        { class: "kv-group", "data-kv": g, title: t("block.kv.title", { a, b: a + group - 1, g: g + 1 }) },
        el("span", { class: "kv-group-label", text: t("block.kv", { g: g + 1 }) }),
        ...heads,
      ),
    );
  }
  return bar;
}

// the key/value head query head h reads, and the query heads (1-based) that share it
function kvOf(b, h) {
  const group = b.n_head / b.n_kv_head;
  const g = Math.floor(h / group);
  return { g, a: g * group + 1, z: (g + 1) * group };
}

// a paragraph of STRINGS markup (trusted) with escaped values
function explain(key, vars) {
  const p = el("p", { class: "explain" });
  p.innerHTML = tHtml(key, vars);
  return p;
}

function step(cls, key, vars, ...content) {
  return el("div", { class: `substep ${cls}` }, explain(key, vars), ...content);
}

function attentionPart(b, i, app, head, width) {
  const { trace } = app;
  const T = trace.tokens.length;
  const labels = trace.tokens.map((x) => showToken(x.text));
  const d = app.facts.head_dim;
  const part = el("div", { class: "attn-part" });
  const third = Math.max(220, Math.floor((width - 50) / 3));
  const qkv = el("div", { class: "row-figs" });
  const kv = kvOf(b, head);
  const shared = b.n_kv_head < b.n_head;
  for (const [name, key] of [["q", "block.q"], ["k", "block.k"], ["v", "block.v"]]) {
    const which = name === "q" || !shared ? `${t("block.head")} ${head + 1}` : t("block.kvhead", { g: kv.g + 1, a: kv.a, b: kv.z });
    qkv.append(
      heatmap(b[name].mat(name === "q" ? head : kv.g), {
        rowLabels: labels,
        maxWidth: third,
        title: `${t(key)} · ${which}`,
        describe: describeCell(labels, `${t(key)}, ${which}`),
      }),
    );
  }
  part.append(explain("block.qkv", { d }));
  if (shared) part.append(explain("block.gqa", { h: b.n_head, kv: b.n_kv_head, n: b.n_head / b.n_kv_head }));
  part.append(qkv, explain("block.attn", { d }));

  const future = (r, c) => c > r;
  const figs = [];
  const mats = el("div", { class: "row-figs attn-mats" });
  const stages = [
    ["scores", "block.scores", null, "div"],
    ["scaled_masked", "block.scaled", future, "div"],
    ["weights", "block.weights", future, "seq"],
  ];
  for (const [name, key, masked, cmap] of stages) {
    const title = t(key, { d });
    if (!b[name]) {
      mats.append(el("figure", { class: "heatfig omitted" }, el("figcaption", { text: `${title}: ${t("block.omitted")}` })));
      continue;
    }
    const fig = heatmap(b[name].mat(head), {
      rowLabels: labels,
      cmap,
      maxWidth: third,
      maxCellW: 22,
      masked,
      title,
      describe: (r, c, v, isMasked) =>
        html`<b>${title}</b><br>query «${labels[r]}» (${r}) → key «${labels[c]}» (${c})<br>${isMasked ? `${t("block.future")}: ` : ""}${fmt(v)}`,
      onHoverRow: (r) => focus(r),
    });
    figs.push(fig);
    mats.append(fig);
  }
  part.append(mats);

  // where one token attends: hover or focus a token
  const weights = b.weights.mat(head);
  const looks = el("div", { class: "looks", "aria-live": "polite" });
  const chips = el("div", { class: "tokens attn-tokens" });
  const focus = (r) => {
    for (const f of figs) f.redraw(r === null ? new Set() : new Set([r]));
    for (const c of chips.children) c.classList.toggle("focused", Number(c.dataset.pos) === r);
    looks.replaceChildren();
    if (r === null) return;
    looks.append(el("span", { class: "looks-label", text: t("block.attends", { t: labels[r] }) }));
    for (let c = 0; c < T; c++) {
      const w = c <= r ? weights.get(r, c) : null;
      const cell = el(
        "span",
        { class: `look ${w === null ? "masked" : ""}`, style: w === null ? "" : `--w:${w.toFixed(4)}` },
        el("span", { class: "look-tok", text: labels[c] }),
        el("span", { class: "look-w", text: w === null ? "—" : pct(w) }),
      );
      if (w === null) cell.title = t("block.future");
      looks.append(cell);
    }
  };
  trace.tokens.forEach((tok, r) => {
    const chip = tokenChip(tok, r, { showId: false });
    chip.tabIndex = 0;
    chip.addEventListener("mouseenter", () => focus(r));
    chip.addEventListener("focus", () => focus(r));
    chips.append(chip);
  });
  part.append(el("p", { class: "hint", text: t("block.hover") }), chips, looks);
  focus(T - 1);
  return part;
}

function blockBody(b, i, app, body) {
  const { trace, facts, state } = app;
  const labels = trace.tokens.map((x) => showToken(x.text));
  const width = (body.clientWidth || app.width) - 28;
  const half = Math.max(260, Math.floor((width - 24) / 2));
  const head = state.heads[i] ?? 0;
  const fig = (tensor, key, vars = {}, maxWidth = half, extra = {}) =>
    heatmap(tensor.mat(), {
      ...extra,
      rowLabels: labels,
      maxWidth,
      title: t(key, vars),
      describe: describeCell(labels, t(key, vars)),
    });
  const pair = (...figs) => el("div", { class: "row-figs" }, ...figs);
  const c = facts.n_embd;
  const f = b.mlp_hidden.fullShape[b.mlp_hidden.fullShape.length - 1];

  body.replaceChildren();
  body.append(
    el("div", { class: "substep norm" }, fig(b.ln1, "block.ln1", {}, width)),
    el(
      "div",
      { class: "substep attn" },
      headPicker(b.n_head, b.n_kv_head, head, (h) => {
        state.heads[i] = h;
        blockBody(b, i, app, body);
      }),
      attentionPart(b, i, app, head, width),
    ),
    step("heads", "block.heads", {}, pair(fig(b.heads, "block.concat", {}, half, { colGroups: facts.head_dim }), fig(b.attn_out, "block.wo"))),
    step("add", "block.add1", {}, pair(fig(b.resid_mid, "block.resid_mid"), fig(b.ln2, "block.ln2"))),
    step(
      "ffn",
      "block.ffn",
      { c, f, act: facts.activation },
      pair(fig(b.mlp_hidden, "block.hidden", { f }), fig(b.mlp_act, "block.act")),
      pair(
        histogram(b.hist_hidden, { title: t("block.hist_hidden") }),
        histogram(b.hist_act, { title: t("block.hist_act"), colour: "#8e24aa" }),
      ),
      el("p", { class: "meta", text: t("block.positive", { p: pct(b.hist_act.positive) }) }),
      fig(b.mlp_out, "block.mlp_out", { c }, width),
    ),
    step("add", "block.add2", {}, fig(b.out, "block.out", {}, width)),
  );
}

// the block's body once its numbers are here (they are fetched the first time it opens)
function fill(i, app, body) {
  const known = app.blocks.get(i);
  if (known && !(known instanceof Promise)) {
    blockBody(known, i, app, body);
    return;
  }
  // as tall as the block was before (the previous prompt's), so the page does not jump
  const height = app.blockHeights?.get(i);
  const loading = el("p", { class: "block-loading", text: t("block.loading") });
  if (height) loading.style.minHeight = `${height}px`;
  body.replaceChildren(loading);
  const trace = app.trace;
  app
    .loadBlock(i)
    .then((b) => {
      if (app.trace === trace && body.isConnected) app.keepInPlace(() => blockBody(b, i, app, body));
    })
    .catch((e) => {
      if (app.trace === trace && body.isConnected) body.replaceChildren(el("p", { class: "error", text: app.errorText(e) }));
    });
}

export function renderBlocks(root, app) {
  const { facts, state } = app;
  app.blockHeights = new Map();
  for (const d of root.querySelectorAll("details.block[open]")) {
    const body = d.querySelector(".block-body");
    if (body) app.blockHeights.set(Number(d.dataset.block), body.getBoundingClientRect().height);
  }
  root.replaceChildren();
  const heads = facts.n_kv_head && facts.n_kv_head !== facts.n_head ? `${facts.n_head} / KV ${facts.n_kv_head}` : facts.n_head;
  for (let i = 0; i < facts.n_layer; i++) {
    const body = el("div", { class: "block-body" });
    const details = el(
      "details",
      { class: "block", "data-block": i },
      el(
        "summary",
        {},
        el("span", { class: "block-name", text: t("block.name", { i: i + 1 }) }),
        el("span", { class: "block-summary", text: t("block.summary", { h: heads }) }),
      ),
      body,
    );
    details.open = state.open.has(i);
    root.append(details);
    if (details.open) fill(i, app, body);
    details.addEventListener("toggle", () => {
      if (details.open) {
        state.open.add(i);
        if (!body.firstChild || body.querySelector(".block-loading")) fill(i, app, body);
      } else {
        state.open.delete(i);
      }
    });
    if (i < facts.n_layer - 1) root.append(el("div", { class: "mini-arrow", "aria-hidden": "true" }));
  }
}
