import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';

import { GraphError, inferShapes, textCNN, type ModelGraph } from '../../src/model/graph.js';
import { compileModel, type Batch } from '../../src/model/program.js';
import { expectTensorClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import fixture from '../fixtures/torch/textcnn_parity.json' with { type: 'json' };
import { torchConvWeight } from '../helpers/torch.js';

type Tensor = { shape: number[]; data: number[] };
const { vocab, dim, widths, maps, classes } = fixture.config;
const graph = textCNN({ vocabSize: vocab, classes, embedDim: dim, widths, maps, dropout: 0 });

function torchParams(t: Record<string, Tensor>): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  m.set('embedding.weight', Float32Array.from(t['embedding.weight'].data));
  widths.forEach((w, i) => {
    m.set(`conv${i}.weight`, torchConvWeight(t[`convs.${i}.weight`].data, maps, dim, w));
    m.set(`conv${i}.bias`, Float32Array.from(t[`convs.${i}.bias`].data));
  });
  m.set('classifier.weight', Float32Array.from(t['fc.weight'].data));
  m.set('classifier.bias', Float32Array.from(t['fc.bias'].data));
  return m;
}

const batch: Batch = {
  ids: Int32Array.from(fixture.ids.flat()),
  lengths: Int32Array.from(fixture.lengths),
  labels: Int32Array.from(fixture.labels),
  batch: fixture.ids.length,
  length: fixture.ids[0].length,
};
const initial = torchParams(fixture.params as Record<string, Tensor>);

describe('compiled program matches PyTorch', () => {
  it('evaluate: logits and loss in the PyTorch-compatible padding mode', async () => {
    const model = compileModel(graph, { maxBatch: 8, maxLength: 16, params: initial, padding: 'batch' });
    const r = await model.evaluate(batch);
    expectTensorClose(r.logits, fixture.logits.data, 1e-5, 'logits');
    expect(Math.abs(r.loss - fixture.loss) / fixture.loss).toBeLessThan(1e-5);
    model.dispose();
  });

  for (const [name, key, optimizer] of [
    ['Adam', 'adam', 'adam'],
    ['AdamW', 'adamw', 'adamw'],
    ['SGD Nesterov', 'sgdNesterov', 'sgd'],
  ] as const) {
    it(`${name}: 3 training steps give PyTorch's parameters`, async () => {
      const f = (fixture as unknown as Record<string, { lr: number; weightDecay: number; momentum?: number; nesterov?: boolean; losses: number[]; params: Record<string, Tensor> }>)[key];
      const model = compileModel(graph, { maxBatch: 8, maxLength: 16, params: initial, padding: 'batch' });
      for (let s = 0; s < 3; s++) {
        const r = await model.trainStep(batch, { optimizer, lr: f.lr, weightDecay: f.weightDecay, momentum: f.momentum, nesterov: f.nesterov });
        expect(r.skipped).toBe(false);
        expect(Math.abs(r.loss - f.losses[s]) / f.losses[s]).toBeLessThan(1e-5);
      }
      const want = torchParams(f.params);
      for (const [n, values] of model.params()) expectTensorClose(values, want.get(n)!, 1e-5, n);
      model.dispose();
    });
  }
});

describe('per-row lengths', () => {
  it('a call without lengths after one with lengths pools every position (reused batch storage keeps no stale lengths)', async () => {
    const model = compileModel(graph, { maxBatch: 8, maxLength: 16, params: initial });
    const fresh = compileModel(graph, { maxBatch: 8, maxLength: 16, params: initial });
    const noLengths = { ...batch, lengths: null };
    await model.predict(batch);
    await model.trainStep(batch, { lr: 0 });
    expect(Array.from(await model.predict(noLengths))).toEqual(Array.from(await fresh.predict(noLengths)));
    expect(Array.from(await model.predict(noLengths))).not.toEqual(Array.from(await model.predict(batch)));
    model.dispose();
    fresh.dispose();
  });

  it("a text's logits equal its logits alone, bit for bit, whatever its batch", async () => {
    const model = compileModel(graph, { maxBatch: 8, maxLength: 16, params: initial });
    const together = await model.predict(batch);
    expectTensorClose(together, fixture.logitsSingle.data, 1e-5, 'single-text references');
    for (let r = 0; r < batch.batch; r++) {
      const len = Math.max(fixture.lengths[r], 4);
      const alone = await model.predict({ ids: batch.ids.slice(r * batch.length, r * batch.length + len), lengths: Int32Array.of(fixture.lengths[r]), batch: 1, length: len });
      expect(Array.from(alone)).toEqual(Array.from(together.subarray(r * classes, (r + 1) * classes)));
    }
    model.dispose();
  });
});

