import { stat } from 'node:fs/promises';
import { DataEmptyError } from './errors.js';
import { LabelMap, LabelMapBuilder } from './labels.js';
import { Rng } from './random.js';
import { DataReader, type DataSummary, type ReadOptions } from './reader.js';
import { Tokenizer } from './tokenizer.js';
import { TokenCounter, Vocabulary, type BuildVocabOptions } from './vocab.js';

/**
 * Encoded examples held compactly: every example's token ids back to back in
 * one Int32Array, `offsets` (n+1 entries) marking where each starts, and one
 * label index per example. Example i is `ids.subarray(offsets[i], offsets[i+1])`.
 * Total tokens are limited to 2^31-1 (Int32 offsets).
 */
export class EncodedDataset {
  readonly ids: Int32Array;
  readonly offsets: Int32Array;
  readonly labels: Int32Array;
  /** Source line of each example (for error messages and predictions), when known. */
  readonly lines: Int32Array | null;

  constructor(ids: Int32Array, offsets: Int32Array, labels: Int32Array, lines: Int32Array | null = null) {
    if (offsets.length !== labels.length + 1) throw new RangeError(`offsets must hold labels.length + 1 = ${labels.length + 1} entries, got ${offsets.length}`);
    if (offsets[0] !== 0 || offsets[offsets.length - 1] !== ids.length) throw new RangeError('offsets must start at 0 and end at ids.length');
    for (let i = 1; i < offsets.length; i++) if (offsets[i] < offsets[i - 1]) throw new RangeError(`offsets must not decrease (index ${i})`);
    if (lines !== null && lines.length !== labels.length) throw new RangeError('lines must hold one entry per example');
    this.ids = ids;
    this.offsets = offsets;
    this.labels = labels;
    this.lines = lines;
  }

  /** Number of examples. */
  get size(): number {
    return this.labels.length;
  }

  /** Token count of example i. */
  length(i: number): number {
    return this.offsets[i + 1] - this.offsets[i];
  }

  /** Token ids of example i (a view, not a copy). */
  tokens(i: number): Int32Array {
    return this.ids.subarray(this.offsets[i], this.offsets[i + 1]);
  }

  /** A new dataset holding the given examples in the given order (copies). */
  subset(indices: ArrayLike<number>): EncodedDataset {
    const b = new EncodedDatasetBuilder();
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`subset: index ${i} out of range 0..${this.size - 1}`);
      b.add(this.tokens(i), this.labels[i], this.lines !== null ? this.lines[i] : 0);
    }
    return b.build(this.lines !== null);
  }
}

/** Grows typed arrays while examples stream in, then hands out an {@link EncodedDataset}. */
export class EncodedDatasetBuilder {
  private ids = new Int32Array(1 << 12);
  private offsets = new Int32Array(1 << 8);
  private labels = new Int32Array(1 << 8);
  private lines = new Int32Array(1 << 8);
  private nTokens = 0;
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Appends one example. */
  add(ids: ArrayLike<number>, label: number, line = 0): void {
    this.reserve(ids.length);
    for (let i = 0; i < ids.length; i++) this.ids[this.nTokens + i] = ids[i];
    this.nTokens += ids.length;
    this.finish(label, line);
  }

  /** Appends one example straight from tokens, without an intermediate array. */
  addTokens(tokens: readonly string[], vocab: Vocabulary, label: number, line = 0): void {
    this.reserve(tokens.length);
    const ids = this.ids;
    let p = this.nTokens;
    for (let i = 0; i < tokens.length; i++) ids[p++] = vocab.idOf(tokens[i]);
    this.nTokens = p;
    this.finish(label, line);
  }

  /**
   * Appends one example from a normalised text ({@link Tokenizer.normalize}),
   * encoding its tokens straight into the id buffer: the fast path.
   */
  addText(normalized: string, vocab: Vocabulary, maxTokens: number, label: number, line = 0): void {
    this.reserve(0);
    const r = vocab.encodeText(normalized, maxTokens, this.ids, this.nTokens);
    if (this.nTokens + r.length > 0x7fffffff) throw new RangeError('an encoded dataset holds at most 2^31-1 tokens; split the data or lower maxTokens');
    this.ids = r.ids;
    this.nTokens += r.length;
    this.finish(label, line);
  }

