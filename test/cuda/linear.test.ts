/**
 * CUDA linear layer against the CPU kernels: random odd shapes, row counts
 * that split the weight gradient over several partial products.
 * Tolerance: 2e-5 of the tensor's largest magnitude (fp32, no TF32).
 */
import { it } from 'vitest';

import { expectTensorClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { both, describeGpu } from './setup.js';

const TOL = 2e-5;

function check(rng: TestRandom, rows: number, inFeatures: number, outFeatures: number, withBias: boolean): void {
  const s = { rows, inFeatures, outFeatures };
  const label = JSON.stringify(s);
  const x = rng.floats(rows * inFeatures);
  const weight = rng.floats(outFeatures * inFeatures, 0.3);
  const bias = withBias ? rng.floats(outFeatures) : null;
  const f = both('linearForward', { ...s, x, weight, bias, y: new Float32Array(rows * outFeatures) });
  expectTensorClose(f.gpu.y, f.cpu.y, TOL, `${label} forward`);
  const dy = rng.floats(rows * outFeatures);
  const bi = both('linearBackwardInput', { ...s, dy, weight, dx: rng.floats(rows * inFeatures) });
  expectTensorClose(bi.gpu.dx, bi.cpu.dx, TOL, `${label} dx`);
  const bw = both('linearBackwardWeight', { ...s, x, dy, dWeight: rng.floats(outFeatures * inFeatures) });
  expectTensorClose(bw.gpu.dWeight, bw.cpu.dWeight, TOL, `${label} dWeight`);
  const bb = both('linearBackwardBias', { ...s, dy, dBias: rng.floats(outFeatures) });
  expectTensorClose(bb.gpu.dBias, bb.cpu.dBias, TOL, `${label} dBias`);
}

describeGpu('CUDA linear against the CPU', () => {
  it('random small shapes', () => {
    const rng = new TestRandom(9101);
    for (let trial = 0; trial < 40; trial++) check(rng, rng.int(1, 9), rng.int(1, 70), rng.int(1, 9), trial % 2 === 0);
  });

  it('a TextCNN head (300 features, 2 classes) at batch 50 and 1024, and wide layers', () => {
    const rng = new TestRandom(9102);
    check(rng, 50, 300, 2, true);
    check(rng, 1024, 300, 2, true);
    check(rng, 1024, 300, 6, false);
    check(rng, 257, 131, 129, true);
    check(rng, 3000, 67, 5, true);
  });

  it('zero rows leaves the gradients as they were', () => {
    const rng = new TestRandom(9103);
    check(rng, 0, 5, 3, true);
  });
});