describe("Kim (2014)'s padding: the widest filter's width-1 zeros around every text, for every filter", () => {
  it("matches PyTorch's Conv1d(padding=3): logits, loss and 3 Adam steps (batch mode); each text alone (per-row mode)", async () => {
    const { default: f } = await import('../fixtures/torch/kim_padding.json', { with: { type: 'json' } });
    const kim = textCNN({ vocabSize: vocab, classes, embedDim: dim, widths, maps, dropout: 0, padding: 'kim' });
    expect(kim.layers.filter((l) => l.type === 'conv1d').map((l) => (l as { padding: unknown }).padding)).toEqual([f.padding, f.padding, f.padding]);
    const model = compileModel(kim, { maxBatch: 8, maxLength: 16, params: initial, padding: 'batch' });
    const r = await model.evaluate(batch);
    expectTensorClose(r.logits, f.logits.data, 1e-5, 'logits');
    expect(Math.abs(r.loss - f.loss) / f.loss).toBeLessThan(1e-5);
    for (let s = 0; s < 3; s++) {
      const step = await model.trainStep(batch, { lr: f.lr });
      expect(Math.abs(step.loss - f.losses[s]) / f.losses[s]).toBeLessThan(1e-5);
    }
    const want = torchParams(f.params as Record<string, Tensor>);
    for (const [n, values] of model.params()) expectTensorClose(values, want.get(n)!, 1e-5, n);
    model.dispose();

    // Per-row: a text's logits are those of the text alone, even one token long.
    const perRow = compileModel(kim, { maxBatch: 8, maxLength: 16, params: initial });
    const together = await perRow.predict(batch);
    expectTensorClose(together, f.singles.flat(), 1e-5, 'single-text references');
    for (let r = 0; r < batch.batch; r++) {
      const len = fixture.lengths[r];
      const alone = await perRow.predict({ ids: batch.ids.slice(r * batch.length, r * batch.length + len), lengths: Int32Array.of(len), batch: 1, length: len });
      expect(Array.from(alone)).toEqual(Array.from(together.subarray(r * classes, (r + 1) * classes)));
    }
    const one = await perRow.predict({ ids: Int32Array.of(7), lengths: Int32Array.of(1), batch: 1, length: 1 });
    expect(one.every(Number.isFinite)).toBe(true);
    perRow.dispose();
  });

  it('refuses padding a convolution whose input is not the embedding, and padding out of range, naming the layer', () => {
    const stacked: ModelGraph = {
      format: 'finetune-graph',
      version: 1,
      layers: [
        { type: 'embedding', name: 'embedding', vocabSize: 10, dim: 4, paddingIdx: 0 },
        { type: 'conv1d', name: 'c1', input: 'embedding', outChannels: 3, width: 2, padding: 'valid' },
        { type: 'conv1d', name: 'c2', input: 'c1', outChannels: 3, width: 3, padding: 'same' },
        { type: 'maxOverTime', name: 'pool', input: 'c2' },
        { type: 'linear', name: 'out', input: 'pool', outFeatures: 2 },
      ],
    };
    expect(() => compileModel(stacked, { maxBatch: 2, maxLength: 8 })).toThrow(/padded convolution must read the embedding/);
    expect(() => textCNN({ vocabSize: 10, classes: 2, embedDim: 4, widths: [2], maps: 2, padding: 2000 })).toThrow(/conv0.*padding must be 'valid', 'same' or an integer from 0 to 1024, got 2000/);
    expect(() => textCNN({ vocabSize: 10, classes: 2, widths: [2], padding: -1 })).toThrow(GraphError);
  });
});

function randomBatch(rng: TestRandom, B: number, L: number, vocabSize: number, nClasses: number): Batch {
  const lengths = Int32Array.from({ length: B }, () => rng.int(1, L));
  const ids = new Int32Array(B * L);
  lengths.forEach((len, b) => { for (let t = 0; t < len; t++) ids[b * L + t] = rng.int(1, vocabSize - 1); });
  return { ids, lengths, labels: rng.ints(B, 0, nClasses - 1), batch: B, length: L };
}

