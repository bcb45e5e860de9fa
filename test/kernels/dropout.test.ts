import { describe, expect, it } from 'vitest';

import { kernels } from '../../src/native.js';
import { TestRandom } from '../helpers/random.js';

const k = kernels();

function drop(x: Float32Array, p: number, seed: number, counter: number) {
  const y = new Float32Array(x.length);
  const mask = new Uint8Array(x.length);
  const next = k.dropoutForward({ x, y, mask, p, seed, counter });
  return { y, mask, next };
}

describe('dropout', () => {
  const x = new TestRandom(41).floats(10001);

  it('zeroes about p of the elements and scales the rest by 1/(1-p)', () => {
    for (const p of [0.1, 0.5, 0.8]) {
      const { y, mask, next } = drop(x, p, 1234, 0);
      expect(next).toBe(x.length);
      const dropped = mask.reduce((s, m) => s + (m ? 0 : 1), 0) / x.length;
      // 10,001 Bernoulli draws: 5 standard deviations is under 0.025.
      expect(Math.abs(dropped - p)).toBeLessThan(0.025);
      for (let i = 0; i < x.length; i++) expect(y[i]).toBe(mask[i] ? Math.fround(x[i] * Math.fround(1 / (1 - p))) : 0);
    }
  });

  it('p = 0 is the identity and p = 1 drops everything', () => {
    expect(Array.from(drop(x, 0, 7, 0).y)).toEqual(Array.from(x));
    expect(drop(x, 1, 7, 0).y.every((v) => v === 0)).toBe(true);
  });

  it('is a pure function of (seed, counter): the state saves and restores exactly', () => {
    const whole = drop(x, 0.5, 99, 1000);
    const first = drop(x.subarray(0, 4000), 0.5, 99, 1000);
    const rest = drop(x.subarray(4000), 0.5, 99, first.next);
    expect(Array.from(first.mask)).toEqual(Array.from(whole.mask.subarray(0, 4000)));
    expect(Array.from(rest.mask)).toEqual(Array.from(whole.mask.subarray(4000)));
    expect(rest.next).toBe(1000 + x.length);
    const otherSeed = drop(x, 0.5, 100, 1000);
    expect(Array.from(otherSeed.mask)).not.toEqual(Array.from(whole.mask));
  });

  it('backward applies the same mask and scale', () => {
    const p = 0.3;
    const { mask } = drop(x, p, 5, 0);
    const dy = new TestRandom(42).floats(x.length);
    const dx = new Float32Array(x.length);
    k.dropoutBackward({ dy, mask, dx, p });
    for (let i = 0; i < x.length; i++) expect(dx[i]).toBe(mask[i] ? Math.fround(dy[i] * Math.fround(1 / (1 - p))) : 0);
  });
});
