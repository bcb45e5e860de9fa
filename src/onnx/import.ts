/**
 * ONNX import: a TextCNN exported elsewhere (PyTorch's torch.onnx.export, or
 * anything emitting the same ops) -> our model graph and weights.
 *
 * The importer walks the ONNX graph from the token-id input by value names,
 * as a small abstract interpreter: every value is either a constant
 * (initializers, Constant nodes and whatever folds from them), a shape
 * computation (Shape/Gather/Unsqueeze/Concat/... over the dynamic batch and
 * time axes), or a runtime tensor derived from the ids, whose axes are
 * tracked by meaning (batch, time, channels, unit). Ops on runtime tensors
 * map to our layers:
 *
 * - Gather(weight, ids) -> embedding (paddingIdx = padId when that row is zero);
 * - Conv 1-D over [B, C, T] (after Transpose) or the Kim 2-D form over
 *   [B, 1, T, D] with a [M, 1, K, D] kernel -> conv1d, 'valid', 'same' or symmetric
 *   (conv pads plus an explicit constant Pad before it);
 * - Relu, Tanh, Sigmoid, LeakyRelu, Gelu and any elementwise arithmetic over
 *   one tensor (Div/Erf/Add/Mul..., the decompositions exporters emit for
 *   GELU and tanh-GELU) -> activation, identified by evaluating the
 *   expression numerically against the activations we have;
 * - ReduceMax/ReduceMean over the time axis, GlobalMaxPool/GlobalAveragePool,
 *   MaxPool/AveragePool (whole-length kernel) -> maxOverTime/meanOverTime;
 * - Concat of pooled vectors -> concat; Dropout -> dropout (its ratio kept);
 *   Gemm, MatMul (+ Add of a bias) -> linear;
 * - Identity, Cast, Transpose, Squeeze, Unsqueeze, Reshape, Flatten, and If
 *   on a condition known at import time (PyTorch's guarded squeeze) are
 *   followed through; a final Softmax/LogSoftmax is dropped (logits out).
 *
 * Anything else on the path from the ids to the output is an
 * OnnxFormatError naming the node, its op type and what is supported: never
 * a silently different model. Layers are named as textCNN() names them
 * (embedding, conv{i}, conv{i}_act, pool{i}, features, hidden{j}..., dropout,
 * classifier) so freezing and head replacement work on imported models.
 *
 * @example
 * const m = await importOnnxFile('model.onnx', { vocab: 'model.vocab.json' });
 * m.report.forEach((line) => console.log(line));
 * const program = compileModel(m.graph, { maxBatch: 32, maxLength: 128, params: m.params });
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

import type { TokenizerConfig } from '../data/tokenizer.js';
import { Tokenizer } from '../data/tokenizer.js';
import { Vocabulary } from '../data/vocab.js';
import type { ActivationName } from '../native.js';
import { graphClasses, inferShapes, MAX_CONV_PADDING, type ConvPadding, type LayerSpec, type ModelGraph } from '../model/graph.js';
import { OnnxFormatError } from './errors.js';
import { convWeightFromOnnx } from './export.js';
import { fromOnnx, isFinetuneModel, ModelFileError, type SavedModel } from './model-file.js';
import {
  AttributeType,
  DataType,
  DEFAULT_MAX_MODEL_BYTES,
  bytesToString,
  dataTypeName,
  decodeModel,
  tensorElementCount,
  tensorToFloat32,
  tensorToInt32,
  tensorToInt64,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './proto.js';

export interface ImportOptions {
  /** The model file, for error messages. */
  file?: string;
  /** Folder of the model file: external tensor data is read only from inside it. */
  modelDir?: string;
  /** Rows the embedding must have (the vocabulary's size); a mismatch is an error naming the initializer. */
  vocabSize?: number;
  /** The pad id: its embedding row, when all zeros, becomes the embedding's paddingIdx (default 0). */
  padId?: number;
}

export interface ImportResult {
  graph: ModelGraph;
  /** Parameters in the kernels' layouts, by name (see graphParams). */
  params: Map<string, Float32Array>;
  /** What was mapped to what, one line each, for the CLI to print. */
  report: string[];
}

export interface ImportFileOptions {
  /** Vocabulary sidecar: a JSON object token -> id, or one token a line (id = line number). Required for models exported elsewhere. */
  vocab?: string;
  /** Pad token in the vocabulary (default `<pad>`); its id is read from the file. */
  padToken?: string;
  /** Unknown-word token (default `<unk>`); its id is read from the file. */
  unkToken?: string;
  /** Refuse the file unless its SHA-256 (hex) is this, checked before parsing. */
  expectedSha256?: string;
  /** Tokenizer for a model exported elsewhere (default lower-case + whitespace split). */
  tokenizer?: Partial<TokenizerConfig>;
}

/** What the importer maps, for error messages and documentation. */
export const SUPPORTED_OPS =
  'Gather (embedding), Conv (1-D over [batch, channels, time]; the Kim 2-D form over [batch, 1, time, dim] with a kernel spanning the whole embedding; ' +
  "stride, dilation and group 1; 'valid', 'same' or symmetric padding, Pad before it), Relu, Tanh, Sigmoid, LeakyRelu, Gelu and the elementwise decompositions of GELU " +
  '(Erf or tanh form), ReduceMax/ReduceMean over time, GlobalMaxPool/GlobalAveragePool, MaxPool/AveragePool over the whole length, Concat of pooled features, ' +
  'Dropout, Gemm, MatMul (+ Add bias), Identity, Cast, Transpose, Squeeze, Unsqueeze, Reshape, Flatten, If on a condition known at import time, ' +
  'Softmax/LogSoftmax as the final op, and constant or shape arithmetic (Constant, Shape, Gather, Slice, Concat, ConstantOfShape, Equal, Add, Sub, Mul, Div, ...)';

const DEFAULT_TOKENIZER: TokenizerConfig = { mode: 'whitespace', lowercase: true, maxTokens: 0 };

/** Largest constant the importer computes itself (ConstantOfShape, broadcasting, transposes): 2^25 elements. */
const MAX_FOLD_ELEMENTS = 1 << 25;
/** Deepest If-inside-If the importer inlines. */
const MAX_IF_DEPTH = 8;

// ---------------------------------------------------------------------------
// Values

/** Axis meaning of a runtime tensor: batch, time, a time axis pooled to one (see MaxPool), a unit axis, or channels (their count). */
type Tag = 'B' | 'T' | 'P' | '1' | number;

/** An element of a shape computation: a known integer, the batch or time size, or unknown. */
type SymInt = number | 'B' | 'T' | '?';

interface Const {
  k: 'const';
  dtype: 'float' | 'int' | 'bool';
  dims: number[];
  data: Float32Array | Float64Array;
  /** The value's origin (initializer name), for messages. */
  origin?: string;
}

interface Lazy {
  k: 'lazy';
  tensor: TensorProto;
  path: string;
  origin: string;
  value?: Const;
}

interface Ints {
  k: 'ints';
  dtype: 'int' | 'bool';
  /** [] (scalar) or [n]. */
  dims: number[];
  v: SymInt[];
}

type Expr =
  | { op: 'x' }
  | { op: 'c'; v: number }
  | { op: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min'; a: Expr; b: Expr }
  | { op: 'relu' | 'tanh' | 'sigmoid' | 'erf' | 'gelu' | 'geluTanh' | 'neg' | 'sqrt' | 'exp' | 'abs' | 'reciprocal'; a: Expr }
  | { op: 'leaky'; a: Expr; alpha: number };

interface Sym {
  k: 'sym';
  /** Our layer whose output this is ('ids' for the input). */
  src: string;
  tags: Tag[];
  ids?: boolean;
  /** Elementwise function of `src`'s output still to be turned into activation layers. */
  expr?: Expr;
  /** The nodes that built `expr`, for the report. */
  exprNodes?: string[];
  /** A constant Pad on the time axis, to be folded into the Conv that reads it. */
  pad?: [number, number];
  /** This is the direct output of `biasOf`, whose bias is not set yet (Conv without B, MatMul). */
  biasOf?: string;
  /** Softmax/LogSoftmax of the logits: allowed only as the graph output. */
  softmax?: string;
}

type Value = Const | Lazy | Ints | Sym;

interface NodeAt {
  node: NodeProto;
  path: string;
}

// ---------------------------------------------------------------------------
// Small helpers

function product(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

function tagText(t: Tag): string {
  return t === 'B' ? 'batch' : t === 'T' ? 'time' : t === 'P' ? 'time (pooled)' : t === '1' ? '1' : `${t}`;
}

function tagsText(tags: readonly Tag[]): string {
  return `[${tags.map(tagText).join(', ')}]`;
}

function sameTags(a: readonly Tag[], b: readonly Tag[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

function isUnit(t: Tag): boolean {
  return t === '1' || t === 'P';
}

function normAxis(axis: number, rank: number, fail: (m: string) => never): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

const PROBES = [-1e4, -100, -30, -8, -5, -3, -2.2, -1.6, -1.1, -1, -0.7, -0.45, -0.2, -0.05, 0, 0.05, 0.2, 0.45, 0.7, 1, 1.1, 1.6, 2.2, 3, 5, 8, 30, 100, 1e4];

function erf(x: number): number {
  // Double precision is more than identification needs: it compares expressions evaluated with this same function.
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a < 2.5) {
    // Maclaurin series, converges fast on this range (double precision).
    let term = a;
    let sum = a;
    const a2 = a * a;
    for (let n = 1; n < 80; n++) {
      term *= -a2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return s * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (a + f);
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  return s * (1 - erfc);
}

function evalExpr(e: Expr, x: number): number {
  switch (e.op) {
    case 'x':
      return x;
    case 'c':
      return e.v;
    case 'add':
      return evalExpr(e.a, x) + evalExpr(e.b, x);
    case 'sub':
      return evalExpr(e.a, x) - evalExpr(e.b, x);
    case 'mul':
      return evalExpr(e.a, x) * evalExpr(e.b, x);
    case 'div':
      return evalExpr(e.a, x) / evalExpr(e.b, x);
    case 'pow':
      return Math.pow(evalExpr(e.a, x), evalExpr(e.b, x));
    case 'max':
      return Math.max(evalExpr(e.a, x), evalExpr(e.b, x));
    case 'min':
      return Math.min(evalExpr(e.a, x), evalExpr(e.b, x));
    case 'relu':
      return Math.max(0, evalExpr(e.a, x));
    case 'tanh':
      return Math.tanh(evalExpr(e.a, x));
    case 'sigmoid':
      return 1 / (1 + Math.exp(-evalExpr(e.a, x)));
    case 'erf':
      return erf(evalExpr(e.a, x));
    case 'gelu': {
      const v = evalExpr(e.a, x);
      return 0.5 * v * (1 + erf(v / Math.SQRT2));
    }
    case 'geluTanh': {
      const v = evalExpr(e.a, x);
      return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
    }
    case 'neg':
      return -evalExpr(e.a, x);
    case 'sqrt':
      return Math.sqrt(evalExpr(e.a, x));
    case 'exp':
      return Math.exp(evalExpr(e.a, x));
    case 'abs':
      return Math.abs(evalExpr(e.a, x));
    case 'reciprocal':
      return 1 / evalExpr(e.a, x);
    case 'leaky': {
      const v = evalExpr(e.a, x);
      return v >= 0 ? v : e.alpha * v;
    }
  }
}

interface Activation {
  kind: ActivationName;
  slope?: number;
}

const CANDIDATES: Array<{ kind: ActivationName; f: (x: number) => number }> = [
  { kind: 'identity', f: (x) => x },
  { kind: 'relu', f: (x) => Math.max(0, x) },
  { kind: 'tanh', f: Math.tanh },
  { kind: 'sigmoid', f: (x) => 1 / (1 + Math.exp(-x)) },
  { kind: 'gelu', f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)) },
  { kind: 'geluTanh', f: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))) },
];

/** Probe points for an expression: fixed ones plus points around each of its constants (so max(x, 50) is not taken for x). */
function probesFor(e: Expr): number[] {
  const out = [...PROBES];
  const stack: Expr[] = [e];
  while (stack.length > 0 && out.length < 400) {
    const x = stack.pop()!;
    if (x.op === 'c' && Number.isFinite(x.v)) out.push(x.v - 1, x.v - 1e-3, x.v + 1e-3, x.v + 1, 2 * x.v + 1, -2 * x.v - 1, 10 * x.v);
    if ('a' in x) stack.push(x.a);
    if ('b' in x) stack.push(x.b);
  }
  return out;
}