  /**
   * Appends one example whose ids are, for now, a counter's entry indices
   * ({@link TokenCounter.addTextRecording}); {@link mapIds} turns them into
   * vocabulary ids once the vocabulary exists.
   */
  addCounted(normalized: string, counter: TokenCounter, maxTokens: number, label: number, line = 0): void {
    this.reserve(0);
    const r = counter.addTextRecording(normalized, maxTokens, this.ids, this.nTokens);
    if (this.nTokens + r.length > 0x7fffffff) throw new RangeError('an encoded dataset holds at most 2^31-1 tokens; split the data or lower maxTokens');
    this.ids = r.ids;
    this.nTokens += r.length;
    this.finish(label, line);
  }

  /** Replaces every id i so far by map[i], and every label l by labelMap[l]. */
  mapIds(map: Int32Array, labelMap?: Int32Array): void {
    const ids = this.ids;
    for (let i = 0; i < this.nTokens; i++) ids[i] = map[ids[i]];
    if (labelMap) for (let i = 0; i < this.n; i++) this.labels[i] = labelMap[this.labels[i]];
  }

  private reserve(extra: number): void {
    const need = this.nTokens + extra;
    if (need > 0x7fffffff) throw new RangeError('an encoded dataset holds at most 2^31-1 tokens; split the data or lower maxTokens');
    if (need > this.ids.length) {
      const grown = new Int32Array(Math.min(0x7fffffff, Math.max(need, this.ids.length * 2)));
      grown.set(this.ids.subarray(0, this.nTokens));
      this.ids = grown;
    }
    if (this.n + 2 > this.offsets.length) {
      const cap = this.offsets.length * 2;
      const o = new Int32Array(cap);
      o.set(this.offsets);
      this.offsets = o;
      const l = new Int32Array(cap);
      l.set(this.labels);
      this.labels = l;
      const ln = new Int32Array(cap);
      ln.set(this.lines);
      this.lines = ln;
    }
  }

  private finish(label: number, line: number): void {
    this.labels[this.n] = label;
    this.lines[this.n] = line;
    this.n++;
    this.offsets[this.n] = this.nTokens;
  }

  /** The dataset (exact-size copies; the builder can be dropped). */
  build(keepLines = true): EncodedDataset {
    return new EncodedDataset(
      this.ids.slice(0, this.nTokens),
      this.offsets.slice(0, this.n + 1),
      this.labels.slice(0, this.n),
      keepLines ? this.lines.slice(0, this.n) : null,
    );
  }
}

/** Options of {@link scanTrainingData}, {@link encodeFile} and {@link loadTrainingData}. */
export interface EncodeOptions {
  read?: ReadOptions;
  tokenizer?: Tokenizer;
}

/**
 * First pass over training data: counts tokens (bounded, see
 * {@link TokenCounter}) and labels, then builds the vocabulary and label map.
 */
export async function scanTrainingData(
  file: string,
  options: EncodeOptions & { vocab?: BuildVocabOptions & { maxEntries?: number } } = {},
): Promise<{ vocab: Vocabulary; labels: LabelMap; counter: TokenCounter; summary: DataSummary }> {
  const tokenizer = options.tokenizer ?? new Tokenizer();
  const counter = new TokenCounter({ maxEntries: options.vocab?.maxEntries });
  const lb = new LabelMapBuilder();
  const reader = new DataReader(file, { ...options.read, labels: undefined });
  for await (const batch of reader.batches()) {
    for (const e of batch) {
      counter.addText(tokenizer.normalize(e.text), tokenizer.maxTokens);
      lb.add(e.label, { file, line: e.line });
    }
  }
  const labels = lb.build(file);
  return { vocab: Vocabulary.build(counter, options.vocab), labels, counter, summary: reader.summary };
}

/**
 * Reads, tokenises and encodes a file with a given vocabulary and label map
 * (dev/test data, or the second pass over training data). Labels not in the
 * map are errors naming file and line, or skipped and counted
 * (`read.onUnknownLabel: 'skip'`).
 *
 * @example
 * const { dataset, summary } = await encodeFile('dev.txt', { vocab, labels, tokenizer });
 */
