/**
 * Kernel benchmark: each CPU kernel at the Kim (2014) sizes (batch 50, length
 * 50, dimension 300, widths 3,4,5 x 100 maps) and at a larger size, in
 * GFLOP/s or GB/s and as a fraction of this machine's peak measured in the
 * same run (an FMA-bound loop for FLOP/s, a large in-place stream for bandwidth; both
 * count at the same thread count), at 1 and 2 threads; then one full Kim
 * CNN-rand training step (batch 50, 44 padded tokens, vocab 14,830, dense
 * Adam) through the compiled program, on the fast path and on the scalar
 * references (the "before").
 *
 * Bandwidth counts bytes read plus bytes written, for the reference and Adam
 * alike (Adam reads param, grad, m, v and writes param, m, v: 28 bytes a
 * parameter). The reference is dst += src over 2 x 256 MB (12 bytes an
 * element): in place like Adam. A plain copy is not a fair reference: each
 * destination line is read before it is written (write-allocate), traffic a
 * read+write count misses, so a copy "measured" a third below what Adam moved.
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/kernels.js [--json] [--threads N]`
 */
import { fileURLToPath } from 'node:url';

import { kernels, loadNative, type KernelPath } from '../src/native.js';
import { textCNN } from '../src/model/graph.js';
import { compileModel } from '../src/model/program.js';

export interface KernelBenchOptions {
  /** Print one JSON line after the table. */
  json?: boolean;
  /** Measure at this thread count only (default: 1 and 2, or 1 and the pool's size). */
  threads?: number;
  /** Kernel path to measure (default: the one chosen at load). */
  path?: KernelPath;
  /** Also time a training step on the scalar references (default true). */
  scalarStep?: boolean;
}

export interface KernelFigure {
  name: string;
  size: string;
  threads: number;
  ms: number;
  gflops?: number;
  gbps?: number;
  /** Of the peak measured in this run at this thread count. */
  fractionOfPeak: number;
}

export interface StepFigure {
  path: KernelPath;
  threads: number;
  msPerStep: number;
  examplesPerSecond: number;
}

export interface KernelBenchResult {
  path: KernelPath;
  peaks: Array<{ threads: number; gflops: number; copyGBps: number }>;
  kernels: KernelFigure[];
  steps: StepFigure[];
}

function rand(n: number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = ((s >>> 8) / 16777216 - 0.5) * 2 * scale;
  }
  return x;
}

