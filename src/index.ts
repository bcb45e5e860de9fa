export { FinetuneError, NativeLoadError } from './errors.js';
export { Activation, kernels, loadNative, loadCuda } from './native.js';
export type { ActivationName, NativeKernels, Conv1dShape, PoolShape, LinearShape } from './native.js';
