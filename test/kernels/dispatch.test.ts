/**
 * Every fast kernel path (portable, avx2, avx512: whichever this CPU runs)
 * against the scalar references, which stay the oracle:
 * - conv1d forward / backward-input / backward-weight and linear: to 1e-5 of
 *   each tensor's largest magnitude (the fast paths use FMA and another
 *   summation order), on random odd shapes and paddings;
 * - conv1d / linear bias backward, embedding backward, Adam, AdamW, SGD and
 *   gradient clipping's scale: bit for bit (same float operations, same order);
 * - sumOfSquares: to 1e-12 relative (double sums in another order);
 * - the whole TextCNN chain against PyTorch (the committed fixture) on each path;
 * - results independent of the thread count, bit for bit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kernels, loadNative, type Conv1dShape, type KernelPath } from '../../src/native.js';
import { expectTensorClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { convOutLength } from '../helpers/reference.js';
import { nativeForwardBackward, paramList, type Batch, type TinyConfig, type TinyParams } from '../helpers/textcnn.js';
import fixture from '../fixtures/torch/textcnn_parity.json' with { type: 'json' };
import { torchConvWeight } from '../helpers/torch.js';

const addon = loadNative();
const k = kernels();
const initialPath = addon.getKernelPath();
const initialThreads = addon.getThreads();
const fastPaths = addon.kernelPaths().filter((p) => p !== 'scalar');

afterAll(() => {
  addon.setKernelPath(initialPath);
  addon.setThreads(initialThreads);
});

/** Runs f with the scalar path, then restores `path`. */
function scalar<T>(path: KernelPath, f: () => T): T {
  addon.setKernelPath('scalar');
  try {
    return f();
  } finally {
    addon.setKernelPath(path);
  }
}

function bitwise(a: Float32Array, b: Float32Array, what: string) {
  expect(a.length, what).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) throw new Error(`${what}[${i}]: ${a[i]} vs ${b[i]} (not bitwise equal)`);
  }
}

function randomConvShape(rng: TestRandom): Conv1dShape {
  const width = rng.int(1, 5);
  const variant = rng.int(0, 3); // valid, same, random, wide (more than width-1 zeros, as Kim's)
  let padLeft = 0, padRight = 0;
  if (variant === 1) {
    padLeft = Math.floor((width - 1) / 2);
    padRight = width - 1 - padLeft;
  } else if (variant === 2) {
    padLeft = rng.int(0, width - 1);
    padRight = rng.int(0, width - 1);
  } else if (variant === 3) {
    padLeft = rng.int(0, width + 4);
    padRight = rng.int(width, width + 4);
  }
  const minLength = Math.max(1, width - padLeft - padRight);
  return {
    batch: rng.int(1, 7),
    length: variant === 3 ? rng.int(1, 12) : rng.int(Math.max(minLength, width), 40),
    inChannels: rng.int(1, 17),
    outChannels: rng.int(1, 17),
    width,
    padLeft,
    padRight,
  };
}

const TOL = 1e-5;

describe('kernel dispatch', () => {
  it('lists the paths, forces each, and refuses unknown ones', () => {
    const paths = addon.kernelPaths();
    expect(paths[0]).toBe('scalar');
    expect(paths).toContain('portable');
    expect(paths).toContain(addon.features.kernels);
    for (const p of paths) expect(addon.setKernelPath(p)).toBe(p);
    expect(() => addon.setKernelPath('sse9' as KernelPath)).toThrow(RangeError);
    expect(() => addon.setKernelPath(42 as unknown as KernelPath)).toThrow(TypeError);
    for (const p of ['avx2', 'avx512'] as const) {
      if (!paths.includes(p)) expect(() => addon.setKernelPath(p)).toThrow(/cannot run/);
    }
    expect(() => addon.setThreads(0)).toThrow(RangeError);
    expect(() => addon.setThreads(1.5)).toThrow(RangeError);
    expect(addon.setThreads(1)).toBe(1);
    expect(addon.getThreads()).toBe(1);
    addon.setThreads(initialThreads);
    addon.setKernelPath(initialPath);
  });
});

