// 1. Tokenization: the prompt as coloured tokens with their ids.
import { el, tokenChip } from "../draw.js";
import { t } from "../i18n.js";

export function renderTokens(root, app) {
  const { trace, state } = app;
  root.replaceChildren();
  const row = el("div", { class: "tokens" });
  trace.tokens.forEach((tok, i) => {
    const generated = i >= state.promptLen;
    row.append(tokenChip(tok, i, { cls: generated ? "generated" : "" }));
  });
  root.append(row, el("p", { class: "meta", text: t("tokens.count", { n: trace.tokens.length }) }));
}
