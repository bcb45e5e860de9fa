/**
 * Changing a trained model for a new task, the way practitioners do in
 * PyTorch: a new classifier head (new number of classes, deeper or not), a
 * different activation or dropout, a larger vocabulary. Pure functions on a
 * graph and its parameters; new parameters are initialised as PyTorch would,
 * the rest keep their trained values.
 *
 * @example
 * let m = replaceHead(pretrained.graph, pretrained.params, { classes: 6, hidden: [128] }, 1);
 * m = setActivation(m.graph, m.params, 'gelu');
 * m = extendEmbedding(m.graph, m.params, vocab.size, 2);
 */
import type { ActivationName } from '../native.js';
import { GraphError, graphParams, inferShapes, type LayerSpec, type ModelGraph } from './graph.js';
import { initParam, Xoshiro128 } from './init.js';

export interface ModelParts {
  graph: ModelGraph;
  params: Map<string, Float32Array>;
}

function withFreshParams(graph: ModelGraph, old: Map<string, Float32Array>, seed: number, keep: (name: string) => boolean): Map<string, Float32Array> {
  inferShapes(graph);
  const rng = new Xoshiro128(seed);
  const out = new Map<string, Float32Array>();
  const padding = new Map(graph.layers.filter((l) => l.type === 'embedding').map((l) => [l.name, (l as { paddingIdx: number | null }).paddingIdx]));
  for (const p of graphParams(graph)) {
    const prev = old.get(p.name);
    if (prev && prev.length === p.size && keep(p.name)) {
      out.set(p.name, prev.slice());
    } else {
      const v = new Float32Array(p.size);
      initParam(p, v, rng, padding.get(p.layer) ?? null);
      out.set(p.name, v);
    }
  }
  return out;
}

export interface HeadOptions {
  classes: number;
  /** Hidden layer sizes before the classifier (default none). */
  hidden?: number[];
  /** Activation of the hidden layers (default relu). */
  activation?: ActivationName;
  /** Dropout before each linear layer (default: the model's current rate, else 0.5). */
  dropout?: number;
}

/**
 * Replaces everything after the pooled features (the concat, or the last
 * pooling layer) with a new head: dropout, hidden linear layers with
 * activations, and a classifier with `classes` outputs, freshly initialised.
 */
export function replaceHead(graph: ModelGraph, params: Map<string, Float32Array>, o: HeadOptions, seed: number): ModelParts {
  if (!(Number.isInteger(o.classes) && o.classes >= 2)) throw new GraphError(`a classifier needs at least 2 classes, got ${o.classes}`);
  let cut = -1;
  graph.layers.forEach((l, i) => {
    if (l.type === 'concat' || l.type === 'maxOverTime' || l.type === 'meanOverTime') cut = i;
  });
  if (cut < 0) throw new GraphError('cannot find the pooled features (a concat or pooling layer) to put a new head on');
  const oldDropout = graph.layers.slice(cut + 1).find((l) => l.type === 'dropout') as { p: number } | undefined;
  const p = o.dropout ?? oldDropout?.p ?? 0.5;
  const layers: LayerSpec[] = graph.layers.slice(0, cut + 1);
  let last = layers[layers.length - 1].name;
  (o.hidden ?? []).forEach((size, j) => {
    if (p > 0) {
      layers.push({ type: 'dropout', name: `hidden${j}_dropout`, input: last, p });
      last = `hidden${j}_dropout`;
    }
    layers.push({ type: 'linear', name: `hidden${j}`, input: last, outFeatures: size });
    layers.push({ type: 'activation', name: `hidden${j}_act`, input: `hidden${j}`, kind: o.activation ?? 'relu' });
    last = `hidden${j}_act`;
  });
  if (p > 0) {
    layers.push({ type: 'dropout', name: 'dropout', input: last, p });
    last = 'dropout';
  }
  layers.push({ type: 'linear', name: 'classifier', input: last, outFeatures: o.classes });
  const next: ModelGraph = { ...graph, layers };
  const headLayers = new Set(layers.slice(cut + 1).map((l) => l.name));
  return { graph: next, params: withFreshParams(next, params, seed, (name) => !headLayers.has(name.slice(0, name.lastIndexOf('.')))) };
}

/** Sets the activation of the convolutions ('conv') or of the head ('head'); weights are kept. */
export function setActivation(graph: ModelGraph, params: Map<string, Float32Array>, kind: ActivationName, where: 'conv' | 'head' | 'all' = 'conv', slope?: number): ModelParts {
  const producers = new Map(graph.layers.map((l) => [l.name, l]));
  const layers = graph.layers.map((l) => {
    if (l.type !== 'activation') return l;
    const from = producers.get(l.input);
    const isConv = from?.type === 'conv1d';
    if (where === 'all' || (where === 'conv') === isConv) return { ...l, kind, ...(slope !== undefined ? { slope } : {}) };
    return l;
  });
  const next = { ...graph, layers };
  inferShapes(next);
  return { graph: next, params: new Map([...params].map(([k, v]) => [k, v.slice()])) };
}

/**
 * Sets every dropout layer's rate. A graph without dropout (as PyTorch
 * exports a model in eval mode) gets one before each linear layer, named as
 * textCNN() names them.
 */
export function setDropout(graph: ModelGraph, params: Map<string, Float32Array>, p: number): ModelParts {
  if (!(p >= 0 && p < 1)) throw new GraphError(`dropout must be in [0, 1), got ${p}`);
  const copy = new Map([...params].map(([k, v]) => [k, v.slice()]));
  if (graph.layers.some((l) => l.type === 'dropout')) {
    return { graph: { ...graph, layers: graph.layers.map((l) => (l.type === 'dropout' ? { ...l, p } : l)) }, params: copy };
  }
  if (p === 0) return { graph, params: copy };
  const taken = new Set(graph.layers.map((l) => l.name));
  const layers: LayerSpec[] = [];
  for (const l of graph.layers) {
    if (l.type === 'linear') {
      let name = l.name === 'classifier' ? 'dropout' : `${l.name}_dropout`;
      while (taken.has(name)) name = `${name}_`;
      taken.add(name);
      layers.push({ type: 'dropout', name, input: l.input, p }, { ...l, input: name });
    } else {
      layers.push(l);
    }
  }
  const next = { ...graph, layers };
  inferShapes(next);
  return { graph: next, params: copy };
}

/**
 * Grows the embedding to `vocabSize` rows for tokens appended to the
 * vocabulary: old rows keep their values, new ones are N(0, 1) as
 * nn.Embedding initialises them.
 */
export function extendEmbedding(graph: ModelGraph, params: Map<string, Float32Array>, vocabSize: number, seed: number): ModelParts {
  const emb = graph.layers[0];
  if (emb.type !== 'embedding') throw new GraphError('the graph does not start with an embedding');
  if (vocabSize < emb.vocabSize) throw new GraphError(`cannot shrink the embedding from ${emb.vocabSize} to ${vocabSize} rows`);
  const next: ModelGraph = { ...graph, layers: [{ ...emb, vocabSize }, ...graph.layers.slice(1)] };
  const out = new Map([...params].map(([k, v]) => [k, v.slice()]));
  const old = params.get(`${emb.name}.weight`)!;
  const grown = new Float32Array(vocabSize * emb.dim);
  grown.set(old);
  const rng = new Xoshiro128(seed);
  for (let i = old.length; i < grown.length; i++) grown[i] = rng.normal();
  out.set(`${emb.name}.weight`, grown);
  inferShapes(next);
  return { graph: next, params: out };
}
