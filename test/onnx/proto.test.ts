import { describe, expect, it } from 'vitest';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { OnnxFormatError } from '../../src/onnx/errors.js';
import { ProtoWriter, WIRE_LEN } from '../../src/onnx/protobuf.js';
import {
  AttributeType,
  DataType,
  attrInt,
  bytesToString,
  createGraph,
  createModel,
  createNode,
  createTensor,
  decodeModel,
  decodeModelFile,
  encodeModel,
  makeFloat32Tensor,
  makeInt64Tensor,
  makeTensorValueInfo,
  tensorElementCount,
  tensorToFloat32,
  tensorToInt32,
  tensorToInt64,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type StringStringEntryProto,
  type TensorProto,
} from '../../src/onnx/proto.js';
import { TestRandom } from '../helpers/random.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/onnx/', import.meta.url));
const TINY = path.join(FIXTURES, 'sst2_tiny_conv1d.opset13.onnx');
const SHARED_MODELS = fileURLToPath(new URL('../../../shared/models/', import.meta.url));

interface TinyExpected {
  ir_version: number;
  producer_name: string;
  producer_version: string;
  opset: [string, number][];
  graph_name: string;
  op_types: string[];
  node_names: string[];
  initializers: { name: string; dims: number[]; data_type: number; raw_bytes: number; first: number[]; last: number; sum: number }[];
  conv0_attributes: Record<string, number | number[]>;
  gemm_attributes: Record<string, number>;
}

interface FeaturesExpected {
  ir_version: number;
  producer_name: string;
  model_version: number;
  domain: string;
  doc_string: string;
  opset: [string, number][];
  metadata: Record<string, string>;
  op_types: string[];
  initializers: { name: string; dims: number[]; data_type: number; has_raw: boolean; values: (number | string)[] }[];
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as T;
}

function formatError(fn: () => unknown): OnnxFormatError {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof OnnxFormatError)) throw err;
    expect(err.code).toBe('ERR_FINETUNE_ONNX_FORMAT');
    return err;
  }
  throw new Error('expected an OnnxFormatError, nothing was thrown');
}

/** Encodes a minimal model around `initializers` and decodes it again (so tensors know their path). */
function roundTripInitializers(...initializers: TensorProto[]): TensorProto[] {
  const bytes = encodeModel(minimalModel(createGraph({ name: 'g', initializer: initializers })));
  return decodeModel(bytes, { file: 'hostile.onnx' }).graph!.initializer;
}

