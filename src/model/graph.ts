/**
 * The model graph: a small, JSON-serialisable list of layers with shapes.
 * It is what ONNX import produces, what export reads and what the native
 * addon compiles. Layer outputs are named by their layer; the embedding reads
 * the token ids.
 *
 * @example
 * const g = textCNN({ vocabSize: 20000, classes: 2 }); // Kim (2014) CNN-rand
 * const shapes = inferShapes(g);                       // throws GraphError on a mismatch
 */
import { FinetuneError } from '../errors.js';
import type { ActivationName } from '../native.js';
import { Activation } from '../native.js';

export type LayerSpec =
  | { type: 'embedding'; name: string; vocabSize: number; dim: number; paddingIdx: number | null }
  | { type: 'conv1d'; name: string; input: string; outChannels: number; width: number; padding: ConvPadding }
  | { type: 'activation'; name: string; input: string; kind: ActivationName; slope?: number }
  | { type: 'maxOverTime'; name: string; input: string }
  | { type: 'meanOverTime'; name: string; input: string }
  | { type: 'concat'; name: string; inputs: string[] }
  | { type: 'dropout'; name: string; input: string; p: number }
  | { type: 'linear'; name: string; input: string; outFeatures: number; bias?: boolean };

/**
 * Zeros around each text before a convolution: 'valid' none, 'same' width-1
 * split as PyTorch's padding='same', or a number P of zero steps on each side
 * (PyTorch's Conv1d(padding=P); Kim 2014 pads every text with the widest
 * filter's width-1 for all filters, so each word is seen at every position).
 */
export type ConvPadding = 'valid' | 'same' | number;

/** Largest numeric conv padding accepted (zero steps on each side). */
export const MAX_CONV_PADDING = 1024;

/** Zero steps before and after each text for a conv1d layer. */
export function convPads(layer: { width: number; padding: ConvPadding }): { left: number; right: number } {
  if (typeof layer.padding === 'number') return { left: layer.padding, right: layer.padding };
  if (layer.padding === 'same') {
    const left = (layer.width - 1) >> 1;
    return { left, right: layer.width - 1 - left };
  }
  return { left: 0, right: 0 };
}

export interface ModelGraph {
  format: 'finetune-graph';
  version: 1;
  layers: LayerSpec[];
}

/** A sequence is [batch, length, channels]; a vector is [batch, channels]. */
export interface Shape {
  kind: 'sequence' | 'vector';
  channels: number;
}

export interface ParamInfo {
  name: string;
  layer: string;
  /** Row-major shape in the kernels' layout: embedding [vocab, dim], conv [out, width, in], linear [out, in]. */
  shape: number[];
  size: number;
  /** Fan-in for PyTorch's default initialisation (0 for embeddings). */
  fanIn: number;
  role: 'weight' | 'bias';
}

export class GraphError extends FinetuneError {
  constructor(message: string) {
    super('ERR_FINETUNE_GRAPH', message);
  }
}

function describeShape(s: Shape): string {
  return s.kind === 'sequence' ? `a sequence [batch, length, ${s.channels}]` : `a vector [batch, ${s.channels}]`;
}

/** A value from an untrusted graph, printable in a message (objects may lack a prototype). */
function show(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
}

function positiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** Shapes of every layer's output, by layer name. Throws GraphError naming the layer and the mismatch. */
export function inferShapes(graph: ModelGraph): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  if (!graph || !Array.isArray(graph.layers) || graph.layers.length === 0) throw new GraphError('the graph has no layers');
  graph.layers.forEach((layer, index) => {
    const where = `layer '${show(layer?.name)}' (${show(layer?.type)})`;
    if (typeof layer?.name !== 'string' || layer.name === '' || layer.name === 'ids') {
      throw new GraphError(`layer ${index}: needs a unique name other than 'ids'`);
    }
    if (shapes.has(layer.name)) throw new GraphError(`${where}: the name is used twice`);
    const input = (name: string): Shape => {
      const s = shapes.get(name);
      if (!s) throw new GraphError(`${where}: input '${show(name)}' is not the output of an earlier layer`);
      return s;
    };
    const expect = (name: string, kind: Shape['kind']): Shape => {
      const s = input(name);
      if (s.kind !== kind) throw new GraphError(`${where}: expects a ${kind} input but '${show(name)}' is ${describeShape(s)}`);
      return s;
    };
    let out: Shape;
    switch (layer.type) {
      case 'embedding':
        if (index !== 0) throw new GraphError(`${where}: the embedding must be the first layer`);
        if (!positiveInt(layer.vocabSize) || !positiveInt(layer.dim)) throw new GraphError(`${where}: vocabSize and dim must be positive integers`);
        if (layer.paddingIdx !== null && !(Number.isInteger(layer.paddingIdx) && layer.paddingIdx >= 0 && layer.paddingIdx < layer.vocabSize)) {
          throw new GraphError(`${where}: paddingIdx ${show(layer.paddingIdx)} is outside the vocabulary [0, ${layer.vocabSize})`);
        }
        out = { kind: 'sequence', channels: layer.dim };
        break;
      case 'conv1d': {
        const s = expect(layer.input, 'sequence');
        if (!positiveInt(layer.outChannels) || !positiveInt(layer.width)) throw new GraphError(`${where}: outChannels and width must be positive integers`);
        if (layer.padding !== 'valid' && layer.padding !== 'same' && !(Number.isInteger(layer.padding) && (layer.padding as number) >= 0 && (layer.padding as number) <= MAX_CONV_PADDING)) {
          throw new GraphError(`${where}: padding must be 'valid', 'same' or an integer from 0 to ${MAX_CONV_PADDING}, got ${show(layer.padding)}`);
        }
        void s;
        out = { kind: 'sequence', channels: layer.outChannels };
        break;
      }
      case 'activation':
        if (typeof layer.kind !== 'string' || !Object.hasOwn(Activation, layer.kind)) {
          throw new GraphError(`${where}: unknown activation '${show(layer.kind)}' (one of ${Object.keys(Activation).join(', ')})`);
        }
        out = { ...input(layer.input) };
        break;
      case 'dropout':
        if (!(typeof layer.p === 'number' && layer.p >= 0 && layer.p < 1)) throw new GraphError(`${where}: p must be in [0, 1)`);
        out = { ...input(layer.input) };
        break;
      case 'maxOverTime':
      case 'meanOverTime':
        out = { kind: 'vector', channels: expect(layer.input, 'sequence').channels };
        break;
      case 'concat': {
        if (!Array.isArray(layer.inputs) || layer.inputs.length === 0) throw new GraphError(`${where}: needs inputs`);
        out = { kind: 'vector', channels: layer.inputs.reduce((sum, n) => sum + expect(n, 'vector').channels, 0) };
        break;
      }
      case 'linear':
        expect(layer.input, 'vector');
        if (!positiveInt(layer.outFeatures)) throw new GraphError(`${where}: outFeatures must be a positive integer`);
        out = { kind: 'vector', channels: layer.outFeatures };
        break;
      default:
        throw new GraphError(`layer ${index}: unknown type '${show((layer as { type: unknown }).type)}'`);
    }
    shapes.set(layer.name, out);
  });
  const last = graph.layers[graph.layers.length - 1];
  const final = shapes.get(last.name)!;
  if (final.kind !== 'vector') throw new GraphError(`the last layer '${last.name}' must produce class logits [batch, classes] but produces ${describeShape(final)}`);
  return shapes;
}

/** Parameters in graph order, with shapes in the kernels' layouts. */
export function graphParams(graph: ModelGraph): ParamInfo[] {
  const shapes = inferShapes(graph);
  const out: ParamInfo[] = [];
  for (const layer of graph.layers) {
    if (layer.type === 'embedding') {
      out.push({ name: `${layer.name}.weight`, layer: layer.name, shape: [layer.vocabSize, layer.dim], size: layer.vocabSize * layer.dim, fanIn: 0, role: 'weight' });
    } else if (layer.type === 'conv1d') {
      const inC = shapes.get(layer.input)!.channels;
      const fanIn = inC * layer.width;
      out.push({ name: `${layer.name}.weight`, layer: layer.name, shape: [layer.outChannels, layer.width, inC], size: layer.outChannels * fanIn, fanIn, role: 'weight' });
      out.push({ name: `${layer.name}.bias`, layer: layer.name, shape: [layer.outChannels], size: layer.outChannels, fanIn, role: 'bias' });
    } else if (layer.type === 'linear') {
      const inF = shapes.get(layer.input)!.channels;
      out.push({ name: `${layer.name}.weight`, layer: layer.name, shape: [layer.outFeatures, inF], size: layer.outFeatures * inF, fanIn: inF, role: 'weight' });
      if (layer.bias !== false) out.push({ name: `${layer.name}.bias`, layer: layer.name, shape: [layer.outFeatures], size: layer.outFeatures, fanIn: inF, role: 'bias' });
    }
  }
  return out;
}

/**
 * Expands layer names for freezing and parameter groups: 'embedding', 'conv'
 * (every convolution), 'head' (every linear layer but the classifier),
 * 'linear' (every linear layer), or layer names. Throws GraphError for a name that matches nothing.
 */
