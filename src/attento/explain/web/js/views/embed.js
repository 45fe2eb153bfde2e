// 2. Embeddings: token vectors + positional encoding = the input of the first block.
import { el, fmt, heatmap, html, showToken } from "../draw.js";
import { t } from "../i18n.js";

// labels: the tokens as shown (showToken)
export function describeCell(labels, what) {
  return (i, j, v) => html`<b>${what}</b><br>token «${labels[i]}» (pos ${i}) · dim ${j}<br>${fmt(v)}`;
}

export function renderEmbed(root, app) {
  const { trace } = app;
  const labels = trace.tokens.map((x) => showToken(x.text));
  const width = root.clientWidth || 800;
  const op = (s) => el("div", { class: "op", "aria-hidden": "true", text: s });
  const fig = (tensor, key) =>
    heatmap(tensor.mat(), {
      rowLabels: labels,
      maxWidth: width,
      title: t(key),
      describe: describeCell(labels, t(key)),
    });
  root.replaceChildren();
  if (trace.embed.tok_scale !== 1) {
    root.append(el("p", { class: "note", text: t("embed.scaled", { s: fmt(trace.embed.tok_scale) }) }));
  }
  root.append(fig(trace.embed.tok, "embed.tok"));
  if (trace.embed.pos) {
    root.append(op("+"), fig(trace.embed.pos, "embed.pos"), op("="), fig(trace.embed.sum, "embed.sum"));
  } else {
    root.append(el("p", { class: "note", text: t("embed.rope") }));
  }
}
