/**
 * Plain float64 references for every kernel, written independently of the
 * C++ code (different loop order, no shared helpers), so that a bug in one is
 * not repeated in the other. Layouts match the kernels: channels last.
 */
import type { Conv1dShape } from '../../src/native.js';

type Arr = ArrayLike<number>;

export function embeddingForwardRef(ids: Arr, weight: Arr, dim: number): Float64Array {
  const out = new Float64Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) for (let d = 0; d < dim; d++) out[i * dim + d] = weight[ids[i] * dim + d];
  return out;
}

export function embeddingBackwardRef(ids: Arr, gradOut: Arr, vocab: number, dim: number, paddingIdx: number): Float64Array {
  const g = new Float64Array(vocab * dim);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === paddingIdx) continue;
    for (let d = 0; d < dim; d++) g[ids[i] * dim + d] += gradOut[i * dim + d];
  }
  return g;
}

export function convOutLength(s: Conv1dShape): number {
  return s.length + (s.padLeft ?? 0) + (s.padRight ?? 0) - s.width + 1;
}

/** x value at (b, position) with zero padding outside [0, length). */
function xAt(s: Conv1dShape, x: Arr, b: number, pos: number, c: number): number {
  if (pos < 0 || pos >= s.length) return 0;
  return x[(b * s.length + pos) * s.inChannels + c];
}

export function conv1dForwardRef(s: Conv1dShape, x: Arr, w: Arr, bias: Arr | null): Float64Array {
  const T = convOutLength(s);
  const { batch: B, inChannels: C, outChannels: M, width: K } = s;
  const pl = s.padLeft ?? 0;
  const y = new Float64Array(B * T * M);
  for (let b = 0; b < B; b++)
    for (let m = 0; m < M; m++)
      for (let t = 0; t < T; t++) {
        let acc = bias ? bias[m] : 0;
        for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) acc += w[(m * K + k) * C + c] * xAt(s, x, b, t + k - pl, c);
        y[(b * T + t) * M + m] = acc;
      }
  return y;
}

export function conv1dBackwardRef(s: Conv1dShape, x: Arr, w: Arr, dy: Arr): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const T = convOutLength(s);
  const { batch: B, inChannels: C, outChannels: M, width: K, length: L } = s;
  const pl = s.padLeft ?? 0;
  const dx = new Float64Array(B * L * C);
  const dw = new Float64Array(M * K * C);
  const db = new Float64Array(M);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let m = 0; m < M; m++) {
        const g = dy[(b * T + t) * M + m];
        db[m] += g;
        for (let k = 0; k < K; k++) {
          const pos = t + k - pl;
          if (pos < 0 || pos >= L) continue;
          for (let c = 0; c < C; c++) {
            dx[(b * L + pos) * C + c] += g * w[(m * K + k) * C + c];
            dw[(m * K + k) * C + c] += g * x[(b * L + pos) * C + c];
          }
        }
      }
  return { dx, dw, db };
}

const SQRT1_2 = Math.SQRT1_2;

/** erf to ~1e-15 (series for small |x|, continued fraction tail for large). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 2.5) {
    // Maclaurin series: 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz), accurate for x >= 2.5
  const z = ax;
  let f = z;
  let C = z;
  let D = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    D = z + an * D;
    D = 1 / D;
    C = z + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-z * z) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

export type ActName = 'identity' | 'relu' | 'tanh' | 'sigmoid' | 'gelu' | 'geluTanh' | 'leakyRelu';

export function activationRef(kind: ActName, x: number, slope = 0.01): number {
  switch (kind) {
    case 'identity':
      return x;
    case 'relu':
      return x > 0 ? x : 0;
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'gelu':
      return 0.5 * x * (1 + erf(x * SQRT1_2));
    case 'geluTanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'leakyRelu':
      return x > 0 ? x : slope * x;
  }
}

/** Analytic derivative f'(x) (at 0: relu 0, leaky relu slope, as PyTorch). */
export function activationDerivRef(kind: ActName, x: number, slope = 0.01): number {
  switch (kind) {
    case 'identity':
      return 1;
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'tanh':
      return 1 - Math.tanh(x) ** 2;
    case 'sigmoid': {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 - s);
    }
    case 'gelu':
      return 0.5 * (1 + erf(x * SQRT1_2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
    case 'geluTanh': {
      const k = Math.sqrt(2 / Math.PI);
      const t = Math.tanh(k * (x + 0.044715 * x ** 3));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
    }
    case 'leakyRelu':
      return x > 0 ? 1 : slope;
  }
}

export function maxOverTimeRef(
  x: Arr, B: number, T: number, C: number, rowSteps: Arr | null,
): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(B * C);
  const argmax = new Int32Array(B * C);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++) {
      const steps = rowSteps ? rowSteps[b] : T;
      let best = -Infinity;
      let at = -1;
      for (let t = 0; t < steps; t++) {
        const v = x[(b * T + t) * C + c];
        if (at < 0 || v > best) {
          best = v;
          at = t;
        }
      }
      y[b * C + c] = best;
      argmax[b * C + c] = at;
    }
  return { y, argmax };
}