function matches(e: Expr, f: (x: number) => number): boolean {
  for (const x of probesFor(e)) {
    const a = evalExpr(e, x);
    const b = f(x);
    if (!Number.isFinite(a) || !(Math.abs(a - b) <= 2e-6 * Math.max(1, Math.abs(b)))) return false;
  }
  return true;
}

/** The activation an elementwise expression computes, if it is one of ours. */
function identify(e: Expr): Activation | null {
  for (const c of CANDIDATES) if (matches(e, c.f)) return { kind: c.kind };
  // Leaky ReLU: slope from f(-1).
  const slope = -evalExpr(e, -1);
  if (Number.isFinite(slope) && slope !== 0) {
    const s = Math.fround(slope);
    if (matches(e, (x) => (x >= 0 ? x : s * x))) return { kind: 'leakyRelu', slope: s };
  }
  return null;
}

/** Subexpressions that contain x, largest first. */
function subtrees(e: Expr, out: Expr[] = []): Expr[] {
  if (e.op === 'x' || e.op === 'c') return out;
  const kids = 'b' in e ? [e.a, e.b] : [e.a];
  for (const k of kids) if (k.op !== 'c' && k.op !== 'x') out.push(k);
  for (const k of kids) subtrees(k, out);
  return out;
}

function exprKey(e: Expr): string {
  return JSON.stringify(e);
}

/** e with every occurrence of `sub` replaced by `y`; null when x remains outside those occurrences. */
function replaceSub(e: Expr, key: string, y: Expr): Expr | null {
  if (exprKey(e) === key) return y;
  switch (e.op) {
    case 'x':
      return null;
    case 'c':
      return e;
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
    case 'pow':
    case 'max':
    case 'min': {
      const a = replaceSub(e.a, key, y);
      const b = replaceSub(e.b, key, y);
      return a && b ? { op: e.op, a, b } : null;
    }
    case 'leaky': {
      const a = replaceSub(e.a, key, y);
      return a ? { op: 'leaky', a, alpha: e.alpha } : null;
    }
    default: {
      const a = replaceSub(e.a, key, y);
      return a ? { op: e.op, a } : null;
    }
  }
}

const ACTIVATION_OPS = new Set(['relu', 'tanh', 'sigmoid', 'gelu', 'geluTanh', 'leaky']);

function decomposeExpr(e: Expr, depth: number): Array<Activation & { from: string }> | null {
  if (e.op === 'x') return [];
  const whole = identify(e);
  if (whole) {
    const simple = ACTIVATION_OPS.has(e.op) && 'a' in e && e.a.op === 'x';
    return [{ ...whole, from: simple ? 'activation' : `elementwise ${exprText(e)}` }];
  }
  if (depth >= 4) return null;
  const seen = new Set<string>();
  for (const sub of subtrees(e)) {
    const key = exprKey(sub);
    if (seen.has(key)) continue;
    seen.add(key);
    const outer = replaceSub(e, key, { op: 'x' });
    if (!outer || outer.op === 'x') continue;
    const act = identify(outer);
    if (!act) continue;
    const inner = decomposeExpr(sub, depth + 1);
    if (inner) return [...inner, { ...act, from: `elementwise ${exprText(outer)} of ${exprText(sub)}` }];
  }
  return null;
}

/** Tree size of an expression, counting shared parts each time, up to `cap`. */
function exprSize(e: Expr, cap: number): number {
  let n = 0;
  const stack: Expr[] = [e];
  while (stack.length > 0 && n <= cap) {
    const x = stack.pop()!;
    n++;
    if ('a' in x) stack.push(x.a);
    if ('b' in x) stack.push(x.b);
  }
  return n;
}

/** Most nodes an elementwise expression may have (the GELU decompositions have about 15). */
const MAX_EXPR_NODES = 200;

function exprText(e: Expr): string {
  switch (e.op) {
    case 'x':
      return 'x';
    case 'c':
      return `${+e.v.toPrecision(6)}`;
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
    case 'pow':
    case 'max':
    case 'min': {
      const sym = { add: '+', sub: '-', mul: '*', div: '/', pow: '^', max: 'max', min: 'min' }[e.op];
      return e.op === 'max' || e.op === 'min' ? `${sym}(${exprText(e.a)}, ${exprText(e.b)})` : `(${exprText(e.a)} ${sym} ${exprText(e.b)})`;
    }
    case 'leaky':
      return `leaky_relu(${exprText(e.a)}, ${e.alpha})`;
    default:
      return `${e.op}(${exprText(e.a)})`;
  }
}

// ---------------------------------------------------------------------------
// The importer

/** A layer spec before it is named. */
type Unnamed<T> = T extends unknown ? Omit<T, 'name'> : never;
type LayerInput = Unnamed<LayerSpec>;

interface PendingLayer {
  spec: LayerSpec;
  /** How it was found, for the report. */
  from: string;
}

class Importer {
  readonly file?: string;
  readonly modelDir?: string;
  readonly opset: number;
  readonly layers: PendingLayer[] = [];
  readonly params = new Map<string, Float32Array>();
  readonly notes: string[] = [];
  private tmp = 0;
  /** Uses of each value name by live nodes (and the graph outputs). */
  private readonly uses = new Map<string, number>();

  constructor(readonly model: ModelProto, readonly opts: ImportOptions) {
    this.file = opts.file;
    this.modelDir = opts.modelDir;
    const def = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
    this.opset = def?.version ?? 0;
  }

  fail(message: string, where = ''): never {
    throw new OnnxFormatError(message, { file: this.file, path: where });
  }

  failNode(at: NodeAt, message: string): never {
    const n = at.node;
    const label = n.name !== '' ? `node '${n.name}' (${n.opType})` : `node ${at.path} (${n.opType})`;
    throw new OnnxFormatError(`${label}: ${message}`, { file: this.file, path: at.path });
  }

  unsupported(at: NodeAt, why: string): never {
    this.failNode(at, `${why}. Supported: ${SUPPORTED_OPS}`);
  }

  // ----- constants

  private decode(l: Lazy): Const {
    if (l.value) return l.value;
    const ctx = { modelDir: this.modelDir, file: this.file, path: l.path };
    const t = l.tensor;
    let c: Const;
    switch (t.dataType) {
      case DataType.FLOAT:
        c = { k: 'const', dtype: 'float', dims: [...t.dims], data: tensorToFloat32(t, ctx), origin: l.origin };
        break;
      case DataType.INT64: {
        const count = tensorElementCount(t, ctx);
        if (count > MAX_FOLD_ELEMENTS) this.fail(`${l.origin}: an int64 tensor of ${count} elements is larger than a shape computation needs`, l.path);
        c = { k: 'const', dtype: 'int', dims: [...t.dims], data: Float64Array.from(tensorToInt64(t, ctx), (v) => Number(v)), origin: l.origin };
        break;
      }
      case DataType.INT32: {
        const count = tensorElementCount(t, ctx);
        if (count > MAX_FOLD_ELEMENTS) this.fail(`${l.origin}: an int32 tensor of ${count} elements is larger than a shape computation needs`, l.path);
        c = { k: 'const', dtype: 'int', dims: [...t.dims], data: Float64Array.from(tensorToInt32(t, ctx)), origin: l.origin };
        break;
      }
      case DataType.DOUBLE: {
        // Scalars some exporters leave in double; weights must be float32 (see weight()).
        const count = tensorElementCount(t, ctx);
        if (count > MAX_FOLD_ELEMENTS) this.fail(`${l.origin}: a float64 constant of ${count} elements is larger than this importer folds`, l.path);
        if (t.dataLocation !== 0) this.fail(`${l.origin}: external data for a float64 constant is not supported`, l.path);
        let vals: Float32Array;
        if (t.rawData !== undefined && t.rawData.length > 0) {
          if (t.rawData.length !== 8 * count) this.fail(`${l.origin}: raw_data holds ${t.rawData.length} bytes but dims [${t.dims.join(', ')}] need ${8 * count}`, `${l.path}.raw_data`);
          const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
          vals = Float32Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
        } else {
          if (t.doubleData.length !== count) this.fail(`${l.origin}: double_data holds ${t.doubleData.length} values but dims [${t.dims.join(', ')}] need ${count}`, `${l.path}.double_data`);
          vals = Float32Array.from(t.doubleData);
        }
        c = { k: 'const', dtype: 'float', dims: [...t.dims], data: vals, origin: l.origin };
        break;
      }
      case DataType.BOOL:
      case DataType.UINT8:
      case DataType.INT8: {
        const count = tensorElementCount(t, ctx);
        if (count > MAX_FOLD_ELEMENTS) this.fail(`${l.origin}: a tensor of ${count} elements is larger than a shape computation needs`, l.path);
        let vals: Float64Array;
        if (t.dataLocation !== 0) this.fail(`${l.origin}: external data for a ${dataTypeName(t.dataType)} constant is not supported`, l.path);
        if (t.rawData !== undefined && t.rawData.length > 0) {
          if (t.rawData.length !== count) this.fail(`${l.origin}: raw_data holds ${t.rawData.length} bytes but dims [${t.dims.join(', ')}] need ${count}`, `${l.path}.raw_data`);
          vals = t.dataType === DataType.INT8 ? Float64Array.from(new Int8Array(t.rawData.buffer, t.rawData.byteOffset, count)) : Float64Array.from(t.rawData);
        } else {
          if (t.int32Data.length !== count) this.fail(`${l.origin}: int32_data holds ${t.int32Data.length} values but dims [${t.dims.join(', ')}] need ${count}`, `${l.path}.int32_data`);
          vals = Float64Array.from(t.int32Data);
        }
        c = { k: 'const', dtype: t.dataType === DataType.BOOL ? 'bool' : 'int', dims: [...t.dims], data: vals, origin: l.origin };
        break;
      }
      default:
        // tensorToFloat32 explains the type problem (float16, double...) naming the tensor.
        tensorToFloat32(t, ctx);
        this.fail(`${l.origin}: data type ${dataTypeName(t.dataType)} is not supported`, l.path);
    }
    l.value = c;
    return c;
  }

  /** The value as a constant, decoding it if needed; undefined when it is not constant. */
  constOf(v: Value | undefined): Const | undefined {
    if (!v) return undefined;
    if (v.k === 'const') return v;
    if (v.k === 'lazy') return this.decode(v);
    if (v.k === 'ints' && v.v.every((x) => typeof x === 'number')) {
      return { k: 'const', dtype: v.dtype, dims: [...v.dims], data: Float64Array.from(v.v as number[]) };
    }
    return undefined;
  }

  /** A float32 weight from a constant value; float16, int64... are errors naming the tensor. */
  weight(v: Value | undefined, what: string, at: NodeAt): { data: Float32Array; dims: number[]; origin: string } {
    if (!v) this.failNode(at, `${what} is missing: the node has too few inputs`);
    if (v.k === 'lazy') {
      const ctx = { modelDir: this.modelDir, file: this.file, path: v.path };
      if (v.value) {
        if (v.value.dtype !== 'float') this.failNode(at, `${what} '${v.origin}' is ${v.tensor.dataType === DataType.INT64 ? 'int64' : v.value.dtype}, but float32 is needed`);
        return { data: v.value.data as Float32Array, dims: v.value.dims, origin: v.origin };
      }
      const data = tensorToFloat32(v.tensor, ctx);
      v.value = { k: 'const', dtype: 'float', dims: [...v.tensor.dims], data, origin: v.origin };
      return { data, dims: [...v.tensor.dims], origin: v.origin };
    }
    if (v.k === 'const') {
      if (v.dtype !== 'float') this.failNode(at, `${what}${v.origin ? ` '${v.origin}'` : ''} is ${v.dtype}, but float32 is needed`);
      return { data: v.data as Float32Array, dims: v.dims, origin: v.origin ?? 'a constant' };
    }
    this.failNode(at, `${what} must be a constant (an initializer or Constant), but it is computed from the input`);
  }

  private ints(v: Value | undefined): Ints | undefined {
    if (!v) return undefined;
    if (v.k === 'ints') return v;
    const c = this.constOf(v);
    if (c && c.dtype !== 'float' && c.dims.length <= 1) return { k: 'ints', dtype: c.dtype === 'bool' ? 'bool' : 'int', dims: [...c.dims], v: Array.from(c.data) };
    return undefined;
  }

