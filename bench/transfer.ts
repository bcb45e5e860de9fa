/**
 * Transfer: Kim's CNN pretrained on SST-2 (../shared/models/sst2_conv1d, an
 * ONNX file exported by PyTorch) fine-tuned on 500 MR sentences, against the
 * same architecture trained from scratch on those 500 sentences; both tested
 * on the rest of MR (10,162 sentences). Both runs: Adam 1e-3, batches of 50,
 * dropout 0.5, 10% of the 500 as dev for early stopping (patience 3), the
 * best epoch kept. The fine-tuned model extends its vocabulary with MR's new
 * words (--extend-vocab); the scratch model starts as Kim's CNN-rand
 * (U(-0.25, 0.25) word vectors). Several seeds; the mean is reported.
 *
 * Run: `npx finetune bench transfer [--data DIR] [--json]`
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { EncodedDataset, loadTrainingData, readExamples, stratifiedSplit } from '../src/data/index.js';
import { LabelMap } from '../src/data/labels.js';
import { Tokenizer } from '../src/data/tokenizer.js';
import { Vocabulary } from '../src/data/vocab.js';
import { textCNN, type ModelGraph } from '../src/model/graph.js';
import { compileModel } from '../src/model/program.js';
import { extendEmbedding, setDropout } from '../src/model/surgery.js';
import { loadNative } from '../src/native.js';
import { importOnnxFile } from '../src/onnx/import.js';
import { evaluate, fit } from '../src/train/trainer.js';

export interface TransferBenchOptions {
  dataDir?: string;
  modelsDir?: string;
  json?: boolean;
  threads?: number;
  seeds?: number;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
}

async function trainTest(graph: ModelGraph, params: Map<string, Float32Array> | undefined, train: EncodedDataset, dev: EncodedDataset, test: EncodedDataset, labels: readonly string[], seed: number, padId: number): Promise<number> {
  const model = compileModel(graph, { maxBatch: 50, maxLength: 128, seed, params, embeddingInit: { uniform: 0.25 } });
  try {
    await fit(model, train, { labels, dev, epochs: 30, batchSize: 50, lr: 1e-3, seed, padId, earlyStopping: { patience: 3 } });
    return (await evaluate(model, test, labels, { padId })).accuracy;
  } finally {
    model.dispose();
  }
}

export async function runTransferBench(opts: TransferBenchOptions = {}): Promise<{ scratch: number; fineTuned: number; gain: number }> {
  const root = repoRoot();
  const dataDir = resolve(opts.dataDir ?? join(root, '..', 'shared', 'data'));
  const modelsDir = resolve(opts.modelsDir ?? join(dataDir, '..', 'models'));
  const mrFile = join(dataDir, 'mr', 'rt-polarity.all');
  const modelFile = join(modelsDir, 'sst2_conv1d.opset13.onnx');
  for (const f of [mrFile, modelFile]) if (!existsSync(f)) throw new Error(`bench transfer: ${f} not found; pass --data DIR (with ../models beside it)`);
  if (opts.threads !== undefined) loadNative().setThreads(opts.threads);
  const log = (s: string) => { if (!opts.json) process.stderr.write(`${s}\n`); };
  const pretrained = await importOnnxFile(modelFile, { vocab: join(modelsDir, 'sst2_conv1d.vocab.json') });
  const all = await loadTrainingData(mrFile, { read: { encoding: 'latin1' } });
  const scratch: number[] = [];
  const tuned: number[] = [];
  for (let seed = 1; seed <= (opts.seeds ?? 3); seed++) {
    // 500 sentences to learn from (450 train + 50 dev), the rest to test on.
    const [small, rest] = stratifiedSplit(all.dataset.labels, [500, all.dataset.size - 500], seed);
    const [tr, dv] = stratifiedSplit(small, [450, 50], seed).map((ix) => Int32Array.from(ix, (i) => small[i]));

    // From scratch: vocabulary from the 500 sentences only, as a user would have.
    const tokens = new Set<string>();
    const tokenizer = new Tokenizer();
    const { examples } = await readExamples(mrFile, { encoding: 'latin1' });
    for (const i of small) for (const t of tokenizer.tokenize(examples[i].text)) tokens.add(t);
    const vocab = Vocabulary.fromTokens(['<pad>', '<unk>', ...[...tokens].sort()]);
    const labels = LabelMap.fromNames(all.labels.names);
    const encode = (ix: ArrayLike<number>, v: Vocabulary, tok: Tokenizer) => {
      const ids: number[] = [], offsets = [0], ys: number[] = [];
      for (const i of Array.from(ix)) {
        const e = v.encode(tok.tokenize(examples[i].text));
        ids.push(...e);
        offsets.push(ids.length);
        ys.push(labels.indexOf(examples[i].label));
      }
      return { ids: Int32Array.from(ids), offsets: Int32Array.from(offsets), labels: Int32Array.from(ys) };
    };
    const ds = (ix: ArrayLike<number>, v: Vocabulary, tok: Tokenizer) => {
      const e = encode(ix, v, tok);
      return new EncodedDataset(e.ids, e.offsets, e.labels);
    };
    const scratchGraph = textCNN({ vocabSize: vocab.size, classes: 2 });
    const a = await trainTest(scratchGraph, undefined, ds(tr, vocab, tokenizer), ds(dv, vocab, tokenizer), ds(rest, vocab, tokenizer), labels.names, seed, vocab.padId);
    scratch.push(a);

    // Fine-tuned: the SST-2 model's vocabulary extended with the 500 sentences' new words.
    const tvocab = Vocabulary.fromTokens(pretrained.vocab.toArray(), { pad: pretrained.vocab.pad, unk: pretrained.vocab.unk });
    const ptok = new Tokenizer(pretrained.tokenizer);
    tvocab.extend([...tokens].sort().filter((t) => !tvocab.has(t)));
    let parts = extendEmbedding(pretrained.graph, pretrained.params, tvocab.size, seed);
    parts = setDropout(parts.graph, parts.params, 0.5);
    const b = await trainTest(parts.graph, parts.params, ds(tr, tvocab, ptok), ds(dv, tvocab, ptok), ds(rest, tvocab, ptok), labels.names, seed, tvocab.padId);
    tuned.push(b);
    log(`seed ${seed}: from scratch ${(a * 100).toFixed(2)}%, fine-tuned from SST-2 ${(b * 100).toFixed(2)}% (on ${rest.length} MR sentences)`);
  }
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const result = { scratch: mean(scratch), fineTuned: mean(tuned), gain: (mean(tuned) - mean(scratch)) * 100 };
  if (opts.json) process.stdout.write(`${JSON.stringify({ bench: 'transfer', ...result, seeds: scratch.length })}\n`);
  else process.stdout.write(`MR, 500 training sentences, tested on the rest: from scratch ${(result.scratch * 100).toFixed(2)}%, fine-tuned from SST-2 ${(result.fineTuned * 100).toFixed(2)}%: +${result.gain.toFixed(2)} points (mean of ${scratch.length} seeds; target +5)\n`);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const value = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  runTransferBench({ json: args.includes('--json'), dataDir: value('--data'), threads: value('--threads') ? Number(value('--threads')) : undefined, seeds: value('--seeds') ? Number(value('--seeds')) : undefined }).catch((e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
