import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  CheckpointError,
  CheckpointErrorCode as C,
  CheckpointMismatchError,
  decodeTensorFile,
  encodeTensorFile,
  encodeTensorFileToBytes,
  loadTensorFile,
  saveTensorFile,
  type ExpectedTensor,
  type TensorFileContent,
} from '../../src/io/index.js';
import { crc32Portable, crc32 } from '../../src/io/crc32.js';
import { fixChecksum, rawFile, removeTempDirs, rng, tempDir } from './helpers.js';

afterAll(removeTempDirs);

function sample(): TensorFileContent {
  return {
    meta: { step: 1234, epoch: 2, lr: 0.001, nested: { rng: [1, 2, 3], name: 'héllo ✓' }, flag: true, none: null },
    tensors: {
      'conv.weight': { data: Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3), shape: [2, 3, 4] },
      'adam.m': new Float64Array([Math.PI, -0, 1e-300, Number.MAX_VALUE]),
      'rng.state': new Uint32Array([0xdeadbeef, 0, 1, 0xffffffff]),
      labels: new Int32Array([-5, 7, 2147483647]),
      empty: { data: new Float32Array(0), shape: [0, 7] },
      empty2: new Uint8Array(0),
      bytes: { data: Uint8Array.from([1, 2, 3, 250, 255]), shape: [5] },
      signed: { data: Int8Array.from([-128, 0, 127, 5]), shape: [2, 2] },
      scalar: { data: new Float32Array([42]), shape: [] },
    },
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return (err as CheckpointError).code;
  }
  throw new Error('expected a CheckpointError, nothing was thrown');
}

async function asyncCodeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return (err as CheckpointError).code;
  }
  throw new Error('expected a CheckpointError, nothing was thrown');
}

function checkSample(data: Awaited<ReturnType<typeof loadTensorFile>>): void {
  const src = sample();
  expect(JSON.parse(JSON.stringify(data.meta))).toEqual(src.meta);
  expect([...data.tensors.keys()]).toEqual(Object.keys(src.tensors));
  const t = data.tensors;
  expect(t.get('conv.weight')).toBeInstanceOf(Float32Array);
  expect([...t.get('conv.weight')!]).toEqual(Array.from({ length: 24 }, (_, i) => i * 0.5 - 3));
  expect(data.info.get('conv.weight')!.shape).toEqual([2, 3, 4]);
  expect(t.get('adam.m')).toBeInstanceOf(Float64Array);
  expect(Object.is(t.get('adam.m')![1], -0)).toBe(true);
  expect([...t.get('adam.m')!]).toEqual([Math.PI, -0, 1e-300, Number.MAX_VALUE]);
  expect([...(t.get('rng.state') as Uint32Array)]).toEqual([0xdeadbeef, 0, 1, 0xffffffff]);
  expect(t.get('labels')).toBeInstanceOf(Int32Array);
  expect([...t.get('labels')!]).toEqual([-5, 7, 2147483647]);
  expect(t.get('empty')!.length).toBe(0);
  expect(data.info.get('empty')!.shape).toEqual([0, 7]);
  expect(t.get('empty2')).toBeInstanceOf(Uint8Array);
  expect(t.get('empty2')!.length).toBe(0);
  expect([...t.get('bytes')!]).toEqual([1, 2, 3, 250, 255]);
  expect(t.get('signed')).toBeInstanceOf(Int8Array);
  expect([...t.get('signed')!]).toEqual([-128, 0, 127, 5]);
  expect(data.info.get('scalar')!.shape).toEqual([]);
  expect([...t.get('scalar')!]).toEqual([42]);
  for (const a of t.values()) expect(a.byteOffset % a.BYTES_PER_ELEMENT).toBe(0);
}

