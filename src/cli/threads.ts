import { availableParallelism } from 'node:os';

import { loadNative } from '../native.js';
import { intOption } from './args.js';

export function threadOption(v: string | boolean | undefined): number | undefined {
  return intOption('threads', v, 1, 1024);
}

/** Sets the native thread pool's size (--threads). */
export function applyThreads(n: number | undefined): void {
  if (n !== undefined) loadNative().setThreads(n);
}

/**
 * Native threads for serving unless told otherwise: one fewer than the cores
 * (at least one). The event loop parses, tokenises and answers every request;
 * with a native thread on every core, each micro-batch (and the pool threads'
 * busy-waiting around it) takes all cores and the loop waits for one.
 */
export function defaultServeThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}
