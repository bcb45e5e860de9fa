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
  await mkdir(dir, { recursive: true });
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

export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const file = join(dir, CHECKPOINT_FILE);
  const { meta, tensors } = await loadTensorFile(file);
  const bad = (what: string) => new CheckpointStateError('ERR_FINETUNE_CHECKPOINT_HEADER', `${file}: ${what}`);
  if (meta.format !== CHECKPOINT_FORMAT) throw bad(`not a finetune checkpoint (format ${JSON.stringify(meta.format)})`);
  const graph = meta.graph as unknown as ModelGraph;
  try {
    inferShapes(graph);
  } catch (err) {
    throw bad(`the stored graph is invalid: ${(err as Error).message}`);
  }
  if (!Array.isArray(meta.vocab) || !Array.isArray(meta.labels)) throw bad('vocabulary or labels missing');
  const specials = meta.specials as { pad?: string; unk?: string };
  const vocab = Vocabulary.fromTokens(meta.vocab as string[], { pad: specials?.pad, unk: specials?.unk });
  const tokenizer: TokenizerConfig = Tokenizer.fromJSON(meta.tokenizer).toJSON();
  const params = new Map<string, Float32Array>();
  let total = 0;
  for (const p of graphParams(graph)) {
    const t = tensors.get(`param:${p.name}`);
    if (!(t instanceof Float32Array) || t.length !== p.size) throw bad(`parameter ${p.name} is missing or has the wrong size (expected ${p.size} float32)`);
    params.set(p.name, t);
    total += p.size;
  }
  const m = tensors.get('optimizer:m'), v = tensors.get('optimizer:v'), paramSteps = tensors.get('optimizer:paramSteps');
  if (!(m instanceof Float32Array) || !(v instanceof Float32Array) || m.length !== total || v.length !== total) throw bad('optimizer moments are missing or have the wrong size');
  if (!(paramSteps instanceof Float64Array) || paramSteps.length !== params.size) throw bad('optimizer step counts are missing');
  const program = meta.program as { steps: number; seed: number; counter: number };
  return {
    model: { graph, params, vocab, tokenizer, labels: meta.labels as string[] },
    state: { m, v, paramSteps, steps: program.steps, seed: program.seed, counter: program.counter },
    trainer: meta.trainer as unknown as TrainerSnapshot,
    options: meta.options as Record<string, JsonValue>,
    data: meta.data as unknown as DataFingerprint,
  };
}
