import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { encodeFile, loadTrainingData } from '../../src/data/index.js';
import { textCNN } from '../../src/model/graph.js';
import { compileModel } from '../../src/model/program.js';
import { ConfusionMatrix, formatMetrics } from '../../src/train/metrics.js';
import { LrSchedule } from '../../src/train/schedule.js';
import { evaluate, fit, type StepInfo } from '../../src/train/trainer.js';
import { TestRandom } from '../helpers/random.js';

/** Sentences whose label is carried by one cue word among noise: learnable in a few epochs. */
function synthetic(n: number, seed: number): string {
  const rng = new TestRandom(seed);
  const cues = [['great', 'superb', 'lovely'], ['awful', 'dull', 'tedious'], ['maybe', 'perhaps', 'unclear']];
  const noise = Array.from({ length: 40 }, (_, i) => `w${i}`);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 3;
    const len = rng.int(3, 12);
    const words = Array.from({ length: len }, () => noise[rng.int(0, noise.length - 1)]);
    words[rng.int(0, len - 1)] = cues[label][rng.int(0, 2)];
    lines.push(`${['pos', 'neg', 'neutral'][label]} ${words.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

const dir = mkdtempSync(join(tmpdir(), 'finetune-trainer-'));
const trainFile = join(dir, 'train.txt');
const devFile = join(dir, 'dev.txt');
writeFileSync(trainFile, synthetic(600, 1));
writeFileSync(devFile, synthetic(150, 2));

async function setup(seed = 1) {
  const { dataset, vocab, labels } = await loadTrainingData(trainFile);
  const dev = (await encodeFile(devFile, { vocab, labels })).dataset;
  const graph = textCNN({ vocabSize: vocab.size, classes: labels.size, embedDim: 16, widths: [2, 3], maps: 8, dropout: 0.2 });
  const model = compileModel(graph, { maxBatch: 32, maxLength: 16, seed });
  return { dataset, dev, labels, model };
}

describe('fit and evaluate', () => {
  it('learns a cue-word task to high dev accuracy, reporting every step and epoch', async () => {
    const { dataset, dev, labels, model } = await setup();
    const steps: StepInfo[] = [];
    const epochs: number[] = [];
    const result = await fit(model, dataset, { labels: labels.names, dev, epochs: 6, batchSize: 32, lr: 0.01, seed: 3, onStep: (s) => steps.push(s), onEpoch: (e) => { epochs.push(e.epoch); } });
    expect(result.epochs).toBe(6);
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps.length).toBe(6 * Math.ceil(600 / 32));
    expect(result.history[5].loss).toBeLessThan(result.history[0].loss);
    const m = await evaluate(model, dev, labels.names);
    expect(m.examples).toBe(150);
    expect(m.accuracy).toBeGreaterThan(0.9);
    expect(m.accuracy).toBe(result.history[5].dev!.accuracy);
    model.dispose();
  });

  it('is deterministic: the same seed gives the same loss curve', async () => {
    const losses = async () => {
      const { dataset, labels, model } = await setup(7);
      const r = await fit(model, dataset, { labels: labels.names, epochs: 2, batchSize: 32, lr: 0.01, seed: 5, bucket: true });
      model.dispose();
      return r.history.map((h) => h.loss);
    };
    expect(await losses()).toEqual(await losses());
  });

  it('early stopping restores the best weights', async () => {
    const { dataset, dev, labels, model } = await setup();
    // A learning rate this high makes dev accuracy wander; patience 1 stops early.
    const r = await fit(model, dataset, { labels: labels.names, dev, epochs: 12, batchSize: 32, lr: 0.05, optimizer: 'sgd', seed: 1, earlyStopping: { patience: 1 } });
    expect(r.bestEpoch).not.toBeNull();
    const bestAcc = Math.max(...r.history.map((h) => h.dev!.accuracy));
    expect(r.history[r.bestEpoch! - 1].dev!.accuracy).toBe(bestAcc);
    expect((await evaluate(model, dev, labels.names)).accuracy).toBe(bestAcc);
    if (r.stoppedEarly) expect(r.epochs).toBeLessThan(12);
    model.dispose();
  });

  it('stops with an error naming the step when the loss stays non-finite', async () => {
    const { dataset, labels, model } = await setup();
    model.params().get('classifier.bias')![0] = NaN;
    await expect(fit(model, dataset, { labels: labels.names, epochs: 1, batchSize: 32, lr: 0.01, maxBadSteps: 3 })).rejects.toMatchObject({
      code: 'ERR_FINETUNE_NONFINITE',
      message: expect.stringMatching(/epoch 1, step 1: .* 3 steps in a row/),
    });
    expect(Number.isNaN(model.params().get('classifier.bias')![0])).toBe(true); // nothing else was touched
    model.dispose();
  });
});

describe('schedules', () => {
  it('constant, step, cosine, linear with warm-up, reduce-on-plateau', () => {
    expect(new LrSchedule({ type: 'constant' }, 0.1, 100).lr(57)).toBe(0.1);
    const step = new LrSchedule({ type: 'step', stepSize: 10, gamma: 0.5 }, 1, 100);
    expect([step.lr(0), step.lr(9), step.lr(10), step.lr(25)]).toEqual([1, 1, 0.5, 0.25]);
    const cos = new LrSchedule({ type: 'cosine' }, 1, 100);
    expect(cos.lr(0)).toBeCloseTo(1, 12);
    expect(cos.lr(50)).toBeCloseTo(0.5, 12);
    expect(cos.lr(100)).toBeCloseTo(0, 12);
    const warm = new LrSchedule({ type: 'linear' }, 1, 110, { warmupSteps: 10 });
    expect(warm.lr(0)).toBeCloseTo(0.1, 12);
    expect(warm.lr(9)).toBeCloseTo(1, 12);
    expect(warm.lr(60)).toBeCloseTo(0.5, 12);
    const plateau = new LrSchedule({ type: 'plateau', factor: 0.5, patience: 1 }, 1, 100);
    for (const acc of [0.5, 0.6, 0.6, 0.6]) plateau.observe(acc);
    expect(plateau.lr(0)).toBe(0.5);
  });
});

describe('metrics', () => {
  it('precision, recall, F1, macro-F1 and the confusion matrix', () => {
    const cm = new ConfusionMatrix(['a', 'b', 'c']);
    const pairs = [[0, 0], [0, 0], [0, 1], [1, 1], [1, 1], [1, 0], [2, 2], [2, 1]];
    for (const [a, p] of pairs) cm.add(a, p);
    const m = cm.metrics();
    expect(m.accuracy).toBeCloseTo(5 / 8, 12);
    expect(m.perClass[0]).toMatchObject({ precision: 2 / 3, recall: 2 / 3, support: 3 });
    expect(m.perClass[1].precision).toBeCloseTo(2 / 4, 12);
    expect(m.perClass[2]).toMatchObject({ precision: 1, recall: 0.5 });
    const f1 = [2 / 3, 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), 2 / 3];
    expect(m.macroF1).toBeCloseTo((f1[0] + f1[1] + f1[2]) / 3, 12);
    expect(m.confusion).toEqual([[2, 1, 0], [1, 2, 0], [0, 1, 1]]);
    expect(formatMetrics(m)).toContain('accuracy 62.50%');
  });
});
