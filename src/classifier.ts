/**
 * A trained model ready to serve: tokenizer, vocabulary and labels come from
 * the model file; predictions run off the event loop (on a libuv worker
 * thread, with the native thread pool inside).
 *
 * Concurrent `predict` calls are gathered into micro-batches of at most
 * `maxBatch` texts: a batch is sent as soon as it is full, or `maxWaitMs`
 * after its first text arrived, or, while a batch is running, as soon as that
 * batch finishes. Each text's result is exactly (bit for bit) what it gets
 * alone, whatever else shares its batch: pooling uses each row's own length.
 * A batch that fails rejects only the calls that had texts in it.
 *
 * Tokenising runs on the event loop, so it is kept short per tick: a long
 * text is normalised and looked up only as far as its first `maxLength`
 * tokens reach, and the texts of all calls made in one tick are encoded for
 * at most about {@link ENCODE_SLICE_MS} ms; the rest wait for the next turn
 * of the loop (other I/O runs in between). Small calls are encoded and queued
 * at once, in the tick they were made.
 *
 * @example
 * const clf = await Classifier.load('sentiment.onnx', { maxBatch: 64, maxWaitMs: 1 });
 * const [r] = await clf.predict(['a gorgeous , witty , seductive movie .'], { topK: 1 });
 * r.label; r.probabilities; // { neg: 0.03, pos: 0.97 }
 * clf.dispose();
 */
import { isSpace } from './data/strtab.js';
import { Tokenizer, type TokenizerConfig } from './data/tokenizer.js';
import type { Vocabulary } from './data/vocab.js';
import { FinetuneError } from './errors.js';
import type { ModelGraph } from './model/graph.js';
import { compileModel, type CompiledModel } from './model/program.js';
import { importOnnxFile } from './onnx/import.js';
import type { SavedModel } from './onnx/model-file.js';

export interface Prediction {
  label: string;
  /** Probability per label name (softmax of the logits). */
  probabilities: Record<string, number>;
  /** Raw scores, one per label, in the order of `Classifier.labels`. */
  logits: number[];
  /** With `topK`: the k most probable labels, most probable first. */
  top?: Array<{ label: string; probability: number }>;
}

export interface ClassifierOptions {
  /** Most texts per native call (default 64). */
  maxBatch?: number;
  /**
   * How long the first text of an idle queue waits for others to join its
   * batch, in milliseconds (default 1; 0: only calls made in the same tick
   * are gathered). Under load batches form while the previous one runs.
   */
  maxWaitMs?: number;
  /** Tokens kept per text (default 256); longer texts are cut. */
  maxLength?: number;
  /** Refuse the model file unless its SHA-256 is this (hex). */
  expectedSha256?: string;
  /**
   * For an ONNX model exported elsewhere (PyTorch): its vocabulary, a JSON
   * object token -> id or one token a line; `<pad>` and `<unk>` must be in it.
   */
  vocab?: string;
  /** For an ONNX model exported elsewhere: how to split text (default lower-case + whitespace). */
  tokenizer?: Partial<TokenizerConfig>;
}

export interface PredictOptions {
  /** Add `top`: the k most probable labels (1 to the number of labels). */
  topK?: number;
}

/** What a finished micro-batch reports to `onBatch` listeners. */
export interface BatchInfo {
  /** Texts in the batch. */
  size: number;
  /** Distinct predict calls with texts in the batch. */
  calls: number;
  /** Time the native call took. */
  seconds: number;
  /** Set when the batch failed. */
  error?: unknown;
}

interface Call {
  logits: Float32Array;
  remaining: number;
  settled: boolean;
  resolve: (logits: Float32Array) => void;
  reject: (err: unknown) => void;
}

interface Row {
  call: Call;
  index: number;
  ids: Int32Array;
}

/** Texts of a call not yet tokenised. */
interface Pending {
  call: Call;
  texts: readonly string[];
  /** Index of the next text to tokenise. */
  next: number;
  /** Whether `texts` is our copy (made when the call has to wait for a later tick). */
  copied: boolean;
}

/**
 * Longest stretch, in milliseconds, that the texts of the calls made in one
 * event-loop tick are tokenised for before the rest waits for the next turn
 * of the loop (at least one text per turn).
 */
export const ENCODE_SLICE_MS = 1;

/** Copies the texts a call still waits with, so that its caller may reuse the array once `logits()` returns. */
function keepTexts(job: Pending): void {
  if (job.copied) return;
  job.texts = job.texts.slice();
  job.copied = true;
}

