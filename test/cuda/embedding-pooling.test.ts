/**
 * CUDA embedding and pooling against the CPU kernels. All of these do the
 * CPU's float operations in the CPU's order (gathers, per-id sums in position
 * order, max with its tie and NaN rules, the mean's sequential sum), so the
 * results must be bitwise equal.
 */
import { it } from 'vitest';

import { TestRandom } from '../helpers/random.js';
import { both, describeGpu, expectSame } from './setup.js';

describeGpu('CUDA embedding against the CPU (bitwise)', () => {
  it('forward gathers rows; backward adds them per id in position order, skipping the padding row', () => {
    const rng = new TestRandom(9201);
    for (let trial = 0; trial < 30; trial++) {
      // Small vocabularies force repeated ids (the sorted, atomic-free path); large ones mostly distinct ids.
      const vocab = trial % 2 ? rng.int(1, 7) : rng.int(50, 5000);
      const dim = [1, 3, 31, 64, 300, 301][trial % 6];
      const n = rng.int(0, trial < 25 ? 200 : 5000);
      const ids = rng.ints(n, 0, vocab - 1);
      const weight = rng.floats(vocab * dim);
      const label = `vocab ${vocab} dim ${dim} n ${n}`;
      const f = both('embeddingForward', { ids, weight, vocab, dim, out: new Float32Array(n * dim) });
      expectSame(f.gpu.out, f.cpu.out, `${label} forward`);
      const paddingIdx = trial % 3 === 0 ? -1 : rng.int(0, vocab - 1);
      const b = both('embeddingBackward', { ids, gradOut: rng.floats(n * dim), vocab, dim, paddingIdx, gradWeight: rng.floats(vocab * dim) });
      expectSame(b.gpu.gradWeight, b.cpu.gradWeight, `${label} paddingIdx ${paddingIdx} backward`);
    }
  });

  it("Kim's batch: 50 x 50 ids over a 20,000-word vocabulary, dim 300", () => {
    const rng = new TestRandom(9202);
    const vocab = 20000, dim = 300, n = 2500;
    // Zipf-like ids: many repeats of the frequent words, as in real text.
    const ids = Int32Array.from({ length: n }, () => Math.min(vocab - 1, Math.floor(Math.exp(rng.next() * Math.log(vocab)))));
    const b = both('embeddingBackward', { ids, gradOut: rng.floats(n * dim), vocab, dim, paddingIdx: 0, gradWeight: new Float32Array(vocab * dim) });
    expectSame(b.gpu.gradWeight, b.cpu.gradWeight, 'Kim batch backward');
  });
});

describeGpu('CUDA pooling over time against the CPU (bitwise)', () => {
  it('max and mean, forward and backward, with and without per-row lengths, into a concatenation buffer', () => {
    const rng = new TestRandom(9301);
    for (let trial = 0; trial < 30; trial++) {
      const batch = rng.int(1, 9), steps = rng.int(1, 40), channels = rng.int(1, 130);
      const yOffset = rng.int(0, 5);
      const yStride = yOffset + channels + rng.int(0, 7);
      const rowSteps = trial % 2 ? Int32Array.from({ length: batch }, () => rng.int(1, steps)) : null;
      const x = rng.floats(batch * steps * channels);
      if (trial % 5 === 0) for (let i = 0; i < 7; i++) x[rng.int(0, x.length - 1)] = NaN;
      if (trial % 7 === 0) x.fill(0.5, 0, Math.min(x.length, 3 * channels)); // ties
      const shape = { batch, steps, channels, yStride, yOffset };
      const label = JSON.stringify({ ...shape, rowSteps: !!rowSteps });

      const mf = both('maxOverTimeForward', { ...shape, x, rowSteps, y: rng.floats(batch * yStride), argmax: new Int32Array(batch * channels) });
      expectSame(mf.gpu.y, mf.cpu.y, `${label} max y`);
      expectSame(mf.gpu.argmax, mf.cpu.argmax, `${label} argmax`);
      const dy = rng.floats(batch * yStride);
      const mb = both('maxOverTimeBackward', { ...shape, dy, argmax: mf.cpu.argmax, dx: rng.floats(x.length) });
      expectSame(mb.gpu.dx, mb.cpu.dx, `${label} max dx`);

      const af = both('meanOverTimeForward', { ...shape, x, rowSteps, y: rng.floats(batch * yStride) });
      expectSame(af.gpu.y, af.cpu.y, `${label} mean y`);
      const ab = both('meanOverTimeBackward', { ...shape, dy, rowSteps, dx: rng.floats(x.length) });
      expectSame(ab.gpu.dx, ab.cpu.dx, `${label} mean dx`);
    }
  });
});
