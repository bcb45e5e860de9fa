/**
 * Export: the saved ONNX file runs in onnxruntime-node with our logits (to
 * 1e-5 of the logits' scale) for ragged batches of any composition, and loads
 * back to identical weights, vocabulary, tokenizer and labels.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { Vocabulary } from '../../src/data/vocab.js';
import { textCNN, type TextCNNOptions } from '../../src/model/graph.js';
import { compileModel } from '../../src/model/program.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import { expectTensorClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';

const dir = mkdtempSync(join(tmpdir(), 'finetune-export-'));
const vocab = Vocabulary.fromTokens(['<pad>', '<unk>', ...Array.from({ length: 58 }, (_, i) => `w${i}`)]);
const tokenizer = { mode: 'whitespace' as const, lowercase: true, maxTokens: 0 };

const variants: Array<[string, Partial<TextCNNOptions>]> = [
  ['Kim: relu, max over time', {}],
  ['gelu, mean pooling, same padding', { activation: 'gelu', pool: 'mean', padding: 'same' }],
  ['tanh-gelu with a deeper head', { activation: 'geluTanh', hidden: [12, 7], hiddenActivation: 'leakyRelu', slope: 0.2 }],
  ['tanh, sigmoid head', { activation: 'tanh', hidden: [5], hiddenActivation: 'sigmoid' }],
  ["Kim's padding (3 zeros around every text for every filter)", { padding: 'kim' }],
  ["Kim's padding, mean pooling, sigmoid", { padding: 'kim', pool: 'mean', activation: 'sigmoid' }],
];

describe('ONNX export runs in onnxruntime-node with our logits', () => {
  for (const [name, change] of variants) {
    it(name, async () => {
      const graph = textCNN({ vocabSize: vocab.size, classes: 3, embedDim: 10, widths: [2, 3, 4], maps: 6, dropout: 0.5, ...change });
      const model = compileModel(graph, { maxBatch: 8, maxLength: 20, seed: 3 });
      // Train a little so the pad row and biases are not at their initial values.
      const rng = new TestRandom(7);
      const file = join(dir, `${name.replace(/\W+/g, '_')}.onnx`);
      await saveModel(file, { graph, params: model.params(), vocab, tokenizer, labels: ['a', 'b', 'c'] });
      const session = await ort.InferenceSession.create(file);
      for (const L of [1, 3, 6, 11]) {
        const B = 5;
        const lengths = Int32Array.from({ length: B }, (_, i) => (i === 0 ? 0 : rng.int(1, L))); // row 0: all padding
        const ids = new BigInt64Array(B * L);
        lengths.forEach((len, b) => { for (let t = 0; t < len; t++) ids[b * L + t] = BigInt(rng.int(1, vocab.size - 1)); });
        const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [B, L]) });
        const theirs = out.logits.data as Float32Array;
        const Lp = Math.max(L, model.minLength);
        const ours32 = new Int32Array(B * Lp);
        for (let b = 0; b < B; b++) for (let t = 0; t < L; t++) ours32[b * Lp + t] = Number(ids[b * L + t]);
        const ours = await model.predict({ ids: ours32, lengths, batch: B, length: Lp });
        expect(out.logits.dims).toEqual([B, 3]);
        expectTensorClose(theirs, ours, 1e-5, `${name}, batch length ${L}`);
      }
      await session.release();
      model.dispose();
    });
  }
});

describe('the model file', () => {
  const graph = textCNN({ vocabSize: vocab.size, classes: 2, embedDim: 8, widths: [3, 4], maps: 5 });

  it('loads back with identical weights, vocabulary, tokenizer and labels', async () => {
    const model = compileModel(graph, { maxBatch: 4, maxLength: 10, seed: 9 });
    const file = join(dir, 'roundtrip.onnx');
    await saveModel(file, { graph, params: model.params(), vocab, tokenizer: { ...tokenizer, mode: 'kim' }, labels: ['neg', 'pos'] });
    const back = await loadModel(file);
    expect(back.graph).toEqual(graph);
    expect(back.labels).toEqual(['neg', 'pos']);
    expect(back.tokenizer.mode).toBe('kim');
    expect(back.vocab.toArray()).toEqual(vocab.toArray());
    for (const [n, v] of model.params()) expect(Array.from(back.params.get(n)!), n).toEqual(Array.from(v));
    model.dispose();
  });

  it("keeps Kim's padding through save, load and a plain ONNX import", async () => {
    const kim = textCNN({ vocabSize: vocab.size, classes: 2, embedDim: 8, widths: [3, 4], maps: 5, padding: 'kim' });
    const model = compileModel(kim, { maxBatch: 4, maxLength: 10, seed: 9 });
    const file = join(dir, 'kim.onnx');
    await saveModel(file, { graph: kim, params: model.params(), vocab, tokenizer, labels: ['neg', 'pos'] });
    const back = await loadModel(file);
    expect(back.graph.layers.filter((l) => l.type === 'conv1d').map((l) => (l as { padding: unknown }).padding)).toEqual([3, 3]);
    const { importOnnxFile } = await import('../../src/onnx/import.js');
    const imported = await importOnnxFile(file);
    expect(imported.graph.layers.filter((l) => l.type === 'conv1d').map((l) => (l as { padding: unknown }).padding)).toEqual([3, 3]);
    model.dispose();
  });

  it('refuses a file whose SHA-256 differs before parsing it', async () => {
    const model = compileModel(graph, { maxBatch: 4, maxLength: 10 });
    const file = join(dir, 'digest.onnx');
    await saveModel(file, { graph, params: model.params(), vocab, tokenizer, labels: ['neg', 'pos'] });
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
    await expect(loadModel(file, { expectedSha256: digest })).resolves.toBeTruthy();
    await expect(loadModel(file, { expectedSha256: '0'.repeat(64) })).rejects.toThrow(/SHA-256 is [0-9a-f]{64}, not the expected 0{64}/);
    model.dispose();
  });

  it('never overwrites a good model with NaN weights', async () => {
    const model = compileModel(graph, { maxBatch: 4, maxLength: 10 });
    const file = join(dir, 'keep.onnx');
    await saveModel(file, { graph, params: model.params(), vocab, tokenizer, labels: ['neg', 'pos'] });
    const before = readFileSync(file);
    model.params().get('conv1.weight')![3] = NaN;
    await expect(saveModel(file, { graph, params: model.params(), vocab, tokenizer, labels: ['neg', 'pos'] })).rejects.toThrow(/conv1.weight holds a non-finite value/);
    expect(readFileSync(file).equals(before)).toBe(true);
    model.dispose();
  });

  it('names what is wrong with a file that is not ours', async () => {
    const file = join(dir, 'garbage.onnx');
    writeFileSync(file, Buffer.from('not an onnx file at all'));
    await expect(loadModel(file)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_FINETUNE_/) });
  });
});
