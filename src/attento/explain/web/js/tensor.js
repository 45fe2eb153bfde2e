// Tensors arrive as {shape, dtype, b64}: little-endian numbers packed in base64 (tensors.py):
// "f32" exact float32, "f16" half precision, "u8" heat-map codes (lo + q·(hi − lo)/254, 255 =
// −∞). decodeAll walks a JSON answer and turns every such object into a Tensor of float32.
// `exact` says whether its numbers are the model's own; `name` is the trace record it shows,
// which the page quotes to ask the server for the exact value of one cell (/api/cell).

export class Tensor {
  constructor(shape, data, pooled = 1, fullShape = null, { exact = true, name = null } = {}) {
    this.shape = shape;
    this.data = data;
    this.pooled = pooled;
    this.fullShape = fullShape || shape;
    this.exact = exact;
    this.name = name;
  }

  // offset of the first element after fixing the leading indices
  offset(prefix) {
    let off = 0;
    let stride = this.data.length;
    for (let d = 0; d < prefix.length; d++) {
      stride /= this.shape[d];
      off += prefix[d] * stride;
    }
    return off;
  }

  // the last two axes as a matrix, after fixing the leading ones: t.mat(head)
  mat(...prefix) {
    const rows = this.shape[this.shape.length - 2];
    const cols = this.shape[this.shape.length - 1];
    const off = this.offset(prefix);
    const data = this.data;
    const at = this.name && this.pooled === 1 ? (i, j) => ({ name: this.name, index: [...prefix, i, j] }) : null;
    return { rows, cols, get: (i, j) => data[off + i * cols + j], pooled: this.pooled, exact: this.exact, at };
  }

  // the last axis as a vector: t.vec(row) or t.vec(head, row)
  vec(...prefix) {
    const n = this.shape[this.shape.length - 1];
    const off = this.offset(prefix);
    return this.data.subarray(off, off + n);
  }
}

// every float16 bit pattern as a float32, built once
let HALF = null;
function halfTable() {
  if (HALF) return HALF;
  HALF = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) HALF[h] = sign * m * 2 ** -24;
    else if (e === 31) HALF[h] = m ? NaN : sign * Infinity;
    else HALF[h] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return HALF;
}

export function decodeTensor(p) {
  const bin = atob(p.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const dtype = p.dtype || "f32";
  let data;
  if (dtype === "u8") {
    const step = (p.hi - p.lo) / 254;
    data = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) data[i] = bytes[i] === 255 ? -Infinity : p.lo + bytes[i] * step;
  } else if (dtype === "f16") {
    const table = halfTable();
    const half = new Uint16Array(bytes.buffer);
    data = new Float32Array(half.length);
    for (let i = 0; i < half.length; i++) data[i] = table[half[i]];
  } else {
    data = new Float32Array(bytes.buffer);
  }
  return new Tensor(p.shape, data, p.pooled || 1, p.full_shape, { exact: dtype === "f32", name: p.name || null });
}

export function decodeAll(obj) {
  if (Array.isArray(obj)) return obj.map(decodeAll);
  if (obj && typeof obj === "object") {
    if (typeof obj.b64 === "string" && Array.isArray(obj.shape)) return decodeTensor(obj);
    const out = {};
    for (const [k, v] of Object.entries(obj)) out[k] = decodeAll(v);
    return out;
  }
  return obj;
}

// a matrix made of one vector (1 x n), to draw a heat strip
export function rowMat(vec) {
  return { rows: 1, cols: vec.length, get: (_i, j) => vec[j], pooled: 1, exact: true, at: null };
}

// a matrix made of selected rows of a 2-D view
export function pickRows(m, rows) {
  const at = m.at ? (i, j) => m.at(rows[i], j) : null;
  return { rows: rows.length, cols: m.cols, get: (i, j) => m.get(rows[i], j), pooled: m.pooled, exact: m.exact, at };
}
