/**
 * Data pipeline benchmark: MR (10,662 Latin-1 lines) read + tokenise + encode
 * in process CPU time (loadTrainingData: one pass for a file under 64 MB), and a generated labelled file of `bigFileMB` MB
 * streamed through read + tokenise + vocabulary count, then read + tokenise +
 * encode (ids looked up, not kept), with MB/s and peak RSS.
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/data.js [--big-mb N] [--data-dir DIR] [--json]`
 */
import { existsSync, openSync, closeSync, writeSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataReader, Rng, TokenCounter, Tokenizer, Vocabulary, loadTrainingData } from '../src/data/index.js';

export interface DataBenchOptions {
  /** Folder holding mr/rt-polarity.all; default ../shared/data next to the repository. */
  dataDir?: string;
  /** Size of the generated file in MB (default 1024; 0 skips it). */
  bigFileMB?: number;
  /** Print one JSON line after the table. */
  json?: boolean;
}

export interface DataBenchResult {
  mr: { file: string; examples: number; tokens: number; vocab: number; cpuSeconds: number; wallSeconds: number; examplesPerSecond: number; kimCpuSeconds: number; targetCpuSeconds: 0.3 } | null;
  big: {
    megabytes: number;
    lines: number;
    countMBps: number;
    countMBpsCpu: number;
    countCpuSeconds: number;
    countWallSeconds: number;
    encodeMBps: number;
    encodeMBpsCpu: number;
    encodeWallSeconds: number;
    distinctTokens: number;
    peakRssMB: number;
    targetMBps: 50;
    targetRssMB: 300;
  } | null;
  maxRssMB: number;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

function cpuSeconds(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

/** Writes a labelled file of about `mb` MB: Zipf-distributed words from a 50,000-word vocabulary. */
function generate(file: string, mb: number, seed = 1): number {
  const rng = new Rng(seed);
  const words: string[] = [];
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; i < 50_000; i++) {
    let w = '';
    let n = i + 1;
    do {
      w += letters[n % 26];
      n = Math.floor(n / 26);
    } while (n > 0);
    words.push(w + (i % 7 === 0 ? "'s" : ''));
  }
  // Zipf via inverse CDF over a cumulative table.
  const cdf = new Float64Array(words.length);
  let sum = 0;
  for (let i = 0; i < words.length; i++) cdf[i] = sum += 1 / (i + 1);
  const pick = (): string => {
    const x = rng.nextFloat() * sum;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (cdf[m] < x) lo = m + 1;
      else hi = m;
    }
    return words[lo];
  };
  // A 16 MB block of distinct lines, written repeatedly: generation stays cheap next to reading.
  const lines: string[] = [];
  let bytes = 0;
  let blockLines = 0;
  while (bytes < 16 << 20) {
    const n = 5 + rng.nextInt(40);
    const toks: string[] = [];
    for (let k = 0; k < n; k++) toks.push(pick());
    const line = `${rng.nextInt(2)} ${toks.join(' ')}\n`;
    lines.push(line);
    bytes += line.length;
    blockLines++;
  }
  const block = Buffer.from(lines.join(''), 'latin1');
  const target = mb * (1 << 20);
  const fd = openSync(file, 'w');
  let written = 0;
  let total = 0;
  try {
    while (written < target) {
      const part = target - written >= block.length ? block : block.subarray(0, block.lastIndexOf(10, target - written) + 1 || block.length);
      writeSync(fd, part);
      written += part.length;
      total += part === block ? blockLines : countLines(part);
      if (part !== block) break;
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/** Runs the benchmark, prints a table (and a JSON line with `json`), and returns the figures. */
export async function runDataBench(opts: DataBenchOptions = {}): Promise<DataBenchResult> {
  const dataDir = resolve(opts.dataDir ?? join(repoRoot(), '..', 'shared', 'data'));
  const bigMB = opts.bigFileMB ?? 1024;
  const result: DataBenchResult = { mr: null, big: null, maxRssMB: 0 };
  const rows: [string, string, string][] = [];

  const mrFile = join(dataDir, 'mr', 'rt-polarity.all');
  if (existsSync(mrFile)) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = await loadTrainingData(mrFile, { read: { encoding: 'latin1' }, tokenizer: new Tokenizer() });
    const cpu = cpuSeconds(c0);
    const wall = (performance.now() - t0) / 1000;
    const c1 = process.cpuUsage();
    await loadTrainingData(mrFile, { read: { encoding: 'latin1' }, tokenizer: new Tokenizer({ mode: 'kim' }) });
    const kimCpu = cpuSeconds(c1);
    result.mr = {
      file: mrFile,
      examples: r.dataset.size,
      tokens: r.dataset.ids.length,
      vocab: r.vocab.size,
      cpuSeconds: cpu,
      wallSeconds: wall,
      examplesPerSecond: r.dataset.size / wall,
      kimCpuSeconds: kimCpu,
      targetCpuSeconds: 0.3,
    };
    rows.push(['MR read+tokenise+encode (whitespace, one pass)', `${cpu.toFixed(3)} s CPU`, `target < 0.3 s; ${r.dataset.size} examples, ${Math.round(r.dataset.size / wall)} ex/s`]);
    rows.push(['MR read+tokenise+encode (kim rules)', `${kimCpu.toFixed(3)} s CPU`, `vocab ${r.vocab.size}, ${r.dataset.ids.length} tokens`]);
  } else rows.push(['MR', 'skipped', `${mrFile} not found (pass dataDir)`]);

  if (bigMB > 0) {
    const file = join(tmpdir(), `finetune-bench-${process.pid}.txt`);
    try {
      const lines = generate(file, bigMB);
      const size = statSync(file).size;
      const mbytes = size / (1 << 20);
      let peak = process.memoryUsage.rss();
      const tokenizer = new Tokenizer();
      // Pass 1: read + tokenise + count.
      const counter = new TokenCounter();
      let t0 = performance.now();
      const c0 = process.cpuUsage();
      const reader = new DataReader(file, { format: 'labeled' });
      // RSS is sampled every 16 chunks: a read of /proc per chunk cost ~4% of the pass.
      let chunks = 0;
      for await (const batch of reader.batches()) {
        for (let i = 0; i < batch.length; i++) counter.addText(tokenizer.normalize(batch[i].text), tokenizer.maxTokens);
        if ((++chunks & 15) === 0) peak = Math.max(peak, process.memoryUsage.rss());
      }
      peak = Math.max(peak, process.memoryUsage.rss());
      const countCpu = cpuSeconds(c0);
      const countWall = (performance.now() - t0) / 1000;
      // Pass 2: read + tokenise + encode with the vocabulary (ids summed, not kept: 1 GB of ids would not fit the RSS target).
      const vocab = Vocabulary.build(counter, { maxSize: 30_000 });
      t0 = performance.now();
      const c1 = process.cpuUsage();
      let checksum = 0;
      let buf = new Int32Array(1024);
      for await (const batch of new DataReader(file, { format: 'labeled' }).batches()) {
        for (let i = 0; i < batch.length; i++) {
          const r = vocab.encodeText(tokenizer.normalize(batch[i].text), tokenizer.maxTokens, buf, 0);
          buf = r.ids;
          for (let k = 0; k < r.length; k++) checksum += buf[k];
        }
        if ((++chunks & 15) === 0) peak = Math.max(peak, process.memoryUsage.rss());
      }
      peak = Math.max(peak, process.memoryUsage.rss());
      const encWall = (performance.now() - t0) / 1000;
      const encCpu = cpuSeconds(c1);
      if (reader.summary.examples !== lines) throw new Error(`expected ${lines} examples, read ${reader.summary.examples}`);
      result.big = {
        megabytes: Math.round(mbytes),
        lines,
        countMBps: mbytes / countWall,
        countMBpsCpu: mbytes / countCpu,
        countCpuSeconds: countCpu,
        countWallSeconds: countWall,
        encodeMBps: mbytes / encWall,
        encodeMBpsCpu: mbytes / encCpu,
        encodeWallSeconds: encWall,
        distinctTokens: counter.size,
        peakRssMB: peak / (1 << 20),
        targetMBps: 50,
        targetRssMB: 300,
      };
      rows.push([
        `${Math.round(mbytes)} MB read+tokenise+count`,
        `${(mbytes / countWall).toFixed(1)} MB/s`,
        `target >= 50; ${countWall.toFixed(1)} s wall, ${countCpu.toFixed(1)} s CPU (${(mbytes / countCpu).toFixed(1)} MB per CPU-second), ${lines} lines`,
      ]);
      rows.push([
        `${Math.round(mbytes)} MB read+tokenise+encode`,
        `${(mbytes / encWall).toFixed(1)} MB/s`,
        `${encWall.toFixed(1)} s wall, ${encCpu.toFixed(1)} s CPU (${(mbytes / encCpu).toFixed(1)} MB per CPU-second), checksum ${checksum % 1000}`,
      ]);
      rows.push(['peak RSS while streaming', `${(peak / (1 << 20)).toFixed(0)} MB`, 'target < 300 MB (sampled every 16 chunks; the max RSS below is the exact peak)']);
    } finally {
      rmSync(file, { force: true });
    }
  }
  result.maxRssMB = process.resourceUsage().maxRSS / 1024;
  rows.push(['max RSS of the process', `${result.maxRssMB.toFixed(0)} MB`, 'process.resourceUsage().maxRSS']);

  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  if (opts.json) console.log(JSON.stringify(result));
  return result;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const big = value('--big-mb');
  runDataBench({ dataDir: value('--data-dir'), bigFileMB: big === undefined ? undefined : Number(big), json: args.includes('--json') }).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
