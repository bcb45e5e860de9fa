import { loadNative } from '../native.js';
import { intOption, UsageError } from './args.js';

export function threadOption(v: string | boolean | undefined): number | undefined {
  return intOption('threads', v, 1, 1024);
}

/** Sets the native thread count when the addon supports it. */
export function applyThreads(n: number | undefined): void {
  if (n === undefined) return;
  const addon = loadNative() as unknown as { setThreads?: (n: number) => void };
  if (typeof addon.setThreads !== 'function') throw new UsageError('--threads: this build of the addon has no thread pool');
  addon.setThreads(n);
}
