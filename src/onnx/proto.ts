/**
 * Typed decode and encode of the ONNX messages this package needs (ModelProto
 * and what it contains), on top of the hardened wire codec in protobuf.ts.
 * Field numbers are those of onnx.proto / onnx.proto3 (checked against the
 * descriptors of the Python `onnx` package, version 1.12).
 *
 * Decoding keeps `raw_data` as a view into the file's bytes (no copy; often
 * not 4-byte aligned). Use tensorToFloat32 / tensorToInt64 / tensorToInt32 to
 * get checked, aligned, little-endian-decoded copies; they validate data type,
 * dims (negative, overflow, more than 2^40 elements), the byte length before
 * any allocation, and external-data locations (inside the model's folder only).
 *
 * 64-bit integer scalars (ir_version, dims, attribute ints, ...) are numbers;
 * a value outside the safe integer range is an OnnxFormatError. Bulk int64 /
 * uint64 tensor data stays exact in BigInt64Array / BigUint64Array.
 *
 * Unknown fields are skipped on decode and not written back on encode
 * (sparse tensors, training info, model-local functions, quantization
 * annotations, type_protos).
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, realpathSync, statSync, readFileSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import * as path from 'node:path';
import { copyOf, ranges, runAtOnce, type Sliced } from '../io/slices.js';
import { OnnxFormatError } from './errors.js';
import {
  ProtoReader,
  ProtoWriter,
  concatChunks,
  copyLE,
  float32ToLE,
  int64ToLE,
  joinPath,
  type ReaderLimits,
} from './protobuf.js';

// ---------------------------------------------------------------------------
// Types

export interface OperatorSetIdProto {
  /** '' (or 'ai.onnx') is the default ONNX domain. */
  domain: string;
  version: number;
}

export interface StringStringEntryProto {
  key: string;
  value: string;
}

export interface TensorShapeDimension {
  /** Set when the dimension is a known size (may be 0). */
  dimValue?: number;
  /** Set when the dimension is symbolic, e.g. 'batch'. Neither set: unknown. */
  dimParam?: string;
  denotation: string;
}

export interface TensorShapeProto {
  dim: TensorShapeDimension[];
}

export interface TypeProtoTensor {
  /** A DataType value. */
  elemType: number;
  /** Absent: rank unknown. */
  shape?: TensorShapeProto;
}

export interface TypeProto {
  tensorType?: TypeProtoTensor;
  /**
   * A non-tensor type (sequence_type 4, map_type 5, opaque_type 7,
   * sparse_tensor_type 8, optional_type 9), kept as its undecoded bytes.
   */
  otherType?: { field: number; kind: string; bytes: Uint8Array };
  denotation: string;
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  docString: string;
}

export interface TensorProto {
  /** Checked to be safe integers on decode; negative values are rejected by the tensorTo* helpers. */
  dims: number[];
  /** A DataType value. */
  dataType: number;
  floatData: Float32Array;
  /** Also holds int8/uint8/int16/uint16/bool/float16/bfloat16 values, one per element. */
  int32Data: Int32Array;
  stringData: Uint8Array[];
  int64Data: BigInt64Array;
  name: string;
  docString: string;
  /** Present when the field was in the file; a view into the file's bytes (not aligned). */
  rawData?: Uint8Array;
  doubleData: Float64Array;
  /** Also holds uint32 values. */
  uint64Data: BigUint64Array;
  /** 0 = data in this message, 1 = external file (see externalData). */
  dataLocation: number;
  /** For external data: location, offset, length, checksum. */
  externalData: StringStringEntryProto[];
}

export interface AttributeProto {
  name: string;
  refAttrName: string;
  docString: string;
  /** An AttributeType value. */
  type: number;
  f: number;
  i: number;
  s: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: AttributeProto[];
  docString: string;
}