export function meanOverTimeRef(x: Arr, B: number, T: number, C: number, rowSteps: Arr | null): Float64Array {
  const y = new Float64Array(B * C);
  for (let b = 0; b < B; b++) {
    const steps = rowSteps ? rowSteps[b] : T;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let t = 0; t < steps; t++) s += x[(b * T + t) * C + c];
      y[b * C + c] = s / steps;
    }
  }
  return y;
}

export function linearForwardRef(x: Arr, w: Arr, bias: Arr | null, rows: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = acc;
    }
  return y;
}

export function linearBackwardRef(
  x: Arr, w: Arr, dy: Arr, rows: number, inF: number, outF: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(rows * inF);
  const dw = new Float64Array(outF * inF);
  const db = new Float64Array(outF);
  for (let o = 0; o < outF; o++)
    for (let r = 0; r < rows; r++) {
      const g = dy[r * outF + o];
      db[o] += g;
      for (let i = 0; i < inF; i++) {
        dx[r * inF + i] += g * w[o * inF + i];
        dw[o * inF + i] += g * x[r * inF + i];
      }
    }
  return { dx, dw, db };
}

/** torch.nn.functional.cross_entropy (mean; weights; label smoothing) in float64, with its gradient. */
export function crossEntropyRef(
  logits: Arr, labels: Arr, rows: number, classes: number, weights: Arr | null = null, smoothing = 0,
): { loss: number; grad: Float64Array } {
  const w = (c: number) => (weights ? weights[c] : 1);
  let norm = 0;
  for (let r = 0; r < rows; r++) norm += w(labels[r]);
  let total = 0;
  const grad = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: classes }, (_, c) => logits[r * classes + c]);
    const mx = Math.max(...z);
    const lse = mx + Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0));
    const logp = z.map((v) => v - lse);
    const y = labels[r];
    // target distribution q = (1-e) onehot + e/C; weighted loss -sum_c q_c' log p_c with weights as torch
    total += -(1 - smoothing) * w(y) * logp[y];
    for (let c = 0; c < classes; c++) total += -(smoothing / classes) * w(c) * logp[c];
    let wsum = 0;
    for (let c = 0; c < classes; c++) wsum += w(c);
    for (let c = 0; c < classes; c++) {
      const p = Math.exp(logp[c]);
      grad[r * classes + c] = (1 - smoothing) * w(y) * (p - (c === y ? 1 : 0)) + (smoothing / classes) * (p * wsum - w(c));
    }
  }
  for (let i = 0; i < grad.length; i++) grad[i] /= norm;
  return { loss: total / norm, grad };
}

export function adamRef(
  param: Float64Array, grad: Arr, m: Float64Array, v: Float64Array, step: number,
  o: { lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number; decoupled?: boolean },
): void {
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999, eps = o.eps ?? 1e-8, wd = o.weightDecay ?? 0;
  const bc1 = 1 - b1 ** step, bc2 = 1 - b2 ** step;
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (o.decoupled) param[i] *= 1 - o.lr * wd;
    else g += wd * param[i];
    m[i] = b1 * m[i] + (1 - b1) * g;
    v[i] = b2 * v[i] + (1 - b2) * g * g;
    param[i] -= (o.lr / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps));
  }
}

export function sgdRef(
  param: Float64Array, grad: Arr, buf: Float64Array, first: boolean,
  o: { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean },
): void {
  const mu = o.momentum ?? 0, damp = o.dampening ?? 0, wd = o.weightDecay ?? 0;
  for (let i = 0; i < param.length; i++) {
    let d = grad[i] + wd * param[i];
    if (mu !== 0) {
      buf[i] = first ? d : mu * buf[i] + (1 - damp) * d;
      d = o.nesterov ? d + mu * buf[i] : buf[i];
    }
    param[i] -= o.lr * d;
  }
}

export function adadeltaRef(
  param: Float64Array, grad: Arr, squareAvg: Float64Array, accDelta: Float64Array,
  o: { lr?: number; rho?: number; eps?: number; weightDecay?: number },
): void {
  const lr = o.lr ?? 1, rho = o.rho ?? 0.9, eps = o.eps ?? 1e-6, wd = o.weightDecay ?? 0;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i] + wd * param[i];
    squareAvg[i] = rho * squareAvg[i] + (1 - rho) * g * g;
    const delta = (Math.sqrt(accDelta[i] + eps) / Math.sqrt(squareAvg[i] + eps)) * g;
    accDelta[i] = rho * accDelta[i] + (1 - rho) * delta * delta;
    param[i] -= lr * delta;
  }
}

/** Central difference of f at x (float64), element by element. */
export function numericGradient(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const fp = f(x);
    x[i] = keep - h;
    const fm = f(x);
    x[i] = keep;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

export function dot(a: Arr, b: Arr): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
