/**
 * A graph compiled by the native addon: buffers preallocated for the largest
 * batch, one awaited call per training step or prediction batch (run on a
 * worker thread), parameters as Float32Array views over native memory.
 *
 * @example
 * const model = compileModel(textCNN({ vocabSize: 5000, classes: 2 }), { maxBatch: 50, maxLength: 64, seed: 1 });
 * const { loss } = await model.trainStep(batch, { optimizer: 'adam', lr: 1e-3 });
 * const logits = await model.predict(batch);
 * model.dispose();
 */
import { FinetuneError } from '../errors.js';
import { Activation, loadNative } from '../native.js';
import { convPads, GraphError, graphClasses, graphMinLength, graphParams, inferShapes, resolveLayerNames, type ModelGraph, type ParamInfo } from './graph.js';
import { initParams, type EmbeddingInit } from './init.js';

/** What the data loader yields: ids [batch x length] row-major, each row's real length, labels. */
export interface Batch {
  ids: Int32Array;
  lengths?: Int32Array | null;
  labels?: Int32Array | null;
  batch: number;
  length: number;
}

/** adam, adamw, sgd, or adadelta (Zeiler 2012, Kim 2014's optimizer: use lr 1, rho 0.95). */
export type OptimizerName = 'adam' | 'adamw' | 'sgd' | 'adadelta';

export interface StepOptions {
  optimizer?: OptimizerName;
  /** Learning rate of the default group. */
  lr: number;
  weightDecay?: number;
  /** Per-group overrides, by group name (see CompileOptions.groups). */
  groups?: Record<string, { lr?: number; weightDecay?: number }>;
  beta1?: number;
  beta2?: number;
  /** Added to denominators: default 1e-8 (Adam), 1e-6 (Adadelta). */
  eps?: number;
  /** Adadelta's decay of its running averages (default 0.9; Kim 2014: 0.95). */
  rho?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** Clip the global gradient norm to this (0 or absent: no clipping). */
  maxGradNorm?: number;
  /**
   * Max-norm constraint: after each update, every row (output unit) of each
   * trainable linear layer's weight longer than this is rescaled to this L2
   * norm (Kim 2014 uses 3 with dropout). 0 or absent: none.
   */
  maxNorm?: number;
  /**
   * Lazy embedding updates, torch.optim.SparseAdam's semantics: only the rows a
   * batch touched (and their moments) change, the rest wait. Much less work
   * per step on a large vocabulary; a different optimizer than dense Adam, so
   * results differ. Needs optimizer 'adam' and no weight decay on the embedding.
   */
  sparseEmbedding?: boolean;
}

export interface StepResult {
  loss: number;
  correct: number;
  gradNorm: number;
  /** True when the loss or a gradient was not finite: nothing was updated. */
  skipped: boolean;
}

export interface CompileOptions {
  maxBatch: number;
  maxLength: number;
  /** Seed for initialisation and dropout (default 0). */
  seed?: number;
  /** How new embedding rows start (default 'normal', PyTorch's N(0, 1)). */
  embeddingInit?: EmbeddingInit;
  /** Parameters to start from, by name (e.g. imported); others are initialised as PyTorch does. */
  params?: Map<string, Float32Array>;
  /** Layers that get no gradient work and no updates: layer names or 'embedding', 'conv', 'head' (see resolveLayerNames), or parameter names. */
  freeze?: string[];
  /** Named parameter groups, each a list of layers (as for freeze) or parameter names; the rest form group 'default'. */
  groups?: Record<string, string[]>;
  /** 'per-row' (default): a text's output never depends on its batch; 'batch': PyTorch-compatible pooling over every padded position. */
  padding?: 'per-row' | 'batch';
  labelSmoothing?: number;
  classWeights?: number[];
}

const OP_TYPE = { embedding: 0, conv1d: 1, activation: 2, maxOverTime: 3, meanOverTime: 4, concat: 5, dropout: 6, linear: 7 } as const;
const OPTIMIZER = { adam: 0, adamw: 1, sgd: 2, adadelta: 3 } as const;

