/**
 * A small protobuf wire-format reader and writer, written for ONNX files.
 *
 * Why not protobufjs / onnx-proto: model files are treated as hostile input
 * (see HAZARDS.md, "ONNX files"). This reader checks every length against the
 * bytes that are really there before it slices or allocates anything, limits
 * message nesting depth, the number of decoded items and the bytes it copies
 * into typed arrays (so memory stays a small multiple of the file), never
 * produces `Long` objects (64-bit integers become numbers when they are safe
 * integers and an error otherwise, or land in BigInt64Array / BigUint64Array
 * for bulk tensor data), and gives exact control over copying: `bytes` fields
 * are sub-array views of the input, never copies. Every problem is an
 * OnnxFormatError naming the field path and the byte offset.
 *
 * Wire types: 0 varint, 1 fixed64, 2 length-delimited, 3/4 group start/end
 * (skipped when unknown; ONNX uses none), 5 fixed32. 6 and 7 are invalid.
 */
import { OnnxFormatError } from './errors.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

function wireName(wt: number): string {
  return WIRE_NAMES[wt] ?? 'invalid';
}

export interface ReaderLimits {
  /** Deepest message nesting accepted (top level is depth 0). Default 64. */
  maxDepth?: number;
  /**
   * Most decoded items (messages, strings, bytes fields and values of repeated
   * scalar fields kept in JS arrays) in one decode. Default 4,000,000.
   */
  maxItems?: number;
  /**
   * Most bytes copied into typed arrays (packed float_data, int64_data, ...).
   * Default: input length + 64 MiB.
   */
  maxAllocBytes?: number;
}

export interface ReaderOptions extends ReaderLimits {
  /** File name for error messages. */
  file?: string;
  /** Field path of the top-level message, for error messages ('' = none). */
  path?: string;
}

export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_ITEMS = 4_000_000;

interface Shared {
  readonly buf: Uint8Array;
  readonly view: DataView;
  readonly file: string | undefined;
  readonly maxDepth: number;
  readonly maxItems: number;
  readonly maxAllocBytes: number;
  items: number;
  allocBytes: number;
}

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Encoder = new TextEncoder();
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 4294967296;

/** Joins a field path: join('graph', 'node[3]') = 'graph.node[3]'. */
export function joinPath(path: string, name: string): string {
  return path === '' ? name : name === '' ? path : `${path}.${name}`;
}

/**
 * Reads one message (a byte range of the input). Use `next()` to step over
 * tags, then one of the typed read methods for the current field, or `skip()`.
 * The typed read methods check the wire type and name the field in errors.
 */
export class ProtoReader {
  /** Current byte offset in `buf` (absolute). */
  pos: number;
  /** End of this message in `buf` (exclusive). */
  readonly end: number;
  /** Field path of this message, e.g. `graph.node[2]`. */
  readonly path: string;
  /** Nesting depth of this message (top level 0). */
  readonly depth: number;
  /** Field number of the tag last read by next(). */
  field = 0;
  /** Wire type of the tag last read by next(). */
  wireType = 0;
  /** Offset of the tag last read by next(). */
  tagPos = 0;
  private readonly s: Shared;
  private lo = 0;
  private hi = 0;

  private constructor(s: Shared, start: number, end: number, path: string, depth: number) {
    this.s = s;
    this.pos = start;
    this.end = end;
    this.path = path;
    this.depth = depth;
  }

