import { describe, it } from 'vitest';

import { kernels } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { dot, linearBackwardRef, linearForwardRef, numericGradient } from '../helpers/reference.js';

const k = kernels();

describe('linear', () => {
  it('forward and backward match the float64 reference on random shapes', () => {
    const rng = new TestRandom(51);
    for (let trial = 0; trial < 25; trial++) {
      const rows = rng.int(1, 9), inF = rng.int(1, 31), outF = rng.int(1, 11);
      const shape = { rows, inFeatures: inF, outFeatures: outF };
      const x = rng.floats(rows * inF);
      const w = rng.floats(outF * inF);
      const b = rng.floats(outF);
      const y = new Float32Array(rows * outF);
      k.linearForward({ ...shape, x, weight: w, bias: trial % 4 ? b : null, y });
      expectClose(y, linearForwardRef(x, w, trial % 4 ? b : null, rows, inF, outF), 2e-5, 'y', 1);
      const dy = rng.floats(rows * outF);
      const ref = linearBackwardRef(x, w, dy, rows, inF, outF);
      const dx = new Float32Array(rows * inF).fill(1);
      const dw = new Float32Array(outF * inF).fill(-1);
      const db = new Float32Array(outF).fill(2);
      k.linearBackwardInput({ ...shape, dy, weight: w, dx });
      k.linearBackwardWeight({ ...shape, x, dy, dWeight: dw });
      k.linearBackwardBias({ ...shape, dy, dBias: db });
      expectClose(dx, ref.dx.map((v) => v + 1), 2e-5, 'dx', 1);
      expectClose(dw, ref.dw.map((v) => v - 1), 2e-5, 'dw', 1);
      expectClose(db, ref.db.map((v) => v + 2), 2e-5, 'db', 1);
    }
  });

  it('gradients equal central differences', () => {
    const rng = new TestRandom(52);
    const rows = 3, inF = 7, outF = 5;
    const shape = { rows, inFeatures: inF, outFeatures: outF };
    const x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF), dy = rng.floats(rows * outF);
    const dx = new Float32Array(rows * inF), dw = new Float32Array(outF * inF), db = new Float32Array(outF);
    k.linearBackwardInput({ ...shape, dy, weight: w, dx });
    k.linearBackwardWeight({ ...shape, x, dy, dWeight: dw });
    k.linearBackwardBias({ ...shape, dy, dBias: db });
    const f = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) => dot(dy, linearForwardRef(xx, ww, bb, rows, inF, outF));
    expectClose(dx, numericGradient((v) => f(v, w, b), x), 1e-5, 'dx', 0.1);
    expectClose(dw, numericGradient((v) => f(x, v, b), w), 1e-5, 'dw', 0.1);
    expectClose(db, numericGradient((v) => f(x, w, v), b), 1e-5, 'db', 0.1);
  });
});
