import { describe, expect, it } from 'vitest';
import { DataLoader, EncodedDatasetBuilder, Rng, augmentIds, type Batch, type EncodedDataset } from '../../src/data/index.js';

function dataset(n: number, seed = 1): EncodedDataset {
  const rng = new Rng(seed);
  const b = new EncodedDatasetBuilder();
  for (let i = 0; i < n; i++) {
    const len = rng.nextInt(30);
    b.add(Array.from({ length: len }, () => 2 + rng.nextInt(100)), i % 3);
  }
  return b.build();
}

const plain = (b: Batch) => ({ ids: Array.from(b.ids), lengths: Array.from(b.lengths), labels: Array.from(b.labels), batch: b.batch, length: b.length });

describe('DataLoader', () => {
  it('pads to the longest row within [minLength, maxLength] and reports lengths', () => {
    const b = new EncodedDatasetBuilder();
    b.add([5, 6, 7], 0);
    b.add([], 1);
    b.add([8], 0);
    const d = b.build();
    const loader = new DataLoader(d, { batchSize: 3, shuffle: false, minLength: 5, padId: 0 });
    const [batch] = [...loader];
    expect(batch.length).toBe(5);
    expect(Array.from(batch.ids)).toEqual([5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0]);
    // Each row's length as if alone: max(tokens, minLength).
    expect(Array.from(batch.lengths)).toEqual([5, 5, 5]);
    expect(Array.from(batch.labels)).toEqual([0, 1, 0]);
    const long = new EncodedDatasetBuilder();
    long.add(Array.from({ length: 20 }, (_, i) => i + 2), 0);
    long.add([9, 9, 9, 9, 9, 9, 9], 1);
    const l2 = new DataLoader(long.build(), { batchSize: 2, shuffle: false, minLength: 3, maxLength: 8, padId: 1 });
    const [b2] = [...l2];
    expect(b2.length).toBe(8);
    expect(Array.from(b2.ids.subarray(0, 8))).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(b2.ids.subarray(8))).toEqual([9, 9, 9, 9, 9, 9, 9, 1]);
    expect(Array.from(b2.lengths)).toEqual([8, 7]);
  });

  it('covers each example once per epoch, shuffles by seed, honours dropLast', () => {
    const d = dataset(103);
    const loader = new DataLoader(d, { batchSize: 10, seed: 4 });
    expect(loader.batchesPerEpoch).toBe(11);
    const e0 = [...loader].flatMap((b) => Array.from(b.indices));
    const e1 = [...loader].flatMap((b) => Array.from(b.indices));
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
    expect(e1).not.toEqual(e0);
    expect(loader.epoch).toBe(2);
    const again = new DataLoader(d, { batchSize: 10, seed: 4 });
    expect([...again].flatMap((b) => Array.from(b.indices))).toEqual(e0);
    const dl = new DataLoader(d, { batchSize: 10, seed: 4, dropLast: true });
    const batches = [...dl];
    expect(batches).toHaveLength(10);
    expect(batches.every((b) => b.batch === 10)).toBe(true);
  });

  it('bucketing groups similar lengths and cuts padding', () => {
    const d = dataset(1000);
    const pad = (l: DataLoader) => [...l].reduce((s, b) => s + b.batch * b.length, 0);
    const flat = new DataLoader(d, { batchSize: 20, seed: 1 });
    const bucketed = new DataLoader(d, { batchSize: 20, seed: 1, bucket: 10 });
    const got = [...bucketed];
    expect(got.flatMap((b) => Array.from(b.indices)).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(pad(new DataLoader(d, { batchSize: 20, seed: 1, bucket: 10 }))).toBeLessThan(pad(flat) * 0.75);
  });

  it('save/restore resumes to identical batches, at an epoch start and mid-epoch, with augmentation', () => {
    const d = dataset(237);
    const opts = { batchSize: 16, seed: 11, bucket: 3, minLength: 5, maxLength: 25, augment: { deleteProb: 0.1, swapProb: 0.1, insertProb: 0.05, unkProb: 0.1 } };
    const ref = new DataLoader(d, opts);
    const all: Batch[] = [];
    for (let e = 0; e < 3; e++) all.push(...ref);
    const perEpoch = ref.batchesPerEpoch;
    for (const cut of [0, 5, perEpoch, perEpoch + 7, 2 * perEpoch + perEpoch - 1]) {
      const a = new DataLoader(d, opts);
      let taken = 0;
      while (taken < cut) if (a.next() !== null) taken++;
      const saved = a.state();
      const b = new DataLoader(d, opts);
      b.restore(JSON.parse(JSON.stringify(saved)));
      const rest: Batch[] = [];
      while (rest.length < all.length - cut) {
        const x = b.next();
        if (x !== null) rest.push(x);
      }
      expect(rest.map(plain), `cut at ${cut}`).toEqual(all.slice(cut).map(plain));
    }
    const other = new DataLoader(dataset(10), { batchSize: 16 });
    expect(() => other.restore(ref.state())).toThrow(/loader state is for 237 examples/);
  });

  it('augmentation is off by default, seeded, and changes batches only when on', () => {
    const d = dataset(50);
    const base = [...new DataLoader(d, { batchSize: 50, shuffle: false })][0];
    expect(Array.from(base.ids.subarray(0, d.length(0)))).toEqual(Array.from(d.tokens(0)));
    const aug = { unkProb: 0.3, deleteProb: 0.2 };
    const x = [...new DataLoader(d, { batchSize: 50, shuffle: false, augment: aug, seed: 2 })][0];
    const y = [...new DataLoader(d, { batchSize: 50, shuffle: false, augment: aug, seed: 2 })][0];
    const z = [...new DataLoader(d, { batchSize: 50, shuffle: false, augment: aug, seed: 3 })][0];
    expect(plain(x)).toEqual(plain(y));
    expect(plain(x)).not.toEqual(plain(z));
    expect(plain(x)).not.toEqual(plain(base));
    // Order does not depend on augmentation.
    expect(Array.from(x.indices)).toEqual(Array.from(base.indices));
  });

  it('augmentIds: each operation does what it says', () => {
    const ids = Int32Array.from({ length: 40 }, (_, i) => i + 10);
    const rng = new Rng(1);
    const del = augmentIds(ids, { deleteProb: 0.5 }, 1, rng);
    expect(del.length).toBeLessThan(40);
    expect(del.every((v, i) => i === 0 || v > del[i - 1])).toBe(true);
    const swapped = augmentIds(ids, { swapProb: 0.5 }, 1, rng);
    expect([...swapped].sort((a, b) => a - b)).toEqual(Array.from(ids));
    expect(swapped).not.toEqual(Array.from(ids));
    const ins = augmentIds(ids, { insertProb: 0.5 }, 1, rng);
    expect(ins.length).toBeGreaterThan(40);
    expect(ins.every((v) => v >= 10 && v < 50)).toBe(true);
    const unk = augmentIds(ids, { unkProb: 0.5 }, 1, rng);
    expect(unk.length).toBe(40);
    expect(unk.filter((v) => v === 1).length).toBeGreaterThan(5);
    expect(augmentIds([7], { deleteProb: 1 }, 1, rng)).toEqual([7]);
    expect(augmentIds([7, 8], { deleteProb: 1 }, 1, rng)).toHaveLength(1);
    expect(() => new DataLoader(dataset(3), { batchSize: 2, augment: { unkProb: 2 } })).toThrow(/unkProb/);
  });
});