/** Index of the first whitespace character at or after `from`, or -1. */
function spaceAtOrAfter(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (isSpace(text.charCodeAt(i))) return i;
  return -1;
}

/** Index of the last whitespace character before `to`, or -1. */
function spaceBefore(text: string, to: number): number {
  for (let i = to - 1; i >= 0; i--) if (isSpace(text.charCodeAt(i))) return i;
  return -1;
}

/**
 * The ids of a text's first `limit` tokens: equal to
 * `vocab.encode(tokenizer.tokenize(text)).subarray(0, limit)`, but a long text
 * is normalised and looked up only as far as needed. The tokens before a
 * whitespace character never depend on what follows it (both tokenizer modes
 * turn it into a separator, no Kim rule spans a separator, and lower-casing
 * looks across none: whitespace is neither cased nor case-ignorable), so a
 * prefix cut just before one gives the same first tokens. Prefixes grow
 * fourfold until one holds `limit` tokens; a text whose tail has no
 * whitespace is encoded whole.
 */
export function encodeFirstTokens(tokenizer: Tokenizer, vocab: Vocabulary, text: string, limit: number): Int32Array {
  const max = tokenizer.maxTokens > 0 ? Math.min(tokenizer.maxTokens, limit) : limit;
  const first = max * 8 + 64;
  if (text.length <= first) return vocab.encodeText(tokenizer.normalize(text), max).ids;
  let tried = 0;
  for (let size = first; size < text.length; size *= 4) {
    let cut = spaceAtOrAfter(text, size);
    if (cut < 0) cut = spaceBefore(text, size);
    if (cut <= tried) break;
    tried = cut;
    const r = vocab.encodeText(tokenizer.normalize(text.slice(0, cut)), max);
    if (r.length === max) return r.ids;
  }
  // A long text without a usable cut: token by token (encodeText would size its
  // reusable span buffers, kept by the vocabulary, to the whole text).
  const ids = vocab.encode(tokenizer.tokenize(text));
  return ids.length > max ? ids.slice(0, max) : ids;
}

function disposedError(): FinetuneError {
  return new FinetuneError('ERR_FINETUNE_DISPOSED', 'this classifier was disposed; load the model again to predict');
}

