/**
 * Checkpoints: everything a run needs to continue exactly where it stopped —
 * weights, optimizer moments and step counts, the dropout generator, the
 * loader position, schedule and history, the vocabulary, labels and graph —
 * in one tensor file (src/io/tensorfile.ts) written atomically, so its parts
 * never mix steps. Loading executes nothing and checks every size.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { DataFileError } from '../data/errors.js';
import { Tokenizer, type TokenizerConfig } from '../data/tokenizer.js';
import { Vocabulary } from '../data/vocab.js';
import { FinetuneError } from '../errors.js';
import { CheckpointMismatchError, SaveError, type TensorMismatch } from '../io/errors.js';
import { runSliced } from '../io/slices.js';
import { loadTensorFile, saveTensorFile, type JsonValue, type TypedArray } from '../io/tensorfile.js';
import { graphParams, inferShapes, type ModelGraph } from '../model/graph.js';
import type { ProgramState } from '../model/program.js';
import type { SavedModel } from '../onnx/model-file.js';
import type { TrainerSnapshot } from './trainer.js';

export const CHECKPOINT_FORMAT = 'finetune-checkpoint/1';
export const CHECKPOINT_FILE = 'checkpoint.ftckpt';

export interface DataFingerprint {
  file: string;
  size: number;
  sha256: string;
}

export interface Checkpoint {
  model: SavedModel;
  state: ProgramState;
  trainer: TrainerSnapshot;
  /** The options the run was started with (epochs, lr, ...), restored on resume. */
  options: Record<string, JsonValue>;
  data: DataFingerprint;
}

export class CheckpointStateError extends FinetuneError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** Size and SHA-256 of a data file, streamed. */
export async function fingerprint(file: string): Promise<DataFingerprint> {
  const hash = createHash('sha256');
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new DataFileError('not a regular file', { file });
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return { file, size: st.size, sha256: hash.digest('hex') };
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new DataFileError(`cannot read the file (${why})`, { file }, { cause: err });
  }
}

// JSON cannot hold NaN or Infinity; history losses may be NaN when an epoch had no finite step.
export function toJson(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as JsonValue;
}

