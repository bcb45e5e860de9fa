/**
 * A whole training run from files: read and encode the data, build (or
 * continue) the model, fit with checkpoints, evaluate, and hand back a model
 * ready to save. This is what `finetune train` runs.
 *
 * @example
 * const run = await trainFromFiles({ train: 'train.txt', dev: 'dev.txt', epochs: 5 });
 * await saveModel('model.onnx', run.model);
 */
import { encodeFile, loadTrainingData } from '../data/dataset.js';
import type { EncodedDataset } from '../data/dataset.js';
import type { LabelMap } from '../data/labels.js';
import { LabelMap as Labels } from '../data/labels.js';
import type { DataSummary, ReadOptions } from '../data/reader.js';
import { Tokenizer, type TokenizerConfig } from '../data/tokenizer.js';
import { DataLabelError } from '../data/errors.js';
import { Vocabulary } from '../data/vocab.js';
import type { ActivationName } from '../native.js';
import { extendEmbedding, replaceHead, setActivation, setDropout } from '../model/surgery.js';
import type { JsonValue } from '../io/tensorfile.js';
import { textCNN, type ModelGraph, type TextCNNOptions } from '../model/graph.js';
import type { EmbeddingInit } from '../model/init.js';
import { compileModel, type CompiledModel } from '../model/program.js';
import type { SavedModel } from '../onnx/model-file.js';
import { CheckpointStateError, fingerprint, loadCheckpoint, saveCheckpoint, toJson, type DataFingerprint } from './checkpoint.js';
import type { Metrics } from './metrics.js';
import { evaluate, fit, type EpochRecord, type FitOptions, type FitResult, type StepInfo, type TrainerSnapshot } from './trainer.js';

/** The fit() settings a run passes through unchanged. */
type RunFitOptions = Pick<
  FitOptions,
  'epochs' | 'batchSize' | 'optimizer' | 'lr' | 'weightDecay' | 'momentum' | 'rho' | 'maxGradNorm' | 'maxNorm' | 'sparseEmbedding' | 'schedule' | 'warmupSteps' | 'seed' | 'maxSteps'
>;

export interface TrainRunOptions extends RunFitOptions {
  train: string;
  dev?: string;
  test?: string;
  read?: Omit<ReadOptions, 'labels'>;
  tokenizer?: Partial<TokenizerConfig>;
  vocab?: { minCount?: number; maxSize?: number };
  /** Continue training this model (saved by finetune): its graph, weights, vocabulary, tokenizer and labels. */
  init?: SavedModel;
  /** With init: a new classifier head for the training data's labels (initialised as PyTorch would); otherwise the data's labels must be the model's. */
  newHead?: boolean;
  /** With init: append the training data's new tokens (minCount applies) to the vocabulary; their embedding rows start as N(0, 1). */
  extendVocab?: boolean;
  /** With init: replace the activations of the convolutions (and of a new head). */
  activation?: ActivationName;
  /** With init: set every dropout rate. */
  dropout?: number;
  /** Learning rates by layer group: layer names or 'embedding', 'conv', 'head', e.g. { embedding: 1e-4 }. */
  groupLr?: Record<string, number>;
  /** Frozen layers start learning after this many epochs (gradual unfreezing). */
  unfreezeAfter?: number;
  /** Architecture of a new model (Kim 2014 CNN-rand by default). */
  architecture?: Omit<TextCNNOptions, 'vocabSize' | 'classes'>;
  /** How a new model's embedding starts: 'normal' (PyTorch, default) or { uniform: 0.25 } (Kim 2014). */
  embeddingInit?: EmbeddingInit;
  /** Longest text in tokens; longer ones are cut (default 256). */
  maxLength?: number;
  freeze?: string[];
  bucket?: boolean;
  earlyStopping?: { patience: number; metric?: 'accuracy' | 'macroF1' | 'loss' };
  padding?: 'per-row' | 'batch';
  /** Save a checkpoint here after every epoch (and every `checkpointEvery` steps). */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Continue the run saved in this checkpoint folder. */
  resume?: string;
  /** Resume even though the training file differs from the checkpoint's. */
  allowDataChange?: boolean;
  onStep?: (info: StepInfo, epochs: number) => void;
  onEpoch?: (record: EpochRecord, epochs: number) => void;
  onMessage?: (text: string) => void;
}

export interface TrainRunResult {
  model: SavedModel;
  fit: FitResult;
  dev?: Metrics;
  test?: Metrics;
  train: DataSummary;
  vocabSize: number;
  examples: { train: number; dev?: number; test?: number };
}

