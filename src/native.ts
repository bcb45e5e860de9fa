/**
 * The only module that loads the native addon. It finds the package root,
 * loads `prebuilds/<platform>-<arch>/` or `build/Release/` through
 * node-gyp-build, and describes the addon's functions with types.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NativeLoadError } from './errors.js';

const require = createRequire(import.meta.url);

/** Activation ids shared with native/cpu/activation.h. */
export const Activation = {
  identity: 0,
  relu: 1,
  tanh: 2,
  sigmoid: 3,
  gelu: 4,
  geluTanh: 5,
  leakyRelu: 6,
} as const;
export type ActivationName = keyof typeof Activation;

export interface Conv1dShape {
  batch: number;
  /** Input time steps. */
  length: number;
  inChannels: number;
  outChannels: number;
  width: number;
  /** Zero steps before the input (default 0). */
  padLeft?: number;
  /** Zero steps after the input (default 0). */
  padRight?: number;
}

export interface PoolShape {
  batch: number;
  steps: number;
  channels: number;
  /** Row stride of y (default `channels`): pooling writes into a concatenation buffer. */
  yStride?: number;
  /** Column where this pooling's features start in each row of y (default 0). */
  yOffset?: number;
}

export interface LinearShape {
  rows: number;
  inFeatures: number;
  outFeatures: number;
}

/**
 * Per-op kernels, for tests and kernel benchmarks. Layouts are channels-last:
 * conv input [batch, length, inChannels], weight [outChannels, width, inChannels].
 * Backward kernels add into parameter and input gradients (callers zero them),
 * except activation, dropout and pooling backward, which write their output.
 */
export interface NativeKernels {
  embeddingForward(a: { ids: Int32Array; weight: Float32Array; out: Float32Array; vocab: number; dim: number }): void;
  embeddingBackward(a: {
    ids: Int32Array;
    gradOut: Float32Array;
    gradWeight: Float32Array;
    vocab: number;
    dim: number;
    paddingIdx?: number;
  }): void;
  conv1dForward(a: Conv1dShape & { x: Float32Array; weight: Float32Array; bias?: Float32Array | null; y: Float32Array }): void;
  conv1dBackwardInput(a: Conv1dShape & { dy: Float32Array; weight: Float32Array; dx: Float32Array }): void;
  conv1dBackwardWeight(a: Conv1dShape & { x: Float32Array; dy: Float32Array; dWeight: Float32Array }): void;
  conv1dBackwardBias(a: Conv1dShape & { dy: Float32Array; dBias: Float32Array }): void;
  activationForward(a: { kind: number; slope?: number; x: Float32Array; y: Float32Array }): void;
  activationBackward(a: {
    kind: number;
    slope?: number;
    x?: Float32Array | null;
    y?: Float32Array | null;
    dy: Float32Array;
    dx: Float32Array;
  }): void;
  maxOverTimeForward(
    a: PoolShape & { x: Float32Array; rowSteps?: Int32Array | null; y: Float32Array; argmax: Int32Array },
  ): void;
  maxOverTimeBackward(a: PoolShape & { dy: Float32Array; argmax: Int32Array; dx: Float32Array }): void;
  meanOverTimeForward(a: PoolShape & { x: Float32Array; rowSteps?: Int32Array | null; y: Float32Array }): void;
  meanOverTimeBackward(a: PoolShape & { dy: Float32Array; rowSteps?: Int32Array | null; dx: Float32Array }): void;
  /** Returns the generator counter after drawing x.length values. */
  dropoutForward(a: { x: Float32Array; y: Float32Array; mask: Uint8Array; p: number; seed: number; counter: number }): number;
  dropoutBackward(a: { dy: Float32Array; mask: Uint8Array; dx: Float32Array; p: number }): void;
  linearForward(a: LinearShape & { x: Float32Array; weight: Float32Array; bias?: Float32Array | null; y: Float32Array }): void;
  linearBackwardInput(a: LinearShape & { dy: Float32Array; weight: Float32Array; dx: Float32Array }): void;
  linearBackwardWeight(a: LinearShape & { x: Float32Array; dy: Float32Array; dWeight: Float32Array }): void;
  linearBackwardBias(a: LinearShape & { dy: Float32Array; dBias: Float32Array }): void;
  softmaxCrossEntropy(a: {
    logits: Float32Array;
    labels: Int32Array;
    rows: number;
    classes: number;
    classWeights?: Float32Array | null;
    labelSmoothing?: number;
    gradLogits?: Float32Array | null;
  }): { loss: number; correct: number };
  adamUpdate(a: {
    param: Float32Array;
    grad: Float32Array;
    m: Float32Array;
    v: Float32Array;
    lr: number;
    beta1?: number;
    beta2?: number;
    eps?: number;
    weightDecay?: number;
    /** AdamW's decoupled weight decay. */
    decoupled?: boolean;
    /** 1-based step number, for bias correction. */
    step: number;
  }): void;
  sgdUpdate(a: {
    param: Float32Array;
    grad: Float32Array;
    momentumBuffer?: Float32Array;
    lr: number;
    momentum?: number;
    dampening?: number;
    weightDecay?: number;
    nesterov?: boolean;
    firstStep?: boolean;
  }): void;
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
  /** Returns the global L2 norm before clipping. */
  clipGradNorm(a: { grads: Float32Array[]; maxNorm: number }): number;
}

