import { describe, expect, it } from 'vitest';

import { kernels } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { maxOverTimeRef, meanOverTimeRef, numericGradient, dot } from '../helpers/reference.js';
import ops from '../fixtures/torch/ops.json' with { type: 'json' };

const k = kernels();

describe('max over time', () => {
  it('matches the reference on random shapes, with and without per-row steps, into a concat buffer', () => {
    const rng = new TestRandom(21);
    for (let trial = 0; trial < 30; trial++) {
      const B = rng.int(1, 5), T = rng.int(1, 11), C = rng.int(1, 9);
      const offset = rng.int(0, 4);
      const stride = offset + C + rng.int(0, 3);
      const x = rng.floats(B * T * C);
      const rowSteps = trial % 2 ? Int32Array.from({ length: B }, () => rng.int(1, T)) : null;
      const y = new Float32Array(B * stride).fill(42);
      const argmax = new Int32Array(B * C);
      k.maxOverTimeForward({ batch: B, steps: T, channels: C, yStride: stride, yOffset: offset, x, rowSteps, y, argmax });
      const ref = maxOverTimeRef(x, B, T, C, rowSteps);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < stride; j++) {
          const inside = j >= offset && j < offset + C;
          expect(y[b * stride + j]).toBe(inside ? Math.fround(ref.y[b * C + j - offset]) : 42);
        }
      }
      expect(Array.from(argmax)).toEqual(Array.from(ref.argmax));
      // Backward routes each gradient to its argmax only.
      const dy = rng.floats(B * stride);
      const dx = new Float32Array(B * T * C).fill(9);
      k.maxOverTimeBackward({ batch: B, steps: T, channels: C, yStride: stride, yOffset: offset, dy, argmax, dx });
      const expected = new Float32Array(B * T * C);
      for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) expected[(b * T + ref.argmax[b * C + c]) * C + c] = dy[b * stride + offset + c];
      expect(Array.from(dx)).toEqual(Array.from(expected));
    }
  });

  it('routes ties to the first maximum, as torch.max(dim) and max_pool1d', () => {
    const f = ops.maxPoolTies;
    const [B, C, T] = f.x.shape;
    const x = new Float32Array(B * T * C);
    for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) x[t * C + c] = f.x.data[c * T + t];
    const y = new Float32Array(B * C);
    const argmax = new Int32Array(B * C);
    k.maxOverTimeForward({ batch: B, steps: T, channels: C, x, y, argmax });
    expect(Array.from(y)).toEqual(f.y.data);
    expect(Array.from(argmax)).toEqual((f.indices as number[][]).flat());
    const dx = new Float32Array(B * T * C);
    k.maxOverTimeBackward({ batch: B, steps: T, channels: C, dy: Float32Array.from(f.dy.data), argmax, dx });
    const torchDx = new Float32Array(B * T * C);
    for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) torchDx[t * C + c] = f.dx.data[c * T + t];
    expect(Array.from(dx)).toEqual(Array.from(torchDx));
  });

  it('propagates NaN like PyTorch', () => {
    const x = Float32Array.from([1, NaN, 3]);
    const y = new Float32Array(1);
    const argmax = new Int32Array(1);
    k.maxOverTimeForward({ batch: 1, steps: 3, channels: 1, x, y, argmax });
    expect(Number.isNaN(y[0])).toBe(true);
    expect(argmax[0]).toBe(1);
  });
});

describe('mean over time', () => {
  it('matches the reference and finite differences, with per-row steps', () => {
    const rng = new TestRandom(23);
    for (let trial = 0; trial < 20; trial++) {
      const B = rng.int(1, 4), T = rng.int(1, 9), C = rng.int(1, 7);
      const offset = rng.int(0, 3);
      const stride = offset + C + rng.int(0, 2);
      const x = rng.floats(B * T * C);
      const rowSteps = trial % 2 ? Int32Array.from({ length: B }, () => rng.int(1, T)) : null;
      const y = new Float32Array(B * stride);
      const shape = { batch: B, steps: T, channels: C, yStride: stride, yOffset: offset };
      k.meanOverTimeForward({ ...shape, x, rowSteps, y });
      const ref = meanOverTimeRef(x, B, T, C, rowSteps);
      const got = Array.from({ length: B * C }, (_, i) => y[Math.floor(i / C) * stride + offset + (i % C)]);
      expectClose(got, ref, 1e-6, 'mean forward', 1);
      const dyCompact = rng.floats(B * C);
      const dy = new Float32Array(B * stride);
      for (let i = 0; i < B * C; i++) dy[Math.floor(i / C) * stride + offset + (i % C)] = dyCompact[i];
      const dx = new Float32Array(B * T * C).fill(3);
      k.meanOverTimeBackward({ ...shape, dy, rowSteps, dx });
      const numeric = numericGradient((v) => dot(dyCompact, meanOverTimeRef(v, B, T, C, rowSteps)), x);
      expectClose(dx, numeric, 1e-5, 'mean backward', 0.1);
    }
  });
});