for (const path of fastPaths) {
  describe(`${path} kernels against the scalar path`, () => {
    beforeAll(() => {
      addon.setKernelPath(path);
    });

    it('conv1d forward, backward-input, backward-weight, backward-bias on random shapes', () => {
      const rng = new TestRandom(path.length * 101 + 7);
      for (let trial = 0; trial < 60; trial++) {
        const s = randomConvShape(rng);
        const T = convOutLength(s);
        const nx = s.batch * s.length * s.inChannels, nw = s.outChannels * s.width * s.inChannels, ny = s.batch * T * s.outChannels;
        const x = rng.floats(nx), w = rng.floats(nw), bias = rng.floats(s.outChannels), dy = rng.floats(ny);
        const label = `${path} ${JSON.stringify(s)}`;
        const run = () => {
          const y = new Float32Array(ny);
          const yNoBias = new Float32Array(ny);
          const dx = new Float32Array(nx).fill(0.5);
          const dw = new Float32Array(nw).fill(-0.25);
          const db = new Float32Array(s.outChannels).fill(1);
          k.conv1dForward({ ...s, x, weight: w, bias, y });
          k.conv1dForward({ ...s, x, weight: w, y: yNoBias });
          k.conv1dBackwardInput({ ...s, dy, weight: w, dx });
          k.conv1dBackwardWeight({ ...s, x, dy, dWeight: dw });
          k.conv1dBackwardBias({ ...s, dy, dBias: db });
          return { y, yNoBias, dx, dw, db };
        };
        const got = run();
        const want = scalar(path, run);
        expectTensorClose(got.y, want.y, TOL, `${label} y`);
        expectTensorClose(got.yNoBias, want.yNoBias, TOL, `${label} y without bias`);
        expectTensorClose(got.dx, want.dx, TOL, `${label} dx`);
        expectTensorClose(got.dw, want.dw, TOL, `${label} dw`);
        bitwise(got.db, want.db, `${label} db`);
      }
    });

    it('conv1d at sizes that use threads and every panel shape', () => {
      const rng = new TestRandom(99);
      const shapes: Conv1dShape[] = [
        { batch: 6, length: 40, inChannels: 67, outChannels: 45, width: 4, padLeft: 1, padRight: 2 },
        { batch: 3, length: 37, inChannels: 100, outChannels: 33, width: 3 },
        { batch: 5, length: 29, inChannels: 48, outChannels: 64, width: 5, padLeft: 2, padRight: 2 },
      ];
      for (const s of shapes) {
        const T = convOutLength(s);
        const x = rng.floats(s.batch * s.length * s.inChannels), w = rng.floats(s.outChannels * s.width * s.inChannels);
        const bias = rng.floats(s.outChannels), dy = rng.floats(s.batch * T * s.outChannels);
        const run = () => {
          const y = new Float32Array(s.batch * T * s.outChannels);
          const dx = new Float32Array(x.length);
          const dw = new Float32Array(w.length);
          k.conv1dForward({ ...s, x, weight: w, bias, y });
          k.conv1dBackwardInput({ ...s, dy, weight: w, dx });
          k.conv1dBackwardWeight({ ...s, x, dy, dWeight: dw });
          return { y, dx, dw };
        };
        const got = run();
        const want = scalar(path, run);
        const label = `${path} ${JSON.stringify(s)}`;
        expectTensorClose(got.y, want.y, TOL, `${label} y`);
        expectTensorClose(got.dx, want.dx, TOL, `${label} dx`);
        expectTensorClose(got.dw, want.dw, TOL, `${label} dw`);
        // The same bits at any thread count.
        addon.setThreads(1);
        const one = run();
        addon.setThreads(Math.max(2, initialThreads));
        const many = run();
        addon.setThreads(initialThreads);
        bitwise(one.y, many.y, `${label} y threads`);
        bitwise(one.dx, many.dx, `${label} dx threads`);
        bitwise(one.dw, many.dw, `${label} dw threads`);
      }
    });

    it('linear forward and backward on random shapes', () => {
      const rng = new TestRandom(path.length * 13 + 1);
      for (let trial = 0; trial < 40; trial++) {
        const rows = rng.int(1, 40), inF = rng.int(1, 70), outF = rng.int(1, 37);
        const x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF), dy = rng.floats(rows * outF);
        const shape = { rows, inFeatures: inF, outFeatures: outF };
        const run = () => {
          const y = new Float32Array(rows * outF);
          const dx = new Float32Array(rows * inF).fill(0.25);
          const dw = new Float32Array(outF * inF).fill(-1);
          const db = new Float32Array(outF).fill(0.5);
          k.linearForward({ ...shape, x, weight: w, bias: trial % 3 ? b : null, y });
          k.linearBackwardInput({ ...shape, dy, weight: w, dx });
          k.linearBackwardWeight({ ...shape, x, dy, dWeight: dw });
          k.linearBackwardBias({ ...shape, dy, dBias: db });
          return { y, dx, dw, db };
        };
        const got = run();
        const want = scalar(path, run);
        const label = `${path} linear ${JSON.stringify(shape)}`;
        expectTensorClose(got.y, want.y, TOL, `${label} y`);
        expectTensorClose(got.dx, want.dx, TOL, `${label} dx`);
        expectTensorClose(got.dw, want.dw, TOL, `${label} dw`);
        bitwise(got.db, want.db, `${label} db`);
      }
    });

    it('embedding backward, bit for bit', () => {
      const rng = new TestRandom(5);
      for (const [vocab, dim, n] of [[7, 1, 5], [13, 17, 40], [50, 33, 300], [300, 300, 2000]] as const) {
        const ids = rng.ints(n, 0, vocab - 1);
        const gradOut = rng.floats(n * dim);
        const init = rng.floats(vocab * dim);
        for (const paddingIdx of [-1, 0, 3]) {
          const run = () => {
            const g = init.slice();
            k.embeddingBackward({ ids, gradOut, gradWeight: g, vocab, dim, paddingIdx });
            return g;
          };
          bitwise(run(), scalar(path, run), `${path} embedding ${vocab}x${dim} pad ${paddingIdx}`);
        }
      }
    });

    it('Adam, AdamW, Adadelta and SGD updates, bit for bit', () => {
      const rng = new TestRandom(17);
      for (const n of [1, 15, 16, 17, 1000, 300_001]) {
        const param = rng.floats(n), grad = rng.floats(n), m = rng.floats(n, 0.1), v = rng.floats(n, 0.1).map(Math.abs);
        const adam = (decoupled: boolean, weightDecay: number) => () => {
          const s = { param: param.slice(), grad, m: m.slice(), v: v.slice() };
          for (let step = 1; step <= 3; step++) k.adamUpdate({ ...s, lr: 1e-3, weightDecay, decoupled, step });
          return s;
        };
        for (const [decoupled, wd] of [[false, 0], [false, 0.01], [true, 0.01]] as const) {
          const got = adam(decoupled, wd)(), want = scalar(path, adam(decoupled, wd));
          const label = `${path} adam n=${n} decoupled=${decoupled} wd=${wd}`;
          bitwise(got.param, want.param, `${label} param`);
          bitwise(got.m, want.m, `${label} m`);
          bitwise(got.v, want.v, `${label} v`);
        }
        for (const opts of [{}, { rho: 0.95, weightDecay: 0.01 }]) {
          const adadelta = () => {
            const s = { param: param.slice(), grad, squareAvg: v.slice(), accDelta: v.map((x) => x * 0.5) };
            for (let step = 1; step <= 3; step++) k.adadeltaUpdate({ ...s, ...opts });
            return s;
          };
          const got = adadelta(), want = scalar(path, adadelta);
          bitwise(got.param, want.param, `${path} adadelta n=${n} ${JSON.stringify(opts)}`);
          bitwise(got.squareAvg, want.squareAvg, `${path} adadelta squareAvg n=${n}`);
          bitwise(got.accDelta, want.accDelta, `${path} adadelta accDelta n=${n}`);
        }
        for (const opts of [{}, { momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }, { momentum: 0.9, nesterov: true }]) {
          const sgd = () => {
            const s = { param: param.slice(), grad, momentumBuffer: m.slice() };
            for (let step = 1; step <= 3; step++) k.sgdUpdate({ ...s, lr: 0.1, ...opts, firstStep: step === 1 });
            return s;
          };
          const got = sgd(), want = scalar(path, sgd);
          bitwise(got.param, want.param, `${path} sgd n=${n} ${JSON.stringify(opts)}`);
          bitwise(got.momentumBuffer, want.momentumBuffer, `${path} sgd buffer n=${n}`);
        }
      }
    });

    it('gradient clipping: norm to 1e-12, clipped values bit for bit', () => {
      const rng = new TestRandom(23);
      const sizes = [1, 31, 70_000, 400_003];
      const base = sizes.map((n) => rng.floats(n));
      const run = () => {
        const grads = base.map((g) => g.slice());
        const norm = k.clipGradNorm({ grads, maxNorm: 1 });
        return { grads, norm };
      };
      const got = run(), want = scalar(path, run);
      expect(Math.abs(got.norm - want.norm) / want.norm).toBeLessThan(1e-12);
      // The clip factor comes from the norm, so compare the factor's effect.
      got.grads.forEach((g, i) => expectTensorClose(g, want.grads[i], 1e-6, `${path} clipped grads[${i}]`));
    });

    it('TextCNN forward/backward and Adam steps match PyTorch on this path', () => {
      type Tensor = { shape: number[]; data: number[] };
      const { vocab, dim, widths, maps, classes, padId } = fixture.config;
      const cfg: TinyConfig = { vocab, dim, widths, maps, classes, padId, activation: 'relu', pool: 'max' };
      const from = (t: Record<string, Tensor>): TinyParams => ({
        embedding: Float32Array.from(t['embedding.weight'].data),
        convWeight: widths.map((w, i) => torchConvWeight(t[`convs.${i}.weight`].data, maps, dim, w)),
        convBias: widths.map((_, i) => Float32Array.from(t[`convs.${i}.bias`].data)),
        fcWeight: Float32Array.from(t['fc.weight'].data),
        fcBias: Float32Array.from(t['fc.bias'].data),
      });
      const batch: Batch = {
        ids: Int32Array.from(fixture.ids.flat()),
        batch: fixture.ids.length,
        length: fixture.ids[0].length,
        labels: Int32Array.from(fixture.labels),
        rowLengths: null,
      };
      const p = from(fixture.params as Record<string, Tensor>);
      const r = nativeForwardBackward(cfg, p, batch);
      expectTensorClose(r.logits, fixture.logits.data, 1e-5, `${path} logits`);
      expect(Math.abs(r.loss - fixture.loss) / fixture.loss).toBeLessThan(1e-5);
      const wantGrads = paramList(from(fixture.grads as Record<string, Tensor>));
      paramList(r.grads).forEach((g, i) => expectTensorClose(g, wantGrads[i], 1e-5, `${path} grad ${i}`));

      const f = fixture.adam as { lr: number; steps: number; losses: number[]; params: Record<string, Tensor>; weightDecay: number; betas: number[]; eps: number };
      const params = paramList(p);
      const state = params.map((a) => ({ m: new Float32Array(a.length), v: new Float32Array(a.length) }));
      for (let step = 1; step <= f.steps; step++) {
        const s = nativeForwardBackward(cfg, p, batch);
        expect(Math.abs(s.loss - f.losses[step - 1]) / f.losses[step - 1]).toBeLessThan(1e-5);
        paramList(s.grads).forEach((grad, i) => {
          k.adamUpdate({ param: params[i], grad, m: state[i].m, v: state[i].v, step, lr: f.lr, beta1: f.betas[0], beta2: f.betas[1], eps: f.eps, weightDecay: f.weightDecay });
        });
      }
      const want = paramList(from(f.params));
      params.forEach((got, i) => expectTensorClose(got, want[i], 1e-5, `${path} Adam param ${i}`));
    });
  });
}