  /** Integer list from a constant input (axes, pads, shapes). */
  private intList(v: Value | undefined, what: string, at: NodeAt): number[] {
    const c = this.constOf(v);
    if (!c) this.failNode(at, `${what} must be known when importing (a constant), but it depends on the input`);
    if (c.dtype === 'float') this.failNode(at, `${what} must be integers`);
    return Array.from(c.data);
  }

  private scalar(v: Value | undefined, what: string, at: NodeAt): number {
    const c = this.constOf(v);
    if (!c || c.data.length !== 1) this.failNode(at, `${what} must be a constant scalar`);
    return c.data[0];
  }

  private fold(n: number, at: NodeAt): void {
    if (!(n <= MAX_FOLD_ELEMENTS)) this.failNode(at, `the constant it computes would hold ${n} elements, more than the ${MAX_FOLD_ELEMENTS} accepted`);
  }

  private makeConst(dtype: Const['dtype'], dims: number[], at: NodeAt): Const {
    const n = product(dims);
    this.fold(n, at);
    return { k: 'const', dtype, dims, data: dtype === 'float' ? new Float32Array(n) : new Float64Array(n) };
  }

  // ----- attributes

  attr(n: NodeProto, name: string): AttributeProto | undefined {
    return n.attribute.find((a) => a.name === name);
  }
  getInt(n: NodeProto, name: string, def: number): number {
    const a = this.attr(n, name);
    return a ? a.i : def;
  }
  getInts(n: NodeProto, name: string): number[] | undefined {
    const a = this.attr(n, name);
    return a ? a.ints : undefined;
  }
  getFloat(n: NodeProto, name: string, def: number): number {
    const a = this.attr(n, name);
    return a ? a.f : def;
  }
  getString(n: NodeProto, name: string, def: string): string {
    const a = this.attr(n, name);
    return a ? bytesToString(a.s) : def;
  }

  // ----- layers

  addLayer(spec: LayerInput, from: string): string {
    const name = `#${this.tmp++}`;
    this.layers.push({ spec: { ...spec, name } as LayerSpec, from });
    return name;
  }

  layerOf(name: string): PendingLayer {
    const l = this.layers.find((p) => p.spec.name === name);
    if (!l) throw new Error(`internal: no layer ${name}`);
    return l;
  }

  // ----- the graph walk

  run(): ImportResult {
    const g = this.model.graph;
    if (!g) this.fail('the model has no graph', 'graph');
    const report: string[] = [];
    if (this.opset !== 0 && (this.opset < 11 || this.opset > 17)) {
      this.notes.push(`note: opset ${this.opset} is outside the tested range 11-17; imported with the same rules`);
    }
    const env = new Map<string, Value>();
    const inits = new Set<string>();
    g.initializer.forEach((t, i) => {
      inits.add(t.name);
      env.set(t.name, { k: 'lazy', tensor: t, path: `graph.initializer[${i}]`, origin: t.name === '' ? `graph.initializer[${i}]` : t.name });
    });
    const inputs = g.input.filter((v) => !inits.has(v.name));
    if (inputs.length !== 1) {
      this.fail(
        `a TextCNN takes one input (the token ids [batch, sequence]); this graph has ${inputs.length}${inputs.length ? ` (${inputs.map((v) => v.name).join(', ')})` : ''}`,
        'graph.input',
      );
    }
    const input = inputs[0];
    const tt = input.type?.tensorType;
    if (!tt || (tt.elemType !== DataType.INT64 && tt.elemType !== DataType.INT32)) {
      this.fail(`input '${input.name}' must be int64 (or int32) token ids, not ${tt ? dataTypeName(tt.elemType) : 'a non-tensor type'}`, 'graph.input');
    }
    if (tt.shape && tt.shape.dim.length !== 2) this.fail(`input '${input.name}' must have 2 axes [batch, sequence], not ${tt.shape.dim.length}`, 'graph.input');
    env.set(input.name, { k: 'sym', src: 'ids', tags: ['B', 'T'], ids: true });
    if (g.output.length === 0) this.fail('the graph has no output', 'graph.output');
    let output = g.output[0];
    if (g.output.length > 1) {
      const logits = g.output.find((o) => o.name === 'logits');
      if (!logits) this.fail(`the graph has ${g.output.length} outputs (${g.output.map((o) => o.name).join(', ')}); expected one, the class logits`, 'graph.output');
      output = logits;
      this.notes.push(`note: used output 'logits' and ignored the others (${g.output.filter((o) => o !== logits).map((o) => o.name).join(', ')})`);
    }

    this.runGraph(g, 'graph', env, [output.name], 0);

    const outVal = env.get(output.name);
    if (!outVal || outVal.k !== 'sym') this.fail(`output '${output.name}' does not depend on the input ids`, 'graph.output');
    if (outVal.softmax) this.notes.push(`note: dropped the final ${outVal.softmax}: the imported model outputs logits (the same predicted probabilities)`);
    const out = this.plain({ ...outVal, softmax: undefined }, output.name, env, { node: { input: [], output: [], name: 'output', opType: 'output', domain: '', attribute: [], docString: '' }, path: 'graph.output' });
    if (out.tags.length !== 2 || out.tags[0] !== 'B' || typeof out.tags[1] !== 'number') {
      this.fail(`output '${output.name}' must be class logits [batch, classes], but it is ${tagsText(out.tags)}`, 'graph.output');
    }
    if (out.src === 'ids' || this.layers.length === 0) this.fail(`output '${output.name}' is not computed by any layer`, 'graph.output');
    // Keep the layers the output depends on (a pooled value read only for its shape computes nothing).
    const needed = new Set<string>([out.src]);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const s = this.layers[i].spec;
      if (!needed.has(s.name)) {
        this.notes.push(`note: ${this.layers[i].from} does not feed the output; left out`);
        this.layers.splice(i, 1);
        continue;
      }
      if (s.type === 'concat') s.inputs.forEach((n) => needed.add(n));
      else if (s.type !== 'embedding') needed.add(s.input);
    }
    if (!this.layers.some((l) => l.spec.type === 'embedding')) this.fail('no embedding (Gather of a weight matrix by the input ids) was found', 'graph.node');
    if (this.layers[this.layers.length - 1].spec.name !== out.src) this.fail(`output '${output.name}' is not the last layer computed`, 'graph.output');

