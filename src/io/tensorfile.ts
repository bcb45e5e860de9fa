/**
 * A safe binary container for named tensors plus JSON metadata (checkpoints:
 * weights, optimizer moments, step, random-generator states, loader position;
 * or anything else).
 *
 * Layout (all integers little-endian):
 *
 *   offset 0   8 bytes   magic "FTCKPT01"
 *          8   4 bytes   u32 header length H (1 .. 16 MiB)
 *         12   H bytes   header, UTF-8 JSON:
 *                        { "format": 1, "meta": {...}, "dataLength": D,
 *                          "tensors": [{ "name", "dtype", "shape", "offset",
 *                                        "byteLength", "crc32" }, ...] }
 *              zero padding up to S = align64(12 + H)
 *          S   D bytes   data region; each tensor at S + offset, offsets
 *                        multiples of 64, increasing, non-overlapping,
 *                        offset + byteLength <= D; gaps are zero
 *      S + D  32 bytes   SHA-256 of bytes [0, S + D)
 *   S + D + 32 8 bytes   end magic "FTCKEND1"; the file ends here
 *
 * Reading validates, before any allocation that depends on the file's claims:
 * size, magic, header length, header JSON (no prototype is ever touched:
 * objects come back with a null prototype), every entry, the layout, the
 * total size (truncated / trailing bytes), the expected architecture; then it
 * reads the file and checks the end magic and the SHA-256. Nothing in the
 * file is ever executed.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { endianness } from 'node:os';
import { crc32 } from './crc32.js';
import { withPathLock, writeFileAtomicUnlocked, type WriteFileAtomicOptions } from './atomic.js';
import { byteSlices, copyOf, hashUpdate, nextTurn, runSliced, type Sliced } from './slices.js';
import { CheckpointError, CheckpointErrorCode as C, CheckpointMismatchError, type TensorMismatch } from './errors.js';

export const MAGIC = 'FTCKPT01';
export const END_MAGIC = 'FTCKEND1';
export const FORMAT_VERSION = 1;
/** Bytes before the header: magic + u32 length. */
export const PREFIX_BYTES = 12;
/** Bytes after the data: SHA-256 + end magic. */
export const TRAILER_BYTES = 40;
export const ALIGNMENT = 64;
/** Largest header accepted (and written). */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/** Deepest nesting of the header JSON accepted (and of metadata written). */
export const MAX_JSON_DEPTH = 64;
export const MAX_RANK = 32;
export const MAX_NAME_LENGTH = 4096;
const MIN_FILE_BYTES = PREFIX_BYTES + 2 + TRAILER_BYTES; // "{}" is the smallest header
/** Reads from disk in slices of this size (copies, checksums and hashes go in the slices of src/io/slices.ts). */
const READ_SLICE = 8 * 1024 * 1024;

export type DType = 'float32' | 'float64' | 'int32' | 'uint32' | 'int8' | 'uint8';
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint32Array | Int8Array | Uint8Array;

type TypedArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

const DTYPES: ReadonlyMap<string, TypedArrayCtor> = new Map<string, TypedArrayCtor>([
  ['float32', Float32Array],
  ['float64', Float64Array],
  ['int32', Int32Array],
  ['uint32', Uint32Array],
  ['int8', Int8Array],
  ['uint8', Uint8Array],
]);

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A tensor to store: a typed array, with a shape (default: one dimension, its length). */
export type TensorInput = TypedArray | { data: TypedArray; shape: readonly number[] };

export interface TensorFileContent {
  /** Plain JSON: objects, arrays, strings, booleans, null, finite numbers. */
  meta?: Record<string, unknown>;
  /** Stored in this order (a Record's own enumerable keys, or a Map's order). */
  tensors: Record<string, TensorInput> | ReadonlyMap<string, TensorInput>;
}

/** A tensor as the header describes it. */
export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Offset in the data region (the file offset is dataStart + offset). */
  offset: number;
  byteLength: number;
  crc32: number;
}