export interface GraphProto {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  docString: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  opsetImport: OperatorSetIdProto[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  graph?: GraphProto;
  metadataProps: StringStringEntryProto[];
}

/** TensorProto.DataType. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

/** AttributeProto.AttributeType. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

export const DATA_LOCATION_DEFAULT = 0;
export const DATA_LOCATION_EXTERNAL = 1;

const DATA_TYPE_NAMES: Record<number, string> = {
  0: 'undefined',
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64 (double)',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
};

/** A readable name for a DataType value, e.g. 'float16'. */
export function dataTypeName(dataType: number): string {
  return DATA_TYPE_NAMES[dataType] ?? `unknown data type ${dataType}`;
}

// ---------------------------------------------------------------------------
// Constructors with defaults (for building models to encode)

export function createTensor(fields: Partial<TensorProto> = {}): TensorProto {
  return {
    dims: [],
    dataType: 0,
    floatData: new Float32Array(0),
    int32Data: new Int32Array(0),
    stringData: [],
    int64Data: new BigInt64Array(0),
    name: '',
    docString: '',
    doubleData: new Float64Array(0),
    uint64Data: new BigUint64Array(0),
    dataLocation: 0,
    externalData: [],
    ...fields,
  };
}

export function createAttribute(fields: Partial<AttributeProto> = {}): AttributeProto {
  return {
    name: '',
    refAttrName: '',
    docString: '',
    type: 0,
    f: 0,
    i: 0,
    s: new Uint8Array(0),
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
    ...fields,
  };
}

export function createNode(fields: Partial<NodeProto> = {}): NodeProto {
  return { input: [], output: [], name: '', opType: '', domain: '', attribute: [], docString: '', ...fields };
}

export function createGraph(fields: Partial<GraphProto> = {}): GraphProto {
  return { node: [], name: '', initializer: [], docString: '', input: [], output: [], valueInfo: [], ...fields };
}

export function createModel(fields: Partial<ModelProto> = {}): ModelProto {
  return {
    irVersion: 0,
    opsetImport: [],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    ...fields,
  };
}

/**
 * A float32 tensor with its values in raw_data (little-endian), copied; with
 * copy false, raw_data refers to the values on little-endian hosts (for
 * values nothing changes until the model is encoded and written).
 */
export function makeFloat32Tensor(name: string, dims: number[], values: Float32Array, copy = true): TensorProto {
  const le = float32ToLE(values);
  const bytes = copy ? new Uint8Array(le) : le;
  return createTensor({ name, dims: [...dims], dataType: DataType.FLOAT, rawData: bytes });
}

/** An int64 tensor with its values in raw_data (little-endian; copied). */
export function makeInt64Tensor(name: string, dims: number[], values: BigInt64Array | number[]): TensorProto {
  const arr = values instanceof BigInt64Array ? values : BigInt64Array.from(values, (v) => BigInt(v));
  return createTensor({ name, dims: [...dims], dataType: DataType.INT64, rawData: new Uint8Array(int64ToLE(arr)) });
}

/** A tensor-typed ValueInfoProto; a string dim is symbolic (dim_param). */
export function makeTensorValueInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    docString: '',
    type: {
      denotation: '',
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d, denotation: '' } : { dimValue: d, denotation: '' })),
        },
      },
    },
  };
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8');

export function attrInt(name: string, i: number): AttributeProto {
  return createAttribute({ name, type: AttributeType.INT, i });
}
export function attrInts(name: string, ints: number[]): AttributeProto {
  return createAttribute({ name, type: AttributeType.INTS, ints: [...ints] });
}
export function attrFloat(name: string, f: number): AttributeProto {
  return createAttribute({ name, type: AttributeType.FLOAT, f: Math.fround(f) });
}
export function attrFloats(name: string, floats: number[]): AttributeProto {
  return createAttribute({ name, type: AttributeType.FLOATS, floats: floats.map(Math.fround) });
}
export function attrString(name: string, s: string): AttributeProto {
  return createAttribute({ name, type: AttributeType.STRING, s: textEncoder.encode(s) });
}
export function attrTensor(name: string, t: TensorProto): AttributeProto {
  return createAttribute({ name, type: AttributeType.TENSOR, t });
}

/** The bytes of a STRING attribute (or any bytes field) as UTF-8 text. */
export function bytesToString(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

// ---------------------------------------------------------------------------
// Decoding

/** Where each decoded tensor came from, for error messages of the tensorTo* helpers. */
const tensorOrigin = new WeakMap<TensorProto, { path: string; file?: string }>();

function decodeStringEntry(r: ProtoReader): StringStringEntryProto {
  const e: StringStringEntryProto = { key: '', value: '' };
  while (r.next()) {
    if (r.field === 1) e.key = r.string('key');
    else if (r.field === 2) e.value = r.string('value');
    else r.skip();
  }
  return e;
}

function decodeOpset(r: ProtoReader): OperatorSetIdProto {
  const o: OperatorSetIdProto = { domain: '', version: 0 };
  while (r.next()) {
    if (r.field === 1) o.domain = r.string('domain');
    else if (r.field === 2) o.version = r.int64('version');
    else r.skip();
  }
  return o;
}

function decodeTensor(r: ProtoReader): TensorProto {
  const t = createTensor();
  let floatChunks: Float32Array[] | undefined;
  let int32Chunks: Int32Array[] | undefined;
  let int64Chunks: BigInt64Array[] | undefined;
  let doubleChunks: Float64Array[] | undefined;
  let uint64Chunks: BigUint64Array[] | undefined;
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.int64s('dims', t.dims);
        break;
      case 2:
        t.dataType = r.int32('data_type');
        break;
      case 4:
        (floatChunks ??= []).push(r.float32Chunk('float_data'));
        break;
      case 5:
        (int32Chunks ??= []).push(r.int32Chunk('int32_data'));
        break;
      case 6:
        t.stringData.push(r.bytes(`string_data[${t.stringData.length}]`));
        break;
      case 7:
        (int64Chunks ??= []).push(r.int64Chunk('int64_data', false));
        break;
      case 8:
        t.name = r.string('name');
        break;
      case 9:
        t.rawData = r.bytes('raw_data');
        break;
      case 10:
        (doubleChunks ??= []).push(r.float64Chunk('double_data'));
        break;
      case 11:
        (uint64Chunks ??= []).push(r.int64Chunk('uint64_data', true));
        break;
      case 12:
        t.docString = r.string('doc_string');
        break;
      case 13:
        t.externalData.push(r.message(`external_data[${t.externalData.length}]`, decodeStringEntry));
        break;
      case 14:
        t.dataLocation = r.int32('data_location');
        break;
      default:
        r.skip();
    }
  }
  if (floatChunks) t.floatData = concatChunks(floatChunks, (n) => new Float32Array(n));
  if (int32Chunks) t.int32Data = concatChunks(int32Chunks, (n) => new Int32Array(n));
  if (int64Chunks) t.int64Data = concatChunks(int64Chunks, (n) => new BigInt64Array(n));
  if (doubleChunks) t.doubleData = concatChunks(doubleChunks, (n) => new Float64Array(n));
  if (uint64Chunks) t.uint64Data = concatChunks(uint64Chunks, (n) => new BigUint64Array(n));
  tensorOrigin.set(t, r.file === undefined ? { path: r.path } : { path: r.path, file: r.file });
  return t;
}

