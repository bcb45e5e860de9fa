/**
 * The model file this package writes and reads: one ONNX file holding the
 * graph and weights (runnable by onnxruntime-node) and, in metadata_props,
 * everything needed to use or train it again: the model graph, vocabulary,
 * tokenizer settings and label names.
 *
 * @example
 * await saveModel('sentiment.onnx', { graph, params, vocab, tokenizer, labels });
 * const m = await loadModel('sentiment.onnx'); // { graph, params, vocab, tokenizer, labels }
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { Tokenizer, type TokenizerConfig } from '../data/tokenizer.js';
import { Vocabulary } from '../data/vocab.js';
import { FinetuneError } from '../errors.js';
import { withPathLock, writeFileAtomicUnlocked } from '../io/atomic.js';
import { copyOf, hashUpdate, ranges, runAtOnce, runSliced, type Sliced } from '../io/slices.js';
import { GraphError, graphClasses, graphParams, inferShapes, type ModelGraph } from '../model/graph.js';
import { OnnxFormatError } from './errors.js';
import { convWeightFromOnnx, exportOnnxModel } from './export.js';
import { decodeModel, encodeModelChunks, tensorToFloat32Sliced, type ModelProto } from './proto.js';

export const MODEL_FORMAT = 'finetune-model/1';

export interface SavedModel {
  graph: ModelGraph;
  /** Parameters in the kernels' layouts, by name. */
  params: Map<string, Float32Array>;
  vocab: Vocabulary;
  tokenizer: TokenizerConfig;
  labels: string[];
}

export class ModelFileError extends FinetuneError {
  constructor(message: string, readonly file?: string) {
    super('ERR_FINETUNE_MODEL_FILE', message);
  }
}

const KEY = {
  format: 'finetune.format',
  graph: 'finetune.graph',
  vocab: 'finetune.vocab',
  specials: 'finetune.specials',
  tokenizer: 'finetune.tokenizer',
  labels: 'finetune.labels',
} as const;

/**
 * The ONNX model for a saved model, with our metadata. The parameters are
 * copied into it, unless `copy` is false (then the model refers to them).
 */
export function toOnnx(m: SavedModel, options: { producerVersion?: string; copy?: boolean } = {}): ModelProto {
  return exportOnnxModel({
    graph: m.graph,
    params: m.params,
    padId: m.vocab.padId,
    producerVersion: options.producerVersion ?? '0.1.0',
    copyParams: options.copy ?? true,
    metadata: {
      [KEY.format]: MODEL_FORMAT,
      [KEY.graph]: JSON.stringify(m.graph),
      [KEY.vocab]: JSON.stringify(m.vocab.toArray()),
      [KEY.specials]: JSON.stringify({ pad: m.vocab.pad, unk: m.vocab.unk }),
      [KEY.tokenizer]: JSON.stringify(m.tokenizer),
      [KEY.labels]: JSON.stringify(m.labels),
    },
  });
}

/** Copies of the parameters, each checked to hold finite values only. */
function* checkedCopies(params: Map<string, Float32Array>, path: string): Sliced<Map<string, Float32Array>> {
  const copies = new Map<string, Float32Array>();
  for (const [name, v] of params) {
    const copy = yield* copyOf(v);
    yield* ranges(copy.length, 4, (start, end) => {
      for (let i = start; i < end; i++) {
        if (!Number.isFinite(copy[i])) throw new ModelFileError(`cannot save: parameter ${name} holds a non-finite value at ${i}; the previous file is left as it was`, path);
      }
    });
    copies.set(name, copy);
  }
  return copies;
}

/**
 * Writes the model atomically (temporary file, fsync, rename): a crash leaves
 * the old file or the new one. The weights are copied in slices from the call
 * on, so a save never blocks the event loop for long; the file holds the
 * values of the call if they do not change until the promise settles. Saves
 * to one path run in call order: the last call's model is what remains.
 */
export async function saveModel(path: string, m: SavedModel): Promise<void> {
  const vocabRows = m.graph.layers.find((l) => l.type === 'embedding');
  if (vocabRows && vocabRows.type === 'embedding' && vocabRows.vocabSize !== m.vocab.size) {
    throw new ModelFileError(`cannot save: the embedding has ${vocabRows.vocabSize} rows but the vocabulary ${m.vocab.size} tokens`, path);
  }
  // Copied now, written when the earlier saves to this path are done; the
  // catch only keeps a failure before then from counting as unhandled.
  const copies = runSliced(checkedCopies(m.params, path));
  copies.catch(() => undefined);
  return withPathLock(path, async () => {
    const params = await copies;
    // The copies are ours: the file's tensor data refers to them, no second copy.
    const chunks = encodeModelChunks(toOnnx({ ...m, params }, { copy: false }));
    await writeFileAtomicUnlocked(path, chunks);
  });
}

