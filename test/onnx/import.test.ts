/**
 * ONNX import: models exported by PyTorch (the reference models of
 * ../shared/models, the tiny one copied into test/fixtures, and the tiny
 * variants of test/fixtures/onnx/torch, made by gen_import_fixtures.py) give
 * PyTorch's logits after import, alone (per-row padding) and as a padded
 * batch (PyTorch-compatible padding), to 1e-4 of the logits' scale; their
 * weights survive import -> saveModel -> loadModel bit for bit.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';

import { Tokenizer } from '../../src/data/tokenizer.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { graphParams, textCNN, type LayerSpec, type ModelGraph } from '../../src/model/graph.js';
import { compileModel } from '../../src/model/program.js';
import { importOnnx, importOnnxFile, type ImportResult } from '../../src/onnx/import.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import {
  DataType,
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  createGraph,
  createModel,
  createNode,
  decodeModelFile,
  encodeModel,
  makeFloat32Tensor,
  makeInt64Tensor,
  makeTensorValueInfo,
  tensorToFloat32,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../../src/onnx/proto.js';
import { expectTensorClose } from '../helpers/compare.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/onnx');
const TORCH = join(FIXTURES, 'torch');
const SHARED = join(import.meta.dirname, '../../../shared/models');
const tmp = mkdtempSync(join(tmpdir(), 'finetune-import-'));

interface Single {
  text: string;
  ids: number[];
  input_ids: number[];
  logits: number[];
}
interface Reference {
  pad_id: number;
  unk_id?: number;
  single: Single[];
  batch: { input_ids: number[][]; logits: number[][] };
}

/** Max errors per model, printed at the end (for the report). */
const errors: Array<{ model: string; single: number; singleRel: number; batch: number; batchRel: number }> = [];
afterAll(() => {
  if (errors.length === 0) return;
  const lines = errors.map(
    (e) => `${e.model.padEnd(28)} single max|d| ${e.single.toExponential(2)} (rel ${e.singleRel.toExponential(2)})  batch max|d| ${e.batch.toExponential(2)} (rel ${e.batchRel.toExponential(2)})`,
  );
  console.log(`import logits vs PyTorch (rel: max|d| / max|ref|)\n${lines.join('\n')}`);
});

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function scale(b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]));
  return m || 1;
}

/** Checks single texts (per-row padding, each alone) and the padded batch (PyTorch-compatible) against the references. */
async function checkLogits(label: string, graph: ModelGraph, params: Map<string, Float32Array>, ref: Reference): Promise<void> {
  const maxLength = Math.max(...ref.single.map((s) => s.input_ids.length), ...ref.batch.input_ids.map((r) => r.length));
  const perRow = compileModel(graph, { maxBatch: ref.batch.input_ids.length, maxLength, params, padding: 'per-row' });
  const ours: number[] = [];
  const theirs: number[] = [];
  for (const s of ref.single) {
    const L = s.input_ids.length;
    const logits = await perRow.predict({ ids: Int32Array.from(s.input_ids), lengths: Int32Array.of(L), batch: 1, length: L });
    ours.push(...logits);
    theirs.push(...s.logits);
  }
  perRow.dispose();
  expectTensorClose(ours, theirs, 1e-4, `${label}: single texts`);
  const B = ref.batch.input_ids.length;
  const L = ref.batch.input_ids[0].length;
  const batchMode = compileModel(graph, { maxBatch: B, maxLength, params, padding: 'batch' });
  const ids = Int32Array.from(ref.batch.input_ids.flat());
  const got = await batchMode.predict({ ids, lengths: Int32Array.from({ length: B }, () => L), batch: B, length: L });
  batchMode.dispose();
  const want = ref.batch.logits.flat();
  expectTensorClose(got, want, 1e-4, `${label}: padded batch`);
  errors.push({
    model: label,
    single: maxAbs(ours, theirs),
    singleRel: maxAbs(ours, theirs) / scale(theirs),
    batch: maxAbs(got, want),
    batchRel: maxAbs(got, want) / scale(want),
  });
}

