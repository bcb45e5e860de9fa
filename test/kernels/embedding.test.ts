import { describe, expect, it } from 'vitest';

import { kernels } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { dot, embeddingBackwardRef, embeddingForwardRef, numericGradient } from '../helpers/reference.js';
import ops from '../fixtures/torch/ops.json' with { type: 'json' };

const k = kernels();

describe('embedding', () => {
  it('gathers rows and scatter-adds gradients like the reference, skipping the padding row', () => {
    const rng = new TestRandom(31);
    for (let trial = 0; trial < 20; trial++) {
      const vocab = rng.int(1, 17), dim = rng.int(1, 13), n = rng.int(0, 23);
      const ids = rng.ints(n, 0, vocab - 1);
      const weight = rng.floats(vocab * dim);
      const out = new Float32Array(n * dim);
      k.embeddingForward({ ids, weight, out, vocab, dim });
      expect(Array.from(out)).toEqual(Array.from(embeddingForwardRef(ids, weight, dim), Math.fround));
      const gradOut = rng.floats(n * dim);
      const paddingIdx = trial % 3 === 0 ? -1 : rng.int(0, vocab - 1);
      const gradWeight = new Float32Array(vocab * dim).fill(0.5);
      k.embeddingBackward({ ids, gradOut, gradWeight, vocab, dim, paddingIdx });
      const ref = embeddingBackwardRef(ids, gradOut, vocab, dim, paddingIdx).map((v) => v + 0.5);
      expectClose(gradWeight, ref, 1e-6, 'gradWeight', 1);
      if (paddingIdx >= 0) for (let d = 0; d < dim; d++) expect(gradWeight[paddingIdx * dim + d]).toBe(0.5);
    }
  });

  it('backward equals central differences of sum(dy * embed(W))', () => {
    const rng = new TestRandom(32);
    const vocab = 7, dim = 5;
    const ids = Int32Array.from([3, 1, 3, 6, 0, 3]);
    const weight = rng.floats(vocab * dim);
    const dy = rng.floats(ids.length * dim);
    const g = new Float32Array(vocab * dim);
    k.embeddingBackward({ ids, gradOut: dy, gradWeight: g, vocab, dim });
    expectClose(g, numericGradient((w) => dot(dy, embeddingForwardRef(ids, w, dim)), weight), 1e-5, 'dW', 0.1);
  });

  it('matches PyTorch padding_idx semantics', () => {
    const f = ops.embeddingBackward;
    const [vocab, dim] = f.weight.shape;
    const ids = Int32Array.from((f.ids as number[][]).flat());
    const out = new Float32Array(ids.length * dim);
    const weight = Float32Array.from(f.weight.data);
    k.embeddingForward({ ids, weight, out, vocab, dim });
    expect(Array.from(out)).toEqual(f.y.data);
    const g = new Float32Array(vocab * dim);
    k.embeddingBackward({ ids, gradOut: Float32Array.from(f.dy.data), gradWeight: g, vocab, dim, paddingIdx: f.paddingIdx });
    expectClose(g, f.dweight.data, 1e-6, 'dweight');
  });

  it('rejects ids outside the vocabulary, naming the position', () => {
    const out = new Float32Array(6);
    expect(() =>
      k.embeddingForward({ ids: Int32Array.from([0, 4]), weight: new Float32Array(12), out, vocab: 4, dim: 3 }),
    ).toThrow(/ids\[1\] = 4 is outside the vocabulary \[0, 4\)/);
    expect(() =>
      k.embeddingForward({ ids: Int32Array.from([-1, 0]), weight: new Float32Array(12), out, vocab: 4, dim: 3 }),
    ).toThrow(RangeError);
  });
});
