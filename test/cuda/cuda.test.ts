/**
 * The CUDA module: built where nvcc exists, tested where a GPU exists.
 * Without either, these tests are skipped and say why.
 */
import { describe, expect, it } from 'vitest';

import { loadCuda } from '../../src/native.js';

const cuda = loadCuda();
const probe = cuda?.probe();
const gpuReason = !cuda
  ? 'CUDA module not built (no nvcc at install time)'
  : probe && probe.deviceCount === 0
    ? `no usable GPU: ${probe.error ?? 'no device'}`
    : '';

describe('CUDA module', () => {
  it.skipIf(!cuda)('loads separately from the CPU module and reports its runtime', () => {
    expect(probe!.runtimeVersion).toBeGreaterThanOrEqual(11000);
  });

  describe.skipIf(gpuReason !== '')(`on the GPU${gpuReason ? ` (skipped: ${gpuReason})` : ''}`, () => {
    it('runs a kernel', () => {
      const x = Float32Array.from([1, 2, 3]);
      cuda!.addOne(x);
      expect(Array.from(x)).toEqual([2, 3, 4]);
    });
  });
});
