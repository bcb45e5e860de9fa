/**
 * CudaProgram (native/cuda/program.h) against the CPU Program: the same spec,
 * parameters, generator seed and batches, then losses, gradient norms,
 * logits and parameters after several steps compared. Both do the same float
 * math up to summation order, so they agree to 1e-5 (loss, norm, logits) and
 * 1e-4 of each parameter tensor's scale after the steps. Adam runs with eps
 * 1e-3 here so that an update stays proportional to its gradient (with a tiny
 * eps, a gradient that is zero up to rounding could take opposite signs on
 * the two sides and move by a full learning rate).
 */
import { expect, it } from 'vitest';

import type { CudaProgram } from '../../src/cuda/index.js';
import { loadNative } from '../../src/native.js';
import { expectTensorClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { cudaModule, describeGpu } from './setup.js';

interface CpuProgram {
  trainStep(batch: unknown, cfg: unknown): Promise<{ loss: number; correct: number; gradNorm: number; skipped: boolean }>;
  predict(batch: unknown): Promise<Float32Array>;
  evaluate(batch: unknown): Promise<{ loss: number; correct: number; logits: Float32Array }>;
  params(): Array<{ name: string; values: Float32Array }>;
  getState(): { m: Float32Array; v: Float32Array; paramSteps: Float64Array; steps: number; seed: number; counter: number };
  setState(s: unknown): void;
  setFrozen(a: { param: number; frozen: boolean }): void;
  dispose(): void;
}

interface Shape {
  vocab: number;
  dim: number;
  widths: number[];
  maps: number;
  classes: number;
  padding: 'valid' | 'same';
  pool: 'max' | 'mean';
  activation: number;
  dropout: number;
  hidden?: number;
  paddingIdx?: number;
}

/** The spec src/model/program.ts builds for a TextCNN, written out. */
function textCnnSpec(s: Shape, maxBatch: number, maxLength: number, extra: Record<string, unknown> = {}) {
  const tensors: Array<{ kind: number; channels: number }> = [{ kind: 0, channels: 0 }, { kind: 1, channels: s.dim }];
  const params: Array<{ name: string; size: number; group: number }> = [{ name: 'embedding.weight', size: s.vocab * s.dim, group: 0 }];
  const ops: Array<Record<string, unknown>> = [{ type: 0, inputs: [0], output: 1, params: [0], paddingIdx: s.paddingIdx ?? -1 }];
  const pooled: number[] = [];
  for (const w of s.widths) {
    const conv = tensors.push({ kind: 1, channels: s.maps }) - 1;
    params.push({ name: `conv${w}.weight`, size: s.maps * w * s.dim, group: 1 }, { name: `conv${w}.bias`, size: s.maps, group: 1 });
    const padLeft = s.padding === 'same' ? (w - 1) >> 1 : 0;
    ops.push({ type: 1, inputs: [1], output: conv, params: [params.length - 2, params.length - 1], width: w, padLeft, padRight: s.padding === 'same' ? w - 1 - padLeft : 0 });
    const act = tensors.push({ kind: 1, channels: s.maps }) - 1;
    ops.push({ type: 2, inputs: [conv], output: act, params: [], activation: s.activation });
    const pool = tensors.push({ kind: 2, channels: s.maps }) - 1;
    ops.push({ type: s.pool === 'max' ? 3 : 4, inputs: [act], output: pool, params: [] });
    pooled.push(pool);
  }
  const features = s.widths.length * s.maps;
  const concat = tensors.push({ kind: 2, channels: features }) - 1;
  ops.push({ type: 5, inputs: pooled, output: concat, params: [] });
  const drop = tensors.push({ kind: 2, channels: features }) - 1;
  ops.push({ type: 6, inputs: [concat], output: drop, params: [], dropout: s.dropout });
  let last = drop;
  let width = features;
  if (s.hidden) {
    const h = tensors.push({ kind: 2, channels: s.hidden }) - 1;
    params.push({ name: 'hidden.weight', size: s.hidden * width, group: 2 }, { name: 'hidden.bias', size: s.hidden, group: 2 });
    ops.push({ type: 7, inputs: [last], output: h, params: [params.length - 2, params.length - 1] });
    const a = tensors.push({ kind: 2, channels: s.hidden }) - 1;
    ops.push({ type: 2, inputs: [h], output: a, params: [], activation: 4 });
    last = a;
    width = s.hidden;
  }
  const logits = tensors.push({ kind: 2, channels: s.classes }) - 1;
  params.push({ name: 'fc.weight', size: s.classes * width, group: 2 }, { name: 'fc.bias', size: s.classes, group: 2 });
  ops.push({ type: 7, inputs: [last], output: logits, params: [params.length - 2, params.length - 1] });
  return { maxBatch, maxLength, groups: 3, tensors, ops, params, ...extra };
}

function randomBatch(rng: TestRandom, s: Shape, batch: number, length: number, withLengths: boolean) {
  const ids = rng.ints(batch * length, 0, s.vocab - 1);
  const lengths = withLengths ? Int32Array.from({ length: batch }, () => rng.int(0, length)) : null;
  return { ids, lengths, labels: rng.ints(batch, 0, s.classes - 1), batch, length };
}

function pair(spec: ReturnType<typeof textCnnSpec>, rng: TestRandom, seed: number) {
  const { Program } = loadNative() as unknown as { Program: new (spec: unknown) => CpuProgram };
  const cpu = new Program(spec);
  const gpu = new cudaModule!.CudaProgram(spec);
  const values: Record<string, Float32Array> = {};
  for (const p of cpu.params()) {
    p.values.set(rng.floats(p.values.length, p.name.startsWith('embedding') ? 1 : 0.1));
    values[p.name] = p.values.slice();
  }
  gpu.setParams(values);
  cpu.setState({ ...cpu.getState(), seed, counter: 0 });
  gpu.setState({ ...gpu.getState(), seed, counter: 0 });
  return { cpu, gpu };
}

function expectParamsClose(cpu: CpuProgram, gpu: CudaProgram, tol: number, what: string) {
  const g = new Map(gpu.params().map((p) => [p.name, p.values]));
  for (const p of cpu.params()) expectTensorClose(g.get(p.name)!, p.values, tol, `${what}: ${p.name}`);
}

function expectNear(a: number, b: number, tol: number, what: string) {
  expect(Math.abs(a - b), `${what}: ${a} (GPU) vs ${b} (CPU)`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));
}

