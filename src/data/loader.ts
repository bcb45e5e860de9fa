import { augmentIds, augmentationEnabled, checkAugment, type AugmentOptions } from './augment.js';
import { DataStateError } from './errors.js';
import type { EncodedDataset } from './dataset.js';
import { Rng, type RngState } from './random.js';

/** One padded batch, ready for the native code. */
export interface Batch {
  /** batch x length token ids, row-major, padded with the pad id. */
  ids: Int32Array;
  /**
   * Each row's length for pooling: its token count (after augmentation),
   * raised to `minLength` and clipped to `length`. A text alone would be
   * padded to max(its length, widest filter); giving that length makes its
   * prediction independent of the batch. So 0 < lengths[i] <= length when
   * minLength >= 1, and lengths[i] > real tokens means padding is included.
   */
  lengths: Int32Array;
  /** Class index of each row. */
  labels: Int32Array;
  /** Dataset index of each row. */
  indices: Int32Array;
  /** Rows. */
  batch: number;
  /** Columns: the longest row (after augmentation and maxLength), at least minLength. */
  length: number;
}

/** Options of {@link DataLoader}. */
export interface LoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffle and augmentation generators (default 0). */
  seed?: number;
  /** Drop the last batch of an epoch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Padding id (default 0). */
  padId?: number;
  /** Unknown-word id for word dropout (default 1). */
  unkId?: number;
  /** Rows are padded to at least this many columns: the widest convolution filter (default 1). */
  minLength?: number;
  /** Longer texts are cut to their first maxLength tokens (default: no limit). */
  maxLength?: number;
  /**
   * Length bucketing: after the shuffle, each run of `bucket` batches' worth of
   * examples is sorted by length and cut into batches, then the order of all
   * batches is shuffled; similar lengths share a batch and padding shrinks.
   * 0 or false: off (default). true: 50.
   */
  bucket?: number | boolean;
  /** Training augmentation (off by default). */
  augment?: AugmentOptions;
}

/** A loader's position: plain JSON, stored in checkpoints. */
export interface LoaderState {
  version: 1;
  epoch: number;
  /** Batches of this epoch already handed out. */
  batchIndex: number;
  /** Shuffle generator as it was at the start of this epoch (before its shuffle). */
  epochRng: RngState;
  /** Augmentation generator at this position. */
  augmentRng: RngState;
  /** Guards against restoring into a loader over different data or settings. */
  size: number;
  batchSize: number;
}

/**
 * Batches an {@link EncodedDataset}: seeded shuffle per epoch, optional
 * length bucketing, padding to the longest row (between minLength and
 * maxLength), optional augmentation. Each batch's arrays are freshly
 * allocated, so a batch may be handed to asynchronous native code and kept
 * while the next is built.
 *
 * Iterating a loader yields the rest of the current epoch and then moves to
 * the next epoch, so `for (epoch...) for (const b of loader)` trains epoch by
 * epoch. `state()` between batches and `restore(state)` on a loader built
 * with the same dataset and options resume with identical batches, also in
 * the middle of an epoch.
 *
 * @example
 * const loader = new DataLoader(train, { batchSize: 50, seed: 1, minLength: 5, bucket: true });
 * for (let e = 0; e < 10; e++) for (const b of loader) await step(b.ids, b.lengths, b.labels, b.batch, b.length);
 */
export class DataLoader implements Iterable<Batch> {
  readonly dataset: EncodedDataset;
  readonly batchSize: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly padId: number;
  private readonly unkId: number;
  private readonly minLength: number;
  private readonly maxLength: number;
  private readonly bucket: number;
  private readonly augment: AugmentOptions | undefined;
  private readonly rng: Rng;
  private readonly augRng: Rng;
  private epochNo = 0;
  private batchNo = 0;
  private epochRng: RngState;
  // Batches of the current epoch: example indices, computed at its first batch.
  private plan: Int32Array[] | null = null;

