import type { Rng } from './random.js';

/**
 * Training-time augmentation on token ids, each part with its own
 * probability (all 0 = off, the default). Applied in this order per example:
 * deletion, swap, insertion, word dropout.
 */
export interface AugmentOptions {
  /** Each token is deleted with this probability (a text never loses its last token). */
  deleteProb?: number;
  /** Each position is swapped with a random other position with this probability. */
  swapProb?: number;
  /** After each token, a copy of a random token of the same text is inserted at a random position with this probability. */
  insertProb?: number;
  /** Each token is replaced by the unknown id with this probability (word dropout). */
  unkProb?: number;
}

/** True when some probability is above zero. */
export function augmentationEnabled(a: AugmentOptions | undefined): boolean {
  return a !== undefined && ((a.deleteProb ?? 0) > 0 || (a.swapProb ?? 0) > 0 || (a.insertProb ?? 0) > 0 || (a.unkProb ?? 0) > 0);
}

/** Checks that every probability is in [0, 1]. */
export function checkAugment(a: AugmentOptions): void {
  for (const k of ['deleteProb', 'swapProb', 'insertProb', 'unkProb'] as const) {
    const v = a[k];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`augment.${k} must be in [0, 1], got ${v}`);
  }
}

/**
 * Augments one text's ids with the given generator; returns a new array (the
 * dataset is never modified). Draws random numbers only for the parts that
 * are on; the same ids, options and generator state give the same result.
 *
 * @example
 * augmentIds(Int32Array.of(5, 6, 7), { unkProb: 0.1 }, 1, new Rng(3));
 */
export function augmentIds(ids: ArrayLike<number>, a: AugmentOptions, unkId: number, rng: Rng): number[] {
  let out = Array.from(ids);
  const del = a.deleteProb ?? 0;
  if (del > 0 && out.length > 1) {
    const kept = out.filter(() => rng.nextFloat() >= del);
    out = kept.length > 0 ? kept : [out[rng.nextInt(out.length)]];
  }
  const swap = a.swapProb ?? 0;
  if (swap > 0 && out.length > 1) {
    for (let i = 0; i < out.length; i++) {
      if (rng.nextFloat() < swap) {
        const j = rng.nextInt(out.length);
        const t = out[i];
        out[i] = out[j];
        out[j] = t;
      }
    }
  }
  const ins = a.insertProb ?? 0;
  if (ins > 0 && out.length > 0) {
    const n = out.length;
    for (let i = 0; i < n; i++) {
      if (rng.nextFloat() < ins) out.splice(rng.nextInt(out.length + 1), 0, out[rng.nextInt(out.length)]);
    }
  }
  const unk = a.unkProb ?? 0;
  if (unk > 0) for (let i = 0; i < out.length; i++) if (rng.nextFloat() < unk) out[i] = unkId;
  return out;
}
