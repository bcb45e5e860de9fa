/**
 * The whole chain: a small TextCNN (vocab 50, dim 16, widths 2,3,4 x 8 maps,
 * 3 classes) run op by op through the native kernels, checked against
 * PyTorch 1.13 (test/fixtures/torch/textcnn_parity.json; regenerate with
 * `/usr/bin/python3 test/fixtures/torch/gen_textcnn_parity.py`) and against
 * float64 central differences of the loss for every parameter.
 */
import { describe, expect, it } from 'vitest';

import { kernels } from '../../src/native.js';
import { closeness, expectClose, expectTensorClose } from '../helpers/compare.js';
import { TestRandom } from '../helpers/random.js';
import { numericGradient, type ActName } from '../helpers/reference.js';
import {
  cloneParams,
  flatten,
  nativeForwardBackward,
  paramList,
  referenceLoss,
  type Batch,
  type TinyConfig,
  type TinyParams,
} from '../helpers/textcnn.js';
import fixture from '../fixtures/torch/textcnn_parity.json' with { type: 'json' };
import { torchConvWeight } from '../helpers/torch.js';

const k = kernels();
type Tensor = { shape: number[]; data: number[] };
type NamedTensors = Record<string, Tensor>;

const { vocab, dim, widths, maps, classes, padId } = fixture.config;
const baseConfig: TinyConfig = { vocab, dim, widths, maps, classes, padId, activation: 'relu', pool: 'max' };
const batch: Batch = {
  ids: Int32Array.from(fixture.ids.flat()),
  batch: fixture.ids.length,
  length: fixture.ids[0].length,
  labels: Int32Array.from(fixture.labels),
  rowLengths: null, // PyTorch-compatible: every position of the padded batch is pooled
};

function fromTorch(t: NamedTensors): TinyParams {
  return {
    embedding: Float32Array.from(t['embedding.weight'].data),
    convWeight: widths.map((w, i) => torchConvWeight(t[`convs.${i}.weight`].data, maps, dim, w)),
    convBias: widths.map((_, i) => Float32Array.from(t[`convs.${i}.bias`].data)),
    fcWeight: Float32Array.from(t['fc.weight'].data),
    fcBias: Float32Array.from(t['fc.bias'].data),
  };
}

const names = ['embedding', ...widths.map((_, i) => `conv${i}.weight`), ...widths.map((_, i) => `conv${i}.bias`), 'fc.weight', 'fc.bias'];
const initial = fromTorch(fixture.params as NamedTensors);

/** PyTorch parity: 1e-5 relative to each tensor's largest magnitude (expectTensorClose). */
const TOL = 1e-5;

function expectParamsClose(got: TinyParams, want: TinyParams, what: string) {
  const g = paramList(got), w = paramList(want);
  names.forEach((n, i) => expectTensorClose(g[i], w[i], TOL, `${what} ${n}`));
}

describe('TextCNN forward/backward matches PyTorch', () => {
  it('logits, loss and every parameter gradient (relu, max over time)', () => {
    const r = nativeForwardBackward(baseConfig, initial, batch);
    expectTensorClose(r.logits, fixture.logits.data, TOL, 'logits');
    expect(Math.abs(r.loss - fixture.loss) / fixture.loss).toBeLessThan(TOL);
    expectParamsClose(r.grads, fromTorch(fixture.grads as NamedTensors), 'grad');
    // The pad row never learns.
    expect(r.grads.embedding.subarray(0, dim).every((v) => v === 0)).toBe(true);
  });

  const variants: Array<[string, Partial<TinyConfig>]> = [
    ['tanh', { activation: 'tanh' }],
    ['gelu', { activation: 'gelu' }],
    ['geluTanh', { activation: 'geluTanh' }],
    ['sigmoid', { activation: 'sigmoid' }],
    ['leakyRelu', { activation: 'leakyRelu', slope: fixture.variants.leakyRelu.negativeSlope }],
    ['meanPool', { pool: 'mean' }],
  ];
  for (const [key, change] of variants) {
    it(`variant ${key}`, () => {
      const v = (fixture.variants as Record<string, { logits: Tensor; loss: number; grads: NamedTensors }>)[key];
      const r = nativeForwardBackward({ ...baseConfig, ...change }, initial, batch);
      expectTensorClose(r.logits, v.logits.data, TOL, `${key} logits`);
      expect(Math.abs(r.loss - v.loss) / v.loss).toBeLessThan(TOL);
      expectParamsClose(r.grads, fromTorch(v.grads), `${key} grad`);
    });
  }

  it('per-row lengths: each text in the batch gets the logits it gets alone', () => {
    const rowLengths = Int32Array.from(fixture.lengths, (len) => Math.max(len, Math.max(...widths)));
    const r = nativeForwardBackward(baseConfig, initial, { ...batch, rowLengths });
    expectTensorClose(r.logits, fixture.logitsSingle.data, TOL, 'per-row logits');
    // And PyTorch's padded batch really differs, so the switch matters.
    expect(closeness(r.logits, fixture.logits.data).maxAbs).toBeGreaterThan(1e-2);
  });
});