  constructor(dataset: EncodedDataset, options: LoaderOptions) {
    const o = options;
    const int = (v: number, name: string, min: number): number => {
      if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
      return v;
    };
    this.dataset = dataset;
    this.batchSize = int(o.batchSize, 'batchSize', 1);
    this.shuffle = o.shuffle ?? true;
    this.dropLast = o.dropLast ?? false;
    this.padId = int(o.padId ?? 0, 'padId', 0);
    this.unkId = int(o.unkId ?? 1, 'unkId', 0);
    this.minLength = int(o.minLength ?? 1, 'minLength', 1);
    this.maxLength = o.maxLength === undefined || o.maxLength === Infinity ? Infinity : int(o.maxLength, 'maxLength', 1);
    if (this.maxLength < this.minLength) throw new RangeError(`maxLength ${this.maxLength} must be >= minLength ${this.minLength}`);
    this.bucket = o.bucket === true ? 50 : o.bucket === false || o.bucket === undefined ? 0 : int(o.bucket, 'bucket', 0);
    if (o.augment !== undefined) checkAugment(o.augment);
    this.augment = augmentationEnabled(o.augment) ? { ...o.augment } : undefined;
    const seed = o.seed ?? 0;
    this.rng = new Rng(seed);
    // A separate stream: turning augmentation on does not change the batch order.
    this.augRng = new Rng(`augment:${seed}`);
    this.epochRng = this.rng.state();
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    const n = this.dataset.size;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The current epoch (0-based). */
  get epoch(): number {
    return this.epochNo;
  }

  /** Batches of the current epoch already handed out. */
  get batchIndex(): number {
    return this.batchNo;
  }

  *[Symbol.iterator](): Generator<Batch> {
    for (;;) {
      const b = this.next();
      if (b === null) return;
      yield b;
    }
  }

  /** The next batch of this epoch, or null when the epoch is over (the loader then moves to the next epoch). */
  next(): Batch | null {
    const plan = this.planEpoch();
    if (this.batchNo >= plan.length) {
      this.epochNo++;
      this.batchNo = 0;
      this.plan = null;
      this.epochRng = this.rng.state();
      return null;
    }
    return this.makeBatch(plan[this.batchNo++]);
  }

  /** The position, to save in a checkpoint. */
  state(): LoaderState {
    return {
      version: 1,
      epoch: this.epochNo,
      batchIndex: this.batchNo,
      epochRng: this.epochRng.slice() as RngState,
      augmentRng: this.augRng.state(),
      size: this.dataset.size,
      batchSize: this.batchSize,
    };
  }

  /** Moves to a saved position (the loader must have the same dataset and options). */
  restore(state: LoaderState): void {
    const s = state as Partial<LoaderState> | null;
    if (s === null || typeof s !== 'object' || s.version !== 1) throw new DataStateError('loader state: unknown format (expected version 1)');
    if (s.size !== this.dataset.size || s.batchSize !== this.batchSize) {
      throw new DataStateError(`loader state is for ${s.size} examples in batches of ${s.batchSize}, this loader has ${this.dataset.size} in batches of ${this.batchSize}`);
    }
    if (!Number.isInteger(s.epoch) || s.epoch! < 0 || !Number.isInteger(s.batchIndex) || s.batchIndex! < 0 || s.batchIndex! > this.batchesPerEpoch) {
      throw new DataStateError('loader state: epoch and batchIndex must be non-negative integers within the epoch');
    }
    const epochRng = Rng.fromState(s.epochRng as number[]);
    this.augRng.setState(s.augmentRng as number[]);
    this.rng.setState(epochRng.state());
    this.epochRng = epochRng.state();
    this.epochNo = s.epoch!;
    this.plan = null;
    this.batchNo = 0;
    this.planEpoch();
    this.batchNo = s.batchIndex!;
  }

  private planEpoch(): Int32Array[] {
    if (this.plan !== null) return this.plan;
    const d = this.dataset;
    const n = d.size;
    this.epochRng = this.rng.state();
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    if (this.shuffle) this.rng.shuffle(order);
    const bs = this.batchSize;
    if (this.bucket > 0) {
      const span = this.bucket * bs;
      for (let s = 0; s < n; s += span) {
        const chunk = order.subarray(s, Math.min(n, s + span));
        // Stable on the shuffled position so ties keep the random order.
        const keyed = Array.from(chunk, (idx, pos) => [d.length(idx), pos, idx]);
        keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        for (let k = 0; k < keyed.length; k++) chunk[k] = keyed[k][2];
      }
    }
    const plan: Int32Array[] = [];
    for (let s = 0; s < n; s += bs) {
      if (s + bs > n && this.dropLast) break;
      plan.push(order.slice(s, Math.min(n, s + bs)));
    }
    if (this.bucket > 0 && this.shuffle) this.rng.shuffle(plan);
    this.plan = plan;
    return plan;
  }

  private makeBatch(indices: Int32Array): Batch {
    const d = this.dataset;
    const rows = indices.length;
    const texts: ArrayLike<number>[] = new Array(rows);
    let longest = 0;
    for (let r = 0; r < rows; r++) {
      let t: ArrayLike<number> = d.tokens(indices[r]);
      if (this.augment !== undefined) t = augmentIds(t, this.augment, this.unkId, this.augRng);
      texts[r] = t;
      if (t.length > longest) longest = t.length;
    }
    const length = Math.min(this.maxLength, Math.max(this.minLength, longest));
    const ids = new Int32Array(rows * length);
    if (this.padId !== 0) ids.fill(this.padId);
    const lengths = new Int32Array(rows);
    const labels = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const t = texts[r];
      const m = Math.min(length, t.length);
      if (t instanceof Int32Array) ids.set(t.subarray(0, m), r * length);
      else for (let k = 0; k < m; k++) ids[r * length + k] = t[k];
      lengths[r] = Math.min(length, Math.max(this.minLength, t.length));
      labels[r] = d.labels[indices[r]];
    }
    return { ids, lengths, labels, indices: indices.slice(), batch: rows, length };
  }
}