/** Import -> saveModel -> loadModel keeps the graph and every weight bit for bit. */
async function checkRoundTrip(label: string, m: Awaited<ReturnType<typeof importOnnxFile>>): Promise<void> {
  const file = join(tmp, `${label.replace(/\W+/g, '_')}.onnx`);
  await saveModel(file, m);
  const back = await loadModel(file);
  expect(back.graph).toEqual(m.graph);
  expect(back.vocab.toArray()).toEqual(m.vocab.toArray());
  expect(back.vocab.padId).toBe(m.vocab.padId);
  expect(back.labels).toEqual(m.labels);
  for (const p of graphParams(m.graph)) {
    const a = m.params.get(p.name)!;
    const b = back.params.get(p.name)!;
    expect(b.length, p.name).toBe(a.length);
    expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength)), `${label}: ${p.name} identical`).toBe(true);
  }
  // And the re-imported file (one of ours) is read through its metadata.
  const again = await importOnnxFile(file);
  expect(again.graph).toEqual(m.graph);
}

function layer(graph: ModelGraph, name: string): LayerSpec {
  const l = graph.layers.find((x) => x.name === name);
  if (!l) throw new Error(`no layer ${name} in ${graph.layers.map((x) => x.name).join(', ')}`);
  return l;
}

describe('the tiny SST-2 model (test/fixtures copy of ../shared/models)', () => {
  const onnx = join(FIXTURES, 'sst2_tiny_conv1d.opset13.onnx');
  const vocab = join(FIXTURES, 'sst2_tiny_conv1d.vocab.json');
  const ref = JSON.parse(readFileSync(join(FIXTURES, 'sst2_tiny_conv1d.testvectors.json'), 'utf8')) as Reference;

  it('imports as a TextCNN named like textCNN() names it', async () => {
    const m = await importOnnxFile(onnx, { vocab });
    expect(m.graph).toEqual(textCNN({ vocabSize: 500, classes: 2, embedDim: 16, widths: [2, 3, 4], maps: 8, dropout: 0 }));
    expect(m.labels).toEqual(['0', '1']);
    expect(m.tokenizer).toEqual({ mode: 'whitespace', lowercase: true, maxTokens: 0 });
    expect(m.vocab.size).toBe(500);
    expect(m.report.join('\n')).toMatch(/conv0: conv1d width 2, 8 maps, valid/);
    expect(m.report.join('\n')).toMatch(/classifier: linear -> 2/);
  });

  it('reproduces the PyTorch logits alone and as a padded batch', async () => {
    const m = await importOnnxFile(onnx, { vocab });
    await checkLogits('sst2_tiny_conv1d', m.graph, m.params, ref);
  });

  it('tokenises the reference texts to the reference ids', async () => {
    const m = await importOnnxFile(onnx, { vocab });
    const tok = new Tokenizer(m.tokenizer);
    for (const s of ref.single) expect(Array.from(m.vocab.encode(tok.tokenize(s.text)))).toEqual(s.ids);
  });

  it('round-trips through our model file with identical weights', async () => {
    await checkRoundTrip('sst2_tiny', await importOnnxFile(onnx, { vocab }));
  });

  it('works from a decoded model with importOnnx', () => {
    const { model, modelDir } = decodeModelFile(onnx);
    const r = importOnnx(model, { file: onnx, modelDir, vocabSize: 500, padId: 0 });
    expect(r.graph.layers.map((l) => l.name)).toEqual([
      'embedding', 'conv0', 'conv0_act', 'pool0', 'conv1', 'conv1_act', 'pool1', 'conv2', 'conv2_act', 'pool2', 'features', 'classifier',
    ]);
    expect((r.graph.layers[0] as { paddingIdx: number | null }).paddingIdx).toBe(0);
    // The freeze / head-replacement vocabulary of the trainer applies.
    const convs = r.graph.layers.filter((l) => l.type === 'conv1d').map((l) => l.name);
    expect(convs).toEqual(['conv0', 'conv1', 'conv2']);
  });

  it('asks for the vocabulary of a model exported elsewhere', async () => {
    await expect(importOnnxFile(onnx)).rejects.toMatchObject({ code: 'ERR_FINETUNE_MODEL_FILE', message: expect.stringMatching(/exported elsewhere: give its vocabulary with --vocab/) });
  });
});

