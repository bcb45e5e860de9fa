/**
 * A trained model ready to use: tokenizer, vocabulary and labels from the
 * model file, predictions computed off the event loop in batches. Each text's
 * result is the same whatever else is in its batch.
 *
 * @example
 * const clf = await Classifier.load('sentiment.onnx');
 * const [r] = await clf.predict(['a gorgeous , witty , seductive movie .']);
 * r.label; r.probabilities; // { neg: 0.03, pos: 0.97 }
 * clf.dispose();
 */
import { Tokenizer } from './data/tokenizer.js';
import { FinetuneError } from './errors.js';
import { compileModel, type CompiledModel } from './model/program.js';
import { loadModel, type SavedModel } from './onnx/model-file.js';

export interface Prediction {
  label: string;
  /** Probability per label name (softmax of the logits). */
  probabilities: Record<string, number>;
  logits: number[];
}

export interface ClassifierOptions {
  /** Texts per native call (default 64). */
  maxBatch?: number;
  /** Tokens kept per text (default 256); longer texts are cut. */
  maxLength?: number;
  expectedSha256?: string;
}

export class Classifier {
  readonly labels: readonly string[];
  private readonly tokenizer: Tokenizer;
  private model: CompiledModel | null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly saved: SavedModel, options: ClassifierOptions = {}) {
    this.labels = saved.labels;
    this.tokenizer = new Tokenizer(saved.tokenizer);
    this.model = compileModel(saved.graph, { maxBatch: options.maxBatch ?? 64, maxLength: options.maxLength ?? 256, params: saved.params });
  }

  static async load(file: string, options: ClassifierOptions = {}): Promise<Classifier> {
    return new Classifier(await loadModel(file, { expectedSha256: options.expectedSha256 }), options);
  }

  /** Token ids of a text, as the model sees them. */
  encode(text: string): Int32Array {
    return this.saved.vocab.encode(this.tokenizer.tokenize(text));
  }

  /** Logits for the texts, [texts x classes]. Calls are queued, never refused as busy. */
  async logits(texts: readonly string[]): Promise<Float32Array> {
    const run = this.queue.then(() => this.run(texts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async predict(texts: readonly string[]): Promise<Prediction[]> {
    const logits = await this.logits(texts);
    const C = this.labels.length;
    return texts.map((_, i) => {
      const z = Array.from(logits.subarray(i * C, (i + 1) * C));
      const max = Math.max(...z);
      const e = z.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      const probabilities: Record<string, number> = Object.create(null);
      let best = 0;
      z.forEach((v, c) => {
        probabilities[this.labels[c]] = e[c] / sum;
        if (v > z[best]) best = c;
      });
      return { label: this.labels[best], probabilities, logits: z };
    });
  }

  private async run(texts: readonly string[]): Promise<Float32Array> {
    const model = this.model;
    if (!model) throw new FinetuneError('ERR_FINETUNE_DISPOSED', 'this classifier was disposed');
    const C = this.labels.length;
    const out = new Float32Array(texts.length * C);
    const pad = this.saved.vocab.padId;
    for (let start = 0; start < texts.length; start += model.maxBatch) {
      const chunk = texts.slice(start, start + model.maxBatch);
      const encoded = chunk.map((t) => {
        if (typeof t !== 'string') throw new TypeError(`Expected a string for texts[${start}] but received ${typeof t}`);
        return this.encode(t).subarray(0, model.maxLength);
      });
      const length = Math.max(model.minLength, ...encoded.map((e) => e.length));
      const ids = new Int32Array(chunk.length * length).fill(pad);
      encoded.forEach((e, r) => ids.set(e, r * length));
      const lengths = Int32Array.from(encoded, (e) => e.length);
      out.set(await model.predict({ ids, lengths, batch: chunk.length, length }), start * C);
    }
    return out;
  }

  /** Frees native memory now; later calls reject. A second dispose does nothing. */
  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