describe('tensor file round trip', () => {
  it('decodes what it encodes: several dtypes and shapes, empty and scalar tensors', async () => {
    const bytes = encodeTensorFileToBytes(sample());
    expect(Buffer.from(bytes.subarray(0, 8)).toString('latin1')).toBe('FTCKPT01');
    expect(Buffer.from(bytes.subarray(bytes.length - 8)).toString('latin1')).toBe('FTCKEND1');
    checkSample(decodeTensorFile(bytes));
    checkSample(await loadTensorFile(bytes));
  });

  it('saves and loads through a file; tensors are 64-byte aligned views of one buffer', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'ckpt.ftc');
    await saveTensorFile(file, sample());
    const data = await loadTensorFile(file);
    checkSample(data);
    const buffers = new Set([...data.tensors.values()].map((a) => a.buffer));
    expect(buffers.size).toBe(1);
    for (const a of data.tensors.values()) expect(a.byteOffset % 64).toBe(0);
    const copied = await loadTensorFile(file, { copy: true });
    checkSample(copied);
    expect(new Set([...copied.tensors.values()].map((a) => a.buffer)).size).toBe(copied.tensors.size);
    // The file equals the synchronous encoding.
    expect(Buffer.compare(await readFile(file), encodeTensorFileToBytes(sample()))).toBe(0);
  });

  it('encodes tensors as zero-copy chunks', () => {
    const w = new Float32Array(1000).fill(3);
    const chunks = encodeTensorFile({ tensors: { w } });
    expect(chunks.some((c) => c.buffer === w.buffer)).toBe(true);
    expect(chunks.every((c) => c instanceof Uint8Array)).toBe(true);
  });

  it('bytes input: copies by default, aligned views with copy: false', () => {
    const bytes = encodeTensorFileToBytes({ tensors: { w: new Float32Array([1, 2, 3]) } });
    const copied = decodeTensorFile(bytes);
    expect(copied.tensors.get('w')!.buffer).not.toBe(bytes.buffer);
    const viewed = decodeTensorFile(bytes, { copy: false });
    expect(viewed.tensors.get('w')!.buffer).toBe(bytes.buffer);
    // Misaligned input bytes: still correct (copied), whatever `copy` says.
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    const fromShifted = decodeTensorFile(shifted, { copy: false });
    expect([...fromShifted.tensors.get('w')!]).toEqual([1, 2, 3]);
  });

  it('saveTensorFile captures the tensors when called', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'snap.ftc');
    const w = new Float32Array(100_000).fill(1);
    const saving = saveTensorFile(file, { meta: { v: 1 }, tensors: { w } });
    w.fill(2); // a training step running while the save is in flight
    await saving;
    const data = await loadTensorFile(file);
    expect(data.tensors.get('w')!.every((x) => x === 1)).toBe(true);
  });

  it('Map input keeps its order; names like __proto__ and constructor are ordinary names', () => {
    const tensors = new Map([
      ['__proto__', new Float32Array([1])],
      ['constructor', new Float32Array([2])],
      ['prototype', new Float32Array([3])],
    ]);
    const data = decodeTensorFile(encodeTensorFileToBytes({ tensors }));
    expect([...data.tensors.keys()]).toEqual(['__proto__', 'constructor', 'prototype']);
    expect(data.tensors.get('constructor')![0]).toBe(2);
  });

  it('crc32 matches the portable implementation', () => {
    const r = rng(7);
    const d = Uint8Array.from({ length: 10_000 }, () => Math.floor(r() * 256));
    expect(crc32(d)).toBe(crc32Portable(d));
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('encoding refuses what it cannot store', () => {
  const cases: [string, TensorFileContent][] = [
    ['NaN in meta', { meta: { loss: NaN }, tensors: {} }],
    ['Infinity in meta', { meta: { best: [1, -Infinity] }, tensors: {} }],
    ['function in meta', { meta: { f: () => 1 }, tensors: {} }],
    ['Date in meta', { meta: { when: new Date(0) }, tensors: {} }],
    ['bigint in meta', { meta: { n: 1n }, tensors: {} }],
    ['plain array tensor', { tensors: { w: [1, 2, 3] as unknown as Float32Array } }],
    ['Uint8ClampedArray', { tensors: { w: new Uint8ClampedArray(2) as unknown as Uint8Array } }],
    ['shape does not match length', { tensors: { w: { data: new Float32Array(6), shape: [2, 2] } } }],
    ['negative dim', { tensors: { w: { data: new Float32Array(0), shape: [-1] } } }],
    ['empty name', { tensors: { '': new Float32Array(1) } }],
  ];
  for (const [what, content] of cases) {
    it(what, () => {
      expect(codeOf(() => encodeTensorFile(content))).toBe(C.ENCODE);
    });
  }
  it('saveTensorFile rejects with the same code', async () => {
    const dir = await tempDir();
    await expect(saveTensorFile(path.join(dir, 'x'), { meta: { x: NaN }, tensors: {} })).rejects.toMatchObject({ code: C.ENCODE });
  });
});

// ------------------------------------------------------------ corruption

const f32 = (name: string, n: number, offset: number) => ({ name, dtype: 'float32', shape: [n], offset, byteLength: n * 4, crc32: 0 });

/** Every malformed file, each with the code it must give. Checksums are valid so only the named fault shows. */
function corruptCases(): [string, Uint8Array, string][] {
  const good = (tensors: unknown[], dataLength = 256, extra: Record<string, unknown> = {}) => ({ format: 1, meta: {}, dataLength, tensors, ...extra });
  const withHeaderLength = (n: number) => {
    const f = rawFile({ header: good([]) });
    new DataView(f.buffer).setUint32(8, n, true);
    return f;
  };
  const truncatedData = (() => {
    const f = rawFile({ header: good([f32('a', 16, 0)], 64) });
    return fixChecksum(f.slice(0, f.length - 50)); // cut inside the data
  })();
  const trailing = (() => {
    const f = rawFile({ header: good([f32('a', 16, 0)], 64) });
    const g = new Uint8Array(f.length + 7);
    g.set(f);
    g.set(Buffer.from('garbage'), f.length);
    return g;
  })();
  const flipped = (() => {
    const f = rawFile({ header: good([f32('a', 16, 0)], 64) });
    f[f.length - 60] ^= 0x10; // inside tensor a
    return f;
  })();
  const badEnd = (() => {
    const f = rawFile({ header: good([], 0) });
    f[f.length - 1] ^= 1;
    return f;
  })();
  const deep = '{"format":1,"meta":' + '['.repeat(100) + ']'.repeat(100) + ',"dataLength":0,"tensors":[]}';
  return [
    ['empty file', new Uint8Array(0), C.TRUNCATED],
    ['text file', Buffer.from('label\tthis is not a checkpoint at all, just some text that is long enough\n'), C.MAGIC],
    ['short prefix of the magic', Buffer.from('FTCK'), C.TRUNCATED],
    ['header length 0', withHeaderLength(0), C.HEADER],
    ['header length huge', withHeaderLength(0xffffffff), C.HEADER],
    ['header length just over 16 MiB', withHeaderLength(16 * 1024 * 1024 + 1), C.HEADER],
    ['header length past the end of the file', withHeaderLength(10_000), C.TRUNCATED],
    ['header not JSON', rawFile({ header: '{"format":1, meta: }' }), C.HEADER],
    ['header not UTF-8', rawFile({ header: Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]) }), C.HEADER],
    ['header JSON too deep', rawFile({ header: deep }), C.HEADER],
    ['header an array', rawFile({ header: '[1,2,3]' }), C.HEADER],
    ['format 2', rawFile({ header: { ...good([]), format: 2 } }), C.HEADER],
    ['unknown top-level field', rawFile({ header: good([], 256, { extra: 1 }) }), C.HEADER],
    ['meta not an object', rawFile({ header: { ...good([]), meta: [1] } }), C.HEADER],
    ['dataLength negative', rawFile({ header: { ...good([]), dataLength: -64 }, data: new Uint8Array(0) }), C.HEADER],
    ['tensors not an array', rawFile({ header: { ...good([]), tensors: {} } }), C.HEADER],
    ['entry not an object', rawFile({ header: good([5]) }), C.TENSOR],
    ['name missing', rawFile({ header: good([{ ...f32('a', 1, 0), name: undefined }]) }), C.TENSOR],
    ['name not a string', rawFile({ header: good([{ ...f32('a', 1, 0), name: 7 }]) }), C.TENSOR],
    ['unknown dtype', rawFile({ header: good([{ ...f32('a', 1, 0), dtype: 'complex128' }]) }), C.TENSOR],
    ['dtype "constructor"', rawFile({ header: good([{ ...f32('a', 1, 0), dtype: 'constructor' }]) }), C.TENSOR],
    ['negative dim', rawFile({ header: good([{ ...f32('a', 1, 0), shape: [-1] }]) }), C.TENSOR],
    ['fractional dim', rawFile({ header: good([{ ...f32('a', 1, 0), shape: [1.5] }]) }), C.TENSOR],
    ['dim 1e300', rawFile({ header: good([{ ...f32('a', 1, 0), shape: [1e300] }]) }), C.TENSOR],
    ['element count overflows', rawFile({ header: good([{ ...f32('a', 1, 0), shape: [2 ** 30, 2 ** 30, 2 ** 30] }]) }), C.TENSOR],
    ['shape not an array', rawFile({ header: good([{ ...f32('a', 1, 0), shape: '4' }]) }), C.TENSOR],
    ['byteLength != product * itemsize', rawFile({ header: good([{ ...f32('a', 4, 0), byteLength: 12 }]) }), C.TENSOR],
    ['crc32 not a u32', rawFile({ header: good([{ ...f32('a', 4, 0), crc32: -1 }]) }), C.TENSOR],
    ['unknown entry field', rawFile({ header: good([{ ...f32('a', 4, 0), code: 'rm -rf' }]) }), C.TENSOR],
    ['duplicate names', rawFile({ header: good([f32('a', 4, 0), f32('a', 4, 64)]) }), C.DUPLICATE],
    ['misaligned offset', rawFile({ header: good([f32('a', 4, 4)]) }), C.LAYOUT],
    ['offsets out of order', rawFile({ header: good([f32('a', 4, 128), f32('b', 4, 0)]) }), C.LAYOUT],
    ['overlapping tensors', rawFile({ header: good([f32('a', 32, 0), f32('b', 4, 64)]) }), C.LAYOUT],
    ['tensor past the data region', rawFile({ header: good([f32('a', 32, 192)]) }), C.LAYOUT],
    ['offset past everything', rawFile({ header: good([f32('a', 1, 2 ** 40)]) }), C.LAYOUT],
    ['huge tensor claimed, file small', rawFile({ header: good([f32('a', 2 ** 40, 0)], 2 ** 42), data: new Uint8Array(64) }), C.TRUNCATED],
    ['data truncated', truncatedData, C.TRUNCATED],
    ['trailing bytes', trailing, C.TRAILING],
    ['flipped byte in a tensor', flipped, C.CHECKSUM],
    ['end magic damaged', badEnd, C.MAGIC],
  ];
}