const groups = (lr: number) => [{ lr }, { lr }, { lr, weightDecay: 0.01 }];

const CASES: Array<{ name: string; shape: Shape; cfg: Record<string, unknown>; withLengths: boolean; extra?: Record<string, unknown> }> = [
  {
    name: 'Kim CNN-rand (valid convs, relu, max pooling, dropout 0.5), Adam, per-row lengths',
    shape: { vocab: 300, dim: 32, widths: [3, 4, 5], maps: 16, classes: 2, padding: 'valid', pool: 'max', activation: 1, dropout: 0.5, paddingIdx: 0 },
    cfg: { optimizer: 0, eps: 1e-3, groups: groups(0.01), maxGradNorm: 1 },
    withLengths: true,
  },
  {
    name: "'same' convs, gelu, mean pooling, a hidden layer, AdamW, label smoothing and class weights",
    shape: { vocab: 97, dim: 20, widths: [2, 3, 6], maps: 9, classes: 5, padding: 'same', pool: 'mean', activation: 4, dropout: 0.3, hidden: 7 },
    cfg: { optimizer: 1, eps: 1e-3, groups: groups(0.005) },
    withLengths: true,
    extra: { labelSmoothing: 0.1, classWeights: Float32Array.from([1, 2, 0.5, 1, 3]) },
  },
  {
    name: 'PyTorch-compatible padding (no lengths), tanh, SGD with nesterov momentum',
    shape: { vocab: 50, dim: 8, widths: [1, 3], maps: 70, classes: 3, padding: 'valid', pool: 'max', activation: 2, dropout: 0 },
    cfg: { optimizer: 2, momentum: 0.9, nesterov: true, groups: groups(0.05) },
    withLengths: false,
  },
  {
    name: 'sparse embedding updates (SparseAdam rows)',
    shape: { vocab: 400, dim: 16, widths: [3, 5], maps: 8, classes: 2, padding: 'valid', pool: 'max', activation: 1, dropout: 0.5, paddingIdx: 1 },
    cfg: { optimizer: 0, eps: 1e-3, sparseEmbedding: true, groups: [{ lr: 0.01 }, { lr: 0.01 }, { lr: 0.01 }] },
    withLengths: true,
  },
];

