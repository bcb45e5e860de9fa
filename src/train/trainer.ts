/**
 * Training and evaluation loops over a compiled model and encoded datasets:
 * epochs of shuffled (optionally bucketed, augmented) batches, learning-rate
 * schedules as data, early stopping with best-weights restore, non-finite
 * step handling, per-step and per-epoch callbacks.
 *
 * @example
 * const result = await fit(model, train, { dev, labels: labelMap.names, epochs: 10, lr: 1e-3 });
 * const metrics = await evaluate(model, test, labelMap.names);
 */
import type { AugmentOptions } from '../data/augment.js';
import type { EncodedDataset } from '../data/dataset.js';
import { DataLoader, type LoaderState } from '../data/loader.js';
import { FinetuneError } from '../errors.js';
import type { CompiledModel, OptimizerName, StepOptions } from '../model/program.js';
import { ConfusionMatrix, type Metrics } from './metrics.js';
import { LrSchedule, type ScheduleSpec } from './schedule.js';

export class TrainingError extends FinetuneError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

export interface StepInfo {
  epoch: number;
  /** 0-based batch index within the epoch. */
  batch: number;
  batches: number;
  /** Optimizer steps so far (all epochs). */
  step: number;
  loss: number;
  accuracy: number;
  lr: number;
  skipped: boolean;
  examplesPerSecond: number;
  /** Seconds since this epoch started. */
  seconds: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  seconds: number;
  examplesPerSecond: number;
  skippedSteps: number;
  dev?: Metrics;
}

export interface FitOptions {
  labels: readonly string[];
  dev?: EncodedDataset;
  epochs?: number;
  batchSize?: number;
  optimizer?: OptimizerName;
  /** Default 1e-3, or 1 with adadelta (torch's defaults). */
  lr?: number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Adadelta's decay of its running averages (StepOptions.rho). */
  rho?: number;
  maxGradNorm?: number;
  /** Max-norm constraint on the linear layers' weight rows after each update (StepOptions.maxNorm; Kim 2014: 3). */
  maxNorm?: number;
  /** Lazy embedding updates with torch.optim.SparseAdam's semantics (StepOptions.sparseEmbedding). */
  sparseEmbedding?: boolean;
  /** Per-group overrides; groups are declared when compiling (CompileOptions.groups). */
  groups?: StepOptions['groups'];
  schedule?: ScheduleSpec;
  warmupSteps?: number;
  seed?: number;
  /** Shuffle the training data each epoch (default true). */
  shuffle?: boolean;
  padId?: number;
  unkId?: number;
  bucket?: boolean | number;
  augment?: AugmentOptions;
  /** Stop when the dev metric has not improved for `patience` epochs; restore the best weights (default true). */
  earlyStopping?: { patience: number; metric?: 'accuracy' | 'macroF1' | 'loss'; restoreBest?: boolean };
  /** Consecutive non-finite steps tolerated before training stops with an error (default 5). */
  maxBadSteps?: number;
  onStep?: (info: StepInfo) => void;
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /** Resume: loader position, finished epochs and history from a checkpoint. */
  resume?: TrainerSnapshot;
  /** Called after every batch with a snapshot function, for checkpoints; endOfEpoch after the epoch's record is complete. */
  onBatchEnd?: (snapshot: () => TrainerSnapshot, endOfEpoch: boolean) => void | Promise<void>;
  /** Layers frozen at compile time start learning after this many epochs (gradual unfreezing). */
  unfreezeAfter?: number;
  /** Stop after this many optimizer steps in total (a run stopped this way resumes exactly). */
  maxSteps?: number;
}

/** Everything besides the model's own state that a resumed run needs. */
export interface TrainerSnapshot {
  loader: LoaderState;
  epoch: number;
  history: EpochRecord[];
  step: number;
  schedule: ReturnType<LrSchedule['state']>;
  bestScore: number | null;
  badEpochs: number;
  /** Running sums of the epoch in progress (a mid-epoch checkpoint). */
  partial?: { lossSum: number; correct: number; seen: number; skipped: number; seconds: number };
}

export interface FitResult {
  history: EpochRecord[];
  epochs: number;
  stoppedEarly: boolean;
  bestEpoch: number | null;
  skippedSteps: number;
  secondsPerEpoch: number;
  examplesPerSecond: number;
}