/** An expected tensor (one row of an architecture). */
export interface ExpectedTensor {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

export interface LoadTensorFileOptions {
  /** The architecture: every mismatch (missing, unexpected, dtype, shape) is reported in one error. */
  expect?: readonly ExpectedTensor[];
  /**
   * Give every tensor its own ArrayBuffer. Default: false when reading a
   * path (tensors are aligned views of one buffer holding the file), true for
   * bytes passed in (so the result never aliases the caller's memory); with
   * false there, aligned tensors are views of the given bytes.
   */
  copy?: boolean;
  /** Refuse files larger than this many bytes (default: the largest Buffer). */
  maxBytes?: number;
  /** How to name in-memory bytes in error messages (default "<bytes>"). */
  name?: string;
}

export interface TensorFileData {
  /** The header's meta, with null-prototype objects. */
  meta: JsonObject;
  tensors: Map<string, TypedArray>;
  info: Map<string, TensorInfo>;
}

export interface SaveTensorFileOptions extends WriteFileAtomicOptions {
  /**
   * Copy the tensors (default true), so a training step changing them while
   * the file is hashed and written cannot produce a mis-checksummed file. The
   * copy starts when saveTensorFile is called and runs synchronously for its
   * first few milliseconds (small tensors are captured as they are at the
   * call), then in slices between turns of the event loop; to store exactly
   * the values of the call, change large tensors only after the promise
   * settles. false saves the memory of the copy; then do not change the
   * tensors until the promise settles.
   */
  copy?: boolean;
}

// ---------------------------------------------------------------- helpers

function assertLittleEndian(file: string): void {
  if (endianness() !== 'LE') {
    throw new CheckpointError(C.UNSUPPORTED, file, 'tensor files are little-endian; big-endian hosts are not supported');
  }
}

const align = (n: number): number => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

function dtypeOf(a: unknown): DType | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array && !(a instanceof Uint8ClampedArray)) return 'uint8';
  return undefined;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Product of dims, or undefined past 2^53. */
function elementCount(shape: readonly number[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (d !== 0 && n > Number.MAX_SAFE_INTEGER / d) return undefined;
    n *= d;
  }
  return n;
}

