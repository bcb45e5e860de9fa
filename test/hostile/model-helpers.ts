/** A tiny saved model (graph, weights, vocabulary, tokenizer, labels) and ways to damage its file. */
import { Tokenizer } from '../../src/data/tokenizer.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { textCNN, type ModelGraph } from '../../src/model/graph.js';
import { initParams } from '../../src/model/init.js';
import { toOnnx, type SavedModel } from '../../src/onnx/model-file.js';
import { encodeModel, type ModelProto } from '../../src/onnx/proto.js';

export const TOKENS = ['<pad>', '<unk>', 'good', 'bad', 'film', 'the', 'a', 'great', 'awful', 'plot', 'acting', 'very'];

export function tinyGraph(vocabSize = TOKENS.length, classes = 2): ModelGraph {
  return textCNN({ vocabSize, classes, embedDim: 4, widths: [2, 3], maps: 3, dropout: 0.5 });
}

export function tinyModel(seed = 1): SavedModel {
  const graph = tinyGraph();
  return {
    graph,
    params: initParams(graph, seed),
    vocab: Vocabulary.fromTokens(TOKENS),
    tokenizer: new Tokenizer().toJSON(),
    labels: ['neg', 'pos'],
  };
}

/** The ONNX model of tinyModel(), to edit. */
export function tinyOnnx(seed = 1): ModelProto {
  return toOnnx(tinyModel(seed));
}

/** Replaces (or adds) one metadata value. */
export function withMeta(model: ModelProto, key: string, value: string): ModelProto {
  const props = model.metadataProps.filter((p) => p.key !== key);
  props.push({ key, value });
  return { ...model, metadataProps: props };
}

export function withoutMeta(model: ModelProto, key: string): ModelProto {
  return { ...model, metadataProps: model.metadataProps.filter((p) => p.key !== key) };
}

export function bytesOf(model: ModelProto): Uint8Array {
  return encodeModel(model);
}
