import { describe, expect, it } from 'vitest';

import { kernels, type Conv1dShape } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { conv1dBackwardRef, conv1dForwardRef, convOutLength, dot, numericGradient } from '../helpers/reference.js';
import ops from '../fixtures/torch/ops.json' with { type: 'json' };
import { toChannelsLast, torchConvWeight } from '../helpers/torch.js';

const k = kernels();

function randomShape(rng: TestRandom, padding: 'valid' | 'same' | 'random' | 'wide'): Conv1dShape {
  const width = rng.int(1, 5);
  const shape: Conv1dShape = {
    batch: rng.int(1, 4),
    length: rng.int(width, 13),
    inChannels: rng.int(1, 9),
    outChannels: rng.int(1, 7),
    width,
  };
  if (padding === 'same') {
    shape.padLeft = Math.floor((width - 1) / 2);
    shape.padRight = width - 1 - shape.padLeft;
  } else if (padding === 'random') {
    shape.padLeft = rng.int(0, width - 1);
    shape.padRight = rng.int(0, width - 1);
    shape.length = rng.int(Math.max(1, width - shape.padLeft - shape.padRight), 11);
  } else if (padding === 'wide') {
    // More zeros than width-1 (Kim 2014 pads every filter by the widest's width-1): windows of padding only.
    shape.padLeft = rng.int(0, width + 3);
    shape.padRight = rng.int(width, width + 3);
    shape.length = rng.int(1, 9);
  }
  return shape;
}

function sizes(s: Conv1dShape) {
  return { x: s.batch * s.length * s.inChannels, w: s.outChannels * s.width * s.inChannels, y: s.batch * convOutLength(s) * s.outChannels };
}

describe('conv1d against the float64 reference', () => {
  for (const padding of ['valid', 'same', 'random', 'wide'] as const) {
    it(`forward and backward on random shapes (${padding} padding)`, () => {
      const rng = new TestRandom(padding.length * 7919);
      for (let trial = 0; trial < 25; trial++) {
        const s = randomShape(rng, padding);
        const n = sizes(s);
        const x = rng.floats(n.x);
        const w = rng.floats(n.w);
        const b = rng.floats(s.outChannels);
        const y = new Float32Array(n.y);
        k.conv1dForward({ ...s, x, weight: w, bias: b, y });
        const label = `${JSON.stringify(s)} forward`;
        expectClose(y, conv1dForwardRef(s, x, w, b), 2e-5, label, 1);

        const dy = rng.floats(n.y);
        const ref = conv1dBackwardRef(s, x, w, dy);
        // Gradients accumulate: start from a known non-zero value.
        const dx = new Float32Array(n.x).fill(0.5);
        const dw = new Float32Array(n.w).fill(-0.25);
        const db = new Float32Array(s.outChannels).fill(1);
        k.conv1dBackwardInput({ ...s, dy, weight: w, dx });
        k.conv1dBackwardWeight({ ...s, x, dy, dWeight: dw });
        k.conv1dBackwardBias({ ...s, dy, dBias: db });
        expectClose(dx, ref.dx.map((v) => v + 0.5), 2e-5, `${label} dx`, 1);
        expectClose(dw, ref.dw.map((v) => v - 0.25), 2e-5, `${label} dw`, 1);
        expectClose(db, ref.db.map((v) => v + 1), 2e-5, `${label} db`, 1);
      }
    });
  }

  it('forward without bias', () => {
    const s: Conv1dShape = { batch: 2, length: 7, inChannels: 3, outChannels: 5, width: 3 };
    const rng = new TestRandom(3);
    const x = rng.floats(42);
    const w = rng.floats(45);
    const y = new Float32Array(2 * 5 * 5);
    k.conv1dForward({ ...s, x, weight: w, y });
    expectClose(y, conv1dForwardRef(s, x, w, null), 2e-5, 'no bias', 1);
  });
});

describe('conv1d gradients by central differences (float64)', () => {
  it('dx, dw, db match d/dθ of sum(dy * conv(x; w, b))', () => {
    const rng = new TestRandom(11);
    for (let trial = 0; trial < 9; trial++) {
      const s = randomShape(rng, (['same', 'random', 'wide'] as const)[trial % 3]);
      const n = sizes(s);
      const x = rng.floats(n.x);
      const w = rng.floats(n.w);
      const b = rng.floats(s.outChannels);
      const dy = rng.floats(n.y);
      const dx = new Float32Array(n.x);
      const dw = new Float32Array(n.w);
      const db = new Float32Array(s.outChannels);
      k.conv1dBackwardInput({ ...s, dy, weight: w, dx });
      k.conv1dBackwardWeight({ ...s, x, dy, dWeight: dw });
      k.conv1dBackwardBias({ ...s, dy, dBias: db });
      const label = JSON.stringify(s);
      expectClose(dx, numericGradient((v) => dot(dy, conv1dForwardRef(s, v, w, b)), x), 1e-4, `${label} dx`, 0.1);
      expectClose(dw, numericGradient((v) => dot(dy, conv1dForwardRef(s, x, v, b)), w), 1e-4, `${label} dw`, 0.1);
      expectClose(db, numericGradient((v) => dot(dy, conv1dForwardRef(s, x, w, v)), b), 1e-4, `${label} db`, 0.1);
    }
  });
});

describe("conv1d with padding='same' matches PyTorch", () => {
  for (const key of ['conv1dSame', 'conv1dSameOdd'] as const) {
    it(key, () => {
      const f = ops[key];
      const [B, C, L] = f.x.shape;
      const [M, , K] = f.weight.shape;
      expect(f.padLeft).toBe(Math.floor((K - 1) / 2));
      const s: Conv1dShape = { batch: B, length: L, inChannels: C, outChannels: M, width: K, padLeft: f.padLeft, padRight: f.padRight };
      const x = toChannelsLast(f.x.data, B, C, L);
      const w = torchConvWeight(f.weight.data, M, C, K);
      const y = new Float32Array(B * L * M);
      k.conv1dForward({ ...s, x, weight: w, bias: Float32Array.from(f.bias.data), y });
      expectClose(y, toChannelsLast(f.y.data, B, M, L), 1e-5, 'y');
      const dy = toChannelsLast(f.dy.data, B, M, L);
      const dx = new Float32Array(x.length);
      const dw = new Float32Array(w.length);
      const db = new Float32Array(M);
      k.conv1dBackwardInput({ ...s, dy, weight: w, dx });
      k.conv1dBackwardWeight({ ...s, x, dy, dWeight: dw });
      k.conv1dBackwardBias({ ...s, dy, dBias: db });
      expectClose(dx, toChannelsLast(f.dx.data, B, C, L), 1e-5, 'dx');
      expectClose(dw, torchConvWeight(f.dweight.data, M, C, K), 1e-5, 'dw');
      expectClose(db, f.dbias.data, 1e-5, 'db');
    });
  }
});