describe('TextCNN training steps match torch.optim', () => {
  type OptFixture = { lr: number; steps: number; losses: number[]; params: NamedTensors; weightDecay: number; betas?: number[]; eps?: number; momentum?: number; dampening?: number; nesterov?: boolean };
  const cases: Array<[string, OptFixture, 'adam' | 'adamw' | 'sgd']> = [
    ['Adam', fixture.adam as OptFixture, 'adam'],
    ['AdamW', fixture.adamw as OptFixture, 'adamw'],
    ['Adam with L2 decay', fixture.adamL2 as OptFixture, 'adam'],
    ['SGD momentum', fixture.sgdMomentum as OptFixture, 'sgd'],
    ['SGD Nesterov', fixture.sgdNesterov as OptFixture, 'sgd'],
  ];
  for (const [name, f, kind] of cases) {
    it(`${name}: ${f.steps} steps`, () => {
      const p = cloneParams(initial);
      const params = paramList(p);
      const state = params.map((a) => ({ m: new Float32Array(a.length), v: new Float32Array(a.length) }));
      for (let step = 1; step <= f.steps; step++) {
        const r = nativeForwardBackward(baseConfig, p, batch);
        expect(Math.abs(r.loss - f.losses[step - 1]) / f.losses[step - 1]).toBeLessThan(TOL);
        paramList(r.grads).forEach((grad, i) => {
          if (kind === 'sgd') {
            k.sgdUpdate({
              param: params[i], grad, momentumBuffer: state[i].m, firstStep: step === 1,
              lr: f.lr, momentum: f.momentum, dampening: f.dampening, nesterov: f.nesterov, weightDecay: f.weightDecay,
            });
          } else {
            k.adamUpdate({
              param: params[i], grad, m: state[i].m, v: state[i].v, step,
              lr: f.lr, beta1: f.betas![0], beta2: f.betas![1], eps: f.eps, weightDecay: f.weightDecay, decoupled: kind === 'adamw',
            });
          }
        });
      }
      expectParamsClose(p, fromTorch(f.params), name);
    });
  }
});

describe('TextCNN gradient check: loss -> every parameter by float64 central differences', () => {
  const activations: ActName[] = ['relu', 'tanh', 'gelu'];
  for (const activation of activations) {
    it(`${activation}, ragged batch with per-row lengths`, () => {
      const rng = new TestRandom(activation.length);
      const cfg: TinyConfig = { vocab: 11, dim: 5, widths: [2, 3], maps: 3, classes: 3, padId: 0, activation, pool: 'max' };
      const lengths = [5, 2, 4];
      const L = 5;
      const ids = new Int32Array(lengths.length * L);
      lengths.forEach((len, b) => { for (let t = 0; t < len; t++) ids[b * L + t] = rng.int(1, cfg.vocab - 1); });
      const rowLengths = Int32Array.from(lengths, (len) => Math.max(len, 3));
      const small: Batch = { ids, batch: lengths.length, length: L, labels: Int32Array.from([0, 2, 1]), rowLengths };
      const p: TinyParams = {
        embedding: rng.floats(cfg.vocab * cfg.dim),
        convWeight: cfg.widths.map((w) => rng.floats(cfg.maps * w * cfg.dim, 0.5)),
        convBias: cfg.widths.map(() => rng.floats(cfg.maps, 0.1)),
        fcWeight: rng.floats(cfg.classes * cfg.widths.length * cfg.maps, 0.5),
        fcBias: rng.floats(cfg.classes, 0.1),
      };
      p.embedding.fill(0, 0, cfg.dim); // pad row, as padding_idx initialises it
      const r = nativeForwardBackward(cfg, p, small);
      const flat = flatten(paramList(p));
      const numeric = numericGradient((v) => referenceLoss(cfg, v, small).loss, flat, 1e-6);
      // The pad row's true derivative is not zero (pad positions take part in
      // convolution), but padding_idx freezes it, as in PyTorch.
      numeric.fill(0, 0, cfg.dim);
      expectClose(flatten(paramList(r.grads)), numeric, 1e-3, `${activation} gradient`, 1e-2);
      expect(Math.abs(r.loss - referenceLoss(cfg, flat, small).loss)).toBeLessThan(1e-5);
    });
  }
});