export async function saveCheckpoint(dir: string, c: Checkpoint): Promise<string> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EROFS' || code === 'EACCES' ? ' (the folder is read-only)' : code === 'ENOTDIR' ? ' (a part of the path is a file)' : code === 'ENOSPC' ? ' (disk full)' : '';
    throw new SaveError(dir, `cannot create the checkpoint folder ${dir}: ${(err as Error).message}${hint}`, code, { cause: err });
  }
  const tensors = new Map<string, TypedArray>();
  for (const [name, v] of c.model.params) tensors.set(`param:${name}`, v);
  tensors.set('optimizer:m', c.state.m);
  tensors.set('optimizer:v', c.state.v);
  tensors.set('optimizer:paramSteps', c.state.paramSteps);
  const file = join(dir, CHECKPOINT_FILE);
  await saveTensorFile(file, {
    meta: {
      format: CHECKPOINT_FORMAT,
      graph: toJson(c.model.graph),
      vocab: c.model.vocab.toArray(),
      specials: { pad: c.model.vocab.pad, unk: c.model.vocab.unk },
      tokenizer: toJson(c.model.tokenizer),
      labels: c.model.labels,
      trainer: toJson(c.trainer),
      program: { steps: c.state.steps, seed: c.state.seed, counter: c.state.counter },
      options: c.options,
      data: toJson(c.data),
    },
    tensors,
  });
  return file;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const file = join(dir, CHECKPOINT_FILE);
  const { meta, tensors, info } = await loadTensorFile(file);
  const bad = (what: string) => new CheckpointStateError('ERR_FINETUNE_CHECKPOINT_HEADER', `${file}: ${what}`);
  if (meta.format !== CHECKPOINT_FORMAT) throw bad(`not a finetune checkpoint (format ${JSON.stringify(meta.format)})`);
  const graph = meta.graph as unknown as ModelGraph;
  try {
    inferShapes(graph);
  } catch (err) {
    throw bad(`the stored graph is invalid: ${(err as Error).message}`);
  }
  if (!Array.isArray(meta.vocab) || !meta.vocab.every((t) => typeof t === 'string')) throw bad('metadata vocab must be an array of tokens');
  if (!Array.isArray(meta.labels) || !meta.labels.every((t) => typeof t === 'string')) throw bad('metadata labels must be an array of label names');
  const specials = meta.specials;
  if (!isObject(specials) || typeof specials.pad !== 'string' || typeof specials.unk !== 'string') throw bad('metadata specials must name the pad and unk tokens');
  let vocab: Vocabulary;
  let tokenizer: TokenizerConfig;
  try {
    vocab = await runSliced(Vocabulary.fromTokensSliced(meta.vocab as string[], { pad: specials.pad, unk: specials.unk }));
    tokenizer = Tokenizer.fromJSON(meta.tokenizer).toJSON();
  } catch (err) {
    throw bad((err as Error).message);
  }
  const program = meta.program;
  if (!isObject(program) || !isCount(program.steps) || !isCount(program.seed) || !isCount(program.counter)) throw bad('metadata program must hold steps, seed and counter as non-negative integers');
  const trainer = meta.trainer;
  if (!isObject(trainer) || !isCount(trainer.epoch) || !isCount(trainer.step) || !Array.isArray(trainer.history) || !isObject(trainer.loader)) {
    throw bad('metadata trainer must hold epoch, step, history and the loader position');
  }
  const data = meta.data;
  if (!isObject(data) || typeof data.sha256 !== 'string' || !isCount(data.size) || typeof data.file !== 'string') throw bad('metadata data must hold the training file, its size and SHA-256');
  if (!isObject(meta.options)) throw bad('metadata options must be an object');

  // Every tensor the graph needs, checked all at once so a checkpoint from
  // another architecture is reported with every difference.
  const infos = graphParams(graph);
  const total = infos.reduce((n, p) => n + p.size, 0);
  const expected = [
    ...infos.map((p) => ({ name: `param:${p.name}`, dtype: 'float32', shape: [p.size] })),
    { name: 'optimizer:m', dtype: 'float32', shape: [total] },
    { name: 'optimizer:v', dtype: 'float32', shape: [total] },
    { name: 'optimizer:paramSteps', dtype: 'float64', shape: [infos.length] },
  ];
  const mismatches: TensorMismatch[] = [];
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  for (const e of expected) {
    const got = info.get(e.name);
    if (!got) mismatches.push({ name: e.name, problem: 'missing', expected: `${e.dtype}[${e.shape.join(', ')}]` });
    else if (got.dtype !== e.dtype) mismatches.push({ name: e.name, problem: 'dtype', expected: e.dtype, actual: got.dtype });
    else if (size(got.shape) !== size(e.shape)) mismatches.push({ name: e.name, problem: 'shape', expected: `[${e.shape.join(', ')}]`, actual: `[${got.shape.join(', ')}]` });
  }
  for (const name of info.keys()) if (!expected.some((e) => e.name === name)) mismatches.push({ name, problem: 'unexpected', actual: `${info.get(name)!.dtype}[${info.get(name)!.shape.join(', ')}]` });
  if (mismatches.length > 0) throw new CheckpointMismatchError(file, mismatches);

  const params = new Map<string, Float32Array>(infos.map((p) => [p.name, tensors.get(`param:${p.name}`) as Float32Array]));
  return {
    model: { graph, params, vocab, tokenizer, labels: meta.labels as string[] },
    state: {
      m: tensors.get('optimizer:m') as Float32Array,
      v: tensors.get('optimizer:v') as Float32Array,
      paramSteps: tensors.get('optimizer:paramSteps') as Float64Array,
      steps: program.steps,
      seed: program.seed,
      counter: program.counter,
    },
    trainer: trainer as unknown as TrainerSnapshot,
    options: meta.options as Record<string, JsonValue>,
    data: data as unknown as DataFingerprint,
  };
}
