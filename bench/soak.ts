/**
 * Long runs that must keep resident memory flat:
 *  - 100,000 predictions through one Classifier (concurrent calls of 1 to 64
 *    texts, so micro-batches of every size), RSS sampled every 10,000;
 *  - 10,000 Classifier.load / predict / dispose cycles of the same model
 *    file, RSS sampled every 1,000.
 * The model is a small TextCNN (vocabulary capped at 2,000 tokens, embedding
 * 32, widths 3,4,5 x 16) trained for one epoch on SST-2: small, so that the
 * cycles measure allocation and release rather than initialisation time. "Growth" compares the last sample with the first one
 * taken after a warm-up tenth of the run.
 *
 * Run: `npx finetune bench soak [--data DIR] [--json]`
 * Environment: FINETUNE_SOAK_PREDICTIONS (default 100000), FINETUNE_SOAK_CYCLES (default 10000).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Classifier } from '../src/classifier.js';
import { loadNative } from '../src/native.js';
import { saveModel } from '../src/onnx/model-file.js';
import { trainFromFiles } from '../src/train/run.js';

export interface SoakBenchOptions {
  dataDir?: string;
  json?: boolean;
  threads?: number;
  predictions?: number;
  cycles?: number;
}

interface Series {
  what: string;
  samples: Array<{ at: number; rssMB: number; heapMB: number; externalMB: number }>;
  seconds: number;
  growthMB: number;
}

const here = fileURLToPath(import.meta.url);

function sst2Dir(dataDir?: string): string {
  let root = dirname(here);
  for (let i = 0; i < 5 && !existsSync(join(root, 'package.json')); i++) root = dirname(root);
  const candidates = [dataDir && join(resolve(dataDir), 'sst2'), join(root, '..', 'shared', 'data', 'sst2'), join(root, 'data', 'sst2')].filter(Boolean) as string[];
  const found = candidates.find((d) => existsSync(join(d, 'train.txt')));
  if (!found) throw new Error(`bench soak: no SST-2 data (looked in ${candidates.join(', ')})`);
  return found;
}

function sample(at: number) {
  const m = process.memoryUsage();
  return { at, rssMB: m.rss / 2 ** 20, heapMB: m.heapUsed / 2 ** 20, externalMB: m.external / 2 ** 20 };
}

function growth(s: Series['samples']): number {
  const base = s[Math.min(1, s.length - 1)];
  return s[s.length - 1].rssMB - base.rssMB;
}

export async function runSoakBench(o: SoakBenchOptions = {}): Promise<Series[]> {
  const total = o.predictions ?? Number(process.env.FINETUNE_SOAK_PREDICTIONS ?? 100_000);
  const cycles = o.cycles ?? Number(process.env.FINETUNE_SOAK_CYCLES ?? 10_000);
  if (o.threads) loadNative().setThreads(o.threads);
  const log = (s: string) => {
    if (!o.json) process.stdout.write(s + '\n');
  };
  const data = sst2Dir(o.dataDir);
  const tmp = mkdtempSync(join(tmpdir(), 'finetune-soak-'));
  try {
    const model = join(tmp, 'small.onnx');
    const run = await trainFromFiles({ train: join(data, 'train.txt'), epochs: 1, bucket: true, architecture: { embedDim: 32, maps: 16 }, vocab: { maxSize: 2000 }, seed: 1 });
    await saveModel(model, run.model);
    const texts = readFileSync(join(data, 'test.txt'), 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/^\S+\s+/, ''));
    const out: Series[] = [];

    // 1. predictions
    {
      const clf = await Classifier.load(model, { maxBatch: 64, maxWaitMs: 0 });
      const samples: Series['samples'] = [sample(0)];
      const every = Math.max(1, Math.floor(total / 10));
      const started = performance.now();
      let done = 0;
      let next = every;
      let cursor = 0;
      while (done < total) {
        const calls: Promise<unknown>[] = [];
        for (let c = 0; c < 16 && done < total; c++) {
          const n = Math.min(1 + ((cursor * 13) % 64), total - done);
          const batch = Array.from({ length: n }, (_, j) => texts[(cursor + j) % texts.length]);
          cursor += n;
          done += n;
          calls.push(clf.predict(batch));
        }
        await Promise.all(calls);
        if (done >= next) {
          samples.push(sample(done));
          next += every;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      clf.dispose();
      out.push({ what: `${total.toLocaleString('en')} predictions`, samples, seconds, growthMB: growth(samples) });
      log(`predictions: ${total} in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s); RSS MB ${samples.map((s) => s.rssMB.toFixed(0)).join(' ')}`);
    }

    // 2. load / dispose cycles
    {
      const samples: Series['samples'] = [sample(0)];
      const every = Math.max(1, Math.floor(cycles / 10));
      const started = performance.now();
      for (let i = 1; i <= cycles; i++) {
        const clf = await Classifier.load(model, { maxBatch: 8 });
        await clf.predict([texts[i % texts.length]]);
        clf.dispose();
        if (i % every === 0) {
          samples.push(sample(i));
          if (!o.json) process.stdout.write(`  ${i} cycles, RSS ${samples[samples.length - 1].rssMB.toFixed(1)} MB\n`);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      out.push({ what: `${cycles.toLocaleString('en')} load/predict/dispose cycles`, samples, seconds, growthMB: growth(samples) });
      log(`load/dispose: ${cycles} cycles in ${seconds.toFixed(1)} s (${(1000 * seconds / cycles).toFixed(2)} ms each); RSS MB ${samples.map((s) => s.rssMB.toFixed(0)).join(' ')}`);
    }

    if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else for (const s of out) log(`${s.what}: RSS ${s.samples[1]?.rssMB.toFixed(1)} MB after warm-up -> ${s.samples[s.samples.length - 1].rssMB.toFixed(1)} MB at the end (growth ${s.growthMB.toFixed(1)} MB)`);
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
