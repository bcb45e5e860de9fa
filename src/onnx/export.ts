/**
 * Model graph + weights -> ONNX (opset 13) that onnxruntime-node runs with
 * the same logits as this package. The exported graph recomputes the
 * per-row masking from the pad ids: each row's length is its last non-pad
 * position, raised to the widest filter, and pooling ignores steps past it,
 * so any batch composition gives each text the logits it gets alone. Inputs
 * shorter than the widest filter are padded inside the graph.
 *
 * Layout: input `input_ids` int64 [batch, seq], output `logits` float32
 * [batch, classes], no softmax (as PyTorch's exporter). Initializers keep our
 * parameter names; conv weights are stored in ONNX's [out, in, width].
 */
import type { ModelGraph } from '../model/graph.js';
import { convPads, graphMinLength, graphParams, inferShapes } from '../model/graph.js';
import {
  DataType,
  attrFloat,
  attrInt,
  attrInts,
  createGraph,
  createModel,
  createNode,
  makeFloat32Tensor,
  makeInt64Tensor,
  makeTensorValueInfo,
  type NodeProto,
  type TensorProto,
} from './proto.js';

export const OPSET = 13;

/** ours [out, width, in] -> ONNX [out, in, width] */
export function convWeightToOnnx(w: Float32Array, out: number, width: number, inC: number): Float32Array {
  const r = new Float32Array(w.length);
  for (let m = 0; m < out; m++) for (let k = 0; k < width; k++) for (let c = 0; c < inC; c++) r[(m * inC + c) * width + k] = w[(m * width + k) * inC + c];
  return r;
}

/** ONNX [out, in, width] -> ours [out, width, in] */
export function convWeightFromOnnx(w: Float32Array, out: number, width: number, inC: number): Float32Array {
  const r = new Float32Array(w.length);
  for (let m = 0; m < out; m++) for (let c = 0; c < inC; c++) for (let k = 0; k < width; k++) r[(m * width + k) * inC + c] = w[(m * inC + c) * width + k];
  return r;
}

export interface ExportInput {
  graph: ModelGraph;
  params: Map<string, Float32Array>;
  padId: number;
  /** metadata_props entries (vocabulary, tokenizer, labels...). */
  metadata?: Record<string, string>;
  producerVersion?: string;
  /**
   * Copy the parameter values into the model (default true). false makes the
   * initializers refer to them, for parameters that are already a private
   * copy (saveModel's): nothing may change them until the model is written.
   */
  copyParams?: boolean;
}

class Builder {
  nodes: NodeProto[] = [];
  initializers: TensorProto[] = [];
  private n = 0;
  constructor(private readonly copy: boolean) {}
  node(opType: string, inputs: string[], attrs: ReturnType<typeof attrInt>[] = [], name?: string): string {
    const out = name ?? `${opType.toLowerCase()}_${this.n++}`;
    this.nodes.push(createNode({ opType, input: inputs, output: [out], name: out, attribute: attrs }));
    return out;
  }
  int64(name: string, values: number[], dims: number[] = [values.length]): string {
    this.initializers.push(makeInt64Tensor(name, dims, values));
    return name;
  }
  float(name: string, values: Float32Array, dims: number[]): string {
    this.initializers.push(makeFloat32Tensor(name, dims, values, this.copy));
    return name;
  }
}