function minimalModel(graph: GraphProto): ModelProto {
  return createModel({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: 'test', graph });
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

describe('the tiny PyTorch model', () => {
  const bytes = readFileSync(TINY);
  const expected = readJson<TinyExpected>('sst2_tiny_conv1d.expected.json');
  const model = decodeModel(bytes, { file: TINY });
  const graph = model.graph!;

  it('has the header onnx reports', () => {
    expect(model.irVersion).toBe(expected.ir_version);
    expect(model.producerName).toBe('pytorch');
    expect(model.producerVersion).toBe(expected.producer_version);
    expect(model.opsetImport).toEqual([{ domain: '', version: 13 }]);
    expect(graph.name).toBe(expected.graph_name);
  });

  it('has the nodes in order', () => {
    expect(graph.node.map((n) => n.opType)).toEqual([
      'Gather', 'Transpose', 'Conv', 'Relu', 'ReduceMax', 'Conv', 'Relu', 'ReduceMax', 'Conv', 'Relu', 'ReduceMax',
      'Concat', 'Gemm',
    ]);
    expect(graph.node.map((n) => n.opType)).toEqual(expected.op_types);
    expect(graph.node.map((n) => n.name)).toEqual(expected.node_names);
    expect(graph.node[0].input).toEqual(['embedding.weight', 'input_ids']);
    expect(graph.node[12].output).toEqual(['logits']);
  });

  it('has the attributes onnx reports', () => {
    const conv = Object.fromEntries(graph.node[2].attribute.map((a) => [a.name, a.type === AttributeType.INTS ? a.ints : a.i]));
    expect(conv).toEqual(expected.conv0_attributes);
    const gemm = Object.fromEntries(graph.node[12].attribute.map((a) => [a.name, a.type === AttributeType.FLOAT ? a.f : a.i]));
    expect(gemm).toEqual(expected.gemm_attributes);
    const reduce = graph.node[4].attribute;
    expect(reduce.map((a) => [a.name, a.type])).toEqual([['axes', AttributeType.INTS], ['keepdims', AttributeType.INT]]);
    expect(reduce[0].ints).toEqual([2]);
    expect(reduce[1].i).toBe(0);
  });

  it('has input input_ids int64 [batch, seq] and output logits float32 [batch, 2]', () => {
    expect(graph.input).toHaveLength(1);
    const input = graph.input[0];
    expect(input.name).toBe('input_ids');
    expect(input.type?.tensorType?.elemType).toBe(DataType.INT64);
    expect(input.type?.tensorType?.shape?.dim).toEqual([
      { dimParam: 'batch', denotation: '' },
      { dimParam: 'seq', denotation: '' },
    ]);
    const output = graph.output[0];
    expect(output.name).toBe('logits');
    expect(output.type?.tensorType?.elemType).toBe(DataType.FLOAT);
    expect(output.type?.tensorType?.shape?.dim).toEqual([
      { dimParam: 'batch', denotation: '' },
      { dimValue: 2, denotation: '' },
    ]);
  });

  it('has the initializers, raw_data kept as views of the file', () => {
    expect(graph.initializer.map((t) => t.name)).toEqual(expected.initializers.map((t) => t.name));
    expect(graph.initializer.map((t) => t.dims)).toEqual(expected.initializers.map((t) => t.dims));
    expect(graph.initializer.map((t) => [t.name, t.dims])).toEqual([
      ['embedding.weight', [500, 16]],
      ['convs.0.weight', [8, 16, 2]],
      ['convs.0.bias', [8]],
      ['convs.1.weight', [8, 16, 3]],
      ['convs.1.bias', [8]],
      ['convs.2.weight', [8, 16, 4]],
      ['convs.2.bias', [8]],
      ['fc.weight', [2, 24]],
      ['fc.bias', [2]],
    ]);
    for (const t of graph.initializer) {
      expect(t.dataType).toBe(DataType.FLOAT);
      expect(t.rawData).toBeDefined();
      expect(t.rawData!.buffer).toBe(bytes.buffer);
      expect(Object.getPrototypeOf(t.rawData)).toBe(Uint8Array.prototype);
    }
  });

  it('float values equal those onnx reads, copied to aligned memory', () => {
    let unaligned = 0;
    for (const [i, t] of graph.initializer.entries()) {
      const want = expected.initializers[i];
      expect(t.rawData!.length).toBe(want.raw_bytes);
      if (t.rawData!.byteOffset % 4 !== 0) unaligned++;
      const values = tensorToFloat32(t);
      expect(values.byteOffset).toBe(0);
      expect(values.length).toBe(tensorElementCount(t));
      expect(Array.from(values.subarray(0, 5))).toEqual(want.first);
      expect(values[values.length - 1]).toBe(want.last);
      expect(sum(values)).toBeCloseTo(want.sum, 9);
    }
    expect(unaligned).toBeGreaterThan(0); // the case the copy exists for
  });

  it('re-encodes byte for byte, and decodes to the same structures', () => {
    const again = encodeModel(model);
    expect(again.length).toBe(bytes.length);
    expect(Buffer.compare(Buffer.from(again), bytes)).toBe(0);
    expect(decodeModel(again)).toEqual(model);
  });

  it('the test vectors and vocabulary fixtures are consistent with it', () => {
    const vocab = JSON.parse(readFileSync(path.join(FIXTURES, 'sst2_tiny_conv1d.vocab.json'), 'utf8')) as Record<string, number>;
    expect(Object.keys(vocab)).toHaveLength(graph.initializer[0].dims[0]);
    expect(vocab['<pad>']).toBe(0);
    const vectors = JSON.parse(readFileSync(path.join(FIXTURES, 'sst2_tiny_conv1d.testvectors.json'), 'utf8')) as {
      single: { logits: number[] }[];
    };
    expect(vectors.single[0].logits).toHaveLength(graph.initializer[8].dims[0]);
  });
});

describe('a model made by the onnx Python package (features.onnx)', () => {
  const file = path.join(FIXTURES, 'features.onnx');
  const expected = readJson<FeaturesExpected>('features.expected.json');
  const model = decodeModel(readFileSync(file), { file });
  const graph = model.graph!;
  const init = (name: string) => graph.initializer.find((t) => t.name === name)!;

  it('has the model fields and metadata', () => {
    expect(model.irVersion).toBe(expected.ir_version);
    expect(model.producerName).toBe(expected.producer_name);
    expect(model.modelVersion).toBe(expected.model_version);
    expect(model.domain).toBe(expected.domain);
    expect(model.docString).toBe(expected.doc_string);
    expect(model.opsetImport.map((o) => [o.domain, o.version])).toEqual(expected.opset);
    expect(Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]))).toEqual(expected.metadata);
    expect(graph.docString).toBe('graph doc');
    expect(graph.node.map((n) => n.opType)).toEqual(expected.op_types);
  });

  it('reads every initializer as onnx does', () => {
    for (const want of expected.initializers) {
      const t = init(want.name);
      expect(t.dims).toEqual(want.dims);
      expect(t.dataType).toBe(want.data_type);
      expect(t.rawData !== undefined).toBe(want.has_raw);
      if (want.data_type === DataType.FLOAT) expect(Array.from(tensorToFloat32(t))).toEqual(want.values);
      if (want.data_type === DataType.INT64) expect(Array.from(tensorToInt64(t), String)).toEqual(want.values);
      if (want.data_type === DataType.INT32) expect(Array.from(tensorToInt32(t))).toEqual(want.values);
      if (want.data_type === DataType.DOUBLE) expect(Array.from(t.doubleData)).toEqual(want.values);
      if (want.data_type === DataType.STRING) expect(t.stringData.map(bytesToString)).toEqual(want.values);
    }
    expect(init('w_float_data').floatData).toBeInstanceOf(Float32Array);
    expect(tensorToFloat32(init('empty'))).toHaveLength(0);
    expect(Array.from(tensorToFloat32(init('scalar')))).toEqual([42]);
  });

  it('reads every attribute kind', () => {
    const constant = graph.node[0].attribute[0];
    expect(constant.name).toBe('value');
    expect(constant.type).toBe(AttributeType.TENSOR);
    expect(Array.from(tensorToInt64(constant.t!))).toEqual([-1n, 300n]);
    const custom = graph.node[1];
    expect(custom.domain).toBe('test.domain');
    expect(custom.docString).toBe('doc');
    const a = Object.fromEntries(custom.attribute.map((x) => [x.name, x])) as Record<string, AttributeProto>;
    expect(a.f.type).toBe(AttributeType.FLOAT);
    expect(a.f.f).toBe(0.5);
    expect(a.i.i).toBe(-3);
    expect(a.zero.type).toBe(AttributeType.INT);
    expect(a.zero.i).toBe(0);
    expect(bytesToString(a.s.s)).toBe('hello');
    expect(a.floats.floats).toEqual([1.5, -2]);
    expect(a.ints.ints).toEqual([-1, 2, 300000]);
    expect(a.strings.strings.map(bytesToString)).toEqual(['a', 'bc']);
  });

  it('decodes If subgraphs so control flow can be detected', () => {
    const ifNode = graph.node[2];
    expect(ifNode.opType).toBe('If');
    const branches = Object.fromEntries(ifNode.attribute.map((x) => [x.name, x]));
    expect(branches.then_branch.type).toBe(AttributeType.GRAPH);
    expect(branches.then_branch.g?.node.map((n) => n.opType)).toEqual(['Identity']);
    expect(branches.else_branch.g?.node.map((n) => n.opType)).toEqual(['Neg']);
    expect(branches.else_branch.g?.output[0].name).toBe('e_out');
  });

  it('reads value infos, dim_value 0, unknown dims and unknown rank', () => {
    expect(graph.input[0].type?.tensorType?.shape?.dim).toEqual([
      { dimParam: 'batch', denotation: '' },
      { dimValue: 0, denotation: '' },
      { dimValue: 3, denotation: '' },
    ]);
    expect(graph.input[1].type?.tensorType).toEqual({ elemType: DataType.BOOL, shape: { dim: [] } });
    expect(graph.input[2].type?.tensorType).toEqual({ elemType: DataType.FLOAT });
    expect(graph.output[0].type?.tensorType?.shape?.dim[0]).toEqual({ denotation: '' });
    expect(graph.valueInfo.map((v) => v.name)).toEqual(['y']);
  });

  it('refuses float16, double, int64 and string tensors where float32 is needed, naming them', () => {
    const f16 = formatError(() => tensorToFloat32(init('h_f16')));
    expect(f16.message).toBe(
      `${file}: graph.initializer[6] (h_f16): data_type is float16 (10), but float32 (1) is needed here; convert the model to float32 before importing it`,
    );
    expect(f16.path).toBe('graph.initializer[6].data_type');
    expect(f16.file).toBe(file);
    expect(formatError(() => tensorToFloat32(init('d_data'))).message).toMatch(/\(d_data\): data_type is float64 \(double\) \(11\)/);
    expect(formatError(() => tensorToFloat32(init('i64_data'))).message).toMatch(/\(i64_data\): data_type is int64 \(7\), but float32/);
    expect(formatError(() => tensorToFloat32(init('s_string'))).message).toMatch(/\(s_string\): data_type is string \(8\)/);
    expect(formatError(() => tensorToInt64(init('w_float_data'))).message).toMatch(/data_type is float32 \(1\), but int64 \(7\)/);
  });

  it('round-trips to the same structures', () => {
    expect(decodeModel(encodeModel(model))).toEqual(model);
  });
});

