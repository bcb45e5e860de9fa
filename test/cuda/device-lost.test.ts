/**
 * A sticky device fault (here an illegal address, injected by a test hook)
 * is a clean JS error, after which the device is marked lost: every later
 * call of the module rejects with ERR_FINETUNE_CUDA_DEVICE_LOST instead of
 * touching the broken context, and the process stays alive. Its own file:
 * vitest runs each file in its own process, and the fault ruins this one's
 * CUDA context for good.
 */
import { expect, it } from 'vitest';

import { cudaModule as cuda, describeGpu } from './setup.js';

function thrown(fn: () => unknown): Error & { code?: string; cudaError?: string; sticky?: boolean } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error');
}

describeGpu('CUDA device lost after a sticky fault', () => {
  it('reports the fault once, then refuses every call', async () => {
    const e = thrown(() => cuda!._injectDeviceFault());
    expect(e.code).toBe('ERR_FINETUNE_CUDA');
    expect(e.sticky).toBe(true);
    expect(cuda!.deviceLost()).toBe(e.cudaError);
    const later = thrown(() => cuda!.kernels.activationForward({ kind: 1, x: new Float32Array(2), y: new Float32Array(2) }));
    expect(later.code).toBe('ERR_FINETUNE_CUDA_DEVICE_LOST');
    expect(later.message).toMatch(/restart the process/);
    expect(thrown(() => new cuda!.CudaProgram({})).code).toBe('ERR_FINETUNE_CUDA_DEVICE_LOST');
    // The event loop and the CPU side carry on.
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(cuda!.probe().runtimeVersion).toBeGreaterThan(0);
  });
});