describe('the large reference models in ../shared/models', () => {
  for (const name of ['sst2_conv1d', 'mr_kim2d_tanh']) {
    const onnx = join(SHARED, `${name}.opset13.onnx`);
    it.skipIf(!existsSync(onnx))(`${name}: imports and reproduces the PyTorch logits`, async () => {
      const m = await importOnnxFile(onnx, { vocab: join(SHARED, `${name}.vocab.json`) });
      const ref = JSON.parse(readFileSync(join(SHARED, `${name}.testvectors.json`), 'utf8')) as Reference;
      expect(m.graph.layers.filter((l) => l.type === 'conv1d').map((l) => (l as { width: number }).width)).toEqual([3, 4, 5]);
      expect(layer(m.graph, 'conv0_act')).toMatchObject({ kind: name.includes('tanh') ? 'tanh' : 'relu' });
      expect(layer(m.graph, 'classifier')).toMatchObject({ type: 'linear', input: 'features', outFeatures: 2 });
      await checkLogits(name, m.graph, m.params, ref);
      const tok = new Tokenizer(m.tokenizer);
      for (const s of ref.single) expect(Array.from(m.vocab.encode(tok.tokenize(s.text)))).toEqual(s.ids);
    });
  }
});

interface TorchRef extends Reference {
  variant: string;
  opset: number;
  vocab: string;
  ops: string[];
}

const manifest = JSON.parse(readFileSync(join(TORCH, 'manifest.json'), 'utf8')) as {
  models: Array<{ variant: string; opset: number; file: string }>;
  not_exported: Array<{ variant: string; opset: number; error: string }>;
};

/** What each variant must import as (beyond reproducing the logits). */
const expectations: Record<string, (g: ModelGraph, report: string[]) => void> = {
  relu: (g) => expect(g).toEqual(textCNN({ vocabSize: 40, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0 })),
  gelu: (g) => expect(layer(g, 'conv0_act')).toMatchObject({ kind: 'gelu' }),
  gelu_tanh: (g) => expect(layer(g, 'conv1_act')).toMatchObject({ kind: 'geluTanh' }),
  leaky_relu: (g) => {
    expect(layer(g, 'conv0_act')).toMatchObject({ kind: 'leakyRelu' });
    expect((layer(g, 'conv0_act') as { slope: number }).slope).toBeCloseTo(0.2, 6);
  },
  sigmoid: (g) => expect(layer(g, 'conv0_act')).toMatchObject({ kind: 'sigmoid' }),
  tanh: (g) => expect(layer(g, 'conv0_act')).toMatchObject({ kind: 'tanh' }),
  mean: (g) => expect(g).toEqual(textCNN({ vocabSize: 40, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0, pool: 'mean' })),
  same_odd: (g) => expect(g).toEqual(textCNN({ vocabSize: 40, classes: 2, embedDim: 8, widths: [3, 5], maps: 4, dropout: 0, padding: 'same' })),
  same_even: (g, report) => {
    expect(g).toEqual(textCNN({ vocabSize: 40, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0, padding: 'same' }));
    expect(report.join('\n')).toMatch(/after Pad \(0, 1\)/);
  },
  deep_head: (g) => expect(g).toEqual(textCNN({ vocabSize: 40, classes: 3, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0, hidden: [6] })),
  dropout_kept: (g) => {
    expect(g.layers.slice(-5).map((l) => l.name)).toEqual(['hidden0', 'hidden0_act', 'dropout_2', 'dropout', 'classifier']);
    expect(layer(g, 'dropout_2')).toMatchObject({ type: 'dropout', p: 0.25, input: 'hidden0_act' });
    expect(layer(g, 'dropout')).toMatchObject({ type: 'dropout', p: 0.5, input: 'dropout_2' });
  },
  kim2d: (g) => expect(g).toEqual(textCNN({ vocabSize: 40, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0, activation: 'tanh' })),
  kim2d_max: (g) => expect(g).toEqual(textCNN({ vocabSize: 40, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0 })),
  max_pool1d: (g, report) => {
    expect(g).toEqual(textCNN({ vocabSize: 40, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0 }));
    expect(report.join('\n')).toMatch(/fixed kernel of 8 steps/);
  },
  pad3_unk7: (g) => expect(g).toEqual(textCNN({ vocabSize: 40, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0, paddingIdx: 3 })),
};