const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
const quote = (name: string): string => JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}...` : name);

// ---------------------------------------------------------------- encode

interface Planned {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: Uint8Array;
  offset: number;
  crc32: number;
}

const ENCODE_LABEL = '<save>';

function checkMeta(value: unknown, where: string, depth: number, file: string): void {
  if (depth > MAX_JSON_DEPTH) {
    throw new CheckpointError(C.ENCODE, file, `metadata nests deeper than ${MAX_JSON_DEPTH} levels at ${where}`);
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new CheckpointError(C.ENCODE, file, `metadata ${where} is ${value}; JSON holds finite numbers only (store it as a string or a float64 tensor)`);
    }
    return;
  }
  if (Array.isArray(value)) {
    // Strings pass at any depth allowed; skipping them spares a vocabulary's
    // 100,000 tokens a path text each.
    value.forEach((v, i) => {
      if (typeof v !== 'string' || depth >= MAX_JSON_DEPTH) checkMeta(v, `${where}[${i}]`, depth + 1, file);
    });
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new CheckpointError(C.ENCODE, file, `metadata ${where} is a ${value.constructor?.name ?? 'non-plain object'}; only plain JSON objects can be stored`);
    }
    for (const key of Object.keys(value)) checkMeta((value as Record<string, unknown>)[key], `${where}.${key}`, depth + 1, file);
    return;
  }
  throw new CheckpointError(C.ENCODE, file, `metadata ${where} is a ${typeof value}; only JSON values can be stored`);
}

function plan(content: TensorFileContent, file: string): { planned: Planned[]; dataLength: number } {
  if (content === null || typeof content !== 'object') throw new CheckpointError(C.ENCODE, file, 'content must be an object { meta, tensors }');
  const source = content.tensors;
  if (source === null || typeof source !== 'object') throw new CheckpointError(C.ENCODE, file, 'content.tensors must be an object or a Map');
  const entries: [string, TensorInput][] =
    source instanceof Map ? [...(source as ReadonlyMap<string, TensorInput>)] : Object.keys(source).map((k) => [k, (source as Record<string, TensorInput>)[k]]);
  const planned: Planned[] = [];
  const seen = new Set<string>();
  let cursor = 0;
  for (const [name, input] of entries) {
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
      throw new CheckpointError(C.ENCODE, file, `tensor name ${typeof name === 'string' ? quote(name) : String(name)} must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
    }
    if (seen.has(name)) throw new CheckpointError(C.ENCODE, file, `tensor ${quote(name)} given twice`);
    seen.add(name);
    const data: unknown = dtypeOf(input) !== undefined ? input : (input as { data?: unknown } | null)?.data;
    const dtype = dtypeOf(data);
    if (dtype === undefined) {
      throw new CheckpointError(C.ENCODE, file, `tensor ${quote(name)} must be a Float32Array, Float64Array, Int32Array, Uint32Array, Int8Array or Uint8Array (or { data, shape } with one)`);
    }
    const arr = data as TypedArray;
    const rawShape: unknown = dtypeOf(input) !== undefined ? [arr.length] : (input as { shape?: unknown }).shape;
    if (!Array.isArray(rawShape) || rawShape.length > MAX_RANK || !rawShape.every(isIndex)) {
      throw new CheckpointError(C.ENCODE, file, `tensor ${quote(name)} shape must be an array of at most ${MAX_RANK} non-negative integers`);
    }
    const shape = [...(rawShape as number[])];
    if (elementCount(shape) !== arr.length) {
      throw new CheckpointError(C.ENCODE, file, `tensor ${quote(name)} shape ${fmtShape(shape)} holds ${elementCount(shape) ?? 'too many'} elements but the array has ${arr.length}`);
    }
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    const offset = align(cursor);
    planned.push({ name, dtype, shape, bytes, offset, crc32: 0 });
    cursor = offset + bytes.byteLength;
  }
  if (content.meta !== undefined) {
    if (content.meta === null || typeof content.meta !== 'object' || Array.isArray(content.meta)) {
      throw new CheckpointError(C.ENCODE, file, 'meta must be a plain object');
    }
    checkMeta(content.meta, 'meta', 1, file);
  }
  return { planned, dataLength: align(cursor) };
}

/** Header + padding chunk, then the tensors with zero gaps: everything the SHA-256 covers. */
function assemble(metaJson: string, planned: Planned[], dataLength: number, file: string): Uint8Array[] {
  const tensors = planned.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape, offset: p.offset, byteLength: p.bytes.byteLength, crc32: p.crc32 }));
  const headerJson = `{"format":${FORMAT_VERSION},"meta":${metaJson},"dataLength":${dataLength},"tensors":${JSON.stringify(tensors)}}`;
  const header = Buffer.from(headerJson, 'utf8');
  if (header.length > MAX_HEADER_BYTES) {
    throw new CheckpointError(C.ENCODE, file, `header would be ${header.length} bytes, over the limit of ${MAX_HEADER_BYTES}; store large arrays as tensors, not metadata`);
  }
  const dataStart = align(PREFIX_BYTES + header.length);
  const first = new Uint8Array(dataStart);
  first.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(first.buffer).setUint32(8, header.length, true);
  first.set(header, PREFIX_BYTES);
  const chunks: Uint8Array[] = [first];
  const zeros = new Uint8Array(ALIGNMENT);
  let cursor = 0;
  for (const p of planned) {
    if (p.offset > cursor) chunks.push(zeros.subarray(0, p.offset - cursor));
    if (p.bytes.byteLength > 0) chunks.push(p.bytes);
    cursor = p.offset + p.bytes.byteLength;
  }
  if (dataLength > cursor) chunks.push(zeros.subarray(0, dataLength - cursor));
  return chunks;
}

function trailer(digest: Uint8Array): Uint8Array {
  const t = new Uint8Array(TRAILER_BYTES);
  t.set(digest, 0);
  t.set(Buffer.from(END_MAGIC, 'latin1'), 32);
  return t;
}