/** A CPU kernel code path; see native/cpu/dispatch.h. */
export type KernelPath = 'scalar' | 'portable' | 'avx2' | 'avx512';

export interface NativeAddon {
  kernels: NativeKernels;
  /** `kernels`: the kernel path chosen when the addon loaded (the best the CPU runs, or FINETUNE_KERNELS). */
  features: { napiVersion: number; kernels: string };
  /** Forces a kernel path for every later call (tests, benchmarks); throws when this CPU or build lacks it. Returns it. */
  setKernelPath(path: KernelPath): KernelPath;
  /** The kernel path in use now. */
  getKernelPath(): KernelPath;
  /** The kernel paths this CPU and build can run, slowest first. */
  kernelPaths(): KernelPath[];
  /** Sets the native thread pool's size (1 to 256, default: the hardware's threads). Returns it. */
  setThreads(n: number): number;
  getThreads(): number;
  /** FMA-bound loop of the current path on every pool thread: the FLOP/s peak. */
  measurePeak(a?: { seconds?: number }): { gflops: number; threads: number; path: KernelPath };
  /** dst += src over two large buffers on the pool's threads (in place, as the optimizers): GB/s counting bytes read plus written. */
  measureBandwidth(a?: { megabytes?: number; repeats?: number }): { gbps: number; threads: number };
}

/** The package root: the nearest folder above this file with our package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'finetune') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new NativeLoadError('finetune: cannot find the package root (package.json named "finetune")');
    dir = parent;
  }
}

let cached: NativeAddon | undefined;

/** The message for an addon that did not load: why, and what to run. */
export function explainLoadFailure(root: string, err: Error): string {
  const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const built = join(root, 'build', 'Release', 'finetune.node');
  const msg = err.message;
  if (/No native build was found/.test(msg)) {
    return (
      `finetune: no native addon for ${process.platform}-${process.arch} (looked in ${prebuildDir} and ${join(root, 'build', 'Release')}).\n` +
      '  Build it from source with `npm rebuild finetune` (needs CMake >= 3.19 and a C++17 compiler),\n' +
      '  or, in a clone of the repository, `npm install`.'
    );
  }
  if (/GLIBC|GLIBCXX/.test(msg)) {
    return `finetune: the native addon needs a newer C/C++ runtime than this system has (${msg}).\n  Rebuild it here with \`npm rebuild finetune\`.`;
  }
  if (/invalid ELF header|wrong ELF class|Exec format error/.test(msg)) {
    return `finetune: the native addon was built for another platform (${msg}).\n  Rebuild it here with \`npm rebuild finetune\` (built file: ${built}).`;
  }
  return `finetune: the native addon failed to load: ${msg}\n  Try \`npm rebuild finetune\`.`;
}

/** Loads the CPU addon once; throws NativeLoadError with advice when it cannot. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  try {
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = load(root);
  } catch (err) {
    throw new NativeLoadError(explainLoadFailure(root, err as Error), { cause: err });
  }
  return cached;
}

/** Per-op kernels (tests and benchmarks). */
export function kernels(): NativeKernels {
  return loadNative().kernels;
}

export interface CudaAddon {
  probe(): { runtimeVersion: number; deviceCount: number; error: string | null };
  addOne(x: Float32Array): void;
}

let cachedCuda: CudaAddon | null | undefined;

/**
 * The CUDA module, loaded only on request so that the CPU module works where
 * CUDA libraries are absent. Returns null when it was not built (no nvcc).
 */
export function loadCuda(): CudaAddon | null {
  if (cachedCuda !== undefined) return cachedCuda;
  const root = packageRoot();
  // `npm install` builds into build/, `npm run build:cuda` into build-cuda/: the newer one is the one just built.
  const file = [join(root, 'build', 'cuda', 'finetune_cuda.node'), join(root, 'build-cuda', 'cuda', 'finetune_cuda.node')]
    .filter((f) => existsSync(f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) {
    cachedCuda = null;
    return null;
  }
  try {
    cachedCuda = require(file) as CudaAddon;
  } catch (err) {
    throw new NativeLoadError(
      `finetune: the CUDA module ${file} exists but failed to load: ${(err as Error).message}\n` +
        '  Check the CUDA driver, or rebuild with `npm run build:cuda`.',
      { cause: err },
    );
  }
  return cachedCuda;
}
