/**
 * Training speed of the Kim (2014) CNN-rand setup on MR (batch 50, Adam 1e-3,
 * dropout 0.5, embedding 300, widths 3,4,5 x 100): one epoch in examples per
 * second, and — when Debian's PyTorch is installed (/usr/bin/python3 with
 * torch) — the same model, batches (order and padding) and hyperparameters in
 * PyTorch at the same thread count, as installed and with its allocator tuned
 * (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_), alternated in one run. Each
 * side runs in its own child process so peak RSS is its own.
 *
 * Run: `npx finetune bench train [--threads N] [--json]`
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DataLoader, loadTrainingData } from '../src/data/index.js';
import { textCNN } from '../src/model/graph.js';
import { compileModel } from '../src/model/program.js';
import { loadNative } from '../src/native.js';

export interface TrainBenchOptions {
  dataDir?: string;
  json?: boolean;
  threads?: number;
  /** Rounds of alternation (default 2). */
  rounds?: number;
}

interface SideResult {
  seconds: number;
  examples: number;
  examplesPerSecond: number;
  maxRssMB: number;
}

const here = fileURLToPath(import.meta.url);

function repoRoot(): string {
  let dir = dirname(here);
  for (let i = 0; i < 5 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
}

/** Child: train one epoch over the batch file with our model. */
async function childOurs(file: string, threads: number, vocab: number, classes: number): Promise<void> {
  loadNative().setThreads(threads);
  const raw = new Int32Array(new Uint8Array(readFileSync(file)).buffer);
  const batches: { ids: Int32Array; labels: Int32Array; lengths: Int32Array; batch: number; length: number }[] = [];
  for (let at = 0; at < raw.length; ) {
    const b = raw[at], l = raw[at + 1];
    at += 2;
    const ids = raw.slice(at, at + b * l);
    at += b * l;
    const labels = raw.slice(at, at + b);
    at += b;
    const lengths = raw.slice(at, at + b);
    at += b;
    batches.push({ ids, labels, lengths, batch: b, length: l });
  }
  const maxLength = Math.max(...batches.map((b) => b.length));
  const model = compileModel(textCNN({ vocabSize: vocab, classes }), { maxBatch: 50, maxLength, seed: 1 });
  for (const b of batches.slice(0, 3)) await model.trainStep(b, { lr: 1e-3 });
  const start = performance.now();
  let n = 0;
  for (const b of batches) {
    await model.trainStep(b, { lr: 1e-3 });
    n += b.batch;
  }
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(`${JSON.stringify({ seconds, examples: n, examplesPerSecond: n / seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): SideResult {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench train: ${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as SideResult;
}

export async function runTrainBench(opts: TrainBenchOptions = {}): Promise<void> {
  const dataDir = resolve(opts.dataDir ?? join(repoRoot(), '..', 'shared', 'data'));
  const mrFile = join(dataDir, 'mr', 'rt-polarity.all');
  if (!existsSync(mrFile)) throw new Error(`bench train: ${mrFile} not found; pass --data DIR`);
  const threads = opts.threads ?? loadNative().getThreads();
  const mr = await loadTrainingData(mrFile, { read: { encoding: 'latin1' } });
  const loader = new DataLoader(mr.dataset, { batchSize: 50, seed: 1, minLength: 5, maxLength: 128, padId: mr.vocab.padId });
  const parts: number[] = [];
  for (const b of loader) parts.push(b.batch, b.length, ...b.ids, ...b.labels, ...b.lengths);
  const dir = mkdtempSync(join(tmpdir(), 'finetune-bench-train-'));
  const file = join(dir, 'batches.bin');
  writeFileSync(file, new Uint8Array(Int32Array.from(parts).buffer));
  // The PyTorch file format has no lengths: write a second file without them.
  const torchParts: number[] = [];
  for (let at = 0; at < parts.length; ) {
    const b = parts[at], l = parts[at + 1];
    torchParts.push(...parts.slice(at, at + 2 + b * l + b));
    at += 2 + b * l + 2 * b;
  }
  const torchFile = join(dir, 'batches-torch.bin');
  writeFileSync(torchFile, new Uint8Array(Int32Array.from(torchParts).buffer));
  const vocab = String(mr.vocab.size), classes = String(mr.labels.size);
  const hasTorch = existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  const torchScript = join(repoRoot(), 'bench', 'torch_train.py');
  const base: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads) };
  delete base.MALLOC_MMAP_THRESHOLD_;
  delete base.MALLOC_TRIM_THRESHOLD_;
  const tuned = { ...base, MALLOC_MMAP_THRESHOLD_: '33554432', MALLOC_TRIM_THRESHOLD_: '4294967296' };
  const results: Record<string, SideResult[]> = { ours: [], torchTuned: [], torchInstalled: [] };
  const log = (s: string) => { if (!opts.json) process.stderr.write(`${s}\n`); };
  try {
    for (let round = 0; round < (opts.rounds ?? 2); round++) {
      results.ours.push(runChild(process.execPath, [here, '--child', file, String(threads), vocab, classes], base));
      log(`round ${round + 1}: finetune ${results.ours[round].examplesPerSecond.toFixed(0)} ex/s`);
      if (hasTorch) {
        results.torchTuned.push(runChild('/usr/bin/python3', [torchScript, torchFile, String(threads), vocab, classes], tuned));
        results.torchInstalled.push(runChild('/usr/bin/python3', [torchScript, torchFile, String(threads), vocab, classes], base));
        log(`round ${round + 1}: PyTorch tuned ${results.torchTuned[round].examplesPerSecond.toFixed(0)} ex/s, as installed ${results.torchInstalled[round].examplesPerSecond.toFixed(0)} ex/s`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const best = (r: SideResult[]) => (r.length ? r.reduce((a, b) => (b.examplesPerSecond > a.examplesPerSecond ? b : a)) : null);
  const ours = best(results.ours)!, tunedBest = best(results.torchTuned), installedBest = best(results.torchInstalled);
  const summary = {
    bench: 'train',
    threads,
    examples: ours.examples,
    finetune: ours,
    pytorchTuned: tunedBest,
    pytorchInstalled: installedBest,
    ratioVsTuned: tunedBest ? ours.examplesPerSecond / tunedBest.examplesPerSecond : null,
    ratioVsInstalled: installedBest ? ours.examplesPerSecond / installedBest.examplesPerSecond : null,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const row = (name: string, r: SideResult | null, ratio: string) =>
    r ? `${name.padEnd(26)} ${r.examplesPerSecond.toFixed(0).padStart(8)} ${r.seconds.toFixed(2).padStart(9)} ${r.maxRssMB.toFixed(0).padStart(9)}  ${ratio}\n` : `${name.padEnd(26)} (PyTorch not installed: apt-get install python3-torch)\n`;
  process.stdout.write(`MR epoch, Kim CNN-rand, batch 50, Adam, ${threads} thread(s), best of ${opts.rounds ?? 2}\n`);
  process.stdout.write(`${'side'.padEnd(26)} ${'ex/s'.padStart(8)} ${'s/epoch'.padStart(9)} ${'peak MB'.padStart(9)}  finetune / side\n`);
  process.stdout.write(row('finetune', ours, ''));
  process.stdout.write(row('PyTorch, allocator tuned', tunedBest, summary.ratioVsTuned ? `${summary.ratioVsTuned.toFixed(2)}x` : ''));
  process.stdout.write(row('PyTorch, as installed', installedBest, summary.ratioVsInstalled ? `${summary.ratioVsInstalled.toFixed(2)}x` : ''));
}

if (process.argv[1] && here === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    childOurs(args[1], Number(args[2]), Number(args[3]), Number(args[4])).catch((e) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    });
  } else {
    const value = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
    runTrainBench({ json: args.includes('--json'), threads: value('--threads') ? Number(value('--threads')) : undefined, dataDir: value('--data') }).catch((e) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    });
  }
}
