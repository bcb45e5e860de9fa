/**
 * `finetune serve`: options, the URL it prints, and a SIGTERM that lets the
 * request in flight finish before the process exits 0 (in a child process
 * running the transpiled command line).
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { availableParallelism } from 'node:os';

import { main } from '../../src/cli/main.js';
import { runServe } from '../../src/cli/serve.js';
import { defaultServeThreads } from '../../src/cli/threads.js';
import { loadNative } from '../../src/native.js';
import { trainTinyModel } from './helpers.js';
import { transpileTree } from '../helpers/transpile.js';

let modelFile = '';
let js = '';
beforeAll(async () => {
  modelFile = (await trainTinyModel()).model;
  js = transpileTree(['src']);
});
afterAll(() => rmSync(js, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function capture() {
  const out = { stdout: '', stderr: '' };
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out.stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((out.stderr += String(s)), true));
  return out;
}

describe('finetune serve', () => {
  it('documents its options and routes, and refuses bad options with exit code 2', async () => {
    const out = capture();
    expect(await main(['serve', '--help'])).toBe(0);
    expect(out.stdout).toContain('Usage: finetune serve [options]');
    for (const o of ['--model', '--port', '--host', '--max-batch', '--max-wait-ms', '--max-body-bytes', '--threads', '--background-nice']) expect(out.stdout).toContain(o);
    expect(out.stdout).toContain('POST /predict');
    expect(await main(['serve'])).toBe(2);
    expect(out.stderr).toContain('--model is required');
    expect(await main(['serve', '--model', modelFile, '--port', '70000'])).toBe(2);
    expect(out.stderr).toMatch(/--port expects an integer from 0 to 65535/);
    expect(await main(['serve', '--model', join(js, 'missing.onnx')])).toBe(1);
    expect(await main(['--help'])).toBe(0);
    expect(out.stdout).toMatch(/serve\s+HTTP JSON server/);
  });

  it('runs in-process until stopped, printing the URL', async () => {
    const out = capture();
    const stop = new AbortController();
    let url = '';
    const done = runServe(['--model', modelFile, '--port', '0'], { signal: stop.signal, onListening: (u) => (url = u) });
    await vi.waitFor(() => expect(url).not.toBe(''));
    expect(out.stdout).toContain(`listening on ${url}`);
    const r = await fetch(url + '/predict', { method: 'POST', body: '{"texts": ["w1 great"]}' });
    expect(((await r.json()) as { predictions: Array<{ label: string }> }).predictions[0].label).toBe('pos');
    stop.abort();
    expect(await done).toBe(0);
    await expect(fetch(url + '/health')).rejects.toThrow();
  });

  it('leaves a core for the event loop unless --threads says otherwise', async () => {
    expect(defaultServeThreads()).toBe(Math.max(1, availableParallelism() - 1));
    capture();
    const before = loadNative().getThreads();
    try {
      for (const [args, want] of [[[], defaultServeThreads()], [['--threads', '3'], 3]] as const) {
        const stop = new AbortController();
        const done = runServe(['--model', modelFile, '--port', '0', ...args], { signal: stop.signal, onListening: () => stop.abort() });
        expect(await done).toBe(0);
        expect(loadNative().getThreads()).toBe(want);
      }
    } finally {
      loadNative().setThreads(before);
    }
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const child = spawn(process.execPath, [join(js, 'src', 'cli', 'bin.js'), 'serve', '--model', modelFile, '--port', '0', '--max-batch', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await vi.waitFor(() => expect(stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/), { timeout: 10_000 });
    const url = /listening on (http:\/\/[\d.]+:\d+)/.exec(stdout)![1];
    const body = JSON.stringify({ texts: ['w1 great w2', 'w3 dull'] });
    const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(url + '/predict', { method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: b }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 5));
      // The rest arrives after SIGTERM.
      setTimeout(() => req.end(body.slice(5)), 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    const r = await reply;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).predictions.map((p: { label: string }) => p.label)).toEqual(['pos', 'neg']);
    expect(await exited).toBe(0);
    expect(stderr).toContain('SIGTERM; finishing the requests in flight');
    expect(stderr).toContain('stopped');
  });
});
