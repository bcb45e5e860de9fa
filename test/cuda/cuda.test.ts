/**
 * The CUDA module: built where nvcc exists, tested where a GPU exists.
 * Without either, these tests are skipped and say why; the argument checks
 * and the no-device error path run wherever the module is built.
 */
import { describe, expect, it } from 'vitest';

import { cudaModule as cuda, describeGpu, gpuSkipReason } from './setup.js';

function thrown(fn: () => unknown): Error & { code?: string; cudaError?: string; sticky?: boolean } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error');
}

const f = (n: number) => new Float32Array(n);

describe(`CUDA module${cuda ? '' : ' (skipped: CUDA module not built; run `npm run build:cuda`)'}`, () => {
  it.skipIf(!cuda)('loads separately from the CPU module and reports its runtime', () => {
    expect(cuda!.probe().runtimeVersion).toBeGreaterThanOrEqual(11000);
    expect(Object.keys(cuda!.kernels).sort()).toContain('conv1dBackwardWeight');
  });

  it.skipIf(!cuda)('checks arguments like the CPU bindings, before touching the device', () => {
    const k = cuda!.kernels;
    let e = thrown(() => k.adamUpdate({ param: new Float64Array(3) as unknown as Float32Array, grad: f(3), m: f(3), v: f(3), lr: 1, step: 1 }));
    expect(e.code).toBe('ERR_FINETUNE_ARG_TYPE');
    expect(e.message).toMatch(/adamUpdate: Expected Float32Array for param but received Float64Array/);
    e = thrown(() => k.embeddingForward({ ids: Int32Array.from([0, 5]), weight: f(10), out: f(4), vocab: 5, dim: 2 }));
    expect(e.code).toBe('ERR_FINETUNE_ARG_RANGE');
    expect(e.message).toMatch(/ids\[1\] = 5 is outside the vocabulary/);
    e = thrown(() => k.conv1dForward({ batch: 1, length: 2, inChannels: 1, outChannels: 1, width: 3, x: f(2), weight: f(3), y: f(0) }));
    expect(e.code).toBe('ERR_FINETUNE_ARG_RANGE');
    e = thrown(() => (k.linearForward as (a: unknown) => void)(undefined));
    expect(e.code).toBe('ERR_FINETUNE_ARG_TYPE');
  });

  it.skipIf(!cuda || gpuSkipReason === '')('without a usable GPU a kernel call is a clean ERR_FINETUNE_CUDA error, never a crash', () => {
    const e = thrown(() => cuda!.kernels.activationForward({ kind: 1, x: f(4), y: f(4) }));
    expect(e.code).toBe('ERR_FINETUNE_CUDA');
    expect(e.message).toMatch(/CUDA error at native\/cuda\/.+:\d+ in .+: /);
    expect(typeof e.cudaError).toBe('string');
    expect(cuda!.deviceLost()).toBeNull();
  });
});

describeGpu('CUDA module on the GPU', () => {
  it('runs a kernel', () => {
    const x = Float32Array.from([1, 2, 3]);
    cuda!.addOne(x);
    expect(Array.from(x)).toEqual([2, 3, 4]);
  });

  it('describes the device', () => {
    const d = cuda!.deviceInfo();
    expect(d.name.length).toBeGreaterThan(0);
    expect(d.multiprocessors).toBeGreaterThan(0);
    expect(d.totalMemory).toBeGreaterThan(d.freeMemory * 0.5);
  });

  it('times every kernel on a tiny model (a smoke test of bench/gpu-kernels.ts)', () => {
    const rows = cuda!.benchKernels({ batch: 3, length: 9, dim: 16, vocab: 50, widths: [2, 5], maps: 4, classes: 3, iters: 1, bandwidthElements: 4096 });
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) expect(Number.isFinite(r.ms) && r.ms >= 0, r.name).toBe(true);
    expect(rows.map((r) => r.name)).toContain('conv1d.backwardWeight w=5');
  });

  it('out of device memory is a clean, non-sticky error, and the next call works', () => {
    const e = thrown(() => cuda!.allocateDevice({ bytes: 2 ** 50 }));
    expect(e.code).toBe('ERR_FINETUNE_CUDA');
    expect(e.cudaError).toBe('cudaErrorMemoryAllocation');
    expect(e.sticky).toBe(false);
    expect(cuda!.deviceLost()).toBeNull();
    const y = f(3);
    cuda!.kernels.activationForward({ kind: 1, x: Float32Array.from([-1, 0, 2]), y });
    expect(Array.from(y)).toEqual([0, 0, 2]);
  });
});