interface NativeProgram {
  trainStep(batch: unknown, cfg: unknown): Promise<StepResult>;
  predict(batch: unknown): Promise<Float32Array>;
  evaluate(batch: unknown): Promise<{ loss: number; correct: number; logits: Float32Array }>;
  params(): Array<{ name: string; group: number; frozen: boolean; values: Float32Array }>;
  getState(): ProgramState;
  setState(s: ProgramState): void;
  setFrozen(a: { param: number; frozen: boolean }): void;
  info(): { classes: number; vocab: number; minLength: number; maxBatch: number; maxLength: number; bytes: number };
  dispose(): void;
}

/** Optimizer and generator state (moments for all parameters, flat). */
export interface ProgramState {
  m: Float32Array;
  v: Float32Array;
  paramSteps: Float64Array;
  steps: number;
  seed: number;
  counter: number;
}

function matches(p: ParamInfo, names: string[]): boolean {
  return names.includes(p.layer) || names.includes(p.name);
}

export class CompiledModel {
  readonly graph: ModelGraph;
  readonly paramInfo: ParamInfo[];
  readonly classes: number;
  readonly minLength: number;
  readonly maxBatch: number;
  readonly maxLength: number;
  readonly groupNames: string[];
  readonly padding: 'per-row' | 'batch';
  private native: NativeProgram | null;
  private views: Map<string, Float32Array>;

  constructor(graph: ModelGraph, options: CompileOptions) {
    const shapes = inferShapes(graph);
    this.graph = graph;
    this.paramInfo = graphParams(graph);
    this.classes = graphClasses(graph);
    this.minLength = graphMinLength(graph);
    this.maxBatch = options.maxBatch;
    this.maxLength = Math.max(options.maxLength, this.minLength);
    this.padding = options.padding ?? 'per-row';
    const expand = (what: string, names: readonly string[]) => {
      const params = names.filter((n) => this.paramInfo.some((p) => p.name === n));
      try {
        return [...params, ...resolveLayerNames(graph, names.filter((n) => !params.includes(n)))];
      } catch (err) {
        throw new GraphError(`cannot ${what}: ${(err as Error).message}`);
      }
    };
    const freeze = expand('freeze', options.freeze ?? []);
    const groupLists = Object.entries(options.groups ?? {}).map(([name, names]) => expand(`make group '${name}'`, names));
    this.groupNames = ['default', ...Object.keys(options.groups ?? {})];
    const groupOf = (p: ParamInfo) => {
      let g = 0;
      groupLists.forEach((names, i) => {
        if (matches(p, names)) g = i + 1;
      });
      return g;
    };

    const names = ['ids', ...graph.layers.map((l) => l.name)];
    const index = new Map(names.map((n, i) => [n, i]));
    const paramIndex = new Map(this.paramInfo.map((p, i) => [p.name, i]));
    const tensors = [{ kind: 0, channels: 0 }, ...graph.layers.map((l) => {
      const s = shapes.get(l.name)!;
      return { kind: s.kind === 'sequence' ? 1 : 2, channels: s.channels };
    })];
    const ops = graph.layers.map((l) => {
      const inputs = l.type === 'embedding' ? [0] : l.type === 'concat' ? l.inputs.map((n) => index.get(n)!) : [index.get(l.input)!];
      const params = this.paramInfo.filter((p) => p.layer === l.name).map((p) => paramIndex.get(p.name)!);
      const op: Record<string, unknown> = { type: OP_TYPE[l.type], inputs, output: index.get(l.name)!, params };
      if (l.type === 'embedding') op.paddingIdx = l.paddingIdx ?? -1;
      if (l.type === 'conv1d') {
        op.width = l.width;
        const pads = convPads(l);
        op.padLeft = pads.left;
        op.padRight = pads.right;
      }
      if (l.type === 'activation') {
        op.activation = Activation[l.kind];
        if (l.slope !== undefined) op.slope = l.slope;
      }
      if (l.type === 'dropout') op.dropout = l.p;
      return op;
    });
    const { Program } = loadNative() as unknown as { Program: new (spec: unknown) => NativeProgram };
    this.native = new Program({
      maxBatch: this.maxBatch,
      maxLength: this.maxLength,
      groups: this.groupNames.length,
      labelSmoothing: options.labelSmoothing ?? 0,
      classWeights: options.classWeights ? Float32Array.from(options.classWeights) : undefined,
      tensors,
      ops,
      params: this.paramInfo.map((p) => ({ name: p.name, size: p.size, group: groupOf(p), frozen: matches(p, freeze) })),
    });
    this.views = new Map(this.native.params().map((p) => [p.name, p.values]));
    // Draw fresh values only when some parameter is not given (a loaded model gives them all).
    const missing = this.paramInfo.some((p) => !options.params?.has(p.name));
    const fresh = missing ? initParams(graph, options.seed ?? 0, options.embeddingInit) : null;
    for (const p of this.paramInfo) {
      const given = options.params?.get(p.name);
      if (given && given.length !== p.size) {
        throw new GraphError(`parameter ${p.name}: expected ${p.size} values (shape [${p.shape.join(', ')}]) but received ${given.length}`);
      }
      this.views.get(p.name)!.set(given ?? fresh!.get(p.name)!);
    }
    this.native.setState({ ...this.native.getState(), seed: (options.seed ?? 0) >>> 0, counter: 0 });
  }

