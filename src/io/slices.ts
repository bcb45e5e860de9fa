/**
 * Large in-memory work (copying, checking or hashing tens of megabytes of
 * weights, indexing a vocabulary of 100,000 tokens) done in slices, with a
 * turn of the event loop whenever one has run for a few milliseconds, so
 * saving or loading a large model inside a server never blocks it for long
 * (HAZARDS.md: event-loop delay p99 under 50 ms).
 *
 * The work is written once, as a generator that yields after each slice
 * (well under a millisecond of work) and composes with `yield*`;
 * `runSliced` drives it with turns of the event loop in between, `runAtOnce`
 * drives it synchronously, for the synchronous APIs.
 *
 * @example
 * const copy = await runSliced(copyOf(weights)); // a 60 MB copy, in slices
 */
import type { Hash } from 'node:crypto';
import { setImmediate as afterIo } from 'node:timers/promises';

/** Longest stretch of work (ms) between two turns of the event loop. */
export const TURN_MS = 5;
/** Bytes copied, checked or hashed in one slice (a fraction of a millisecond). */
export const SLICE_BYTES = 1024 * 1024;

/** Lets the event loop run the callbacks that are due (timers, I/O) before going on. */
export function nextTurn(): Promise<void> {
  return afterIo();
}

/** Work that yields after each slice and returns a T. */
export type Sliced<T = void> = Generator<void, T, void>;

/**
 * Runs `work`, turning the event loop whenever it has run TURN_MS since the
 * last turn. It runs synchronously until the first turn: small work is done
 * before this returns.
 */
export async function runSliced<T>(work: Sliced<T>): Promise<T> {
  let since = performance.now();
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
    if (performance.now() - since >= TURN_MS) {
      await nextTurn();
      since = performance.now();
    }
  }
}

/** Runs `work` to the end synchronously. */
export function runAtOnce<T>(work: Sliced<T>): T {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
  }
}

/** Calls fn(start, end) over the elements [0, length) in ranges of at most SLICE_BYTES. */
export function* ranges(length: number, bytesPerElement: number, fn: (start: number, end: number) => void): Sliced {
  const step = Math.max(1, Math.floor(SLICE_BYTES / bytesPerElement));
  for (let start = 0; start < length; start += step) {
    fn(start, Math.min(length, start + step));
    yield;
  }
}

/** Calls fn on consecutive parts of `bytes` of at most SLICE_BYTES. */
export function byteSlices(bytes: Uint8Array, fn: (part: Uint8Array) => void): Sliced {
  return ranges(bytes.byteLength, 1, (start, end) => fn(bytes.subarray(start, end)));
}

/** Feeds `bytes` to `hash` (node:crypto's update is incremental: the digest is the same). */
export function hashUpdate(hash: Hash, bytes: Uint8Array): Sliced {
  return byteSlices(bytes, (part) => hash.update(part));
}

type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A copy of a typed array in new memory, of the same type (a Buffer comes back as a plain Uint8Array). */
export function* copyOf<T extends NumericArray>(src: T): Sliced<T> {
  const Ctor = (Buffer.isBuffer(src) ? Uint8Array : src.constructor) as new (length: number) => T;
  const out = new Ctor(src.length);
  const set = out.set as (array: T, offset: number) => void;
  yield* ranges(src.length, src.BYTES_PER_ELEMENT, (start, end) => set.call(out, src.subarray(start, end) as T, start));
  return out;
}