function decodeDimension(r: ProtoReader): TensorShapeDimension {
  const d: TensorShapeDimension = { denotation: '' };
  while (r.next()) {
    if (r.field === 1) {
      d.dimValue = r.int64('dim_value');
      delete d.dimParam; // oneof: the last one wins
    } else if (r.field === 2) {
      d.dimParam = r.string('dim_param');
      delete d.dimValue;
    } else if (r.field === 3) d.denotation = r.string('denotation');
    else r.skip();
  }
  return d;
}

function decodeShape(r: ProtoReader): TensorShapeProto {
  const s: TensorShapeProto = { dim: [] };
  while (r.next()) {
    if (r.field === 1) s.dim.push(r.message(`dim[${s.dim.length}]`, decodeDimension));
    else r.skip();
  }
  return s;
}

function decodeTensorType(r: ProtoReader): TypeProtoTensor {
  const t: TypeProtoTensor = { elemType: 0 };
  while (r.next()) {
    if (r.field === 1) t.elemType = r.int32('elem_type');
    else if (r.field === 2) t.shape = r.message('shape', decodeShape);
    else r.skip();
  }
  return t;
}

const OTHER_TYPE_KINDS: Record<number, string> = {
  4: 'sequence_type',
  5: 'map_type',
  7: 'opaque_type',
  8: 'sparse_tensor_type',
  9: 'optional_type',
};

function decodeType(r: ProtoReader): TypeProto {
  const t: TypeProto = { denotation: '' };
  while (r.next()) {
    const kind = OTHER_TYPE_KINDS[r.field];
    if (r.field === 1) {
      t.tensorType = r.message('tensor_type', decodeTensorType);
      delete t.otherType;
    } else if (kind !== undefined) {
      t.otherType = { field: r.field, kind, bytes: r.bytes(kind) };
      delete t.tensorType;
    } else if (r.field === 6) t.denotation = r.string('denotation');
    else r.skip();
  }
  return t;
}

function decodeValueInfo(r: ProtoReader): ValueInfoProto {
  const v: ValueInfoProto = { name: '', docString: '' };
  while (r.next()) {
    if (r.field === 1) v.name = r.string('name');
    else if (r.field === 2) v.type = r.message('type', decodeType);
    else if (r.field === 3) v.docString = r.string('doc_string');
    else r.skip();
  }
  return v;
}

function decodeAttribute(r: ProtoReader): AttributeProto {
  const a = createAttribute();
  while (r.next()) {
    switch (r.field) {
      case 1:
        a.name = r.string('name');
        break;
      case 2:
        a.f = r.float('f');
        break;
      case 3:
        a.i = r.int64('i');
        break;
      case 4:
        a.s = r.bytes('s');
        break;
      case 5:
        a.t = r.message('t', decodeTensor);
        break;
      case 6:
        a.g = r.message('g', decodeGraph);
        break;
      case 7:
        r.floats('floats', a.floats);
        break;
      case 8:
        r.int64s('ints', a.ints);
        break;
      case 9:
        a.strings.push(r.bytes(`strings[${a.strings.length}]`));
        break;
      case 10:
        a.tensors.push(r.message(`tensors[${a.tensors.length}]`, decodeTensor));
        break;
      case 11:
        a.graphs.push(r.message(`graphs[${a.graphs.length}]`, decodeGraph));
        break;
      case 13:
        a.docString = r.string('doc_string');
        break;
      case 20:
        a.type = r.int32('type');
        break;
      case 21:
        a.refAttrName = r.string('ref_attr_name');
        break;
      default:
        r.skip();
    }
  }
  return a;
}

