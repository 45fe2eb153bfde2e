// 3. The transformer blocks, each one expandable: attention per head in its stages, Add & Norm,
// feed-forward (expansion, activation, compression), Add & Norm.
import { el, fmt, heatmap, histogram, html, pct, showToken, tokenChip } from "../draw.js";
import { t, tHtml } from "../i18n.js";
import { describeCell } from "./embed.js";

function headPicker(n, current, onPick) {
  const bar = el("div", { class: "heads", role: "group", "aria-label": t("block.head") });
  bar.append(el("span", { class: "heads-label", text: t("block.head") }));
  for (let h = 0; h < n; h++) {
    bar.append(
      el("button", {
        type: "button",
        class: "chip-btn",
        "aria-pressed": h === current ? "true" : "false",
        text: String(h + 1),
        onclick: () => onPick(h),
      }),
    );
  }
  return bar;
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
  for (const [name, key] of [["q", "block.q"], ["k", "block.k"], ["v", "block.v"]]) {
    qkv.append(
      heatmap(b[name].mat(head), {
        rowLabels: labels,
        maxWidth: third,
        title: `${t(key)} · ${t("block.head")} ${head + 1}`,
        describe: describeCell(labels, `${t(key)}, ${t("block.head")} ${head + 1}`),
      }),
    );
  }
  part.append(explain("block.qkv", { d }), qkv, explain("block.attn", { d }));

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
      headPicker(facts.n_head, head, (h) => {
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

export function renderBlocks(root, app) {
  const { trace, facts, state } = app;
  root.replaceChildren();
  trace.blocks.forEach((b, i) => {
    const body = el("div", { class: "block-body" });
    const details = el(
      "details",
      { class: "block", "data-block": i },
      el(
        "summary",
        {},
        el("span", { class: "block-name", text: t("block.name", { i: i + 1 }) }),
        el("span", { class: "block-summary", text: t("block.summary", { h: facts.n_head }) }),
      ),
      body,
    );
    details.open = state.open.has(i);
    root.append(details);
    if (details.open) blockBody(b, i, app, body);
    details.addEventListener("toggle", () => {
      if (details.open) {
        state.open.add(i);
        if (!body.firstChild) blockBody(b, i, app, body);
      } else {
        state.open.delete(i);
      }
    });
    if (i < trace.blocks.length - 1) root.append(el("div", { class: "mini-arrow", "aria-hidden": "true" }));
  });
}