describe('corrupt files give distinct clean errors', () => {
  for (const [what, bytes, code] of corruptCases()) {
    it(`${what} -> ${code}`, async () => {
      expect(codeOf(() => decodeTensorFile(bytes, { name: 'bad.ftc' }))).toBe(code);
      expect(await asyncCodeOf(loadTensorFile(bytes))).toBe(code);
    });
  }

  it('the same codes when reading from a path, and the message names the file', async () => {
    const dir = await tempDir();
    for (const [what, bytes, code] of corruptCases()) {
      const file = path.join(dir, 'bad.ftc');
      await writeFile(file, bytes);
      const err = await loadTensorFile(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).code, what).toBe(code);
      expect((err as Error).message, what).toContain(file);
    }
  });

  it('messages name the tensor and field', () => {
    const good = { format: 1, meta: {}, dataLength: 256 };
    const overlap = rawFile({ header: { ...good, tensors: [f32('conv.w', 32, 0), f32('conv.b', 4, 64)] } });
    expect(() => decodeTensorFile(overlap, { name: 'x.ftc' })).toThrow(/x\.ftc: .*"conv\.b".*overlap.*"conv\.w"/);
    const bad = rawFile({ header: { ...good, tensors: [{ ...f32('emb', 4, 0), byteLength: 12 }] } });
    expect(() => decodeTensorFile(bad)).toThrow(/"emb".*byteLength/);
  });

  it('a missing file and a folder are IO errors', async () => {
    const dir = await tempDir();
    expect(await asyncCodeOf(loadTensorFile(path.join(dir, 'nope.ftc')))).toBe(C.IO);
    expect(await asyncCodeOf(loadTensorFile(dir))).toBe(C.IO);
  });

  it('maxBytes refuses large files before reading them', async () => {
    const bytes = encodeTensorFileToBytes({ tensors: { w: new Float32Array(1000) } });
    expect(codeOf(() => decodeTensorFile(bytes, { maxBytes: 1000 }))).toBe(C.SIZE);
  });

  it('a flipped byte at 100 random positions is always detected', () => {
    const r = rng(42);
    const content: TensorFileContent = {
      meta: { step: 10, rng: [1, 2, 3, 4], loader: { epoch: 1, position: 77 } },
      tensors: {
        emb: { data: Float32Array.from({ length: 600 }, () => r() - 0.5), shape: [20, 30] },
        bias: Float32Array.from({ length: 7 }, () => r()),
        ids: Int32Array.from({ length: 33 }, (_, i) => i),
      },
    };
    const good = encodeTensorFileToBytes(content);
    const headerEnd = 12 + new DataView(good.buffer).getUint32(8, true);
    const codes = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      // A quarter of the flips land in the prefix or header, the rest anywhere.
      const pos = i % 4 === 0 ? Math.floor(r() * headerEnd) : Math.floor(r() * good.length);
      const bad = good.slice();
      bad[pos] ^= 1 + Math.floor(r() * 255);
      const code = codeOf(() => decodeTensorFile(bad));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    console.log(`flipped bytes: ${JSON.stringify(Object.fromEntries(codes))}`);
    expect(codes.get(C.CHECKSUM)).toBeGreaterThan(40);
  });

  it('truncation at every length is detected as TRUNCATED', async () => {
    const good = encodeTensorFileToBytes(sample());
    for (let n = 0; n < good.length; n++) {
      expect(codeOf(() => decodeTensorFile(good.subarray(0, n)))).toBe(C.TRUNCATED);
    }
    const dir = await tempDir();
    const file = path.join(dir, 't.ftc');
    const r = rng(3);
    for (let i = 0; i < 20; i++) {
      const n = Math.floor(r() * good.length);
      await writeFile(file, good.subarray(0, n));
      expect(await asyncCodeOf(loadTensorFile(file))).toBe(C.TRUNCATED);
    }
  });
});

