// The logit lens under the stack: for the picked token, what the model's own final norm and
// vocabulary projection read from its stream after each block (the server computes it from
// the trace, /api/lens; nothing is recomputed here). The last row is the final step.
import { el, pct, showToken } from "../draw.js";
import { t, tHtml } from "../i18n.js";

// per trace: token position -> its lens (or the pending request)
const lenses = new WeakMap();

function loadLens(app, pos) {
  const trace = app.trace;
  if (!lenses.has(trace)) lenses.set(trace, new Map());
  const kept = lenses.get(trace);
  if (!kept.has(pos)) {
    const pending = app.api("/api/lens", { model: app.state.model, ids: app.state.ids, pos });
    pending.then(
      (lens) => kept.set(pos, lens),
      () => kept.delete(pos),
    );
    kept.set(pos, pending);
  }
  return Promise.resolve(kept.get(pos));
}

function table(lens) {
  const target = showToken(lens.target.text);
  const head = el(
    "div",
    { class: "lens-row head", role: "row" },
    el("span", { role: "columnheader", text: t("lens.after") }),
    el("span", { role: "columnheader", text: t("lens.target", { t: target }) }),
    el("span", { role: "columnheader", text: t("lens.rank") }),
    el("span", { role: "columnheader", text: t("lens.top") }),
  );
  const rows = lens.rows.map((r) =>
    el(
      "div",
      { class: "lens-row", role: "row", "data-block": r.block },
      el("span", { role: "cell", class: "lens-name", text: r.block < 0 ? t("lens.embed") : t("lens.block", { i: r.block + 1 }) }),
      el(
        "span",
        { role: "cell", class: "lens-target" },
        el("span", { class: "normbar", style: `--v:${r.target_prob.toFixed(4)}` }),
        el("span", { class: "lens-p", "data-p": String(r.target_prob), text: pct(r.target_prob) }),
      ),
      el("span", { role: "cell", class: "lens-rank", text: String(r.target_rank) }),
      el(
        "span",
        { role: "cell", class: "lens-top" },
        ...r.top.map((c) =>
          el(
            "span",
            { class: `lens-tok${c.id === lens.target.id ? " target" : ""}`, "data-id": String(c.id) },
            el("span", { class: "look-tok", text: showToken(c.text) }),
            el("span", { class: "look-w", text: pct(c.prob) }),
          ),
        ),
      ),
    ),
  );
  return el("div", { class: "lens-grid", role: "table" }, head, ...rows);
}

// the lens of token `pos`, filled in when its numbers arrive
export function lensBox(app, pos) {
  const { trace } = app;
  const box = el("div", { class: "lens", id: "lens", "data-pos": String(pos) });
  const explain = el("p", { class: "explain" });
  explain.innerHTML = tHtml("lens.explain", { t: showToken(trace.tokens[pos].text) });
  box.append(el("h3", { text: t("lens.title") }), explain);
  const known = lenses.get(trace)?.get(pos);
  if (known && !(known instanceof Promise)) {
    box.append(table(known));
    return box;
  }
  const loading = el("p", { class: "block-loading", text: t("block.loading") });
  box.append(loading);
  loadLens(app, pos).then(
    (lens) => app.trace === trace && box.isConnected && app.keepInPlace(() => loading.replaceWith(table(lens))),
    (e) => loading.replaceWith(el("p", { class: "error", text: app.errorText(e) })),
  );
  return box;
}