    const { graph, params } = this.rename();
    try {
      inferShapes(graph);
    } catch (err) {
      this.fail(`the mapped graph is not a valid model: ${(err as Error).message}`, 'graph');
    }
    for (const l of graph.layers) report.push(`${l.name}: ${describe(l)} <- ${this.froms.get(l.name)}`);
    report.push(...this.notes);
    return { graph, params, report };
  }

  private readonly froms = new Map<string, string>();

  /** Runs the live nodes of a graph (or an If branch) that compute `outputs`. */
  private runGraph(g: GraphProto, gpath: string, env: Map<string, Value>, outputs: string[], depth: number): void {
    const producer = new Map<string, number>();
    g.node.forEach((n, i) => n.output.forEach((o) => o !== '' && producer.set(o, i)));
    g.initializer.forEach((t, i) => {
      if (!env.has(t.name) || gpath !== 'graph') env.set(t.name, { k: 'lazy', tensor: t, path: `${gpath}.initializer[${i}]`, origin: t.name });
    });
    // Live nodes: those the outputs depend on (including values an If branch reads from outside).
    const live = new Set<number>();
    const stack = [...outputs];
    for (const o of outputs) this.uses.set(o, (this.uses.get(o) ?? 0) + 1);
    while (stack.length > 0) {
      const name = stack.pop()!;
      const i = producer.get(name);
      if (i === undefined) {
        if (!env.has(name)) this.fail(`value '${name}' is used but no node, initializer or input produces it`, gpath);
        continue;
      }
      if (live.has(i)) continue;
      live.add(i);
      const n = g.node[i];
      const refs = [...n.input.filter((s) => s !== ''), ...outerRefs(n)];
      for (const r of refs) {
        this.uses.set(r, (this.uses.get(r) ?? 0) + 1);
        stack.push(r);
      }
    }
    const ignored = g.node.length - live.size;
    if (ignored > 0 && gpath === 'graph') this.notes.push(`note: ${ignored} node(s) do not contribute to the output and were ignored`);
    for (let i = 0; i < g.node.length; i++) {
      if (!live.has(i)) continue;
      const n = g.node[i];
      const at = { node: n, path: `${gpath}.node[${i}]` };
      for (const inp of n.input) {
        if (inp !== '' && !env.has(inp)) this.failNode(at, `input '${inp}' is not computed before this node (the graph is not in topological order)`);
      }
      this.visit(at, env, depth);
    }
  }

  /** Materialises an elementwise expression into activation layers; returns a plain runtime value. */
  private plain(v: Sym, name: string, env: Map<string, Value>, at: NodeAt, allowPad = false): Sym {
    if (v.pad && !allowPad) this.failNode(at, `reads '${name}', the output of a Pad; Pad is only supported directly before a Conv`);
    if (v.softmax) this.failNode(at, `reads '${name}', the output of ${v.softmax}; ${v.softmax} is only supported as the last op (the output)`);
    if (!v.expr || v.expr.op === 'x') return v;
    if (v.ids) this.failNode(at, 'arithmetic on token ids is not supported');
    const steps = this.decompose(v.expr, at);
    const nodes = (v.exprNodes ?? []).join(', ');
    let src = v.src;
    for (const a of steps) {
      if (a.kind === 'identity') continue;
      const spec: LayerInput = a.kind === 'leakyRelu' ? { type: 'activation', input: src, kind: a.kind, slope: a.slope } : { type: 'activation', input: src, kind: a.kind };
      src = this.addLayer(spec, `${a.from}: ${nodes}`);
    }
    const out: Sym = { k: 'sym', src, tags: v.tags };
    env.set(name, out);
    return out;
  }

  /**
   * Splits an elementwise expression into a chain of our activations:
   * the whole expression if it is one, else an outer activation of an inner
   * subexpression that decomposes in turn (e.g. sigmoid(tanh(relu(x)))).
   */
  private decompose(e: Expr, at: NodeAt): Array<Activation & { from: string }> {
    const found = decomposeExpr(e, 0);
    if (found) return found;
    this.failNode(at, `reads the elementwise function ${exprText(e)}, which is not one of the supported activations (relu, tanh, sigmoid, leaky_relu, gelu, gelu tanh) or a chain of them`);
  }

  private sym(env: Map<string, Value>, name: string, at: NodeAt, allowPad = false): Sym {
    const v = env.get(name);
    if (!v || v.k !== 'sym') this.failNode(at, `input '${name}' must be computed from the token ids`);
    return this.plain(v, name, env, at, allowPad);
  }

  private set(env: Map<string, Value>, at: NodeAt, v: Value, index = 0): void {
    const name = at.node.output[index];
    if (name === undefined || name === '') return;
    env.set(name, v);
  }

  /** Output index `i` must not be used (e.g. Dropout's mask, MaxPool's indices). */
  private unusedOutput(at: NodeAt, i: number, what: string): void {
    const name = at.node.output[i];
    if (name && (this.uses.get(name) ?? 0) > 0) this.failNode(at, `its ${what} output '${name}' is used; only the first output is supported`);
  }

  private visit(at: NodeAt, env: Map<string, Value>, depth: number): void {
    const n = at.node;
    if (n.domain !== '' && n.domain !== 'ai.onnx') this.unsupported(at, `ops of domain '${n.domain}' are not supported`);
    const vals = n.input.map((s) => (s === '' ? undefined : env.get(s)));
    const anySym = vals.some((v) => v?.k === 'sym');
    if (n.opType === 'Constant') return this.constantNode(at, env);
    if (n.opType === 'If') return this.ifNode(at, env, vals, depth);
    if (!anySym) {
      // Constant or shape arithmetic.
      if (vals.some((v) => v?.k === 'ints')) {
        const r = this.intsOp(at, vals);
        if (r) return this.set(env, at, r);
      }
      if (vals.every((v) => v === undefined || v.k === 'const' || v.k === 'lazy' || (v.k === 'ints' && this.constOf(v)))) {
        return this.set(env, at, this.foldOp(at, vals));
      }
      this.unsupported(at, `cannot compute ${n.opType} over values that depend on the input's size`);
    }
    this.symOp(at, env, vals);
  }

  private constantNode(at: NodeAt, env: Map<string, Value>): void {
    const n = at.node;
    const a = n.attribute[0];
    if (n.attribute.length !== 1 || !a) this.failNode(at, 'a Constant needs exactly one value attribute');
    const origin = n.output[0] ?? 'constant';
    switch (a.name) {
      case 'value':
        if (!a.t) this.failNode(at, "attribute 'value' holds no tensor");
        return this.set(env, at, { k: 'lazy', tensor: a.t, path: `${at.path}.attribute[value]`, origin });
      case 'value_float':
        return this.set(env, at, { k: 'const', dtype: 'float', dims: [], data: Float32Array.of(a.f), origin });
      case 'value_floats':
        return this.set(env, at, { k: 'const', dtype: 'float', dims: [a.floats.length], data: Float32Array.from(a.floats), origin });
      case 'value_int':
        return this.set(env, at, { k: 'const', dtype: 'int', dims: [], data: Float64Array.of(a.i), origin });
      case 'value_ints':
        return this.set(env, at, { k: 'const', dtype: 'int', dims: [a.ints.length], data: Float64Array.from(a.ints), origin });
      default:
        this.unsupported(at, `a Constant with attribute '${a.name}' is not supported`);
    }
  }

  private ifNode(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[], depth: number): void {
    const cond = vals[0];
    const c = cond?.k === 'ints' ? this.constOf(cond) : cond && cond.k !== 'sym' ? this.constOf(cond) : undefined;
    if (!c || c.data.length !== 1) {
      this.unsupported(at, 'If is supported only when its condition is known at import time; this one depends on the input (data-dependent control flow)');
    }
    if (depth >= MAX_IF_DEPTH) this.failNode(at, `If nodes nested more than ${MAX_IF_DEPTH} deep`);
    const branchName = c.data[0] !== 0 ? 'then_branch' : 'else_branch';
    const branch = this.attr(at.node, branchName);
    if (!branch || !branch.g || branch.type !== AttributeType.GRAPH) this.failNode(at, `has no ${branchName} graph`);
    const g = branch.g;
    if (g.output.length !== at.node.output.length) {
      this.failNode(at, `${branchName} has ${g.output.length} outputs but the If node ${at.node.output.length}`);
    }
    this.runGraph(g, `${at.path}.${branchName}`, env, g.output.map((o) => o.name), depth + 1);
    g.output.forEach((o, i) => {
      const v = env.get(o.name);
      if (!v) this.failNode(at, `${branchName} does not compute its output '${o.name}'`);
      this.set(env, at, v, i);
    });
  }

  // ----- shape arithmetic over symbolic sizes

  private intsOp(at: NodeAt, vals: (Value | undefined)[]): Ints | undefined {
    const n = at.node;
    const a = this.ints(vals[0]);
    if (!a) return undefined;
    switch (n.opType) {
      case 'Identity':
      case 'Cast':
        return n.opType === 'Cast' && this.getInt(n, 'to', 0) === DataType.BOOL ? { ...a, dtype: 'bool', v: a.v.map((x) => (typeof x === 'number' ? (x !== 0 ? 1 : 0) : '?')) } : { ...a, dtype: n.opType === 'Cast' ? 'int' : a.dtype };
      case 'Gather': {
        const idx = this.constOf(vals[1]);
        if (!idx || a.dims.length !== 1) return undefined;
        const out: SymInt[] = Array.from(idx.data, (i) => {
          const j = i < 0 ? i + a.v.length : i;
          if (!(j >= 0 && j < a.v.length)) this.failNode(at, `index ${i} is out of range for ${a.v.length} values`);
          return a.v[j];
        });
        return { k: 'ints', dtype: a.dtype, dims: [...idx.dims], v: out };
      }
      case 'Unsqueeze':
        if (a.dims.length !== 0) return undefined;
        return { ...a, dims: [1] };
      case 'Squeeze':
        if (a.dims.length === 1 && a.v.length === 1) return { ...a, dims: [] };
        return undefined;
      case 'Reshape': {
        const shape = this.constOf(vals[1]);
        if (!shape) return undefined;
        const count = a.v.length;
        if (shape.data.length === 0 && count === 1) return { ...a, dims: [] };
        if (shape.data.length === 1 && (shape.data[0] === -1 || shape.data[0] === count)) return { ...a, dims: [count] };
        return undefined;
      }
      case 'Concat': {
        const parts = vals.map((v) => this.ints(v));
        if (parts.some((p) => !p || p.dims.length !== 1)) return undefined;
        return { k: 'ints', dtype: 'int', dims: [parts.reduce((s, p) => s + p!.v.length, 0)], v: parts.flatMap((p) => p!.v) };
      }
      case 'Slice': {
        if (a.dims.length !== 1) return undefined;
        const starts = this.intList(vals[1] ?? this.attrConst(n, 'starts'), 'Slice starts', at);
        const ends = this.intList(vals[2] ?? this.attrConst(n, 'ends'), 'Slice ends', at);
        const steps = vals[4] ? this.intList(vals[4], 'Slice steps', at) : [1];
        const idx = sliceIndices(a.v.length, starts[0], ends[0], steps[0] ?? 1, (m) => this.failNode(at, m));
        return { ...a, v: idx.map((i) => a.v[i]), dims: [idx.length] };
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Max':
      case 'Min':
      case 'Equal': {
        const b = this.ints(vals[1]);
        if (!b) return undefined;
        const len = Math.max(a.v.length, b.v.length);
        if (a.v.length !== len && a.v.length !== 1) return undefined;
        if (b.v.length !== len && b.v.length !== 1) return undefined;
        const out: SymInt[] = [];
        for (let i = 0; i < len; i++) {
          const x = a.v[a.v.length === 1 ? 0 : i];
          const y = b.v[b.v.length === 1 ? 0 : i];
          if (typeof x !== 'number' || typeof y !== 'number') {
            out.push(n.opType === 'Mul' && (x === 0 || y === 0) ? 0 : '?');
            continue;
          }
          out.push(intArith(n.opType, x, y));
        }
        return { k: 'ints', dtype: n.opType === 'Equal' ? 'bool' : 'int', dims: a.dims.length >= b.dims.length ? [...a.dims] : [...b.dims], v: out };
      }
      default:
        return undefined;
    }
  }

  private attrConst(n: NodeProto, name: string): Const | undefined {
    const ints = this.getInts(n, name);
    return ints ? { k: 'const', dtype: 'int', dims: [ints.length], data: Float64Array.from(ints) } : undefined;
  }

  // ----- constant folding

  private foldOp(at: NodeAt, vals: (Value | undefined)[]): Const {
    const n = at.node;
    const c = (i: number): Const => {
      const v = this.constOf(vals[i]);
      if (!v) this.failNode(at, `input ${i} is missing`);
      return v;
    };
    switch (n.opType) {
      case 'Identity':
        return c(0);
      case 'Cast': {
        const x = c(0);
        const to = this.getInt(n, 'to', 0);
        if (to === DataType.FLOAT || to === DataType.DOUBLE || to === DataType.FLOAT16) return { ...x, dtype: 'float', data: Float32Array.from(x.data) };
        if (to === DataType.BOOL) return { ...x, dtype: 'bool', data: Float64Array.from(x.data, (v) => (v !== 0 ? 1 : 0)) };
        return { ...x, dtype: 'int', data: x.dtype === 'float' ? Float64Array.from(x.data, Math.trunc) : x.data };
      }
      case 'Shape': {
        const x = c(0);
        return { k: 'const', dtype: 'int', dims: [x.dims.length], data: Float64Array.from(x.dims) };
      }
      case 'Size':
        return { k: 'const', dtype: 'int', dims: [], data: Float64Array.of(product(c(0).dims)) };
      case 'ConstantOfShape': {
        const shape = this.intList(vals[0], 'ConstantOfShape shape', at);
        if (shape.some((d) => !(Number.isInteger(d) && d >= 0))) this.failNode(at, `shape [${shape.join(', ')}] holds a negative or non-integer size`);
        const a = this.attr(n, 'value');
        const fill = a?.t ? this.decode({ k: 'lazy', tensor: a.t, path: `${at.path}.attribute[value]`, origin: 'value' }) : undefined;
        const out = this.makeConst(fill?.dtype ?? 'float', shape, at);
        out.data.fill(fill ? fill.data[0] ?? 0 : 0);
        return out;
      }
      case 'Reshape': {
        const x = c(0);
        const shape = this.intList(vals[1], 'Reshape shape', at);
        return { ...x, dims: reshapeDims(x.dims, shape, this.getInt(n, 'allowzero', 0) !== 0, (m) => this.failNode(at, m)) };
      }
      case 'Flatten': {
        const x = c(0);
        const axis = normAxis(this.getInt(n, 'axis', 1), x.dims.length + 1, (m) => this.failNode(at, m));
        return { ...x, dims: [product(x.dims.slice(0, axis)), product(x.dims.slice(axis))] };
      }
      case 'Unsqueeze': {
        const x = c(0);
        const axes = this.getInts(n, 'axes') ?? this.intList(vals[1], 'Unsqueeze axes', at);
        const rank = x.dims.length + axes.length;
        const norm = axes.map((a) => normAxis(a, rank, (m) => this.failNode(at, m))).sort((p, q) => p - q);
        const dims = [...x.dims];
        for (const a of norm) dims.splice(a, 0, 1);
        return { ...x, dims };
      }
      case 'Squeeze': {
        const x = c(0);
        const given = this.getInts(n, 'axes') ?? (vals[1] ? this.intList(vals[1], 'Squeeze axes', at) : undefined);
        const axes = given ? given.map((a) => normAxis(a, x.dims.length, (m) => this.failNode(at, m))) : x.dims.flatMap((d, i) => (d === 1 ? [i] : []));
        for (const a of axes) if (x.dims[a] !== 1) this.failNode(at, `cannot squeeze axis ${a} of size ${x.dims[a]}`);
        return { ...x, dims: x.dims.filter((_, i) => !axes.includes(i)) };
      }
      case 'Transpose': {
        const x = c(0);
        const perm = this.getInts(n, 'perm') ?? x.dims.map((_, i) => x.dims.length - 1 - i);
        return transposeConst(x, perm, (m) => this.failNode(at, m));
      }
      case 'Concat': {
        const parts = vals.map((_, i) => c(i));
        return concatConst(parts, this.getInt(n, 'axis', 0), (m) => this.failNode(at, m));
      }
      case 'Gather': {
        const x = c(0);
        const idx = c(1);
        return gatherConst(x, idx, this.getInt(n, 'axis', 0), (m) => this.failNode(at, m), (k) => this.fold(k, at));
      }
      case 'Slice': {
        const x = c(0);
        const starts = this.intList(vals[1] ?? this.attrConst(n, 'starts'), 'Slice starts', at);
        const ends = this.intList(vals[2] ?? this.attrConst(n, 'ends'), 'Slice ends', at);
        const axes = vals[3] ? this.intList(vals[3], 'Slice axes', at) : this.getInts(n, 'axes') ?? starts.map((_, i) => i);
        const steps = vals[4] ? this.intList(vals[4], 'Slice steps', at) : starts.map(() => 1);
        return sliceConst(x, starts, ends, axes, steps, (m) => this.failNode(at, m));
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Pow':
      case 'Max':
      case 'Min':
      case 'Equal':
      case 'Less':
      case 'Greater':
      case 'And':
      case 'Or': {
        const a = c(0);
        const b = c(1);
        return broadcastConst(a, b, n.opType, (m) => this.failNode(at, m), (k) => this.fold(k, at));
      }
      case 'Neg':
      case 'Sqrt':
      case 'Not':
      case 'Abs':
      case 'Reciprocal':
      case 'Floor':
      case 'Ceil': {
        const x = c(0);
        const f = { Neg: (v: number) => -v, Sqrt: Math.sqrt, Not: (v: number) => (v ? 0 : 1), Abs: Math.abs, Reciprocal: (v: number) => 1 / v, Floor: Math.floor, Ceil: Math.ceil }[n.opType]!;
        const data = x.dtype === 'float' ? Float32Array.from(x.data, f) : Float64Array.from(x.data, f);
        return { ...x, data, dtype: n.opType === 'Not' ? 'bool' : x.dtype, origin: undefined };
      }
      default:
        this.unsupported(at, `${n.opType} on constants is not supported`);
    }
  }

  // ----- ops on runtime tensors

  private symOp(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const name0 = n.input[0];
    const raw0 = vals[0];
    switch (n.opType) {
      case 'Identity':
        return this.set(env, at, raw0!);
      case 'Cast': {
        const x = raw0 as Sym;
        const to = this.getInt(n, 'to', 0);
        const intTypes: number[] = [DataType.INT64, DataType.INT32, DataType.INT16, DataType.UINT32, DataType.UINT64];
        if (x.ids ? intTypes.includes(to) : to === DataType.FLOAT) return this.set(env, at, x);
        this.unsupported(at, `Cast of ${x.ids ? 'the token ids' : 'a float32 tensor'} to ${dataTypeName(to)} is not supported`);
      }
      case 'Shape': {
        const x = raw0 as Sym;
        let v: SymInt[] = x.tags.map((t) => (t === 'B' || t === 'T' ? t : t === '1' || t === 'P' ? 1 : t));
        const start = this.getInt(n, 'start', 0);
        const end = this.attr(n, 'end') ? this.getInt(n, 'end', v.length) : v.length;
        const r = v.length;
        const s = Math.min(Math.max(start < 0 ? start + r : start, 0), r);
        const e = Math.min(Math.max(end < 0 ? end + r : end, 0), r);
        v = v.slice(s, Math.max(s, e));
        return this.set(env, at, { k: 'ints', dtype: 'int', dims: [v.length], v });
      }
      case 'Gather':
        return this.embedding(at, env, vals);
      case 'Transpose': {
        const x = raw0 as Sym;
        const perm = this.getInts(n, 'perm') ?? x.tags.map((_, i) => x.tags.length - 1 - i);
        if (perm.length !== x.tags.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) this.failNode(at, `perm [${perm.join(', ')}] is not a permutation of ${x.tags.length} axes`);
        return this.set(env, at, { ...x, tags: perm.map((p) => x.tags[p]), biasOf: undefined });
      }
      case 'Unsqueeze': {
        const x = raw0 as Sym;
        const axes = this.getInts(n, 'axes') ?? this.intList(vals[1], 'Unsqueeze axes', at);
        const rank = x.tags.length + axes.length;
        const norm = axes.map((a) => normAxis(a, rank, (m) => this.failNode(at, m))).sort((p, q) => p - q);
        const tags = [...x.tags];
        for (const a of norm) tags.splice(a, 0, '1');
        return this.set(env, at, { ...x, tags, biasOf: undefined });
      }
      case 'Squeeze': {
        const x = raw0 as Sym;
        const given = this.getInts(n, 'axes') ?? (vals[1] ? this.intList(vals[1], 'Squeeze axes', at) : undefined);
        const axes = given ? given.map((a) => normAxis(a, x.tags.length, (m) => this.failNode(at, m))) : x.tags.flatMap((t, i) => (isUnit(t) ? [i] : []));
        for (const a of axes) {
          if (!isUnit(x.tags[a])) this.unsupported(at, `squeezes axis ${a}, which is the ${tagText(x.tags[a])} axis of ${tagsText(x.tags)}, not an axis of size 1`);
        }
        return this.set(env, at, { ...x, tags: x.tags.filter((_, i) => !axes.includes(i)), biasOf: undefined });
      }
      case 'Flatten': {
        const x = raw0 as Sym;
        const axis = normAxis(this.getInt(n, 'axis', 1), x.tags.length + 1, (m) => this.failNode(at, m));
        const merge = (ts: Tag[]): Tag => {
          const rest = ts.filter((t) => !isUnit(t));
          if (rest.length === 0) return '1';
          if (rest.length === 1) return rest[0];
          if (rest.every((t) => typeof t === 'number')) return product(rest as number[]);
          this.unsupported(at, `flattening ${tagsText(x.tags)} at axis ${axis} would merge the ${rest.map(tagText).join(' and ')} axes`);
        };
        return this.set(env, at, { ...x, tags: [merge(x.tags.slice(0, axis)), merge(x.tags.slice(axis))], biasOf: undefined });
      }
      case 'Reshape': {
        const x = raw0 as Sym;
        const target = this.ints(vals[1]);
        if (!target) this.failNode(at, 'its shape input must be a constant or computed from shapes');
        const tags = reshapeTags(x.tags, target.v, this.getInt(n, 'allowzero', 0) !== 0, (m) => this.unsupported(at, m));
        return this.set(env, at, { ...x, tags, biasOf: undefined });
      }
      case 'Pad':
        return this.padNode(at, env, vals);
      case 'Conv':
        return this.conv(at, env, vals);
      case 'Relu':
      case 'Tanh':
      case 'Sigmoid':
      case 'Erf':
      case 'Neg':
      case 'Sqrt':
      case 'Exp':
      case 'Abs':
      case 'Reciprocal':
      case 'LeakyRelu':
      case 'Gelu': {
        const x = raw0 as Sym;
        if (x.ids) this.unsupported(at, 'arithmetic on token ids is not supported');
        if (x.pad || x.softmax) this.plain(x, name0, env, at);
        const base = x.expr ?? { op: 'x' as const };
        let e: Expr;
        if (n.opType === 'LeakyRelu') e = { op: 'leaky', a: base, alpha: Math.fround(this.getFloat(n, 'alpha', 0.01)) };
        else if (n.opType === 'Gelu') {
          const approx = this.getString(n, 'approximate', 'none');
          if (approx !== 'none' && approx !== 'tanh') this.unsupported(at, `Gelu approximate='${approx}' is not supported`);
          e = { op: approx === 'tanh' ? 'geluTanh' : 'gelu', a: base };
        } else {
          const op = ({ Relu: 'relu', Tanh: 'tanh', Sigmoid: 'sigmoid', Erf: 'erf', Neg: 'neg', Sqrt: 'sqrt', Exp: 'exp', Abs: 'abs', Reciprocal: 'reciprocal' } as const)[n.opType]!;
          e = { op, a: base };
        }
        if (exprSize(e, MAX_EXPR_NODES) > MAX_EXPR_NODES) this.unsupported(at, `the elementwise expression grows past ${MAX_EXPR_NODES} operations`);
        return this.set(env, at, { k: 'sym', src: x.src, tags: x.tags, expr: e, exprNodes: [...(x.exprNodes ?? []), `${n.opType} '${n.name}'`] });
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Pow':
      case 'Max':
      case 'Min':
        return this.binary(at, env, vals);
      case 'ReduceMax':
      case 'ReduceMean':
        return this.reduce(at, env, vals);
      case 'GlobalMaxPool':
      case 'GlobalAveragePool':
      case 'MaxPool':
      case 'AveragePool':
        return this.pool(at, env);
      case 'Concat':
        return this.concat(at, env, vals);
      case 'Dropout':
        return this.dropout(at, env, vals);
      case 'Gemm':
      case 'MatMul':
        return this.linear(at, env, vals);
      case 'Softmax':
      case 'LogSoftmax': {
        const x = this.sym(env, name0, at);
        const axis = this.getInt(n, 'axis', this.opset >= 13 ? -1 : 1);
        if (x.tags.length !== 2 || x.tags[0] !== 'B' || normAxis(axis, 2, (m) => this.failNode(at, m)) !== 1) {
          this.unsupported(at, `${n.opType} is supported only over the classes of [batch, classes] logits`);
        }
        return this.set(env, at, { ...x, softmax: n.opType });
      }
      default:
        this.unsupported(at, `${n.opType} is not supported on values computed from the input`);
    }
  }

  private embedding(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const data = vals[0];
    const idx = vals[1];
    if (data?.k === 'sym') {
      this.unsupported(at, 'Gather from a computed tensor is not supported (only an embedding lookup: Gather of a weight matrix by the token ids)');
    }
    if (idx?.k !== 'sym' || !idx.ids || idx.expr) this.unsupported(at, 'Gather of a weight matrix is supported only by the token ids (an embedding lookup)');
    if (this.getInt(n, 'axis', 0) !== 0) this.unsupported(at, 'an embedding lookup must gather rows (axis 0)');
    if (this.layers.some((l) => l.spec.type === 'embedding')) this.unsupported(at, 'a second embedding lookup of the token ids is not supported (one embedding per model)');
    const w = this.weight(data!, 'the embedding weight', at);
    if (w.dims.length !== 2) this.failNode(at, `embedding weight '${w.origin}' has dims [${w.dims.join(', ')}]; expected [vocabulary, dim]`);
    const [rows, dim] = w.dims;
    if (!(rows > 0 && dim > 0)) this.failNode(at, `embedding weight '${w.origin}' has dims [${w.dims.join(', ')}]`);
    if (this.opts.vocabSize !== undefined && rows !== this.opts.vocabSize) {
      this.fail(
        `embedding weight '${w.origin}' has ${rows} rows but the vocabulary has ${this.opts.vocabSize} tokens; give the vocabulary the model was trained with`,
        at.path,
      );
    }
    const padId = this.opts.padId ?? 0;
    let paddingIdx: number | null = null;
    let padNote: string;
    if (padId >= 0 && padId < rows) {
      let zero = true;
      for (let i = padId * dim; i < (padId + 1) * dim; i++) if (w.data[i] !== 0) zero = false;
      paddingIdx = zero ? padId : null;
      padNote = zero ? `pad row ${padId} is zero: kept as padding_idx (never trained)` : `pad row ${padId} is not zero: no padding_idx`;
    } else padNote = `pad id ${padId} is outside the ${rows} rows: no padding_idx`;
    const name = this.addLayer({ type: 'embedding', vocabSize: rows, dim, paddingIdx }, `Gather '${n.name}' of '${w.origin}' [${rows}, ${dim}]; ${padNote}`);
    this.params.set(`${name}.weight`, w.data);
    const x = idx as Sym;
    // ids [..., B, T] -> [B, T, D] (any ids layout is followed: ids are [B, T] here).
    this.set(env, at, { k: 'sym', src: name, tags: [...x.tags, dim] });
  }

  private padNode(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const x = this.sym(env, n.input[0], at);
    if (x.ids) this.unsupported(at, 'padding the token ids is not supported');
    const mode = this.getString(n, 'mode', 'constant');
    if (mode !== 'constant') this.unsupported(at, `Pad mode '${mode}' is not supported (only constant zero padding before a Conv)`);
    const pads = this.getInts(n, 'pads') ?? this.intList(vals[1], 'Pad pads', at);
    const value = vals[2] ? this.scalar(vals[2], 'Pad constant_value', at) : this.getFloat(n, 'value', 0);
    if (value !== 0) this.unsupported(at, `Pad with value ${value} is not supported (only zeros, as a convolution's own padding)`);
    let axes = x.tags.map((_, i) => i);
    if (vals[3]) axes = this.intList(vals[3], 'Pad axes', at).map((a) => normAxis(a, x.tags.length, (m) => this.failNode(at, m)));
    if (pads.length !== 2 * axes.length) this.failNode(at, `pads has ${pads.length} values for ${axes.length} axes`);
    let l = 0;
    let r = 0;
    axes.forEach((a, i) => {
      const b = pads[i];
      const e = pads[i + axes.length];
      if (b < 0 || e < 0) this.unsupported(at, 'negative padding (cropping) is not supported');
      if ((b !== 0 || e !== 0) && x.tags[a] !== 'T') this.unsupported(at, `pads the ${tagText(x.tags[a])} axis; only the time axis may be padded`);
      if (x.tags[a] === 'T') {
        l = b;
        r = e;
      }
    });
    const prev = x.pad ?? [0, 0];
    this.set(env, at, { ...x, pad: [prev[0] + l, prev[1] + r], biasOf: undefined });
  }

  private conv(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const x = this.sym(env, n.input[0], at, true);
    if (x.ids) this.unsupported(at, 'a Conv over the token ids is not supported');
    const kim = x.tags.length === 4;
    if (!kim && !(x.tags.length === 3 && x.tags[0] === 'B' && typeof x.tags[1] === 'number' && x.tags[2] === 'T')) {
      this.unsupported(at, `a 1-D Conv must read [batch, channels, time] (the embedding transposed), but its input is ${tagsText(x.tags)}`);
    }
    if (kim && !(x.tags[0] === 'B' && x.tags[1] === '1' && x.tags[2] === 'T' && typeof x.tags[3] === 'number')) {
      this.unsupported(at, `a 2-D Conv must read [batch, 1, time, dim] (the Kim form: the embedding unsqueezed at axis 1), but its input is ${tagsText(x.tags)}`);
    }
    const C = (kim ? x.tags[3] : x.tags[1]) as number;
    if (!vals[1]) this.failNode(at, 'has no weight');
    const w = this.weight(vals[1], 'the convolution weight', at);
    const group = this.getInt(n, 'group', 1);
    if (group !== 1) this.unsupported(at, `group ${group} is not supported (only 1)`);
    const spatial = kim ? 2 : 1;
    const strides = this.getInts(n, 'strides') ?? new Array<number>(spatial).fill(1);
    const dil = this.getInts(n, 'dilations') ?? new Array<number>(spatial).fill(1);
    if (strides.some((s) => s !== 1)) this.unsupported(at, `strides [${strides.join(', ')}] are not supported (only 1)`);
    if (dil.some((d) => d !== 1)) this.unsupported(at, `dilations [${dil.join(', ')}] are not supported (only 1)`);
    let M: number;
    let K: number;
    let weight: Float32Array;
    if (kim) {
      if (w.dims.length !== 4 || w.dims[1] !== 1 || w.dims[3] !== C) {
        this.unsupported(at, `a 2-D Conv weight must be [maps, 1, width, ${C}] (a kernel spanning the whole embedding), but '${w.origin}' is [${w.dims.join(', ')}]`);
      }
      [M, , K] = w.dims;
      weight = w.data.slice(); // [M, 1, K, D] is already our [M, K, D]
    } else {
      if (w.dims.length !== 3 || w.dims[1] !== C) this.failNode(at, `weight '${w.origin}' has dims [${w.dims.join(', ')}] but the input has ${C} channels: expected [maps, ${C}, width]`);
      [M, , K] = w.dims;
      weight = convWeightFromOnnx(w.data, M, K, C);
    }
    const ks = this.getInts(n, 'kernel_shape');
    const wantKs = kim ? [K, C] : [K];
    if (ks && (ks.length !== wantKs.length || ks.some((k, i) => k !== wantKs[i]))) this.failNode(at, `kernel_shape [${ks.join(', ')}] disagrees with the weight's [${wantKs.join(', ')}]`);
    if (!(M > 0 && K > 0)) this.failNode(at, `weight '${w.origin}' has dims [${w.dims.join(', ')}]`);
    // Padding on the time axis: explicit Pad before + the Conv's own.
    const autoPad = this.getString(n, 'auto_pad', 'NOTSET');
    let l = 0;
    let r = 0;
    if (autoPad === 'NOTSET') {
      const pads = this.getInts(n, 'pads') ?? new Array<number>(2 * spatial).fill(0);
      if (pads.length !== 2 * spatial) this.failNode(at, `pads has ${pads.length} values; expected ${2 * spatial}`);
      l = pads[0];
      r = pads[spatial];
      if (kim && (pads[1] !== 0 || pads[3] !== 0)) this.unsupported(at, 'a 2-D Conv may pad only the time axis, not the embedding axis');
    } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      if (kim) this.unsupported(at, `auto_pad ${autoPad} on a 2-D Conv would pad the embedding axis`);
      const total = K - 1;
      l = autoPad === 'SAME_UPPER' ? total >> 1 : total - (total >> 1);
      r = total - l;
    } else if (autoPad !== 'VALID') this.failNode(at, `auto_pad '${autoPad}' is not valid`);
    if (x.pad) {
      l += x.pad[0];
      r += x.pad[1];
    }
    const sameL = (K - 1) >> 1;
    let padding: ConvPadding;
    if (l === 0 && r === 0) padding = 'valid';
    else if (l === sameL && r === K - 1 - sameL) padding = 'same';
    else if (l === r && l <= MAX_CONV_PADDING) padding = l;
    else {
      this.unsupported(
        at,
        `padding (${l} before, ${r} after) for width ${K} is neither 'valid' (0, 0), 'same' (${sameL}, ${K - 1 - sameL}) nor the same number of zeros on both sides (at most ${MAX_CONV_PADDING})`,
      );
    }
    let bias: Float32Array;
    let biasFree = false;
    if (vals[2]) {
      const b = this.weight(vals[2], 'the convolution bias', at);
      if (b.data.length !== M) this.failNode(at, `bias '${b.origin}' has ${b.data.length} values but the Conv has ${M} maps`);
      bias = b.data.slice();
    } else {
      bias = new Float32Array(M);
      biasFree = true;
    }
    const name = this.addLayer(
      { type: 'conv1d', input: x.src, outChannels: M, width: K, padding },
      `${kim ? '2-D (Kim) ' : ''}Conv '${n.name}' of '${w.origin}' [${w.dims.join(', ')}]${x.pad ? ` after Pad (${x.pad[0]}, ${x.pad[1]})` : ''}`,
    );
    this.params.set(`${name}.weight`, weight);
    this.params.set(`${name}.bias`, bias);
    this.set(env, at, { k: 'sym', src: name, tags: kim ? ['B', M, 'T', '1'] : ['B', M, 'T'], biasOf: biasFree ? name : undefined });
  }

  private binary(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const [a, b] = vals;
    // Bias folding: Add(output of a Conv without bias or a MatMul, constant per channel).
    if (n.opType === 'Add') {
      for (const [s, c, si] of [[a, b, 0], [b, a, 1]] as const) {
        if (s?.k === 'sym' && s.biasOf && !s.expr && c && c.k !== 'sym' && (this.uses.get(n.input[si]) ?? 0) === 1) {
          const k = this.constOf(c);
          if (k && k.dtype === 'float') {
            const vec = channelVector(k, s.tags);
            if (vec) {
              const layer = this.layerOf(s.biasOf);
              const spec = layer.spec;
              this.params.set(`${spec.name}.bias`, vec);
              if (spec.type === 'linear') spec.bias = true;
              layer.from += ` + Add '${n.name}' (bias${k.origin ? ` '${k.origin}'` : ''})`;
              return this.set(env, at, { ...s, biasOf: undefined });
            }
          }
        }
      }
    }
    const toExpr = (v: Value | undefined, i: number): { e: Expr; s?: Sym } => {
      if (!v) this.failNode(at, `input ${i} is missing`);
      if (v.k === 'sym') {
        if (v.ids) this.unsupported(at, 'arithmetic on token ids is not supported');
        if (v.pad || v.softmax) this.plain(v, n.input[i], env, at);
        return { e: v.expr ?? { op: 'x' }, s: v };
      }
      const c = this.constOf(v);
      if (!c || c.data.length === 0) this.unsupported(at, `${n.opType} with a computed shape value is not supported`);
      const first = c.data[0];
      for (let j = 1; j < c.data.length; j++) {
        if (c.data[j] !== first) {
          this.unsupported(at, `${n.opType} with a non-uniform constant${c.origin ? ` '${c.origin}'` : ''} [${c.dims.join(', ')}] is not supported (only a bias right after a Conv or MatMul, or scalars inside an activation)`);
        }
      }
      return { e: { op: 'c', v: first } };
    };
    const A = toExpr(a, 0);
    const B = toExpr(b, 1);
    const s = (A.s ?? B.s)!;
    if (A.s && B.s && (A.s.src !== B.s.src || !sameTags(A.s.tags, B.s.tags))) {
      this.unsupported(at, `${n.opType} of two different tensors (e.g. a residual connection) is not supported; only elementwise functions of one tensor (activations)`);
    }
    // A constant of higher rank would broadcast the tensor into new axes.
    for (const [v, i] of [[a, 0], [b, 1]] as const) {
      if (v && v.k !== 'sym') {
        const c = this.constOf(v)!;
        if (c.dims.length > s.tags.length) this.unsupported(at, `input ${i} (rank ${c.dims.length}) would broadcast ${tagsText(s.tags)} into more axes`);
      }
    }
    const op = ({ Add: 'add', Sub: 'sub', Mul: 'mul', Div: 'div', Pow: 'pow', Max: 'max', Min: 'min' } as const)[n.opType as 'Add']!;
    const expr: Expr = { op, a: A.e, b: B.e };
    if (exprSize(expr, MAX_EXPR_NODES) > MAX_EXPR_NODES) this.unsupported(at, `the elementwise expression grows past ${MAX_EXPR_NODES} operations`);
    const exprNodes = [...new Set([...(A.s?.exprNodes ?? []), ...(B.s?.exprNodes ?? []), `${n.opType} '${n.name}'`])];
    this.set(env, at, { k: 'sym', src: s.src, tags: s.tags, expr, exprNodes });
  }

  private poolLayer(x: Sym, mean: boolean, at: NodeAt, what: string): string {
    if (x.ids) this.unsupported(at, 'pooling the token ids is not supported');
    return this.addLayer({ type: mean ? 'meanOverTime' : 'maxOverTime', input: x.src }, `${what} '${at.node.name}'`);
  }

  private reduce(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const x = this.sym(env, n.input[0], at);
    const attrAxes = this.getInts(n, 'axes');
    const axes0 = attrAxes ?? (vals[1] ? this.intList(vals[1], `${n.opType} axes`, at) : undefined);
    if (!axes0 || axes0.length === 0) {
      if (this.getInt(n, 'noop_with_empty_axes', 0) === 1) return this.set(env, at, x);
      this.unsupported(at, `${n.opType} over all axes is not supported (only over the time axis)`);
    }
    const axes = axes0.map((a) => normAxis(a, x.tags.length, (m) => this.failNode(at, m)));
    const keep = this.getInt(n, 'keepdims', 1) !== 0;
    for (const a of axes) {
      if (x.tags[a] !== 'T' && x.tags[a] !== '1') this.unsupported(at, `reduces the ${tagText(x.tags[a])} axis of ${tagsText(x.tags)}; only pooling over time is supported`);
    }
    let src = x.src;
    if (axes.some((a) => x.tags[a] === 'T')) src = this.poolLayer(x, n.opType === 'ReduceMean', at, n.opType === 'ReduceMean' ? 'mean over time: ReduceMean' : 'max over time: ReduceMax');
    const tags: Tag[] = [];
    x.tags.forEach((t, i) => {
      if (!axes.includes(i)) tags.push(t);
      else if (keep) tags.push('1');
    });
    this.set(env, at, { k: 'sym', src, tags });
  }

  private pool(at: NodeAt, env: Map<string, Value>): void {
    const n = at.node;
    const x = this.sym(env, n.input[0], at);
    const mean = n.opType.includes('Average');
    if (x.tags.length < 3 || x.tags[0] !== 'B' || typeof x.tags[1] !== 'number') {
      this.unsupported(at, `${n.opType} must read [batch, channels, time...], but its input is ${tagsText(x.tags)}`);
    }
    const spatial = x.tags.slice(2);
    const t = spatial.indexOf('T');
    if (t < 0 || spatial.some((s, i) => i !== t && s !== '1')) {
      this.unsupported(at, `${n.opType} must pool the time axis (and axes of size 1 only), but its input is ${tagsText(x.tags)}`);
    }
    this.unusedOutput(at, 1, 'indices');
    if (n.opType.startsWith('Global')) {
      const src = this.poolLayer(x, mean, at, mean ? 'mean over time: GlobalAveragePool' : 'max over time: GlobalMaxPool');
      return this.set(env, at, { k: 'sym', src, tags: ['B', x.tags[1], ...spatial.map((): Tag => '1')] });
    }
    const ks = this.getInts(n, 'kernel_shape');
    if (!ks || ks.length !== spatial.length) this.failNode(at, 'kernel_shape is missing or has the wrong rank');
    const pads = this.getInts(n, 'pads') ?? [];
    const dil = this.getInts(n, 'dilations') ?? [];
    const autoPad = this.getString(n, 'auto_pad', 'NOTSET');
    if (pads.some((p) => p !== 0) || (autoPad !== 'NOTSET' && autoPad !== 'VALID')) this.unsupported(at, `${n.opType} with padding is not supported`);
    if (dil.some((d) => d !== 1)) this.unsupported(at, `${n.opType} with dilation is not supported`);
    if (this.getInt(n, 'ceil_mode', 0) !== 0) this.unsupported(at, `${n.opType} with ceil_mode is not supported`);
    if (ks.some((k, i) => i !== t && k !== 1)) this.unsupported(at, `${n.opType} kernel [${ks.join(', ')}] pools axes other than time`);
    const K = ks[t];
    // The kernel is a number fixed when the model was exported (PyTorch traces
    // F.max_pool1d(x, x.size(2)) with the example's length): it pools the whole
    // length only for that length. The result's time axis must be 1 for the
    // rest of the graph (Squeeze, Flatten into the classifier), which is what
    // pooling over the whole length gives for every length.
    const src = this.poolLayer(x, mean, at, `${mean ? 'mean' : 'max'} over time: ${n.opType} (kernel ${K})`);
    this.notes.push(
      `note: ${n.opType} '${n.name}' has a fixed kernel of ${K} steps (the length when it was exported; the graph then needs that axis to be 1, ` +
        `so the file runs only at that length); imported as ${mean ? 'mean' : 'max'} over the whole length, what ` +
        `F.${mean ? 'avg' : 'max'}_pool1d(x, x.size(2)) computes at every length`,
    );
    const tags: Tag[] = [...x.tags];
    tags[2 + t] = 'P';
    this.set(env, at, { k: 'sym', src, tags });
  }

  private concat(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const xs = n.input.map((name, i) => {
      if (vals[i]?.k !== 'sym') this.unsupported(at, 'Concat of a constant with computed features is not supported');
      return this.sym(env, name, at);
    });
    const first = xs[0];
    const axis = normAxis(this.getInt(n, 'axis', 0), first.tags.length, (m) => this.failNode(at, m));
    for (const x of xs) {
      if (x.ids) this.unsupported(at, 'Concat of token ids is not supported');
      if (x.tags.length !== first.tags.length || x.tags.some((t, i) => i !== axis && t !== first.tags[i]) || typeof x.tags[axis] !== 'number') {
        this.unsupported(at, `Concat inputs must agree on every axis but the channel axis ${axis}: ${xs.map((y) => tagsText(y.tags)).join(', ')}`);
      }
    }
    if (first.tags.includes('T')) this.unsupported(at, 'Concat of sequences (before pooling) is not supported; only of pooled feature vectors');
    if (first.tags.includes('B') === false) this.unsupported(at, 'Concat must keep the batch axis');
    const total = xs.reduce((s, x) => s + (x.tags[axis] as number), 0);
    const tags = [...first.tags];
    tags[axis] = total;
    const src = xs.length === 1 ? first.src : this.addLayer({ type: 'concat', inputs: xs.map((x) => x.src) }, `Concat '${n.name}' of ${xs.length} feature vectors`);
    this.set(env, at, { k: 'sym', src, tags });
  }

  private dropout(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const x = this.sym(env, n.input[0], at);
    this.unusedOutput(at, 1, 'mask');
    const ratioAttr = this.attr(n, 'ratio');
    const ratio = vals[1] ? this.scalar(vals[1], 'Dropout ratio', at) : ratioAttr ? ratioAttr.f : 0.5;
    if (!(ratio >= 0 && ratio < 1)) this.failNode(at, `ratio ${ratio} is not in [0, 1)`);
    if (ratio === 0) return this.set(env, at, x);
    const p = Math.round(ratio * 1e6) / 1e6; // float32 0.25 / 0.5 come back exact; 0.1 as 0.1
    const src = this.addLayer({ type: 'dropout', input: x.src, p }, `Dropout '${n.name}' (ratio ${p}; identity when predicting)`);
    this.set(env, at, { ...x, src, biasOf: undefined });
  }

  private linear(at: NodeAt, env: Map<string, Value>, vals: (Value | undefined)[]): void {
    const n = at.node;
    const x = this.sym(env, n.input[0], at);
    if (x.ids) this.unsupported(at, `${n.opType} of the token ids is not supported`);
    if (x.tags.length !== 2 || x.tags[0] !== 'B' || typeof x.tags[1] !== 'number') {
      this.unsupported(at, `${n.opType} must read pooled features [batch, features], but its input is ${tagsText(x.tags)}`);
    }
    if (vals[1]?.k === 'sym') this.unsupported(at, `${n.opType} of two computed tensors is not supported; the second input must be a weight`);
    const inF = x.tags[1] as number;
    const w = this.weight(vals[1], 'the weight', at);
    if (w.dims.length !== 2) this.failNode(at, `weight '${w.origin}' has dims [${w.dims.join(', ')}]; expected a matrix`);
    let transB: boolean;
    let alpha = 1;
    let beta = 1;
    if (n.opType === 'Gemm') {
      if (this.getInt(n, 'transA', 0) !== 0) this.unsupported(at, 'Gemm with transA=1 is not supported');
      transB = this.getInt(n, 'transB', 0) !== 0;
      alpha = this.getFloat(n, 'alpha', 1);
      beta = this.getFloat(n, 'beta', 1);
    } else transB = false;
    const [r, c] = w.dims;
    const [outF, k] = transB ? [r, c] : [c, r];
    if (k !== inF) this.failNode(at, `weight '${w.origin}' [${w.dims.join(', ')}]${transB ? ' (transposed)' : ''} expects ${k} input features but receives ${inF}`);
    const weight = new Float32Array(outF * inF);
    for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) weight[o * inF + i] = alpha * (transB ? w.data[o * inF + i] : w.data[i * outF + o]);
    let bias: Float32Array | undefined;
    if (n.opType === 'Gemm' && vals[2]) {
      const b = this.weight(vals[2], 'the bias', at);
      if (!(b.data.length === outF || b.data.length === 1) || b.dims.some((d, i) => i < b.dims.length - 1 && d !== 1)) {
        this.unsupported(at, `bias '${b.origin}' [${b.dims.join(', ')}] does not broadcast as one value per output feature (${outF})`);
      }
      bias = new Float32Array(outF);
      for (let o = 0; o < outF; o++) bias[o] = beta * b.data[b.data.length === 1 ? 0 : o];
    }
    const name = this.addLayer(
      bias ? { type: 'linear', input: x.src, outFeatures: outF } : { type: 'linear', input: x.src, outFeatures: outF, bias: false },
      `${n.opType} '${n.name}' of '${w.origin}' [${w.dims.join(', ')}]${transB ? '' : ' (transposed)'}`,
    );
    this.params.set(`${name}.weight`, weight);
    if (bias) this.params.set(`${name}.bias`, bias);
    this.set(env, at, { k: 'sym', src: name, tags: ['B', outF], biasOf: bias ? undefined : name });
  }

  // ----- naming

  private rename(): { graph: ModelGraph; params: Map<string, Float32Array> } {
    const specs = this.layers.map((l) => l.spec);
    const byName = new Map(specs.map((s) => [s.name, s]));
    const consumers = new Map<string, LayerSpec[]>();
    for (const s of specs) {
      const ins = s.type === 'concat' ? s.inputs : s.type === 'embedding' ? [] : [s.input];
      for (const i of ins) consumers.set(i, [...(consumers.get(i) ?? []), s]);
    }
    const names = new Map<string, string>();
    const taken = new Set<string>();
    const give = (tmp: string, want: string) => {
      if (names.has(tmp)) return;
      let name = want;
      for (let k = 2; taken.has(name) || name === 'ids'; k++) name = `${want}_${k}`;
      names.set(tmp, name);
      taken.add(name);
    };
    const last = specs[specs.length - 1];
    const single = (tmp: string, type: LayerSpec['type']): LayerSpec | undefined => {
      const cs = consumers.get(tmp) ?? [];
      return cs.length === 1 && cs[0].type === type ? cs[0] : undefined;
    };
    let conv = 0;
    let hidden = 0;
    let concats = 0;
    for (const s of specs) {
      if (s.type === 'embedding') give(s.name, 'embedding');
      else if (s.type === 'conv1d') {
        const i = conv++;
        give(s.name, `conv${i}`);
        let cur = s.name;
        const act = single(cur, 'activation');
        if (act) {
          give(act.name, `conv${i}_act`);
          cur = act.name;
        }
        const pool = (consumers.get(cur) ?? []).filter((c) => c.type === 'maxOverTime' || c.type === 'meanOverTime');
        if (pool.length === 1 && (consumers.get(cur) ?? []).length === 1) give(pool[0].name, `pool${i}`);
      } else if (s.type === 'concat') give(s.name, concats++ === 0 ? 'features' : 'concat');
      else if (s.type === 'linear') {
        if (s === last) give(s.name, 'classifier');
        else {
          const j = hidden++;
          give(s.name, `hidden${j}`);
          const act = single(s.name, 'activation');
          if (act) give(act.name, `hidden${j}_act`);
        }
        // Dropouts directly before it: the nearest gets the plain name.
        const base = s === last ? 'dropout' : `${names.get(s.name)}_dropout`;
        let prev = byName.get(s.input);
        while (prev && prev.type === 'dropout' && (consumers.get(prev.name) ?? []).length === 1) {
          give(prev.name, base);
          prev = byName.get(prev.input);
        }
      }
    }
    let generic = 0;
    for (const s of specs) {
      if (!names.has(s.name)) {
        const kind = s.type === 'activation' ? `act` : s.type === 'maxOverTime' || s.type === 'meanOverTime' ? 'pool' : s.type;
        give(s.name, `${kind}${generic++}`);
      }
    }
    const rn = (n: string) => names.get(n)!;
    const layers: LayerSpec[] = specs.map((s) => {
      const out = { ...s, name: rn(s.name) } as LayerSpec;
      if (out.type === 'concat') out.inputs = out.inputs.map(rn);
      else if (out.type !== 'embedding') (out as { input: string }).input = rn((s as { input: string }).input);
      return out;
    });
    const params = new Map<string, Float32Array>();
    for (const s of specs) {
      for (const role of ['weight', 'bias']) {
        const v = this.params.get(`${s.name}.${role}`);
        if (v) params.set(`${rn(s.name)}.${role}`, v);
      }
    }
    this.layers.forEach((l) => this.froms.set(rn(l.spec.name), l.from));
    return { graph: { format: 'finetune-graph', version: 1, layers }, params };
  }
}