function decodeNode(r: ProtoReader): NodeProto {
  const n = createNode();
  while (r.next()) {
    switch (r.field) {
      case 1:
        n.input.push(r.string(`input[${n.input.length}]`));
        break;
      case 2:
        n.output.push(r.string(`output[${n.output.length}]`));
        break;
      case 3:
        n.name = r.string('name');
        break;
      case 4:
        n.opType = r.string('op_type');
        break;
      case 5:
        n.attribute.push(r.message(`attribute[${n.attribute.length}]`, decodeAttribute));
        break;
      case 6:
        n.docString = r.string('doc_string');
        break;
      case 7:
        n.domain = r.string('domain');
        break;
      default:
        r.skip();
    }
  }
  return n;
}

function decodeGraph(r: ProtoReader): GraphProto {
  const g = createGraph();
  while (r.next()) {
    switch (r.field) {
      case 1:
        g.node.push(r.message(`node[${g.node.length}]`, decodeNode));
        break;
      case 2:
        g.name = r.string('name');
        break;
      case 5:
        g.initializer.push(r.message(`initializer[${g.initializer.length}]`, decodeTensor));
        break;
      case 10:
        g.docString = r.string('doc_string');
        break;
      case 11:
        g.input.push(r.message(`input[${g.input.length}]`, decodeValueInfo));
        break;
      case 12:
        g.output.push(r.message(`output[${g.output.length}]`, decodeValueInfo));
        break;
      case 13:
        g.valueInfo.push(r.message(`value_info[${g.valueInfo.length}]`, decodeValueInfo));
        break;
      default:
        r.skip();
    }
  }
  return g;
}

function decodeModelFields(r: ProtoReader): ModelProto {
  const m = createModel();
  while (r.next()) {
    switch (r.field) {
      case 1:
        m.irVersion = r.int64('ir_version');
        break;
      case 2:
        m.producerName = r.string('producer_name');
        break;
      case 3:
        m.producerVersion = r.string('producer_version');
        break;
      case 4:
        m.domain = r.string('domain');
        break;
      case 5:
        m.modelVersion = r.int64('model_version');
        break;
      case 6:
        m.docString = r.string('doc_string');
        break;
      case 7:
        m.graph = r.message('graph', decodeGraph);
        break;
      case 8:
        m.opsetImport.push(r.message(`opset_import[${m.opsetImport.length}]`, decodeOpset));
        break;
      case 14:
        m.metadataProps.push(r.message(`metadata_props[${m.metadataProps.length}]`, decodeStringEntry));
        break;
      default:
        r.skip();
    }
  }
  return m;
}

export interface DecodeModelOptions extends ReaderLimits {
  /** File name for error messages. */
  file?: string;
  /** Largest input accepted. Default 2 GiB (the protobuf limit). */
  maxBytes?: number;
}

export const DEFAULT_MAX_MODEL_BYTES = 2 * 1024 * 1024 * 1024;

function asPlainBytes(bytes: Uint8Array): Uint8Array {
  // A Buffer's subarray() is a Buffer; use plain Uint8Array views throughout.
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes an ONNX model. Checks the size, that every byte belongs to a valid
 * field, and the minimum an ONNX model must have (ir_version, opset_import,
 * graph). Throws OnnxFormatError for every problem.
 */
export function decodeModel(bytes: Uint8Array, options: DecodeModelOptions = {}): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeModel: expected a Uint8Array');
  const file = options.file;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  if (bytes.length === 0) {
    throw new OnnxFormatError('empty file (0 bytes); not an ONNX model', { file, path: '' });
  }
  if (bytes.length > maxBytes) {
    throw new OnnxFormatError(`file is ${bytes.length} bytes, more than the ${maxBytes} bytes accepted`, {
      file,
      path: '',
    });
  }
  const r = ProtoReader.create(asPlainBytes(bytes), { ...options, file, path: '' });
  const m = decodeModelFields(r);
  if (r.pos !== bytes.length) r.fail('', `parse stopped at byte ${r.pos} of ${bytes.length}`);
  const notModel = 'not an ONNX model (or a truncated or corrupt one)';
  if (m.irVersion <= 0) {
    throw new OnnxFormatError(`ir_version is ${m.irVersion === 0 ? 'missing' : m.irVersion}: ${notModel}`, {
      file,
      path: 'ir_version',
    });
  }
  if (m.graph === undefined) {
    throw new OnnxFormatError(`graph is missing: ${notModel}`, { file, path: 'graph' });
  }
  if (m.opsetImport.length === 0) {
    throw new OnnxFormatError(`opset_import is empty: ${notModel}`, { file, path: 'opset_import' });
  }
  return m;
}

/**
 * Reads and decodes a model file, refusing files over `maxBytes` before
 * reading them. Returns the model and the folder external data must live in.
 */
export function decodeModelFile(
  file: string,
  options: Omit<DecodeModelOptions, 'file'> = {},
): { model: ModelProto; modelDir: string } {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new OnnxFormatError('not a regular file', { file, path: '' });
    size = st.size;
  } catch (err) {
    if (err instanceof OnnxFormatError) throw err;
    throw new OnnxFormatError(`cannot read the model file (${(err as Error).message})`, { file, path: '', cause: err });
  }
  if (size > maxBytes) {
    throw new OnnxFormatError(`file is ${size} bytes, more than the ${maxBytes} bytes accepted`, { file, path: '' });
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new OnnxFormatError(`cannot read the model file (${(err as Error).message})`, { file, path: '', cause: err });
  }
  return { model: decodeModel(bytes, { ...options, file }), modelDir: path.dirname(path.resolve(file)) };
}