/** Median milliseconds of f over enough repeats to fill ~minMs (after a warm-up). */
function time(f: () => void, minMs = 150): number {
  f();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 5 || (performance.now() - start < minMs && samples.length < 200)) {
    const t0 = performance.now();
    f();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function timeAsync(f: () => Promise<unknown>, reps: number): Promise<number> {
  await f();
  await f();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await f();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

interface ConvSize {
  label: string;
  batch: number;
  length: number;
  dim: number;
  widths: number[];
  maps: number;
}

const KIM: ConvSize = { label: 'kim', batch: 50, length: 50, dim: 300, widths: [3, 4, 5], maps: 100 };
const LARGE: ConvSize = { label: 'large', batch: 64, length: 100, dim: 512, widths: [3, 4, 5], maps: 256 };

function convFigures(size: ConvSize, threads: number, peak: number): KernelFigure[] {
  const k = kernels();
  const out: KernelFigure[] = [];
  const { batch: B, length: L, dim: C, maps: M } = size;
  const x = rand(B * L * C);
  const totals = { forward: 0, backwardInput: 0, backwardWeight: 0 };
  let flops = 0;
  for (const K of size.widths) {
    const s = { batch: B, length: L, inChannels: C, outChannels: M, width: K };
    const T = L - K + 1;
    const w = rand(M * K * C, 0.05), b = rand(M), dy = rand(B * T * M);
    const y = new Float32Array(B * T * M), dx = new Float32Array(B * L * C), dw = new Float32Array(M * K * C);
    flops += 2 * B * T * M * K * C;
    totals.forward += time(() => k.conv1dForward({ ...s, x, weight: w, bias: b, y }));
    totals.backwardInput += time(() => k.conv1dBackwardInput({ ...s, dy, weight: w, dx }));
    totals.backwardWeight += time(() => k.conv1dBackwardWeight({ ...s, x, dy, dWeight: dw }));
  }
  const sizeText = `${size.label}: ${B}x${L}x${C}, widths ${size.widths.join(',')} x ${M}`;
  for (const [name, ms] of Object.entries(totals)) {
    const gflops = flops / ms / 1e6;
    out.push({ name: `conv1d ${name}`, size: sizeText, threads, ms, gflops, fractionOfPeak: gflops / peak });
  }
  return out;
}

function linearFigures(rows: number, inF: number, outF: number, threads: number, peak: number): KernelFigure[] {
  const k = kernels();
  const shape = { rows, inFeatures: inF, outFeatures: outF };
  const x = rand(rows * inF), w = rand(outF * inF, 0.05), b = rand(outF), dy = rand(rows * outF);
  const y = new Float32Array(rows * outF), dx = new Float32Array(rows * inF), dw = new Float32Array(outF * inF);
  const ms =
    time(() => k.linearForward({ ...shape, x, weight: w, bias: b, y })) +
    time(() => k.linearBackwardInput({ ...shape, dy, weight: w, dx })) +
    time(() => k.linearBackwardWeight({ ...shape, x, dy, dWeight: dw }));
  const gflops = (3 * 2 * rows * inF * outF) / ms / 1e6;
  return [{ name: 'linear fwd+bwd', size: `${rows}x${inF} -> ${outF}`, threads, ms, gflops, fractionOfPeak: gflops / peak }];
}

function embeddingFigure(n: number, vocab: number, dim: number, threads: number, copy: number): KernelFigure {
  const k = kernels();
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = (i * 7919) % vocab;
  const gradOut = rand(n * dim), gradWeight = new Float32Array(vocab * dim);
  const ms = time(() => k.embeddingBackward({ ids, gradOut, gradWeight, vocab, dim, paddingIdx: 0 }));
  const gbps = (n * dim * 4 * 3) / ms / 1e6; // read gradOut + read and write the row
  return { name: 'embedding backward', size: `${n} ids x ${dim}, vocab ${vocab}`, threads, ms, gbps, fractionOfPeak: gbps / copy };
}

function adamFigure(n: number, threads: number, copy: number): KernelFigure {
  const k = kernels();
  const param = rand(n), grad = rand(n), m = new Float32Array(n), v = new Float32Array(n);
  let step = 1;
  const ms = time(() => k.adamUpdate({ param, grad, m, v, lr: 1e-3, step: step++ }), 300);
  const gbps = (n * 28) / ms / 1e6;
  return { name: 'adam (dense)', size: `${(n / 1e6).toFixed(2)}M params`, threads, ms, gbps, fractionOfPeak: gbps / copy };
}

async function stepFigure(path: KernelPath, threads: number): Promise<StepFigure> {
  const addon = loadNative();
  addon.setKernelPath(path);
  addon.setThreads(threads);
  const vocab = 14830, B = 50, L = 44;
  const graph = textCNN({ vocabSize: vocab, classes: 2, embedDim: 300, widths: [3, 4, 5], maps: 100, dropout: 0.5 });
  const model = compileModel(graph, { maxBatch: B, maxLength: 64, seed: 1, padding: 'batch' });
  const ids = new Int32Array(B * L);
  const lengths = new Int32Array(B);
  let s = 7;
  for (let r = 0; r < B; r++) {
    lengths[r] = 8 + (r * 13) % (L - 8);
    for (let t = 0; t < lengths[r]; t++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      ids[r * L + t] = 1 + (s >>> 8) % (vocab - 1);
    }
  }
  const labels = Int32Array.from({ length: B }, (_, r) => r % 2);
  const batch = { ids, lengths, labels, batch: B, length: L };
  const ms = await timeAsync(() => model.trainStep(batch, { optimizer: 'adam', lr: 1e-3 }), path === 'scalar' ? 3 : 20);
  model.dispose();
  return { path, threads, msPerStep: ms, examplesPerSecond: (B * 1000) / ms };
}

export async function runKernelBench(opts: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const addon = loadNative();
  const startPath = addon.getKernelPath();
  const startThreads = addon.getThreads();
  const path = opts.path ?? (addon.features.kernels as KernelPath);
  const threadList = opts.threads ? [opts.threads] : [1, Math.max(2, startThreads)];
  const result: KernelBenchResult = { path, peaks: [], kernels: [], steps: [] };
  try {
    for (const threads of threadList) {
      addon.setKernelPath(path);
      addon.setThreads(threads);
      const gflops = addon.measurePeak({ seconds: 0.3 }).gflops;
      const copyGBps = addon.measureBandwidth({ megabytes: 256, repeats: 5 }).gbps;
      result.peaks.push({ threads, gflops, copyGBps });
      for (const size of [KIM, LARGE]) result.kernels.push(...convFigures(size, threads, gflops));
      result.kernels.push(...linearFigures(50, 300, 2, threads, gflops));
      result.kernels.push(...linearFigures(256, 1024, 1024, threads, gflops));
      result.kernels.push(embeddingFigure(50 * 50, 14830, 300, threads, copyGBps));
      result.kernels.push(adamFigure(14830 * 300, threads, copyGBps));
      result.kernels.push(adamFigure(50_000 * 300, threads, copyGBps));
      result.steps.push(await stepFigure(path, threads));
    }
    if (opts.scalarStep !== false) result.steps.push(await stepFigure('scalar', threadList[0]));
  } finally {
    addon.setKernelPath(startPath);
    addon.setThreads(startThreads);
  }

  const pct = (f: number) => `${(100 * f).toFixed(0)}%`;
  console.log(`kernel path ${path}`);
  for (const p of result.peaks) {
    console.log(`peak at ${p.threads} thread(s): ${p.gflops.toFixed(1)} GFLOP/s FMA, ${p.copyGBps.toFixed(1)} GB/s in-place stream dst += src (read+write)`);
  }
  for (const f of result.kernels) {
    const rate = f.gflops !== undefined ? `${f.gflops.toFixed(1)} GFLOP/s` : `${f.gbps!.toFixed(1)} GB/s`;
    console.log(`${f.name.padEnd(24)} ${f.size.padEnd(42)} t=${f.threads}  ${f.ms.toFixed(3).padStart(8)} ms  ${rate.padStart(14)}  ${pct(f.fractionOfPeak).padStart(4)} of peak`);
  }
  for (const s of result.steps) {
    console.log(`Kim CNN-rand train step (${s.path}, ${s.threads} thread(s)): ${s.msPerStep.toFixed(2)} ms, ${s.examplesPerSecond.toFixed(0)} examples/s`);
  }
  if (opts.json) console.log(JSON.stringify(result));
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--threads');
  const pathAt = args.indexOf('--path');
  await runKernelBench({
    json: args.includes('--json'),
    threads: at >= 0 ? Number(args[at + 1]) : undefined,
    path: pathAt >= 0 ? (args[pathAt + 1] as KernelPath) : undefined,
    scalarStep: !args.includes('--no-scalar'),
  });
}