describe('prototype safety', () => {
  it('a top-level "__proto__" key is rejected and pollutes nothing', () => {
    const header = '{"format":1,"meta":{},"dataLength":0,"tensors":[],"__proto__":{"polluted":true}}';
    expect(codeOf(() => decodeTensorFile(rawFile({ header })))).toBe(C.HEADER);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('"__proto__", "constructor", "prototype" in meta stay plain own keys', () => {
    const header =
      '{"format":1,"meta":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted2":true}},' +
      '"deep":{"__proto__":{"isAdmin":true}}},"dataLength":0,"tensors":[]}';
    const { meta } = decodeTensorFile(rawFile({ header }));
    expect(Object.getPrototypeOf(meta)).toBeNull();
    expect(Object.keys(meta)).toEqual(['__proto__', 'constructor', 'deep']);
    expect(Object.getOwnPropertyDescriptor(meta, '__proto__')!.value).toMatchObject({ polluted: true });
    expect((meta.deep as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted2).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('a "__proto__" key in a tensor entry is rejected', () => {
    const header = '{"format":1,"meta":{},"dataLength":64,"tensors":[{"name":"a","dtype":"float32","shape":[1],"offset":0,"byteLength":4,"crc32":0,"__proto__":{"x":1}}]}';
    expect(codeOf(() => decodeTensorFile(rawFile({ header, data: new Uint8Array(64) })))).toBe(C.TENSOR);
  });

  it('meta with own "__proto__" round-trips as an own key', () => {
    const meta = JSON.parse('{"__proto__":{"a":1},"x":2}') as Record<string, unknown>;
    const out = decodeTensorFile(encodeTensorFileToBytes({ meta, tensors: {} })).meta;
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(out.x).toBe(2);
    expect(Object.prototype).not.toHaveProperty('a');
  });
});

describe('architecture check', () => {
  const arch: ExpectedTensor[] = [
    { name: 'embedding.weight', dtype: 'float32', shape: [100, 8] },
    { name: 'conv3.weight', dtype: 'float32', shape: [4, 8, 3] },
    { name: 'conv3.bias', dtype: 'float32', shape: [4] },
    { name: 'fc.weight', dtype: 'float32', shape: [2, 4] },
    { name: 'fc.bias', dtype: 'float32', shape: [2] },
  ];

  it('accepts the same architecture', () => {
    const tensors = Object.fromEntries(arch.map((a) => [a.name, { data: new Float32Array(a.shape.reduce((x, y) => x * y, 1)), shape: a.shape }]));
    const data = decodeTensorFile(encodeTensorFileToBytes({ tensors }), { expect: arch });
    expect(data.tensors.size).toBe(5);
  });

  it('lists every mismatched tensor in one error', async () => {
    const bytes = encodeTensorFileToBytes({
      tensors: {
        'embedding.weight': { data: new Float32Array(800), shape: [100, 8] }, // fine
        'conv3.weight': { data: new Float32Array(8 * 8 * 3), shape: [8, 8, 3] }, // shape
        'conv3.bias': new Float64Array(4), // dtype
        // fc.weight missing
        'fc.bias': { data: new Int32Array(3), shape: [3] }, // dtype and shape
        'conv5.weight': { data: new Float32Array(4 * 8 * 5), shape: [4, 8, 5] }, // unexpected
      },
    });
    let err: unknown;
    try {
      decodeTensorFile(bytes, { expect: arch, name: 'other.ftc' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointMismatchError);
    const m = err as CheckpointMismatchError;
    expect(m.code).toBe(C.MISMATCH);
    expect(m.mismatches.map((x) => `${x.name}:${x.problem}`).sort()).toEqual(
      ['conv3.weight:shape', 'conv3.bias:dtype', 'fc.weight:missing', 'fc.bias:dtype', 'fc.bias:shape', 'conv5.weight:unexpected'].sort(),
    );
    for (const name of ['conv3.weight', 'conv3.bias', 'fc.weight', 'fc.bias', 'conv5.weight']) expect(m.message).toContain(name);
    expect(m.message).not.toContain("'embedding.weight'");
    expect(m.message).toContain('other.ftc');
    expect(await asyncCodeOf(loadTensorFile(bytes, { expect: arch }))).toBe(C.MISMATCH);
  });
});