describe('encoding models built in TypeScript', () => {
  it('writes float32 raw data little-endian and reads it back', () => {
    const w = new Float32Array([1, -2.5, 3.25, Math.fround(0.1), -0, Number.POSITIVE_INFINITY]);
    const graph = createGraph({
      name: 'built',
      node: [createNode({ opType: 'Identity', input: ['w'], output: ['y'], attribute: [attrInt('zero', 0)] })],
      initializer: [makeFloat32Tensor('w', [2, 3], w), makeInt64Tensor('shape', [2], [-1, 3])],
      input: [makeTensorValueInfo('x', DataType.INT64, ['batch', 5])],
      output: [makeTensorValueInfo('y', DataType.FLOAT, [2, 3])],
    });
    const model = minimalModel(graph);
    model.metadataProps.push({ key: 'labels', value: '["neg","pos"]' });
    const bytes = encodeModel(model);
    const back = decodeModel(bytes);
    expect(back).toEqual(model);
    expect(Array.from(tensorToFloat32(back.graph!.initializer[0]))).toEqual(Array.from(w));
    expect(Object.is(tensorToFloat32(back.graph!.initializer[0])[4], -0)).toBe(true);
    expect(Array.from(tensorToInt64(back.graph!.initializer[1]))).toEqual([-1n, 3n]);
    // raw_data little-endian: 1.0f = 00 00 80 3f
    const raw = back.graph!.initializer[0].rawData!;
    expect(Array.from(raw.subarray(0, 4))).toEqual([0x00, 0x00, 0x80, 0x3f]);
    // an INT attribute of value 0 is still written (its type says which field holds the value)
    expect(back.graph!.node[0].attribute[0]).toMatchObject({ name: 'zero', type: AttributeType.INT, i: 0 });
  });
});