// ---------------------------------------------------------------------------
// Tensor data

export interface TensorContext {
  /** Folder of the model file; required for external data, which must lie inside it. */
  modelDir?: string;
  /** File name for error messages (default: the file the tensor was decoded from). */
  file?: string;
  /** Field path for error messages (default: where the tensor was decoded, e.g. graph.initializer[2]). */
  path?: string;
}

/** Most elements a tensor may declare (2^40); larger dims are refused before anything else. */
export const MAX_TENSOR_ELEMENTS = 2 ** 40;

interface Where {
  file?: string;
  path: string;
  label: string;
}

function whereOf(t: TensorProto, ctx: TensorContext | undefined): Where {
  const origin = tensorOrigin.get(t);
  const p = ctx?.path ?? origin?.path ?? '';
  const file = ctx?.file ?? origin?.file;
  const name = t.name === '' ? '' : JSON.stringify(t.name).slice(1, -1);
  const label = p === '' ? (name === '' ? 'tensor' : `tensor ${name}`) : name === '' ? p : `${p} (${name})`;
  return file === undefined ? { path: p, label } : { file, path: p, label };
}

function tensorError(w: Where, field: string, problem: string, cause?: unknown): OnnxFormatError {
  return new OnnxFormatError(`${w.label}: ${problem}`, { file: w.file, path: joinPath(w.path, field), cause });
}

function dimsText(dims: number[]): string {
  return `[${dims.join(', ')}]`;
}

function checkedCount(t: TensorProto, w: Where): number {
  let zero = false;
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d)) throw tensorError(w, 'dims', `dims ${dimsText(t.dims)} hold ${d}, not an integer`);
    if (d < 0) throw tensorError(w, 'dims', `dims ${dimsText(t.dims)} hold a negative dimension (${d})`);
    if (d === 0) zero = true;
  }
  if (zero) return 0;
  let n = 1;
  for (const d of t.dims) {
    n *= d;
    if (n > MAX_TENSOR_ELEMENTS) {
      throw tensorError(
        w,
        'dims',
        `dims ${dimsText(t.dims)} describe more than 2^40 elements; refusing (the product overflows any sane size)`,
      );
    }
  }
  return n;
}

/** Number of elements of `t` (product of dims), checked: no negative dims, at most 2^40. */
export function tensorElementCount(t: TensorProto, ctx?: TensorContext): number {
  return checkedCount(t, whereOf(t, ctx));
}

interface Want {
  dataType: number;
  size: 4 | 8;
  typedField: 'floatData' | 'int32Data' | 'int64Data';
  typedFieldName: string;
}

const WANT_FLOAT32: Want = { dataType: DataType.FLOAT, size: 4, typedField: 'floatData', typedFieldName: 'float_data' };
const WANT_INT32: Want = { dataType: DataType.INT32, size: 4, typedField: 'int32Data', typedFieldName: 'int32_data' };
const WANT_INT64: Want = { dataType: DataType.INT64, size: 8, typedField: 'int64Data', typedFieldName: 'int64_data' };

const OTHER_DATA_FIELDS: { key: keyof TensorProto; name: string }[] = [
  { key: 'floatData', name: 'float_data' },
  { key: 'int32Data', name: 'int32_data' },
  { key: 'int64Data', name: 'int64_data' },
  { key: 'doubleData', name: 'double_data' },
  { key: 'uint64Data', name: 'uint64_data' },
  { key: 'stringData', name: 'string_data' },
];

/**
 * Returns the tensor's bytes (raw, little-endian; `null` when the values sit in
 * the typed field), after checking type, dims and lengths. Nothing larger than
 * the data really present is allocated before these checks pass.
 */
