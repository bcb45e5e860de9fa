/**
 * HTTP serving under load, on loopback: `finetune serve`'s server
 * (createServer + Classifier micro-batching) against the same ONNX model run
 * by onnxruntime-node's `session.run()` in a minimal node:http handler (one
 * run per request, the usual way). Both parse and answer the same JSON; the
 * model is a Kim (2014) CNN-rand trained on SST-2 for two epochs.
 *
 * autocannon (programmatic) drives each server at 1, 16 and 128 connections
 * with one SST-2 test sentence per request; each server runs in its own child
 * process, which measures its own event-loop delay (monitorEventLoopDelay)
 * during each run and reports it over IPC.
 *
 * Both servers get the same number of native / onnxruntime intra-op threads:
 * `--threads`, else what `finetune serve` uses by default (one fewer than the
 * cores, at least 1). The finetune server also lowers the priority of its
 * other threads as `finetune serve` does (src/serve/priority.ts), so the
 * figures are those of the server as shipped; onnxruntime's `run()` computes
 * on the event loop's own thread, which no priority can help.
 *
 * Run: `npx finetune bench serve [--threads N] [--data DIR] [--json]`
 * Environment: FINETUNE_BENCH_SECONDS (per run, default 10),
 * FINETUNE_BENCH_MODEL (a model file to use instead of training one),
 * FINETUNE_BENCH_TEXTS (texts per request, default 1).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import autocannon from 'autocannon';

import { Classifier } from '../src/classifier.js';
import { defaultServeThreads } from '../src/cli/threads.js';
import { Tokenizer } from '../src/data/tokenizer.js';
import { loadNative } from '../src/native.js';
import { loadModel, saveModel } from '../src/onnx/model-file.js';
import { DEFAULT_BACKGROUND_NICE, prioritizeEventLoop } from '../src/serve/priority.js';
import { createServer, parsePredictBody } from '../src/serve/server.js';
import { trainFromFiles } from '../src/train/run.js';

export interface ServeBenchOptions {
  dataDir?: string;
  json?: boolean;
  threads?: number;
  /** Seconds per measured run (default 10, or FINETUNE_BENCH_SECONDS). */
  seconds?: number;
  connections?: number[];
  /** Texts per request (default 1). */
  textsPerRequest?: number;
  /** Use this model instead of training one on SST-2. */
  model?: string;
}

interface LoadResult {
  server: 'finetune' | 'onnxruntime';
  connections: number;
  requestsPerSecond: number;
  textsPerSecond: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
  loopP99ms: number;
  loopMaxMs: number;
  meanBatch?: number;
}

const here = fileURLToPath(import.meta.url);

