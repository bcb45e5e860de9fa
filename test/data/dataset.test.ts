import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  DataLabelError,
  EncodedDataset,
  EncodedDatasetBuilder,
  LabelMap,
  Rng,
  Tokenizer,
  encodeFile,
  kFold,
  loadTrainingData,
  scanTrainingData,
  stratifiedSplit,
  Vocabulary,
} from '../../src/data/index.js';
import { fixtures, rejection, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('Rng', () => {
  it('is deterministic per seed, restorable, and roughly uniform', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(new Rng(8).nextUint32()).not.toBe(xs[0]);
    const saved = a.state();
    const next = [a.nextInt(10), a.nextFloat()];
    const c = Rng.fromState(JSON.parse(JSON.stringify(saved)));
    expect([c.nextInt(10), c.nextFloat()]).toEqual(next);
    const hist = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) hist[a.nextInt(10)]++;
    for (const h of hist) expect(Math.abs(h - 10_000)).toBeLessThan(500);
    expect(() => c.setState([0, 0, 0, 0])).toThrow(/all zero/);
  });
});

describe('EncodedDataset', () => {
  it('grows while streaming and holds ids, offsets and labels compactly', () => {
    const b = new EncodedDatasetBuilder();
    for (let i = 0; i < 1000; i++) b.add(Array.from({ length: i % 7 }, (_, k) => i + k), i % 3, i + 1);
    const d = b.build();
    expect(d.size).toBe(1000);
    expect(d.offsets.length).toBe(1001);
    expect(d.ids).toBeInstanceOf(Int32Array);
    expect(Array.from(d.tokens(10))).toEqual([10, 11, 12]);
    expect(d.length(7)).toBe(0);
    expect(d.labels[5]).toBe(2);
    const s = d.subset([10, 7]);
    expect(Array.from(s.tokens(0))).toEqual([10, 11, 12]);
    expect(Array.from(s.lines!)).toEqual([11, 8]);
    expect(() => new EncodedDataset(new Int32Array(2), Int32Array.of(0, 3), Int32Array.of(0))).toThrow(RangeError);
  });

  it('reads a small file once with the same result as the two streaming passes (formats, options, a pruning fallback)', async () => {
    const cases: Array<[string, Parameters<typeof loadTrainingData>[1]]> = [
      ['trec-sample.txt', { read: { encoding: 'latin1' }, tokenizer: new Tokenizer({ lowercase: false }) }],
      ['mr-sample.txt', { read: { encoding: 'latin1' }, tokenizer: new Tokenizer({ mode: 'kim' }), vocab: { minCount: 2 } }],
      ['sst2-sample.txt', { tokenizer: new Tokenizer({ maxTokens: 7 }), vocab: { maxSize: 40, pad: '[PAD]', unk: '[UNK]' } }],
      ['sample.csv', { read: { format: 'csv' } }],
      ['sample.jsonl', { read: { format: 'jsonl' } }],
      // Pruned counts: the one-pass ids would be stale, so it must fall back.
      ['sst2-sample.txt', { vocab: { maxEntries: 50 } }],
      ['sst2-sample.txt', { baseVocab: Vocabulary.fromTokens(['<pad>', '<unk>', 'the', 'film', 'zzz']), extendVocab: true }],
    ];
    for (const [name, options] of cases) {
      const file = join(fixtures, name);
      // Two-pass reference, as loadTrainingData did for every file.
      const scan = await scanTrainingData(file, options);
      let vocab = scan.vocab;
      let added = 0;
      if (options?.baseVocab) {
        vocab = Vocabulary.fromTokens(options.baseVocab.toArray());
        added = vocab.extend(scan.vocab.toArray().filter((_, id) => id !== scan.vocab.padId && id !== scan.vocab.unkId));
      }
      const want = await encodeFile(file, { ...options, vocab, labels: scan.labels });
      const base = options?.baseVocab ? { ...options, baseVocab: Vocabulary.fromTokens(options.baseVocab.toArray()) } : options;
      const got = await loadTrainingData(file, base);
      expect(got.vocab.toArray(), name).toEqual(vocab.toArray());
      expect(got.labels.names, name).toEqual(scan.labels.names);
      expect(got.addedTokens, name).toBe(added);
      expect(Array.from(got.dataset.ids), name).toEqual(Array.from(want.dataset.ids));
      expect(Array.from(got.dataset.offsets), name).toEqual(Array.from(want.dataset.offsets));
      expect(Array.from(got.dataset.labels), name).toEqual(Array.from(want.dataset.labels));
      expect(Array.from(got.dataset.lines!), name).toEqual(Array.from(want.dataset.lines!));
      expect(got.summary, name).toEqual(want.summary);
    }
  });

  it('loads training data in two passes and encodes dev data with its maps', async () => {
    const tokenizer = new Tokenizer();
    const { dataset, vocab, labels, summary } = await loadTrainingData(join(fixtures, 'trec-sample.txt'), { tokenizer, read: { encoding: 'latin1' } });
    expect(dataset.size).toBe(100);
    expect(labels.names).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(summary.examples).toBe(100);
    // Line 2: "1 What films featured the character Popeye Doyle ?"
    expect(Array.from(dataset.tokens(1)).map((id) => vocab.tokenOf(id))).toEqual(['what', 'films', 'featured', 'the', 'character', 'popeye', 'doyle', '?']);
    expect(dataset.labels[1]).toBe(1);

    const dev = tmp.file('dev.txt', '5 what films ?\n3 zebra crossing\n7 out of range\n');
    const err = await rejection(encodeFile(dev, { vocab, labels, tokenizer }));
    expect(err).toBeInstanceOf(DataLabelError);
    expect(err.message).toMatch(/dev\.txt:3: label '7' is out of range/);
    const { dataset: d2, summary: s2 } = await encodeFile(dev, { vocab, labels, tokenizer, read: { onUnknownLabel: 'skip' } });
    expect(d2.size).toBe(2);
    expect(s2.skipped.label).toBe(1);
    expect(Array.from(d2.labels)).toEqual([5, 3]);
    expect(d2.tokens(1)[0]).toBe(vocab.unkId);
  });

  it('extends a pretrained vocabulary and keeps a model label map', async () => {
    const base = Vocabulary.fromTokens(['<pad>', '<unk>', 'what', 'is']);
    const f = tmp.file('ft.txt', 'b what is new\na is it new\n');
    const modelLabels = LabelMap.fromNames(['b', 'a']);
    const r = await loadTrainingData(f, { baseVocab: base, extendVocab: true, labels: modelLabels });
    expect(r.addedTokens).toBe(2);
    expect(r.vocab.toArray()).toEqual(['<pad>', '<unk>', 'what', 'is', 'new', 'it']);
    expect(Array.from(r.dataset.labels)).toEqual([0, 1]);
    const other = tmp.file('ft2.txt', 'b x\nc y\n');
    expect((await rejection(loadTrainingData(other, { labels: modelLabels }))).message).toMatch(/ft2\.txt:2: unknown label 'c'/);
  });

  it('a single training class is an error', async () => {
    const f = tmp.file('one.txt', 'pos a\npos b\n');
    const err = await rejection(loadTrainingData(f));
    expect(err.code).toBe('ERR_FINETUNE_DATA_LABEL');
    expect(err.message).toMatch(/single class/);
  });
});

