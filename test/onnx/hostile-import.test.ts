/**
 * Hostile and unsupported ONNX files given to the importer: each gets one
 * clear error with a stable code (ERR_FINETUNE_ONNX_FORMAT for the file's
 * content, ERR_FINETUNE_MODEL_FILE for digest and sidecar problems), memory
 * stays bounded and the process lives on. Unsupported graphs name the node,
 * its op type and what is supported: never a silently different model.
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { importOnnx, importOnnxFile } from '../../src/onnx/import.js';
import {
  AttributeType,
  DataType,
  attrFloat,
  attrInt,
  attrInts,
  createAttribute,
  createGraph,
  createModel,
  createNode,
  createTensor,
  encodeModel,
  makeFloat32Tensor,
  makeInt64Tensor,
  makeTensorValueInfo,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../../src/onnx/proto.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/onnx');
const TINY = join(FIXTURES, 'sst2_tiny_conv1d.opset13.onnx');
const TINY_VOCAB = join(FIXTURES, 'sst2_tiny_conv1d.vocab.json');
const TORCH = join(FIXTURES, 'torch');
const dir = mkdtempSync(join(tmpdir(), 'finetune-hostile-import-'));
const FORMAT = 'ERR_FINETUNE_ONNX_FORMAT';
const MODEL_FILE = 'ERR_FINETUNE_MODEL_FILE';

const V = 30;
const D = 6;

/** A small graph builder: Gather -> Transpose -> Conv -> Relu -> ReduceMax -> Gemm by default, pieces replaceable. */
class Builder {
  nodes: NodeProto[] = [];
  inits: TensorProto[] = [];
  private n = 0;
  op(opType: string, inputs: string[], attrs: AttributeProto[] = [], name?: string): string {
    const out = name ?? `${opType.toLowerCase()}_${this.n++}`;
    this.nodes.push(createNode({ opType, name: out, input: inputs, output: [out], attribute: attrs }));
    return out;
  }
  w(name: string, dims: number[]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.inits.push(makeFloat32Tensor(name, dims, Float32Array.from({ length: n }, (_, i) => Math.sin(i + name.length))));
    return name;
  }
  init(t: TensorProto): string {
    this.inits.push(t);
    return t.name;
  }
  i64(name: string, values: number[], dims: number[] = [values.length]): string {
    this.inits.push(makeInt64Tensor(name, dims, values));
    return name;
  }
  embed(weight?: string): string {
    return this.op('Transpose', [this.op('Gather', [weight ?? this.w('emb', [V, D]), 'input_ids']), ], [attrInts('perm', [0, 2, 1])]);
  }
  conv(x: string, attrs: AttributeProto[] = [attrInts('kernel_shape', [3])], weight?: string): string {
    return this.op('Conv', [x, weight ?? this.w('conv_w', [4, D, 3]), this.w('conv_b', [4])], attrs, 'conv');
  }
  poolHead(x: string, axes = [2]): string {
    const p = this.op('ReduceMax', [x], [attrInts('axes', axes), attrInt('keepdims', 0)], 'pool');
    return this.op('Gemm', [p, this.w('fc_w', [2, 4]), this.w('fc_b', [2])], [attrInt('transB', 1)], 'fc');
  }
  model(out: string, opset = 13, graph: Partial<GraphProto> = {}): ModelProto {
    this.nodes.push(createNode({ opType: 'Identity', name: 'out', input: [out], output: ['logits'] }));
    return createModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: opset }],
      graph: createGraph({
        name: 'g',
        node: this.nodes,
        initializer: this.inits,
        input: [makeTensorValueInfo('input_ids', DataType.INT64, ['batch', 'sequence'])],
        output: [makeTensorValueInfo('logits', DataType.FLOAT, ['batch', 2])],
        ...graph,
      }),
    });
  }
  /** The whole default TextCNN. */
  standard(): ModelProto {
    return this.model(this.poolHead(this.op('Relu', [this.conv(this.embed())])));
  }
}

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

const vocab30 = write('v30.txt', new TextEncoder().encode(['<pad>', '<unk>', ...Array.from({ length: V - 2 }, (_, i) => `w${i}`)].join('\n')));