describe('training behaviour', () => {
  it('frozen layers stay bitwise unchanged while the rest learns', async () => {
    const g = textCNN({ vocabSize: 30, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0.3 });
    const model = compileModel(g, { maxBatch: 6, maxLength: 10, seed: 3, freeze: ['embedding', 'conv0'] });
    const before = new Map([...model.params()].map(([n, v]) => [n, v.slice()]));
    const rng = new TestRandom(9);
    for (let s = 0; s < 5; s++) await model.trainStep(randomBatch(rng, 6, 10, 30, 2), { lr: 0.01 });
    for (const [n, v] of model.params()) {
      const same = Array.from(v).every((x, i) => Object.is(x, before.get(n)![i]));
      expect(same, n).toBe(n.startsWith('embedding') || n.startsWith('conv0.'));
    }
    model.dispose();
  });

  it('per-group learning rates: a group with lr 0 does not move', async () => {
    const g = textCNN({ vocabSize: 30, classes: 2, embedDim: 8, widths: [2], maps: 4, dropout: 0 });
    const model = compileModel(g, { maxBatch: 4, maxLength: 8, seed: 4, groups: { slow: ['embedding'] } });
    const emb = model.params().get('embedding.weight')!.slice();
    const fc = model.params().get('classifier.weight')!.slice();
    await model.trainStep(randomBatch(new TestRandom(2), 4, 8, 30, 2), { lr: 0.01, groups: { slow: { lr: 0 } } });
    expect(Array.from(model.params().get('embedding.weight')!)).toEqual(Array.from(emb));
    expect(Array.from(model.params().get('classifier.weight')!)).not.toEqual(Array.from(fc));
    model.dispose();
  });

  it('the same seed gives the same losses; dropout is active in training only', async () => {
    const g = textCNN({ vocabSize: 40, classes: 3, embedDim: 8, widths: [2, 3], maps: 5, dropout: 0.5 });
    const run = async () => {
      const model = compileModel(g, { maxBatch: 8, maxLength: 12, seed: 11 });
      const rng = new TestRandom(5);
      const losses: number[] = [];
      for (let s = 0; s < 4; s++) losses.push((await model.trainStep(randomBatch(rng, 8, 12, 40, 3), { lr: 0.01 })).loss);
      const b = randomBatch(rng, 8, 12, 40, 3);
      const e1 = await model.evaluate(b), e2 = await model.evaluate(b);
      expect(e1.loss).toBe(e2.loss); // no dropout at evaluation
      model.dispose();
      return losses;
    };
    expect(await run()).toEqual(await run());
  });

  it('a non-finite loss skips the step and leaves every parameter bitwise unchanged', async () => {
    const g = textCNN({ vocabSize: 20, classes: 2, embedDim: 4, widths: [2], maps: 3, dropout: 0 });
    const model = compileModel(g, { maxBatch: 4, maxLength: 6, seed: 1 });
    model.params().get('embedding.weight')![4] = Infinity; // row 1 poisoned
    const before = new Map([...model.params()].map(([n, v]) => [n, v.slice()]));
    const b: Batch = { ids: Int32Array.from([1, 2, 3, 0, 0, 0]), lengths: Int32Array.of(3), labels: Int32Array.of(1), batch: 1, length: 6 };
    const r = await model.trainStep(b, { lr: 0.1 });
    expect(r.skipped).toBe(true);
    for (const [n, v] of model.params()) expect(Array.from(v).every((x, i) => Object.is(x, before.get(n)![i])), n).toBe(true);
    expect(model.getState().steps).toBe(0);
    model.dispose();
  });

  it('learning rate 0 leaves weights unchanged', async () => {
    const g = textCNN({ vocabSize: 20, classes: 2, embedDim: 4, widths: [2], maps: 3, dropout: 0 });
    const model = compileModel(g, { maxBatch: 4, maxLength: 6, seed: 1 });
    const before = new Map([...model.params()].map(([n, v]) => [n, v.slice()]));
    await model.trainStep(randomBatch(new TestRandom(1), 4, 6, 20, 2), { lr: 0, optimizer: 'adamw', weightDecay: 0.1 });
    for (const [n, v] of model.params()) expect(Array.from(v), n).toEqual(Array.from(before.get(n)!));
    model.dispose();
  });
});