function score(m: Metrics, metric: 'accuracy' | 'macroF1' | 'loss'): number {
  return metric === 'loss' ? -(m.loss ?? Infinity) : m[metric];
}

/** Trains `model` on `train`. The model must be compiled with maxBatch >= batchSize. */
export async function fit(model: CompiledModel, train: EncodedDataset, o: FitOptions): Promise<FitResult> {
  const epochs = o.epochs ?? 10;
  const batchSize = o.batchSize ?? 50;
  if (!(Number.isInteger(epochs) && epochs >= 0)) throw new TrainingError('ERR_FINETUNE_OPTION', `epochs must be a non-negative integer, got ${epochs}`);
  if (batchSize > model.maxBatch) throw new TrainingError('ERR_FINETUNE_OPTION', `batchSize ${batchSize} exceeds the model's maxBatch ${model.maxBatch}`);
  const loader = new DataLoader(train, {
    batchSize,
    seed: o.seed ?? 0,
    shuffle: o.shuffle ?? true,
    padId: o.padId ?? 0,
    unkId: o.unkId ?? 1,
    minLength: model.minLength,
    maxLength: model.maxLength,
    bucket: o.bucket ?? false,
    augment: o.augment,
  });
  const batchesPerEpoch = Math.ceil(train.size / batchSize);
  const schedule = new LrSchedule(o.schedule ?? { type: 'constant' }, o.lr ?? (o.optimizer === 'adadelta' ? 1 : 1e-3), epochs * batchesPerEpoch, { warmupSteps: o.warmupSteps });
  const history: EpochRecord[] = o.resume ? [...o.resume.history] : [];
  let step = o.resume?.step ?? 0;
  if (o.resume) {
    loader.restore(o.resume.loader);
    if (o.resume.schedule) schedule.restore(o.resume.schedule);
  }
  const maxBad = o.maxBadSteps ?? 5;
  const es = o.earlyStopping;
  const metric = es?.metric ?? 'accuracy';
  let bestScore: number | null = o.resume?.bestScore ?? null;
  let badEpochs = o.resume?.badEpochs ?? 0;
  let best: Map<string, Float32Array> | null = null;
  let bestEpoch: number | null = null;
  let stoppedEarly = false;
  let skippedTotal = history.reduce((s, h) => s + h.skippedSteps, 0);
  let interrupted = false;

  let partial: TrainerSnapshot['partial'] = o.resume?.partial;
  const snapshot = (epoch: number): TrainerSnapshot => ({
    loader: loader.state(),
    epoch,
    history: [...history],
    step,
    schedule: schedule.state(),
    bestScore,
    badEpochs,
    partial,
  });

  const initiallyFrozen = model.frozen();
  const unfreezeAt = (epoch: number) => {
    if (o.unfreezeAfter !== undefined && epoch >= o.unfreezeAfter && initiallyFrozen.length > 0) model.setFrozen(initiallyFrozen, false);
  };
  for (let epoch = o.resume?.epoch ?? 0; epoch < epochs; epoch++) {
    unfreezeAt(epoch);
    const carried = partial ?? { lossSum: 0, correct: 0, seen: 0, skipped: 0, seconds: 0 };
    partial = undefined;
    const started = performance.now() - carried.seconds * 1000;
    let { lossSum, correct, seen, skipped } = carried;
    let consecutiveBad = 0, batchIndex = 0;
    const startBatch = (loader.state() as LoaderState).batchIndex;
    for (const b of loader) {
      const scale = schedule.scale(step);
      const lr = schedule.baseLr * scale;
      const r = await model.trainStep(b, {
        optimizer: o.optimizer, lr, weightDecay: o.weightDecay, momentum: o.momentum, nesterov: o.nesterov,
        beta1: o.beta1, beta2: o.beta2, eps: o.eps, rho: o.rho, maxGradNorm: o.maxGradNorm, maxNorm: o.maxNorm, sparseEmbedding: o.sparseEmbedding,
        // A group's own rate follows the same schedule.
        groups: o.groups && Object.fromEntries(Object.entries(o.groups).map(([k, g]) => [k, { ...g, lr: g.lr === undefined ? undefined : g.lr * scale }])),
      });
      if (r.skipped) {
        skipped++;
        if (++consecutiveBad >= maxBad) {
          throw new TrainingError(
            'ERR_FINETUNE_NONFINITE',
            `training stopped at epoch ${epoch + 1}, step ${step + 1}: the loss or gradients were not finite for ${consecutiveBad} steps in a row (last loss ${r.loss}); lower the learning rate or check the data. The model keeps its last finite weights.`,
          );
        }
      } else {
        consecutiveBad = 0;
        step++;
        lossSum += r.loss * b.batch;
        correct += r.correct;
        seen += b.batch;
      }
      const elapsed = (performance.now() - started) / 1000;
      o.onStep?.({
        epoch, batch: startBatch + batchIndex, batches: loader.batchesPerEpoch, step, loss: r.loss, accuracy: r.correct / b.batch,
        lr, skipped: r.skipped, examplesPerSecond: seen / Math.max(elapsed, 1e-9), seconds: elapsed,
      });
      batchIndex++;
      const lastOfEpoch = loader.batchIndex >= loader.batchesPerEpoch;
      partial = lastOfEpoch ? undefined : { lossSum, correct, seen, skipped, seconds: (performance.now() - started) / 1000 };
      if (o.onBatchEnd && !lastOfEpoch) await o.onBatchEnd(() => snapshot(epoch), false);
      if (o.maxSteps !== undefined && step >= o.maxSteps && !lastOfEpoch) {
        interrupted = true;
        break;
      }
    }
    if (interrupted) break;
    const seconds = (performance.now() - started) / 1000;
    skippedTotal += skipped;
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: seen ? lossSum / seen : NaN,
      accuracy: seen ? correct / seen : 0,
      seconds,
      examplesPerSecond: seen / Math.max(seconds, 1e-9),
      skippedSteps: skipped,
    };
    if (o.dev) {
      record.dev = await evaluate(model, o.dev, o.labels, { batchSize, padId: o.padId });
      schedule.observe(record.dev[metric === 'loss' ? 'accuracy' : metric]);
      if (es) {
        const s = score(record.dev, metric);
        if (bestScore === null || s > bestScore) {
          bestScore = s;
          badEpochs = 0;
          bestEpoch = epoch + 1;
          if (es.restoreBest !== false) best = new Map([...model.params()].map(([n, v]) => [n, v.slice()]));
        } else {
          badEpochs++;
        }
      }
    }
    history.push(record);
    await o.onEpoch?.(record);
    if (o.onBatchEnd) await o.onBatchEnd(() => snapshot(epoch + 1), true);
    if (o.maxSteps !== undefined && step >= o.maxSteps) break;
    if (es && badEpochs >= es.patience) {
      stoppedEarly = true;
      break;
    }
  }
  if (best) for (const [n, v] of model.params()) v.set(best.get(n)!);
  const trained = history.filter((h) => h.examplesPerSecond > 0);
  return {
    history,
    epochs: history.length,
    stoppedEarly,
    bestEpoch,
    skippedSteps: skippedTotal,
    secondsPerEpoch: trained.length ? trained.reduce((s, h) => s + h.seconds, 0) / trained.length : 0,
    examplesPerSecond: trained.length ? trained.reduce((s, h) => s + h.examplesPerSecond, 0) / trained.length : 0,
  };
}

/** Accuracy, per-class precision/recall/F1, macro-F1, confusion matrix and mean loss. */
export async function evaluate(
  model: CompiledModel,
  data: EncodedDataset,
  labels: readonly string[],
  o: { batchSize?: number; padId?: number } = {},
): Promise<Metrics> {
  const loader = new DataLoader(data, {
    batchSize: Math.min(o.batchSize ?? model.maxBatch, model.maxBatch),
    shuffle: false,
    padId: o.padId ?? 0,
    minLength: model.minLength,
    maxLength: model.maxLength,
  });
  const cm = new ConfusionMatrix(labels);
  let lossSum = 0, n = 0;
  for (const b of loader) {
    const r = await model.evaluate(b);
    cm.addLogits(r.logits, b.labels, b.batch);
    lossSum += r.loss * b.batch;
    n += b.batch;
  }
  return cm.metrics(n ? lossSum / n : undefined);
}
