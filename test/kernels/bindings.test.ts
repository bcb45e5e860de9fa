/**
 * Every binding validates its arguments: wrong types, short or detached
 * buffers, negative, NaN or absurd sizes all throw a JS error that names the
 * argument; none reaches a kernel, and the process lives on.
 */
import { describe, expect, it } from 'vitest';

import { kernels, type NativeKernels } from '../../src/native.js';

const k = kernels();
type AnyArgs = Record<string, unknown>;
const call = (name: keyof NativeKernels, args: unknown) => () => (k[name] as (a: unknown) => unknown)(args);

function detached(n: number): Float32Array {
  const a = new Float32Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

const convOk = (): AnyArgs => ({
  batch: 2, length: 5, inChannels: 3, outChannels: 4, width: 3,
  x: new Float32Array(30), weight: new Float32Array(36), bias: new Float32Array(4), y: new Float32Array(24),
});

describe('binding argument checks', () => {
  it('a valid call works before and after the bad ones', () => {
    expect(call('conv1dForward', convOk())).not.toThrow();
  });

  it('refuses a missing or non-object options argument for every kernel', () => {
    for (const name of Object.keys(k) as Array<keyof NativeKernels>) {
      for (const bad of [undefined, 42, 'x', [1, 2], new Float32Array(2), null]) {
        let err: unknown;
        try {
          (k[name] as (a: unknown) => unknown)(bad);
        } catch (e) {
          err = e;
        }
        expect(err, `${name}(${String(bad)})`).toBeInstanceOf(TypeError);
        expect((err as { code: string }).code).toBe('ERR_FINETUNE_ARG_TYPE');
        expect((err as Error).message).toMatch(new RegExp(`^${name}: Expected an options object`));
      }
    }
  });

  const cases: Array<[string, AnyArgs, RegExp, ErrorConstructor]> = [
    ['Float64Array for Float32Array', { ...convOk(), x: new Float64Array(30) }, /Expected Float32Array for x but received Float64Array/, TypeError],
    ['a plain array', { ...convOk(), weight: Array(36).fill(0) }, /Expected Float32Array for weight but received Array/, TypeError],
    ['a short array', { ...convOk(), y: new Float32Array(23) }, /Expected 24 elements in y but received 23/, RangeError],
    ['a long array', { ...convOk(), bias: new Float32Array(5) }, /Expected 4 elements in bias but received 5/, RangeError],
    ['a detached buffer', { ...convOk(), x: detached(30) }, /x but its buffer is empty or detached|Expected 30 elements in x/, RangeError],
    ['a negative size', { ...convOk(), batch: -1 }, /Expected batch in \[0, .*\] but received -1/, RangeError],
    ['NaN', { ...convOk(), length: NaN }, /Expected an integer for length but received NaN/, TypeError],
    ['a fraction', { ...convOk(), width: 2.5 }, /Expected an integer for width but received 2.5/, TypeError],
    ['2^53', { ...convOk(), inChannels: 2 ** 53 }, /Expected an integer for inChannels but received 9007199254740992/, TypeError],
    ['a string size', { ...convOk(), outChannels: '4' }, /Expected an integer for outChannels but received string/, TypeError],
    ['a width longer than the input', { ...convOk(), width: 6 }, /must be at least the kernel width 6/, RangeError],
    ['an absurd size', { ...convOk(), batch: 2 ** 31, length: 2 ** 31 }, /exceeds .* elements/, RangeError],
  ];
  for (const [what, args, message, type] of cases) {
    it(`conv1dForward with ${what}`, () => {
      let err: unknown;
      try {
        call('conv1dForward', args)();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(type);
      expect((err as Error).message).toMatch(message);
      expect((err as { code: string }).code).toMatch(/^ERR_FINETUNE_ARG_(TYPE|RANGE)$/);
    });
  }

  it('refuses an embedding table of absurd size with the size it would need', () => {
    expect(call('embeddingForward', { ids: new Int32Array(1), vocab: 2 ** 31, dim: 1024, weight: new Float32Array(4), out: new Float32Array(1024) })).toThrow(
      /the size of weight exceeds 1099511627776 elements/,
    );
  });

  it('checks values that index memory: ids, labels, argmax, row steps', () => {
    expect(call('embeddingBackward', { ids: Int32Array.from([7]), vocab: 4, dim: 1, gradOut: new Float32Array(1), gradWeight: new Float32Array(4) })).toThrow(/ids\[0\] = 7/);
    expect(call('embeddingBackward', { ids: Int32Array.from([1]), vocab: 4, dim: 1, paddingIdx: 4, gradOut: new Float32Array(1), gradWeight: new Float32Array(4) })).toThrow(/paddingIdx/);
    expect(call('maxOverTimeBackward', { batch: 1, steps: 3, channels: 1, dy: new Float32Array(1), argmax: Int32Array.from([3]), dx: new Float32Array(3) })).toThrow(/argmax\[0\] = 3 is outside the steps/);
    expect(call('maxOverTimeForward', { batch: 1, steps: 3, channels: 1, x: new Float32Array(3), rowSteps: Int32Array.from([0]), y: new Float32Array(1), argmax: new Int32Array(1) })).toThrow(/rowSteps\[0\] = 0/);
    expect(call('maxOverTimeForward', { batch: 1, steps: 3, channels: 2, yOffset: 1, x: new Float32Array(6), y: new Float32Array(2), argmax: new Int32Array(2) })).toThrow(/yOffset \+ channels \(3\) exceeds yStride 2/);
    expect(call('softmaxCrossEntropy', { rows: 1, classes: 2, logits: new Float32Array(2), labels: Int32Array.from([-1]) })).toThrow(/labels\[0\] = -1/);
    expect(call('softmaxCrossEntropy', { rows: 1, classes: 2, logits: new Float32Array(2), labels: new Int32Array(1), classWeights: Float32Array.from([1, NaN]) })).toThrow(/classWeights\[1\]/);
  });

  it('checks hyperparameters', () => {
    const a = () => new Float32Array(3);
    expect(call('adamUpdate', { param: a(), grad: a(), m: a(), v: a(), lr: NaN, step: 1 })).toThrow(/Expected a finite number for lr but received NaN/);
    expect(call('adamUpdate', { param: a(), grad: a(), m: a(), v: a(), lr: -1, step: 1 })).toThrow(/Expected lr in/);
    expect(call('adamUpdate', { param: a(), grad: a(), m: a(), v: a(), lr: 0.1, step: 0 })).toThrow(/Expected step in \[1/);
    expect(call('adamUpdate', { param: a(), grad: a(), m: a(), v: new Float32Array(2), lr: 0.1, step: 1 })).toThrow(/3 elements in v/);
    expect(call('dropoutForward', { x: a(), y: a(), mask: new Uint8Array(3), p: 1.5, seed: 1, counter: 0 })).toThrow(/Expected p in \[0, 1\]/);
    expect(call('dropoutForward', { x: a(), y: a(), mask: new Uint8Array(3), p: 0.5, seed: -1, counter: 0 })).toThrow(/seed/);
    expect(call('activationForward', { kind: 99, x: a(), y: a() })).toThrow(/Expected kind in \[0, 6\]/);
    expect(call('clipGradNorm', { grads: [a(), new Float64Array(2)], maxNorm: 1 })).toThrow(/Expected Float32Array for grads\[1\] but received Float64Array/);
  });

  it('the process is still healthy after all of that', () => {
    const y = new Float32Array(2);
    k.linearForward({ rows: 1, inFeatures: 1, outFeatures: 2, x: Float32Array.from([2]), weight: Float32Array.from([1, 3]), y });
    expect(Array.from(y)).toEqual([2, 6]);
  });
});