function describe(l: LayerSpec): string {
  switch (l.type) {
    case 'embedding':
      return `embedding ${l.vocabSize} x ${l.dim}${l.paddingIdx === null ? '' : `, padding_idx ${l.paddingIdx}`}`;
    case 'conv1d':
      return `conv1d width ${l.width}, ${l.outChannels} maps, ${l.padding}, over ${l.input}`;
    case 'activation':
      return `${l.kind}${l.slope !== undefined ? ` (slope ${l.slope})` : ''} of ${l.input}`;
    case 'maxOverTime':
      return `max over time of ${l.input}`;
    case 'meanOverTime':
      return `mean over time of ${l.input}`;
    case 'concat':
      return `concat of ${l.inputs.join(', ')}`;
    case 'dropout':
      return `dropout p=${l.p} of ${l.input}`;
    case 'linear':
      return `linear -> ${l.outFeatures}${l.bias === false ? ' (no bias)' : ''} of ${l.input}`;
  }
}

const graphRefs = new WeakMap<GraphProto, string[]>();

/** Values a subgraph reads from outside (memoised: a graph shared by many nodes is walked once). */
function graphOuterRefs(g: GraphProto): string[] {
  const known = graphRefs.get(g);
  if (known) return known;
  const out = new Set<string>();
  const local = new Set<string>([...g.initializer.map((t) => t.name), ...g.input.map((v) => v.name)]);
  for (const m of g.node) {
    for (const i of m.input) if (i !== '' && !local.has(i)) out.add(i);
    for (const i of outerRefs(m)) if (!local.has(i)) out.add(i);
    for (const o of m.output) local.add(o);
  }
  for (const o of g.output) if (!local.has(o.name)) out.add(o.name);
  const list = [...out];
  graphRefs.set(g, list);
  return list;
}

