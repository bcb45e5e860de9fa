/**
 * CUDA softmax cross-entropy, optimizers, gradient clipping and max-norm
 * against the CPU.
 * - Cross-entropy: both sides work in double per row; the loss within 1e-12
 *   relative, the correct count exactly, the gradient within 1e-6 of its scale.
 * - Adam/AdamW, SGD (momentum, nesterov, dampening, decay) and Adadelta: the
 *   device does the CPU's float operations in order with no fma, so every
 *   parameter and state element is bitwise equal after several steps.
 * - Adadelta and maxNormRows are checked against the CPU kernels when the CPU
 *   addon has them, otherwise against an exact float32 model of the CPU
 *   formulas (Math.fround after each operation is IEEE single arithmetic).
 * - sumOfSquares / clipGradNorm: the norm within 1e-12 relative (double sums
 *   in another order), the clipped gradients within 1e-6.
 */
import { expect, it } from 'vitest';

import { expectClose, expectTensorClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { both, clone, cpu, describeGpu, expectSame, gpu } from './setup.js';

const f32 = Math.fround;

describeGpu('CUDA softmax cross-entropy against the CPU', () => {
  it('random logits, labels, class weights and label smoothing', () => {
    const rng = new TestRandom(9601);
    for (let trial = 0; trial < 40; trial++) {
      const rows = trial === 0 ? 0 : rng.int(1, trial < 35 ? 70 : 1024);
      const classes = [1, 2, 3, 6, 31, 32, 33, 100][trial % 8];
      const logits = rng.floats(rows * classes, trial % 4 === 3 ? 1e4 : 3);
      if (trial % 9 === 5 && rows > 0) logits.fill(2, 0, classes); // ties: the first arg-max counts
      const labels = rng.ints(rows, 0, classes - 1);
      const classWeights = trial % 3 === 1 ? Float32Array.from({ length: classes }, () => rng.next() * 2) : null;
      const labelSmoothing = trial % 2 ? 0.1 : 0;
      const r = both<Record<string, unknown>, { loss: number; correct: number }>('softmaxCrossEntropy', {
        logits,
        labels,
        rows,
        classes,
        classWeights,
        labelSmoothing,
        gradLogits: new Float32Array(rows * classes),
      });
      const label = `rows ${rows} classes ${classes} weights ${!!classWeights} smoothing ${labelSmoothing}`;
      expect(r.gpuResult.correct, `${label} correct`).toBe(r.cpuResult.correct);
      if (Number.isNaN(r.cpuResult.loss)) expect(r.gpuResult.loss).toBeNaN();
      else expect(Math.abs(r.gpuResult.loss - r.cpuResult.loss), `${label} loss`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(r.cpuResult.loss)));
      expectTensorClose(r.gpu.gradLogits as Float32Array, r.cpu.gradLogits as Float32Array, 1e-6, `${label} grad`);
    }
  });

  it('non-finite logits give a NaN loss on both', () => {
    const logits = Float32Array.from([1, NaN, 0, 2, Infinity, 1]);
    const r = both<Record<string, unknown>, { loss: number; correct: number }>('softmaxCrossEntropy', {
      logits,
      labels: Int32Array.from([0, 1]),
      rows: 2,
      classes: 3,
    });
    expect(r.cpuResult.loss).toBeNaN();
    expect(r.gpuResult.loss).toBeNaN();
    expect(r.gpuResult.correct).toBe(r.cpuResult.correct);
  });
});

