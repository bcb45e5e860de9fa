import { MAX_CONV_PADDING, type TextCNNOptions } from '../model/graph.js';
import { parseEmbeddingInit, type EmbeddingInit } from '../model/init.js';
import { importOnnxFile } from '../onnx/import.js';
import { saveModel } from '../onnx/model-file.js';
import type { ActivationName } from '../native.js';
import { Activation } from '../native.js';
import { formatMetrics } from '../train/metrics.js';
import { trainFromFiles, type TrainRunOptions } from '../train/run.js';
import type { ScheduleSpec } from '../train/schedule.js';
import { choiceOption, helpText, intOption, listOption, numberOption, parseOptions, UsageError, type OptionSpec } from './args.js';
import { printJson, READ_OPTIONS, readOptions, requireString } from './common.js';
import { createProgress } from './progress.js';
import { applyThreads, threadOption } from './threads.js';

const SPEC: OptionSpec = {
  train: { type: 'string', help: 'training data (required)', value: 'FILE' },
  dev: { type: 'string', help: 'development data: evaluated after every epoch (early stopping, plateau schedule)', value: 'FILE' },
  test: { type: 'string', help: 'test data: evaluated once at the end', value: 'FILE' },
  ...READ_OPTIONS,
  init: { type: 'string', help: 'start from this model (saved by finetune, or exported elsewhere with --vocab) instead of random weights', value: 'MODEL.onnx' },
  vocab: { type: 'string', help: "with --init of a model exported elsewhere: its vocabulary (JSON token -> id, or one token a line)", value: 'FILE' },
  sha256: { type: 'string', help: 'refuse --init unless the file has this SHA-256', value: 'HEX' },
  'new-head': { type: 'boolean', help: "with --init: a new classifier for the training data's labels (with --hidden: a deeper one)" },
  'extend-vocab': { type: 'boolean', help: "with --init: add the training data's new words to the vocabulary (new embedding rows)" },
  'lr-embedding': { type: 'string', help: 'learning rate of the embedding (default: --lr)', value: 'X' },
  'lr-conv': { type: 'string', help: 'learning rate of the convolutions (default: --lr)', value: 'X' },
  'lr-head': { type: 'string', help: 'learning rate of the linear layers, classifier included (default: --lr)', value: 'X' },
  'unfreeze-after': { type: 'string', help: 'layers given to --freeze start learning after N epochs', value: 'N' },
  tokenizer: { type: 'string', default: 'whitespace', help: 'whitespace (lower-cased) or kim (Kim 2014 clean_str)', value: 'MODE' },
  'min-count': { type: 'string', default: '1', help: 'keep tokens seen at least this often', value: 'N' },
  'max-vocab': { type: 'string', help: 'keep at most this many tokens', value: 'N' },
  epochs: { type: 'string', default: '10', help: 'passes over the training data', value: 'N' },
  'batch-size': { type: 'string', default: '50', help: 'examples per step', value: 'N' },
  lr: { type: 'string', help: 'learning rate (default: 0.001; 1 with adadelta)', value: 'X' },
  optimizer: { type: 'string', default: 'adam', help: 'adam, adamw, sgd or adadelta (Kim 2014: adadelta, --rho 0.95, --max-norm 3)', value: 'NAME' },
  rho: { type: 'string', default: '0.9', help: "adadelta's decay of its running averages", value: 'X' },
  'weight-decay': { type: 'string', default: '0', help: 'L2 (adam, sgd) or decoupled (adamw) weight decay', value: 'X' },
  momentum: { type: 'string', default: '0', help: 'SGD momentum', value: 'X' },
  clip: { type: 'string', help: 'clip the global gradient norm to this', value: 'X' },
  'max-norm': { type: 'string', help: "rescale each linear layer's weight rows to at most this L2 norm after every step (Kim 2014: 3)", value: 'X' },
  'sparse-embedding': { type: 'boolean', help: 'lazy embedding updates (SparseAdam: only rows in the batch change); faster on large vocabularies, needs --optimizer adam' },
  schedule: { type: 'string', default: 'constant', help: 'constant, cosine, linear, step:N[:gamma] (every N steps) or plateau', value: 'NAME' },
  warmup: { type: 'string', default: '0', help: 'linear warm-up steps', value: 'N' },
  'early-stopping': { type: 'string', help: 'stop after N epochs without dev improvement and keep the best weights (needs --dev)', value: 'N' },
  seed: { type: 'string', default: '0', help: 'seed for initialisation, shuffling and dropout', value: 'N' },
  'embed-dim': { type: 'string', default: '300', help: 'embedding dimension', value: 'N' },
  'embed-init': { type: 'string', default: 'normal', help: "embedding start: normal (PyTorch's N(0,1)) or uniform:A (Kim 2014 used uniform:0.25)", value: 'INIT' },
  widths: { type: 'string', default: '3,4,5', help: 'convolution filter widths', value: 'N,...' },
  maps: { type: 'string', default: '100', help: 'feature maps per width', value: 'N' },
  activation: { type: 'string', default: 'relu', help: `activation: ${Object.keys(Activation).join(', ')}`, value: 'NAME' },
  dropout: { type: 'string', default: '0.5', help: 'dropout before each linear layer', value: 'P' },
  hidden: { type: 'string', help: 'hidden linear layers before the classifier, e.g. 128,64', value: 'N,...' },
  pool: { type: 'string', default: 'max', help: 'max or mean over time', value: 'NAME' },
  'conv-padding': { type: 'string', default: 'valid', help: "zeros around each text before the convolutions: valid (none), same, kim (the widest filter's width-1 on each side, Kim 2014) or a number", value: 'MODE' },
  'max-length': { type: 'string', default: '256', help: 'longest text in tokens (longer ones are cut)', value: 'N' },
  bucket: { type: 'boolean', help: 'batch texts of similar length together (less padding, faster)' },
  padding: { type: 'string', default: 'per-row', help: 'per-row (a text never depends on its batch) or batch (PyTorch-compatible)', value: 'MODE' },
  freeze: { type: 'string', help: 'layers that do not learn: embedding, conv, head or layer names', value: 'LIST' },
  threads: { type: 'string', help: 'native threads (default: all cores)', value: 'N' },
  device: { type: 'string', default: 'cpu', help: 'cpu, cuda or auto', value: 'NAME' },
  out: { type: 'string', help: 'write the trained model here (ONNX with vocabulary and labels inside)', value: 'MODEL.onnx' },
  checkpoint: { type: 'string', help: 'save a checkpoint in this folder after every epoch', value: 'DIR' },
  'checkpoint-every': { type: 'string', help: 'also save a checkpoint every N steps', value: 'N' },
  resume: { type: 'string', help: 'continue the run saved in this checkpoint folder', value: 'DIR' },
  'allow-data-change': { type: 'boolean', help: 'resume even if the training file changed' },
  json: { type: 'boolean', help: 'print one JSON object with the figures as the last line, no progress' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

function embeddingInit(v: string | boolean | undefined): EmbeddingInit | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    return parseEmbeddingInit(v);
  } catch (err) {
    throw new UsageError(`--embed-init: ${(err as Error).message}`);
  }
}