export function resolveLayerNames(graph: ModelGraph, names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of names) {
    const matched = graph.layers.filter((l) =>
      raw === 'conv'
        ? l.type === 'conv1d'
        : raw === 'embedding'
          ? l.type === 'embedding'
          : raw === 'head'
            ? l.type === 'linear' && l.name !== 'classifier'
            : raw === 'linear'
              ? l.type === 'linear'
              : l.name === raw,
    );
    if (matched.length === 0) {
      const withParams = graph.layers.filter((l) => l.type === 'embedding' || l.type === 'conv1d' || l.type === 'linear').map((l) => l.name);
      throw new GraphError(`'${raw}' matches no layer (use embedding, conv, head, linear or one of ${withParams.join(', ')})`);
    }
    for (const l of matched) out.add(l.name);
  }
  return [...out];
}

/** Number of classes the graph predicts. */
export function graphClasses(graph: ModelGraph): number {
  const shapes = inferShapes(graph);
  return shapes.get(graph.layers[graph.layers.length - 1].name)!.channels;
}

/** Shortest input the graph accepts: every filter needs width - padding steps (shorter texts are padded up to it). */
export function graphMinLength(graph: ModelGraph): number {
  let min = 1;
  for (const l of graph.layers) {
    if (l.type !== 'conv1d') continue;
    const p = convPads(l);
    min = Math.max(min, l.width - p.left - p.right);
  }
  return min;
}

export interface TextCNNOptions {
  vocabSize: number;
  classes: number;
  /** Embedding dimension (Kim 2014: 300). */
  embedDim?: number;
  /** Filter widths (Kim: 3, 4, 5). */
  widths?: number[];
  /** Feature maps per width (Kim: 100). */
  maps?: number;
  activation?: ActivationName;
  /** Slope for leakyRelu. */
  slope?: number;
  /** Dropout before each linear layer (Kim: 0.5). */
  dropout?: number;
  /** Sizes of hidden linear layers between the pooled features and the classifier (default none). */
  hidden?: number[];
  /** Activation of the hidden layers (default: the same as the convolutions'). */
  hiddenActivation?: ActivationName;
  pool?: 'max' | 'mean';
  /** Convolution padding (default 'valid'); 'kim': the widest filter's width-1 zeros on each side of every text, for every filter, as Kim (2014). */
  padding?: ConvPadding | 'kim';
  /** Id of `<pad>`, whose embedding row is zero and never learns (default 0; null: none). */
  paddingIdx?: number | null;
}

/** Kim (2014)'s CNN for sentence classification, CNN-rand defaults. */
export function textCNN(o: TextCNNOptions): ModelGraph {
  const widths = o.widths ?? [3, 4, 5];
  const maps = o.maps ?? 100;
  const activation = o.activation ?? 'relu';
  const dropout = o.dropout ?? 0.5;
  const act = (name: string, input: string, kind: ActivationName): LayerSpec =>
    kind === 'leakyRelu' && o.slope !== undefined ? { type: 'activation', name, input, kind, slope: o.slope } : { type: 'activation', name, input, kind };
  const layers: LayerSpec[] = [
    { type: 'embedding', name: 'embedding', vocabSize: o.vocabSize, dim: o.embedDim ?? 300, paddingIdx: o.paddingIdx === undefined ? 0 : o.paddingIdx },
  ];
  const pooled: string[] = [];
  const padding: ConvPadding = o.padding === 'kim' ? Math.max(...widths) - 1 : o.padding ?? 'valid';
  widths.forEach((width, i) => {
    layers.push({ type: 'conv1d', name: `conv${i}`, input: 'embedding', outChannels: maps, width, padding });
    layers.push(act(`conv${i}_act`, `conv${i}`, activation));
    layers.push({ type: o.pool === 'mean' ? 'meanOverTime' : 'maxOverTime', name: `pool${i}`, input: `conv${i}_act` });
    pooled.push(`pool${i}`);
  });
  layers.push({ type: 'concat', name: 'features', inputs: pooled });
  let last = 'features';
  (o.hidden ?? []).forEach((size, j) => {
    if (dropout > 0) {
      layers.push({ type: 'dropout', name: `hidden${j}_dropout`, input: last, p: dropout });
      last = `hidden${j}_dropout`;
    }
    layers.push({ type: 'linear', name: `hidden${j}`, input: last, outFeatures: size });
    layers.push(act(`hidden${j}_act`, `hidden${j}`, o.hiddenActivation ?? activation));
    last = `hidden${j}_act`;
  });
  if (dropout > 0) {
    layers.push({ type: 'dropout', name: 'dropout', input: last, p: dropout });
    last = 'dropout';
  }
  layers.push({ type: 'linear', name: 'classifier', input: last, outFeatures: o.classes });
  const graph: ModelGraph = { format: 'finetune-graph', version: 1, layers };
  inferShapes(graph);
  return graph;
}