describe('tiny TextCNN variants exported by torch.onnx.export (test/fixtures/onnx/torch)', () => {
  it('the fixtures cover every variant at opsets 11, 13 and 17', () => {
    for (const v of Object.keys(expectations)) {
      expect(manifest.models.filter((m) => m.variant === v).map((m) => m.opset), v).toEqual([11, 13, 17]);
    }
    expect(manifest.not_exported).toEqual([]);
  });

  for (const { variant, opset, file } of manifest.models) {
    const label = `${variant}.opset${opset}`;
    it(`${label}: imports, reproduces PyTorch's logits, round-trips`, async () => {
      const ref = JSON.parse(readFileSync(join(TORCH, `${label}.json`), 'utf8')) as TorchRef;
      const m = await importOnnxFile(join(TORCH, file), { vocab: join(TORCH, ref.vocab) });
      expect(m.vocab.padId).toBe(ref.pad_id);
      expect(m.vocab.unkId).toBe(ref.unk_id);
      expectations[variant]?.(m.graph, m.report);
      const tok = new Tokenizer(m.tokenizer);
      for (const s of ref.single) expect(Array.from(m.vocab.encode(tok.tokenize(s.text))), s.text).toEqual(s.ids);
      await checkLogits(label, m.graph, m.params, ref);
      await checkRoundTrip(label, m);
    });
  }
});

describe('vocabulary sidecars', () => {
  it('reads pad and unknown ids from a one-token-a-line file', async () => {
    const m = await importOnnxFile(join(TORCH, 'pad3_unk7.opset13.onnx'), { vocab: join(TORCH, 'vocab_pad3_unk7.txt') });
    expect([m.vocab.padId, m.vocab.unkId]).toEqual([3, 7]);
    expect(layer(m.graph, 'embedding')).toMatchObject({ paddingIdx: 3 });
  });

  it('with another pad id, a non-zero pad row gives no padding_idx', async () => {
    // Row 0 of this model is a trained word, not zero: the pad id of this vocabulary is 0.
    const tokens = Vocabulary.fromTokens(readFileSync(join(TORCH, 'vocab_pad3_unk7.txt'), 'utf8').trim().split('\n'), {}).toArray();
    const swapped = [...tokens];
    [swapped[0], swapped[3]] = [swapped[3], swapped[0]];
    const file = join(tmp, 'pad0.vocab.txt');
    await Vocabulary.fromTokens(swapped).save(file, 'text');
    const m = await importOnnxFile(join(TORCH, 'pad3_unk7.opset13.onnx'), { vocab: file });
    expect(m.vocab.padId).toBe(0);
    expect(layer(m.graph, 'embedding')).toMatchObject({ paddingIdx: null });
    expect(m.report.join('\n')).toMatch(/pad row 0 is not zero/);
  });

  it('honours other pad and unknown token names', async () => {
    const tokens = JSON.parse(readFileSync(join(TORCH, 'vocab.json'), 'utf8')) as Record<string, number>;
    const renamed: Record<string, number> = {};
    for (const [t, id] of Object.entries(tokens)) renamed[t === '<pad>' ? '[PAD]' : t === '<unk>' ? '[UNK]' : t] = id;
    const file = join(tmp, 'renamed.vocab.json');
    writeFileSync(file, JSON.stringify(renamed));
    const m = await importOnnxFile(join(TORCH, 'relu.opset13.onnx'), { vocab: file, padToken: '[PAD]', unkToken: '[UNK]' });
    expect([m.vocab.pad, m.vocab.unk, m.vocab.padId, m.vocab.unkId]).toEqual(['[PAD]', '[UNK]', 0, 1]);
  });

  it('passes tokenizer settings through', async () => {
    const m = await importOnnxFile(join(TORCH, 'relu.opset13.onnx'), { vocab: join(TORCH, 'vocab.json'), tokenizer: { mode: 'kim' } });
    expect(m.tokenizer).toEqual({ mode: 'kim', lowercase: true, maxTokens: 0 });
  });
});

// ---------------------------------------------------------------------------
// Hand-built graphs for what PyTorch 1.13 does not emit (other exporters,
// newer opsets, hand-edited models), checked against onnxruntime-node.

