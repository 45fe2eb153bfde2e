// 7. The KV cache of the last step: the new token computed its own q, k, v; the keys and values
// of the earlier tokens were read back from the model's cache, which holds n_kv_head heads
// (with grouped-query attention, fewer than the query heads: a group of them reads one).
import { el, fmt, heatmap, html, pct, showToken, strip } from "../draw.js";
import { t } from "../i18n.js";
import { memoryPart } from "./kvmemory.js";

export function renderCache(root, app) {
  const { state, facts } = app;
  root.replaceChildren();
  const view = state.lastStep && state.lastStep.cache;
  if (!view) {
    root.append(el("p", { class: "placeholder", text: t("cache.empty") }));
    return;
  }
  const layer = Math.min(state.cacheLayer, view.layers.length - 1);
  const head = Math.min(state.cacheHead, facts.n_head - 1);
  const nKv = view.n_kv_head || facts.n_head;
  const group = facts.n_head / nKv;
  const kvHead = Math.floor(head / group);
  const L = view.layers[layer];
  const labels = view.tokens.map((x) => showToken(x.text));
  const N = labels.length;
  const rowClass = (i) => (i >= view.cached ? "new" : "cached");
  const width = root.clientWidth || 800;
  const half = Math.max(260, Math.floor((width - 24) / 2));

  const picker = (label, n, current, pick) =>
    el(
      "div",
      { class: "heads", role: "group", "aria-label": label },
      el("span", { class: "heads-label", text: label }),
      ...Array.from({ length: n }, (_, k) =>
        el("button", {
          type: "button",
          class: "chip-btn",
          "aria-pressed": k === current ? "true" : "false",
          text: String(k + 1),
          onclick: () => {
            pick(k);
            renderCache(root, app);
          },
        }),
      ),
    );
  const stats = el("p", {
    class: "meta cache-stats",
    text: t("cache.stats", { cached: view.cached, new: view.new, diff: fmt(view.max_abs_diff) }),
  });
  const describe = (what) => (i, j, v) =>
    html`<b>${what}</b><br>«${labels[i]}» (${(view.first || 0) + i}, ${i >= view.cached ? "new" : "cache"}) · dim ${j}<br>${fmt(v)}`;
  const fresh = new Set(Array.from({ length: view.new }, (_, k) => view.cached + k));
  const kvFig = (tensor, key, what) =>
    heatmap(tensor.mat(kvHead), {
      rowLabels: labels,
      rowClass,
      highlightRows: fresh,
      maxWidth: half,
      title: nKv < facts.n_head ? `${t(key)} · ${t("block.kvhead", { g: kvHead + 1, a: kvHead * group + 1, b: (kvHead + 1) * group })}` : t(key),
      describe: describe(what),
    });
  // a step carries the keys and values of the layer shown then; another one is asked for
  const loading = () => el("p", { class: "placeholder", text: L.error || t("block.loading") });
  if (!L.k && !L.pending) app.loadCacheLayer(state.lastStep, layer).then(() => state.lastStep?.cache === view && renderCache(root, app));
  const kFig = L.k ? kvFig(L.k, "cache.k", "K") : loading();
  const vFig = L.v ? kvFig(L.v, "cache.v", "V") : loading();
  const q = strip(L.q.vec(head), { exact: L.q.exact, title: `${t("cache.q")} «${labels[N - 1]}»`, maxWidth: half, describe: (_i, j, v) => html`q · dim ${j}: <b>${fmt(v)}</b>` });
  const w = L.weights.vec(head);
  const weights = el("div", { class: "looks cache-w" }, el("span", { class: "looks-label", text: t("cache.w") }));
  for (let i = 0; i < N; i++) {
    weights.append(
      el(
        "span",
        { class: `look ${i >= view.cached ? "new" : ""}`, style: `--w:${w[i].toFixed(4)}` },
        el("span", { class: "look-tok", text: labels[i] }),
        el("span", { class: "look-w", text: pct(w[i]) }),
      ),
    );
  }
  root.append(
    stats,
    el(
      "div",
      { class: "cache-pickers" },
      picker(t("cache.layer"), view.layers.length, layer, (k) => (state.cacheLayer = k)),
      picker(t("block.head"), facts.n_head, head, (k) => (state.cacheHead = k)),
    ),
    q,
    el("div", { class: "row-figs" }, kFig, vFig),
    weights,
    ...(view.memory ? [memoryPart(view.memory)] : []),
  );
}
