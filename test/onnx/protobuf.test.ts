import { describe, expect, it } from 'vitest';
import { OnnxFormatError } from '../../src/onnx/errors.js';
import {
  ProtoReader,
  ProtoWriter,
  WIRE_END_GROUP,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_START_GROUP,
  WIRE_VARINT,
} from '../../src/onnx/protobuf.js';

function bytes(...xs: number[]): Uint8Array {
  return Uint8Array.from(xs);
}

/** Runs `fn` and returns the OnnxFormatError it throws (failing if it throws anything else or nothing). */
function formatError(fn: () => unknown): OnnxFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OnnxFormatError);
    expect((err as OnnxFormatError).code).toBe('ERR_FINETUNE_ONNX_FORMAT');
    return err as OnnxFormatError;
  }
  throw new Error('expected an OnnxFormatError, nothing was thrown');
}

/** Reads every field of a message as the given kind, collecting values. */
function readAll(buf: Uint8Array, read: (r: ProtoReader) => unknown): unknown[] {
  const r = ProtoReader.create(buf, { file: 'x.onnx' });
  const out: unknown[] = [];
  while (r.next()) out.push(read(r));
  return out;
}

describe('varints', () => {
  const unsigned = [0, 1, 127, 128, 150, 300, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 53 - 1];
  it('round-trips unsigned values up to 2^53-1', () => {
    const w = new ProtoWriter(4);
    for (const v of unsigned) w.uint64Field(1, v);
    expect(readAll(w.finish(), (r) => r.uint64('v'))).toEqual(unsigned);
  });

  it('round-trips signed int64 values (negatives are 10-byte two\'s complement)', () => {
    const signed = [...unsigned, -1, -2, -128, -(2 ** 31), -(2 ** 32), -(2 ** 53 - 1)];
    const w = new ProtoWriter();
    for (const v of signed) w.int64Field(1, v);
    expect(readAll(w.finish(), (r) => r.int64('v'))).toEqual(signed);
    const one = new ProtoWriter().int64(-1).finish();
    expect(Array.from(one)).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it('decodes the protobuf documentation example 150 = 96 01', () => {
    expect(readAll(bytes(0x08, 0x96, 0x01), (r) => r.uint64('a'))).toEqual([150]);
  });

  it('keeps full 64-bit values exact with int64Big and refuses them as numbers', () => {
    const w = new ProtoWriter();
    w.tag(1, WIRE_VARINT).varintBig(2n ** 63n - 1n);
    w.tag(1, WIRE_VARINT).varintBig(-(2n ** 63n));
    w.tag(1, WIRE_VARINT).varintBig(2n ** 53n);
    const buf = w.finish();
    expect(readAll(buf, (r) => r.int64Big('v'))).toEqual([2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n]);
    const e = formatError(() => readAll(buf, (r) => r.int64('dims')));
    expect(e.message).toMatch(/x\.onnx: dims: value 9223372036854775807 is outside the safe integer range/);
    expect(e.path).toBe('dims');
    expect(e.file).toBe('x.onnx');
    const e2 = formatError(() => readAll(w.finish().subarray(10), (r) => r.uint64('n')));
    expect(e2.message).toMatch(/larger than 2\^53/);
  });

  it('reads int32 / enum fields, negative ones sign-extended', () => {
    const w = new ProtoWriter();
    w.int32Field(2, -7).int32Field(2, 2 ** 31 - 1).int32Field(2, -(2 ** 31));
    expect(w.length).toBe(11 + 6 + 11);
    expect(readAll(w.finish(), (r) => r.int32('data_type'))).toEqual([-7, 2 ** 31 - 1, -(2 ** 31)]);
  });

  it('rejects varints longer than 10 bytes or with bits past 64', () => {
    const eleven = bytes(0x08, ...new Array(10).fill(0xff), 0x01);
    expect(formatError(() => readAll(eleven, (r) => r.int64Big('v'))).message).toMatch(/longer than 64 bits/);
    const tenthTooBig = bytes(0x08, ...new Array(9).fill(0xff), 0x02);
    expect(formatError(() => readAll(tenthTooBig, (r) => r.int64Big('v'))).message).toMatch(/longer than 64 bits/);
  });

  it('reports a truncated varint', () => {
    const e = formatError(() => readAll(bytes(0x08, 0x96), (r) => r.uint64('ir_version')));
    expect(e.message).toMatch(/ir_version: truncated: varint runs past the end/);
  });

  it('writer refuses unsafe and negative unsigned values', () => {
    expect(() => new ProtoWriter().varint(-1)).toThrow(RangeError);
    expect(() => new ProtoWriter().varint(2 ** 53)).toThrow(RangeError);
    expect(() => new ProtoWriter().int64(0.5)).toThrow(RangeError);
    expect(() => new ProtoWriter().int32(2 ** 31)).toThrow(RangeError);
  });
});

describe('fixed-width and length-delimited fields', () => {
  it('reads fixed32, fixed64, float and double little-endian', () => {
    const w = new ProtoWriter();
    w.tag(1, WIRE_FIXED32).float32(1.5);
    w.tag(2, WIRE_FIXED64).float64(-0.1);
    w.tag(3, WIRE_FIXED32).float32(-2);
    const r = ProtoReader.create(w.finish());
    expect(r.next()).toBe(true);
    expect(r.float('f')).toBe(1.5);
    expect(r.next()).toBe(true);
    expect(r.double('d')).toBe(-0.1);
    expect(r.next()).toBe(true);
    expect(r.fixed32('u')).toBe(0xc0000000);
    expect(r.next()).toBe(false);
    const r2 = ProtoReader.create(bytes(0x09, 1, 0, 0, 0, 0, 0, 0, 0x80));
    r2.next();
    expect(r2.fixed64('x')).toBe(2n ** 63n + 1n);
  });

  it('truncated fixed-width fields are errors', () => {
    expect(formatError(() => readAll(bytes(0x15, 1, 2, 3), (r) => r.float('f'))).message).toMatch(
      /f: truncated: needs 4 bytes, 3 left/,
    );
    expect(formatError(() => readAll(bytes(0x09, 1, 2, 3, 4, 5, 6, 7), (r) => r.double('d'))).message).toMatch(
      /needs 8 bytes, 7 left/,
    );
  });

  it('bytes fields are views of the input, not copies', () => {
    const w = new ProtoWriter();
    w.bytesField(9, bytes(1, 2, 3, 4, 5));
    w.stringField(8, 'héllo');
    const buf = w.finish();
    const r = ProtoReader.create(buf);
    r.next();
    const b = r.bytes('raw_data');
    expect(Array.from(b)).toEqual([1, 2, 3, 4, 5]);
    expect(b.buffer).toBe(buf.buffer);
    expect(b.byteOffset).toBe(buf.byteOffset + 2);
    r.next();
    expect(r.string('name')).toBe('héllo');
  });

  it('a length prefix larger than the buffer is an error naming the field', () => {
    const e = formatError(() => readAll(bytes(0x3a, 0xff, 0xff, 0xff, 0x0f, 1, 2), (r) => r.bytes('graph')));
    expect(e.message).toMatch(/graph: length prefix 33554431 runs past the end of the enclosing message \(2 bytes left\)/);
    const huge = new ProtoWriter().tag(9, WIRE_LEN).varintBig(2n ** 62n).finish();
    expect(formatError(() => readAll(huge, (r) => r.bytes('raw_data'))).message).toMatch(/length prefix 4611686018427387904/);
  });

  it('a length prefix larger than the enclosing message (but inside the buffer) is an error', () => {
    // outer message of 3 bytes whose inner field claims 5 bytes; the buffer has 8 more bytes after it.
    const buf = bytes(0x0a, 0x03, 0x12, 0x05, 0x00, 1, 2, 3, 4, 5, 6, 7, 8);
    const r = ProtoReader.create(buf);
    r.next();
    const e = formatError(() => r.message('graph', (g) => {
      while (g.next()) g.bytes('name');
    }));
    expect(e.message).toMatch(/graph\.name: length prefix 5 runs past the end of the enclosing message \(1 bytes left\)/);
    expect(e.path).toBe('graph.name');
  });

  it('a wire type that does not match the field is an error', () => {
    const e = formatError(() => readAll(bytes(0x0a, 0x00), (r) => r.uint64('ir_version')));
    expect(e.message).toMatch(/ir_version: expected wire type 0 \(varint\) for field 1, found 2 \(length-delimited\)/);
  });
});

describe('tags and unknown fields', () => {
  it('invalid wire types 6 and 7 are errors', () => {
    expect(formatError(() => readAll(bytes(0x0e, 0), (r) => r.skip())).message).toMatch(/field 1 has invalid wire type 6/);
    expect(formatError(() => readAll(bytes(0x17), (r) => r.skip())).message).toMatch(/field 2 has invalid wire type 7/);
  });

  it('field number 0 is an error', () => {
    expect(formatError(() => readAll(bytes(0x00, 0x01), (r) => r.skip())).message).toMatch(/field number 0/);
  });

  it('a stray end-group is an error', () => {
    expect(formatError(() => readAll(bytes((3 << 3) | WIRE_END_GROUP), (r) => r.skip())).message).toMatch(
      /end-group without a matching start-group/,
    );
  });

  it('skips unknown fields of every wire type, groups included', () => {
    const w = new ProtoWriter();
    w.uint64Field(100, 12345);
    w.tag(101, WIRE_FIXED64).float64(1);
    w.bytesField(102, bytes(9, 9, 9));
    w.tag(103, WIRE_START_GROUP);
    w.uint64Field(1, 5);
    w.tag(2, WIRE_START_GROUP).bytesField(3, bytes(1)).tag(2, WIRE_END_GROUP);
    w.tag(103, WIRE_END_GROUP);
    w.tag(104, WIRE_FIXED32).float32(2);
    w.uint64Field(1, 42);
    const r = ProtoReader.create(w.finish());
    let found: number | undefined;
    while (r.next()) {
      if (r.field === 1) found = r.uint64('ir_version');
      else r.skip();
    }
    expect(found).toBe(42);
  });

  it('an unterminated or mismatched group is an error', () => {
    const open = new ProtoWriter().tag(5, WIRE_START_GROUP).uint64Field(1, 1).finish();
    expect(formatError(() => readAll(open, (r) => r.skip())).message).toMatch(/group has no end/);
    const mismatched = new ProtoWriter().tag(5, WIRE_START_GROUP).tag(6, WIRE_END_GROUP).finish();
    expect(formatError(() => readAll(mismatched, (r) => r.skip())).message).toMatch(/end-group for field 6 inside group 5/);
  });

  it('200 nested groups stop at the depth limit', () => {
    const w = new ProtoWriter();
    for (let i = 0; i < 200; i++) w.tag(5, WIRE_START_GROUP);
    for (let i = 0; i < 200; i++) w.tag(5, WIRE_END_GROUP);
    expect(formatError(() => readAll(w.finish(), (r) => r.skip())).message).toMatch(/groups nested deeper than 64/);
  });
});

describe('nested messages', () => {
  function nested(depth: number): Uint8Array {
    // field 6 (like AttributeProto.g) nested `depth` times around an empty message.
    const w = new ProtoWriter();
    const wrap = (into: ProtoWriter, d: number): void => {
      if (d === 0) return;
      into.messageField(6, (inner) => wrap(inner, d - 1));
    };
    wrap(w, depth);
    return w.finish();
  }
  function decodeNested(r: ProtoReader): number {
    let depth = 0;
    while (r.next()) {
      if (r.field === 6) depth = 1 + r.message('g', decodeNested);
      else r.skip();
    }
    return depth;
  }

  it('decodes nesting up to the limit', () => {
    expect(decodeNested(ProtoReader.create(nested(64)))).toBe(64);
  });

  it('a 200-deep nesting is a clean error at the limit, not a stack overflow', () => {
    const e = formatError(() => decodeNested(ProtoReader.create(nested(200), { file: 'deep.onnx' })));
    expect(e.message).toMatch(/^deep\.onnx: g(\.g){64}: messages nested deeper than 64 levels/);
  });

  it('the depth limit is configurable', () => {
    expect(decodeNested(ProtoReader.create(nested(3), { maxDepth: 3 }))).toBe(3);
    expect(formatError(() => decodeNested(ProtoReader.create(nested(4), { maxDepth: 3 }))).message).toMatch(
      /deeper than 3 levels/,
    );
  });

  it('writer fixes up length prefixes of 1, 2 and 3 bytes', () => {
    for (const size of [0, 1, 127, 128, 300, 16383, 16384, 70000]) {
      const payload = new Uint8Array(size).map((_, i) => i & 0xff);
      const w = new ProtoWriter(16);
      w.uint64Field(1, 7);
      w.messageField(2, (m) => {
        m.bytesField(3, payload);
      });
      w.uint64Field(4, 9);
      const r = ProtoReader.create(w.finish());
      const seen: unknown[] = [];
      while (r.next()) {
        if (r.field === 2) {
          seen.push(
            r.message('m', (m) => {
              m.next();
              return m.bytes('b');
            }),
          );
        } else seen.push(r.uint64('x'));
      }
      expect(seen[0]).toBe(7);
      expect(Array.from(seen[1] as Uint8Array)).toEqual(Array.from(payload));
      expect(seen[2]).toBe(9);
    }
  });
});

describe('repeated scalar fields: packed and not', () => {
  it('int64s accepts packed, unpacked and mixed', () => {
    const w = new ProtoWriter();
    w.int64Field(1, 3);
    w.packedInt64(1, [-1, 300, 2 ** 40]);
    w.int64Field(1, 0);
    const out: number[] = [];
    const r = ProtoReader.create(w.finish());
    while (r.next()) r.int64s('dims', out);
    expect(out).toEqual([3, -1, 300, 2 ** 40, 0]);
  });

  it('floats accepts packed and unpacked', () => {
    const w = new ProtoWriter();
    w.floatField(7, 0.5);
    w.packedFloat32(7, [1.5, -2, 3.25]);
    w.packedFloat32(7, new Float32Array([4, 5]));
    const out: number[] = [];
    const r = ProtoReader.create(w.finish());
    while (r.next()) r.floats('floats', out);
    expect(out).toEqual([0.5, 1.5, -2, 3.25, 4, 5]);
  });

  it('typed-array chunks for float, double, int32, int64, uint64', () => {
    const w = new ProtoWriter();
    w.packedFloat32(4, new Float32Array([1, 2, 3]));
    w.floatField(4, 9);
    w.packedFloat64(10, [0.1, -0.2]);
    w.tag(10, WIRE_FIXED64).float64(7);
    w.packedInt32(5, [-5, 6]);
    w.int32Field(5, -1);
    w.packedInt64(7, new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]));
    w.int64Field(7, -2);
    w.packedInt64(11, new BigUint64Array([2n ** 64n - 1n]));
    const r = ProtoReader.create(w.finish());
    const got: Record<number, unknown[]> = {};
    while (r.next()) {
      const list = (got[r.field] ??= []);
      if (r.field === 4) list.push(...r.float32Chunk('float_data'));
      else if (r.field === 10) list.push(...r.float64Chunk('double_data'));
      else if (r.field === 5) list.push(...r.int32Chunk('int32_data'));
      else if (r.field === 7) list.push(...r.int64Chunk('int64_data', false));
      else if (r.field === 11) list.push(...r.int64Chunk('uint64_data', true));
    }
    expect(got[4]).toEqual([1, 2, 3, 9]);
    expect(got[10]).toEqual([0.1, -0.2, 7]);
    expect(got[5]).toEqual([-5, 6, -1]);
    expect(got[7]).toEqual([-(2n ** 63n), 2n ** 63n - 1n, 0n, -2n]);
    expect(got[11]).toEqual([2n ** 64n - 1n]);
  });

  it('float chunks from unaligned input are aligned copies', () => {
    const w = new ProtoWriter();
    w.uint64Field(1, 1); // makes the packed payload start at an odd offset
    w.packedFloat32(4, new Float32Array([1.25, -3]));
    const r = ProtoReader.create(w.finish());
    r.next();
    r.skip();
    r.next();
    const f = r.float32Chunk('float_data');
    expect(f.byteOffset % 4).toBe(0);
    expect(Array.from(f)).toEqual([1.25, -3]);
  });

  it('packed data of the wrong length or cut mid-varint is an error', () => {
    const badFloats = bytes(0x22, 0x03, 0, 0, 0);
    expect(formatError(() => readAll(badFloats, (r) => r.float32Chunk('float_data'))).message).toMatch(
      /float_data: packed floats hold 3 bytes, not a multiple of 4/,
    );
    expect(formatError(() => readAll(badFloats, (r) => r.floats('floats', []))).message).toMatch(/not a multiple of 4/);
    const badDoubles = bytes(0x52, 0x04, 0, 0, 0, 0);
    expect(formatError(() => readAll(badDoubles, (r) => r.float64Chunk('double_data'))).message).toMatch(/multiple of 8/);
    const cut = bytes(0x3a, 0x02, 0x01, 0x80);
    expect(formatError(() => readAll(cut, (r) => r.int64Chunk('int64_data', false))).message).toMatch(
      /int64_data: truncated: packed varints end mid-value/,
    );
    expect(formatError(() => readAll(cut, (r) => r.int64s('dims', []))).message).toMatch(/end mid-value/);
    expect(formatError(() => readAll(cut, (r) => r.int32Chunk('int32_data'))).message).toMatch(/end mid-value/);
    const longVarint = bytes(0x3a, 0x0b, ...new Array(10).fill(0xff), 0x01);
    expect(formatError(() => readAll(longVarint, (r) => r.int64Chunk('int64_data', false))).message).toMatch(
      /longer than 64 bits/,
    );
  });
});