class Builder {
  nodes: NodeProto[] = [];
  inits: TensorProto[] = [];
  private n = 0;
  private seed = 12345;
  rand(): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2147483648;
    return this.seed / 2147483648 - 0.5;
  }
  op(opType: string, inputs: string[], attrs: AttributeProto[] = [], outputs = 1): string {
    const name = `${opType.toLowerCase()}_${this.n++}`;
    const out = Array.from({ length: outputs }, (_, i) => (i === 0 ? name : `${name}:${i}`));
    this.nodes.push(createNode({ opType, name, input: inputs, output: out, attribute: attrs }));
    return name;
  }
  w(name: string, dims: number[], scale = 1): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.inits.push(makeFloat32Tensor(name, dims, Float32Array.from({ length: n }, () => this.rand() * scale)));
    return name;
  }
  i64(name: string, values: number[], dims: number[] = [values.length]): string {
    this.inits.push(makeInt64Tensor(name, dims, values));
    return name;
  }
  f32(name: string, value: number): string {
    this.inits.push(makeFloat32Tensor(name, [], Float32Array.of(value)));
    return name;
  }
  model(out: string, opset = 13, classes = 3): ModelProto {
    this.nodes.push(createNode({ opType: 'Identity', name: 'out', input: [out], output: ['logits'] }));
    return createModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: opset }],
      producerName: 'test',
      graph: createGraph({
        name: 'g',
        node: this.nodes,
        initializer: this.inits,
        input: [makeTensorValueInfo('input_ids', DataType.INT64, ['batch', 'sequence'])],
        output: [makeTensorValueInfo('logits', DataType.FLOAT, ['batch', classes])],
      }),
    });
  }
  /** Gather -> Transpose -> Conv (width k, m maps): [B, m, T]. */
  convBase(k = 3, m = 5, opts: { bias?: boolean; attrs?: AttributeProto[] } = {}): string {
    const e = this.op('Gather', [this.w('emb', [V, D]), 'input_ids']);
    const t = this.op('Transpose', [e], [attrInts('perm', [0, 2, 1])]);
    const inputs = [t, this.w('conv_w', [m, D, k])];
    if (opts.bias !== false) inputs.push(this.w('conv_b', [m]));
    return this.op('Conv', inputs, opts.attrs ?? [attrInts('kernel_shape', [k])]);
  }
}
const V = 30;
const D = 6;

/** Imports the model, then compares our logits (PyTorch-compatible padding) with onnxruntime-node's on random ids. */
async function checkAgainstOrt(label: string, model: ModelProto, L = 7): Promise<ImportResult> {
  const file = join(tmp, `${label.replace(/\W+/g, '_')}.onnx`);
  writeFileSync(file, encodeModel(model));
  const r = importOnnx(model, { file, vocabSize: V, padId: 0 });
  const B = 4;
  let seed = 7;
  const ids = Array.from({ length: B * L }, () => (seed = (seed * 48271) % 2147483647) % V);
  const session = await ort.InferenceSession.create(file);
  const out = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [B, L]) });
  await session.release();
  const want = out.logits.data as Float32Array;
  const program = compileModel(r.graph, { maxBatch: B, maxLength: L, params: r.params, padding: 'batch' });
  const got = await program.predict({ ids: Int32Array.from(ids), lengths: Int32Array.from({ length: B }, () => L), batch: B, length: L });
  program.dispose();
  expectTensorClose(got, want, 1e-5, `${label} vs onnxruntime`);
  return r;
}

