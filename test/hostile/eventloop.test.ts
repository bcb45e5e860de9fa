/**
 * HAZARDS.md, "The native addon inside a server": the event loop stays
 * responsive during load and save (event-loop delay p99 under 50 ms;
 * test/model/program.test.ts checks training). A model the size of Kim's
 * (a 50,000-word vocabulary x 300 dimensions: 60 MB of weights) is saved and
 * loaded while a 2 ms timer measures the longest time the loop was blocked.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Tokenizer } from '../../src/data/tokenizer.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { graphParams, textCNN } from '../../src/model/graph.js';
import { loadModel, saveModel, type SavedModel } from '../../src/onnx/model-file.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../src/train/checkpoint.js';
import { removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

/** The longest stretch (ms) the event loop was blocked while `fn` ran. */
async function longestBlock(fn: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 2);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(max, performance.now() - last);
}

const LIMIT_MS = 100; // twice the hazard's p99, for slow CI machines
const V = 50_000;
let model: SavedModel;
let checkpoint: Checkpoint;
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  if (process.env.FINETUNE_TIMING !== '1') return;
  const graph = textCNN({ vocabSize: V, classes: 2, embedDim: 300, widths: [3, 4, 5], maps: 100 });
  const params = new Map(graphParams(graph).map((p) => [p.name, new Float32Array(p.size).fill(0.01)]));
  const tokens = ['<pad>', '<unk>', ...Array.from({ length: V - 2 }, (_, i) => `word${i}`)];
  model = { graph, params, vocab: Vocabulary.fromTokens(tokens), tokenizer: new Tokenizer().toJSON(), labels: ['neg', 'pos'] };
  let total = 0;
  for (const p of params.values()) total += p.length;
  checkpoint = {
    model,
    state: { m: new Float32Array(total), v: new Float32Array(total), paramSteps: new Float64Array(params.size), steps: 1, seed: 0, counter: 0 },
    trainer: { epoch: 0, step: 0, history: [], loader: { version: 1, epoch: 0, batchIndex: 0 } } as never,
    options: {},
    data: { file: 'x', size: 0, sha256: '' },
  };
  await saveModel(path.join(dir, 'm.onnx'), model);
  await saveCheckpoint(path.join(dir, 'ckpt'), checkpoint);
});

// FINDINGS (see the report): saveModel checked and copied the 60 MB of weights in one piece,
// loadModel copied every tensor out of the file and indexed the 50,000-token vocabulary in one
// piece, and saveCheckpoint copied the weights and optimizer moments (180 MB) in one piece.
// Fixed: the copies, the finite check, the checksums and hashes and the vocabulary index run as
// sliced work (src/io/slices.ts) that turns the event loop every 5 ms; the files are byte for byte
// what they were. Longest block, median of 14 runs on two cores shared with other work (load 7-8),
// before -> after: saveModel 157 -> 35 ms, loadModel 211 -> 42, saveCheckpoint 241 -> 58,
// loadCheckpoint 81 -> 67. What remains is one-piece work (JSON.parse of the vocabulary, V8's
// garbage collections) and waits for a CPU: the rare blocks of 100-250 ms under that load are
// stretches in which the process itself ran for a few milliseconds only.
// Timings depend on the machine's load, so (like every speed target) these run on demand,
// FINETUNE_TIMING=1, not in `npm test`.
describe.skipIf(process.env.FINETUNE_TIMING !== '1')('the event loop stays responsive during load and save (60 MB model)', () => {
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['saveModel', () => saveModel(path.join(dir, 'm2.onnx'), model)],
    ['loadModel', () => loadModel(path.join(dir, 'm.onnx'))],
    ['saveCheckpoint', () => saveCheckpoint(path.join(dir, 'ckpt2'), checkpoint)],
    ['loadCheckpoint', () => loadCheckpoint(path.join(dir, 'ckpt'))],
  ];
  for (const [name, run] of cases) {
    it(`${name} blocks the loop less than ${LIMIT_MS} ms at a time`, async () => {
      const ms = await longestBlock(run);
      console.log(`${name}: longest event-loop block ${ms.toFixed(1)} ms`);
      expect(ms).toBeLessThan(LIMIT_MS);
    });
  }
});

describe('concurrent saves to one path are serialised', () => {
  it('ten concurrent saveModel calls: the last call wins, the file is valid, no temporary file', async () => {
    const file = path.join(dir, 'race.onnx');
    const small = (i: number): SavedModel => {
      const graph = textCNN({ vocabSize: 10, classes: 2, embedDim: 4, widths: [2], maps: 2 });
      const params = new Map(graphParams(graph).map((p) => [p.name, new Float32Array(p.size).fill(i)]));
      return { graph, params, vocab: Vocabulary.fromTokens(['<pad>', '<unk>', ...'abcdefgh'.split('')]), tokenizer: new Tokenizer().toJSON(), labels: [`v${i}`, 'x'] };
    };
    await Promise.all(Array.from({ length: 10 }, (_, i) => saveModel(file, small(i))));
    const m = await loadModel(file);
    expect(m.labels[0]).toBe('v9');
    expect([...m.params.values()].every((p) => p.every((x) => x === 9))).toBe(true);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('a large save then a small one: the small, later call wins (the big one copies in slices for longer)', async () => {
    const file = path.join(dir, 'race2.onnx');
    const make = (vocabSize: number, value: number, label: string): SavedModel => {
      const graph = textCNN({ vocabSize, classes: 2, embedDim: 64, widths: [2], maps: 2 });
      const params = new Map(graphParams(graph).map((p) => [p.name, new Float32Array(p.size).fill(value)]));
      const tokens = ['<pad>', '<unk>', ...Array.from({ length: vocabSize - 2 }, (_, i) => `w${i}`)];
      return { graph, params, vocab: Vocabulary.fromTokens(tokens), tokenizer: new Tokenizer().toJSON(), labels: [label, 'x'] };
    };
    await Promise.all([saveModel(file, make(100_000, 1, 'big')), saveModel(file, make(10, 2, 'small'))]);
    const m = await loadModel(file);
    expect(m.labels[0]).toBe('small');
    expect(m.vocab.size).toBe(10);
  });
});