function repoRoot(): string {
  let dir = dirname(here);
  for (let i = 0; i < 5 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
}

function sst2Dir(dataDir?: string): string {
  const candidates = [dataDir && join(resolve(dataDir), 'sst2'), join(repoRoot(), '..', 'shared', 'data', 'sst2'), join(repoRoot(), 'data', 'sst2')].filter(Boolean) as string[];
  const found = candidates.find((d) => existsSync(join(d, 'train.txt')));
  if (!found) throw new Error(`bench serve: no SST-2 data (looked in ${candidates.join(', ')})`);
  return found;
}

// ---------------------------------------------------------------- children

type ChildMessage = { cmd: 'reset' } | { cmd: 'report' } | { cmd: 'exit' };

/** Runs in a child process: one server, its event-loop delay on request. */
async function child(kind: string, model: string, threads: number): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let batches = 0;
  let batched = 0;
  let url: string;
  let close: () => Promise<void>;
  if (kind === 'finetune') {
    loadNative().setThreads(threads);
    const clf = await Classifier.load(model, { maxBatch: 64, maxWaitMs: 1 });
    clf.onBatch((b) => {
      batches++;
      batched += b.size;
    });
    // As `finetune serve` does by default: every thread but the event loop's
    // at a lower priority, once the native threads exist. What is measured
    // (this process's event-loop delay under the same load) is unchanged.
    await prioritizeEventLoop(DEFAULT_BACKGROUND_NICE);
    const server = createServer(clf);
    url = await server.listen(0, '127.0.0.1');
    close = async () => {
      await server.close();
      clf.dispose();
    };
  } else {
    const ort = await import('onnxruntime-node');
    const saved = await loadModel(model);
    const tokenizer = new Tokenizer(saved.tokenizer);
    const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    const labels = saved.labels;
    const pad = BigInt(saved.vocab.padId);
    const http = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        try {
          const { texts } = parsePredictBody(JSON.parse(Buffer.concat(chunks).toString('utf8')), 1024, labels.length);
          const ids = texts.map((t) => saved.vocab.encode(tokenizer.tokenize(t)).subarray(0, 256));
          const L = Math.max(1, ...ids.map((r) => r.length));
          const data = new BigInt64Array(texts.length * L).fill(pad);
          ids.forEach((r, i) => r.forEach((v, j) => (data[i * L + j] = BigInt(v))));
          const out = await session.run({ input_ids: new ort.Tensor('int64', data, [texts.length, L]) });
          const logits = out.logits.data as Float32Array;
          const C = labels.length;
          const predictions = texts.map((_, i) => {
            const z = Array.from(logits.subarray(i * C, (i + 1) * C));
            const m = Math.max(...z);
            const e = z.map((v) => Math.exp(v - m));
            const s = e.reduce((a, b) => a + b, 0);
            const probabilities: Record<string, number> = {};
            labels.forEach((l, c) => (probabilities[l] = e[c] / s));
            return { label: labels[z.indexOf(m)], probabilities, logits: z };
          });
          const body = JSON.stringify({ predictions });
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        } catch (err) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: (err as Error).message }));
        }
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    close = () => new Promise<void>((r) => http.close(() => r()));
  }
  process.on('message', async (m: ChildMessage) => {
    if (m.cmd === 'reset') {
      loop.reset();
      batches = 0;
      batched = 0;
      process.send!({ ok: true });
    } else if (m.cmd === 'report') {
      process.send!({ p99: loop.percentile(99) / 1e6, max: loop.max / 1e6, meanBatch: batches ? batched / batches : undefined });
    } else if (m.cmd === 'exit') {
      await close();
      process.exit(0);
    }
  });
  process.send!({ url });
}

function ask<T>(p: ChildProcess, msg: ChildMessage): Promise<T> {
  return new Promise((resolve) => {
    p.once('message', (m) => resolve(m as T));
    p.send(msg);
  });
}

async function startChild(kind: 'finetune' | 'onnxruntime', model: string, threads: number): Promise<{ proc: ChildProcess; url: string }> {
  const proc = fork(here, ['--serve-child', kind, model, String(threads)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    proc.once('message', (m) => resolve((m as { url: string }).url));
    proc.once('exit', (code) => reject(new Error(`bench serve: the ${kind} server exited with code ${code}`)));
  });
  return { proc, url };
}

// ---------------------------------------------------------------- load