/** Values a node reads from outside through its subgraphs (If branches). */
function outerRefs(n: NodeProto): string[] {
  const out = new Set<string>();
  for (const a of n.attribute) {
    const graphs = a.g ? [a.g, ...a.graphs] : a.graphs;
    for (const g of graphs) for (const r of graphOuterRefs(g)) out.add(r);
  }
  return [...out];
}

function intArith(op: string, x: number, y: number): number {
  switch (op) {
    case 'Add':
      return x + y;
    case 'Sub':
      return x - y;
    case 'Mul':
      return x * y;
    case 'Div':
      return y === 0 ? 0 : Math.trunc(x / y);
    case 'Max':
      return Math.max(x, y);
    case 'Min':
      return Math.min(x, y);
    case 'Equal':
      return x === y ? 1 : 0;
    default:
      return NaN;
  }
}

/** Indices an ONNX Slice selects along one axis of size `dim`. */
function sliceIndices(dim: number, start: number, end: number, step: number, fail: (m: string) => never): number[] {
  if (!step) fail('Slice step 0 is invalid');
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, -1, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const out: number[] = [];
  if (step > 0) for (let i = s; i < e; i += step) out.push(i);
  else for (let i = s; i > e; i += step) out.push(i);
  return out;
}

function reshapeDims(dims: number[], shape: number[], allowZero: boolean, fail: (m: string) => never): number[] {
  const total = product(dims);
  const out = shape.map((d, i) => (d === 0 && !allowZero ? dims[i] : d));
  const holes = out.filter((d) => d === -1).length;
  if (holes > 1 || out.some((d) => d === undefined || d < -1)) fail(`Reshape to [${shape.join(', ')}] is invalid`);
  if (holes === 1) {
    const known = product(out.filter((d) => d !== -1));
    if (known === 0 || total % known !== 0) fail(`cannot reshape [${dims.join(', ')}] to [${shape.join(', ')}]`);
    out[out.indexOf(-1)] = total / known;
  }
  if (product(out) !== total) fail(`cannot reshape [${dims.join(', ')}] to [${shape.join(', ')}]`);
  return out;
}

