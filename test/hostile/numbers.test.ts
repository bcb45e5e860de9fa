/**
 * HAZARDS.md, "Numbers": non-finite steps are skipped and counted and stop
 * training with an error naming the step; an infinite gradient leaves every
 * parameter bitwise unchanged; logits of +-1e4 give a finite cross-entropy
 * within 1e-5 of a float64 reference; learning rate 0 changes nothing; the
 * last good model is never overwritten with NaN weights.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { EncodedDatasetBuilder } from '../../src/data/dataset.js';
import { textCNN } from '../../src/model/graph.js';
import { compileModel, type Batch, type CompiledModel } from '../../src/model/program.js';
import { kernels } from '../../src/native.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import { fit } from '../../src/train/trainer.js';
import { expectClean, rejected, removeTempDirs, tempDir } from './helpers.js';
import { tinyModel } from './model-helpers.js';

afterAll(removeTempDirs);

const k = kernels();
const bits = (m: Map<string, Float32Array>): Map<string, number[]> => new Map([...m].map(([n, v]) => [n, Array.from(new Uint32Array(v.slice().buffer))]));

function model(): CompiledModel {
  return compileModel(textCNN({ vocabSize: 30, classes: 3, embedDim: 6, widths: [3, 4, 5], maps: 4, dropout: 0 }), { maxBatch: 4, maxLength: 8, seed: 5 });
}
const batch = (): Batch => ({ ids: Int32Array.from({ length: 32 }, (_, i) => (i * 7) % 30), lengths: Int32Array.of(8, 5, 1, 8), labels: Int32Array.of(0, 1, 2, 1), batch: 4, length: 8 });

describe('non-finite steps', () => {
  for (const [what, poison] of [
    ['a NaN in the embedding', (m: CompiledModel) => void (m.params().get('embedding.weight')![7 * 6] = NaN)],
    ['an infinite weight (infinite gradient)', (m: CompiledModel) => void m.params().get('conv0.weight')!.fill(3e38)],
    ['an infinite bias', (m: CompiledModel) => void (m.params().get('classifier.bias')![1] = Infinity)],
  ] as const) {
    it(`${what}: the step is skipped and counted; every parameter and the optimizer state bitwise unchanged`, async () => {
      const m = model();
      poison(m);
      const before = bits(m.params());
      const state = m.getState();
      for (const optimizer of ['adam', 'adamw', 'sgd'] as const) {
        const r = await m.trainStep(batch(), { optimizer, lr: 0.1, momentum: 0.9, weightDecay: 0.01, maxGradNorm: 1 });
        expect(r.skipped).toBe(true);
      }
      expect(bits(m.params())).toEqual(before);
      const after = m.getState();
      expect(Array.from(after.m)).toEqual(Array.from(state.m));
      expect(after.steps).toBe(state.steps);
      m.dispose();
    });
  }

  it('an absurd learning rate: skipped steps are counted, training stops with an error naming the step, the saved model stays finite', async () => {
    const m = model();
    const b = new EncodedDatasetBuilder();
    for (let i = 0; i < 40; i++) b.add(Int32Array.from({ length: 6 }, (_, j) => (i * 3 + j) % 30), i % 3, i + 1);
    const data = b.build();
    const err = expectClean(await rejected(fit(m, data, { labels: ['a', 'b', 'c'], epochs: 3, batchSize: 4, lr: 1e38, optimizer: 'sgd', maxBadSteps: 3 })), {
      code: 'ERR_FINETUNE_NONFINITE',
      message: /step \d+/,
    });
    expect(err.message).toMatch(/not finite for 3 steps/);
    // Whatever the weights are now, saving NaN over a good model is refused and the old file stays.
    const dir = await tempDir();
    const file = path.join(dir, 'good.onnx');
    const good = tinyModel(1);
    await saveModel(file, good);
    const bytes = readFileSync(file);
    const bad = tinyModel(1);
    bad.params.get('conv0.weight')![0] = NaN;
    expectClean(await rejected(saveModel(file, bad)), { code: 'ERR_FINETUNE_MODEL_FILE', message: /non-finite/ });
    expect(readFileSync(file).equals(bytes)).toBe(true);
    expect((await loadModel(file)).labels).toEqual(good.labels);
    m.dispose();
  });
});

describe('cross-entropy of extreme logits', () => {
  const reference = (logits: number[], label: number): number => {
    const max = Math.max(...logits);
    return Math.log(logits.reduce((s, z) => s + Math.exp(z - max), 0)) + max - logits[label];
  };
  const cases: Array<[number[], number]> = [
    [[1e4, -1e4], 1],
    [[1e4, -1e4], 0],
    [[-1e4, -1e4, 1e4], 0],
    [[1e4, 1e4 - 1, 1e4 - 2], 2],
    [[-1e4, -1e4 + 3], 1],
    [[3.4e38, -3.4e38], 1],
  ];
  for (const [logits, label] of cases) {
    it(`[${logits}] label ${label}: finite, within 1e-5 (relative) of float64; gradients finite`, () => {
      const grad = new Float32Array(logits.length);
      const r = k.softmaxCrossEntropy({ logits: Float32Array.from(logits), labels: Int32Array.of(label), rows: 1, classes: logits.length, gradLogits: grad });
      const want = reference(Array.from(Float32Array.from(logits)), label);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(Math.abs(r.loss - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
      expect(Array.from(grad).every(Number.isFinite)).toBe(true);
    });
  }
});

describe('learning rate 0', () => {
  it('adam, adamw and sgd with lr 0 (and weight decay) leave parameters bitwise unchanged', async () => {
    const m = model();
    const before = bits(m.params());
    for (const optimizer of ['adam', 'adamw', 'sgd'] as const) await m.trainStep(batch(), { optimizer, lr: 0, weightDecay: 0.5, momentum: 0.9 });
    expect(bits(m.params())).toEqual(before);
    m.dispose();
    const param = Float32Array.of(1, -2, 3e-30, 7);
    const copy = param.slice();
    k.adamUpdate({ param, grad: Float32Array.of(1e30, -1, 0, 5), m: new Float32Array(4), v: new Float32Array(4), lr: 0, weightDecay: 1, decoupled: true, step: 1 });
    k.sgdUpdate({ param, grad: Float32Array.of(1e30, -1, 0, 5), lr: 0, weightDecay: 1 });
    expect(Array.from(new Uint32Array(param.buffer))).toEqual(Array.from(new Uint32Array(copy.buffer)));
  });
});
