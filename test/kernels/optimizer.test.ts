import { describe, expect, it } from 'vitest';

import { kernels } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { adadeltaRef, adamRef, sgdRef } from '../helpers/reference.js';
import ops from '../fixtures/torch/ops.json' with { type: 'json' };

const k = kernels();

describe('Adam and AdamW', () => {
  for (const variant of [
    { name: 'Adam', decoupled: false, weightDecay: 0 },
    { name: 'Adam with L2', decoupled: false, weightDecay: 0.05 },
    { name: 'AdamW', decoupled: true, weightDecay: 0.05 },
  ]) {
    it(`${variant.name} follows torch.optim's formulas over 10 steps (float64 reference)`, () => {
      const rng = new TestRandom(71);
      const n = 1001;
      const param = rng.floats(n);
      const m = new Float32Array(n), v = new Float32Array(n);
      const p64 = Float64Array.from(param), m64 = new Float64Array(n), v64 = new Float64Array(n);
      const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: variant.weightDecay, decoupled: variant.decoupled };
      for (let step = 1; step <= 10; step++) {
        const grad = rng.floats(n, step % 2 ? 1 : 1e-3);
        k.adamUpdate({ param, grad, m, v, step, ...o });
        adamRef(p64, grad, m64, v64, step, o);
      }
      expectClose(param, p64, 1e-5, `${variant.name} params`, 1e-2);
      expectClose(m, m64, 1e-5, `${variant.name} m`, 1e-2);
      expectClose(v, v64, 1e-5, `${variant.name} v`, 1e-4);
    });
  }

  it('learning rate 0 leaves weights bitwise unchanged', () => {
    const rng = new TestRandom(72);
    const param = rng.floats(77);
    const before = param.slice();
    k.adamUpdate({ param, grad: rng.floats(77), m: new Float32Array(77), v: new Float32Array(77), lr: 0, step: 1 });
    expect(Array.from(param)).toEqual(Array.from(before));
  });
});

describe('SGD', () => {
  for (const o of [
    { lr: 0.1 },
    { lr: 0.1, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.001 },
    { lr: 0.05, momentum: 0.9, nesterov: true },
  ]) {
    it(`follows torch.optim.SGD ${JSON.stringify(o)} over 5 steps`, () => {
      const rng = new TestRandom(73);
      const n = 333;
      const param = rng.floats(n);
      const buf = new Float32Array(n);
      const p64 = Float64Array.from(param), b64 = new Float64Array(n);
      for (let step = 0; step < 5; step++) {
        const grad = rng.floats(n);
        k.sgdUpdate({ param, grad, momentumBuffer: buf, firstStep: step === 0, ...o });
        sgdRef(p64, grad, b64, step === 0, o);
      }
      expectClose(param, p64, 1e-5, 'params', 1e-2);
    });
  }

  it('refuses nesterov without momentum, as torch does', () => {
    const a = new Float32Array(3);
    expect(() => k.sgdUpdate({ param: a, grad: a, lr: 0.1, nesterov: true })).toThrow(/nesterov needs momentum/);
  });
});

describe('Adadelta', () => {
  for (const o of [{}, { lr: 1, rho: 0.95, eps: 1e-6 }, { lr: 0.5, rho: 0.9, eps: 1e-5, weightDecay: 0.01 }]) {
    it(`follows torch.optim.Adadelta ${JSON.stringify(o)} over 10 steps (float64 reference)`, () => {
      const rng = new TestRandom(74);
      const n = 517;
      const param = rng.floats(n);
      const sq = new Float32Array(n), acc = new Float32Array(n);
      const p64 = Float64Array.from(param), sq64 = new Float64Array(n), acc64 = new Float64Array(n);
      for (let step = 0; step < 10; step++) {
        const grad = rng.floats(n, step % 2 ? 1 : 1e-3);
        k.adadeltaUpdate({ param, grad, squareAvg: sq, accDelta: acc, ...o });
        adadeltaRef(p64, grad, sq64, acc64, o);
      }
      expectClose(param, p64, 1e-5, 'params', 1e-2);
      expectClose(sq, sq64, 1e-5, 'squareAvg', 1e-4);
      expectClose(acc, acc64, 1e-5, 'accDelta', 1e-6);
    });
  }
});

describe('max-norm constraint', () => {
  it('rescales the rows longer than the limit to it and leaves the others bitwise alone', () => {
    const rng = new TestRandom(75);
    for (const [rows, cols] of [[1, 1], [3, 7], [6, 301]]) {
      const weight = rng.floats(rows * cols, 2);
      const before = weight.slice();
      const norms = Array.from({ length: rows }, (_, r) => Math.hypot(...before.subarray(r * cols, (r + 1) * cols)));
      const limit = [...norms].sort((a, b) => a - b)[Math.floor(rows / 2)];
      k.maxNormRows({ weight, rows, cols, maxNorm: limit });
      for (let r = 0; r < rows; r++) {
        const row = weight.subarray(r * cols, (r + 1) * cols);
        if (norms[r] <= limit) expect(Array.from(row)).toEqual(Array.from(before.subarray(r * cols, (r + 1) * cols)));
        else {
          expect(Math.abs(Math.hypot(...row) - limit) / limit).toBeLessThan(1e-6);
          expectClose(row, Array.from(before.subarray(r * cols, (r + 1) * cols), (x) => (x * limit) / norms[r]), 1e-6, `row ${r}`);
        }
      }
    }
  });

  it('refuses a weight of the wrong size, naming it', () => {
    expect(() => k.maxNormRows({ weight: new Float32Array(5), rows: 2, cols: 3, maxNorm: 1 })).toThrow(/weight/);
  });
});

describe('gradient clipping', () => {
  it('matches torch.nn.utils.clip_grad_norm_', () => {
    const f = ops.clipGradNorm;
    const grads = f.gradsBefore.map((g) => Float32Array.from(g.data));
    const norm = k.clipGradNorm({ grads, maxNorm: f.maxNorm });
    expect(Math.abs(norm - f.totalNorm) / f.totalNorm).toBeLessThan(1e-6);
    grads.forEach((g, i) => expectClose(g, f.gradsAfter[i].data, 1e-6, `grads[${i}]`));
  });

  it('leaves gradients alone under the limit and returns the norm', () => {
    const g = Float32Array.from([3, 4]);
    expect(k.clipGradNorm({ grads: [g], maxNorm: 10 })).toBeCloseTo(5, 12);
    expect(Array.from(g)).toEqual([3, 4]);
  });
});
