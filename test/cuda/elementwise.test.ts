/**
 * CUDA activations and dropout against the CPU kernels.
 * Activations: relu, leaky relu and identity bitwise; tanh, sigmoid and both
 * GELUs within 2e-5 relative (floor 1e-2: the GELU derivative crosses zero
 * near x = -0.75 by cancellation), since device tanhf/expf/erfcf differ from
 * glibc's by a few ulp. Dropout: the same counter-based generator, so mask,
 * output and the returned counter are bitwise equal.
 */
import { it, expect } from 'vitest';

import { Activation } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { both, describeGpu, expectSame } from './setup.js';

const EXACT = new Set<number>([Activation.identity, Activation.relu, Activation.leakyRelu]);

describeGpu('CUDA activations against the CPU', () => {
  for (const [name, kind] of Object.entries(Activation)) {
    it(`${name}: forward and backward`, () => {
      const rng = new TestRandom(9400 + kind);
      for (const n of [1, 7, 256, 1000, 100_003]) {
        const x = rng.floats(n, 4);
        if (n > 10) {
          x[0] = 0;
          x[1] = -0;
          x[2] = 30;
          x[3] = -30;
          x[4] = NaN;
          x[5] = -0.7518;
        }
        const slope = 0.07;
        const f = both('activationForward', { kind, slope, x, y: new Float32Array(n) });
        const b = both('activationBackward', { kind, slope, x, y: f.cpu.y, dy: rng.floats(n), dx: new Float32Array(n) });
        if (EXACT.has(kind)) {
          expectSame(f.gpu.y, f.cpu.y, `${name} y (n ${n})`);
          expectSame(b.gpu.dx, b.cpu.dx, `${name} dx (n ${n})`);
        } else {
          expectClose(f.gpu.y, f.cpu.y, 2e-5, `${name} y (n ${n})`, 1e-2);
          expectClose(b.gpu.dx, b.cpu.dx, 2e-5, `${name} dx (n ${n})`, 1e-2);
        }
      }
    });
  }
});

describeGpu('CUDA dropout against the CPU (bitwise)', () => {
  it('the same mask and output for any seed, counter and p; backward too', () => {
    const rng = new TestRandom(9501);
    for (const [p, seed, counter, n] of [
      [0.5, 1234, 0, 10_001],
      [0.1, 7, 123_456_789, 999],
      [0.9, 2 ** 40 + 3, 2 ** 33, 4096],
      [0, 5, 0, 17],
      [1, 5, 0, 17],
    ]) {
      const x = rng.floats(n);
      const f = both<{ x: Float32Array; y: Float32Array; mask: Uint8Array; p: number; seed: number; counter: number }, number>(
        'dropoutForward',
        { x, y: new Float32Array(n), mask: new Uint8Array(n), p, seed, counter },
      );
      expect(f.gpuResult).toBe(f.cpuResult);
      expectSame(f.gpu.mask, f.cpu.mask, `p ${p} mask`);
      expectSame(f.gpu.y, f.cpu.y, `p ${p} y`);
      const b = both('dropoutBackward', { dy: rng.floats(n), mask: f.cpu.mask, dx: new Float32Array(n), p });
      expectSame(b.gpu.dx, b.cpu.dx, `p ${p} dx`);
    }
  });
});
