/**
 * PyTorch's default initialisation, from a seeded generator: embeddings
 * N(0, 1) with the padding row zero; conv and linear weights
 * kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)), and
 * biases U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 */
import type { ModelGraph, ParamInfo } from './graph.js';
import { graphParams } from './graph.js';

/** xoshiro128** with splitmix32 seeding: small, fast, state is four uint32. */
export class Xoshiro128 {
  private s: Uint32Array;
  constructor(seed: number) {
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ((s[3] << 11) | (s[3] >>> 21)) >>> 0;
    return result;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  state(): number[] {
    return Array.from(this.s);
  }
  restore(state: number[]): void {
    if (!Array.isArray(state) || state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new RangeError('Expected four uint32 values for the generator state');
    }
    this.s.set(state);
  }
}

/**
 * How embedding rows start: 'normal' is nn.Embedding's N(0, 1); a uniform
 * bound a draws U(-a, a), which Kim (2014) used for random word vectors
 * (a = 0.25) and which trains CNN-rand markedly better with Adam.
 */
export type EmbeddingInit = 'normal' | { uniform: number };

/** Parses 'normal' or 'uniform:A'. */
export function parseEmbeddingInit(text: string): EmbeddingInit {
  if (text === 'normal') return 'normal';
  const m = /^uniform:(\d*\.?\d+)$/.exec(text);
  if (m && Number(m[1]) > 0) return { uniform: Number(m[1]) };
  throw new RangeError(`embedding init must be 'normal' or 'uniform:A' with A > 0, got '${text}'`);
}

/** Fills one parameter as PyTorch initialises it (embeddings: see EmbeddingInit). */
export function initParam(info: ParamInfo, values: Float32Array, rng: Xoshiro128, paddingIdx: number | null = null, embedding: EmbeddingInit = 'normal'): void {
  if (info.fanIn === 0) {
    if (embedding === 'normal') for (let i = 0; i < values.length; i++) values[i] = rng.normal();
    else for (let i = 0; i < values.length; i++) values[i] = (rng.next() * 2 - 1) * embedding.uniform;
    if (paddingIdx !== null) values.fill(0, paddingIdx * info.shape[1], (paddingIdx + 1) * info.shape[1]);
    return;
  }
  const bound = 1 / Math.sqrt(info.fanIn);
  for (let i = 0; i < values.length; i++) values[i] = (rng.next() * 2 - 1) * bound;
}

/** Fresh parameters for a graph, by name. */
export function initParams(graph: ModelGraph, seed: number, embedding: EmbeddingInit = 'normal'): Map<string, Float32Array> {
  const rng = new Xoshiro128(seed);
  const out = new Map<string, Float32Array>();
  const padding = new Map(graph.layers.filter((l) => l.type === 'embedding').map((l) => [l.name, (l as { paddingIdx: number | null }).paddingIdx]));
  for (const p of graphParams(graph)) {
    const values = new Float32Array(p.size);
    initParam(p, values, rng, padding.get(p.layer) ?? null, embedding);
    out.set(p.name, values);
  }
  return out;
}
