// 4. The stack: one token's residual stream after each sub-layer, block after block. The
// overview carries the last token's vectors; another token's are asked when it is picked.
import { el, fmt, html, showToken, strip, tokenChip } from "../draw.js";
import { t } from "../i18n.js";
import { lensBox } from "./lens.js";

export function renderStack(root, app) {
  const { trace, state } = app;
  const T = trace.tokens.length;
  const pos = state.focus !== null && state.focus < T ? state.focus : T - 1;
  root.replaceChildren();

  const picker = el("div", { class: "tokens picker", role: "group", "aria-label": t("stack.token") });
  trace.tokens.forEach((tok, i) => {
    const chip = tokenChip(tok, i, { showId: false, cls: i === pos ? "selected" : "" });
    chip.tabIndex = 0;
    chip.setAttribute("role", "button");
    chip.setAttribute("aria-pressed", i === pos ? "true" : "false");
    const pick = () => {
      state.focus = i;
      renderStack(root, app);
    };
    chip.addEventListener("click", pick);
    chip.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        pick();
      }
    });
    picker.append(chip);
  });
  root.append(picker);

  const known = app.stacks.get(pos);
  if (!known || known instanceof Promise) {
    root.append(el("p", { class: "block-loading", text: t("block.loading") }));
    app.loadStack(pos).then(
      () => app.trace === trace && root.isConnected && app.keepInPlace(() => renderStack(root, app)),
      (e) => root.append(el("p", { class: "error", text: app.errorText(e) })),
    );
    return;
  }
  const stack = known.vectors;
  const vectors = known.rows.map((_, k) => stack.vec(k));
  const names = [t("stack.embed")];
  for (let i = 0; i < app.facts.n_layer; i++) names.push(t("stack.attn", { i: i + 1 }), t("stack.ffn", { i: i + 1 }));
  const stages = trace.stream.stages;
  const maxNorm = Math.max(...stages.map((s) => s.norm[pos]));
  let scale = 0;
  for (const v of vectors) for (const x of v) scale = Math.max(scale, Math.abs(x));
  const width = root.clientWidth || 800;
  const grid = el(
    "div",
    { class: "stack-grid", role: "table" },
    el(
      "div",
      { class: "stack-row head", role: "row" },
      ...["stack.stage", "stack.vector", "stack.norm", "stack.cos"].map((k) =>
        el("span", { role: "columnheader", text: t(k) }),
      ),
    ),
  );
  stages.forEach((s, k) => {
    const norm = s.norm[pos];
    const cos = s.cos_prev ? s.cos_prev[pos] : null;
    grid.append(
      el(
        "div",
        { class: `stack-row ${k % 2 ? "attn" : "ffn"}`, role: "row" },
        el("span", { class: "stack-name", role: "cell", text: names[k] }),
        el(
          "span",
          { role: "cell", class: "stack-vec" },
          strip(vectors[k], {
            scale,
            maxWidth: Math.max(160, width - 420),
            cellH: 14,
            exact: false,
            at: (j) => ({ name: known.rows[k], index: [pos, j] }),
            describe: (_i, j, v) => html`${names[k]} · «${showToken(trace.tokens[pos].text)}» · dim ${j}<br><b>${fmt(v)}</b>`,
          }),
        ),
        el(
          "span",
          { role: "cell", class: "stack-norm" },
          el("span", { class: "normbar", style: `--v:${(norm / maxNorm).toFixed(4)}` }),
          el("span", { text: fmt(norm) }),
        ),
        el("span", { role: "cell", class: "stack-cos", text: cos === null ? "—" : fmt(cos) }),
      ),
    );
  });
  root.append(grid, lensBox(app, pos));
}
