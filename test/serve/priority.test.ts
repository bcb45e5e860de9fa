/**
 * prioritizeEventLoop: every thread but the event loop's gets the lower
 * priority (Linux; this test file runs in its own process, which it changes).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { Classifier } from '../../src/classifier.js';
import { loadNative } from '../../src/native.js';
import { DEFAULT_BACKGROUND_NICE, prioritizeEventLoop } from '../../src/serve/priority.js';
import { trainTinyModel } from './helpers.js';

/** Nice value per thread id, from /proc (field 19 of stat). */
function niceByThread(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      out.set(tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

describe('prioritizeEventLoop', () => {
  it('refuses nice values outside 1..19', async () => {
    await expect(prioritizeEventLoop(0)).rejects.toThrow(RangeError);
    await expect(prioritizeEventLoop(20)).rejects.toThrow(RangeError);
    await expect(prioritizeEventLoop(2.5)).rejects.toThrow(RangeError);
  });

  it.runIf(process.platform === 'linux')('lowers every thread but the calling one, and predictions still work', async () => {
    const { model } = await trainTinyModel();
    loadNative().setThreads(2); // a native pool thread besides the libuv ones
    const clf = await Classifier.load(model);
    await clf.predict(['w1 great']);
    const own = readlinkSync('/proc/thread-self').split('/').pop()!;
    const before = niceByThread();
    expect(before.get(own)).toBe(0);
    const changed = await prioritizeEventLoop();
    expect(DEFAULT_BACKGROUND_NICE).toBe(10);
    const after = niceByThread();
    expect(changed).toBeGreaterThanOrEqual([...before.keys()].filter((t) => t !== own && after.has(t)).length - 1);
    expect(changed).toBeGreaterThan(0);
    expect(after.get(own)).toBe(0);
    for (const [tid, nice] of after) if (tid !== own && before.has(tid)) expect(nice, `thread ${tid}`).toBeGreaterThanOrEqual(10);
    // Already lower: nothing to change, and never raised back.
    expect(await prioritizeEventLoop(5)).toBe(0);
    for (const [tid, nice] of niceByThread()) if (tid !== own && before.has(tid)) expect(nice).toBeGreaterThanOrEqual(10);
    const [p] = await clf.predict(['w1 great']);
    expect(p.label).toBe('pos');
    clf.dispose();
  });
});