describe('fast paths at the Kim (2014) sizes', () => {
  // Register blocking and panel packing only reach their inner loops with
  // hundreds of channels; the random shapes above stay small.
  for (const path of fastPaths) {
    it(`${path}: conv1d forward and both backward passes, dim 300 -> 100 maps, against scalar`, () => {
      const rng = new TestRandom(300);
      for (const s of [
        { batch: 3, length: 23, inChannels: 300, outChannels: 100, width: 5 },
        { batch: 2, length: 17, inChannels: 301, outChannels: 99, width: 4, padLeft: 1, padRight: 2 },
      ] as Conv1dShape[]) {
        const T = s.length + (s.padLeft ?? 0) + (s.padRight ?? 0) - s.width + 1;
        const x = rng.floats(s.batch * s.length * s.inChannels);
        const w = rng.floats(s.outChannels * s.width * s.inChannels, 0.05);
        const b = rng.floats(s.outChannels);
        const dy = rng.floats(s.batch * T * s.outChannels);
        const run = () => {
          const y = new Float32Array(s.batch * T * s.outChannels);
          const dx = new Float32Array(x.length);
          const dw = new Float32Array(w.length);
          k.conv1dForward({ ...s, x, weight: w, bias: b, y });
          k.conv1dBackwardInput({ ...s, dy, weight: w, dx });
          k.conv1dBackwardWeight({ ...s, x, dy, dWeight: dw });
          return { y, dx, dw };
        };
        addon.setKernelPath(path);
        const fast = run();
        const ref = scalar(path, run);
        expectTensorClose(fast.y, ref.y, TOL, `${path} y`);
        expectTensorClose(fast.dx, ref.dx, TOL, `${path} dx`);
        expectTensorClose(fast.dw, ref.dw, TOL, `${path} dw`);
      }
      addon.setKernelPath(initialPath);
    });
  }
});