function tensorBytes(t: TensorProto, ctx: TensorContext | undefined, want: Want): { w: Where; count: number; bytes: Uint8Array | null } {
  const w = whereOf(t, ctx);
  const wantName = dataTypeName(want.dataType);
  if (t.dataType !== want.dataType) {
    const hint =
      t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16 || t.dataType === DataType.DOUBLE
        ? '; convert the model to float32 before importing it'
        : '';
    throw tensorError(
      w,
      'data_type',
      `data_type is ${dataTypeName(t.dataType)} (${t.dataType}), but ${wantName} (${want.dataType}) is needed here${hint}`,
    );
  }
  const count = checkedCount(t, w);
  const need = count * want.size;
  const needText = () => `dims ${dimsText(t.dims)} x ${wantName} need ${need} bytes`;
  for (const f of OTHER_DATA_FIELDS) {
    if (f.key === want.typedField) continue;
    if ((t[f.key] as { length: number }).length > 0) {
      throw tensorError(w, f.name, `a ${wantName} tensor must not hold ${f.name}`);
    }
  }
  const typed = t[want.typedField];
  if (t.dataLocation === DATA_LOCATION_EXTERNAL) {
    if (t.rawData !== undefined && t.rawData.length > 0) {
      throw tensorError(w, 'raw_data', 'external data tensor must not also hold raw_data');
    }
    if (typed.length > 0) throw tensorError(w, want.typedFieldName, `external data tensor must not also hold ${want.typedFieldName}`);
    return { w, count, bytes: readExternalData(t, ctx, w, need, needText) };
  }
  if (t.dataLocation !== DATA_LOCATION_DEFAULT) {
    throw tensorError(w, 'data_location', `data_location ${t.dataLocation} is not 0 (in the file) or 1 (external)`);
  }
  if (t.externalData.length > 0) {
    throw tensorError(w, 'external_data', 'external_data entries given but data_location is not EXTERNAL (1)');
  }
  if (t.rawData !== undefined && (t.rawData.length > 0 || typed.length === 0)) {
    if (typed.length > 0) {
      throw tensorError(w, 'raw_data', `holds both raw_data and ${want.typedFieldName}; ambiguous`);
    }
    if (t.rawData.length !== need) {
      throw tensorError(w, 'raw_data', `raw_data holds ${t.rawData.length} bytes but ${needText()}`);
    }
    return { w, count, bytes: t.rawData };
  }
  if (typed.length !== count) {
    if (typed.length === 0) {
      throw tensorError(w, 'raw_data', `holds no data (no raw_data, ${want.typedFieldName} or external data) but dims ${dimsText(t.dims)} need ${count} values`);
    }
    throw tensorError(
      w,
      want.typedFieldName,
      `${want.typedFieldName} holds ${typed.length} values but dims ${dimsText(t.dims)} need ${count}`,
    );
  }
  return { w, count, bytes: null };
}

/**
 * The values of a float32 tensor as a new, aligned Float32Array. Checks
 * data_type (float32 only: float16, double, int64, string... are errors
 * naming the tensor), dims, and that raw_data / float_data / external data
 * hold exactly the bytes the dims need, before allocating. External data is
 * read only from inside `ctx.modelDir`.
 */
export function tensorToFloat32(t: TensorProto, ctx?: TensorContext): Float32Array {
  return runAtOnce(tensorToFloat32Sliced(t, ctx));
}

/** tensorToFloat32 as sliced work (src/io/slices.ts): the checks first, then the copy in slices. */
export function* tensorToFloat32Sliced(t: TensorProto, ctx?: TensorContext): Sliced<Float32Array> {
  const { count, bytes } = tensorBytes(t, ctx, WANT_FLOAT32);
  if (bytes === null) return yield* copyOf(t.floatData);
  const out = new Float32Array(count);
  yield* ranges(count, 4, (start, end) => copyLE(bytes, start * 4, out.subarray(start, end), 4));
  return out;
}

/** The values of an int64 tensor as a new BigInt64Array (exact), with the same checks as tensorToFloat32. */
export function tensorToInt64(t: TensorProto, ctx?: TensorContext): BigInt64Array {
  const { count, bytes } = tensorBytes(t, ctx, WANT_INT64);
  if (bytes === null) return t.int64Data.slice();
  const out = new BigInt64Array(count);
  copyLE(bytes, 0, out, 8);
  return out;
}

/** The values of an int32 tensor as a new Int32Array, with the same checks as tensorToFloat32. */
export function tensorToInt32(t: TensorProto, ctx?: TensorContext): Int32Array {
  const { count, bytes } = tensorBytes(t, ctx, WANT_INT32);
  if (bytes === null) return t.int32Data.slice();
  const out = new Int32Array(count);
  copyLE(bytes, 0, out, 4);
  return out;
}

const DECIMAL = /^[0-9]{1,20}$/;

function parseDecimal(w: Where, key: string, value: string): bigint {
  if (!DECIMAL.test(value)) {
    throw tensorError(w, 'external_data', `external data ${key} ${JSON.stringify(value)} is not a plain decimal number`);
  }
  const v = BigInt(value);
  if (v > 0xffffffffffffffffn) {
    throw tensorError(w, 'external_data', `external data ${key} ${value} does not fit in 64 bits`);
  }
  return v;
}

function isInside(base: string, target: string): boolean {
  const rel = path.relative(base, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) && rel.split(path.sep)[0] !== '..';
}

/**
 * Reads external tensor data, refusing anything outside the model's folder:
 * absolute locations, `..` segments, symbolic links resolving outside,
 * files with more than one hard link, offsets/lengths not plain decimals or
 * past the end of the file. Allocates only `need` bytes, and only after the
 * length matched.
 */
