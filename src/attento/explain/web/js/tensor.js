// Tensors arrive as {shape, b64}: little-endian float32 packed in base64 (see tensors.py).
// decodeAll walks a JSON answer and turns every such object into a Tensor.

export class Tensor {
  constructor(shape, data, pooled = 1, fullShape = null) {
    this.shape = shape;
    this.data = data;
    this.pooled = pooled;
    this.fullShape = fullShape || shape;
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
    return { rows, cols, get: (i, j) => data[off + i * cols + j], pooled: this.pooled };
  }

  // the last axis as a vector: t.vec(row) or t.vec(head, row)
  vec(...prefix) {
    const n = this.shape[this.shape.length - 1];
    const off = this.offset(prefix);
    return this.data.subarray(off, off + n);
  }
}

function decodeTensor(p) {
  const bin = atob(p.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Tensor(p.shape, new Float32Array(bytes.buffer), p.pooled || 1, p.full_shape);
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
  return { rows: 1, cols: vec.length, get: (_i, j) => vec[j], pooled: 1 };
}

// a matrix made of selected rows of a 2-D view
export function pickRows(m, rows) {
  return { rows: rows.length, cols: m.cols, get: (i, j) => m.get(rows[i], j), pooled: m.pooled };
}
