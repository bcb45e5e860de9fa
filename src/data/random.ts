import { DataStateError } from './errors.js';

/** A generator's full state: four unsigned 32-bit integers, safe to put in JSON. */
export type RngState = [number, number, number, number];

/**
 * xoshiro128** (Blackman & Vigna): a small, fast, seeded generator whose whole
 * state is four uint32 numbers, so it can be saved in a checkpoint and restored
 * exactly. Not for cryptography.
 *
 * @example
 * const rng = new Rng(42);
 * const saved = rng.state();
 * const a = rng.nextInt(10);
 * rng.setState(saved);
 * rng.nextInt(10) === a; // true
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** Seeds from any number (integer part of its absolute value up to 2^53) or a string. */
  constructor(seed: number | string = 0) {
    this.seed(seed);
  }

  /** Re-seeds; the same seed always gives the same sequence. */
  seed(seed: number | string): void {
    // splitmix32 spreads a small seed over all 128 bits so that seeds 0, 1, 2 give unrelated streams.
    let x: number;
    if (typeof seed === 'string') {
      x = 0x811c9dc5;
      for (let i = 0; i < seed.length; i++) x = Math.imul(x ^ seed.charCodeAt(i), 0x01000193);
    } else {
      if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
      const v = Math.floor(Math.abs(seed));
      x = (v >>> 0) ^ Math.imul((v / 4294967296) >>> 0, 0x9e3779b9);
    }
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next uniformly distributed uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1) with 32 random bits. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An unbiased integer in [0, n), 1 <= n <= 2^32. */
  nextInt(n: number): number {
    if (!(n >= 1 && n <= 4294967296) || !Number.isInteger(n)) throw new RangeError(`nextInt: n must be an integer in [1, 2^32], got ${n}`);
    // Rejection keeps the result exactly uniform: drop the top partial range.
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A copy of the state as plain numbers. */
  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Restores a state from {@link Rng.state}. */
  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw new DataStateError('random generator state must be four unsigned 32-bit integers');
    }
    if ((state[0] | state[1] | state[2] | state[3]) === 0) throw new DataStateError('random generator state must not be all zero');
    this.s0 = state[0] | 0;
    this.s1 = state[1] | 0;
    this.s2 = state[2] | 0;
    this.s3 = state[3] | 0;
  }

  /** A generator starting from a saved state. */
  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