export async function encodeFile(
  file: string,
  options: EncodeOptions & { vocab: Vocabulary; labels: LabelMap },
): Promise<{ dataset: EncodedDataset; summary: DataSummary }> {
  const tokenizer = options.tokenizer ?? new Tokenizer();
  const { vocab, labels } = options;
  const b = new EncodedDatasetBuilder();
  const reader = new DataReader(file, { ...options.read, labels });
  for await (const batch of reader.batches()) {
    for (const e of batch) b.addText(tokenizer.normalize(e.text), vocab, tokenizer.maxTokens, labels.indexOf(e.label), e.line);
  }
  return { dataset: b.build(), summary: reader.summary };
}

/**
 * Training data in two streaming passes: {@link scanTrainingData} builds the
 * vocabulary (or extends `baseVocab`, a pretrained model's, by the new tokens
 * when `extendVocab`) and the label map (or takes `labels`, a model's, whose
 * order wins and against which every label is checked with its line), then
 * {@link encodeFile} encodes.
 */
export async function loadTrainingData(
  file: string,
  options: EncodeOptions & {
    vocab?: BuildVocabOptions & { maxEntries?: number };
    baseVocab?: Vocabulary;
    extendVocab?: boolean;
    labels?: LabelMap;
  } = {},
): Promise<{ dataset: EncodedDataset; vocab: Vocabulary; labels: LabelMap; summary: DataSummary; addedTokens: number }> {
  // A file that fits comfortably in memory is read once: its tokens are
  // recorded as counter entries while counting, then mapped to ids. Larger
  // files (or a model's label map, whose unknown labels encodeFile reports)
  // take the two streaming passes.
  if (options.labels === undefined && (await fileSize(file)) <= SINGLE_PASS_BYTES) {
    const once = await scanAndEncode(file, options);
    if (once) return once;
  }
  const scan = await scanTrainingData(file, options);
  const { vocab, addedTokens } = finalVocab(scan.vocab, options);
  // A model's label map wins; encodeFile then names the line of any label it does not know.
  const labels = options.labels ?? scan.labels;
  const { dataset, summary } = await encodeFile(file, { ...options, vocab, labels });
  return { dataset, vocab, labels, summary, addedTokens };
}

/** The vocabulary a training run uses: the scanned one, or a model's (`baseVocab`), extended by the scanned tokens when `extendVocab`. */
function finalVocab(scanned: Vocabulary, options: { baseVocab?: Vocabulary; extendVocab?: boolean }): { vocab: Vocabulary; addedTokens: number } {
  if (options.baseVocab === undefined) return { vocab: scanned, addedTokens: 0 };
  const vocab = options.baseVocab;
  const addedTokens = options.extendVocab ? vocab.extend(scanned.toArray().filter((_, id) => id !== scanned.padId && id !== scanned.unkId)) : 0;
  return { vocab, addedTokens };
}

/** Files up to this size are counted and encoded in one pass. */
const SINGLE_PASS_BYTES = 64 << 20;

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return Infinity; // the reader reports a missing or unreadable file with its own message
  }
}

/** loadTrainingData in one pass; null when the counter pruned (entry indices went stale). */
async function scanAndEncode(
  file: string,
  options: EncodeOptions & { vocab?: BuildVocabOptions & { maxEntries?: number }; baseVocab?: Vocabulary; extendVocab?: boolean },
): Promise<{ dataset: EncodedDataset; vocab: Vocabulary; labels: LabelMap; summary: DataSummary; addedTokens: number } | null> {
  const tokenizer = options.tokenizer ?? new Tokenizer();
  const counter = new TokenCounter({ maxEntries: options.vocab?.maxEntries });
  const lb = new LabelMapBuilder();
  const labelIndex = new Map<string, number>();
  const labelNames: string[] = [];
  const b = new EncodedDatasetBuilder();
  const reader = new DataReader(file, { ...options.read, labels: undefined });
  for await (const batch of reader.batches()) {
    for (const e of batch) {
      lb.add(e.label, { file, line: e.line });
      let l = labelIndex.get(e.label);
      if (l === undefined) {
        l = labelNames.push(e.label) - 1;
        labelIndex.set(e.label, l);
      }
      b.addCounted(tokenizer.normalize(e.text), counter, tokenizer.maxTokens, l, e.line);
    }
    if (counter.pruned) return null;
  }
  const labels = lb.build(file);
  const { vocab, addedTokens } = finalVocab(Vocabulary.build(counter, options.vocab), options);
  const keys = counter.entryKeys;
  const map = new Int32Array(keys.length);
  for (let i = 0; i < keys.length; i++) map[i] = vocab.idOf(keys[i]);
  b.mapIds(map, Int32Array.from(labelNames, (name) => labels.indexOf(name)));
  return { dataset: b.build(), vocab, labels, summary: reader.summary, addedTokens };
}

