import { describe, expect, it } from 'vitest';

import { Activation, kernels } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { activationDerivRef, activationRef, numericGradient, type ActName } from '../helpers/reference.js';
import ops from '../fixtures/torch/ops.json' with { type: 'json' };

const k = kernels();
const kinds: ActName[] = ['identity', 'relu', 'tanh', 'sigmoid', 'gelu', 'geluTanh', 'leakyRelu'];
const special = [-1e4, -88, -20, -3, -1, -1e-3, 0, 1e-3, 1, 3, 20, 88, 1e4];

function run(kind: ActName, x: Float32Array, slope: number) {
  const y = new Float32Array(x.length);
  k.activationForward({ kind: Activation[kind], slope, x, y });
  return y;
}

describe('activations against float64 references', () => {
  for (const kind of kinds) {
    it(`${kind}: forward, backward and finite differences`, () => {
      const rng = new TestRandom(kind.length * 131);
      const n = 257; // odd, not a multiple of any vector width
      const x = new Float32Array(n);
      x.set(special);
      for (let i = special.length; i < n; i++) x[i] = rng.normal() * 3;
      const slope = 0.07;
      const y = run(kind, x, slope);
      const yRef = Array.from(x, (v) => activationRef(kind, v, slope));
      expectClose(y, yRef, 2e-6, `${kind} forward`, 1e-6);
      for (const v of y) expect(Number.isFinite(v)).toBe(true);

      const dy = rng.floats(n);
      const dx = new Float32Array(n);
      k.activationBackward({ kind: Activation[kind], slope, x, y, dy, dx });
      const dxRef = Array.from(x, (v, i) => dy[i] * activationDerivRef(kind, v, slope));
      // Tanh and sigmoid derive from the rounded output (as PyTorch): near
      // saturation 1 - y^2 carries y's rounding, hence the absolute floor.
      expectClose(dx, dxRef, 2e-5, `${kind} backward`, 1e-2);

      // Finite differences away from kinks (|x| > h) and the saturated tails.
      const h = 1e-6;
      const idx = Array.from(x.keys()).filter((i) => Math.abs(x[i]) > 1e-2 && Math.abs(x[i]) < 30);
      const xs = idx.map((i) => x[i]);
      const numeric = numericGradient((v) => v.reduce((s, xi, j) => s + dy[idx[j]] * activationRef(kind, xi, slope), 0), xs, h)
        .map((g) => g);
      expectClose(idx.map((i) => dx[i]), numeric, 1e-4, `${kind} finite differences`, 1e-2);
    });
  }

  it('backward may run in place (dx aliases dy)', () => {
    const rng = new TestRandom(5);
    const x = rng.floats(33);
    const y = run('gelu', x, 0);
    const dy = rng.floats(33);
    const expected = new Float32Array(33);
    k.activationBackward({ kind: Activation.gelu, x, dy, dx: expected });
    k.activationBackward({ kind: Activation.gelu, x, y, dy, dx: dy });
    expect(Array.from(dy)).toEqual(Array.from(expected));
  });

  it('tanh and sigmoid backward read only the output', () => {
    const x = Float32Array.from([-2, 0.5, 3]);
    const y = run('tanh', x, 0);
    const dx = new Float32Array(3);
    k.activationBackward({ kind: Activation.tanh, y, dy: new Float32Array([1, 1, 1]), dx });
    expectClose(dx, Array.from(x, (v) => 1 - Math.tanh(v) ** 2), 1e-5, 'tanh from y', 1e-2);
    expect(() => k.activationBackward({ kind: Activation.relu, y, dy: new Float32Array(3), dx })).toThrow(/Float32Array for x/);
  });
});

describe('activations match PyTorch', () => {
  const f = ops.activations;
  const x = Float32Array.from(f.x.data);
  const dy = Float32Array.from(f.dy.data);
  const cases: Array<[ActName, string, number]> = [
    ['relu', 'relu', 0],
    ['tanh', 'tanh', 0],
    ['sigmoid', 'sigmoid', 0],
    ['gelu', 'gelu', 0],
    ['geluTanh', 'geluTanh', 0],
    ['leakyRelu', 'leakyRelu', f.leakyReluNegativeSlope],
  ];
  for (const [kind, key, slope] of cases) {
    it(kind, () => {
      const ref = (f as unknown as Record<string, { y: { data: number[] }; dx: { data: number[] } }>)[key];
      const y = run(kind, x, slope);
      // PyTorch's float32 GELU computes 1 + erf(x) and loses digits for
      // x << 0, so near zero the comparison is absolute (5e-7).
      expectClose(y, ref.y.data, 1e-5, `${kind} y`, 0.05);
      const dx = new Float32Array(x.length);
      k.activationBackward({ kind: Activation[kind], slope, x, y, dy, dx });
      expectClose(dx, ref.dx.data, 1e-5, `${kind} dx`, 0.05);
    });
  }
});