describe('the event loop and the object lifecycle', () => {
  it('training runs off the event loop (p99 delay under 50 ms)', async () => {
    const g = textCNN({ vocabSize: 2000, classes: 2, embedDim: 64, widths: [3, 4, 5], maps: 64 });
    const model = compileModel(g, { maxBatch: 50, maxLength: 40, seed: 2 });
    const rng = new TestRandom(3);
    const b = randomBatch(rng, 50, 40, 2000, 2);
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const ticker = setInterval(() => {}, 5);
    const started = Date.now();
    let steps = 0;
    while (Date.now() - started < 600) {
      await model.trainStep(b, { lr: 1e-3 });
      steps++;
    }
    clearInterval(ticker);
    h.disable();
    expect(steps).toBeGreaterThan(0);
    expect(h.percentile(99) / 1e6).toBeLessThan(50);
    model.dispose();
  });

  it('a second call while one runs is refused with ERR_FINETUNE_BUSY; dispose frees, twice is a no-op', async () => {
    const g = textCNN({ vocabSize: 50, classes: 2, embedDim: 8, widths: [2], maps: 4 });
    const model = compileModel(g, { maxBatch: 4, maxLength: 8 });
    const b = randomBatch(new TestRandom(4), 4, 8, 50, 2);
    const first = model.trainStep(b, { lr: 0.01 });
    expect(() => model.predict(b)).toThrow(expect.objectContaining({ code: 'ERR_FINETUNE_BUSY' }));
    await first;
    const view = model.params().get('classifier.bias')!;
    const copy = Array.from(view);
    model.dispose();
    model.dispose();
    expect(Array.from(view)).toEqual(copy); // views outlive the program safely
    expect(() => model.predict(b)).toThrow(expect.objectContaining({ code: 'ERR_FINETUNE_DISPOSED' }));
  });

  it('bad batches are refused before any work, naming the problem', () => {
    const model = compileModel(textCNN({ vocabSize: 10, classes: 2, embedDim: 4, widths: [3], maps: 2 }), { maxBatch: 2, maxLength: 5 });
    const ok = { ids: new Int32Array(10), labels: new Int32Array(2), batch: 2, length: 5 };
    expect(() => model.trainStep({ ...ok, ids: Int32Array.from({ length: 10 }, (_, i) => i + 3) }, { lr: 1 })).toThrow(/ids\[7\] = 10 is outside the vocabulary/);
    expect(() => model.trainStep({ ...ok, labels: Int32Array.of(0, 2) }, { lr: 1 })).toThrow(/labels\[1\] = 2 is outside the classes/);
    expect(() => model.trainStep({ ...ok, batch: 3 }, { lr: 1 })).toThrow(RangeError);
    expect(() => model.trainStep({ ...ok, length: 2, ids: new Int32Array(4) }, { lr: 1 })).toThrow(/padded length 2 outside \[3, 5\]/);
    expect(() => model.trainStep(ok, { lr: NaN })).toThrow(/lr/);
    const state = model.getState();
    const badSteps = state.paramSteps.slice();
    badSteps[1] = -1;
    expect(() => model.setState({ ...state, paramSteps: badSteps })).toThrow(/paramSteps\[1\] must be a non-negative integer/);
    model.dispose();
  });
});

describe('graph checks', () => {
  it('names the layer and the mismatch', () => {
    const bad: ModelGraph = {
      format: 'finetune-graph',
      version: 1,
      layers: [
        { type: 'embedding', name: 'embedding', vocabSize: 10, dim: 4, paddingIdx: 0 },
        { type: 'linear', name: 'fc', input: 'embedding', outFeatures: 2 },
      ],
    };
    expect(() => inferShapes(bad)).toThrow(GraphError);
    expect(() => inferShapes(bad)).toThrow("layer 'fc' (linear): expects a vector input but 'embedding' is a sequence [batch, length, 4]");
    expect(() => textCNN({ vocabSize: 10, classes: 2, activation: 'swish' as never })).toThrow(/unknown activation 'swish'/);
    expect(() => compileModel(textCNN({ vocabSize: 10, classes: 2 }), { maxBatch: 1, maxLength: 5, freeze: ['conv9'] })).toThrow(/cannot freeze: 'conv9' matches no layer/);
  });

  it('a deeper head and another activation are one-line changes', () => {
    const g = textCNN({ vocabSize: 100, classes: 5, hidden: [64, 32], activation: 'gelu' });
    const shapes = inferShapes(g);
    expect(shapes.get('hidden0')).toEqual({ kind: 'vector', channels: 64 });
    expect(shapes.get('classifier')).toEqual({ kind: 'vector', channels: 5 });
    expect(g.layers.filter((l) => l.type === 'activation').every((l) => l.type === 'activation' && l.kind === 'gelu')).toBe(true);
  });
});

