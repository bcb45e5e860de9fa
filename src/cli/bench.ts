import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

import { packageRoot } from '../native.js';
import { helpText, parseOptions, UsageError, type OptionSpec } from './args.js';

const SPEC: OptionSpec = {
  json: { type: 'boolean', help: 'print the figures as JSON' },
  threads: { type: 'string', help: 'native threads (default: all cores; serve: as finetune serve, one fewer)', value: 'N' },
  data: { type: 'string', help: 'folder with the mr/, sst2/, trec/ data sets (default ../shared/data)', value: 'DIR' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

const SUITES: Record<string, { file: string; fn: string; about: string }> = {
  kernels: { file: 'kernels.js', fn: 'runKernelBench', about: 'each kernel in GFLOP/s or GB/s against the measured machine peak' },
  data: { file: 'data.js', fn: 'runDataBench', about: 'reading, tokenising and encoding: MR and a generated 1 GB file' },
  train: { file: 'train.js', fn: 'runTrainBench', about: 'Kim CNN-rand training speed on MR, side by side with PyTorch when installed' },
  infer: { file: 'infer.js', fn: 'runInferBench', about: 'prediction throughput at batch 1, 32, 256 against onnxruntime-node on our exported model' },
  transfer: { file: 'transfer.js', fn: 'runTransferBench', about: 'SST-2-pretrained model fine-tuned on 500 MR sentences against training from scratch' },
  accuracy: { file: 'accuracy.js', fn: 'runAccuracyBench', about: 'Kim (2014) CNN-rand accuracy on MR (10-fold), SST-2 and TREC' },
  serve: { file: 'serve.js', fn: 'runServeBench', about: 'HTTP load test (autocannon, 1/16/128 connections) of finetune serve against onnxruntime-node' },
  soak: { file: 'soak.js', fn: 'runSoakBench', about: 'RSS over 100,000 predictions and 10,000 load/dispose cycles' },
};

export async function runBench(argv: string[]): Promise<number> {
  const suite = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'kernels';
  const v = parseOptions('bench', argv[0] === suite ? argv.slice(1) : argv, SPEC);
  if (v.help) {
    process.stdout.write(helpText('bench [' + Object.keys(SUITES).join('|') + ']', Object.entries(SUITES).map(([k, s]) => `${k}: ${s.about}`).join('\n'), SPEC));
    return 0;
  }
  const s = SUITES[suite];
  if (!s) throw new UsageError(`bench: unknown suite '${suite}' (one of ${Object.keys(SUITES).join(', ')})`);
  const file = join(packageRoot(), 'dist', 'bench', s.file);
  if (!existsSync(file)) throw new UsageError(`bench ${suite}: ${file} is missing; build with \`npm run build:ts\``);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, (o: unknown) => Promise<void>>;
  await mod[s.fn]({ json: Boolean(v.json), threads: v.threads === undefined ? undefined : Number(v.threads), dataDir: v.data });
  return 0;
}