  /** A reader over all of `buf`. */
  static create(buf: Uint8Array, options: ReaderOptions = {}): ProtoReader {
    if (!(buf instanceof Uint8Array)) throw new TypeError('ProtoReader: expected a Uint8Array');
    const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
    const maxAllocBytes = options.maxAllocBytes ?? buf.length + 64 * 1024 * 1024;
    const s: Shared = {
      buf,
      view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength),
      file: options.file,
      maxDepth,
      maxItems,
      maxAllocBytes,
      items: 0,
      allocBytes: 0,
    };
    return new ProtoReader(s, 0, buf.length, options.path ?? '', 0);
  }

  get buf(): Uint8Array {
    return this.s.buf;
  }

  get file(): string | undefined {
    return this.s.file;
  }

  /** Path of a field of this message. */
  fieldPath(name: string): string {
    return joinPath(this.path, name);
  }

  /** Throws an OnnxFormatError about `name` (a field of this message, or the message itself when ''). */
  fail(name: string, problem: string, at: number = this.pos): never {
    const path = joinPath(this.path, name);
    const where = path === '' ? 'model' : path;
    throw new OnnxFormatError(`${where}: ${problem} (at byte ${at})`, { file: this.s.file, path });
  }

  /** Counts decoded items against the limit. */
  charge(name: string, items: number): void {
    this.s.items += items;
    if (this.s.items > this.s.maxItems) {
      this.fail(
        name,
        `more than ${this.s.maxItems} messages, strings and repeated values in one file; refusing to decode further to keep memory bounded`,
      );
    }
  }

  private chargeAlloc(name: string, bytes: number): void {
    this.s.allocBytes += bytes;
    if (this.s.allocBytes > this.s.maxAllocBytes) {
      this.fail(
        name,
        `decoded arrays would need more than ${this.s.maxAllocBytes} bytes in total; refusing to keep memory bounded`,
      );
    }
  }

  /** True while bytes remain in this message. */
  more(): boolean {
    return this.pos < this.end;
  }

  /** Reads the next tag; false at the end of the message. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    this.tagPos = this.pos;
    this.varint('(tag)');
    if (this.hi !== 0) this.fail('', `field tag ${(BigInt(this.hi) << 32n) | BigInt(this.lo)} is out of range`, this.tagPos);
    const tag = this.lo;
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) this.fail('', 'field number 0 is invalid (corrupt or not a protobuf file)', this.tagPos);
    if (wt > 5) this.fail('', `field ${field} has invalid wire type ${wt}`, this.tagPos);
    if (wt === WIRE_END_GROUP) this.fail('', `field ${field}: end-group without a matching start-group`, this.tagPos);
    this.field = field;
    this.wireType = wt;
    return true;
  }

  private byte(name: string): number {
    if (this.pos >= this.end) this.fail(name, 'truncated: varint runs past the end of the message');
    return this.s.buf[this.pos++];
  }

  /** Reads a varint into lo/hi (unsigned 32-bit halves). */
  private varint(name: string): void {
    const start = this.pos;
    let b = this.byte(name);
    let lo = b & 0x7f;
    if (b < 0x80) {
      this.lo = lo;
      this.hi = 0;
      return;
    }
    for (let shift = 7; shift < 28; shift += 7) {
      b = this.byte(name);
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    b = this.byte(name);
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >>> 4;
    if (b < 0x80) {
      this.lo = lo >>> 0;
      this.hi = hi;
      return;
    }
    for (let shift = 3; shift < 31; shift += 7) {
      b = this.byte(name);
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    b = this.byte(name);
    if (b > 1) this.fail(name, 'varint longer than 64 bits', start);
    hi |= b << 31;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  private expectWire(name: string, wt: number): void {
    if (this.wireType !== wt) {
      this.fail(
        name,
        `expected wire type ${wt} (${wireName(wt)}) for field ${this.field}, found ${this.wireType} (${wireName(this.wireType)})`,
        this.tagPos,
      );
    }
  }

  private unsignedNumber(name: string, at: number): number {
    if (this.hi >= 0x200000) {
      const v = (BigInt(this.hi) << 32n) | BigInt(this.lo);
      this.fail(name, `value ${v} is larger than 2^53 (not a safe integer)`, at);
    }
    return this.hi * TWO_32 + this.lo;
  }

  private signedNumber(name: string, at: number): number {
    const hi = this.hi | 0;
    if (hi >= 0x200000 || hi < -0x200000) {
      const v = BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
      this.fail(name, `value ${v} is outside the safe integer range ±(2^53-1)`, at);
    }
    const v = hi * TWO_32 + this.lo;
    if (!Number.isSafeInteger(v)) this.fail(name, `value ${v} is outside the safe integer range ±(2^53-1)`, at);
    return v;
  }

  /** Unsigned varint (uint64 / uint32) as a safe integer. */
  uint64(name: string): number {
    this.expectWire(name, WIRE_VARINT);
    const at = this.pos;
    this.varint(name);
    return this.unsignedNumber(name, at);
  }

  /** Signed int64 varint (two's complement) as a safe integer. */
  int64(name: string): number {
    this.expectWire(name, WIRE_VARINT);
    const at = this.pos;
    this.varint(name);
    return this.signedNumber(name, at);
  }

  /** int64 varint as an exact bigint. */
  int64Big(name: string): bigint {
    this.expectWire(name, WIRE_VARINT);
    this.varint(name);
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  /** int32 / enum varint (truncated to 32 bits, as protobuf specifies). */
  int32(name: string): number {
    this.expectWire(name, WIRE_VARINT);
    this.varint(name);
    return this.lo | 0;
  }

  bool(name: string): boolean {
    this.expectWire(name, WIRE_VARINT);
    this.varint(name);
    return this.lo !== 0 || this.hi !== 0;
  }

  private need(name: string, n: number): number {
    if (this.end - this.pos < n) {
      this.fail(name, `truncated: needs ${n} bytes, ${this.end - this.pos} left in the message`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** fixed32 float. */
  float(name: string): number {
    this.expectWire(name, WIRE_FIXED32);
    return this.s.view.getFloat32(this.need(name, 4), true);
  }

  /** fixed64 double. */
  double(name: string): number {
    this.expectWire(name, WIRE_FIXED64);
    return this.s.view.getFloat64(this.need(name, 8), true);
  }

  fixed32(name: string): number {
    this.expectWire(name, WIRE_FIXED32);
    return this.s.view.getUint32(this.need(name, 4), true);
  }

  fixed64(name: string): bigint {
    this.expectWire(name, WIRE_FIXED64);
    return this.s.view.getBigUint64(this.need(name, 8), true);
  }

  /** Reads a length prefix and returns the start of the payload; this.pos moves past it. */
  private lengthDelimited(name: string): number {
    this.expectWire(name, WIRE_LEN);
    const at = this.pos;
    this.varint(name);
    const left = this.end - this.pos;
    if (this.hi !== 0 || this.lo > left) {
      const len = (BigInt(this.hi) << 32n) | BigInt(this.lo);
      this.fail(name, `length prefix ${len} runs past the end of the enclosing message (${left} bytes left)`, at);
    }
    const start = this.pos;
    this.pos += this.lo;
    return start;
  }

  /** A bytes field as a view into the input (no copy). */
  bytes(name: string): Uint8Array {
    const start = this.lengthDelimited(name);
    this.charge(name, 1);
    return this.s.buf.subarray(start, this.pos);
  }

  /** A string field (UTF-8; invalid sequences become U+FFFD). */
  string(name: string): string {
    const start = this.lengthDelimited(name);
    this.charge(name, 1);
    return start === this.pos ? '' : utf8Decoder.decode(this.s.buf.subarray(start, this.pos));
  }

  /** Decodes an embedded message with `decode`, one level deeper. */
  message<T>(name: string, decode: (r: ProtoReader) => T): T {
    const start = this.lengthDelimited(name);
    const path = joinPath(this.path, name);
    if (this.depth + 1 > this.s.maxDepth) {
      throw new OnnxFormatError(
        `${path}: messages nested deeper than ${this.s.maxDepth} levels (at byte ${start}); refusing to decode`,
        { file: this.s.file, path },
      );
    }
    this.charge(name, 1);
    const child = new ProtoReader(this.s, start, this.pos, path, this.depth + 1);
    return decode(child);
  }

  /** Skips the current field whatever its wire type. */
  skip(): void {
    const name = `(field ${this.field})`;
    switch (this.wireType) {
      case WIRE_VARINT:
        this.varint(name);
        return;
      case WIRE_FIXED64:
        this.need(name, 8);
        return;
      case WIRE_LEN:
        this.lengthDelimited(name);
        return;
      case WIRE_FIXED32:
        this.need(name, 4);
        return;
      case WIRE_START_GROUP:
        this.skipGroup(this.field);
        return;
      default:
        this.fail(name, `invalid wire type ${this.wireType}`, this.tagPos);
    }
  }

  /** Skips a (deprecated) group, nested groups included, up to the depth limit. */
  private skipGroup(field: number): void {
    const stack: number[] = [field];
    while (stack.length > 0) {
      if (this.depth + stack.length > this.s.maxDepth) {
        this.fail('', `groups nested deeper than ${this.s.maxDepth} levels`);
      }
      if (this.pos >= this.end) this.fail(`(field ${stack[stack.length - 1]})`, 'truncated: group has no end');
      const at = this.pos;
      this.varint('(tag)');
      if (this.hi !== 0) this.fail('', 'field tag out of range', at);
      const f = this.lo >>> 3;
      const wt = this.lo & 7;
      if (f === 0) this.fail('', 'field number 0 is invalid', at);
      const name = `(field ${f})`;
      switch (wt) {
        case WIRE_VARINT:
          this.varint(name);
          break;
        case WIRE_FIXED64:
          this.need(name, 8);
          break;
        case WIRE_LEN: {
          this.wireType = WIRE_LEN;
          this.lengthDelimited(name);
          break;
        }
        case WIRE_FIXED32:
          this.need(name, 4);
          break;
        case WIRE_START_GROUP:
          stack.push(f);
          break;
        case WIRE_END_GROUP:
          if (stack[stack.length - 1] !== f) {
            this.fail(name, `end-group for field ${f} inside group ${stack[stack.length - 1]}`, at);
          }
          stack.pop();
          break;
        default:
          this.fail(name, `invalid wire type ${wt}`, at);
      }
    }
  }

  // ---- repeated scalar fields: packed (wire type 2) or one value per tag ----

  /** Counts varints in [start, end) and checks the last one ends in range. */
  private countVarints(name: string, start: number, end: number): number {
    const buf = this.s.buf;
    let n = 0;
    let run = 0;
    for (let i = start; i < end; i++) {
      if (buf[i] < 0x80) {
        n++;
        run = 0;
      } else if (++run >= 10) {
        this.fail(name, 'packed varint longer than 64 bits', i);
      }
    }
    if (end > start && buf[end - 1] >= 0x80) this.fail(name, 'truncated: packed varints end mid-value', end);
    return n;
  }

  /** Appends int64 values (as safe numbers) of a repeated int64 field to `out`. */
  int64s(name: string, out: number[]): void {
    if (this.wireType === WIRE_VARINT) {
      this.charge(name, 1);
      out.push(this.int64(name));
      return;
    }
    const start = this.lengthDelimited(name);
    const end = this.pos;
    const n = this.countVarints(name, start, end);
    this.charge(name, n);
    this.pos = start;
    try {
      for (let i = 0; i < n; i++) {
        const at = this.pos;
        this.varint(name);
        out.push(this.signedNumber(`${name}[${out.length}]`, at));
      }
    } finally {
      this.pos = end;
    }
  }

  /** Appends float values of a repeated float field to `out`. */
  floats(name: string, out: number[]): void {
    if (this.wireType === WIRE_FIXED32) {
      this.charge(name, 1);
      out.push(this.float(name));
      return;
    }
    const start = this.lengthDelimited(name);
    const len = this.pos - start;
    if (len % 4 !== 0) this.fail(name, `packed floats hold ${len} bytes, not a multiple of 4`, start);
    this.charge(name, len / 4);
    const view = this.s.view;
    for (let p = start; p < this.pos; p += 4) out.push(view.getFloat32(p, true));
  }

  /** A repeated float field as a Float32Array chunk (packed or single). */
  float32Chunk(name: string): Float32Array {
    this.charge(name, 1);
    if (this.wireType === WIRE_FIXED32) {
      this.chargeAlloc(name, 4);
      return Float32Array.of(this.float(name));
    }
    const start = this.lengthDelimited(name);
    const len = this.pos - start;
    if (len % 4 !== 0) this.fail(name, `packed floats hold ${len} bytes, not a multiple of 4`, start);
    this.chargeAlloc(name, len);
    const out = new Float32Array(len / 4);
    copyLE(this.s.buf, start, out, 4);
    return out;
  }

  /** A repeated double field as a Float64Array chunk (packed or single). */
  float64Chunk(name: string): Float64Array {
    this.charge(name, 1);
    if (this.wireType === WIRE_FIXED64) {
      this.chargeAlloc(name, 8);
      return Float64Array.of(this.double(name));
    }
    const start = this.lengthDelimited(name);
    const len = this.pos - start;
    if (len % 8 !== 0) this.fail(name, `packed doubles hold ${len} bytes, not a multiple of 8`, start);
    this.chargeAlloc(name, len);
    const out = new Float64Array(len / 8);
    copyLE(this.s.buf, start, out, 8);
    return out;
  }

  /** A repeated int32 field as an Int32Array chunk (packed or single). */
  int32Chunk(name: string): Int32Array {
    this.charge(name, 1);
    if (this.wireType === WIRE_VARINT) {
      this.chargeAlloc(name, 4);
      return Int32Array.of(this.int32(name));
    }
    const start = this.lengthDelimited(name);
    const end = this.pos;
    const n = this.countVarints(name, start, end);
    this.chargeAlloc(name, n * 4);
    const out = new Int32Array(n);
    this.pos = start;
    for (let i = 0; i < n; i++) {
      this.varint(name);
      out[i] = this.lo | 0;
    }
    this.pos = end;
    return out;
  }

  /** A repeated int64 (or uint64 when `unsigned`) field as a BigInt64Array / BigUint64Array chunk. */
  int64Chunk(name: string, unsigned: false): BigInt64Array;
  int64Chunk(name: string, unsigned: true): BigUint64Array;
  int64Chunk(name: string, unsigned: boolean): BigInt64Array | BigUint64Array {
    this.charge(name, 1);
    let n: number;
    let start: number;
    let end: number;
    if (this.wireType === WIRE_VARINT) {
      n = 1;
      start = this.pos;
      end = -1;
    } else {
      start = this.lengthDelimited(name);
      end = this.pos;
      n = this.countVarints(name, start, end);
      this.pos = start;
    }
    this.chargeAlloc(name, n * 8);
    const out = unsigned ? new BigUint64Array(n) : new BigInt64Array(n);
    const words = new Uint32Array(out.buffer);
    const loIdx = LITTLE_ENDIAN ? 0 : 1;
    for (let i = 0; i < n; i++) {
      this.varint(name);
      words[2 * i + loIdx] = this.lo;
      words[2 * i + 1 - loIdx] = this.hi;
    }
    if (end >= 0) this.pos = end;
    return out;
  }
}

/** Copies little-endian elements of `size` bytes from buf[start..] into `out` (aligned, new memory). */
export function copyLE(
  buf: Uint8Array,
  start: number,
  out: Float32Array | Float64Array | Int32Array | BigInt64Array | BigUint64Array,
  size: 4 | 8,
): void {
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  bytes.set(buf.subarray(start, start + out.byteLength));
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
}

/** Concatenates typed-array chunks (one chunk is returned as is). */
export function concatChunks<T extends Float32Array | Float64Array | Int32Array | BigInt64Array | BigUint64Array>(
  chunks: T[],
  make: (n: number) => T,
): T {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = make(n);
  let off = 0;
  for (const c of chunks) {
    (out as unknown as { set(a: T, o: number): void }).set(c, off);
    off += c.length;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Writer

function varintSize(lo: number, hi: number): number {
  if (hi === 0) {
    if (lo < 0x80) return 1;
    if (lo < 0x4000) return 2;
    if (lo < 0x200000) return 3;
    if (lo < 0x10000000) return 4;
    return 5;
  }
  if (hi < 0x8) return 5;
  if (hi < 0x400) return 6;
  if (hi < 0x20000) return 7;
  if (hi < 0x1000000) return 8;
  if (hi < 0x80000000) return 9;
  return 10;
}

function checkNonNegative(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what}: ${n} is not a non-negative safe integer`);
}

/** A growable buffer writing protobuf wire format. */
/** Byte runs at least this long are kept by reference (finishChunks), not copied. */
const LARGE_RUN = 1 << 16;

export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  // Finished output before buf: small runs flushed from earlier buffers and
  // large runs (tensor data) referenced as they were given.
  private chunks: Uint8Array[] = [];
  private flushed = 0;

  constructor(initialSize = 4096) {
    this.buf = new Uint8Array(Math.max(16, initialSize));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.flushed + this.pos;
  }

  private flush(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.flushed += this.pos;
    this.buf = new Uint8Array(4096);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private varintParts(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    while (hi !== 0 || lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi = hi >>> 7;
    }
    buf[this.pos++] = lo;
  }

  /** Unsigned varint of a non-negative safe integer. */
  varint(n: number): this {
    checkNonNegative(n, 'varint');
    if (n < 0x80) {
      this.ensure(1);
      this.buf[this.pos++] = n;
      return this;
    }
    this.varintParts(n >>> 0, Math.floor(n / TWO_32) >>> 0);
    return this;
  }

  /** Signed int64 varint (negative values take 10 bytes, two's complement). */
  int64(n: number): this {
    if (!Number.isSafeInteger(n)) throw new RangeError(`int64: ${n} is not a safe integer`);
    if (n >= 0) return this.varint(n);
    const big = BigInt.asUintN(64, BigInt(n));
    this.varintParts(Number(big & 0xffffffffn), Number(big >> 32n));
    return this;
  }

  /** 64-bit varint from a bigint (taken modulo 2^64). */
  varintBig(v: bigint): this {
    const u = BigInt.asUintN(64, v);
    this.varintParts(Number(u & 0xffffffffn), Number(u >> 32n));
    return this;
  }

  /** int32 / enum varint: negative values are sign-extended to 10 bytes, as protobuf specifies. */
  int32(n: number): this {
    if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) {
      throw new RangeError(`int32: ${n} is not a 32-bit integer`);
    }
    return this.int64(n);
  }

  tag(field: number, wireType: number): this {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`bad field number ${field}`);
    return this.varint(field * 8 + wireType);
  }

  float32(v: number): this {
    this.ensure(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  /** Appends raw bytes (no tag, no length). */
  raw(bytes: Uint8Array): this {
    if (bytes.length >= LARGE_RUN) {
      // Tensor data: referenced, not copied (finishChunks hands it to the file writer as is).
      this.flush();
      this.chunks.push(bytes);
      this.flushed += bytes.length;
      return this;
    }
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  // ---- field helpers ----

  uint64Field(field: number, n: number): this {
    return this.tag(field, WIRE_VARINT).varint(n);
  }

  int64Field(field: number, n: number): this {
    return this.tag(field, WIRE_VARINT).int64(n);
  }

  int32Field(field: number, n: number): this {
    return this.tag(field, WIRE_VARINT).int32(n);
  }

  floatField(field: number, v: number): this {
    return this.tag(field, WIRE_FIXED32).float32(v);
  }

  bytesField(field: number, bytes: Uint8Array): this {
    return this.tag(field, WIRE_LEN).varint(bytes.length).raw(bytes);
  }

  stringField(field: number, s: string): this {
    return this.bytesField(field, utf8Encoder.encode(s));
  }

  /** A nested message: `write` fills it in; the length prefix is fixed up afterwards. */
  messageField(field: number, write: (w: this) => void): this {
    // The body goes to a child writer first: its length prefixes it, and large
    // runs inside it stay references instead of being shifted into place.
    const child = new (this.constructor as new (size: number) => this)(256);
    write(child);
    this.tag(field, WIRE_LEN).varint(child.length);
    if (child.chunks.length === 0) return this.raw(child.buf.subarray(0, child.pos));
    this.flush();
    for (const c of child.chunks) this.chunks.push(c);
    this.flushed += child.flushed;
    if (child.pos > 0) {
      this.chunks.push(child.buf.subarray(0, child.pos));
      this.flushed += child.pos;
    }
    return this;
  }


  /** Packed repeated int64 (numbers must be safe integers). Writes nothing when empty. */
  packedInt64(field: number, values: ArrayLike<number> | BigInt64Array | BigUint64Array): this {
    if (values.length === 0) return this;
    return this.messageField(field, (w) => {
      if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
        for (let i = 0; i < values.length; i++) w.varintBig(values[i]);
      } else {
        for (let i = 0; i < values.length; i++) w.int64(values[i]);
      }
    });
  }

  /** Packed repeated int32. Writes nothing when empty. */
  packedInt32(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    return this.messageField(field, (w) => {
      for (let i = 0; i < values.length; i++) w.int32(values[i]);
    });
  }

  /** Packed repeated float (little-endian). Writes nothing when empty. */
  packedFloat32(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    this.tag(field, WIRE_LEN).varint(values.length * 4);
    if (values instanceof Float32Array) return this.raw(float32ToLE(values));
    for (let i = 0; i < values.length; i++) this.float32(values[i]);
    return this;
  }

  /** Packed repeated double (little-endian). Writes nothing when empty. */
  packedFloat64(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    this.tag(field, WIRE_LEN).varint(values.length * 8);
    for (let i = 0; i < values.length; i++) this.float64(values[i]);
    return this;
  }

  /** The bytes written so far (a view of the internal buffer, exact length). */
  /** The output as one array (copied together when large runs were referenced). */
  finish(): Uint8Array {
    if (this.chunks.length === 0) return this.buf.subarray(0, this.pos);
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.finishChunks()) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** The output as runs to write in order, large tensor data not copied. */
  finishChunks(): Uint8Array[] {
    return this.pos > 0 ? [...this.chunks, this.buf.subarray(0, this.pos)] : [...this.chunks];
  }
}

/** Little-endian bytes of a Float32Array (a view when the platform is little-endian). */
export function float32ToLE(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i += 4) out.subarray(i, i + 4).reverse();
  return out;
}

/** Little-endian bytes of a 64-bit typed array (a view when the platform is little-endian). */
export function int64ToLE(values: BigInt64Array | BigUint64Array | Float64Array): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i += 8) out.subarray(i, i + 8).reverse();
  return out;
}