describe('hostile files', () => {
  const tiny = readFileSync(TINY);

  it('an empty file', () => {
    const e = formatError(() => decodeModel(new Uint8Array(0), { file: 'empty.onnx' }));
    expect(e.message).toBe('empty.onnx: empty file (0 bytes); not an ONNX model');
  });

  it('a file over the size limit is refused before parsing', () => {
    expect(formatError(() => decodeModel(tiny, { maxBytes: 1000 })).message).toMatch(/38655 bytes, more than the 1000 bytes accepted/);
  });

  it('truncated at 200 random points and at every point near both ends', () => {
    const rng = new TestRandom(5);
    const cuts = new Set<number>();
    for (let i = 1; i < 64; i++) {
      cuts.add(i);
      cuts.add(tiny.length - i);
    }
    while (cuts.size < 126 + 200) cuts.add(rng.int(1, tiny.length - 1));
    for (const cut of cuts) {
      const e = formatError(() => decodeModel(tiny.subarray(0, cut), { file: 'cut.onnx' }));
      expect(e.message.startsWith('cut.onnx: ')).toBe(true);
    }
  });

  it('random bytes (seeded, 2000 trials)', () => {
    const rng = new TestRandom(42);
    const messages = new Set<string>();
    for (let trial = 0; trial < 2000; trial++) {
      const n = trial < 200 ? rng.int(1, 16) : rng.int(1, 4096);
      const buf = new Uint8Array(n);
      for (let i = 0; i < n; i++) buf[i] = rng.int(0, 255);
      const e = formatError(() => decodeModel(buf));
      messages.add(e.message.replace(/[0-9]+/g, 'N').slice(0, 40));
    }
    expect(messages.size).toBeGreaterThan(3);
  });

  it('the real model with random bytes changed (seeded) decodes or fails cleanly, tensors too', () => {
    const rng = new TestRandom(7);
    let decoded = 0;
    for (let trial = 0; trial < 400; trial++) {
      const buf = new Uint8Array(tiny);
      const flips = rng.int(1, 6);
      // bias towards the structure-heavy tail of the file (nodes and value infos after the weights)
      for (let k = 0; k < flips; k++) buf[rng.next() < 0.5 ? rng.int(0, buf.length - 1) : rng.int(buf.length - 2000, buf.length - 1)] = rng.int(0, 255);
      let model: ModelProto;
      try {
        model = decodeModel(buf);
      } catch (err) {
        expect(err).toBeInstanceOf(OnnxFormatError);
        continue;
      }
      decoded++;
      for (const t of model.graph!.initializer) {
        try {
          tensorToFloat32(t);
        } catch (err) {
          expect(err).toBeInstanceOf(OnnxFormatError);
        }
      }
    }
    expect(decoded).toBeGreaterThan(0);
  });

  it('a 1e12-element initializer with 4 bytes of raw_data fails before allocating', () => {
    const [t] = roundTripInitializers(
      createTensor({ name: 'embedding.weight', dims: [1_000_000, 1_000_000], dataType: DataType.FLOAT, rawData: new Uint8Array(4) }),
    );
    const before = process.memoryUsage().rss;
    let e: OnnxFormatError | undefined;
    for (let i = 0; i < 20; i++) e = formatError(() => tensorToFloat32(t));
    const grown = process.memoryUsage().rss - before;
    expect(e!.message).toBe(
      'hostile.onnx: graph.initializer[0] (embedding.weight): raw_data holds 4 bytes but dims [1000000, 1000000] x float32 need 4000000000000 bytes',
    );
    expect(e!.path).toBe('graph.initializer[0].raw_data');
    expect(e!.file).toBe('hostile.onnx');
    expect(grown).toBeLessThan(10 * 1024 * 1024);
  });

  it('raw_data one byte off', () => {
    const [t] = roundTripInitializers(createTensor({ name: 'w', dims: [2, 3], dataType: DataType.FLOAT, rawData: new Uint8Array(23) }));
    expect(formatError(() => tensorToFloat32(t)).message).toMatch(/raw_data holds 23 bytes but dims \[2, 3\] x float32 need 24 bytes/);
  });

  it('float_data of the wrong count, no data at all, or both raw_data and float_data', () => {
    const [a, b, c] = roundTripInitializers(
      createTensor({ name: 'a', dims: [3], dataType: DataType.FLOAT, floatData: new Float32Array(2) }),
      createTensor({ name: 'b', dims: [3], dataType: DataType.FLOAT }),
      createTensor({ name: 'c', dims: [1], dataType: DataType.FLOAT, floatData: new Float32Array(1), rawData: new Uint8Array(4) }),
    );
    expect(formatError(() => tensorToFloat32(a)).message).toMatch(/\(a\): float_data holds 2 values but dims \[3\] need 3/);
    expect(formatError(() => tensorToFloat32(b)).message).toMatch(/\(b\): holds no data/);
    expect(formatError(() => tensorToFloat32(c)).message).toMatch(/\(c\): holds both raw_data and float_data/);
  });

  it('negative dims', () => {
    const [t] = roundTripInitializers(createTensor({ name: 'neg', dims: [-1, 4], dataType: DataType.FLOAT, rawData: new Uint8Array(16) }));
    expect(t.dims).toEqual([-1, 4]);
    const e = formatError(() => tensorToFloat32(t));
    expect(e.message).toMatch(/graph\.initializer\[0\] \(neg\): dims \[-1, 4\] hold a negative dimension \(-1\)/);
    expect(e.path).toBe('graph.initializer[0].dims');
  });

  it('dims whose product overflows', () => {
    const [a, b] = roundTripInitializers(
      createTensor({ name: 'big', dims: [2 ** 31, 2 ** 31, 2 ** 31], dataType: DataType.FLOAT, rawData: new Uint8Array(4) }),
      createTensor({ name: 'over', dims: [2 ** 20, 2 ** 20, 2], dataType: DataType.INT64, rawData: new Uint8Array(8) }),
    );
    expect(formatError(() => tensorToFloat32(a)).message).toMatch(/\(big\): dims \[2147483648, 2147483648, 2147483648\] describe more than 2\^40 elements/);
    expect(formatError(() => tensorToInt64(b)).message).toMatch(/describe more than 2\^40 elements/);
    // zero anywhere makes an empty tensor, however large the other dims
    const [z] = roundTripInitializers(createTensor({ name: 'z', dims: [2 ** 50, 0], dataType: DataType.FLOAT }));
    expect(tensorToFloat32(z)).toHaveLength(0);
  });

  it('a dim beyond 2^53 or 2^63 in the file is a decode error naming the field', () => {
    const w = new ProtoWriter();
    w.uint64Field(1, 7);
    w.messageField(7, (g) => {
      g.messageField(5, (t) => {
        t.tag(1, 0).varintBig(2n ** 62n);
      });
    });
    w.messageField(8, (o) => o.uint64Field(2, 13));
    const e = formatError(() => decodeModel(w.finish(), { file: 'dims.onnx' }));
    expect(e.message).toMatch(/^dims\.onnx: graph\.initializer\[0\]\.dims: value 4611686018427387904 is outside the safe integer range/);
    expect(e.path).toBe('graph.initializer[0].dims');
  });

  it('a 200-deep nesting of subgraphs', () => {
    let inner = createGraph({ name: 'leaf' });
    for (let i = 0; i < 200; i++) {
      inner = createGraph({
        name: `g${i}`,
        node: [createNode({ opType: 'If', attribute: [{ ...attrInt('x', 0), type: AttributeType.GRAPH, g: inner }] })],
      });
    }
    const bytes = encodeModel(minimalModel(inner));
    const e = formatError(() => decodeModel(bytes, { file: 'deep.onnx' }));
    expect(e.message).toMatch(/^deep\.onnx: graph(\.node\[0\]\.attribute\[0\]\.g)+.*: messages nested deeper than 64 levels/);
    // a few levels decode fine
    let shallow = createGraph({ name: 'leaf' });
    for (let i = 0; i < 5; i++) {
      shallow = createGraph({ node: [createNode({ opType: 'Loop', attribute: [{ ...attrInt('body', 0), type: AttributeType.GRAPH, g: shallow }] })] });
    }
    expect(decodeModel(encodeModel(minimalModel(shallow))).graph!.node[0].attribute[0].g!.node[0].opType).toBe('Loop');
  });

  it('an invalid wire type', () => {
    const bytes = new Uint8Array([0x08, 0x07, 0x3f, 0x00]);
    expect(formatError(() => decodeModel(bytes, { file: 'w.onnx' })).message).toMatch(/^w\.onnx: model: field 7 has invalid wire type 7/);
    const inGraph = new Uint8Array([0x08, 0x07, 0x3a, 0x02, 0x0e, 0x00]);
    expect(formatError(() => decodeModel(inGraph)).message).toMatch(/^graph: field 1 has invalid wire type 6/);
  });

  it('a length prefix larger than the buffer', () => {
    const bytes = new Uint8Array([0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0x7f, 0x00]);
    const e = formatError(() => decodeModel(bytes, { file: 'len.onnx' }));
    expect(e.message).toMatch(/^len\.onnx: graph: length prefix 268435455 runs past the end of the enclosing message \(1 bytes left\)/);
    expect(e.path).toBe('graph');
  });

  it('a known field with the wrong wire type', () => {
    const bytes = new Uint8Array([0x0a, 0x00]); // ir_version as length-delimited
    expect(formatError(() => decodeModel(bytes)).message).toMatch(/^ir_version: expected wire type 0 \(varint\)/);
  });

  it('valid protobuf that is not an ONNX model', () => {
    expect(formatError(() => decodeModel(new Uint8Array([0x78, 0x01]))).message).toMatch(/ir_version is missing/);
    expect(formatError(() => decodeModel(new Uint8Array([0x08, 0x07]))).message).toMatch(/graph is missing/);
    expect(formatError(() => decodeModel(new Uint8Array([0x08, 0x07, 0x3a, 0x00]))).message).toMatch(/opset_import is empty/);
    const negative = new ProtoWriter().int64Field(1, -3).finish();
    expect(formatError(() => decodeModel(negative)).message).toMatch(/ir_version is -3/);
  });

  it('a flood of tiny messages hits the item limit instead of exhausting memory', () => {
    const w = new ProtoWriter();
    w.uint64Field(1, 7);
    w.messageField(7, (g) => {
      for (let i = 0; i < 10_000; i++) g.tag(1, WIRE_LEN).varint(0);
    });
    expect(formatError(() => decodeModel(w.finish(), { maxItems: 5000 })).message).toMatch(/^graph\.node\[\d+\]: more than 5000 messages/);
  });
});

