export { FinetuneError, NativeLoadError } from './errors.js';
export { Activation, kernels, loadNative, loadCuda } from './native.js';
export type { ActivationName, NativeKernels, Conv1dShape, PoolShape, LinearShape } from './native.js';
export { textCNN, inferShapes, graphParams, GraphError } from './model/graph.js';
export type { ModelGraph, LayerSpec, Shape, ParamInfo, TextCNNOptions } from './model/graph.js';
export { compileModel, CompiledModel } from './model/program.js';
export type { Batch, StepOptions, StepResult, CompileOptions, OptimizerName, ProgramState } from './model/program.js';
