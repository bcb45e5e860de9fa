import { describe, expect, it } from 'vitest';

import { kernels } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { crossEntropyRef, numericGradient } from '../helpers/reference.js';
import ops from '../fixtures/torch/ops.json' with { type: 'json' };

const k = kernels();

function ce(logits: Float32Array, labels: Int32Array, classes: number, classWeights: Float32Array | null = null, labelSmoothing = 0) {
  const rows = labels.length;
  const gradLogits = new Float32Array(rows * classes);
  const r = k.softmaxCrossEntropy({ logits, labels, rows, classes, classWeights, labelSmoothing, gradLogits });
  return { ...r, grad: gradLogits };
}

describe('softmax cross-entropy', () => {
  it('matches the float64 reference with weights and label smoothing on random shapes', () => {
    const rng = new TestRandom(61);
    for (let trial = 0; trial < 30; trial++) {
      const rows = rng.int(1, 9), classes = rng.int(1, 7);
      const logits = rng.floats(rows * classes, 3);
      const labels = rng.ints(rows, 0, classes - 1);
      const weights = trial % 2 ? Float32Array.from({ length: classes }, () => 0.1 + rng.next() * 2) : null;
      const smoothing = trial % 3 === 0 ? 0 : rng.next() * 0.3;
      const got = ce(logits, labels, classes, weights, smoothing);
      const ref = crossEntropyRef(logits, labels, rows, classes, weights, smoothing);
      expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-8 * Math.max(1, Math.abs(ref.loss)));
      expectClose(got.grad, ref.grad, 1e-6, 'grad', 1e-2);
      const numeric = numericGradient((z) => crossEntropyRef(z, labels, rows, classes, weights, smoothing).loss, logits, 1e-6);
      expectClose(got.grad, numeric, 1e-5, 'finite differences', 1e-2);
    }
  });

  it('counts rows whose first arg-max is the label', () => {
    const logits = Float32Array.from([1, 2, 0, /**/ 5, 5, 1, /**/ 0, 0, 3]);
    expect(ce(logits, Int32Array.from([1, 0, 2]), 3).correct).toBe(3);
    expect(ce(logits, Int32Array.from([0, 1, 2]), 3).correct).toBe(1);
  });

  describe('matches torch.nn.functional.cross_entropy', () => {
    const f = ops.crossEntropy;
    const logits = Float32Array.from(f.logits.data);
    const labels = Int32Array.from(f.labels as number[]);
    const classes = f.logits.shape[1];
    for (const name of ['plain', 'labelSmoothing', 'weight', 'weightLabelSmoothing'] as const) {
      it(name, () => {
        const c = f[name];
        const got = ce(logits, labels, classes, c.weight ? Float32Array.from(c.weight as number[]) : null, c.labelSmoothing);
        expect(Math.abs(got.loss - c.loss) / Math.abs(c.loss)).toBeLessThan(1e-6);
        expectClose(got.grad, c.gradLogits.data, 1e-5, `${name} grad`, 1e-3);
      });
    }
  });

  it('is finite for logits of +-1e4 and within 1e-5 of the float64 reference', () => {
    const f = ops.crossEntropyExtreme;
    const logits = Float32Array.from(f.float64.logits.data);
    const labels = Int32Array.from(f.labels as number[]);
    const got = ce(logits, labels, 3);
    expect(Number.isFinite(got.loss)).toBe(true);
    expect(Math.abs(got.loss - f.float64.loss) / f.float64.loss).toBeLessThan(1e-5);
    expectClose(got.grad, f.float64.gradLogits.data, 1e-5, 'extreme grad', 1e-3);
  });

  it('rejects labels outside the classes', () => {
    expect(() => ce(new Float32Array(6), Int32Array.from([0, 3]), 3)).toThrow(/labels\[1\] = 3 is outside the classes/);
  });
});