function checkLabels(labels: ArrayLike<number>): void {
  if (labels.length === 0) throw new DataEmptyError('cannot split an empty dataset');
  for (let i = 0; i < labels.length; i++) if (!Number.isInteger(labels[i]) || labels[i] < 0) throw new RangeError(`label at ${i} must be a non-negative integer`);
}

function byClass(labels: ArrayLike<number>, rng: Rng): number[][] {
  const classes: number[][] = [];
  for (let i = 0; i < labels.length; i++) (classes[labels[i]] ??= []).push(i);
  const out = classes.filter((c) => c !== undefined);
  for (const c of out) rng.shuffle(c);
  return out;
}

/**
 * Stratified split by ratios with a seed: each class is shuffled and divided
 * in the ratios (largest remainders get the rounding), so every part keeps the
 * class proportions. Returns one sorted Int32Array of example indices per
 * ratio; the same labels, ratios and seed always give the same split.
 *
 * @example
 * const [train, dev] = stratifiedSplit(dataset.labels, [0.9, 0.1], 1);
 * const trainSet = dataset.subset(train);
 */
export function stratifiedSplit(labels: ArrayLike<number>, ratios: readonly number[], seed = 0): Int32Array[] {
  checkLabels(labels);
  if (ratios.length < 1 || ratios.some((r) => !(r >= 0) || !Number.isFinite(r))) throw new RangeError('ratios must be non-negative finite numbers');
  const sum = ratios.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new RangeError('ratios must not all be zero');
  const parts: number[][] = ratios.map(() => []);
  for (const members of byClass(labels, new Rng(seed))) {
    const exact = ratios.map((r) => (r / sum) * members.length);
    const counts = exact.map(Math.floor);
    let left = members.length - counts.reduce((a, b) => a + b, 0);
    const order = exact.map((e, k) => [e - Math.floor(e), k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (let j = 0; left > 0; j++, left--) counts[order[j % order.length][1]]++;
    let p = 0;
    counts.forEach((c, k) => {
      for (let j = 0; j < c; j++) parts[k].push(members[p++]);
    });
  }
  return parts.map((p) => Int32Array.from(p.sort((a, b) => a - b)));
}

/**
 * Stratified k-fold cross-validation with a seed: each class is shuffled and
 * dealt round-robin over the folds (continuing where the previous class left
 * off, so fold sizes differ by at most one). Every example is in exactly one
 * fold's `test`. Index arrays are sorted.
 */
export function kFold(labels: ArrayLike<number>, k: number, seed = 0): { train: Int32Array; test: Int32Array }[] {
  checkLabels(labels);
  if (!Number.isInteger(k) || k < 2 || k > labels.length) throw new RangeError(`k must be an integer in 2..${labels.length}, got ${k}`);
  const fold = new Int32Array(labels.length);
  let next = 0;
  for (const members of byClass(labels, new Rng(seed))) for (const i of members) fold[i] = next++ % k;
  const out: { train: Int32Array; test: Int32Array }[] = [];
  for (let f = 0; f < k; f++) {
    const test: number[] = [];
    const train: number[] = [];
    for (let i = 0; i < fold.length; i++) (fold[i] === f ? test : train).push(i);
    out.push({ train: Int32Array.from(train), test: Int32Array.from(test) });
  }
  return out;
}

