// The KV cache's memory: per token, for these tokens, at full context, and what multi-head
// attention would take. Every figure is the server's (models/kv_memory.py, CacheShape.memory,
// the numbers of `attento kv-cache`), sizes already formatted: nothing is computed here.
import { el } from "../draw.js";
import { t, tHtml } from "../i18n.js";

function note(key, vars) {
  const p = el("p", { class: "explain" });
  p.innerHTML = tHtml(key, vars);
  return p;
}

export function memoryPart(m) {
  const cell = (key) =>
    el("td", { "data-key": key, "data-bytes": String(m[key]), title: `${m[key].toLocaleString()} B`, text: m.human[key] });
  const row = (cls, label, keys) => el("tr", { class: cls }, el("th", { scope: "row", text: label }), ...keys.map(cell));
  const table = el(
    "table",
    { class: "kv-memory" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", {}),
        el("th", { scope: "col", text: t("cache.mem.per_token") }),
        el("th", { scope: "col", text: t("cache.mem.tokens", { n: m.tokens }) }),
        el("th", { scope: "col", text: t("cache.mem.full", { n: m.context }) }),
      ),
    ),
    el(
      "tbody",
      {},
      row("mem-model", t("cache.mem.model", { kind: m.attention }), ["bytes_per_token", "bytes", "bytes_full"]),
      m.n_kv_head < m.n_head ? row("mem-mha", t("cache.mem.mha"), ["mha_bytes_per_token", "mha_bytes", "mha_bytes_full"]) : null,
    ),
  );
  const formula = { layers: m.n_layer, kv: m.n_kv_head, dim: m.head_dim, bytes: m.dtype_bytes, per: m.human.bytes_per_token };
  return el(
    "div",
    { class: "kv-memory-part" },
    el("h3", { text: t("cache.mem.title") }),
    note("cache.mem.formula", formula),
    table,
    note(m.n_kv_head < m.n_head ? "cache.mem.saving" : "cache.mem.mha_only", { h: m.n_head, kv: m.n_kv_head, x: m.saving }),
    m.window ? note("cache.mem.window", { w: m.window, layers: m.window_layers, n: m.n_layer }) : null,
  );
}