  private live(): NativeProgram {
    if (!this.native) throw new FinetuneError('ERR_FINETUNE_DISPOSED', 'this model was disposed');
    return this.native;
  }

  /** Parameter values by name: live views over native memory (no copy). */
  params(): Map<string, Float32Array> {
    this.live();
    return this.views;
  }

  private nativeBatch(b: Batch) {
    return { ids: b.ids, lengths: this.padding === 'per-row' ? b.lengths ?? null : null, labels: b.labels ?? null, batch: b.batch, length: b.length };
  }

  /** Forward, backward, clipping and the optimizer update, on a worker thread. */
  trainStep(batch: Batch, o: StepOptions): Promise<StepResult> {
    const groups = this.groupNames.map((name) => {
      const g = name === 'default' ? {} : o.groups?.[name] ?? {};
      return { lr: g.lr ?? o.lr, weightDecay: g.weightDecay ?? o.weightDecay ?? 0 };
    });
    const optimizer = OPTIMIZER[o.optimizer ?? 'adam'];
    if (optimizer === undefined) throw new TypeError(`Expected optimizer adam, adamw, sgd or adadelta but received ${String(o.optimizer)}`);
    const cfg = {
      optimizer,
      beta1: o.beta1, beta2: o.beta2, eps: o.eps, rho: o.rho, momentum: o.momentum, dampening: o.dampening, nesterov: o.nesterov,
      maxGradNorm: o.maxGradNorm ?? 0,
      maxNorm: o.maxNorm ?? 0,
      sparseEmbedding: o.sparseEmbedding ?? false,
      groups,
    };
    for (const k of Object.keys(cfg) as Array<keyof typeof cfg>) if (cfg[k] === undefined) delete cfg[k];
    return this.live().trainStep(this.nativeBatch(batch), cfg);
  }

  /** Logits [batch x classes], dropout off. */
  predict(batch: Batch): Promise<Float32Array> {
    return this.live().predict(this.nativeBatch(batch));
  }

  /** Loss, number correct and logits, without updating anything. */
  evaluate(batch: Batch): Promise<{ loss: number; correct: number; logits: Float32Array }> {
    return this.live().evaluate(this.nativeBatch(batch));
  }

  /** Names of the parameters that get no updates now. */
  frozen(): string[] {
    return this.live().params().filter((p) => p.frozen).map((p) => p.name);
  }

  /**
   * Freezes or unfreezes layers (names as for CompileOptions.freeze) between
   * steps, e.g. gradual unfreezing; optimizer state is kept.
   */
  setFrozen(names: readonly string[], frozen: boolean): void {
    const layers = new Set(resolveLayerNames(this.graph, names.filter((n) => !this.paramInfo.some((p) => p.name === n))));
    this.paramInfo.forEach((p, index) => {
      if (layers.has(p.layer) || names.includes(p.name)) this.live().setFrozen({ param: index, frozen });
    });
  }

  getState(): ProgramState {
    return this.live().getState();
  }

  setState(s: ProgramState): void {
    this.live().setState(s);
  }

  get bytes(): number {
    return this.live().info().bytes;
  }

  /** Frees native memory now; later calls throw. A second dispose does nothing. */
  dispose(): void {
    if (!this.native) return;
    this.native.dispose();
    this.native = null;
  }
}

/** Compiles a graph for the native addon. */
export function compileModel(graph: ModelGraph, options: CompileOptions): CompiledModel {
  return new CompiledModel(graph, options);
}