function readExternalData(
  t: TensorProto,
  ctx: TensorContext | undefined,
  w: Where,
  need: number,
  needText: () => string,
): Uint8Array {
  const entries = new Map<string, string>();
  for (const e of t.externalData) {
    if (entries.has(e.key)) throw tensorError(w, 'external_data', `external data key ${JSON.stringify(e.key)} given twice`);
    entries.set(e.key, e.value);
  }
  const location = entries.get('location');
  if (location === undefined || location === '') {
    throw tensorError(w, 'external_data', 'data_location is EXTERNAL but external_data has no location');
  }
  const shown = JSON.stringify(location);
  if (location.includes('\0')) throw tensorError(w, 'external_data', `external data location ${shown} contains a NUL byte`);
  if (path.posix.isAbsolute(location) || path.win32.isAbsolute(location) || /^[a-zA-Z]:/.test(location)) {
    throw tensorError(
      w,
      'external_data',
      `external data location ${shown} is an absolute path; only relative paths inside the model's folder are allowed`,
    );
  }
  if (location.split(/[\\/]/).some((seg) => seg === '..')) {
    throw tensorError(
      w,
      'external_data',
      `external data location ${shown} contains a '..' segment; only paths inside the model's folder are allowed`,
    );
  }
  const modelDir = ctx?.modelDir;
  if (modelDir === undefined || modelDir === '') {
    throw tensorError(
      w,
      'external_data',
      `external data ${shown} needs the model's folder (modelDir), which was not given`,
    );
  }
  let base: string;
  try {
    base = realpathSync(modelDir);
  } catch (err) {
    throw tensorError(w, 'external_data', `model folder ${JSON.stringify(modelDir)} cannot be resolved (${(err as Error).message})`, err);
  }
  let real: string;
  try {
    real = realpathSync(path.join(base, location));
  } catch (err) {
    throw tensorError(w, 'external_data', `external data file ${shown} not found in the model's folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  if (path.relative(base, real) === '') {
    throw tensorError(w, 'external_data', `external data location ${shown} names the model's folder itself, not a file`);
  }
  if (!isInside(base, real)) {
    throw tensorError(
      w,
      'external_data',
      `external data location ${shown} resolves outside the model's folder (through a symbolic link); refused`,
    );
  }
  const offset = entries.has('offset') ? parseDecimal(w, 'offset', entries.get('offset') as string) : 0n;
  const lengthGiven = entries.has('length') ? parseDecimal(w, 'length', entries.get('length') as string) : undefined;

  let fd: number;
  try {
    fd = openSync(real, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0));
  } catch (err) {
    throw tensorError(w, 'external_data', `cannot open external data file ${shown} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw tensorError(w, 'external_data', `external data ${shown} is not a regular file`);
    if (st.nlink > 1) {
      throw tensorError(
        w,
        'external_data',
        `external data file ${shown} has ${st.nlink} hard links; refused, as it may be a link to a file outside the model's folder`,
      );
    }
    const size = BigInt(st.size);
    if (offset > size) {
      throw tensorError(w, 'external_data', `external data offset ${offset} is past the end of ${shown} (${size} bytes)`);
    }
    const length = lengthGiven ?? size - offset;
    if (offset + length > size) {
      throw tensorError(
        w,
        'external_data',
        `external data offset ${offset} + length ${length} is past the end of ${shown} (${size} bytes)`,
      );
    }
    if (length !== BigInt(need)) {
      throw tensorError(w, 'external_data', `external data holds ${length} bytes but ${needText()}`);
    }
    if (need > bufferConstants.MAX_LENGTH) {
      throw tensorError(w, 'external_data', `tensor of ${need} bytes is larger than a buffer can hold`);
    }
    const out = new Uint8Array(need);
    let done = 0;
    let pos = Number(offset);
    while (done < need) {
      const n = readSync(fd, out, done, need - done, pos);
      if (n <= 0) throw tensorError(w, 'external_data', `external data file ${shown} ended early (it changed while being read)`);
      done += n;
      pos += n;
    }
    return out;
  } catch (err) {
    if (err instanceof OnnxFormatError) throw err;
    throw tensorError(w, 'external_data', `cannot read external data file ${shown} (${(err as Error).message})`, err);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Encoding (fields in field-number order, as protobuf's C++ serializer writes them)

function encodeStringEntry(w: ProtoWriter, e: StringStringEntryProto): void {
  if (e.key !== '') w.stringField(1, e.key);
  if (e.value !== '') w.stringField(2, e.value);
}

function encodeTensor(w: ProtoWriter, t: TensorProto): void {
  for (const d of t.dims) w.int64Field(1, d);
  if (t.dataType !== 0) w.int32Field(2, t.dataType);
  w.packedFloat32(4, t.floatData);
  w.packedInt32(5, t.int32Data);
  for (const s of t.stringData) w.bytesField(6, s);
  w.packedInt64(7, t.int64Data);
  if (t.name !== '') w.stringField(8, t.name);
  if (t.rawData !== undefined) w.bytesField(9, t.rawData);
  w.packedFloat64(10, t.doubleData);
  w.packedInt64(11, t.uint64Data);
  if (t.docString !== '') w.stringField(12, t.docString);
  for (const e of t.externalData) w.messageField(13, (m) => encodeStringEntry(m, e));
  if (t.dataLocation !== 0) w.int32Field(14, t.dataLocation);
}

function encodeDimension(w: ProtoWriter, d: TensorShapeDimension): void {
  if (d.dimValue !== undefined) w.int64Field(1, d.dimValue);
  else if (d.dimParam !== undefined) w.stringField(2, d.dimParam);
  if (d.denotation !== '') w.stringField(3, d.denotation);
}

function encodeTensorType(w: ProtoWriter, t: TypeProtoTensor): void {
  if (t.elemType !== 0) w.int32Field(1, t.elemType);
  const shape = t.shape;
  if (shape !== undefined) {
    w.messageField(2, (s) => {
      for (const d of shape.dim) s.messageField(1, (m) => encodeDimension(m, d));
    });
  }
}

function encodeType(w: ProtoWriter, t: TypeProto): void {
  const tensorType = t.tensorType;
  if (tensorType !== undefined) w.messageField(1, (m) => encodeTensorType(m, tensorType));
  const other = t.otherType;
  if (other !== undefined && other.field < 6) w.bytesField(other.field, other.bytes);
  if (t.denotation !== '') w.stringField(6, t.denotation);
  if (other !== undefined && other.field > 6) w.bytesField(other.field, other.bytes);
}

function encodeValueInfo(w: ProtoWriter, v: ValueInfoProto): void {
  if (v.name !== '') w.stringField(1, v.name);
  const type = v.type;
  if (type !== undefined) w.messageField(2, (m) => encodeType(m, type));
  if (v.docString !== '') w.stringField(3, v.docString);
}

function encodeAttribute(w: ProtoWriter, a: AttributeProto): void {
  if (a.name !== '') w.stringField(1, a.name);
  if (a.type === AttributeType.FLOAT || !Object.is(a.f, 0)) w.floatField(2, a.f);
  if (a.type === AttributeType.INT || a.i !== 0) w.int64Field(3, a.i);
  if (a.type === AttributeType.STRING || a.s.length > 0) w.bytesField(4, a.s);
  const t = a.t;
  if (t !== undefined) w.messageField(5, (m) => encodeTensor(m, t));
  const g = a.g;
  if (g !== undefined) w.messageField(6, (m) => encodeGraph(m, g));
  for (const f of a.floats) w.floatField(7, f);
  for (const i of a.ints) w.int64Field(8, i);
  for (const s of a.strings) w.bytesField(9, s);
  for (const x of a.tensors) w.messageField(10, (m) => encodeTensor(m, x));
  for (const x of a.graphs) w.messageField(11, (m) => encodeGraph(m, x));
  if (a.docString !== '') w.stringField(13, a.docString);
  if (a.type !== 0) w.int32Field(20, a.type);
  if (a.refAttrName !== '') w.stringField(21, a.refAttrName);
}

function encodeNode(w: ProtoWriter, n: NodeProto): void {
  for (const s of n.input) w.stringField(1, s);
  for (const s of n.output) w.stringField(2, s);
  if (n.name !== '') w.stringField(3, n.name);
  if (n.opType !== '') w.stringField(4, n.opType);
  for (const a of n.attribute) w.messageField(5, (m) => encodeAttribute(m, a));
  if (n.docString !== '') w.stringField(6, n.docString);
  if (n.domain !== '') w.stringField(7, n.domain);
}

function encodeGraph(w: ProtoWriter, g: GraphProto): void {
  for (const n of g.node) w.messageField(1, (m) => encodeNode(m, n));
  if (g.name !== '') w.stringField(2, g.name);
  for (const t of g.initializer) w.messageField(5, (m) => encodeTensor(m, t));
  if (g.docString !== '') w.stringField(10, g.docString);
  for (const v of g.input) w.messageField(11, (m) => encodeValueInfo(m, v));
  for (const v of g.output) w.messageField(12, (m) => encodeValueInfo(m, v));
  for (const v of g.valueInfo) w.messageField(13, (m) => encodeValueInfo(m, v));
}

/** Encodes a model as an ONNX file. */
function encodeModelWriter(model: ModelProto): ProtoWriter {
  const w = new ProtoWriter(4096);
  if (model.irVersion !== 0) w.int64Field(1, model.irVersion);
  if (model.producerName !== '') w.stringField(2, model.producerName);
  if (model.producerVersion !== '') w.stringField(3, model.producerVersion);
  if (model.domain !== '') w.stringField(4, model.domain);
  if (model.modelVersion !== 0) w.int64Field(5, model.modelVersion);
  if (model.docString !== '') w.stringField(6, model.docString);
  const graph = model.graph;
  if (graph !== undefined) w.messageField(7, (m) => encodeGraph(m, graph));
  for (const o of model.opsetImport) {
    w.messageField(8, (m) => {
      if (o.domain !== '') m.stringField(1, o.domain);
      m.int64Field(2, o.version);
    });
  }
  for (const e of model.metadataProps) w.messageField(14, (m) => encodeStringEntry(m, e));
  return w;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return encodeModelWriter(model).finish();
}

/** The encoded model as runs to write in order; tensor data is referenced, not copied. */
export function encodeModelChunks(model: ModelProto): Uint8Array[] {
  return encodeModelWriter(model).finishChunks();
}