/** Options that define a run; stored in checkpoints so a resume continues the same run. */
const RUN_KEYS = ['embeddingInit', 'freeze', 'groupLr', 'unfreezeAfter', 'epochs', 'batchSize', 'optimizer', 'lr', 'weightDecay', 'momentum', 'rho', 'maxGradNorm', 'maxNorm', 'sparseEmbedding', 'schedule', 'warmupSteps', 'seed', 'bucket', 'earlyStopping', 'padding', 'maxLength', 'architecture', 'tokenizer', 'vocab', 'read'] as const;

function longest(d: EncodedDataset): number {
  let m = 1;
  for (let i = 0; i < d.size; i++) m = Math.max(m, d.length(i));
  return m;
}

export async function trainFromFiles(given: TrainRunOptions): Promise<TrainRunResult> {
  let o: TrainRunOptions = { ...given };
  let resumed: Awaited<ReturnType<typeof loadCheckpoint>> | null = null;
  const data = await fingerprint(o.train);
  if (o.resume) {
    resumed = await loadCheckpoint(o.resume);
    if (!o.allowDataChange && (resumed.data.sha256 !== data.sha256 || resumed.data.size !== data.size)) {
      throw new CheckpointStateError(
        'ERR_FINETUNE_CHECKPOINT_DATA',
        `${o.train} differs from the training data of the checkpoint in ${o.resume} (${resumed.data.file}, ${resumed.data.size} bytes, sha256 ${resumed.data.sha256.slice(0, 12)}...); pass --allow-data-change to resume anyway`,
      );
    }
    // The stored options define the run; only the number of epochs may grow.
    const stored = resumed.options as unknown as Partial<TrainRunOptions>;
    o = { ...o, ...stored, epochs: given.epochs ?? stored.epochs };
  }

  const start = resumed?.model ?? o.init;
  const fromInit = !resumed && o.init !== undefined;
  const tokenizer = new Tokenizer(start ? { ...start.tokenizer, ...(fromInit ? o.tokenizer : {}) } : o.tokenizer);
  const read = { ...o.read };
  let loaded: Awaited<ReturnType<typeof loadTrainingData>>;
  try {
    loaded = start
      ? await loadTrainingData(o.train, {
          read,
          tokenizer,
          // A copy: extending must not change the caller's vocabulary.
          baseVocab: Vocabulary.fromTokens(start.vocab.toArray(), { pad: start.vocab.pad, unk: start.vocab.unk }),
          extendVocab: fromInit && o.extendVocab,
          vocab: o.vocab,
          labels: fromInit && o.newHead ? undefined : Labels.fromNames(start.labels),
        })
      : await loadTrainingData(o.train, { read, tokenizer, vocab: o.vocab });
  } catch (err) {
    if (fromInit && err instanceof DataLabelError) {
      throw new DataLabelError(`${err.message}; to train a new classifier for this data's labels, pass --new-head (API: newHead: true)`, { file: err.file, line: err.line });
    }
    throw err;
  }
  const vocab: Vocabulary = loaded.vocab;
  const labels: LabelMap = loaded.labels;
  o.onMessage?.(
    `read ${loaded.summary.examples} training examples from ${o.train} (${loaded.summary.format}, ${loaded.summary.encoding}; ${labels.size} classes: ${loaded.summary.classes.map((c) => `${c.label} ${c.count}`).join(', ')}); vocabulary ${vocab.size} tokens` +
      (loaded.summary.skipped.blank ? `; ${loaded.summary.skipped.blank} blank lines skipped` : ''),
  );
  const encodeOther = async (file: string) => (await encodeFile(file, { read: { ...read }, tokenizer, vocab, labels })).dataset;
  const dev = o.dev ? await encodeOther(o.dev) : undefined;
  const test = o.test ? await encodeOther(o.test) : undefined;

  let graph: ModelGraph = start ? start.graph : textCNN({ vocabSize: vocab.size, classes: labels.size, paddingIdx: vocab.padId, ...o.architecture });
  let initialParams = start?.params;
  if (fromInit) {
    // Adapt the pretrained model to the new task, as one would in PyTorch.
    let parts = { graph, params: initialParams! };
    const seed = o.seed ?? 0;
    if (loaded.addedTokens > 0) {
      parts = extendEmbedding(parts.graph, parts.params, vocab.size, seed + 1);
      o.onMessage?.(`vocabulary extended by ${loaded.addedTokens} tokens from ${o.train} (${vocab.size} in all); their embeddings start as N(0, 1)`);
    }
    if (o.activation) parts = setActivation(parts.graph, parts.params, o.activation, 'conv');
    if (o.newHead) {
      parts = replaceHead(parts.graph, parts.params, { classes: labels.size, hidden: o.architecture?.hidden, activation: o.architecture?.hiddenActivation ?? o.activation, dropout: o.dropout }, seed + 2);
      o.onMessage?.(`new classifier head for ${labels.size} classes (${labels.names.join(', ')})${o.architecture?.hidden?.length ? ` with hidden layers ${o.architecture.hidden.join(',')}` : ''}`);
    } else if (o.dropout !== undefined) {
      parts = setDropout(parts.graph, parts.params, o.dropout);
    }
    if (!parts.graph.layers.some((l) => l.type === 'dropout')) {
      o.onMessage?.('the model has no dropout layer (PyTorch drops it from eval-mode exports); pass --dropout P to add one before its linear layers');
    }
    graph = parts.graph;
    initialParams = parts.params;
  }
  const batchSize = o.batchSize ?? 50;
  const maxLength = Math.min(o.maxLength ?? 256, longest(loaded.dataset));
  const model: CompiledModel = compileModel(graph, {
    maxBatch: batchSize,
    maxLength,
    seed: o.seed ?? 0,
    params: initialParams,
    embeddingInit: o.embeddingInit,
    freeze: o.freeze,
    groups: o.groupLr ? Object.fromEntries(Object.keys(o.groupLr).map((k) => [k, [k]])) : undefined,
    padding: o.padding,
  });
  try {
    if (resumed) model.setState(resumed.state);
    const runOptions = toJson(Object.fromEntries(RUN_KEYS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]))) as Record<string, JsonValue>;
    const epochs = o.epochs ?? 10;
    const snapshotModel = (): SavedModel => ({ graph, params: model.params(), vocab, tokenizer: tokenizer.toJSON(), labels: [...labels.names] });
    const save = async (snap: TrainerSnapshot) => {
      if (!o.checkpointDir) return;
      await saveCheckpoint(o.checkpointDir, { model: snapshotModel(), state: model.getState(), trainer: snap, options: runOptions, data });
    };
    let sinceCheckpoint = 0;
    const result = await fit(model, loaded.dataset, {
      labels: labels.names,
      dev,
      epochs,
      batchSize,
      optimizer: o.optimizer,
      lr: o.lr,
      groups: o.groupLr ? Object.fromEntries(Object.entries(o.groupLr).map(([k, lr]) => [k, { lr }])) : undefined,
      unfreezeAfter: o.unfreezeAfter,
      weightDecay: o.weightDecay,
      momentum: o.momentum,
      rho: o.rho,
      maxGradNorm: o.maxGradNorm,
      maxNorm: o.maxNorm,
      sparseEmbedding: o.sparseEmbedding,
      schedule: o.schedule,
      warmupSteps: o.warmupSteps,
      seed: o.seed,
      padId: vocab.padId,
      unkId: vocab.unkId,
      bucket: o.bucket,
      earlyStopping: o.earlyStopping,
      maxSteps: o.maxSteps,
      resume: resumed ? resumed.trainer : undefined,
      onStep: (s) => o.onStep?.(s, epochs),
      onEpoch: (r) => o.onEpoch?.(r, epochs),
      onBatchEnd: async (snapshot, endOfEpoch) => {
        sinceCheckpoint++;
        if (o.checkpointDir && (endOfEpoch || (o.checkpointEvery && sinceCheckpoint >= o.checkpointEvery))) {
          sinceCheckpoint = 0;
          await save(snapshot());
        }
      },
    });
    const devMetrics = dev ? await evaluate(model, dev, labels.names, { batchSize, padId: vocab.padId }) : undefined;
    const testMetrics = test ? await evaluate(model, test, labels.names, { batchSize, padId: vocab.padId }) : undefined;
    const saved: SavedModel = { graph, params: new Map([...model.params()].map(([n, v]) => [n, v.slice()])), vocab, tokenizer: tokenizer.toJSON(), labels: [...labels.names] };
    return {
      model: saved,
      fit: result,
      dev: devMetrics,
      test: testMetrics,
      train: loaded.summary,
      vocabSize: vocab.size,
      examples: { train: loaded.dataset.size, dev: dev?.size, test: test?.size },
    };
  } finally {
    model.dispose();
  }
}

export type { DataFingerprint };
