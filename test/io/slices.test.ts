import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { copyOf, hashUpdate, ranges, runAtOnce, runSliced, SLICE_BYTES, TURN_MS, type Sliced } from '../../src/io/slices.js';

/** Work of `n` slices, each busy for `ms`, returning n. */
function* busy(n: number, ms: number): Sliced<number> {
  for (let i = 0; i < n; i++) {
    const end = performance.now() + ms;
    while (performance.now() < end);
    yield;
  }
  return n;
}

describe('sliced work', () => {
  it('runSliced turns the event loop while long work runs; runAtOnce does not', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      expect(runAtOnce(busy(20, 1))).toBe(20);
      expect(ticks).toBe(0);
      expect(await runSliced(busy(20 * TURN_MS, 1))).toBe(20 * TURN_MS);
      expect(ticks).toBeGreaterThanOrEqual(5);
    } finally {
      clearInterval(timer);
    }
  });

  it('small work finishes before runSliced returns its promise', () => {
    let done = false;
    void runSliced(
      (function* () {
        yield;
        done = true;
      })(),
    );
    expect(done).toBe(true);
  });

  it('ranges covers [0, length) in slices of at most SLICE_BYTES', () => {
    const seen: [number, number][] = [];
    runAtOnce(ranges(SLICE_BYTES / 2 + 3, 2, (s, e) => seen.push([s, e])));
    expect(seen).toEqual([
      [0, SLICE_BYTES / 2],
      [SLICE_BYTES / 2, SLICE_BYTES / 2 + 3],
    ]);
    runAtOnce(ranges(0, 4, () => expect.fail('no range for length 0')));
  });

  it('copyOf copies into new memory of the same type (a Buffer as a plain Uint8Array)', async () => {
    const f = Float32Array.from({ length: SLICE_BYTES / 2 + 5 }, (_, i) => i * 0.5);
    const c = await runSliced(copyOf(f));
    expect(c).toBeInstanceOf(Float32Array);
    expect(c.buffer).not.toBe(f.buffer);
    expect(Buffer.from(c.buffer).equals(Buffer.from(f.buffer))).toBe(true);
    const b = runAtOnce(copyOf(Buffer.from('abc')));
    expect(Object.getPrototypeOf(b)).toBe(Uint8Array.prototype);
    expect([...b]).toEqual([97, 98, 99]);
    const view = new BigInt64Array([1n, 2n, 3n, 4n]).subarray(1, 3);
    expect([...runAtOnce(copyOf(view))]).toEqual([2n, 3n]);
  });

  it('hashUpdate gives the digest of one update', async () => {
    const bytes = Uint8Array.from({ length: 3 * SLICE_BYTES + 17 }, (_, i) => (i * 31) & 0xff);
    const hash = createHash('sha256');
    await runSliced(hashUpdate(hash, bytes));
    expect(hash.digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});
