/**
 * A seeded byte mutator for the fuzz targets: bit flips, interesting bytes,
 * byte insert/delete, chunk duplication, length-field edits (protobuf varint
 * lengths, 32-bit little-endian fields), JSON number/value edits, truncation
 * and splicing with another seed. Deterministic for a given seed.
 */
import { createHash } from 'node:crypto';

import { Prng } from '../hostile/helpers.js';

const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x0d, 0x10, 0x12, 0x1a, 0x22, 0x2c, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0xef, 0xbb, 0xbf];
const INTERESTING_U32 = [0, 1, 2, 3, 4, 7, 8, 63, 64, 65, 127, 128, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const JSON_VALUES = ['0', '-1', '1', '1.5', '-0', '1e308', '1e400', '9007199254740993', '4294967296', '18446744073709551616', '"x"', '""', 'null', 'true', '[]', '{}', '[[[[[[[[[[]]]]]]]]]]', '{"__proto__":{"x":1}}', '"__proto__"', '"constructor"', '"../x"', '"/etc/passwd"'];

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

/** Reads a varint at p; returns [value, length] or null. */
function readVarint(bytes: Uint8Array, p: number): [number, number] | null {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10 && p + i < bytes.length; i++) {
    const b = bytes[p + i];
    v += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [v, i + 1];
  }
  return null;
}

export class Mutator {
  readonly rng: Prng;
  constructor(seed: number, private readonly seeds: readonly Uint8Array[]) {
    this.rng = new Prng(seed);
  }

  /** One to four stacked mutations of a random seed (or of `input`). */
  mutate(input?: Uint8Array): { bytes: Uint8Array; ops: string[] } {
    let bytes = input ?? this.rng.pick(this.seeds);
    const ops: string[] = [];
    const count = 1 + Math.floor(this.rng.next() ** 2 * 4);
    for (let i = 0; i < count; i++) {
      const [name, next] = this.once(bytes);
      ops.push(name);
      bytes = next;
    }
    return { bytes, ops };
  }

  private pos(bytes: Uint8Array, extra = 0): number {
    return this.rng.int(0, Math.max(0, bytes.length - 1 + extra));
  }