describeGpu('CUDA optimizers against the CPU (bitwise)', () => {
  for (const o of [
    { lr: 1e-3 },
    { lr: 0.01, weightDecay: 0.05 },
    { lr: 0.01, weightDecay: 0.05, decoupled: true },
    { lr: 0.1, beta1: 0.5, beta2: 0.9, eps: 1e-6 },
    { lr: 0 },
  ]) {
    it(`Adam ${JSON.stringify(o)} over 6 steps`, () => {
      const rng = new TestRandom(9701);
      for (const n of [1, 1001, 100_003]) {
        const c = { param: rng.floats(n), m: new Float32Array(n), v: new Float32Array(n) };
        const g = clone(c);
        for (let step = 1; step <= 6; step++) {
          const grad = rng.floats(n, step % 2 ? 1 : 1e-3);
          cpu.adamUpdate({ ...c, grad, step, ...o });
          gpu.adamUpdate({ ...g, grad, step, ...o });
        }
        expectSame(g.param, c.param, `n ${n} param`);
        expectSame(g.m, c.m, `n ${n} m`);
        expectSame(g.v, c.v, `n ${n} v`);
      }
    });
  }

  for (const o of [
    { lr: 0.1 },
    { lr: 0.1, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.001 },
    { lr: 0.05, momentum: 0.9, nesterov: true },
  ]) {
    it(`SGD ${JSON.stringify(o)} over 5 steps`, () => {
      const rng = new TestRandom(9702);
      const n = 4099;
      const c = { param: rng.floats(n), momentumBuffer: new Float32Array(n) };
      const g = clone(c);
      for (let step = 0; step < 5; step++) {
        const grad = rng.floats(n);
        cpu.sgdUpdate({ ...c, grad, firstStep: step === 0, ...o });
        gpu.sgdUpdate({ ...g, grad, firstStep: step === 0, ...o });
      }
      expectSame(g.param, c.param, 'param');
      expectSame(g.momentumBuffer, c.momentumBuffer, 'momentum buffer');
    });
  }

  /** cpu/optimizer.cpp's adadeltaUpdate in exact float32 steps. */
  function adadeltaModel(a: { param: Float32Array; grad: Float32Array; squareAvg: Float32Array; accDelta: Float32Array; lr?: number; rho?: number; eps?: number; weightDecay?: number }): void {
    const rho = f32(a.rho ?? 0.9), oneMinusRho = f32(1 - (a.rho ?? 0.9)), eps = f32(a.eps ?? 1e-6);
    const wd = f32(a.weightDecay ?? 0), negLr = f32(-(a.lr ?? 1));
    for (let i = 0; i < a.param.length; i++) {
      let g = a.grad[i];
      if ((a.weightDecay ?? 0) !== 0) g = f32(g + f32(wd * a.param[i]));
      const sq = f32(f32(a.squareAvg[i] * rho) + f32(f32(oneMinusRho * g) * g));
      const delta = f32(f32(f32(Math.sqrt(f32(a.accDelta[i] + eps))) / f32(Math.sqrt(f32(sq + eps)))) * g);
      a.squareAvg[i] = sq;
      a.accDelta[i] = f32(f32(a.accDelta[i] * rho) + f32(f32(oneMinusRho * delta) * delta));
      a.param[i] = f32(a.param[i] + f32(negLr * delta));
    }
  }

  const cpuAdadelta = (cpu as unknown as { adadeltaUpdate?: typeof adadeltaModel }).adadeltaUpdate?.bind(cpu) ?? adadeltaModel;

  for (const o of [{}, { lr: 0.5, rho: 0.95, eps: 1e-5 }, { weightDecay: 0.01 }]) {
    it(`Adadelta ${JSON.stringify(o)} over 5 steps`, () => {
      const rng = new TestRandom(9703);
      const n = 3001;
      const c = { param: rng.floats(n), squareAvg: new Float32Array(n), accDelta: new Float32Array(n) };
      const g = clone(c);
      for (let step = 0; step < 5; step++) {
        const grad = rng.floats(n);
        cpuAdadelta({ ...c, grad, ...o });
        gpu.adadeltaUpdate({ ...g, grad, ...o });
      }
      expectSame(g.param, c.param, 'param');
      expectSame(g.squareAvg, c.squareAvg, 'squareAvg');
      expectSame(g.accDelta, c.accDelta, 'accDelta');
    });
  }
});

describeGpu('CUDA norms against the CPU', () => {
  it('sumOfSquares and clipGradNorm over several buffers, clipping or not', () => {
    const rng = new TestRandom(9801);
    for (const maxNorm of [1e9, 5, 0.5]) {
      const grads = [rng.floats(1), rng.floats(3001), new Float32Array(0), rng.floats(100_000, 0.01)];
      const c = grads.map((x) => x.slice());
      const g = grads.map((x) => x.slice());
      const cpuNorm = cpu.clipGradNorm({ grads: c, maxNorm });
      const gpuNorm = gpu.clipGradNorm({ grads: g, maxNorm });
      expect(Math.abs(gpuNorm - cpuNorm)).toBeLessThanOrEqual(1e-12 * cpuNorm);
      for (let k = 0; k < grads.length; k++) expectClose(g[k], c[k], 1e-6, `maxNorm ${maxNorm} grads[${k}]`);
      const x = grads[3];
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i] * x[i];
      expect(Math.abs(gpu.sumOfSquares({ x }) - s)).toBeLessThanOrEqual(1e-12 * s);
    }
  });

  /** cpu/optimizer.cpp's maxNormRows: row norms in double, in order, then a float scale. */
  function maxNormRowsModel(a: { weight: Float32Array; rows: number; cols: number; maxNorm: number }): void {
    for (let r = 0; r < a.rows; r++) {
      let s = 0;
      for (let i = 0; i < a.cols; i++) s += a.weight[r * a.cols + i] * a.weight[r * a.cols + i];
      const norm = Math.sqrt(s);
      if (norm > a.maxNorm) {
        const f = f32(a.maxNorm / norm);
        for (let i = 0; i < a.cols; i++) a.weight[r * a.cols + i] = f32(a.weight[r * a.cols + i] * f);
      }
    }
  }
  const cpuMaxNorm = (cpu as unknown as { maxNormRows?: typeof maxNormRowsModel }).maxNormRows?.bind(cpu) ?? maxNormRowsModel;

  it('maxNormRows rescales only the rows above the limit', () => {
    const rng = new TestRandom(9802);
    for (const [rows, cols] of [[2, 300], [7, 1], [100, 257], [3, 5000]]) {
      const weight = rng.floats(rows * cols, 0.3);
      const before = weight.slice();
      const c = { weight: weight.slice(), rows, cols, maxNorm: 3 };
      const g = { weight: weight.slice(), rows, cols, maxNorm: 3 };
      cpuMaxNorm(c);
      gpu.maxNormRows(g);
      expectClose(g.weight, c.weight, 1e-6, `${rows} x ${cols}`);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let i = 0; i < cols; i++) s += before[r * cols + i] ** 2;
        if (Math.sqrt(s) <= 3) expectSame(g.weight.subarray(r * cols, (r + 1) * cols), before.subarray(r * cols, (r + 1) * cols), `row ${r} unchanged`);
      }
    }
  });
});
