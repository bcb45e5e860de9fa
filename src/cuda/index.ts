/**
 * Typed view of the CUDA module (native/cuda, built by `npm run build:cuda`).
 * src/native.ts loads it (loadCuda(), only on request); this file describes
 * what it exports beyond the probe: the per-op kernels, device information
 * and device-resident kernel timings. Not wired into training yet.
 */
import { loadCuda, type CudaAddon, type NativeKernels } from '../native.js';

/**
 * The CUDA kernels, one binding per CPU kernel of the same name with the same
 * options object (see NativeKernels): each copies its host arrays to the
 * device, runs, and copies the outputs back. For tests and comparisons, not
 * for speed. Errors: argument errors as the CPU binding's (ERR_FINETUNE_ARG_TYPE
 * / _RANGE); CUDA failures as Error with code ERR_FINETUNE_CUDA.
 */
export interface CudaKernels extends NativeKernels {
  /** torch.optim.Adadelta; defaults lr 1, rho 0.9, eps 1e-6. */
  adadeltaUpdate(a: {
    param: Float32Array;
    grad: Float32Array;
    squareAvg: Float32Array;
    accDelta: Float32Array;
    lr?: number;
    rho?: number;
    eps?: number;
    weightDecay?: number;
  }): void;
  /** Rescales each row of weight [rows, cols] whose L2 norm exceeds maxNorm to that norm. */
  maxNormRows(a: { weight: Float32Array; rows: number; cols: number; maxNorm: number }): void;
  /** Sum of squares in double. */
  sumOfSquares(a: { x: Float32Array }): number;
}

export interface CudaDeviceInfo {
  device: number;
  name: string;
  /** "9.0" for Hopper. */
  computeCapability: string;
  multiprocessors: number;
  totalMemory: number;
  freeMemory: number;
  l2CacheBytes: number;
  runtimeVersion: number;
  driverVersion: number;
}

export interface CudaBenchOptions {
  batch?: number;
  length?: number;
  dim?: number;
  vocab?: number;
  widths?: number[];
  maps?: number;
  classes?: number;
  /** Timed calls per kernel (after two warm-up calls). */
  iters?: number;
  /** Size of the large Adam and copy rows (0 skips them); default 2^26. */
  bandwidthElements?: number;
}

export interface CudaBenchRow {
  name: string;
  /** Mean milliseconds per call (CUDA events, data on the device). */
  ms: number;
  /** Bytes read plus written per call; 0 when not counted. */
  bytes: number;
  /** Floating-point operations per call; 0 when not counted. */
  flops: number;
}

/** One training step's figures, as the CPU Program's trainStep. */
export interface CudaStepResult {
  loss: number;
  correct: number;
  gradNorm: number;
  /** True when the loss or a gradient was not finite: nothing was updated. */
  skipped: boolean;
}

/** A batch as the CPU Program takes it: ids [batch x length] row-major, per-row lengths, labels. */
export interface CudaBatch {
  ids: Int32Array;
  lengths?: Int32Array | null;
  labels?: Int32Array | null;
  batch: number;
  length: number;
}

/** Optimizer and generator state, as the CPU Program's getState. */
export interface CudaProgramState {
  m: Float32Array;
  v: Float32Array;
  paramSteps: Float64Array;
  steps: number;
  seed: number;
  counter: number;
}

/**
 * A compiled program on the device, taking the CPU Program's spec, batch and
 * step-config objects (see src/model/program.ts, which builds them). Not wired
 * into CompiledModel yet. Parameters live on the device: params() returns
 * copies and setParams() uploads.
 */
export interface CudaProgram {
  trainStep(batch: CudaBatch, cfg: Record<string, unknown>): Promise<CudaStepResult>;
  predict(batch: CudaBatch): Promise<Float32Array>;
  evaluate(batch: CudaBatch): Promise<{ loss: number; correct: number; logits: Float32Array }>;
  params(): Array<{ name: string; group: number; frozen: boolean; values: Float32Array }>;
  /** Uploads the named parameters; others keep their values. */
  setParams(values: Record<string, Float32Array>): void;
  getState(): CudaProgramState;
  setState(s: CudaProgramState): void;
  setFrozen(a: { param: number; frozen: boolean }): void;
  info(): { classes: number; vocab: number; minLength: number; maxBatch: number; maxLength: number; deviceBytes: number };
  dispose(): void;
}

export interface CudaModule extends CudaAddon {
  kernels: CudaKernels;
  deviceInfo(): CudaDeviceInfo;
  /** The reason the device was marked lost after a sticky fault, or null. */
  deviceLost(): string | null;
  benchKernels(options?: CudaBenchOptions): CudaBenchRow[];
  CudaProgram: new (spec: unknown) => CudaProgram;
  /** cudaMalloc and cudaFree `bytes` (tests of the out-of-memory path). */
  allocateDevice(a: { bytes: number }): void;
  /**
   * Test hook: a kernel writes to an invalid address, which corrupts this
   * process's CUDA context (a sticky fault); the device is then marked lost.
   */
  _injectDeviceFault(): void;
}

/** Whether the CUDA module can run kernels here; `reason` says why not. */
export interface CudaAvailability {
  module: CudaModule | null;
  /** '' when a GPU is usable. */
  reason: string;
}

/**
 * Loads the CUDA module and checks for a device. Never throws for a missing
 * module or GPU (it says so in `reason`); throws NativeLoadError only when
 * the module exists but cannot be loaded.
 */
export function cudaAvailability(): CudaAvailability {
  const module = loadCuda() as CudaModule | null;
  if (!module) return { module: null, reason: 'CUDA module not built (run `npm run build:cuda`; needs nvcc)' };
  if (typeof (module as Partial<CudaModule>).kernels !== 'object') {
    return { module: null, reason: 'CUDA module is an older build without kernels (rebuild with `npm run build:cuda`)' };
  }
  const probe = module.probe();
  if (probe.deviceCount === 0) return { module, reason: `no usable GPU: ${probe.error ?? 'no device'}` };
  return { module, reason: '' };
}