/** Runs fn, expecting an error with this code whose message matches every pattern; returns the message. */
async function refused(fn: () => unknown, code: string, ...patterns: RegExp[]): Promise<string> {
  let error: unknown;
  try {
    await fn();
  } catch (err) {
    error = err;
  }
  expect(error, 'expected an error').toBeInstanceOf(Error);
  const e = error as Error & { code?: string };
  expect(e.code, e.message).toBe(code);
  for (const p of patterns) expect(e.message).toMatch(p);
  expect(e.message).not.toMatch(/^\s*at /m); // a message, not a stack trace
  return e.message;
}

describe('the baseline builds and imports', () => {
  it('the default hand-built TextCNN imports', () => {
    const r = importOnnx(new Builder().standard(), { vocabSize: V });
    expect(r.graph.layers.map((l) => l.name)).toEqual(['embedding', 'conv0', 'conv0_act', 'pool0', 'classifier']);
  });
});

describe('hostile files', () => {
  const tiny = readFileSync(TINY);

  it('a truncated file', async () => {
    for (const cut of [1, 100, tiny.length >> 1, tiny.length - 1]) {
      const file = write(`truncated-${cut}.onnx`, tiny.subarray(0, cut));
      await refused(() => importOnnxFile(file, { vocab: TINY_VOCAB }), FORMAT, /truncated-\d+\.onnx/);
    }
  });

  it('random bytes', async () => {
    for (let i = 0; i < 20; i++) {
      const file = write(`random-${i}.onnx`, randomBytes(1 + ((i * 997) % 5000)));
      await refused(() => importOnnxFile(file, { vocab: TINY_VOCAB }), FORMAT);
    }
  });

  it('an empty file and a folder', async () => {
    await refused(() => importOnnxFile(write('empty.onnx', new Uint8Array(0)), { vocab: TINY_VOCAB }), FORMAT, /empty/);
    await refused(() => importOnnxFile(dir, { vocab: TINY_VOCAB }), MODEL_FILE, /not a regular file/);
    await refused(() => importOnnxFile(join(dir, 'missing.onnx'), { vocab: TINY_VOCAB }), MODEL_FILE, /cannot read/);
  });

  it('a 1e12-element initializer holding 4 bytes: refused before allocating (RSS grows < 10 MB)', async () => {
    const b = new Builder();
    const huge = b.init(createTensor({ name: 'emb', dims: [1_000_000, 1_000_000], dataType: DataType.FLOAT, rawData: new Uint8Array(4) }));
    const model = b.model(b.poolHead(b.conv(b.embed(huge))));
    const file = write('huge.onnx', encodeModel(model));
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    await refused(() => importOnnxFile(file, { vocab: vocab30 }), FORMAT, /emb/, /2\^40|bytes/);
    await refused(() => importOnnx(model, { vocabSize: V }), FORMAT, /emb/);
    expect(process.memoryUsage().rss - before).toBeLessThan(10 * 1024 * 1024);
  });

  it('an initializer that claims 1e9 elements but holds 4 bytes', async () => {
    const b = new Builder();
    const big = b.init(createTensor({ name: 'emb', dims: [1_000_000, 1000], dataType: DataType.FLOAT, rawData: new Uint8Array(4) }));
    const before = process.memoryUsage().rss;
    await refused(() => importOnnx(b.model(b.poolHead(b.conv(b.embed(big)))), { vocabSize: V }), FORMAT, /raw_data holds 4 bytes/);
    expect(process.memoryUsage().rss - before).toBeLessThan(10 * 1024 * 1024);
  });

  it('negative dims', async () => {
    const b = new Builder();
    const neg = b.init(createTensor({ name: 'emb', dims: [-V, D], dataType: DataType.FLOAT, rawData: new Uint8Array(4 * V * D) }));
    await refused(() => importOnnx(b.model(b.poolHead(b.conv(b.embed(neg)))), { vocabSize: V }), FORMAT, /negative/, /emb/);
  });

  it('external data outside the model folder: "..", absolute paths, a symbolic link out', async () => {
    const inner = join(dir, 'models');
    mkdirSync(inner, { recursive: true });
    writeFileSync(join(dir, 'outside.bin'), new Uint8Array(4 * V * D));
    symlinkSync(join(dir, 'outside.bin'), join(inner, 'link.bin'));
    for (const [location, pattern] of [
      ['../outside.bin', /'\.\.' segment/],
      [join(dir, 'outside.bin'), /absolute path/],
      ['link.bin', /outside the model's folder/],
      ['sub/../../outside.bin', /'\.\.' segment/],
    ] as const) {
      const b = new Builder();
      const ext = b.init(
        createTensor({ name: 'emb', dims: [V, D], dataType: DataType.FLOAT, dataLocation: 1, externalData: [{ key: 'location', value: location }] }),
      );
      const file = join(inner, 'external.onnx');
      writeFileSync(file, encodeModel(b.model(b.poolHead(b.conv(b.embed(ext))))));
      await refused(() => importOnnxFile(file, { vocab: vocab30 }), FORMAT, pattern, /emb/);
    }
  });

  it('external data inside the model folder is read', async () => {
    const inner = join(dir, 'inside');
    mkdirSync(inner, { recursive: true });
    const values = Float32Array.from({ length: V * D }, (_, i) => i / 7);
    writeFileSync(join(inner, 'emb.bin'), new Uint8Array(values.buffer));
    const b = new Builder();
    const ext = b.init(
      createTensor({ name: 'emb', dims: [V, D], dataType: DataType.FLOAT, dataLocation: 1, externalData: [{ key: 'location', value: 'emb.bin' }] }),
    );
    const file = join(inner, 'model.onnx');
    writeFileSync(file, encodeModel(b.model(b.poolHead(b.conv(b.embed(ext))))));
    const m = await importOnnxFile(file, { vocab: vocab30 });
    expect(Array.from(m.params.get('embedding.weight')!)).toEqual(Array.from(values));
  });

  it('a 200-deep nesting of subgraphs', async () => {
    const leaf = createGraph({ name: 'leaf' });
    let g: GraphProto = leaf;
    for (let i = 0; i < 200; i++) {
      const node = createNode({
        opType: 'If',
        name: `if_${i}`,
        input: ['cond'],
        output: ['y'],
        attribute: [createAttribute({ name: 'then_branch', type: AttributeType.GRAPH, g }), createAttribute({ name: 'else_branch', type: AttributeType.GRAPH, g: leaf })],
      });
      g = createGraph({ name: `level_${i}`, node: [node] });
    }
    const model = createModel({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph: g });
    const file = write('deep.onnx', encodeModel(model));
    await refused(() => importOnnxFile(file, { vocab: TINY_VOCAB }), FORMAT, /deep|depth|nest/i);
  });

  it('20 nested Ifs on constant conditions stop at the inlining limit', async () => {
    const b = new Builder();
    const x = b.op('Relu', [b.conv(b.embed())]);
    let branch = createGraph({ name: 'leaf', node: [createNode({ opType: 'Identity', name: 'leaf_id', input: [x], output: ['y0'] })], output: [makeTensorValueInfo('y0', DataType.FLOAT, [])] });
    for (let i = 1; i <= 20; i++) {
      const node = createNode({
        opType: 'If',
        name: `if_${i}`,
        input: ['cond'],
        output: [`y${i}`],
        attribute: [createAttribute({ name: 'then_branch', type: AttributeType.GRAPH, g: branch }), createAttribute({ name: 'else_branch', type: AttributeType.GRAPH, g: branch })],
      });
      branch = createGraph({ name: `level_${i}`, node: [node], output: [makeTensorValueInfo(`y${i}`, DataType.FLOAT, [])] });
    }
    b.inits.push(createTensor({ name: 'cond', dims: [], dataType: DataType.BOOL, rawData: Uint8Array.of(1) }));
    b.nodes.push(...branch.node);
    await refused(() => importOnnx(b.model(b.poolHead('y20')), { vocabSize: V }), FORMAT, /nested more than 8 deep/);
  });

  it('embedding rows differ from the vocabulary size: names the initializer', async () => {
    const file = write('v41.txt', new TextEncoder().encode(['<pad>', '<unk>', ...Array.from({ length: 39 }, (_, i) => `w${i}`)].join('\n')));
    await refused(() => importOnnxFile(join(TORCH, 'relu.opset13.onnx'), { vocab: file }), FORMAT, /'embedding\.weight' has 40 rows but the vocabulary has 41 tokens/);
  });

  it('a float16 or int64 tensor where float32 is needed', async () => {
    const b = new Builder();
    const half = b.init(createTensor({ name: 'emb', dims: [V, D], dataType: DataType.FLOAT16, rawData: new Uint8Array(2 * V * D) }));
    await refused(() => importOnnx(b.model(b.poolHead(b.conv(b.embed(half)))), { vocabSize: V }), FORMAT, /emb/, /float16/, /float32/);
    const c = new Builder();
    const ints = c.init(makeInt64Tensor('conv_w', [4, D, 3], Array.from({ length: 4 * D * 3 }, (_, i) => i)));
    await refused(() => importOnnx(c.model(c.poolHead(c.conv(c.embed(), undefined, ints))), { vocabSize: V }), FORMAT, /conv_w/, /int64/, /float32/);
  });

  it('a wrong SHA-256 is refused before parsing', async () => {
    const junk = write('junk.onnx', randomBytes(3000));
    await refused(() => importOnnxFile(junk, { vocab: TINY_VOCAB, expectedSha256: 'ab'.repeat(32) }), MODEL_FILE, /SHA-256 is [0-9a-f]{64}, not the expected/);
    await refused(() => importOnnxFile(TINY, { vocab: TINY_VOCAB, expectedSha256: 'xyz' }), MODEL_FILE, /64 hexadecimal digits/);
    const digest = createHash('sha256').update(readFileSync(TINY)).digest('hex');
    const ok = await importOnnxFile(TINY, { vocab: TINY_VOCAB, expectedSha256: digest.toUpperCase() });
    expect(ok.graph.layers[0].name).toBe('embedding');
  });

  it('a vocabulary sidecar that is missing or lacks the pad token', async () => {
    await refused(() => importOnnxFile(TINY), MODEL_FILE, /give its vocabulary with --vocab/);
    await refused(() => importOnnxFile(TINY, { vocab: join(dir, 'nope.json') }), 'ERR_FINETUNE_DATA_FILE', /cannot read vocabulary/);
    await refused(() => importOnnxFile(TINY, { vocab: TINY_VOCAB, padToken: '[PAD]' }), 'ERR_FINETUNE_VOCAB', /pad token/);
  });
});

describe('graphs that cannot be mapped name the node, its op and what is supported', () => {
  const SUPPORTED = /Supported: Gather \(embedding\), Conv/;

  it('an LSTM', async () => {
    const b = new Builder();
    const x = b.op('LSTM', [b.op('Gather', [b.w('emb', [V, D]), 'input_ids']), b.w('W', [1, 16, D]), b.w('R', [1, 16, 4])], [attrInt('hidden_size', 4)], 'encoder_lstm');
    await refused(() => importOnnx(b.model(b.poolHead(x))), FORMAT, /node 'encoder_lstm' \(LSTM\)/, SUPPORTED);
  });

  it('an If whose condition depends on the input', async () => {
    const b = new Builder();
    const x = b.op('Relu', [b.conv(b.embed())]);
    const len = b.op('Gather', [b.op('Shape', [x]), b.i64('two', [2], [])], [attrInt('axis', 0)]);
    const cond = b.op('Equal', [len, b.i64('five', [5], [])]);
    const branch = (n: string) =>
      createGraph({ name: n, node: [createNode({ opType: 'Identity', name: `${n}_id`, input: [x], output: [`${n}_y`] })], output: [makeTensorValueInfo(`${n}_y`, DataType.FLOAT, [])] });
    b.nodes.push(
      createNode({
        opType: 'If',
        name: 'length_switch',
        input: [cond],
        output: ['switched'],
        attribute: [createAttribute({ name: 'then_branch', type: AttributeType.GRAPH, g: branch('a') }), createAttribute({ name: 'else_branch', type: AttributeType.GRAPH, g: branch('b') })],
      }),
    );
    await refused(() => importOnnx(b.model(b.poolHead('switched'))), FORMAT, /node 'length_switch' \(If\)/, /depends on the input/, SUPPORTED);
  });

  it('a Loop and an op from another domain', async () => {
    const b = new Builder();
    const x = b.op('Loop', [b.i64('n', [3], []), '', b.conv(b.embed())], [], 'my_loop');
    await refused(() => importOnnx(b.model(b.poolHead(x))), FORMAT, /node 'my_loop' \(Loop\)/, SUPPORTED);
    const c = new Builder();
    c.nodes.push(createNode({ opType: 'FusedConv', domain: 'com.microsoft', name: 'fused', input: [c.embed(), c.w('conv_w', [4, D, 3])], output: ['f'] }));
    await refused(() => importOnnx(c.model(c.poolHead('f'))), FORMAT, /node 'fused' \(FusedConv\)/, /domain 'com\.microsoft'/);
  });

  it('convolutions with stride, dilation or groups other than 1', async () => {
    for (const [attr, pattern] of [
      [attrInts('strides', [2]), /strides \[2\]/],
      [attrInts('dilations', [2]), /dilations \[2\]/],
      [attrInt('group', 2), /group 2/],
    ] as const) {
      const b = new Builder();
      const y = b.poolHead(b.op('Relu', [b.conv(b.embed(), [attrInts('kernel_shape', [3]), attr])]));
      await refused(() => importOnnx(b.model(y)), FORMAT, /node 'conv' \(Conv\)/, pattern, SUPPORTED);
    }
  });

  it("padding that is neither 'valid', 'same' nor symmetric", async () => {
    const b = new Builder();
    const y = b.poolHead(b.conv(b.embed(), [attrInts('kernel_shape', [3]), attrInts('pads', [2, 0])]));
    await refused(
      () => importOnnx(b.model(y)), FORMAT, /node 'conv' \(Conv\)/,
      /padding \(2 before, 0 after\) for width 3 is neither 'valid' \(0, 0\), 'same' \(1, 1\) nor the same number of zeros on both sides \(at most 1024\)/,
    );
    const c = new Builder();
    const z = c.poolHead(c.conv(c.embed(), [attrInts('kernel_shape', [3]), attrInts('pads', [1025, 1025])]));
    await refused(() => importOnnx(c.model(z)), FORMAT, /node 'conv' \(Conv\)/, /padding \(1025 before, 1025 after\)/);
  });

  it('a Conv over [batch, time, channels] (no Transpose) and a 2-D kernel not spanning the embedding', async () => {
    const b = new Builder();
    const y = b.poolHead(b.conv(b.op('Gather', [b.w('emb', [V, D]), 'input_ids'])));
    await refused(() => importOnnx(b.model(y)), FORMAT, /node 'conv' \(Conv\)/, /\[batch, channels, time\]/, /\[batch, time, 6\]/);
    const c = new Builder();
    const x = c.op('Unsqueeze', [c.op('Gather', [c.w('emb', [V, D]), 'input_ids']), c.i64('ax', [1])]);
    const conv = c.op('Conv', [x, c.w('k', [4, 1, 3, 3]), c.w('kb', [4])], [attrInts('kernel_shape', [3, 3])], 'conv2d');
    await refused(() => importOnnx(c.model(c.poolHead(c.op('Squeeze', [conv, c.i64('ax3', [3])])))), FORMAT, /node 'conv2d' \(Conv\)/, /spanning the whole embedding/);
  });

  it('pooling over the wrong axis', async () => {
    const b = new Builder();
    await refused(() => importOnnx(b.model(b.poolHead(b.op('Relu', [b.conv(b.embed())]), [1]))), FORMAT, /node 'pool' \(ReduceMax\)/, /reduces the 4 axis/, /only pooling over time/);
    const c = new Builder();
    const mp = c.op('MaxPool', [c.op('Transpose', [c.op('Relu', [c.conv(c.embed())])], [attrInts('perm', [0, 2, 1])])], [attrInts('kernel_shape', [4])], 'maxpool');
    await refused(() => importOnnx(c.model(mp)), FORMAT, /node 'maxpool' \(MaxPool\)/, /\[batch, channels, time/);
  });

  it('an activation we do not have (SiLU: x * sigmoid(x)), a residual Add, a per-channel scale', async () => {
    const b = new Builder();
    const c = b.conv(b.embed());
    const silu = b.op('Mul', [c, b.op('Sigmoid', [c])]);
    await refused(() => importOnnx(b.model(b.poolHead(silu))), FORMAT, /node 'pool' \(ReduceMax\)/, /\(x \* sigmoid\(x\)\)/, /not one of the supported activations/);
    const r = new Builder();
    const e = r.embed();
    const c1 = r.op('Conv', [e, r.w('w1', [4, D, 3]), r.w('b1', [4])], [attrInts('kernel_shape', [3])]);
    const c2 = r.op('Conv', [e, r.w('w2', [4, D, 3]), r.w('b2', [4])], [attrInts('kernel_shape', [3])]);
    const res = r.op('Add', [c1, r.op('Relu', [c2])], [], 'residual');
    await refused(() => importOnnx(r.model(r.poolHead(res))), FORMAT, /node 'residual' \(Add\)/, /two different tensors/);
    // x + relu(x) is a function of one tensor, but not an activation we have: named where it is used.
    const q = new Builder();
    const x = q.conv(q.embed());
    await refused(() => importOnnx(q.model(q.poolHead(q.op('Add', [x, q.op('Relu', [x])])))), FORMAT, /node 'pool' \(ReduceMax\)/, /\(x \+ relu\(x\)\)/);
    const s = new Builder();
    const scaled = s.op('Mul', [s.op('Relu', [s.conv(s.embed())]), s.w('scale', [4, 1])], [], 'scale_mul');
    await refused(() => importOnnx(s.model(s.poolHead(scaled))), FORMAT, /node 'scale_mul' \(Mul\)/, /non-uniform constant 'scale'/);
  });

  it('ReLU6 spelled as Min(Relu(x), 6) is not taken for a ReLU', async () => {
    const b = new Builder();
    const six = b.init(makeFloat32Tensor('six', [], Float32Array.of(6)));
    const r6 = b.op('Min', [b.op('Relu', [b.conv(b.embed())]), six]);
    await refused(() => importOnnx(b.model(b.poolHead(r6))), FORMAT, /min\(relu\(x\), 6\)/);
  });

  it('a Concat of sequences before pooling, a Softmax in the middle, a Gemm over a sequence', async () => {
    const b = new Builder();
    const e = b.embed();
    const cat = b.op('Concat', [b.op('Relu', [e]), b.op('Tanh', [e])], [attrInt('axis', 1)], 'seqcat');
    await refused(() => importOnnx(b.model(b.poolHead(b.conv(cat)))), FORMAT, /node 'seqcat' \(Concat\)/, /before pooling/);
    const s = new Builder();
    const soft = s.op('Softmax', [s.op('ReduceMax', [s.conv(s.embed())], [attrInts('axes', [2]), attrInt('keepdims', 0)])], [attrInt('axis', 1)]);
    const y = s.op('Gemm', [soft, s.w('fc_w', [2, 4])], [attrInt('transB', 1)], 'fc');
    await refused(() => importOnnx(s.model(y)), FORMAT, /node 'fc' \(Gemm\)/, /Softmax is only supported as the last op/);
    const g = new Builder();
    const seqGemm = g.op('Gemm', [g.conv(g.embed()), g.w('fc_w', [2, 4])], [attrInt('transB', 1)], 'seq_gemm');
    await refused(() => importOnnx(g.model(seqGemm)), FORMAT, /node 'seq_gemm' \(Gemm\)/, /pooled features \[batch, features\]/);
  });

  it('a Flatten or Reshape that would merge time into channels', async () => {
    const b = new Builder();
    const f = b.op('Flatten', [b.op('Relu', [b.conv(b.embed())])], [attrInt('axis', 1)], 'flat');
    await refused(() => importOnnx(b.model(b.op('Gemm', [f, b.w('fc_w', [2, 4])], [attrInt('transB', 1)]))), FORMAT, /node 'flat' \(Flatten\)/, /merge the 4 and time axes/);
    const r = new Builder();
    const re = r.op('Reshape', [r.op('Relu', [r.conv(r.embed())]), r.i64('shape', [0, -1])], [], 'reshape');
    await refused(() => importOnnx(r.model(r.op('Gemm', [re, r.w('fc_w', [2, 4])], [attrInt('transB', 1)]))), FORMAT, /node 'reshape' \(Reshape\)/, /would merge or split/);
  });

  it('two inputs, a float input, no embedding, an output that is a sequence', async () => {
    const b = new Builder();
    const m = b.standard();
    m.graph!.input.push(makeTensorValueInfo('lengths', DataType.INT64, ['batch']));
    await refused(() => importOnnx(m), FORMAT, /one input/, /input_ids, lengths/);
    const f = new Builder();
    const fm = f.standard();
    fm.graph!.input = [makeTensorValueInfo('input_ids', DataType.FLOAT, ['batch', 'sequence'])];
    await refused(() => importOnnx(fm), FORMAT, /must be int64/);
    const s = new Builder();
    await refused(() => importOnnx(s.model(s.op('Relu', [s.conv(s.embed())]))), FORMAT, /class logits \[batch, classes\]/);
  });

  it('a Gemm whose weight does not fit the features, a dropout ratio of 1', async () => {
    const b = new Builder();
    const p = b.op('ReduceMax', [b.conv(b.embed())], [attrInts('axes', [2]), attrInt('keepdims', 0)]);
    await refused(() => importOnnx(b.model(b.op('Gemm', [p, b.w('fc_w', [2, 5])], [attrInt('transB', 1)], 'fc'))), FORMAT, /node 'fc' \(Gemm\)/, /expects 5 input features but receives 4/);
    const d = new Builder();
    const pd = d.op('ReduceMax', [d.conv(d.embed())], [attrInts('axes', [2]), attrInt('keepdims', 0)]);
    const drop = d.op('Dropout', [pd], [attrFloat('ratio', 1)], 'drop');
    await refused(() => importOnnx(d.model(d.op('Gemm', [drop, d.w('fc_w', [2, 4])], [attrInt('transB', 1)]), 11)), FORMAT, /node 'drop' \(Dropout\)/, /ratio 1 is not in \[0, 1\)/);
  });

  it('a huge ConstantOfShape is refused before allocating', async () => {
    const b = new Builder();
    const big = b.op('ConstantOfShape', [b.i64('shape', [1_000_000, 1_000_000])], [], 'zeros');
    const y = b.op('Add', [b.op('Relu', [b.conv(b.embed())]), b.op('Reshape', [big, b.i64('s1', [-1])])]);
    const before = process.memoryUsage().rss;
    await refused(() => importOnnx(b.model(b.poolHead(y))), FORMAT, /node 'zeros' \(ConstantOfShape\)/, /more than the \d+ accepted/);
    expect(process.memoryUsage().rss - before).toBeLessThan(10 * 1024 * 1024);
  });

  it('an elementwise chain that doubles itself 60 times stays cheap', async () => {
    const b = new Builder();
    let x = b.op('Relu', [b.conv(b.embed())]);
    for (let i = 0; i < 60; i++) x = b.op('Add', [x, x]);
    await refused(() => importOnnx(b.model(b.poolHead(x))), FORMAT, /grows past 200 operations/);
  });

  it('a value nobody produces, and a graph out of order', async () => {
    const b = new Builder();
    await refused(() => importOnnx(b.model(b.poolHead(b.op('Relu', ['ghost'])))), FORMAT, /'ghost' is used but no node, initializer or input produces it/);
    const o = new Builder();
    const m = o.standard();
    m.graph!.node.reverse();
    await refused(() => importOnnx(m), FORMAT, /not in topological order/);
  });
});