describe("Kim (2014)'s optimisation", () => {
  it("Adadelta with the max-norm constraint: 3 training steps give PyTorch's parameters", async () => {
    const { default: f } = await import('../fixtures/torch/adadelta.json', { with: { type: 'json' } });
    const model = compileModel(graph, { maxBatch: 8, maxLength: 16, params: initial, padding: 'batch' });
    for (let s = 0; s < 3; s++) {
      const r = await model.trainStep(batch, { optimizer: 'adadelta', lr: f.lr, rho: f.rho, eps: f.eps, weightDecay: f.weightDecay, maxNorm: f.maxNorm });
      expect(Math.abs(r.loss - f.losses[s]) / f.losses[s]).toBeLessThan(1e-5);
    }
    const want = torchParams(f.params as Record<string, Tensor>);
    for (const [n, values] of model.params()) expectTensorClose(values, want.get(n)!, 1e-5, n);
    // The constraint acted on some rows and not others.
    expect(f.rowNormsBeforeConstraint.flat().some((x) => x > f.maxNorm) && f.rowNormsBeforeConstraint.flat().some((x) => x <= f.maxNorm)).toBe(true);
    const w = model.params().get('classifier.weight')!;
    for (let r = 0; r < classes; r++) expect(Math.hypot(...w.subarray(r * 24, (r + 1) * 24))).toBeLessThanOrEqual(f.maxNorm * (1 + 1e-6));
    model.dispose();
  });

  it('max-norm leaves frozen linear layers alone', async () => {
    const model = compileModel(graph, { maxBatch: 8, maxLength: 16, params: initial, freeze: ['classifier'] });
    const before = model.params().get('classifier.weight')!.slice();
    await model.trainStep(batch, { lr: 0.01, maxNorm: 1e-3 });
    expect(Array.from(model.params().get('classifier.weight')!)).toEqual(Array.from(before));
    expect(() => model.trainStep(batch, { lr: 1, optimizer: 'rmsprop' as never })).toThrow(/Expected optimizer adam, adamw, sgd or adadelta but received rmsprop/);
    model.dispose();
  });
});

describe('sparse (lazy) embedding updates', () => {
  it('follow torch.optim.SparseAdam for the embedding while Adam updates the rest', async () => {
    const { default: f } = await import('../fixtures/torch/sparse_adam.json', { with: { type: 'json' } });
    const model = compileModel(graph, { maxBatch: 8, maxLength: 16, params: initial, padding: 'batch' });
    const untouched = Array.from({ length: vocab }, (_, id) => id).filter((id) => !fixture.ids.flat().includes(id));
    const before = model.params().get('embedding.weight')!.slice();
    for (let s = 0; s < 3; s++) {
      const r = await model.trainStep(batch, { lr: f.lr, sparseEmbedding: true });
      expect(Math.abs(r.loss - f.losses[s]) / f.losses[s]).toBeLessThan(1e-5);
    }
    const want = torchParams(f.params as Record<string, Tensor>);
    for (const [n, values] of model.params()) expectTensorClose(values, want.get(n)!, 1e-5, n);
    const emb = model.params().get('embedding.weight')!;
    for (const id of untouched) expect(Array.from(emb.subarray(id * dim, (id + 1) * dim))).toEqual(Array.from(before.subarray(id * dim, (id + 1) * dim)));
    expect(() => model.trainStep(batch, { lr: 0.01, sparseEmbedding: true, optimizer: 'sgd' })).toThrow(/SparseAdam: use optimizer adam/);
    expect(() => model.trainStep(batch, { lr: 0.01, sparseEmbedding: true, weightDecay: 0.1 })).toThrow(/no weight decay/);
    model.dispose();
  });
});
