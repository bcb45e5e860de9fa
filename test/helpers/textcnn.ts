/**
 * A small TextCNN run op by op through the native kernels (forward and
 * backward), and the same model in float64 through the references. Used by
 * the whole-chain gradient check and the PyTorch parity tests.
 */
import { Activation, kernels, type NativeKernels } from '../../src/native.js';
import {
  activationRef,
  conv1dForwardRef,
  crossEntropyRef,
  embeddingForwardRef,
  linearForwardRef,
  maxOverTimeRef,
  meanOverTimeRef,
  type ActName,
} from './reference.js';

export interface TinyConfig {
  vocab: number;
  dim: number;
  widths: number[];
  maps: number;
  classes: number;
  padId: number;
  activation: ActName;
  slope?: number;
  pool: 'max' | 'mean';
}

/** Parameters in the kernels' layouts (conv weight [maps, width, dim]). */
export interface TinyParams {
  embedding: Float32Array;
  convWeight: Float32Array[];
  convBias: Float32Array[];
  fcWeight: Float32Array;
  fcBias: Float32Array;
}

export interface Batch {
  ids: Int32Array; // [batch, length]
  batch: number;
  length: number;
  labels: Int32Array;
  /** Each row's padded length (>= widest filter); null: every position counts (PyTorch-compatible). */
  rowLengths: Int32Array | null;
}

export function paramList(p: TinyParams): Float32Array[] {
  return [p.embedding, ...p.convWeight, ...p.convBias, p.fcWeight, p.fcBias];
}

export function cloneParams(p: TinyParams): TinyParams {
  return {
    embedding: p.embedding.slice(),
    convWeight: p.convWeight.map((w) => w.slice()),
    convBias: p.convBias.map((b) => b.slice()),
    fcWeight: p.fcWeight.slice(),
    fcBias: p.fcBias.slice(),
  };
}

export function zerosLike(p: TinyParams): TinyParams {
  return {
    embedding: new Float32Array(p.embedding.length),
    convWeight: p.convWeight.map((w) => new Float32Array(w.length)),
    convBias: p.convBias.map((b) => new Float32Array(b.length)),
    fcWeight: new Float32Array(p.fcWeight.length),
    fcBias: new Float32Array(p.fcBias.length),
  };
}

function rowSteps(batch: Batch, width: number): Int32Array | null {
  if (!batch.rowLengths) return null;
  return Int32Array.from(batch.rowLengths, (len) => len - width + 1);
}

export interface NativeResult {
  logits: Float32Array;
  loss: number;
  correct: number;
  grads: TinyParams;
}