function parseJson(model: ModelProto, key: string, file: string): unknown {
  const entry = model.metadataProps.find((p) => p.key === key);
  if (!entry) throw new ModelFileError(`${file}: metadata '${key}' is missing`, file);
  try {
    return JSON.parse(entry.value);
  } catch (err) {
    throw new ModelFileError(`${file}: metadata '${key}' is not valid JSON (${(err as Error).message})`, file);
  }
}

/** True when the ONNX model was written by this package (it carries our metadata). */
export function isFinetuneModel(model: ModelProto): boolean {
  return model.metadataProps.some((p) => p.key === KEY.format && p.value === MODEL_FORMAT);
}

/** Reads a model this package saved; with expectedSha256, refuses a file whose digest differs before parsing it. */
export async function loadModel(file: string, options: { expectedSha256?: string } = {}): Promise<SavedModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ModelFileError(`cannot read ${file}: ${(err as Error).message}`, file);
  }
  if (options.expectedSha256 !== undefined) {
    const want = options.expectedSha256.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(want)) throw new ModelFileError(`--sha256 must be 64 hexadecimal digits, got '${options.expectedSha256}'`, file);
    const hash = createHash('sha256');
    await runSliced(hashUpdate(hash, bytes));
    const got = hash.digest('hex');
    if (got !== want) throw new ModelFileError(`${file}: SHA-256 is ${got}, not the expected ${want}; refusing to load it`, file);
  }
  // Decoding refers to the tensor data in `bytes`; the copies out of it go in slices.
  const model = decodeModel(bytes, { file });
  return runSliced(savedModelOf(model, file));
}

/** The saved model an ONNX model holds (one saved by this package). */
export function fromOnnx(model: ModelProto, file: string): SavedModel {
  return runAtOnce(savedModelOf(model, file));
}

function* savedModelOf(model: ModelProto, file: string): Sliced<SavedModel> {
  if (!isFinetuneModel(model)) {
    throw new ModelFileError(`${file}: not a model saved by finetune (no '${KEY.format}' metadata); to import an ONNX model exported elsewhere, give its vocabulary with --vocab`, file);
  }
  const graph = parseJson(model, KEY.graph, file) as ModelGraph;
  try {
    inferShapes(graph);
  } catch (err) {
    throw new ModelFileError(`${file}: the stored graph is invalid: ${(err as GraphError).message}`, file);
  }
  const tokens = parseJson(model, KEY.vocab, file);
  yield; // parsing a large vocabulary takes milliseconds: a turn may be due
  const specials = parseJson(model, KEY.specials, file) as { pad?: unknown; unk?: unknown } | null;
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) throw new ModelFileError(`${file}: metadata '${KEY.vocab}' must be an array of tokens`, file);
  if (typeof specials !== 'object' || specials === null || typeof specials.pad !== 'string' || typeof specials.unk !== 'string') {
    throw new ModelFileError(`${file}: metadata '${KEY.specials}' must name the pad and unk tokens`, file);
  }
  let vocab: Vocabulary;
  let tokenizer: TokenizerConfig;
  try {
    vocab = yield* Vocabulary.fromTokensSliced(tokens as string[], { pad: specials.pad, unk: specials.unk });
    tokenizer = Tokenizer.fromJSON(parseJson(model, KEY.tokenizer, file)).toJSON();
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(`${file}: ${(err as Error).message}`, file);
  }
  const labels = parseJson(model, KEY.labels, file);
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string')) throw new ModelFileError(`${file}: metadata '${KEY.labels}' must be an array of strings`, file);
  const classes = graphClasses(graph);
  if (labels.length !== classes) throw new ModelFileError(`${file}: metadata '${KEY.labels}' names ${labels.length} labels but the model predicts ${classes} classes`, file);

  const init = new Map((model.graph?.initializer ?? []).map((t, i) => [t.name, { t, i }]));
  const params = new Map<string, Float32Array>();
  for (const p of graphParams(graph)) {
    const found = init.get(p.name);
    if (!found) throw new ModelFileError(`${file}: initializer '${p.name}' is missing`, file);
    const values = yield* tensorToFloat32Sliced(found.t, { file, path: `graph.initializer[${found.i}] (${p.name})` });
    const isConv = p.shape.length === 3;
    const want = isConv ? [p.shape[0], p.shape[2], p.shape[1]] : p.shape;
    if (found.t.dims.length !== want.length || found.t.dims.some((d, i) => d !== want[i])) {
      throw new OnnxFormatError(`initializer '${p.name}' has dims [${found.t.dims.join(', ')}] but the graph needs [${want.join(', ')}]`, { file, path: `graph.initializer[${found.i}] (${p.name})` });
    }
    params.set(p.name, isConv ? convWeightFromOnnx(values, p.shape[0], p.shape[1], p.shape[2]) : values);
  }
  const emb = graph.layers[0];
  if (emb.type === 'embedding' && emb.vocabSize !== vocab.size) {
    throw new ModelFileError(`${file}: the embedding has ${emb.vocabSize} rows but the vocabulary ${vocab.size} tokens`, file);
  }
  return { graph, params, vocab, tokenizer, labels: labels as string[] };
}
