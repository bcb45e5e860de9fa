/**
 * Prediction throughput of the Kim (2014) CNN-rand model (vocabulary of MR,
 * embedding 300, widths 3,4,5 x 100) at batch 1, 32 and 256 on MR
 * sentences: this package's compiled model against onnxruntime-node running
 * the ONNX file this package exports, at the same thread count, alternated
 * in one run. Both sides get the same padded id batches.
 *
 * Run: `npx finetune bench infer [--threads N] [--json]`
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DataLoader, loadTrainingData, type Batch } from '../src/data/index.js';
import { textCNN } from '../src/model/graph.js';
import { compileModel } from '../src/model/program.js';
import { loadNative } from '../src/native.js';
import { saveModel } from '../src/onnx/model-file.js';

export interface InferBenchOptions {
  dataDir?: string;
  json?: boolean;
  threads?: number;
  /** Seconds per measurement (default 3). */
  seconds?: number;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
}

async function timeLoop(seconds: number, fn: (i: number) => Promise<number>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn(i); // warm-up
  const start = performance.now();
  let n = 0;
  for (let i = 0; performance.now() - start < seconds * 1000; i++) n += await fn(i);
  return n / ((performance.now() - start) / 1000);
}

export async function runInferBench(opts: InferBenchOptions = {}): Promise<void> {
  const dataDir = resolve(opts.dataDir ?? join(repoRoot(), '..', 'shared', 'data'));
  const mrFile = join(dataDir, 'mr', 'rt-polarity.all');
  if (!existsSync(mrFile)) throw new Error(`bench infer: ${mrFile} not found; pass --data DIR`);
  let ort: typeof import('onnxruntime-node') | null = null;
  try {
    ort = await import('onnxruntime-node');
  } catch {
    ort = null;
  }
  const addon = loadNative();
  const threads = opts.threads ?? addon.getThreads();
  addon.setThreads(threads);
  const seconds = opts.seconds ?? 3;
  const mr = await loadTrainingData(mrFile, { read: { encoding: 'latin1' } });
  const graph = textCNN({ vocabSize: mr.vocab.size, classes: 2 });
  const model = compileModel(graph, { maxBatch: 256, maxLength: 128, seed: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'finetune-bench-infer-'));
  const onnxFile = join(dir, 'kim.onnx');
  await saveModel(onnxFile, { graph, params: model.params(), vocab: mr.vocab, tokenizer: { mode: 'whitespace', lowercase: true, maxTokens: 0 }, labels: mr.labels.names as string[] });
  const session = ort ? await ort.InferenceSession.create(onnxFile, { intraOpNumThreads: threads, interOpNumThreads: 1 }) : null;
  const rows: { batch: number; finetune: number; onnxruntime: number | null; ratio: number | null; meanLength: number }[] = [];
  try {
    for (const batchSize of [1, 32, 256]) {
      const loader = new DataLoader(mr.dataset, { batchSize, seed: 2, minLength: 5, maxLength: 128, padId: mr.vocab.padId });
      const batches: Batch[] = [];
      for (const b of loader) {
        batches.push(b);
        if (batches.length >= 64) break;
      }
      const int64 = batches.map((b) => BigInt64Array.from(b.ids, (v) => BigInt(v)));
      const ours = await timeLoop(seconds, async (i) => {
        const b = batches[i % batches.length];
        await model.predict(b);
        return b.batch;
      });
      let theirs: number | null = null;
      if (session && ort) {
        const o = ort;
        theirs = await timeLoop(seconds, async (i) => {
          const b = batches[i % batches.length];
          await session.run({ input_ids: new o.Tensor('int64', int64[i % batches.length], [b.batch, b.length]) });
          return b.batch;
        });
      }
      rows.push({ batch: batchSize, finetune: ours, onnxruntime: theirs, ratio: theirs ? ours / theirs : null, meanLength: batches.reduce((s, b) => s + b.length, 0) / batches.length });
    }
  } finally {
    await session?.release();
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ bench: 'infer', threads, rows })}\n`);
    return;
  }
  process.stdout.write(`Prediction, Kim CNN-rand on MR sentences, ${threads} thread(s), sentences/s\n`);
  process.stdout.write(`${'batch'.padStart(5)} ${'padded len'.padStart(10)} ${'finetune'.padStart(9)} ${'onnxruntime'.padStart(12)}  ratio\n`);
  for (const r of rows) {
    process.stdout.write(`${String(r.batch).padStart(5)} ${r.meanLength.toFixed(1).padStart(10)} ${r.finetune.toFixed(0).padStart(9)} ${(r.onnxruntime?.toFixed(0) ?? 'n/a').padStart(12)}  ${r.ratio ? `${r.ratio.toFixed(2)}x` : '(onnxruntime-node not installed)'}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const value = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  runInferBench({ json: args.includes('--json'), threads: value('--threads') ? Number(value('--threads')) : undefined, dataDir: value('--data'), seconds: value('--seconds') ? Number(value('--seconds')) : undefined }).catch((e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
