/**
 * Shared by test/cuda/*.test.ts: the CUDA module (when built), the reason its
 * GPU tests skip (no module, no driver, no device), the CPU kernels they are
 * compared with, and comparison helpers.
 */
import { describe, expect } from 'vitest';

import { cudaAvailability, type CudaKernels, type CudaModule } from '../../src/cuda/index.js';
import { kernels, type NativeKernels } from '../../src/native.js';

const availability = cudaAvailability();

/** The CUDA module, or null when it was not built. */
export const cudaModule: CudaModule | null = availability.module;
/** '' when a GPU is usable; otherwise why the GPU tests are skipped. */
export const gpuSkipReason = availability.reason;
/** The CUDA kernels (only dereference inside describeGpu). */
export const gpu = (cudaModule?.kernels ?? null) as CudaKernels;
/** The CPU kernels: the oracle. */
export const cpu: NativeKernels = kernels();

/**
 * FINETUNE_REQUIRE_GPU=1 (bench/gpu-check.sh sets it): never skip; without a
 * usable GPU the GPU tests then fail with the device error instead.
 */
const requireGpu = process.env.FINETUNE_REQUIRE_GPU === '1';

/** A describe block that runs only with a GPU, and says why it skipped otherwise. */
export function describeGpu(name: string, body: () => void): void {
  const skip = gpuSkipReason !== '' && !requireGpu;
  describe.skipIf(skip)(skip ? `${name} (skipped: ${gpuSkipReason})` : name, body);
}

/** Exact equality, NaN matching NaN (payloads may differ between CPU and GPU). */
export function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (!Object.is(a, b) && !(a === 0 && b === 0)) throw new Error(`${what}[${i}]: ${a} (GPU) vs ${b} (CPU), expected bitwise equal`);
  }
}

/** Runs one kernel on both backends with structurally cloned options (outputs start equal). */
export function both<A extends object, R>(
  name: keyof CudaKernels & keyof NativeKernels,
  args: A,
): { gpu: A; cpu: A; gpuResult: R; cpuResult: R } {
  const g = clone(args);
  const c = clone(args);
  const gpuResult = (gpu[name] as (a: A) => R)(g);
  const cpuResult = (cpu[name] as (a: A) => R)(c);
  return { gpu: g, cpu: c, gpuResult, cpuResult };
}

/** Deep copy of an options object: typed arrays copied, arrays of them too. */
export function clone<A extends object>(args: A): A {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (ArrayBuffer.isView(v)) out[k] = (v as unknown as { slice(): unknown }).slice();
    else if (Array.isArray(v)) out[k] = v.map((e) => (ArrayBuffer.isView(e) ? (e as unknown as { slice(): unknown }).slice() : e));
    else out[k] = v;
  }
  return out as A;
}