describe('external data', () => {
  let dir = '';
  let modelDir = '';
  const values = (readJson<{ values: number[] }>('external/expected.json')).values;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'finetune-onnx-'));
    modelDir = path.join(dir, 'model');
    mkdirSync(path.join(modelDir, 'sub'), { recursive: true });
    const weights = readFileSync(path.join(FIXTURES, 'external', 'weights.bin'));
    writeFileSync(path.join(modelDir, 'weights.bin'), weights);
    writeFileSync(path.join(modelDir, 'sub', 'inner.bin'), weights);
    writeFileSync(path.join(dir, 'outside.bin'), weights); // same bytes: a leak would be indistinguishable by value
    symlinkSync(path.join(dir, 'outside.bin'), path.join(modelDir, 'link_out.bin'));
    symlinkSync(dir, path.join(modelDir, 'up'));
    symlinkSync('weights.bin', path.join(modelDir, 'link_in.bin'));
    writeFileSync(path.join(dir, 'outside2.bin'), weights);
    linkSync(path.join(dir, 'outside2.bin'), path.join(modelDir, 'hard.bin'));
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  function ext(entries: Record<string, string> | StringStringEntryProto[]): TensorProto {
    const externalData = Array.isArray(entries) ? entries : Object.entries(entries).map(([key, value]) => ({ key, value }));
    return createTensor({ name: 'ext_w', dims: [3, 4], dataType: DataType.FLOAT, dataLocation: 1, externalData });
  }
  const ok = { location: 'weights.bin', offset: '11', length: '48' };

  it('reads the fixture made by onnx (unaligned offset)', () => {
    const file = path.join(FIXTURES, 'external', 'model.onnx');
    const { model, modelDir: folder } = decodeModelFile(file);
    const t = model.graph!.initializer[0];
    expect(t.dataLocation).toBe(1);
    expect(t.externalData.map((e) => e.key)).toEqual(['location', 'offset', 'length']);
    expect(Array.from(tensorToFloat32(t, { modelDir: folder }))).toEqual(values);
    expect(decodeModel(encodeModel(model))).toEqual(model);
  });

  it('reads from a sub-folder, through a symlink that stays inside, and with length omitted', () => {
    expect(Array.from(tensorToFloat32(ext({ ...ok, location: 'sub/inner.bin' }), { modelDir }))).toEqual(values);
    expect(Array.from(tensorToFloat32(ext({ ...ok, location: 'link_in.bin' }), { modelDir }))).toEqual(values);
    const trailing = ext({ location: 'weights.bin', offset: '11' });
    expect(formatError(() => tensorToFloat32(trailing, { modelDir })).message).toMatch(/external data holds 52 bytes but dims \[3, 4\] x float32 need 48 bytes/);
  });

  const refused: [string, Record<string, string>, RegExp][] = [
    ['../x', { ...ok, location: '../x' }, /contains a '\.\.' segment/],
    ['/etc/passwd', { ...ok, location: '/etc/passwd' }, /"\/etc\/passwd" is an absolute path/],
    ['a/../../x', { ...ok, location: 'a/../../x' }, /contains a '\.\.' segment/],
    ['..\\x', { ...ok, location: '..\\x' }, /contains a '\.\.' segment/],
    ['C:\\x', { ...ok, location: 'C:\\x' }, /is an absolute path/],
    ['a NUL byte', { ...ok, location: 'weights.bin\0' }, /NUL byte/],
    ['no location', { offset: '0' }, /has no location/],
    ['a missing file', { ...ok, location: 'nope.bin' }, /not found in the model's folder/],
    ['a symlink out', { ...ok, location: 'link_out.bin' }, /resolves outside the model's folder/],
    ['a symlinked folder out', { ...ok, location: 'up/outside.bin' }, /resolves outside the model's folder/],
    ['a hard link', { ...ok, location: 'hard.bin' }, /has 2 hard links; refused/],
    ['the folder itself', { ...ok, location: '.' }, /names the model's folder itself/],
    ['offset past EOF', { ...ok, offset: '1000' }, /offset 1000 is past the end of "weights\.bin" \(63 bytes\)/],
    ['length past EOF', { ...ok, length: '60' }, /offset 11 \+ length 60 is past the end/],
    ['offset overflowing 64 bits', { ...ok, offset: '99999999999999999999' }, /does not fit in 64 bits/],
    ['offset + length overflowing', { ...ok, offset: '18446744073709551615', length: '18446744073709551615' }, /past the end/],
    ['a hex offset', { ...ok, offset: '0x0b' }, /offset "0x0b" is not a plain decimal number/],
    ['a negative offset', { ...ok, offset: '-1' }, /not a plain decimal/],
    ['an exponent length', { ...ok, length: '4.8e1' }, /length "4\.8e1" is not a plain decimal/],
    ['a padded length', { ...ok, length: ' 48' }, /not a plain decimal/],
    ['an empty length', { ...ok, length: '' }, /not a plain decimal/],
    ['a wrong length', { ...ok, length: '44' }, /holds 44 bytes but dims \[3, 4\] x float32 need 48 bytes/],
  ];
  for (const [what, entries, message] of refused) {
    it(`refuses ${what}`, () => {
      const e = formatError(() => tensorToFloat32(ext(entries), { modelDir, file: 'm.onnx', path: 'graph.initializer[0]' }));
      expect(e.message).toMatch(message);
      expect(e.message.startsWith('m.onnx: graph.initializer[0] (ext_w): ')).toBe(true);
      expect(e.path).toBe('graph.initializer[0].external_data');
    });
  }

  it('refuses a duplicated key', () => {
    const t = ext([{ key: 'location', value: 'weights.bin' }, { key: 'location', value: '../x' }]);
    expect(formatError(() => tensorToFloat32(t, { modelDir })).message).toMatch(/key "location" given twice/);
  });

  it('needs a model folder, and refuses an empty one', () => {
    expect(formatError(() => tensorToFloat32(ext(ok))).message).toMatch(/needs the model's folder/);
    expect(formatError(() => tensorToFloat32(ext(ok), { modelDir: '' })).message).toMatch(/needs the model's folder/);
    expect(formatError(() => tensorToFloat32(ext(ok), { modelDir: path.join(dir, 'missing') })).message).toMatch(/cannot be resolved/);
  });

  it('refuses external data that also carries raw_data, and an unknown data_location', () => {
    const both = { ...ext(ok), rawData: new Uint8Array(48) };
    expect(formatError(() => tensorToFloat32(both, { modelDir })).message).toMatch(/must not also hold raw_data/);
    const weird = { ...ext(ok), dataLocation: 5 };
    expect(formatError(() => tensorToFloat32(weird, { modelDir })).message).toMatch(/data_location 5/);
  });
});

describe('decodeModelFile', () => {
  it('reads a file and reports where it lies', () => {
    const { model, modelDir } = decodeModelFile(TINY);
    expect(model.graph!.node).toHaveLength(13);
    expect(modelDir).toBe(path.dirname(TINY));
  });
  it('refuses missing files, folders and files over the limit', () => {
    expect(formatError(() => decodeModelFile(path.join(FIXTURES, 'nope.onnx'))).message).toMatch(/cannot read the model file/);
    expect(formatError(() => decodeModelFile(FIXTURES)).message).toMatch(/not a regular file/);
    expect(formatError(() => decodeModelFile(TINY, { maxBytes: 10 })).message).toMatch(/more than the 10 bytes accepted/);
  });
});

describe('the larger reference models (when ../shared is present)', () => {
  const models: [string, string[], [string, number[]]][] = [
    [
      'sst2_conv1d.opset13.onnx',
      ['Gather', 'Transpose', 'Conv', 'Relu', 'ReduceMax', 'Conv', 'Relu', 'ReduceMax', 'Conv', 'Relu', 'ReduceMax', 'Concat', 'Gemm'],
      ['embedding.weight', [14830, 300]],
    ],
    [
      'mr_kim2d_tanh.opset13.onnx',
      ['Gather', 'Constant', 'Unsqueeze', 'Conv', 'Tanh', 'Constant', 'Squeeze', 'GlobalMaxPool', 'Constant', 'Squeeze'],
      ['embedding.weight', [19255, 300]],
    ],
  ];
  for (const [name, ops, [embName, embDims]] of models) {
    const file = path.join(SHARED_MODELS, name);
    it.skipIf(!existsSync(file))(`${name}: decodes, reads its weights and re-encodes byte for byte`, () => {
      const bytes = readFileSync(file);
      const model = decodeModel(bytes, { file });
      const graph = model.graph!;
      expect(graph.node.slice(0, ops.length).map((n) => n.opType)).toEqual(ops);
      const emb = graph.initializer.find((t) => t.name === embName)!;
      expect(emb.dims).toEqual(embDims);
      const values = tensorToFloat32(emb, { modelDir: SHARED_MODELS });
      expect(values.length).toBe(embDims[0] * embDims[1]);
      expect(values.every(Number.isFinite)).toBe(true);
      for (const t of graph.initializer) expect(tensorToFloat32(t).length).toBe(tensorElementCount(t));
      for (const n of graph.node.filter((x) => x.opType === 'Constant')) {
        expect(tensorToInt64(n.attribute[0].t!).length).toBeGreaterThan(0);
      }
      const again = encodeModel(model);
      expect(Buffer.compare(Buffer.from(again), bytes)).toBe(0);
    });
  }
});