async function load(url: string, connections: number, seconds: number, bodies: string[]): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/predict`,
    connections,
    duration: seconds,
    pipelining: 1,
    headers: { 'content-type': 'application/json' },
    requests: bodies.map((body) => ({ method: 'POST', path: '/predict', body })),
  });
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

export async function runServeBench(o: ServeBenchOptions = {}): Promise<LoadResult[]> {
  const threads = o.threads ?? defaultServeThreads();
  const seconds = o.seconds ?? Number(process.env.FINETUNE_BENCH_SECONDS ?? 10);
  const connections = o.connections ?? [1, 16, 128];
  const perRequest = o.textsPerRequest ?? Number(process.env.FINETUNE_BENCH_TEXTS ?? 1);
  const log = (s: string) => {
    if (!o.json) process.stdout.write(s + '\n');
  };
  const data = sst2Dir(o.dataDir);
  const tmp = mkdtempSync(join(tmpdir(), 'finetune-bench-serve-'));
  try {
    let model = o.model ?? process.env.FINETUNE_BENCH_MODEL;
    if (!model) {
      model = join(tmp, 'sst2.onnx');
      log(`training a Kim CNN-rand on ${data} (2 epochs) ...`);
      loadNative().setThreads(availableParallelism());
      const run = await trainFromFiles({ train: join(data, 'train.txt'), dev: join(data, 'dev.txt'), epochs: 2, bucket: true, seed: 1 });
      await saveModel(model, run.model);
      log(`  dev accuracy ${(run.dev!.accuracy * 100).toFixed(1)}%`);
    }
    const sentences = readFileSync(join(data, 'test.txt'), 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/^\S+\s+/, ''));
    const bodies = Array.from({ length: 256 }, (_, i) => JSON.stringify({ texts: Array.from({ length: perRequest }, (_, j) => sentences[(i * perRequest + j) % sentences.length]) }));
    log(`${seconds} s per run, ${perRequest} text(s) per request, ${threads} native/ORT thread(s), load generator in this process (same machine, ${availableParallelism()} cores)`);

    const results: LoadResult[] = [];
    for (const kind of ['finetune', 'onnxruntime'] as const) {
      const { proc, url } = await startChild(kind, model, threads);
      try {
        // Same answers from both servers.
        const probe = await fetch(`${url}/predict`, { method: 'POST', body: bodies[0] });
        if (probe.status !== 200) throw new Error(`bench serve: ${kind} answered ${probe.status}: ${await probe.text()}`);
        await load(url, 16, Math.min(2, seconds), bodies); // warm-up
        for (const c of connections) {
          await ask(proc, { cmd: 'reset' });
          const r = await load(url, c, seconds, bodies);
          const loop = await ask<{ p99: number; max: number; meanBatch?: number }>(proc, { cmd: 'report' });
          const row: LoadResult = {
            server: kind,
            connections: c,
            requestsPerSecond: r.requests.average,
            textsPerSecond: r.requests.average * perRequest,
            p50ms: r.latency.p50,
            p99ms: r.latency.p99,
            errors: r.errors + r.timeouts,
            non2xx: r.non2xx,
            loopP99ms: loop.p99,
            loopMaxMs: loop.max,
            meanBatch: loop.meanBatch,
          };
          results.push(row);
          log(`  ${kind.padEnd(12)} ${String(c).padStart(4)} conn  ${fmt(row.requestsPerSecond, 0).padStart(7)} req/s  p50 ${fmt(row.p50ms, 2)} ms  p99 ${fmt(row.p99ms, 2)} ms  loop p99 ${fmt(row.loopP99ms, 2)} ms max ${fmt(row.loopMaxMs, 1)} ms` + (row.meanBatch ? `  mean batch ${fmt(row.meanBatch, 1)}` : ''));
        }
      } finally {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.send({ cmd: 'exit' } satisfies ChildMessage);
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        proc.kill();
      }
    }

    if (o.json) {
      process.stdout.write(`${JSON.stringify({ threads, seconds, textsPerRequest: perRequest, results })}\n`);
    } else {
      const header = '| server | connections | req/s | p50 ms | p99 ms | event-loop p99 ms | event-loop max ms | errors + non-2xx |';
      const lines = [header, '|---|---:|---:|---:|---:|---:|---:|---:|'];
      for (const r of results) lines.push(`| ${r.server} | ${r.connections} | ${fmt(r.requestsPerSecond, 0)} | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} | ${fmt(r.loopP99ms, 2)} | ${fmt(r.loopMaxMs, 1)} | ${r.errors + r.non2xx} |`);
      lines.push('');
      for (const c of connections) {
        const a = results.find((r) => r.server === 'finetune' && r.connections === c)!;
        const b = results.find((r) => r.server === 'onnxruntime' && r.connections === c)!;
        lines.push(`${c} connection(s): finetune/onnxruntime req/s ${fmt(a.requestsPerSecond / b.requestsPerSecond, 2)}x, p99 latency ${fmt(a.p99ms / b.p99ms, 2)}x, event-loop p99 ${fmt(a.loopP99ms, 1)} vs ${fmt(b.loopP99ms, 1)} ms`);
      }
      process.stdout.write(`\n${lines.join('\n')}\n`);
    }
    return results;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve-child') {
  child(process.argv[3], process.argv[4], Number(process.argv[5])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