/**
 * Reshape of a runtime tensor, by axis meaning: only reshapes that add or
 * remove unit axes (and keep batch, time and channels in order) are allowed.
 */
function reshapeTags(tags: Tag[], target: SymInt[], allowZero: boolean, fail: (m: string) => never): Tag[] {
  const entries: Array<Tag | -1> = target.map((d, i) => {
    if (d === '?') fail(`Reshape to a shape that depends on the input in a way this importer cannot follow`);
    if (d === 0 && !allowZero) {
      if (i >= tags.length) fail(`Reshape copies axis ${i}, which the input ${tagsText(tags)} lacks`);
      return tags[i] === 'P' ? '1' : tags[i];
    }
    if (d === -1) return -1;
    if (d === 'B' || d === 'T') return d;
    if (typeof d !== 'number' || d < 0) fail(`Reshape to [${target.join(', ')}] is invalid`);
    return d === 1 ? '1' : d;
  });
  if (entries.filter((e) => e === -1).length > 1) fail(`Reshape to [${target.join(', ')}] has more than one -1`);
  const core = tags.filter((t) => !isUnit(t));
  const eq = (a: Tag, b: Tag) => a === b;
  const tryFill = (fill: Tag): Tag[] | null => {
    const out = entries.map((e) => (e === -1 ? fill : e));
    const nonUnit = out.filter((t) => !isUnit(t));
    if (nonUnit.length !== core.length || nonUnit.some((t, i) => !eq(t, core[i]))) return null;
    return out;
  };
  const candidates: Tag[] = entries.includes(-1) ? ['1', ...core] : ['1'];
  for (const c of candidates) {
    const r = tryFill(c);
    if (r) return r;
  }
  fail(`Reshape of ${tagsText(tags)} to [${target.join(', ')}] would merge or split the batch, time or channel axes`);
}

