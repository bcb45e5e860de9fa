import { expect } from 'vitest';

export interface Closeness {
  maxAbs: number;
  /** max |a-b| / max(|b|, floor): relative error that does not explode near zero. */
  maxRel: number;
}

export function closeness(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-3): Closeness {
  expect(actual.length).toBe(expected.length);
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= maxAbs) && !Number.isNaN(d)) maxAbs = d;
    if (Number.isNaN(d) && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) return { maxAbs: NaN, maxRel: NaN };
    const r = d / Math.max(Math.abs(expected[i]), floor);
    if (r > maxRel) maxRel = r;
  }
  return { maxAbs, maxRel };
}

/** Asserts elementwise |a - b| <= tol * max(|b|, floor), naming the worst index. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
  floor = 1e-3,
): Closeness {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstRel = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (!(Number.isNaN(a) && Number.isNaN(b))) throw new Error(`${what}[${i}]: ${a} vs ${b}`);
      continue;
    }
    if (a === b) continue;
    const rel = Math.abs(a - b) / Math.max(Math.abs(b), floor);
    if (!(rel <= worstRel)) {
      worstRel = rel;
      worst = i;
    }
  }
  if (worst >= 0 && !(worstRel <= tol)) {
    throw new Error(`${what}: worst relative error ${worstRel.toExponential(3)} > ${tol} at [${worst}]: ${actual[worst]} vs ${expected[worst]}`);
  }
  return closeness(actual, expected, floor);
}

/**
 * Tensor-relative closeness: every |a_i - b_i| <= tol * max_j |b_j|. This is
 * "relative error" for a whole tensor, which stays meaningful for elements
 * near zero (a gradient of 1e-9 next to one of 0.1).
 */
export function expectTensorClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): Closeness {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  return expectClose(actual, expected, tol, what, scale > 0 ? scale : 1e-30);
}