function schedule(v: string | undefined): ScheduleSpec | undefined {
  if (v === undefined || v === 'constant') return { type: 'constant' };
  if (v === 'cosine' || v === 'linear') return { type: v };
  if (v === 'plateau') return { type: 'plateau', factor: 0.5, patience: 1 };
  const m = /^step:(\d+)(?::([\d.]+))?$/.exec(v);
  if (m) return { type: 'step', stepSize: Number(m[1]), gamma: m[2] ? Number(m[2]) : 0.1 };
  throw new UsageError(`--schedule must be constant, cosine, linear, plateau or step:N[:gamma], got '${v}'`);
}

function convPadding(v: string | boolean | undefined): TextCNNOptions['padding'] {
  if (v === undefined || v === 'valid' || v === 'same' || v === 'kim') return v;
  if (typeof v === 'string' && /^\d+$/.test(v.trim())) return intOption('conv-padding', v, 0, MAX_CONV_PADDING);
  throw new UsageError(`--conv-padding expects valid, same, kim or a number of zeros from 0 to ${MAX_CONV_PADDING}, got '${String(v)}'`);
}

export async function runTrain(argv: string[]): Promise<number> {
  const v = parseOptions('train', argv, SPEC);
  if (v.help) {
    process.stdout.write(helpText('train', 'Trains a TextCNN text classifier (defaults: Kim 2014 CNN-rand, Adam 1e-3, batch 50).', SPEC));
    return 0;
  }
  const json = Boolean(v.json);
  const given = (name: string) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const device = choiceOption('device', v.device, ['cpu', 'cuda', 'auto'] as const)!;
  const progress = createProgress(json ? 'silent' : process.stderr.isTTY ? 'tty' : 'lines');
  if (device === 'cuda') {
    throw new UsageError('--device cuda: this build trains on the CPU only (the CUDA module holds the toolchain probe so far); use --device cpu or auto');
  }
  if (device === 'auto') progress.message('device auto: training on the CPU (no CUDA training kernels in this build)');
  applyThreads(threadOption(v.threads));
  const activation = choiceOption('activation', v.activation, Object.keys(Activation) as ActivationName[])!;
  if (v.vocab !== undefined && v.init === undefined) throw new UsageError('--vocab goes with --init (the vocabulary of the model you start from)');
  const init =
    typeof v.init === 'string'
      ? await importOnnxFile(v.init, {
          expectedSha256: typeof v.sha256 === 'string' ? v.sha256 : undefined,
          vocab: v.vocab as string | undefined,
          tokenizer: given('tokenizer') ? { mode: choiceOption('tokenizer', v.tokenizer, ['whitespace', 'kim'] as const) } : undefined,
        })
      : undefined;
  if (init && !json) for (const line of init.report) progress.message(`import: ${line}`);
  const trainFile = typeof v.resume === 'string' && v.train === undefined ? undefined : requireString(v, 'train', 'train');
  if (!trainFile) throw new UsageError('train: --resume needs the same --train file');
  const es = intOption('early-stopping', v['early-stopping'], 1);
  if (es !== undefined && v.dev === undefined) throw new UsageError('--early-stopping needs --dev');
  // With --init, the model's own settings hold unless an option is given explicitly.
  if (init && (given('embed-dim') || given('widths') || given('maps') || given('pool'))) {
    throw new UsageError('--embed-dim, --widths, --maps and --pool describe a new model; with --init the pretrained body is kept (use --new-head, --hidden, --activation, --dropout to change it)');
  }
  const groupLr: Record<string, number> = {};
  for (const [flag, group] of [['lr-embedding', 'embedding'], ['lr-conv', 'conv'], ['lr-head', 'linear']] as const) {
    const lr = numberOption(flag, v[flag], 0);
    if (lr !== undefined) groupLr[group] = lr;
  }
  const architecture = {
    embedDim: intOption('embed-dim', v['embed-dim'], 1),
    widths: listOption('widths', v.widths),
    maps: intOption('maps', v.maps, 1),
    activation,
    dropout: numberOption('dropout', v.dropout, 0, 0.99),
    hidden: listOption('hidden', v.hidden),
    pool: choiceOption('pool', v.pool, ['max', 'mean'] as const),
    padding: convPadding(v['conv-padding']),
  };
  const options: TrainRunOptions = {
    train: trainFile,
    dev: v.dev as string | undefined,
    test: v.test as string | undefined,
    read: readOptions(v),
    tokenizer: !init || given('tokenizer') ? { mode: choiceOption('tokenizer', v.tokenizer, ['whitespace', 'kim'] as const) } : undefined,
    vocab: { minCount: intOption('min-count', v['min-count'], 1), maxSize: intOption('max-vocab', v['max-vocab'], 3) },
    architecture,
    init,
    newHead: Boolean(v['new-head']),
    extendVocab: Boolean(v['extend-vocab']),
    activation: init && given('activation') ? activation : undefined,
    dropout: init && given('dropout') ? architecture.dropout : undefined,
    groupLr: Object.keys(groupLr).length ? groupLr : undefined,
    unfreezeAfter: intOption('unfreeze-after', v['unfreeze-after'], 0),
    embeddingInit: embeddingInit(v['embed-init']),
    maxLength: intOption('max-length', v['max-length'], 1),
    epochs: v.resume && !argv.includes('--epochs') ? undefined : intOption('epochs', v.epochs, 0),
    batchSize: intOption('batch-size', v['batch-size'], 1, 1 << 16),
    optimizer: choiceOption('optimizer', v.optimizer, ['adam', 'adamw', 'sgd', 'adadelta'] as const),
    lr: numberOption('lr', v.lr, 0),
    weightDecay: numberOption('weight-decay', v['weight-decay'], 0),
    momentum: numberOption('momentum', v.momentum, 0),
    rho: numberOption('rho', v.rho, 0, 1),
    maxGradNorm: numberOption('clip', v.clip, 0),
    maxNorm: numberOption('max-norm', v['max-norm'], 0),
    sparseEmbedding: Boolean(v['sparse-embedding']),
    schedule: schedule(v.schedule as string | undefined),
    warmupSteps: intOption('warmup', v.warmup, 0),
    earlyStopping: es !== undefined ? { patience: es } : undefined,
    seed: intOption('seed', v.seed, 0, 2 ** 32 - 1),
    bucket: Boolean(v.bucket),
    padding: choiceOption('padding', v.padding, ['per-row', 'batch'] as const),
    freeze: typeof v.freeze === 'string' ? v.freeze.split(',').map((x) => x.trim()).filter(Boolean) : undefined,
    checkpointDir: v.checkpoint as string | undefined,
    checkpointEvery: intOption('checkpoint-every', v['checkpoint-every'], 1),
    resume: v.resume as string | undefined,
    allowDataChange: Boolean(v['allow-data-change']),
    onStep: (s, epochs) => progress.step(s, epochs),
    onEpoch: (r, epochs) => progress.epoch(r, epochs),
    onMessage: (t) => progress.message(t),
  };
  const run = await trainFromFiles(options);
  if (typeof v.out === 'string') {
    await saveModel(v.out, run.model);
    progress.message(`saved ${v.out}`);
  }
  const last = run.fit.history[run.fit.history.length - 1];
  if (json) {
    printJson({
      accuracy: (run.test ?? run.dev)?.accuracy ?? last?.accuracy ?? null,
      macroF1: (run.test ?? run.dev)?.macroF1 ?? null,
      loss: last?.loss ?? null,
      epochs: run.fit.epochs,
      secondsPerEpoch: run.fit.secondsPerEpoch,
      examplesPerSecond: run.fit.examplesPerSecond,
      trainAccuracy: last?.accuracy ?? null,
      dev: run.dev ? { accuracy: run.dev.accuracy, macroF1: run.dev.macroF1, loss: run.dev.loss } : undefined,
      test: run.test ? { accuracy: run.test.accuracy, macroF1: run.test.macroF1, loss: run.test.loss, perClass: run.test.perClass, confusion: run.test.confusion } : undefined,
      stoppedEarly: run.fit.stoppedEarly,
      bestEpoch: run.fit.bestEpoch,
      skippedSteps: run.fit.skippedSteps,
      examples: run.examples,
      vocabSize: run.vocabSize,
      out: v.out ?? null,
    });
  } else {
    if (run.dev) process.stdout.write(`dev: ${formatMetrics(run.dev)}\n\n`);
    if (run.test) process.stdout.write(`test: ${formatMetrics(run.test)}\n`);
  }
  return 0;
}
