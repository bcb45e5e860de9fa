/**
 * Classifier: micro-batching that never changes a text's result, results to
 * the right caller, a failed batch rejecting only its callers, dispose, and
 * an event loop that keeps ticking while predictions run.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { beforeAll, describe, expect, it } from 'vitest';

import { Classifier, type BatchInfo } from '../../src/classifier.js';
import type { Batch, CompiledModel } from '../../src/model/program.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { mixedTexts, trainTinyModel } from './helpers.js';

let modelFile = '';
const texts = mixedTexts(120, 7);
let reference: Float32Array[] = [];

beforeAll(async () => {
  modelFile = (await trainTinyModel()).model;
  // Each text alone, one call at a time: what every batch composition must reproduce.
  const clf = await Classifier.load(modelFile, { maxBatch: 1 });
  reference = [];
  for (const t of texts) reference.push(await clf.logits([t]));
  clf.dispose();
});

function compiled(clf: Classifier): CompiledModel {
  return (clf as unknown as { model: CompiledModel }).model;
}

describe('Classifier', () => {
  it('loads labels, vocabulary and tokenizer from the file and predicts label, probabilities, logits and topK', async () => {
    const clf = await Classifier.load(modelFile);
    expect(clf.labels).toEqual(['neg', 'neutral', 'pos']);
    const [p, q] = await clf.predict(['w1 great w2 w3', 'w4 awful w5'], { topK: 2 });
    expect(p.label).toBe('pos');
    expect(q.label).toBe('neg');
    expect(Object.keys(p.probabilities)).toEqual(['neg', 'neutral', 'pos']);
    expect(Object.values(p.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(p.logits).toHaveLength(3);
    expect(p.top).toHaveLength(2);
    expect(p.top![0]).toEqual({ label: 'pos', probability: p.probabilities.pos });
    expect(p.top![0].probability).toBeGreaterThanOrEqual(p.top![1].probability);
    const top = await clf.topK(['w1 great'], 3);
    expect(top[0].map((t) => t.label)[0]).toBe('pos');
    expect(await clf.predict([])).toEqual([]);
    clf.dispose();
  });

  it('gathers concurrent calls into micro-batches whose results equal single-text predictions bit for bit', async () => {
    const clf = await Classifier.load(modelFile, { maxBatch: 16, maxWaitMs: 2 });
    const sizes: number[] = [];
    clf.onBatch((b) => sizes.push(b.size));
    // 60 concurrent calls of 1..5 texts each, in a scrambled order.
    const calls: number[][] = [];
    for (let i = 0, at = 0; at < texts.length; i++) {
      const n = 1 + ((i * 7) % 5);
      calls.push(Array.from({ length: Math.min(n, texts.length - at) }, (_, j) => at + j));
      at += n;
    }
    calls.reverse();
    const results = await Promise.all(calls.map((idx) => clf.logits(idx.map((i) => texts[i]))));
    results.forEach((logits, c) => {
      calls[c].forEach((t, j) => {
        expect(logits.subarray(j * 3, j * 3 + 3), `text ${t} in call ${c}`).toEqual(reference[t]);
      });
    });
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(16);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(texts.length);
    // A call larger than maxBatch is split over several batches and still comes back whole and in order.
    const all = await clf.logits(texts);
    texts.forEach((_, i) => expect(all.subarray(i * 3, i * 3 + 3)).toEqual(reference[i]));
    clf.dispose();
  });

  it('predicts a model held in memory (new Classifier(saved)) the same as one loaded from the file', async () => {
    const clf = new Classifier(await loadModel(modelFile), { maxBatch: 5, maxWaitMs: 0 });
    const got = await Promise.all(texts.slice(0, 20).map((t) => clf.logits([t])));
    got.forEach((g, i) => expect(g).toEqual(reference[i]));
    clf.dispose();
  });

  it('a failed batch rejects only the calls with texts in it', async () => {
    const clf = await Classifier.load(modelFile, { maxBatch: 4, maxWaitMs: 0 });
    const model = compiled(clf);
    const original = model.predict.bind(model);
    let n = 0;
    model.predict = (b: Batch) => (++n === 2 ? Promise.reject(new Error('injected failure')) : original(b));
    const infos: BatchInfo[] = [];
    clf.onBatch((i) => infos.push(i));
    const a = clf.logits(texts.slice(0, 4)); // batch 1 (full: sent at once)
    const b = clf.logits(texts.slice(4, 8)); // batch 2: fails
    const c = clf.logits(texts.slice(8, 12)); // batch 3
    const [ra, rb, rc] = await Promise.allSettled([a, b, c]);
    expect(ra.status).toBe('fulfilled');
    expect(rb).toMatchObject({ status: 'rejected', reason: { message: 'injected failure' } });
    expect(rc.status).toBe('fulfilled');
    expect((rc as PromiseFulfilledResult<Float32Array>).value.subarray(0, 3)).toEqual(reference[8]);
    expect(infos.map((i) => i.error !== undefined)).toEqual([false, true, false]);
    // The queue keeps working after the failure.
    expect(await clf.logits([texts[0]])).toEqual(reference[0]);
    clf.dispose();
  });

  it('dispose frees native memory at once, rejects queued and later calls, and is idempotent', async () => {
    const clf = await Classifier.load(modelFile, { maxBatch: 4, maxWaitMs: 0 });
    expect(clf.nativeBytes).toBeGreaterThan(0);
    const first = clf.logits(texts.slice(0, 4)); // running when dispose is called
    const queued = clf.logits(texts.slice(4, 8));
    const queuedError = queued.then(() => null, (e: unknown) => e);
    clf.dispose();
    expect(clf.isDisposed).toBe(true);
    expect(clf.nativeBytes).toBe(0);
    expect(await first).toHaveLength(12); // already running: finishes
    expect(await queuedError).toMatchObject({ code: 'ERR_FINETUNE_DISPOSED', message: expect.stringContaining('disposed') });
    await expect(clf.predict(['x'])).rejects.toMatchObject({ code: 'ERR_FINETUNE_DISPOSED' });
    expect(() => clf.dispose()).not.toThrow();
    // The native program went once the running batch ended.
    expect(compiled(clf)).toBeNull();
    const idle = await Classifier.load(modelFile);
    idle.dispose();
    expect(compiled(idle)).toBeNull();
  });

  it('refuses bad arguments with typed errors', async () => {
    const clf = await Classifier.load(modelFile);
    await expect(clf.predict('text' as unknown as string[])).rejects.toThrow(TypeError);
    await expect(clf.predict(['ok', 3 as unknown as string])).rejects.toThrow(/texts\[1\]/);
    await expect(clf.predict(['ok'], { topK: 4 })).rejects.toThrow(RangeError);
    expect(() => new Classifier(null as never, { maxBatch: 0 })).toThrow(RangeError);
    await expect(Classifier.load(modelFile, { maxWaitMs: -1 })).rejects.toThrow(RangeError);
    clf.dispose();
  });

  it('keeps the event loop responsive while predictions run', async () => {
    const clf = await Classifier.load(modelFile, { maxBatch: 64, maxWaitMs: 1 });
    const long = mixedTexts(64, 9).map((t) => `${t} ${t} ${t}`);
    const h = monitorEventLoopDelay({ resolution: 2 });
    h.enable();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    let done = 0;
    while (performance.now() - started < 600) {
      await Promise.all(Array.from({ length: 8 }, () => clf.predict(long)));
      done += 8 * long.length;
    }
    clearInterval(timer);
    h.disable();
    expect(done).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThan(20);
    expect(h.percentile(99) / 1e6).toBeLessThan(50);
    clf.dispose();
  });
});
