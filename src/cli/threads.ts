import { loadNative } from '../native.js';
import { intOption } from './args.js';

export function threadOption(v: string | boolean | undefined): number | undefined {
  return intOption('threads', v, 1, 1024);
}

/** Sets the native thread pool's size (--threads). */
export function applyThreads(n: number | undefined): void {
  if (n !== undefined) loadNative().setThreads(n);
}