describeGpu('CudaProgram against the CPU Program', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const rng = new TestRandom(c.name.length * 131);
      const maxBatch = 24, maxLength = 19;
      const spec = textCnnSpec(c.shape, maxBatch, maxLength, c.extra);
      const { cpu, gpu } = pair(spec, rng, 77);
      try {
        for (let step = 0; step < 4; step++) {
          const b = randomBatch(rng, c.shape, rng.int(1, maxBatch), rng.int(6, maxLength), c.withLengths);
          const [rc, rg] = [await cpu.trainStep(b, c.cfg), await gpu.trainStep(b, c.cfg)];
          expectNear(rg.loss, rc.loss, 1e-5, `step ${step} loss`);
          expect(rg.correct).toBe(rc.correct);
          expectNear(rg.gradNorm, rc.gradNorm, 1e-5, `step ${step} gradNorm`);
          expect(rg.skipped).toBe(rc.skipped);
        }
        expectParamsClose(cpu, gpu, 1e-4, 'after 4 steps');
        const sc = cpu.getState(), sg = gpu.getState();
        expect(sg.counter).toBe(sc.counter);
        expect(Array.from(sg.paramSteps)).toEqual(Array.from(sc.paramSteps));
        const b = randomBatch(rng, c.shape, maxBatch, maxLength, c.withLengths);
        expectTensorClose(await gpu.predict(b), await cpu.predict(b), 1e-5, 'predict logits');
        const [ec, eg] = [await cpu.evaluate(b), await gpu.evaluate(b)];
        expectNear(eg.loss, ec.loss, 1e-5, 'evaluate loss');
        expect(eg.correct).toBe(ec.correct);
      } finally {
        cpu.dispose();
        gpu.dispose();
      }
    });
  }

  it('frozen layers get no update, and a predicted text does not depend on its batch', async () => {
    const shape: Shape = { vocab: 60, dim: 12, widths: [3, 4], maps: 10, classes: 2, padding: 'valid', pool: 'max', activation: 1, dropout: 0.5 };
    const rng = new TestRandom(5);
    const spec = textCnnSpec(shape, 8, 12);
    const { cpu, gpu } = pair(spec, rng, 3);
    try {
      cpu.setFrozen({ param: 0, frozen: true });
      gpu.setFrozen({ param: 0, frozen: true });
      const before = gpu.params()[0].values;
      for (let step = 0; step < 2; step++) {
        const b = randomBatch(rng, shape, 8, 12, true);
        const cfg = { optimizer: 0, eps: 1e-3, groups: groups(0.01) };
        const [rc, rg] = [await cpu.trainStep(b, cfg), await gpu.trainStep(b, cfg)];
        expectNear(rg.loss, rc.loss, 1e-5, 'loss');
      }
      expect(Array.from(gpu.params()[0].values)).toEqual(Array.from(before));
      expectParamsClose(cpu, gpu, 1e-4, 'frozen embedding');
      const b = randomBatch(rng, shape, 8, 12, true);
      const all = await gpu.predict(b);
      for (const r of [0, 5]) {
        const alone = await gpu.predict({ ids: b.ids.slice(r * 12, (r + 1) * 12), lengths: b.lengths!.slice(r, r + 1), batch: 1, length: 12 });
        expectTensorClose(alone, all.slice(r * 2, r * 2 + 2), 1e-5, `row ${r} alone`);
      }
    } finally {
      cpu.dispose();
      gpu.dispose();
    }
  });

  it('a non-finite loss skips the step and leaves the parameters unchanged', async () => {
    const shape: Shape = { vocab: 30, dim: 6, widths: [2], maps: 4, classes: 2, padding: 'valid', pool: 'max', activation: 1, dropout: 0 };
    const rng = new TestRandom(6);
    const gpu = new cudaModule!.CudaProgram(textCnnSpec(shape, 4, 8));
    try {
      const poisoned: Record<string, Float32Array> = { 'fc.bias': Float32Array.from([NaN, 0]) };
      gpu.setParams(poisoned);
      const before = gpu.params().map((p) => p.values);
      const r = await gpu.trainStep(randomBatch(rng, shape, 4, 8, true), { groups: groups(0.1) });
      expect(r.skipped).toBe(true);
      gpu.params().forEach((p, i) => expect(Array.from(p.values)).toEqual(Array.from(before[i])));
    } finally {
      gpu.dispose();
    }
  });
});

describeGpu('CudaProgram with Adadelta and max-norm, where the CPU Program has them', () => {
  it('matches the CPU over 3 steps (skipped inside when the CPU addon predates Adadelta)', async () => {
    const shape: Shape = { vocab: 80, dim: 10, widths: [3, 4, 5], maps: 6, classes: 2, padding: 'valid', pool: 'max', activation: 1, dropout: 0.5 };
    const rng = new TestRandom(8);
    const { cpu, gpu } = pair(textCnnSpec(shape, 10, 12), rng, 9);
    const cfg = { optimizer: 3, rho: 0.95, groups: groups(1), maxNorm: 3 };
    try {
      const b0 = randomBatch(rng, shape, 10, 12, true);
      let rc;
      try {
        rc = await cpu.trainStep(b0, cfg);
      } catch {
        return; // this CPU addon has no Adadelta yet
      }
      const rg = await gpu.trainStep(b0, cfg);
      expectNear(rg.loss, rc.loss, 1e-5, 'loss');
      for (let step = 0; step < 2; step++) {
        const b = randomBatch(rng, shape, 10, 12, true);
        const [c2, g2] = [await cpu.trainStep(b, cfg), await gpu.trainStep(b, cfg)];
        expectNear(g2.loss, c2.loss, 1e-5, `step ${step} loss`);
      }
      expectParamsClose(cpu, gpu, 1e-4, 'adadelta + max-norm');
    } finally {
      cpu.dispose();
      gpu.dispose();
    }
  });
});

it.skipIf(!cudaModule)('CudaProgram checks its spec like the CPU Program, before touching the device', () => {
  const shape: Shape = { vocab: 10, dim: 4, widths: [3], maps: 2, classes: 2, padding: 'valid', pool: 'max', activation: 1, dropout: 0 };
  const spec = textCnnSpec(shape, 2, 5);
  spec.params[1].size += 1; // conv weight of the wrong size
  let err: (Error & { code?: string }) | undefined;
  try {
    new cudaModule!.CudaProgram(spec).dispose();
  } catch (e) {
    err = e as Error & { code?: string };
  }
  expect(err?.code).toBe('ERR_FINETUNE_ARG_RANGE');
  expect(err?.message).toMatch(/CudaProgram: op 1 \(conv1d\): weight size does not match \[out, width, in\]/);
});