  once(b: Uint8Array): [string, Uint8Array] {
    const r = this.rng;
    const op = r.int(0, 10);
    switch (op) {
      case 0: {
        if (b.length === 0) return ['insert', Uint8Array.of(r.int(0, 255))];
        const out = b.slice();
        const p = this.pos(b);
        out[p] ^= 1 << r.int(0, 7);
        return [`flip@${p}`, out];
      }
      case 1: {
        if (b.length === 0) return ['insert', Uint8Array.of(r.pick(INTERESTING_BYTES))];
        const out = b.slice();
        const p = this.pos(b);
        out[p] = r.pick(INTERESTING_BYTES);
        return [`byte@${p}`, out];
      }
      case 2: {
        const p = this.pos(b, 1);
        const n = r.int(1, 16);
        const ins = Uint8Array.from({ length: n }, () => (r.next() < 0.5 ? r.pick(INTERESTING_BYTES) : r.int(0, 255)));
        return [`insert${n}@${p}`, concat(b.subarray(0, p), ins, b.subarray(p))];
      }
      case 3: {
        if (b.length < 2) return ['noop', b];
        const p = this.pos(b);
        const n = r.int(1, Math.min(64, b.length - p));
        return [`delete${n}@${p}`, concat(b.subarray(0, p), b.subarray(p + n))];
      }
      case 4: {
        if (b.length < 2) return ['noop', b];
        const s = this.pos(b);
        const n = r.int(1, Math.min(256, b.length - s));
        const at = this.pos(b, 1);
        const times = r.next() < 0.1 ? r.int(2, 50) : 1;
        const chunk = b.subarray(s, s + n);
        return [`dup${n}x${times}@${at}`, concat(b.subarray(0, at), ...Array(times).fill(chunk), b.subarray(at))];
      }
      case 5: {
        // Protobuf: find a length-delimited tag and rewrite its length varint.
        for (let tries = 0; tries < 20; tries++) {
          const p = this.pos(b);
          if ((b[p] & 7) !== 2 || b[p] < 8) continue;
          const cur = readVarint(b, p + 1);
          if (!cur) continue;
          const [len, size] = cur;
          const choices = [0n, 1n, BigInt(Math.max(0, len - 1)), BigInt(len + 1), BigInt(len * 2), 127n, 128n, 0x7fffffffn, 0xffffffffn, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
          const nv = varint(r.pick(choices));
          return [`varlen@${p}`, concat(b.subarray(0, p + 1), Uint8Array.from(nv), b.subarray(p + 1 + size))];
        }
        return this.once(b);
      }
      case 6: {
        // A 32-bit little-endian field (header lengths, offsets) set to an interesting value.
        if (b.length < 4) return ['noop', b];
        const out = b.slice();
        const p = r.next() < 0.3 && b.length >= 12 ? 8 : this.rng.int(0, b.length - 4);
        let v = r.pick(INTERESTING_U32);
        if (r.next() < 0.3) v = (b.length + r.int(-3, 3)) >>> 0;
        new DataView(out.buffer, out.byteOffset).setUint32(p, v >>> 0, true);
        return [`u32@${p}=${v}`, out];
      }
      case 7: {
        // A JSON value in text (checkpoint headers, JSONL, metadata): a number or literal replaced.
        const text = Buffer.from(b).toString('latin1');
        const re = /-?\d+(\.\d+)?([eE][+-]?\d+)?|"[^"\\]{0,40}"|true|false|null/g;
        const spots: Array<[number, number]> = [];
        for (let m = re.exec(text); m && spots.length < 2000; m = re.exec(text)) spots.push([m.index, m[0].length]);
        if (spots.length === 0) return this.once(b);
        const [at, len] = r.pick(spots);
        const rep = Buffer.from(r.pick(JSON_VALUES), 'latin1');
        return [`json@${at}`, concat(b.subarray(0, at), rep, b.subarray(at + len))];
      }
      case 8: {
        const p = r.int(0, b.length);
        return [`truncate@${p}`, b.subarray(0, p)];
      }
      case 9: {
        const other = r.pick(this.seeds);
        const p = r.int(0, b.length);
        const q = r.int(0, other.length);
        return [`splice@${p}/${q}`, concat(b.subarray(0, p), other.subarray(q))];
      }
      default: {
        // Text-level line edits: a line duplicated, dropped, or its ending changed.
        const text = Buffer.from(b).toString('latin1');
        const lines = text.split('\n');
        if (lines.length < 2) return this.once(b);
        const i = r.int(0, lines.length - 1);
        const kind = r.int(0, 3);
        if (kind === 0) lines.splice(i, 0, lines[i]);
        else if (kind === 1) lines.splice(i, 1);
        else if (kind === 2) lines[i] += '\r';
        else lines[i] = lines[i].repeat(r.int(2, 100));
        return [`line${kind}@${i}`, Uint8Array.from(Buffer.from(lines.join('\n'), 'latin1'))];
      }
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Rewrites the trailer of a tensor file (SHA-256 of everything before it +
 * end magic) so that mutations get past the checksum and reach the parser.
 */
export function fixTensorFileChecksum(file: Uint8Array): Uint8Array {
  if (file.length < 52) return file;
  const out = file.slice();
  const end = out.length - 40;
  out.set(createHash('sha256').update(out.subarray(0, end)).digest(), end);
  out.set(Buffer.from('FTCKEND1', 'latin1'), end + 32);
  return out;
}

/**
 * Mutates the JSON header of a tensor file as text and rebuilds a consistent
 * file around it (header length, alignment, checksum), so the header's
 * semantic checks are what gets exercised.
 */
export function mutateTensorFileHeader(file: Uint8Array, m: Mutator): { bytes: Uint8Array; ops: string[] } | null {
  if (file.length < 52) return null;
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const hlen = dv.getUint32(8, true);
  if (12 + hlen > file.length - 40) return null;
  const header = file.subarray(12, 12 + hlen);
  const dataStart = Math.ceil((12 + hlen) / 64) * 64;
  const data = file.subarray(dataStart, file.length - 40);
  const { bytes: h, ops } = m.mutate(header);
  const start = Math.ceil((12 + h.length) / 64) * 64;
  const out = new Uint8Array(start + data.length + 40);
  out.set(file.subarray(0, 8), 0);
  new DataView(out.buffer).setUint32(8, h.length, true);
  out.set(h, 12);
  out.set(data, start);
  return { bytes: fixTensorFileChecksum(out), ops: ['header:', ...ops] };
}
