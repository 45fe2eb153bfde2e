// The final step, in the browser: the same pipeline as attento.generate.sampling
// (temperature -> top-k -> top-p -> softmax), so the sliders move the bars without asking
// the server. The server sends the model's exact float32 logits; tests check that these
// probabilities equal attento.generate.filter_logits + probabilities for the same settings.

export function applyTemperature(logits, temperature) {
  const z = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) z[i] = logits[i] / temperature;
  return z;
}

// keep the k highest (ties with the k-th stay), the rest become -Infinity
export function topKFilter(z, k) {
  k = Math.min(k, z.length);
  const sorted = Array.from(z).sort((a, b) => b - a);
  const kth = sorted[k - 1];
  return z.map((v) => (v < kth ? -Infinity : v));
}

export function softmax(z) {
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  const p = new Float64Array(z.length);
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    p[i] = z[i] === -Infinity ? 0 : Math.exp(z[i] - max);
    sum += p[i];
  }
  for (let i = 0; i < z.length; i++) p[i] /= sum;
  return p;
}

// the smallest set of most likely tokens whose probability reaches p: walking up from the
// least likely, drop while the accumulated probability (itself included) is still <= 1 - p;
// the most likely token always stays
export function topPFilter(z, p) {
  const probs = softmax(z);
  const order = Array.from(z.keys()).sort((a, b) => z[a] - z[b]);
  const out = Float64Array.from(z);
  let cumulative = 0;
  for (let r = 0; r < order.length - 1; r++) {
    cumulative += probs[order[r]];
    if (cumulative <= 1 - p) out[order[r]] = -Infinity;
    else break;
  }
  return out;
}

// settings: {temperature, topK (null = off), topP (null = off)}
export function filterLogits(logits, { temperature = 1, topK = null, topP = null } = {}) {
  let z = applyTemperature(logits, temperature);
  if (topK !== null) z = topKFilter(z, topK);
  if (topP !== null) z = topPFilter(z, topP);
  return z;
}

export function probabilities(logits, settings) {
  return softmax(filterLogits(logits, settings));
}
