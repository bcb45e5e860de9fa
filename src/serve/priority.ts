/**
 * Gives the event loop's thread the first claim on a core: every other
 * thread of the process (the libuv pool threads that run the native
 * predictions, the native pool's threads, V8's helper threads) gets a lower
 * scheduling priority (a higher nice value).
 *
 * Why: on a machine whose cores are all busy, the thread woken to compute a
 * micro-batch used to preempt the event loop that had just queued it, and the
 * loop then waited for a core while requests and timers were due (measured on
 * 2 cores at 128 connections: the call that queues a batch returned after
 * 3.5-6 ms one time in ten, after 10-15 ms one time in a hundred). The loop
 * needs a fraction of a core; the batches get every cycle it does not use, so
 * throughput stays the same.
 *
 * Linux only, where a thread's nice value is its own (setpriority on a thread
 * id). Elsewhere, or when /proc cannot be read, nothing changes. Raising a
 * nice value cannot be undone without privileges, and threads started later
 * take the priority of the thread that starts them, so call this once the
 * native thread count is set (`loadNative().setThreads`) and from the main
 * thread of a process that serves.
 *
 * @example
 * loadNative().setThreads(Math.max(1, availableParallelism() - 1));
 * const clf = await Classifier.load('model.onnx');
 * await prioritizeEventLoop(); // 10
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { getPriority, setPriority } from 'node:os';

/** Nice value given to the other threads unless told (0 is the default priority, 19 the lowest). */
export const DEFAULT_BACKGROUND_NICE = 10;

/**
 * Sets every thread of this process but the calling one (the event loop's)
 * to nice value `nice` (1 to 19), or leaves it where it already is lower in
 * priority; returns how many threads it lowered (0 where per-thread
 * priorities are not available).
 */
export async function prioritizeEventLoop(nice = DEFAULT_BACKGROUND_NICE): Promise<number> {
  if (!Number.isInteger(nice) || nice < 1 || nice > 19) throw new RangeError(`nice must be an integer from 1 to 19, got ${String(nice)}`);
  if (process.platform !== 'linux') return 0;
  let own: string;
  let tasks: string[];
  try {
    // Any finished asynchronous file operation means libuv's thread pool exists (it starts all its threads at first use).
    await access('/proc/self/task');
    // Synchronous: /proc/thread-self names the thread that reads it, and the promise API reads on a pool thread.
    own = readlinkSync('/proc/thread-self').split('/').pop()!;
    tasks = readdirSync('/proc/self/task');
  } catch {
    return 0;
  }
  let changed = 0;
  for (const tid of tasks) {
    if (tid === own) continue;
    try {
      if (getPriority(Number(tid)) >= nice) continue;
      setPriority(Number(tid), nice);
      changed++;
    } catch {
      // a thread that ended meanwhile, or a system that refuses: leave it
    }
  }
  return changed;
}
