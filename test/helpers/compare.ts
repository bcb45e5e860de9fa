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
