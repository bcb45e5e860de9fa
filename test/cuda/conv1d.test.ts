/**
 * CUDA conv1d (forward, backward input / weight / bias) against the CPU
 * kernels on random shapes: odd sizes, every padding, tiles past 64 rows and
 * columns, and batches large enough for the split-K weight gradient.
 * Tolerance: 2e-5 of the tensor's largest magnitude (fp32 both sides, no TF32;
 * only the summation order differs).
 */
import { it } from 'vitest';

import type { Conv1dShape } from '../../src/native.js';
import { expectTensorClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { convOutLength } from '../helpers/reference.js';
import { both, describeGpu } from './setup.js';

const TOL = 2e-5;

function randomShape(rng: TestRandom, big: boolean): Conv1dShape {
  const width = rng.int(1, 6);
  const padLeft = rng.int(0, width - 1);
  const padRight = rng.int(0, width - 1);
  return {
    batch: big ? rng.int(20, 70) : rng.int(1, 5),
    length: Math.max(width - padLeft - padRight, big ? rng.int(40, 90) : rng.int(1, 13)),
    inChannels: big ? rng.int(30, 140) : rng.int(1, 9),
    outChannels: big ? rng.int(60, 130) : rng.int(1, 9),
    width,
    padLeft,
    padRight,
  };
}

function check(rng: TestRandom, s: Conv1dShape, withBias: boolean): void {
  const T = convOutLength(s);
  const xn = s.batch * s.length * s.inChannels;
  const wn = s.outChannels * s.width * s.inChannels;
  const yn = s.batch * T * s.outChannels;
  const x = rng.floats(xn);
  const weight = rng.floats(wn, 0.5);
  const bias = withBias ? rng.floats(s.outChannels) : null;
  const label = JSON.stringify(s);

  const f = both('conv1dForward', { ...s, x, weight, bias, y: new Float32Array(yn) });
  expectTensorClose(f.gpu.y, f.cpu.y, TOL, `${label} forward`);

  const dy = rng.floats(yn);
  // Gradients accumulate into what is there: start from non-zero values.
  const bi = both('conv1dBackwardInput', { ...s, dy, weight, dx: rng.floats(xn) });
  expectTensorClose(bi.gpu.dx, bi.cpu.dx, TOL, `${label} dx`);
  const bw = both('conv1dBackwardWeight', { ...s, x, dy, dWeight: rng.floats(wn) });
  expectTensorClose(bw.gpu.dWeight, bw.cpu.dWeight, TOL, `${label} dWeight`);
  const bb = both('conv1dBackwardBias', { ...s, dy, dBias: rng.floats(s.outChannels) });
  expectTensorClose(bb.gpu.dBias, bb.cpu.dBias, TOL, `${label} dBias`);
}

describeGpu('CUDA conv1d against the CPU', () => {
  it('small random shapes, random padding, with and without bias', () => {
    const rng = new TestRandom(9001);
    for (let trial = 0; trial < 40; trial++) check(rng, randomShape(rng, false), trial % 3 !== 0);
  });

  it('shapes past one 64 x 64 tile and batches that split the weight gradient', () => {
    const rng = new TestRandom(9002);
    for (let trial = 0; trial < 6; trial++) check(rng, randomShape(rng, true), true);
  });

  it("Kim's shape: batch 50, length 50, 300 channels, widths 3, 4, 5 x 100 maps, 'same' and valid", () => {
    const rng = new TestRandom(9003);
    for (const width of [3, 4, 5]) {
      check(rng, { batch: 50, length: 50, inChannels: 300, outChannels: 100, width }, true);
      const padLeft = Math.floor((width - 1) / 2);
      check(rng, { batch: 7, length: 50, inChannels: 300, outChannels: 100, width, padLeft, padRight: width - 1 - padLeft }, true);
    }
  });

  it('a text shorter than the filter, padded up to it', () => {
    const rng = new TestRandom(9004);
    check(rng, { batch: 3, length: 1, inChannels: 5, outChannels: 4, width: 5, padLeft: 2, padRight: 2 }, true);
    check(rng, { batch: 2, length: 2, inChannels: 3, outChannels: 3, width: 5, padLeft: 3, padRight: 0 }, true);
  });
});