/** A per-channel constant (e.g. [M], [M, 1], [1, M, 1]) for a tensor with these axes, as one value per channel; null otherwise. */
function channelVector(c: Const, tags: Tag[]): Float32Array | null {
  const ch = tags.findIndex((t) => typeof t === 'number');
  if (ch < 0 || tags.filter((t) => typeof t === 'number').length !== 1) return null;
  const M = tags[ch] as number;
  if (c.dims.length > tags.length) return null;
  const off = tags.length - c.dims.length;
  for (let i = 0; i < c.dims.length; i++) {
    const d = c.dims[i];
    if (d === 1) continue;
    if (i + off !== ch || d !== M) return null;
  }
  const out = new Float32Array(M);
  for (let m = 0; m < M; m++) out[m] = c.data[c.data.length === 1 ? 0 : m];
  return out;
}

function transposeConst(x: Const, perm: number[], fail: (m: string) => never): Const {
  const r = x.dims.length;
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) fail(`perm [${perm.join(', ')}] is not a permutation of ${r} axes`);
  const dims = perm.map((p) => x.dims[p]);
  const inS = stridesOf(x.dims);
  const n = x.data.length;
  const data = x.dtype === 'float' ? new Float32Array(n) : new Float64Array(n);
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let k = 0; k < r; k++) src += idx[k] * inS[perm[k]];
    data[o] = x.data[src];
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { k: 'const', dtype: x.dtype, dims, data };
}

function concatConst(parts: Const[], axis0: number, fail: (m: string) => never): Const {
  const r = parts[0].dims.length;
  const axis = normAxis(axis0, r, fail);
  for (const p of parts) {
    if (p.dims.length !== r || p.dims.some((d, i) => i !== axis && d !== parts[0].dims[i])) fail('Concat inputs disagree in shape');
  }
  const dims = [...parts[0].dims];
  dims[axis] = parts.reduce((s, p) => s + p.dims[axis], 0);
  const dtype = parts.some((p) => p.dtype === 'float') ? 'float' : parts[0].dtype;
  const n = product(dims);
  const data = dtype === 'float' ? new Float32Array(n) : new Float64Array(n);
  const outer = product(dims.slice(0, axis));
  const inner = product(dims.slice(axis + 1));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const p of parts) {
      const len = p.dims[axis] * inner;
      for (let i = 0; i < len; i++) data[o++] = p.data[a * len + i];
    }
  }
  return { k: 'const', dtype, dims, data };
}

function gatherConst(x: Const, idx: Const, axis0: number, fail: (m: string) => never, check: (n: number) => void): Const {
  const r = x.dims.length;
  if (r === 0) fail('Gather from a scalar');
  const axis = normAxis(axis0, r, fail);
  const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
  const n = product(dims);
  check(n);
  const outer = product(x.dims.slice(0, axis));
  const inner = product(x.dims.slice(axis + 1));
  const size = x.dims[axis];
  const data = x.dtype === 'float' ? new Float32Array(n) : new Float64Array(n);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const raw of idx.data) {
      const j = raw < 0 ? raw + size : raw;
      if (!(j >= 0 && j < size)) fail(`Gather index ${raw} is out of range for size ${size}`);
      for (let i = 0; i < inner; i++) data[o++] = x.data[(a * size + j) * inner + i];
    }
  }
  return { k: 'const', dtype: x.dtype, dims, data };
}

function sliceConst(x: Const, starts: number[], ends: number[], axes: number[], steps: number[], fail: (m: string) => never): Const {
  const r = x.dims.length;
  const sel: number[][] = x.dims.map((d) => Array.from({ length: d }, (_, i) => i));
  axes.forEach((a0, k) => {
    const a = normAxis(a0, r, fail);
    sel[a] = sliceIndices(x.dims[a], starts[k], ends[k], steps[k] ?? 1, fail);
  });
  const dims = sel.map((s) => s.length);
  const n = product(dims);
  const data = x.dtype === 'float' ? new Float32Array(n) : new Float64Array(n);
  const inS = stridesOf(x.dims);
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let k = 0; k < r; k++) src += sel[k][idx[k]] * inS[k];
    data[o] = x.data[src];
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { k: 'const', dtype: x.dtype, dims, data };
}

function broadcastConst(a: Const, b: Const, op: string, fail: (m: string) => never, check: (n: number) => void): Const {
  const r = Math.max(a.dims.length, b.dims.length);
  const ad = [...new Array<number>(r - a.dims.length).fill(1), ...a.dims];
  const bd = [...new Array<number>(r - b.dims.length).fill(1), ...b.dims];
  const dims = ad.map((d, i) => {
    if (d === bd[i] || bd[i] === 1) return d;
    if (d === 1) return bd[i];
    fail(`shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] do not broadcast`);
  });
  const n = product(dims);
  check(n);
  const cmp = op === 'Equal' || op === 'Less' || op === 'Greater' || op === 'And' || op === 'Or';
  const dtype: Const['dtype'] = cmp ? 'bool' : a.dtype === 'float' || b.dtype === 'float' ? 'float' : 'int';
  const data = dtype === 'float' ? new Float32Array(n) : new Float64Array(n);
  const as = stridesOf(ad).map((s, i) => (ad[i] === 1 ? 0 : s));
  const bs = stridesOf(bd).map((s, i) => (bd[i] === 1 ? 0 : s));
  const idx = new Array<number>(r).fill(0);
  const intDiv = dtype === 'int';
  for (let o = 0; o < n; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < r; k++) {
      ia += idx[k] * as[k];
      ib += idx[k] * bs[k];
    }
    const x = a.data[ia];
    const y = b.data[ib];
    let v: number;
    switch (op) {
      case 'Add': v = x + y; break;
      case 'Sub': v = x - y; break;
      case 'Mul': v = x * y; break;
      case 'Div': v = intDiv ? (y === 0 ? 0 : Math.trunc(x / y)) : x / y; break;
      case 'Pow': v = Math.pow(x, y); break;
      case 'Max': v = Math.max(x, y); break;
      case 'Min': v = Math.min(x, y); break;
      case 'Equal': v = x === y ? 1 : 0; break;
      case 'Less': v = x < y ? 1 : 0; break;
      case 'Greater': v = x > y ? 1 : 0; break;
      case 'And': v = x && y ? 1 : 0; break;
      default: v = x || y ? 1 : 0;
    }
    data[o] = v;
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { k: 'const', dtype, dims, data };
}

// ---------------------------------------------------------------------------
// Public API

/**
 * Maps a decoded ONNX model to our graph and weights. Throws OnnxFormatError
 * (code ERR_FINETUNE_ONNX_FORMAT) naming the node and op for anything that
 * cannot be mapped exactly.
 */
export function importOnnx(model: ModelProto, opts: ImportOptions = {}): ImportResult {
  return new Importer(model, opts).run();
}

function sha256Check(bytes: Uint8Array, expected: string, file: string): void {
  const want = expected.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(want)) throw new ModelFileError(`--sha256 must be 64 hexadecimal digits, got '${expected}'`, file);
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== want) throw new ModelFileError(`${file}: SHA-256 is ${got}, not the expected ${want}; refusing to load it`, file);
}

/**
 * Reads an ONNX file: a model this package saved (everything from its
 * metadata), or one exported elsewhere, with its vocabulary sidecar
 * (`opts.vocab`). With expectedSha256, a file whose digest differs is refused
 * before it is parsed.
 */
export async function importOnnxFile(file: string, opts: ImportFileOptions = {}): Promise<SavedModel & { report: string[] }> {
  let bytes: Uint8Array;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new ModelFileError(`${file}: not a regular file`, file);
    if (st.size > DEFAULT_MAX_MODEL_BYTES) throw new ModelFileError(`${file}: ${st.size} bytes, more than the ${DEFAULT_MAX_MODEL_BYTES} bytes an ONNX file may hold`, file);
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(`cannot read ${file}: ${(err as Error).message}`, file);
  }
  if (opts.expectedSha256 !== undefined) sha256Check(bytes, opts.expectedSha256, file);
  const model = decodeModel(bytes, { file });
  if (isFinetuneModel(model)) {
    const m = fromOnnx(model, file);
    const report = ['a model saved by finetune: graph, weights, vocabulary, tokenizer and labels read from its metadata'];
    if (opts.vocab !== undefined) report.push(`note: the vocabulary stored in the model was used; ${opts.vocab} was not read`);
    return { ...m, report };
  }
  if (opts.vocab === undefined || opts.vocab === '') {
    throw new ModelFileError(
      `${file}: an ONNX model exported elsewhere: give its vocabulary with --vocab (a JSON object token -> id, or a text file with one token a line)`,
      file,
    );
  }
  const vocab = await Vocabulary.load(opts.vocab, { pad: opts.padToken, unk: opts.unkToken });
  const r = importOnnx(model, { file, modelDir: path.dirname(path.resolve(file)), vocabSize: vocab.size, padId: vocab.padId });
  const classes = graphClasses(r.graph);
  const tokenizer = new Tokenizer({ ...DEFAULT_TOKENIZER, ...(opts.tokenizer ?? {}) }).toJSON();
  r.report.push(`vocabulary: ${vocab.size} tokens from ${opts.vocab} (pad '${vocab.pad}' id ${vocab.padId}, unknown '${vocab.unk}' id ${vocab.unkId})`);
  return {
    graph: r.graph,
    params: r.params,
    vocab,
    tokenizer,
    labels: Array.from({ length: classes }, (_, i) => String(i)),
    report: r.report,
  };
}
