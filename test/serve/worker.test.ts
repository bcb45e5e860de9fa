/**
 * The addon in worker_threads: a Classifier loads and predicts inside a
 * Worker with the same results as the main thread, and terminating a worker
 * in the middle of its predictions leaves the main thread predicting
 * correctly.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

import { Classifier } from '../../src/classifier.js';
import { mixedTexts, trainTinyModel } from './helpers.js';
import { transpileTree } from '../helpers/transpile.js';

let modelFile = '';
let js = '';
const texts = mixedTexts(40, 3);
let reference: Float32Array;

beforeAll(async () => {
  modelFile = (await trainTinyModel()).model;
  js = transpileTree(['src']);
  const clf = await Classifier.load(modelFile);
  reference = await clf.logits(texts);
  clf.dispose();
});
afterAll(() => rmSync(js, { recursive: true, force: true }));

/** Worker body (CommonJS eval): imports the transpiled Classifier, then follows `mode`. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { Classifier } = await import(workerData.classifier);
  const clf = await Classifier.load(workerData.model, { maxBatch: 8, maxWaitMs: 0 });
  if (workerData.mode === 'once') {
    const logits = await clf.logits(workerData.texts);
    clf.dispose();
    parentPort.postMessage({ logits });
    return;
  }
  // 'forever': keep batches running until terminated.
  let n = 0;
  for (;;) {
    const p = clf.logits(workerData.texts);
    if (n++ === 2) parentPort.postMessage('busy');
    await p;
  }
})().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));
`;

/** Child-process check: main-thread predictions stay right while workers are terminated mid-batch. */
const TERMINATE_CHECK = `
import { Worker } from 'node:worker_threads';
const [classifierUrl, model, textsJson] = process.argv.slice(2);
const texts = JSON.parse(textsJson);
const { Classifier } = await import(classifierUrl);
const main = await Classifier.load(model, { maxBatch: 8, maxWaitMs: 0 });
const reference = await main.logits(texts);
const same = (a) => a.length === reference.length && a.every((v, i) => Object.is(v, reference[i]));
const code = ${JSON.stringify(WORKER)};
for (let round = 0; round < 6; round++) {
  const w = new Worker(code, { eval: true, workerData: { classifier: classifierUrl, model, texts, mode: 'forever' } });
  const msg = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  if (msg !== 'busy') throw new Error('worker: ' + JSON.stringify(msg));
  const during = main.logits(texts);
  await new Promise((r) => setTimeout(r, round % 3));
  await w.terminate();
  if (!same(await during)) throw new Error('wrong logits on the main thread after terminating worker ' + round);
}
if (!same(await main.logits(texts))) throw new Error('wrong logits at the end');
main.dispose();
console.log('ok: 6 workers terminated mid-predict');
`;

function start(mode: 'once' | 'forever'): Worker {
  const classifier = pathToFileURL(join(js, 'src', 'classifier.js')).href;
  return new Worker(WORKER, { eval: true, workerData: { classifier, model: modelFile, texts, mode } });
}

describe('worker_threads', () => {
  it('loads and predicts inside a worker, with the main thread results', async () => {
    const w = start('once');
    const msg = await new Promise<{ logits?: Float32Array; error?: string }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(msg.error).toBeUndefined();
    expect(msg.logits).toEqual(reference);
    await w.terminate();
  });

  it('terminating workers mid-predict leaves the main thread healthy', async () => {
    // In a child process: an addon that aborts when a worker dies mid-call
    // must fail this test, not take the test runner down with it.
    const script = join(js, 'terminate-check.mjs');
    writeFileSync(script, TERMINATE_CHECK);
    const r = spawnSync(process.execPath, [script, pathToFileURL(join(js, 'src', 'classifier.js')).href, modelFile, JSON.stringify(texts)], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr + r.stdout + (r.signal ? ` killed by ${r.signal}` : ''), 'the main thread must survive workers terminated mid-predict').toContain('ok: 6 workers terminated mid-predict');
    expect(r.status).toBe(0);
  });
});