function checkInteger(name: string, v: number | undefined, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

export class Classifier {
  /** Label names, in the order of the logits. */
  readonly labels: readonly string[];
  readonly graph: ModelGraph;
  readonly vocab: Vocabulary;
  readonly tokenizerConfig: TokenizerConfig;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly maxLength: number;
  private readonly tokenizer: Tokenizer;
  private model: CompiledModel | null;
  private disposed = false;
  private running = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private queue: Row[] = [];
  private head = 0;
  /** Calls whose texts are not all tokenised yet, oldest first, from `pendingHead` on. */
  private pending: Pending[] = [];
  private pendingHead = 0;
  private pendingTexts = 0;
  /** End of this tick's tokenising budget (performance.now()); -1 when no budget is open. */
  private sliceEnds = -1;
  private nextSlice: NodeJS.Immediate | null = null;
  private listeners = new Set<(info: BatchInfo) => void>();

  /** Compiles an in-memory model (e.g. `(await trainFromFiles(...)).model`); see `Classifier.load` for files. */
  constructor(saved: SavedModel, options: ClassifierOptions = {}) {
    this.maxBatch = checkInteger('maxBatch', options.maxBatch, 1, 65536, 64);
    this.maxLength = checkInteger('maxLength', options.maxLength, 1, 1 << 20, 256);
    const wait = options.maxWaitMs ?? 1;
    if (typeof wait !== 'number' || !(wait >= 0 && wait <= 60_000)) throw new RangeError(`maxWaitMs must be a number from 0 to 60000, got ${String(wait)}`);
    this.maxWaitMs = wait;
    this.labels = [...saved.labels];
    this.graph = saved.graph;
    this.vocab = saved.vocab;
    this.tokenizerConfig = saved.tokenizer;
    this.tokenizer = new Tokenizer(saved.tokenizer);
    // The weights are copied into native memory here; `saved.params` is not kept.
    this.model = compileModel(saved.graph, { maxBatch: this.maxBatch, maxLength: this.maxLength, params: saved.params });
  }

  /**
   * Reads a model saved by finetune (`saveModel`, `finetune train --out`), or
   * an ONNX TextCNN exported elsewhere given its `vocab`, and compiles it.
   */
  static async load(file: string, options: ClassifierOptions = {}): Promise<Classifier> {
    return new Classifier(await importOnnxFile(file, { expectedSha256: options.expectedSha256, vocab: options.vocab, tokenizer: options.tokenizer }), options);
  }

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Texts waiting for a batch (tokenised or still waiting to be). */
  get queued(): number {
    return this.queue.length - this.head + this.pendingTexts;
  }

  /** Tokenised texts waiting for a batch. */
  private get ready(): number {
    return this.queue.length - this.head;
  }

  /** Native memory held by the compiled model, in bytes (0 once disposed). */
  get nativeBytes(): number {
    return this.model && !this.disposed ? this.model.bytes : 0;
  }

  /** Calls `listener` after every micro-batch; returns a function that removes it. */
  onBatch(listener: (info: BatchInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Token ids of a text, as the model sees them (before cutting to maxLength). */
  encode(text: string): Int32Array {
    return this.vocab.encode(this.tokenizer.tokenize(text));
  }

  /** Logits for the texts, [texts x labels] row-major, through the micro-batch queue. */
  logits(texts: readonly string[]): Promise<Float32Array> {
    if (this.disposed) return Promise.reject(disposedError());
    if (!Array.isArray(texts)) return Promise.reject(new TypeError(`Expected an array of strings for texts but received ${texts === null ? 'null' : typeof texts}`));
    for (let i = 0; i < texts.length; i++) {
      const t: unknown = texts[i];
      if (typeof t !== 'string') return Promise.reject(new TypeError(`Expected a string for texts[${i}] but received ${t === null ? 'null' : typeof t}`));
    }
    if (texts.length === 0) return Promise.resolve(new Float32Array(0));
    const C = this.labels.length;
    return new Promise<Float32Array>((resolve, reject) => {
      const call: Call = { logits: new Float32Array(texts.length * C), remaining: texts.length, settled: false, resolve, reject };
      this.pending.push({ call, texts, next: 0, copied: false });
      this.pendingTexts += texts.length;
      this.encodePending();
    });
  }

  /**
   * Tokenises waiting texts, oldest call first, into the batch queue until
   * this tick's budget is spent; what is left waits for the next turn of the
   * event loop (setImmediate, after the I/O callbacks of this one).
   */
  private encodePending(): void {
    if (this.sliceEnds < 0) {
      this.sliceEnds = performance.now() + ENCODE_SLICE_MS;
      // The budget lasts until the loop comes round to its check phase.
      this.nextSlice = setImmediate(() => {
        this.nextSlice = null;
        this.sliceEnds = -1;
        if (this.pendingHead < this.pending.length && !this.disposed) this.encodePending();
      });
    } else if (performance.now() >= this.sliceEnds) {
      keepTexts(this.pending[this.pending.length - 1]);
      return; // this tick's budget is spent: the immediate above carries on
    }
    let encoded = 0;
    while (this.pendingHead < this.pending.length) {
      const job = this.pending[this.pendingHead];
      if (job.call.settled) {
        // Rejected meanwhile (a failed batch): its other texts are not needed.
        this.pendingTexts -= job.texts.length - job.next;
        this.pending[this.pendingHead++] = undefined as never;
        continue;
      }
      if (encoded > 0 && performance.now() >= this.sliceEnds) break;
      const index = job.next++;
      this.pendingTexts--;
      encoded++;
      if (job.next === job.texts.length) this.pending[this.pendingHead++] = undefined as never;
      let ids: Int32Array;
      try {
        ids = encodeFirstTokens(this.tokenizer, this.vocab, job.texts[index], this.maxLength);
      } catch (err) {
        job.call.settled = true;
        job.call.reject(err);
        continue;
      }
      this.queue.push({ call: job.call, index, ids });
      // A full batch goes at once, so the native side works while the rest is tokenised.
      if (this.ready >= this.maxBatch) this.schedule();
    }
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else {
      if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
        this.pending = this.pending.slice(this.pendingHead);
        this.pendingHead = 0;
      }
      // Only the call being tokenised and the one just made can still hold the caller's array.
      keepTexts(this.pending[this.pendingHead]);
      keepTexts(this.pending[this.pending.length - 1]);
    }
    this.schedule();
  }

  /** Label, probabilities and logits per text, in input order. */
  async predict(texts: readonly string[], options: PredictOptions = {}): Promise<Prediction[]> {
    const k = options.topK === undefined ? 0 : checkInteger('topK', options.topK, 1, this.labels.length, 0);
    const logits = await this.logits(texts);
    const C = this.labels.length;
    const out: Prediction[] = new Array(texts.length);
    for (let i = 0; i < texts.length; i++) out[i] = this.toPrediction(logits.subarray(i * C, (i + 1) * C), k);
    return out;
  }

  /** The k most probable labels of each text, most probable first. */
  async topK(texts: readonly string[], k: number): Promise<Array<Array<{ label: string; probability: number }>>> {
    return (await this.predict(texts, { topK: k })).map((p) => p.top!);
  }

  private toPrediction(row: Float32Array, k: number): Prediction {
    const C = row.length;
    const logits = Array.from(row);
    let max = -Infinity;
    let best = 0;
    for (let c = 0; c < C; c++) {
      if (logits[c] > max) {
        max = logits[c];
        best = c;
      }
    }
    const e = logits.map((v) => Math.exp(v - max));
    let sum = 0;
    for (const v of e) sum += v;
    const probabilities: Record<string, number> = Object.create(null);
    for (let c = 0; c < C; c++) probabilities[this.labels[c]] = e[c] / sum;
    const p: Prediction = { label: this.labels[best], probabilities, logits };
    if (k > 0) {
      const order = logits.map((_, c) => c).sort((a, b) => logits[b] - logits[a] || a - b);
      p.top = order.slice(0, k).map((c) => ({ label: this.labels[c], probability: e[c] / sum }));
    }
    return p;
  }

  private schedule(): void {
    if (this.running || this.disposed) return;
    if (this.ready >= this.maxBatch) {
      this.clearTimer();
      void this.dispatch();
      return;
    }
    if (this.ready === 0 || this.timer) return;
    const fire = () => {
      this.timer = null;
      void this.dispatch();
    };
    this.timer = this.maxWaitMs > 0 ? setTimeout(fire, this.maxWaitMs) : setImmediate(fire);
  }

  private clearTimer(): void {
    if (!this.timer) return;
    clearTimeout(this.timer as NodeJS.Timeout);
    clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }

  private take(): Row[] {
    const rows: Row[] = [];
    while (rows.length < this.maxBatch && this.head < this.queue.length) {
      const r = this.queue[this.head++];
      if (!r.call.settled) rows.push(r);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return rows;
  }

  private async dispatch(): Promise<void> {
    if (this.running || this.disposed || !this.model) return;
    const rows = this.take();
    if (rows.length === 0) return;
    const model = this.model;
    this.running = true;
    const pad = this.vocab.padId;
    let length = model.minLength;
    for (const r of rows) if (r.ids.length > length) length = r.ids.length;
    const ids = new Int32Array(rows.length * length).fill(pad);
    const lengths = new Int32Array(rows.length);
    rows.forEach((r, i) => {
      ids.set(r.ids, i * length);
      lengths[i] = r.ids.length;
    });
    const calls = new Set(rows.map((r) => r.call));
    const started = performance.now();
    let error: unknown;
    try {
      const out = await model.predict({ ids, lengths, batch: rows.length, length });
      const C = this.labels.length;
      rows.forEach((r, i) => {
        const call = r.call;
        if (call.settled) return;
        call.logits.set(out.subarray(i * C, (i + 1) * C), r.index * C);
        if (--call.remaining === 0) {
          call.settled = true;
          call.resolve(call.logits);
        }
      });
    } catch (err) {
      error = err;
      for (const call of calls) {
        if (call.settled) continue;
        call.settled = true;
        call.reject(err);
      }
    } finally {
      this.running = false;
    }
    const info: BatchInfo = { size: rows.length, calls: calls.size, seconds: (performance.now() - started) / 1000 };
    if (error !== undefined) info.error = error;
    for (const l of this.listeners) {
      try {
        l(info);
      } catch {
        // a listener's failure is not the callers' concern
      }
    }
    if (this.disposed) this.free();
    else this.schedule();
  }

  private free(): void {
    if (this.running || !this.model) return;
    this.model.dispose();
    this.model = null;
  }

  /**
   * Frees the native memory now (if a batch is running, as soon as it
   * finishes; its callers still get their results). Calls still waiting in
   * the queue and later calls reject with ERR_FINETUNE_DISPOSED. A second
   * dispose does nothing.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.clearTimer();
    const err = disposedError();
    for (let i = this.head; i < this.queue.length; i++) {
      const call = this.queue[i].call;
      if (call.settled) continue;
      call.settled = true;
      call.reject(err);
    }
    this.queue = [];
    this.head = 0;
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      const call = this.pending[i].call;
      if (call.settled) continue;
      call.settled = true;
      call.reject(err);
    }
    this.pending = [];
    this.pendingHead = 0;
    this.pendingTexts = 0;
    if (this.nextSlice) clearImmediate(this.nextSlice);
    this.nextSlice = null;
    this.sliceEnds = -1;
    this.free();
  }
}
