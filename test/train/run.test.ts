/**
 * A run from files, checkpoints and resume: N epochs straight equal the same
 * run stopped (at an epoch boundary or mid-epoch, once or twice), reloaded
 * from its checkpoint into a fresh model and continued — bit for bit.
 */
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { trainFromFiles, type TrainRunOptions } from '../../src/train/run.js';
import { TestRandom } from '../helpers/random.js';

function synthetic(n: number, seed: number): string {
  const rng = new TestRandom(seed);
  const cues = [['good', 'fine'], ['bad', 'poor']];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = rng.int(0, 1);
    const words = Array.from({ length: rng.int(2, 9) }, () => `n${rng.int(0, 30)}`);
    words[rng.int(0, words.length - 1)] = cues[label][rng.int(0, 1)];
    lines.push(`${label} ${words.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

const dir = mkdtempSync(join(tmpdir(), 'finetune-run-'));
const train = join(dir, 'train.txt');
const dev = join(dir, 'dev.txt');
writeFileSync(train, synthetic(130, 1)); // 130 / 20 = 7 batches an epoch, the last one short
writeFileSync(dev, synthetic(40, 2));

const base: TrainRunOptions = {
  train,
  dev,
  epochs: 4,
  batchSize: 20,
  lr: 0.01,
  seed: 5,
  bucket: true,
  architecture: { embedDim: 12, widths: [2, 3], maps: 6, dropout: 0.5 },
};

function sameParams(a: Map<string, Float32Array>, b: Map<string, Float32Array>) {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [n, v] of a) {
    const w = b.get(n)!;
    const same = v.length === w.length && v.every((x, i) => Object.is(x, w[i]));
    expect(same, `${n} differs`).toBe(true);
  }
}

describe('checkpoint and resume', () => {
  it('4 epochs straight equal 2 + resume + 2, and stops mid-epoch resumed twice', async () => {
    const straight = await trainFromFiles(base);
    expect(straight.fit.epochs).toBe(4);

    const ckA = join(dir, 'ck-epoch');
    const first = await trainFromFiles({ ...base, checkpointDir: ckA, maxSteps: 14 }); // exactly 2 epochs
    expect(first.fit.epochs).toBe(2);
    const resumedA = await trainFromFiles({ train, dev, resume: ckA, checkpointDir: ckA });
    expect(resumedA.fit.epochs).toBe(4);
    sameParams(resumedA.model.params, straight.model.params);
    expect(resumedA.fit.history.map((h) => h.loss)).toEqual(straight.fit.history.map((h) => h.loss));

    const ckB = join(dir, 'ck-mid');
    await trainFromFiles({ ...base, checkpointDir: ckB, checkpointEvery: 1, maxSteps: 10 }); // mid epoch 2
    expect((await loadCheckpoint(ckB)).trainer.step).toBe(10);
    await trainFromFiles({ train, dev, resume: ckB, checkpointDir: ckB, checkpointEvery: 1, maxSteps: 19 }); // mid epoch 3
    expect((await loadCheckpoint(ckB)).trainer.step).toBe(19);
    const resumedB = await trainFromFiles({ train, dev, resume: ckB, checkpointDir: ckB });
    sameParams(resumedB.model.params, straight.model.params);
    expect(resumedB.fit.history.map((h) => h.loss)).toEqual(straight.fit.history.map((h) => h.loss));
    expect(resumedB.dev!.accuracy).toBe(straight.dev!.accuracy);
  });

  it('refuses to resume on changed training data', async () => {
    const trainCopy = join(dir, 'train-copy.txt');
    writeFileSync(trainCopy, synthetic(130, 1));
    const ck = join(dir, 'ck-data');
    await trainFromFiles({ ...base, train: trainCopy, checkpointDir: ck, maxSteps: 7 });
    appendFileSync(trainCopy, '1 good n1 n2\n');
    await expect(trainFromFiles({ train: trainCopy, resume: ck })).rejects.toMatchObject({ code: 'ERR_FINETUNE_CHECKPOINT_DATA' });
  });
});