function metaJsonOf(content: TensorFileContent): string {
  return content.meta === undefined ? '{}' : JSON.stringify(content.meta);
}

/**
 * Encodes content as the chunks of a tensor file, in order (their
 * concatenation is the file). Tensor chunks are zero-copy views of the given
 * arrays: do not change them until the chunks are written.
 */
export function encodeTensorFile(content: TensorFileContent): Uint8Array[] {
  assertLittleEndian(ENCODE_LABEL);
  const { planned, dataLength } = plan(content, ENCODE_LABEL);
  for (const p of planned) p.crc32 = crc32(p.bytes);
  const chunks = assemble(metaJsonOf(content), planned, dataLength, ENCODE_LABEL);
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  chunks.push(trailer(hash.digest()));
  return chunks;
}

/** encodeTensorFile, concatenated into one buffer. */
export function encodeTensorFileToBytes(content: TensorFileContent): Uint8Array {
  const chunks = encodeTensorFile(content);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** Replaces each tensor's bytes by a copy of them, in slices. */
function* snapshot(planned: Planned[]): Sliced {
  for (const p of planned) p.bytes = yield* copyOf(p.bytes);
}

/** CRC-32s, header and SHA-256: the chunks of the file, trailer included. */
function* encodeChunks(planned: Planned[], metaJson: string, dataLength: number, file: string): Sliced<Uint8Array[]> {
  for (const p of planned) {
    let c = 0;
    yield* byteSlices(p.bytes, (part) => (c = crc32(part, c)));
    p.crc32 = c;
  }
  const chunks = assemble(metaJson, planned, dataLength, file);
  const hash = createHash('sha256');
  for (const chunk of chunks) yield* hashUpdate(hash, chunk);
  chunks.push(trailer(hash.digest()));
  return chunks;
}

/**
 * Saves content to `path` atomically (temporary file, fsync, rename, folder
 * fsync), never blocking the event loop for long: copies, checksums and the
 * hash go in slices (src/io/slices.ts). The metadata is captured when this is
 * called, the tensors as the save starts (see `copy`). Saves to one path run
 * in call order: the last call's content is what remains.
 * Rejects with a CheckpointError (ERR_FINETUNE_CHECKPOINT_ENCODE) for content
 * that cannot be stored, or a SaveError (ERR_FINETUNE_SAVE) when the file
 * cannot be written; either way the previous file is intact.
 */
export function saveTensorFile(path: string, content: TensorFileContent, opts: SaveTensorFileOptions = {}): Promise<void> {
  let planned: Planned[];
  let dataLength: number;
  let metaJson: string;
  try {
    assertLittleEndian(path);
    ({ planned, dataLength } = plan(content, path));
    metaJson = metaJsonOf(content);
  } catch (err) {
    return Promise.reject(err);
  }
  // The copy starts now (its first milliseconds before this returns), not
  // when the earlier saves to this path are done; it is awaited under the
  // lock. The catch only keeps a failure before then from counting as unhandled.
  const copied = (opts.copy ?? true) ? runSliced(snapshot(planned)) : Promise.resolve();
  copied.catch(() => undefined);
  return withPathLock(path, async () => {
    await copied;
    const chunks = await runSliced(encodeChunks(planned, metaJson, dataLength, path));
    await writeFileAtomicUnlocked(path, chunks, opts);
  });
}

// ---------------------------------------------------------------- decode

interface Plan {
  headerLength: number;
  dataStart: number;
  dataLength: number;
  totalLength: number;
  meta: JsonObject;
  entries: TensorInfo[];
}

/** Checks magic and header length against the file size; returns the header length. */
function checkPrefix(head: Uint8Array, size: number, file: string): number {
  const magic = Buffer.from(MAGIC, 'latin1');
  const n = Math.min(head.length, magic.length);
  for (let i = 0; i < n; i++) {
    if (head[i] !== magic[i]) {
      throw new CheckpointError(C.MAGIC, file, `not a finetune tensor file (it does not start with "${MAGIC}")`);
    }
  }
  if (size < MIN_FILE_BYTES) {
    throw new CheckpointError(C.TRUNCATED, file, size === 0 ? 'the file is empty' : `the file is truncated: ${size} bytes, fewer than the ${MIN_FILE_BYTES} of the smallest tensor file`);
  }
  const headerLength = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(8, true);
  if (headerLength === 0) throw new CheckpointError(C.HEADER, file, 'header length is 0');
  if (headerLength > MAX_HEADER_BYTES) {
    throw new CheckpointError(C.HEADER, file, `header length ${headerLength} is over the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (PREFIX_BYTES + headerLength + TRAILER_BYTES > size) {
    throw new CheckpointError(C.TRUNCATED, file, `header of ${headerLength} bytes runs past the end of the file (${size} bytes): the file is truncated or damaged`);
  }
  return headerLength;
}

/**
 * Deep copy of parsed JSON into null-prototype objects, so no key (not even
 * "__proto__", "constructor" or "prototype") can reach a prototype. Arrays
 * stay arrays (their elements copied the same way).
 */
function detach(value: unknown, depth: number, file: string): JsonValue {
  if (depth > MAX_JSON_DEPTH) throw new CheckpointError(C.HEADER, file, `header JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (value === null || typeof value !== 'object') return value as JsonValue;
  if (Array.isArray(value)) {
    const out: JsonValue[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = detach(value[i], depth + 1, file);
    return out;
  }
  const out = Object.create(null) as JsonObject;
  for (const key of Object.keys(value)) {
    Object.defineProperty(out, key, {
      value: detach((value as Record<string, unknown>)[key], depth + 1, file),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);
const own = (o: JsonObject, k: string): JsonValue | undefined => (Object.hasOwn(o, k) ? o[k] : undefined);

const TOP_KEYS = new Set(['format', 'meta', 'dataLength', 'tensors']);
const ENTRY_KEYS = new Set(['name', 'dtype', 'shape', 'offset', 'byteLength', 'crc32']);

function parseHeader(headerBytes: Uint8Array, size: number, file: string, opts: LoadTensorFileOptions): Plan {
  const headerLength = headerBytes.byteLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (err) {
    throw new CheckpointError(C.HEADER, file, 'header is not valid UTF-8', { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(C.HEADER, file, `header is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const top = detach(parsed, 1, file);
  if (!isObject(top)) throw new CheckpointError(C.HEADER, file, 'header is not a JSON object');
  for (const key of Object.keys(top)) {
    if (!TOP_KEYS.has(key)) throw new CheckpointError(C.HEADER, file, `header has an unknown field ${quote(key)}`);
  }
  const format = own(top, 'format');
  if (format !== FORMAT_VERSION) {
    throw new CheckpointError(C.HEADER, file, `header field "format" is ${JSON.stringify(format ?? null)}; this reader understands format ${FORMAT_VERSION}`);
  }
  const meta = own(top, 'meta');
  if (!isObject(meta)) throw new CheckpointError(C.HEADER, file, 'header field "meta" must be an object');
  const dataLength = own(top, 'dataLength');
  if (!isIndex(dataLength)) throw new CheckpointError(C.HEADER, file, 'header field "dataLength" must be a non-negative integer');
  const tensors = own(top, 'tensors');
  if (!Array.isArray(tensors)) throw new CheckpointError(C.HEADER, file, 'header field "tensors" must be an array');

  const entries: TensorInfo[] = [];
  const names = new Set<string>();
  let prevEnd = 0;
  let prevOffset = 0;
  let prevName: string | undefined;
  tensors.forEach((raw, index) => {
    const at = `tensor #${index}`;
    if (!isObject(raw)) throw new CheckpointError(C.TENSOR, file, `${at} is not an object`);
    for (const key of Object.keys(raw)) {
      if (!ENTRY_KEYS.has(key)) throw new CheckpointError(C.TENSOR, file, `${at} has an unknown field ${quote(key)}`);
    }
    const name = own(raw, 'name');
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
      throw new CheckpointError(C.TENSOR, file, `${at}: "name" must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
    }
    const what = `tensor ${quote(name)}`;
    if (names.has(name)) throw new CheckpointError(C.DUPLICATE, file, `${what} appears twice`);
    names.add(name);
    const dtype = own(raw, 'dtype');
    const ctor = typeof dtype === 'string' ? DTYPES.get(dtype) : undefined;
    if (ctor === undefined) {
      throw new CheckpointError(C.TENSOR, file, `${what}: unknown dtype ${JSON.stringify(dtype ?? null)} (known: ${[...DTYPES.keys()].join(', ')})`);
    }
    const shape = own(raw, 'shape');
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every(isIndex)) {
      throw new CheckpointError(C.TENSOR, file, `${what}: "shape" must be an array of at most ${MAX_RANK} non-negative integers`);
    }
    const dims = shape as number[];
    const count = elementCount(dims);
    const expectedBytes = count === undefined ? undefined : count * ctor.BYTES_PER_ELEMENT;
    if (expectedBytes === undefined || !Number.isSafeInteger(expectedBytes)) {
      throw new CheckpointError(C.TENSOR, file, `${what}: shape ${fmtShape(dims)} has too many elements`);
    }
    const byteLength = own(raw, 'byteLength');
    if (byteLength !== expectedBytes) {
      throw new CheckpointError(C.TENSOR, file, `${what}: "byteLength" is ${JSON.stringify(byteLength ?? null)}, but ${dtype} ${fmtShape(dims)} takes ${expectedBytes}`);
    }
    const crc = own(raw, 'crc32');
    if (!isIndex(crc) || crc > 0xffffffff) throw new CheckpointError(C.TENSOR, file, `${what}: "crc32" must be an integer from 0 to 2^32-1`);
    const offset = own(raw, 'offset');
    if (!isIndex(offset)) throw new CheckpointError(C.TENSOR, file, `${what}: "offset" must be a non-negative integer`);
    if (offset % ALIGNMENT !== 0) throw new CheckpointError(C.LAYOUT, file, `${what}: offset ${offset} is not a multiple of ${ALIGNMENT}`);
    if (prevName !== undefined && offset < prevOffset) {
      throw new CheckpointError(C.LAYOUT, file, `${what}: offsets out of order (offset ${offset} comes before ${quote(prevName)} at ${prevOffset})`);
    }
    if (offset < prevEnd) {
      throw new CheckpointError(C.LAYOUT, file, `${what}: bytes ${offset}..${offset + byteLength} overlap ${quote(prevName ?? '')}, which ends at ${prevEnd}`);
    }
    if (offset + byteLength > dataLength) {
      throw new CheckpointError(C.LAYOUT, file, `${what}: bytes ${offset}..${offset + byteLength} run past the end of the data region (${dataLength} bytes)`);
    }
    entries.push({ name, dtype: dtype as DType, shape: [...dims], offset, byteLength, crc32: crc });
    prevName = name;
    prevOffset = offset;
    prevEnd = offset + byteLength;
  });

  const dataStart = align(PREFIX_BYTES + headerLength);
  const totalLength = dataStart + dataLength + TRAILER_BYTES;
  if (size < totalLength) {
    throw new CheckpointError(C.TRUNCATED, file, `the file is truncated: ${size} bytes, its header describes ${totalLength}`);
  }
  if (size > totalLength) {
    throw new CheckpointError(C.TRAILING, file, `${size - totalLength} unexpected byte(s) after the end of the file (its header describes ${totalLength} bytes)`);
  }
  const maxBytes = opts.maxBytes ?? bufferConstants.MAX_LENGTH;
  if (totalLength > maxBytes || totalLength > bufferConstants.MAX_LENGTH) {
    throw new CheckpointError(C.SIZE, file, `the file is ${totalLength} bytes, over the limit of ${Math.min(maxBytes, bufferConstants.MAX_LENGTH)} (option maxBytes)`);
  }
  if (opts.expect !== undefined) checkExpected(entries, opts.expect, file);
  return { headerLength, dataStart, dataLength, totalLength, meta, entries };
}

function checkExpected(entries: readonly TensorInfo[], expect: readonly ExpectedTensor[], file: string): void {
  const stored = new Map(entries.map((e) => [e.name, e]));
  const mismatches: TensorMismatch[] = [];
  const wanted = new Set<string>();
  for (const x of expect) {
    wanted.add(x.name);
    const s = stored.get(x.name);
    const expectedDesc = `${x.dtype} ${fmtShape(x.shape)}`;
    if (s === undefined) {
      mismatches.push({ name: x.name, problem: 'missing', expected: expectedDesc });
      continue;
    }
    if (s.dtype !== x.dtype) mismatches.push({ name: x.name, problem: 'dtype', expected: x.dtype, actual: s.dtype });
    if (s.shape.length !== x.shape.length || s.shape.some((d, i) => d !== x.shape[i])) {
      mismatches.push({ name: x.name, problem: 'shape', expected: fmtShape(x.shape), actual: fmtShape(s.shape) });
    }
  }
  for (const e of entries) {
    if (!wanted.has(e.name)) mismatches.push({ name: e.name, problem: 'unexpected', actual: `${e.dtype} ${fmtShape(e.shape)}` });
  }
  if (mismatches.length > 0) throw new CheckpointMismatchError(file, mismatches);
}

/** End magic and SHA-256; on a mismatch, names the damaged tensors when their CRC-32 tells. */
function checkTrailer(bytes: Uint8Array, digest: Uint8Array, plan: Plan, file: string): void {
  const end = plan.totalLength;
  const endMagic = Buffer.from(END_MAGIC, 'latin1');
  for (let i = 0; i < 8; i++) {
    if (bytes[end - 8 + i] !== endMagic[i]) {
      throw new CheckpointError(C.MAGIC, file, `the end marker "${END_MAGIC}" is missing: the file is damaged`);
    }
  }
  const stored = bytes.subarray(end - TRAILER_BYTES, end - 8);
  if (Buffer.compare(stored, digest) === 0) return;
  const damaged = plan.entries
    .filter((e) => crc32(bytes.subarray(plan.dataStart + e.offset, plan.dataStart + e.offset + e.byteLength)) !== e.crc32)
    .map((e) => quote(e.name));
  const where = damaged.length > 0 ? `tensor(s) ${damaged.join(', ')} differ from their CRC-32` : 'the damage is in the header, padding or the checksum itself';
  throw new CheckpointError(C.CHECKSUM, file, `SHA-256 checksum mismatch, the file is corrupted (${where})`);
}

function extract(bytes: Uint8Array, plan: Plan, copy: boolean): TensorFileData {
  const tensors = new Map<string, TypedArray>();
  const info = new Map<string, TensorInfo>();
  for (const e of plan.entries) {
    const ctor = DTYPES.get(e.dtype)!;
    const start = plan.dataStart + e.offset;
    const count = e.byteLength / ctor.BYTES_PER_ELEMENT;
    let t: TypedArray;
    if (!copy && (bytes.byteOffset + start) % ctor.BYTES_PER_ELEMENT === 0) {
      t = new ctor(bytes.buffer, bytes.byteOffset + start, count);
    } else {
      t = new ctor(bytes.slice(start, start + e.byteLength).buffer, 0, count);
    }
    tensors.set(e.name, t);
    info.set(e.name, e);
  }
  return { meta: plan.meta, tensors, info };
}

function validatePrefixAndHeader(bytes: Uint8Array, file: string, opts: LoadTensorFileOptions): Plan {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('tensor file bytes must be a Uint8Array');
  const headerLength = checkPrefix(bytes.subarray(0, PREFIX_BYTES), bytes.byteLength, file);
  return parseHeader(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength), bytes.byteLength, file, opts);
}

/** Synchronous decode of a whole tensor file held in memory. Throws CheckpointError. */
export function decodeTensorFile(bytes: Uint8Array, opts: LoadTensorFileOptions = {}): TensorFileData {
  const file = opts.name ?? '<bytes>';
  assertLittleEndian(file);
  const plan = validatePrefixAndHeader(bytes, file, opts);
  const digest = createHash('sha256').update(bytes.subarray(0, plan.totalLength - TRAILER_BYTES)).digest();
  checkTrailer(bytes, digest, plan, file);
  return extract(bytes, plan, opts.copy ?? true);
}

async function readInto(fh: FileHandle, buf: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, done, Math.min(READ_SLICE, buf.byteLength - done), position + done);
    if (bytesRead === 0) throw new CheckpointError(C.IO, file, 'the file shrank while it was read');
    done += bytesRead;
  }
}

/**
 * Loads and verifies a tensor file from a path (or bytes already in memory),
 * without blocking the event loop for long. Rejects with a CheckpointError
 * whose code says what is wrong (see CheckpointErrorCode), or a
 * CheckpointMismatchError listing every tensor that differs from `expect`.
 */
export async function loadTensorFile(source: string | Uint8Array, opts: LoadTensorFileOptions = {}): Promise<TensorFileData> {
  if (source instanceof Uint8Array) {
    const file = opts.name ?? '<bytes>';
    assertLittleEndian(file);
    const plan = validatePrefixAndHeader(source, file, opts);
    const hash = createHash('sha256');
    await runSliced(hashUpdate(hash, source.subarray(0, plan.totalLength - TRAILER_BYTES)));
    checkTrailer(source, hash.digest(), plan, file);
    return extract(source, plan, opts.copy ?? true);
  }
  if (typeof source !== 'string' || source.length === 0) throw new TypeError('loadTensorFile: give a path or a Uint8Array');
  const file = source;
  assertLittleEndian(file);
  let fh: FileHandle;
  try {
    fh = await open(source, 'r');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : (err as Error).message;
    throw new CheckpointError(C.IO, file, `cannot open: ${why}`, { cause: err });
  }
  try {
    let size: number;
    let head: Uint8Array;
    let headerBytes: Uint8Array;
    let plan: Plan;
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new CheckpointError(C.IO, file, 'not a regular file');
      size = st.size;
      head = new Uint8Array(Math.min(size, PREFIX_BYTES));
      await readInto(fh, head, 0, file);
      const headerLength = checkPrefix(head, size, file);
      headerBytes = new Uint8Array(headerLength);
      await readInto(fh, headerBytes, PREFIX_BYTES, file);
      plan = parseHeader(headerBytes, size, file, opts);
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      throw new CheckpointError(C.IO, file, `cannot read: ${(err as Error).message}`, { cause: err });
    }
    // Parsing a large header takes milliseconds, and allocating the file's
    // size may start a garbage collection: not both in one stretch.
    await nextTurn();
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(plan.totalLength);
    } catch (err) {
      throw new CheckpointError(C.SIZE, file, `cannot allocate ${plan.totalLength} bytes to read the file`, { cause: err });
    }
    const hash = createHash('sha256');
    const hashEnd = plan.totalLength - TRAILER_BYTES;
    try {
      for (let o = 0; o < plan.totalLength; o += READ_SLICE) {
        const part = bytes.subarray(o, Math.min(plan.totalLength, o + READ_SLICE));
        await readInto(fh, part, o, file);
        if (o < hashEnd) await runSliced(hashUpdate(hash, bytes.subarray(o, Math.min(hashEnd, o + READ_SLICE))));
      }
      const extra = await fh.read(new Uint8Array(1), 0, 1, plan.totalLength);
      if (extra.bytesRead !== 0) throw new CheckpointError(C.IO, file, 'the file grew while it was read');
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      throw new CheckpointError(C.IO, file, `cannot read: ${(err as Error).message}`, { cause: err });
    }
    if (
      Buffer.compare(bytes.subarray(0, PREFIX_BYTES), head) !== 0 ||
      Buffer.compare(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + plan.headerLength), headerBytes) !== 0
    ) {
      throw new CheckpointError(C.IO, file, 'the file changed while it was read');
    }
    checkTrailer(bytes, hash.digest(), plan, file);
    return extract(bytes, plan, opts.copy ?? false);
  } finally {
    await fh.close().catch(() => undefined);
  }
}