function labelsOf(counts: number[], rng = new Rng(99)): Int32Array {
  const l: number[] = [];
  counts.forEach((c, k) => {
    for (let i = 0; i < c; i++) l.push(k);
  });
  return Int32Array.from(rng.shuffle(l));
}

describe('splits', () => {
  it('stratified split keeps class proportions, covers everything once, and is deterministic', () => {
    const labels = labelsOf([500, 300, 200]);
    const [train, dev, test] = stratifiedSplit(labels, [0.8, 0.1, 0.1], 3);
    expect(train.length + dev.length + test.length).toBe(1000);
    const all = new Set([...train, ...dev, ...test]);
    expect(all.size).toBe(1000);
    const count = (idx: Int32Array, k: number) => idx.filter((i) => labels[i] === k).length;
    expect([count(dev, 0), count(dev, 1), count(dev, 2)]).toEqual([50, 30, 20]);
    expect([count(train, 0), count(train, 1), count(train, 2)]).toEqual([400, 240, 160]);
    const again = stratifiedSplit(labels, [0.8, 0.1, 0.1], 3);
    expect(Array.from(again[1])).toEqual(Array.from(dev));
    expect(Array.from(stratifiedSplit(labels, [0.8, 0.1, 0.1], 4)[1])).not.toEqual(Array.from(dev));
    const odd = stratifiedSplit(labelsOf([7, 3]), [1, 1]);
    expect(odd[0].length + odd[1].length).toBe(10);
  });

  it('k-fold puts every example in exactly one test fold, stratified', () => {
    const labels = labelsOf([53, 31, 16]);
    const folds = kFold(labels, 10, 5);
    expect(folds).toHaveLength(10);
    const seen = new Int32Array(labels.length);
    for (const { train, test } of folds) {
      for (const i of test) seen[i]++;
      expect(train.length + test.length).toBe(100);
      expect(new Set([...train, ...test]).size).toBe(100);
      expect(test.length).toBeGreaterThanOrEqual(9);
      expect(test.length).toBeLessThanOrEqual(11);
      const c0 = test.filter((i) => labels[i] === 0).length;
      expect(c0).toBeGreaterThanOrEqual(5);
      expect(c0).toBeLessThanOrEqual(6);
    }
    expect(seen.every((v) => v === 1)).toBe(true);
    expect(kFold(labels, 10, 5).map((f) => Array.from(f.test))).toEqual(folds.map((f) => Array.from(f.test)));
    expect(() => kFold(labels, 1)).toThrow(RangeError);
  });
});
