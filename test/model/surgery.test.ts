import { describe, expect, it } from 'vitest';

import { inferShapes, textCNN } from '../../src/model/graph.js';
import { initParams } from '../../src/model/init.js';
import { compileModel } from '../../src/model/program.js';
import { extendEmbedding, replaceHead, setActivation, setDropout } from '../../src/model/surgery.js';

const graph = textCNN({ vocabSize: 30, classes: 2, embedDim: 6, widths: [2, 3], maps: 4 });
const params = initParams(graph, 1);

describe('model surgery for a new task', () => {
  it('a new head for 5 classes keeps the body and initialises the head as PyTorch would', () => {
    const m = replaceHead(graph, params, { classes: 5, hidden: [7] }, 3);
    expect(inferShapes(m.graph).get('classifier')).toEqual({ kind: 'vector', channels: 5 });
    expect(Array.from(m.params.get('conv0.weight')!)).toEqual(Array.from(params.get('conv0.weight')!));
    expect(Array.from(m.params.get('embedding.weight')!)).toEqual(Array.from(params.get('embedding.weight')!));
    const w = m.params.get('hidden0.weight')!; // U(-1/sqrt(8), 1/sqrt(8)), fan-in 8
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(m.params.get('classifier.weight')!.length).toBe(5 * 7);
    // It compiles and runs.
    const model = compileModel(m.graph, { maxBatch: 2, maxLength: 5, params: m.params });
    model.dispose();
  });

  it('changes the activation and dropout without touching weights', () => {
    const a = setActivation(graph, params, 'gelu');
    expect(a.graph.layers.filter((l) => l.type === 'activation').map((l) => (l as { kind: string }).kind)).toEqual(['gelu', 'gelu']);
    const d = setDropout(a.graph, a.params, 0.2);
    expect(d.graph.layers.find((l) => l.type === 'dropout')).toMatchObject({ p: 0.2 });
    expect(Array.from(d.params.get('classifier.bias')!)).toEqual(Array.from(params.get('classifier.bias')!));
  });

  it('grows the embedding: old rows kept, new rows drawn from N(0, 1)', () => {
    const m = extendEmbedding(graph, params, 1030, 4);
    const w = m.params.get('embedding.weight')!;
    expect(Array.from(w.subarray(0, 30 * 6))).toEqual(Array.from(params.get('embedding.weight')!));
    const fresh = w.subarray(30 * 6);
    const mean = fresh.reduce((s, v) => s + v, 0) / fresh.length;
    const sd = Math.sqrt(fresh.reduce((s, v) => s + (v - mean) ** 2, 0) / fresh.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
    expect(() => extendEmbedding(graph, params, 10, 1)).toThrow(/cannot shrink/);
  });
});

describe('embedding initialisation', () => {
  it("normal is nn.Embedding's N(0, 1); uniform:A draws U(-A, A) as Kim (2014); the pad row is zero", async () => {
    const { initParams, parseEmbeddingInit } = await import('../../src/model/init.js');
    const g = textCNN({ vocabSize: 2000, classes: 2, embedDim: 10, widths: [2], maps: 2 });
    const u = initParams(g, 1, parseEmbeddingInit('uniform:0.25')).get('embedding.weight')!;
    expect(Math.max(...u.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...u.map(Math.abs))).toBeGreaterThan(0.24);
    expect(u.subarray(0, 10).every((v) => v === 0)).toBe(true);
    const n = initParams(g, 1, parseEmbeddingInit('normal')).get('embedding.weight')!;
    const sd = Math.sqrt(n.reduce((s, v) => s + v * v, 0) / (n.length - 10));
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
    expect(() => parseEmbeddingInit('uniform:-1')).toThrow(/uniform:A/);
  });
});

describe('dropout for a model exported without it', () => {
  it('inserts dropout before each linear layer, named as textCNN() names them', () => {
    const bare = textCNN({ vocabSize: 30, classes: 2, embedDim: 6, widths: [2], maps: 4, hidden: [5], dropout: 0 });
    const m = setDropout(bare, initParams(bare, 1), 0.3);
    expect(m.graph.layers.filter((l) => l.type === 'dropout').map((l) => [l.name, (l as { p: number }).p])).toEqual([['hidden0_dropout', 0.3], ['dropout', 0.3]]);
    expect(m.graph).toEqual(textCNN({ vocabSize: 30, classes: 2, embedDim: 6, widths: [2], maps: 4, hidden: [5], dropout: 0.3 }));
  });
});