/** Forward and backward through the native kernels; grads are freshly zeroed. */
export function nativeForwardBackward(cfg: TinyConfig, p: TinyParams, batch: Batch, k: NativeKernels = kernels()): NativeResult {
  const { dim, maps, classes, widths } = cfg;
  const B = batch.batch;
  const L = batch.length;
  const F = widths.length * maps;
  const kind = Activation[cfg.activation];
  const slope = cfg.slope ?? 0.01;
  const emb = new Float32Array(B * L * dim);
  k.embeddingForward({ ids: batch.ids, weight: p.embedding, out: emb, vocab: cfg.vocab, dim });
  const feats = new Float32Array(B * F);
  const pre: Float32Array[] = [];
  const post: Float32Array[] = [];
  const argmax: Int32Array[] = [];
  widths.forEach((width, i) => {
    const shape = { batch: B, length: L, inChannels: dim, outChannels: maps, width };
    const T = L - width + 1;
    const z = new Float32Array(B * T * maps);
    k.conv1dForward({ ...shape, x: emb, weight: p.convWeight[i], bias: p.convBias[i], y: z });
    const a = new Float32Array(z.length);
    k.activationForward({ kind, slope, x: z, y: a });
    const am = new Int32Array(B * maps);
    const pool = { batch: B, steps: T, channels: maps, yStride: F, yOffset: i * maps };
    if (cfg.pool === 'max') k.maxOverTimeForward({ ...pool, x: a, rowSteps: rowSteps(batch, width), y: feats, argmax: am });
    else k.meanOverTimeForward({ ...pool, x: a, rowSteps: rowSteps(batch, width), y: feats });
    pre.push(z);
    post.push(a);
    argmax.push(am);
  });
  const logits = new Float32Array(B * classes);
  const lin = { rows: B, inFeatures: F, outFeatures: classes };
  k.linearForward({ ...lin, x: feats, weight: p.fcWeight, bias: p.fcBias, y: logits });
  const dLogits = new Float32Array(logits.length);
  const { loss, correct } = k.softmaxCrossEntropy({ logits, labels: batch.labels, rows: B, classes, gradLogits: dLogits });

  const g = zerosLike(p);
  const dFeats = new Float32Array(B * F);
  k.linearBackwardInput({ ...lin, dy: dLogits, weight: p.fcWeight, dx: dFeats });
  k.linearBackwardWeight({ ...lin, x: feats, dy: dLogits, dWeight: g.fcWeight });
  k.linearBackwardBias({ ...lin, dy: dLogits, dBias: g.fcBias });
  const dEmb = new Float32Array(emb.length);
  widths.forEach((width, i) => {
    const shape = { batch: B, length: L, inChannels: dim, outChannels: maps, width };
    const T = L - width + 1;
    const dA = new Float32Array(B * T * maps);
    const pool = { batch: B, steps: T, channels: maps, yStride: F, yOffset: i * maps };
    if (cfg.pool === 'max') k.maxOverTimeBackward({ ...pool, dy: dFeats, argmax: argmax[i], dx: dA });
    else k.meanOverTimeBackward({ ...pool, dy: dFeats, rowSteps: rowSteps(batch, width), dx: dA });
    k.activationBackward({ kind, slope, x: pre[i], y: post[i], dy: dA, dx: dA });
    k.conv1dBackwardWeight({ ...shape, x: emb, dy: dA, dWeight: g.convWeight[i] });
    k.conv1dBackwardBias({ ...shape, dy: dA, dBias: g.convBias[i] });
    k.conv1dBackwardInput({ ...shape, dy: dA, weight: p.convWeight[i], dx: dEmb });
  });
  k.embeddingBackward({ ids: batch.ids, gradOut: dEmb, gradWeight: g.embedding, vocab: cfg.vocab, dim, paddingIdx: cfg.padId });
  return { logits, loss, correct, grads: g };
}

/** Float64 forward of the same model, from a flat vector of all parameters (for finite differences). */
export function referenceLoss(cfg: TinyConfig, flat: ArrayLike<number>, batch: Batch): { loss: number; logits: Float64Array } {
  const { vocab, dim, maps, classes, widths } = cfg;
  const B = batch.batch;
  const L = batch.length;
  const F = widths.length * maps;
  let at = 0;
  const take = (n: number) => {
    const v = Array.prototype.slice.call(flat, at, at + n) as number[];
    at += n;
    return v;
  };
  const embW = take(vocab * dim);
  const convW = widths.map((w) => take(maps * w * dim));
  const convB = widths.map(() => take(maps));
  const fcW = take(classes * F);
  const fcB = take(classes);
  const emb = embeddingForwardRef(batch.ids, embW, dim);
  const feats = new Float64Array(B * F);
  widths.forEach((width, i) => {
    const T = L - width + 1;
    const z = conv1dForwardRef({ batch: B, length: L, inChannels: dim, outChannels: maps, width }, emb, convW[i], convB[i]);
    const a = z.map((v) => activationRef(cfg.activation, v, cfg.slope ?? 0.01));
    const steps = rowSteps(batch, width);
    const pooled = cfg.pool === 'max' ? maxOverTimeRef(a, B, T, maps, steps).y : meanOverTimeRef(a, B, T, maps, steps);
    for (let b = 0; b < B; b++) for (let m = 0; m < maps; m++) feats[b * F + i * maps + m] = pooled[b * maps + m];
  });
  const logits = linearForwardRef(feats, fcW, fcB, B, F, classes);
  return { loss: crossEntropyRef(logits, batch.labels, B, classes).loss, logits };
}

export function flatten(list: Float32Array[]): Float64Array {
  const n = list.reduce((s, a) => s + a.length, 0);
  const out = new Float64Array(n);
  let at = 0;
  for (const a of list) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}