export function exportOnnxModel(input: ExportInput) {
  const { graph, params, padId } = input;
  const shapes = inferShapes(graph);
  const infos = graphParams(graph);
  const b = new Builder(input.copyParams ?? true);
  const minLength = graphMinLength(graph);

  // Constants.
  const c0 = b.int64('const_0', [0], []);
  const c1 = b.int64('const_1', [1], []);
  const c1v = b.int64('const_1_vec', [1]);
  const cMin = b.int64('const_min_length', [minLength], []);
  const cPad = b.int64('const_pad_id', [padId], []);
  // Float constants are added where used, so no initializer is left unused.
  const floatConstant = (name: string, value: number) => {
    if (!b.initializers.some((t) => t.name === name)) b.float(name, Float32Array.of(value), []);
    return name;
  };

  // Pad the ids on the right to at least minLength.
  const shape = b.node('Shape', ['input_ids']);
  const seqLen = b.node('Gather', [shape, c1], [attrInt('axis', 0)], 'seq_len');
  const short = b.node('Max', [b.node('Sub', [cMin, seqLen]), c0]);
  const pads = b.node('Concat', [b.int64('const_pads_head', [0, 0, 0]), b.node('Unsqueeze', [short, b.int64('const_axes0', [0])])], [attrInt('axis', 0)]);
  const ids = b.node('Pad', ['input_ids', pads, cPad], [], 'ids_padded');
  const paddedLen = b.node('Gather', [b.node('Shape', [ids]), c1], [attrInt('axis', 0)], 'padded_len');

  // Row length: last non-pad position, at least minLength: [batch, 1].
  const nonPad = b.node('Cast', [b.node('Not', [b.node('Equal', [ids, cPad])])], [attrInt('to', DataType.INT64)]);
  const positions = b.node('Range', [c1, b.node('Add', [paddedLen, c1]), c1], [], 'positions');
  const lastReal = b.node('ReduceMax', [b.node('Mul', [nonPad, positions])], [attrInts('axes', [1]), attrInt('keepdims', 1)]);
  const rowLen = b.node('Max', [lastReal, cMin], [], 'row_len');

  const names = new Map<string, string>();
  for (const layer of graph.layers) {
    const out = `t_${layer.name}`;
    switch (layer.type) {
      case 'embedding': {
        const w = params.get(`${layer.name}.weight`)!;
        b.float(`${layer.name}.weight`, w, [layer.vocabSize, layer.dim]);
        // [batch, len, dim] -> [batch, dim, len] for Conv.
        const gathered = b.node('Gather', [`${layer.name}.weight`, ids], [attrInt('axis', 0)]);
        names.set(layer.name, b.node('Transpose', [gathered], [attrInts('perm', [0, 2, 1])], out));
        break;
      }
      case 'conv1d': {
        const inC = shapes.get(layer.input)!.channels;
        const { left: padLeft, right: padRight } = convPads(layer);
        const w = convWeightToOnnx(params.get(`${layer.name}.weight`)!, layer.outChannels, layer.width, inC);
        b.float(`${layer.name}.weight`, w, [layer.outChannels, inC, layer.width]);
        b.float(`${layer.name}.bias`, params.get(`${layer.name}.bias`)!, [layer.outChannels]);
        const y = b.node('Conv', [names.get(layer.input)!, `${layer.name}.weight`, `${layer.name}.bias`], [attrInts('kernel_shape', [layer.width]), attrInts('pads', [padLeft, padRight])], out);
        names.set(layer.name, y);
        // Valid output steps of each row: rowLen + pads - width + 1 (>= 1).
        const extra = b.int64(`${layer.name}_extra`, [padLeft + padRight - layer.width + 1], []);
        names.set(`${layer.name}#valid`, b.node('Add', [rowLen, extra], [], `${layer.name}_valid`));
        break;
      }
      case 'activation': {
        const x = names.get(layer.input)!;
        let y: string;
        switch (layer.kind) {
          case 'identity': y = b.node('Identity', [x], [], out); break;
          case 'relu': y = b.node('Relu', [x], [], out); break;
          case 'tanh': y = b.node('Tanh', [x], [], out); break;
          case 'sigmoid': y = b.node('Sigmoid', [x], [], out); break;
          case 'leakyRelu': y = b.node('LeakyRelu', [x], [attrFloat('alpha', layer.slope ?? 0.01)], out); break;
          case 'gelu': {
            // 0.5 x (1 + erf(x / sqrt 2)): what PyTorch exports for GELU before opset 20.
            const erf = b.node('Erf', [b.node('Div', [x, b.float(`${layer.name}_sqrt2`, Float32Array.of(Math.SQRT2), [])])]);
            const onePlus = b.node('Add', [erf, b.float(`${layer.name}_one`, Float32Array.of(1), [])]);
            y = b.node('Mul', [b.node('Mul', [x, onePlus]), b.float(`${layer.name}_half`, Float32Array.of(0.5), [])], [], out);
            break;
          }
          case 'geluTanh': {
            const cube = b.node('Mul', [x, b.node('Mul', [x, x])]);
            const inner = b.node('Mul', [b.node('Add', [x, b.node('Mul', [cube, b.float(`${layer.name}_c`, Float32Array.of(0.044715), [])])]), b.float(`${layer.name}_k`, Float32Array.of(Math.sqrt(2 / Math.PI)), [])]);
            const onePlus = b.node('Add', [b.node('Tanh', [inner]), b.float(`${layer.name}_one`, Float32Array.of(1), [])]);
            y = b.node('Mul', [b.node('Mul', [x, onePlus]), b.float(`${layer.name}_half`, Float32Array.of(0.5), [])], [], out);
            break;
          }
        }
        names.set(layer.name, y);
        if (names.has(`${layer.input}#valid`)) names.set(`${layer.name}#valid`, names.get(`${layer.input}#valid`)!);
        break;
      }
      case 'dropout':
        names.set(layer.name, names.get(layer.input)!); // identity at inference
        if (names.has(`${layer.input}#valid`)) names.set(`${layer.name}#valid`, names.get(`${layer.input}#valid`)!);
        break;
      case 'maxOverTime':
      case 'meanOverTime': {
        const x = names.get(layer.input)!; // [batch, channels, steps]
        const valid = names.get(`${layer.input}#valid`);
        if (!valid) throw new Error(`cannot export pooling over '${layer.input}': not a convolution output`);
        const steps = b.node('Gather', [b.node('Shape', [x]), b.int64(`${layer.name}_axis2`, [2], [])], [attrInt('axis', 0)]);
        const t = b.node('Range', [c0, steps, c1]); // [steps]
        const mask = b.node('Unsqueeze', [b.node('Less', [t, valid]), c1v]); // [batch, 1, steps]
        if (layer.type === 'maxOverTime') {
          names.set(layer.name, b.node('ReduceMax', [b.node('Where', [mask, x, floatConstant('const_neg_inf', -Infinity)])], [attrInts('axes', [2]), attrInt('keepdims', 0)], `t_${layer.name}`));
        } else {
          const sum = b.node('ReduceSum', [b.node('Where', [mask, x, floatConstant('const_zero', 0)]), b.int64(`${layer.name}_axes`, [2])], [attrInt('keepdims', 0)]);
          const count = b.node('Cast', [b.node('Min', [valid, steps])], [attrInt('to', DataType.FLOAT)]); // [batch, 1]
          names.set(layer.name, b.node('Div', [sum, count], [], `t_${layer.name}`));
        }
        break;
      }
      case 'concat':
        names.set(layer.name, b.node('Concat', layer.inputs.map((n) => names.get(n)!), [attrInt('axis', 1)], out));
        break;
      case 'linear': {
        const inputs = [names.get(layer.input)!, `${layer.name}.weight`];
        b.float(`${layer.name}.weight`, params.get(`${layer.name}.weight`)!, [layer.outFeatures, shapes.get(layer.input)!.channels]);
        if (layer.bias !== false) {
          b.float(`${layer.name}.bias`, params.get(`${layer.name}.bias`)!, [layer.outFeatures]);
          inputs.push(`${layer.name}.bias`);
        }
        names.set(layer.name, b.node('Gemm', inputs, [attrInt('transB', 1)], out));
        break;
      }
    }
  }
  for (const p of infos) if (!params.has(p.name)) throw new Error(`missing parameter ${p.name}`);
  const last = names.get(graph.layers[graph.layers.length - 1].name)!;
  b.node('Identity', [last], [], 'logits');
  const classes = shapes.get(graph.layers[graph.layers.length - 1].name)!.channels;
  return createModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'finetune',
    producerVersion: input.producerVersion ?? '0',
    graph: createGraph({
      name: 'textcnn',
      node: b.nodes,
      initializer: b.initializers,
      input: [makeTensorValueInfo('input_ids', DataType.INT64, ['batch', 'sequence'])],
      output: [makeTensorValueInfo('logits', DataType.FLOAT, ['batch', classes])],
    }),
    metadataProps: Object.entries(input.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
}