describe('hand-built graphs agree with onnxruntime-node', () => {
  it('LeakyRelu, GlobalAveragePool + Flatten, Gemm with transB=0 and alpha/beta', async () => {
    const b = new Builder();
    const c = b.convBase();
    const a = b.op('LeakyRelu', [c], [attrFloat('alpha', 0.1)]);
    const p = b.op('Flatten', [b.op('GlobalAveragePool', [a])], [attrInt('axis', 1)]);
    const y = b.op('Gemm', [p, b.w('fc_w', [5, 3]), b.w('fc_b', [3])], [attrFloat('alpha', 0.5), attrFloat('beta', 2)]);
    const r = await checkAgainstOrt('leaky-gap-gemm', b.model(y));
    expect(layer(r.graph, 'conv0_act')).toMatchObject({ kind: 'leakyRelu', slope: Math.fround(0.1) });
    expect(layer(r.graph, 'pool0')).toMatchObject({ type: 'meanOverTime' });
    expect(layer(r.graph, 'embedding')).toMatchObject({ paddingIdx: null }); // row 0 is not zero
  });

  it('Gelu (opset 20), ReduceMax with axes as an input (opset 18+), MatMul + Add', async () => {
    const b = new Builder();
    const c = b.convBase(2, 4);
    const a = b.op('Gelu', [c]);
    const p = b.op('ReduceMax', [a, b.i64('axes', [-1])], [attrInt('keepdims', 0)]);
    const h = b.op('Add', [b.w('fc_b', [3]), b.op('MatMul', [p, b.w('fc_w', [4, 3])])]);
    const r = await checkAgainstOrt('gelu-op-matmul', b.model(h, 20));
    expect(layer(r.graph, 'conv0_act')).toMatchObject({ kind: 'gelu' });
    expect(layer(r.graph, 'classifier')).toMatchObject({ type: 'linear', outFeatures: 3 });
    expect(layer(r.graph, 'classifier')).not.toHaveProperty('bias', false);
    expect(r.report.join('\n')).toMatch(/opset 20 is outside the tested range/);
  });

  it('x.view(x.size(0), -1) through Shape/Gather/Unsqueeze/Concat, a final Softmax', async () => {
    const b = new Builder();
    const c = b.convBase(3, 5);
    const p = b.op('ReduceMax', [b.op('Relu', [c])], [attrInts('axes', [2]), attrInt('keepdims', 1)]); // [B, 5, 1]
    const batch = b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [p]), b.i64('zero', [0], [])], [attrInt('axis', 0)]), b.i64('ax0', [0])]);
    const shape = b.op('Concat', [batch, b.i64('minus1', [-1])], [attrInt('axis', 0)]);
    const flat = b.op('Reshape', [p, shape]);
    const y = b.op('Softmax', [b.op('Gemm', [flat, b.w('fc_w', [3, 5]), b.w('fc_b', [3])], [attrInt('transB', 1)])], [attrInt('axis', 1)]);
    const model = b.model(y);
    const r = importOnnx(model, { vocabSize: V });
    expect(r.report.join('\n')).toMatch(/dropped the final Softmax/);
    // onnxruntime gives probabilities; ours are the logits they come from.
    const file = join(tmp, 'softmax.onnx');
    writeFileSync(file, encodeModel(model));
    const session = await ort.InferenceSession.create(file);
    const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const out = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [2, 5]) });
    await session.release();
    const program = compileModel(r.graph, { maxBatch: 2, maxLength: 5, params: r.params, padding: 'batch' });
    const logits = await program.predict({ ids: Int32Array.from(ids), lengths: Int32Array.of(5, 5), batch: 2, length: 5 });
    program.dispose();
    const probs: number[] = [];
    for (let i = 0; i < 2; i++) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      probs.push(...e.map((v) => v / e.reduce((s, x) => s + x, 0)));
    }
    expectTensorClose(probs, out.logits.data as Float32Array, 1e-5, 'softmax of our logits');
  });

  it('two activations in a row, sigmoid spelled as 1 / (1 + exp(-x)), Conv bias as an Add', async () => {
    const b = new Builder();
    const c = b.convBase(3, 4, { bias: false });
    const biased = b.op('Add', [c, b.w('conv_bias', [4, 1])]);
    const t = b.op('Tanh', [b.op('Relu', [biased])]);
    const sig = b.op('Reciprocal', [b.op('Add', [b.f32('one', 1), b.op('Exp', [b.op('Neg', [t])])])]);
    const p = b.op('ReduceMax', [sig], [attrInts('axes', [2]), attrInt('keepdims', 0)]);
    const y = b.op('Gemm', [p, b.w('fc_w', [3, 4]), b.w('fc_b', [3])], [attrInt('transB', 1)]);
    const r = await checkAgainstOrt('chain', b.model(y));
    expect(r.graph.layers.filter((l) => l.type === 'activation').map((l) => (l as { kind: string }).kind)).toEqual(['relu', 'tanh', 'sigmoid']);
    expect(Array.from(r.params.get('conv0.bias')!)).toEqual(Array.from(tensorToFloat32(b.inits.find((t) => t.name === 'conv_bias')!)));
  });

  it("auto_pad SAME_UPPER with an even width is 'same'; a deeper head with MatMul and no bias", async () => {
    const b = new Builder();
    const c = b.convBase(4, 5, { attrs: [attrInts('kernel_shape', [4]), attrString('auto_pad', 'SAME_UPPER')] });
    const p = b.op('ReduceMean', [b.op('Sigmoid', [c])], [attrInts('axes', [2]), attrInt('keepdims', 0)]);
    const h = b.op('Relu', [b.op('MatMul', [p, b.w('h_w', [5, 6])])]);
    const y = b.op('Gemm', [h, b.w('fc_w', [3, 6]), b.w('fc_b', [3])], [attrInt('transB', 1)]);
    const r = await checkAgainstOrt('same-upper', b.model(y), 6);
    expect(layer(r.graph, 'conv0')).toMatchObject({ padding: 'same', width: 4 });
    expect(layer(r.graph, 'hidden0')).toMatchObject({ bias: false, outFeatures: 6 });
    expect(layer(r.graph, 'hidden0_act')).toMatchObject({ kind: 'relu' });
  });
});