describe('memory limits', () => {
  it('maxItems bounds the number of decoded items', () => {
    const w = new ProtoWriter();
    for (let i = 0; i < 100; i++) w.stringField(1, 'x');
    const r = ProtoReader.create(w.finish(), { maxItems: 50 });
    const e = formatError(() => {
      while (r.next()) r.string('input');
    });
    expect(e.message).toMatch(/more than 50 messages, strings and repeated values/);
  });

  it('maxAllocBytes bounds the bytes copied into typed arrays', () => {
    const w = new ProtoWriter();
    for (let i = 0; i < 10; i++) w.packedInt64(7, new Array(100).fill(1));
    const r = ProtoReader.create(w.finish(), { maxAllocBytes: 4000 });
    const e = formatError(() => {
      while (r.next()) r.int64Chunk('int64_data', false);
    });
    expect(e.message).toMatch(/int64_data: decoded arrays would need more than 4000 bytes/);
  });
});

describe('large runs are referenced, not copied', () => {
  it('finishChunks hands tensor-sized runs over as they were given; finish() joins the same bytes', () => {
    const big = new Uint8Array(1 << 17).map((_, i) => i & 0xff);
    const w = new ProtoWriter();
    w.messageField(7, (g) => g.messageField(5, (t) => t.stringField(8, 'weight').bytesField(9, big)));
    w.stringField(2, 'after');
    const chunks = w.finishChunks();
    expect(chunks.some((c) => c === big)).toBe(true);
    const joined = w.finish();
    expect(joined.length).toBe(chunks.reduce((n, c) => n + c.length, 0));
    const r = ProtoReader.create(joined);
    expect(r.next()).toBe(true);
    const payload = r.message('graph', (g) => {
      g.next();
      return g.message('t', (t) => {
        let b: Uint8Array = new Uint8Array(0);
        while (t.next()) if (t.field === 9) b = t.bytes('raw_data'); else t.skip();
        return b;
      });
    });
    expect(Buffer.from(payload).equals(Buffer.from(big))).toBe(true);
  });
});
