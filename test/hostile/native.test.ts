/**
 * HAZARDS.md, "The native addon inside a server": every kernel binding and the
 * Program class called with NaN, -1, 2^53, wrong types, detached or short
 * buffers, Float64Array for Float32Array -> a typed JS error with a code, never
 * an abort; absurd allocations refused with the size; use after dispose is a
 * JS error; create/dispose and predict loops keep RSS flat; a worker
 * terminated mid-call leaves the main thread healthy.
 *
 * test/kernels/bindings.test.ts checks conv1dForward field by field; this file
 * sweeps every field of every binding with the same hostile values.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { textCNN } from '../../src/model/graph.js';
import { compileModel, type Batch } from '../../src/model/program.js';
import { kernels, loadNative, type NativeKernels } from '../../src/native.js';
import { expectClean, isCleanError, moduleUrl, removeTempDirs, repoRoot, RSS_SLACK, rssMiB, tempDir, thrown, transpiledPackage } from './helpers.js';

afterAll(removeTempDirs);

const k = kernels();
type Args = Record<string, unknown>;

const f32 = (n: number, v = 0.5) => new Float32Array(n).fill(v);
const i32 = (n: number, v = 0) => new Int32Array(n).fill(v);

/** A valid call of every binding (small sizes). */
const VALID: Record<keyof NativeKernels, () => Args> = {
  embeddingForward: () => ({ ids: Int32Array.of(0, 3, 1), vocab: 4, dim: 2, weight: f32(8), out: f32(6) }),
  embeddingBackward: () => ({ ids: Int32Array.of(0, 3, 1), vocab: 4, dim: 2, paddingIdx: 0, gradOut: f32(6), gradWeight: f32(8) }),
  conv1dForward: () => ({ batch: 2, length: 5, inChannels: 3, outChannels: 4, width: 3, padLeft: 1, padRight: 1, x: f32(30), weight: f32(36), bias: f32(4), y: f32(40) }),
  conv1dBackwardInput: () => ({ batch: 2, length: 5, inChannels: 3, outChannels: 4, width: 3, dy: f32(24), weight: f32(36), dx: f32(30) }),
  conv1dBackwardWeight: () => ({ batch: 2, length: 5, inChannels: 3, outChannels: 4, width: 3, x: f32(30), dy: f32(24), dWeight: f32(36) }),
  conv1dBackwardBias: () => ({ batch: 2, length: 5, inChannels: 3, outChannels: 4, width: 3, dy: f32(24), dBias: f32(4) }),
  activationForward: () => ({ kind: 6, slope: 0.1, x: f32(5, -1), y: f32(5) }),
  activationBackward: () => ({ kind: 1, x: f32(5), y: f32(5), dy: f32(5), dx: f32(5) }),
  maxOverTimeForward: () => ({ batch: 2, steps: 3, channels: 2, yStride: 4, yOffset: 1, x: f32(12), rowSteps: Int32Array.of(3, 1), y: f32(8), argmax: i32(4) }),
  maxOverTimeBackward: () => ({ batch: 2, steps: 3, channels: 2, dy: f32(4), argmax: Int32Array.of(0, 1, 2, 0), dx: f32(12) }),
  meanOverTimeForward: () => ({ batch: 2, steps: 3, channels: 2, x: f32(12), rowSteps: Int32Array.of(2, 3), y: f32(4) }),
  meanOverTimeBackward: () => ({ batch: 2, steps: 3, channels: 2, dy: f32(4), rowSteps: Int32Array.of(2, 3), dx: f32(12) }),
  dropoutForward: () => ({ x: f32(6), y: f32(6), mask: new Uint8Array(6), p: 0.5, seed: 7, counter: 0 }),
  dropoutBackward: () => ({ dy: f32(6), mask: new Uint8Array(6).fill(1), dx: f32(6), p: 0.5 }),
  linearForward: () => ({ rows: 2, inFeatures: 3, outFeatures: 2, x: f32(6), weight: f32(6), bias: f32(2), y: f32(4) }),
  linearBackwardInput: () => ({ rows: 2, inFeatures: 3, outFeatures: 2, dy: f32(4), weight: f32(6), dx: f32(6) }),
  linearBackwardWeight: () => ({ rows: 2, inFeatures: 3, outFeatures: 2, x: f32(6), dy: f32(4), dWeight: f32(6) }),
  linearBackwardBias: () => ({ rows: 2, inFeatures: 3, outFeatures: 2, dy: f32(4), dBias: f32(2) }),
  softmaxCrossEntropy: () => ({ rows: 2, classes: 3, logits: f32(6), labels: Int32Array.of(2, 0), classWeights: f32(3, 1), labelSmoothing: 0.1, gradLogits: f32(6) }),
  adamUpdate: () => ({ param: f32(4), grad: f32(4), m: f32(4), v: f32(4), lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 3 }),
  sgdUpdate: () => ({ param: f32(4), grad: f32(4), momentumBuffer: f32(4), lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true, firstStep: false }),
  adadeltaUpdate: () => ({ param: f32(4), grad: f32(4), squareAvg: f32(4), accDelta: f32(4), lr: 1, rho: 0.95, eps: 1e-6, weightDecay: 0.01 }),
  maxNormRows: () => ({ weight: f32(6), rows: 2, cols: 3, maxNorm: 3 }),
  clipGradNorm: () => ({ grads: [f32(3), f32(2)], maxNorm: 1 }),
};

function detachedLike(a: ArrayBufferView): unknown {
  const copy = new (a.constructor as new (n: number) => ArrayBufferView)((a as Float32Array).length);
  structuredClone(copy.buffer, { transfer: [copy.buffer as ArrayBuffer] });
  return copy;
}

/** Hostile replacements for one field, by the kind of its valid value. */
function hostileValues(valid: unknown): Array<[string, unknown]> {
  const common: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['null', null],
    ['a string', '3'],
    ['an object', { length: 3 }],
    ['a bigint', 3n],
    ['a symbol', Symbol('x')],
    ['a function', () => 3],
  ];
  if (typeof valid === 'number') {
    return [
      ...common,
      ['NaN', NaN],
      ['-1', -1],
      ['2^53', 2 ** 53],
      ['2^31', 2 ** 31],
      ['2^64', 2 ** 64],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
      ['1.5', 1.5],
      ['-0', -0],
      ['a Number object', new Number(3)],
    ];
  }
  if (typeof valid === 'boolean') return [...common, ['1', 1], ['"true"', 'true']];
  if (Array.isArray(valid)) {
    return [...common, ['[Float64Array]', [new Float64Array(3)]], ['[undefined]', [undefined]], ['a sparse array', new Array(3)], ['[detached]', [detachedLike(new Float32Array(3))]]];
  }
  if (ArrayBuffer.isView(valid)) {
    const a = valid as unknown as Float32Array;
    const n = a.length;
    const v: unknown = valid;
    const other = v instanceof Float32Array ? new Float64Array(n) : v instanceof Int32Array ? new Uint32Array(n) : new Int8Array(n);
    return [
      ...common,
      [`${other.constructor.name} for ${a.constructor.name}`, other],
      ['a DataView', new DataView(new ArrayBuffer(n * 4))],
      ['a plain array', Array.from(a)],
      ['the ArrayBuffer itself', a.buffer],
      ['a short array', new (a.constructor as new (n: number) => unknown)(Math.max(0, n - 1))],
      ['a long array', new (a.constructor as new (n: number) => unknown)(n + 1)],
      ['an empty array', new (a.constructor as new (n: number) => unknown)(0)],
      ['a detached buffer', detachedLike(a)],
      ['a subarray one short', (a.slice() as Float32Array).subarray(1)],
      ['a Float16-sized Uint16Array', new Uint16Array(n)],
    ];
  }
  return common;
}

const sweep = { calls: 0, refused: 0 };
afterAll(() => console.log(`kernel binding sweep: ${sweep.calls} hostile calls, ${sweep.refused} refused with a clean error, the rest valid`));

describe('every kernel binding survives hostile arguments', () => {
  const names = Object.keys(VALID) as Array<keyof NativeKernels>;

  it('the valid calls work (the sweep starts from them)', () => {
    for (const name of names) expect(() => (k[name] as (a: Args) => unknown)(VALID[name]()), name).not.toThrow();
    expect(names.sort()).toEqual(Object.keys(k).sort());
  });

  for (const name of names) {
    it(`${name}: each field set to NaN, -1, 2^53, wrong types, short/detached buffers -> clean error or a valid call`, () => {
      const fields = Object.keys(VALID[name]());
      let refused = 0;
      let accepted = 0;
      for (const field of fields) {
        for (const [what, value] of hostileValues(VALID[name]()[field])) {
          const args = { ...VALID[name](), [field]: value };
          let err: unknown;
          sweep.calls++;
          try {
            (k[name] as (a: Args) => unknown)(args);
            accepted++;
          } catch (e) {
            err = e;
          }
          if (err !== undefined) {
            refused++;
            sweep.refused++;
            if (!isCleanError(err)) throw new Error(`${name}({ ${field}: ${what} }) threw an unclean error: ${String((err as Error)?.stack ?? err)}`);
            // The message names the function; argument errors name the field too.
            expect((err as Error).message, `${name}.${field} = ${what}`).toMatch(new RegExp(`^${name}: `));
          }
        }
      }
      expect(refused).toBeGreaterThan(fields.length);
      expect(accepted + refused).toBeGreaterThan(0);
    });
  }

  it('options objects whose getters throw, or proxies, are errors, not crashes', () => {
    const boom = Object.defineProperty({ ...VALID.linearForward() }, 'rows', {
      get() {
        throw new RangeError('getter says no');
      },
    });
    expect(() => k.linearForward(boom as never)).toThrow('getter says no');
    const proxy = new Proxy(VALID.linearForward(), {
      get(t, p) {
        return p === 'x' ? new Float64Array(6) : Reflect.get(t, p);
      },
    });
    expectClean(thrown(() => k.linearForward(proxy as never)), { code: 'ERR_FINETUNE_ARG_TYPE', message: /x but received Float64Array/ });
  });

  it('absurd sizes are refused with the size they would need, before allocating', () => {
    const before = rssMiB();
    expectClean(
      thrown(() => k.embeddingForward({ ids: new Int32Array(1), vocab: 2 ** 31, dim: 1024, weight: new Float32Array(4), out: new Float32Array(1024) })),
      { type: RangeError, message: /the size of weight exceeds 1099511627776 elements/ },
    );
    expectClean(thrown(() => k.linearForward({ rows: 2 ** 26, inFeatures: 2 ** 26, outFeatures: 1, x: f32(1), weight: f32(1), y: f32(1) } as never)), {
      type: RangeError,
      message: /exceeds/,
    });
    expectClean(thrown(() => k.softmaxCrossEntropy({ rows: 2 ** 40, classes: 2 ** 20, logits: f32(1), labels: i32(1) })), { type: RangeError, message: /exceeds/ });
    expect(rssMiB() - before).toBeLessThan(20 * RSS_SLACK);
  });

  it('the process is healthy after all of that', () => {
    const y = new Float32Array(2);
    k.linearForward({ rows: 1, inFeatures: 1, outFeatures: 2, x: Float32Array.of(2), weight: Float32Array.of(1, 3), y });
    expect(Array.from(y)).toEqual([2, 6]);
  });
});

// ------------------------------------------------------------ the Program class

interface NativeProgram {
  trainStep(batch: unknown, cfg: unknown): Promise<unknown>;
  predict(batch: unknown): Promise<Float32Array>;
  evaluate(batch: unknown): Promise<unknown>;
  params(): Array<{ name: string; values: Float32Array }>;
  getState(): Record<string, unknown>;
  setState(s: unknown): void;
  info(): Record<string, number>;
  dispose(): void;
}
const { Program } = loadNative() as unknown as { Program: new (spec: unknown) => NativeProgram };

/** The spec CompiledModel sends for embedding(10x4) -> conv(w2, 3) -> relu -> max -> linear(2). */
function validSpec(): Record<string, unknown> {
  return {
    maxBatch: 2,
    maxLength: 6,
    groups: 1,
    labelSmoothing: 0,
    tensors: [{ kind: 0, channels: 0 }, { kind: 1, channels: 4 }, { kind: 1, channels: 3 }, { kind: 1, channels: 3 }, { kind: 2, channels: 3 }, { kind: 2, channels: 2 }],
    ops: [
      { type: 0, inputs: [0], output: 1, params: [0], paddingIdx: 0 },
      { type: 1, inputs: [1], output: 2, params: [1, 2], width: 2, padLeft: 0, padRight: 0 },
      { type: 2, inputs: [2], output: 3, params: [], activation: 1 },
      { type: 3, inputs: [3], output: 4, params: [] },
      { type: 7, inputs: [4], output: 5, params: [3, 4] },
    ],
    params: [
      { name: 'embedding.weight', size: 40, group: 0, frozen: false },
      { name: 'conv0.weight', size: 24 },
      { name: 'conv0.bias', size: 3 },
      { name: 'classifier.weight', size: 6 },
      { name: 'classifier.bias', size: 2 },
    ],
  };
}
const validBatch = () => ({ ids: Int32Array.of(1, 2, 3, 0, 0, 0, 4, 5, 6, 7, 8, 9), lengths: Int32Array.of(3, 6), labels: Int32Array.of(0, 1), batch: 2, length: 6 });
const validCfg = () => ({ optimizer: 0, maxGradNorm: 0, groups: [{ lr: 0.01, weightDecay: 0 }] });

/** hostileValues() in plain JavaScript, for child processes. */
const HOSTILE_JS = `
const detachedLike = (a) => { const c = new a.constructor(a.length); structuredClone(c.buffer, { transfer: [c.buffer] }); return c; };
const hostileValues = (valid) => {
  const common = [['undefined', undefined], ['null', null], ['a string', '3'], ['an object', { length: 3 }], ['a bigint', 3n], ['a function', () => 3]];
  // Under ASan a failed huge allocation aborts (operator new never throws there): no 2^31.
  const huge = process.env.FINETUNE_ASAN === '1' ? [] : [['2^31', 2 ** 31]];
  if (typeof valid === 'number') return [...common, ['NaN', NaN], ['-1', -1], ['2^53', 2 ** 53], ...huge, ['2^64', 2 ** 64], ['Infinity', Infinity], ['1.5', 1.5], ['-0', -0]];
  if (typeof valid === 'boolean') return [...common, ['1', 1]];
  if (Array.isArray(valid)) return [...common, ['[Float64Array]', [new Float64Array(3)]], ['[undefined]', [undefined]], ['a sparse array', new Array(3)]];
  if (ArrayBuffer.isView(valid)) return [...common, ['Float64Array', new Float64Array(valid.length)], ['short', new valid.constructor(Math.max(0, valid.length - 1))], ['detached', detachedLike(valid)]];
  return common;
};
`;

/**
 * Runs a script in a child node limited to 8 GB of address space (so a huge
 * but "valid" allocation fails instead of waking the OOM killer). The script
 * gets Program (the addon's class) in scope and PROGRAM_URL / GRAPH_URL in env.
 */
async function runCapped(name: string, body: string): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const pkg = await transpiledPackage();
  const dir = await tempDir();
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `import { createRequire } from 'node:module';\nconst require = createRequire(${JSON.stringify(path.join(repoRoot, 'package.json'))});\n` +
      `const { Program } = require('node-gyp-build')(${JSON.stringify(repoRoot)});\n` +
      body,
  );
  const cap = process.env.FINETUNE_ASAN === '1' ? '' : 'ulimit -v 8000000; ';
  const r = spawnSync('bash', ['-c', `${cap}exec "$0" "$1"`, process.execPath, file], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PROGRAM_URL: moduleUrl(pkg, 'src/model/program.js'), GRAPH_URL: moduleUrl(pkg, 'src/model/graph.js') },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('the Program class survives hostile specs, batches and configs', () => {
  it('a concat fed by the token ids (produced by no op) is refused, naming the op', () => {
    // Found by review: the CPU check indexed ops[-1] for such an input; the CUDA copy of the check did not.
    const s = validSpec() as { ops: unknown[]; tensors: unknown[] };
    s.ops.splice(4, 0, { type: 5, inputs: [0], output: 5, params: [] });
    expect(() => new Program(s)).toThrow(/op 4 \(concat\): concat inputs must be pooling outputs/);
  });

  it('the valid spec compiles, trains and predicts', async () => {
    const p = new Program(validSpec());
    await p.trainStep(validBatch(), validCfg());
    expect((await p.predict(validBatch())).length).toBe(4);
    p.dispose();
  });

  it('spec fields set to hostile values -> clean errors (in a child under a 8 GB address-space limit)', async () => {
    // Some hostile sizes are valid but huge (a 2^31-float parameter): without a limit the
    // machine's OOM killer would end the run (see the next test), so the sweep runs capped.
    const r = await runCapped(
      'spec-sweep.mjs',
      `const validSpec = ${validSpec.toString()};
${HOSTILE_JS}
const clean = (e) => e && typeof e.code === 'string' && /^ERR_FINETUNE_/.test(e.code) && (e instanceof TypeError || e instanceof RangeError || e instanceof Error);
let refused = 0; const unclean = [];
const tryOne = (label, s) => { try { new Program(s).dispose(); } catch (e) { refused++; if (!clean(e)) unclean.push(label + ': ' + (e && e.stack)); } };
for (const bad of [undefined, null, 42, 'x', [], new Float32Array(2)]) tryOne(String(bad), bad);
const spec = validSpec();
for (const field of Object.keys(spec)) for (const [what, value] of hostileValues(spec[field])) tryOne(field + ': ' + what, { ...validSpec(), [field]: value });
for (const list of ['tensors', 'ops', 'params']) spec[list].forEach((item, i) => {
  for (const field of Object.keys(item)) for (const [what, value] of [...hostileValues(item[field]), ['99', 99], ['-2', -2]]) {
    const s = validSpec(); s[list][i] = { ...item, [field]: value }; tryOne(list + '[' + i + '].' + field + ': ' + what, s);
  }
});
const lie = (label, edit) => { const s = validSpec(); edit(s); tryOne(label, s); };
lie('op reads its own output', (s) => { s.ops[1].inputs = [2]; });
lie('embedding smaller than its shape', (s) => { s.params[0].size = 1; });
lie('ops out of order', (s) => { s.ops.reverse(); });
lie('tensor 0 not ids', (s) => { s.tensors[0].kind = 1; });
lie('a param used by two ops', (s) => { s.ops[4].params = [1, 2]; });
lie('no ops', (s) => { s.ops = []; });
lie('a concat of the token ids', (s) => { s.ops.splice(4, 0, { type: 5, inputs: [0], output: 5, params: [] }); });
console.log(JSON.stringify({ refused, unclean }));
`,
    );
    expect(r.signal).toBeNull();
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { refused: number; unclean: string[] };
    expect(out.unclean).toEqual([]);
    console.log(`Program spec sweep: ${out.refused} hostile specs refused with a clean error`);
    expect(out.refused).toBeGreaterThan(100);
  });

  it('a vocabulary of 2^31 x 1024 is refused with the size it would need, before allocating', () => {
    const before = rssMiB();
    const err = expectClean(
      thrown(() => compileModel(textCNN({ vocabSize: 2 ** 31, classes: 2, embedDim: 1024, widths: [3], maps: 2 }), { maxBatch: 1, maxLength: 8 })),
      { message: /2199023255552/ },
    );
    expect(err).toBeInstanceOf(RangeError);
    expect(rssMiB() - before).toBeLessThan(50 * RSS_SLACK);
  });

  // FINDING (see the report): a model under the 2^36-element cap but over the machine's memory
  // (vocabulary 2^21 x 1024: 8 GiB of weights, 32 GiB with gradients and Adam moments) is allocated
  // and zero-filled; on a machine without that much memory the OOM killer ends the process instead of
  // a clean error. Capped at 8 GB of address space here the allocation fails, and the error
  // ("not enough memory for the program's buffers") does not say how much was needed.
  it.skipIf(process.env.FINETUNE_ASAN === '1')('a model larger than memory is refused with the bytes it would need (child capped at 8 GB)', async () => {
    const r = await runCapped(
      'absurd.mjs',
      `const { compileModel } = await import(process.env.PROGRAM_URL);
const { textCNN } = await import(process.env.GRAPH_URL);
try { compileModel(textCNN({ vocabSize: 2 ** 21, classes: 2, embedDim: 1024, widths: [3], maps: 2 }), { maxBatch: 1, maxLength: 8 }); console.log(JSON.stringify({ ok: true })); }
catch (e) { console.log(JSON.stringify({ name: e.constructor.name, code: e.code, message: e.message })); }
`,
    );
    expect(r.signal).toBeNull();
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { code?: string; message?: string };
    expect(out.code).toMatch(/^ERR_FINETUNE_/);
    // 2^21 x 1024 floats = 8 GiB for the weights alone.
    expect(out.message).toMatch(/\d[\d.,]* ?(bytes|B|KiB|MiB|GiB|GB|TiB)\b/);
  });

  it('batch and config fields set to hostile values -> clean errors, and the program still works', async () => {
    const p = new Program(validSpec());
    let refused = 0;
    const tryCall = async (label: string, fn: () => Promise<unknown>): Promise<void> => {
      let err: unknown;
      try {
        await fn();
      } catch (e) {
        err = e;
      }
      if (err !== undefined) {
        refused++;
        if (!isCleanError(err)) throw new Error(`${label} threw an unclean error: ${String((err as Error)?.stack ?? err)}`);
      }
    };
    const b = validBatch();
    for (const field of Object.keys(b)) {
      for (const [what, value] of hostileValues(b[field as keyof typeof b])) {
        await tryCall(`trainStep batch.${field}: ${what}`, () => p.trainStep({ ...validBatch(), [field]: value }, validCfg()));
        await tryCall(`predict batch.${field}: ${what}`, () => p.predict({ ...validBatch(), [field]: value }));
      }
    }
    for (const [what, ids] of [['id 10 (vocab 10)', 10], ['id -1', -1], ['id 2^31-1', 2 ** 31 - 1]] as const) {
      const bad = validBatch();
      bad.ids[5] = ids;
      await tryCall(`ids ${what}`, () => p.predict(bad));
    }
    for (const lengths of [Int32Array.of(0, 6), Int32Array.of(-1, 6), Int32Array.of(7, 6), Int32Array.of(2 ** 31 - 1, 1)]) {
      await tryCall(`lengths ${lengths}`, () => p.predict({ ...validBatch(), lengths }));
    }
    for (const labels of [Int32Array.of(2, 0), Int32Array.of(-1, 0)]) await tryCall(`labels ${labels}`, () => p.trainStep({ ...validBatch(), labels }, validCfg()));
    const cfg = validCfg();
    for (const field of Object.keys(cfg)) {
      for (const [what, value] of hostileValues(cfg[field as keyof typeof cfg])) {
        await tryCall(`trainStep cfg.${field}: ${what}`, () => p.trainStep(validBatch(), { ...validCfg(), [field]: value }));
      }
    }
    for (const group of [{ lr: NaN }, { lr: -1 }, { lr: Infinity }, { lr: 0.1, weightDecay: -1 }, {}, null]) {
      await tryCall(`group ${JSON.stringify(group)}`, () => p.trainStep(validBatch(), { ...validCfg(), groups: [group] }));
    }
    await tryCall('two groups for one', () => p.trainStep(validBatch(), { ...validCfg(), groups: [{ lr: 1 }, { lr: 1 }] }));
    const state = p.getState();
    for (const field of Object.keys(state)) {
      for (const [what, value] of hostileValues(state[field])) await tryCall(`setState ${field}: ${what}`, async () => p.setState({ ...p.getState(), [field]: value }));
    }
    console.log(`Program batch/config/state sweep: ${refused} hostile calls refused with a clean error`);
    expect(refused).toBeGreaterThan(100);
    // Still healthy: a normal step and a prediction.
    await p.trainStep(validBatch(), validCfg());
    expect(Array.from(await p.predict(validBatch())).every(Number.isFinite)).toBe(true);
    p.dispose();
  });

  it('use after dispose is a JS error on every method; parameter views stay readable', async () => {
    const p = new Program(validSpec());
    const views = p.params();
    const copy = Array.from(views[4].values);
    p.dispose();
    p.dispose();
    for (const [name, call] of [
      ['trainStep', () => p.trainStep(validBatch(), validCfg())],
      ['predict', () => p.predict(validBatch())],
      ['evaluate', () => p.evaluate(validBatch())],
      ['params', () => p.params()],
      ['getState', () => p.getState()],
      ['setState', () => p.setState({})],
      ['info', () => p.info()],
    ] as const) {
      expectClean(thrown(call), { code: 'ERR_FINETUNE_DISPOSED', message: new RegExp(name) });
    }
    expect(Array.from(views[4].values)).toEqual(copy);
    views[4].values[0] = 42; // writing into a disposed program's view must not crash either
    const model = compileModel(textCNN({ vocabSize: 10, classes: 2, embedDim: 4, widths: [2], maps: 2 }), { maxBatch: 1, maxLength: 4 });
    model.dispose();
    for (const call of [() => model.params(), () => model.getState(), () => model.predict({ ids: new Int32Array(4), batch: 1, length: 4 }), () => model.bytes]) {
      expectClean(thrown(call), { code: 'ERR_FINETUNE_DISPOSED' });
    }
  });

  // Parameter views are external ArrayBuffers whose finalizers N-API runs from the event loop:
  // a fully synchronous loop of compile+dispose grows without bound until the loop turns (a
  // server always turns it). So the cycles yield to the event loop every 100.
  it('10,000 create/dispose cycles keep RSS flat', async () => {
    const g = textCNN({ vocabSize: 200, classes: 3, embedDim: 16, widths: [2, 3], maps: 8 });
    const cycle = async (n: number) => {
      for (let i = 0; i < n; i++) {
        compileModel(g, { maxBatch: 8, maxLength: 16, seed: i }).dispose();
        if (i % 100 === 99) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 20));
    };
    await cycle(1000);
    const before = rssMiB();
    await cycle(9000);
    const growth = rssMiB() - before;
    expect(growth).toBeLessThan(30 * RSS_SLACK);
  });

  it('20,000 predictions keep RSS flat', async () => {
    const model = compileModel(textCNN({ vocabSize: 100, classes: 2, embedDim: 8, widths: [2, 3], maps: 4 }), { maxBatch: 2, maxLength: 8 });
    const b: Batch = { ids: new Int32Array(16).fill(3), lengths: Int32Array.of(8, 2), batch: 2, length: 8 };
    for (let i = 0; i < 2000; i++) await model.predict(b);
    const before = rssMiB();
    for (let i = 0; i < 18000; i++) await model.predict(b);
    expect(rssMiB() - before).toBeLessThan(30 * RSS_SLACK);
    model.dispose();
  });
});

// ------------------------------------------------------------ things only a child process can show

describe('in a child process', () => {
  const script = async (name: string, body: string): Promise<string> => {
    const pkg = await transpiledPackage();
    const dir = await tempDir();
    const file = path.join(dir, name);
    writeFileSync(
      file,
      `const { compileModel } = await import(${JSON.stringify(moduleUrl(pkg, 'src/model/program.js'))});\n` +
        `const { textCNN } = await import(${JSON.stringify(moduleUrl(pkg, 'src/model/graph.js'))});\n` +
        body,
    );
    return file;
  };

  // FINDING (see the report): parseBatch (native/addon/program_binding.cpp) validates the ids on the
  // main thread, then the worker thread reads the caller's Int32Array later. Changing the ids between
  // the call and its completion makes the embedding read (and in training, write) outside its table:
  // SIGSEGV. Remove `.fails` once the batch is copied (or validated on the worker thread from a copy).
  it('changing a batch after trainStep/predict was called (before it settles) never crashes the process', async () => {
    const file = await script(
      'mutate.mjs',
      `const B = 32, L = 2048; // a step long enough that the change always lands while it runs
const model = compileModel(textCNN({ vocabSize: 50, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0 }), { maxBatch: B, maxLength: L, seed: 1 });
for (const mode of ['train', 'predict']) {
  for (let k = 0; k < 10; k++) {
    const ids = new Int32Array(B * L).fill(3);
    const batch = { ids, lengths: new Int32Array(B).fill(L), labels: new Int32Array(B), batch: B, length: L };
    const p = mode === 'train' ? model.trainStep(batch, { lr: 0.01 }) : model.predict(batch);
    ids.fill(0x3fffffff);
    batch.lengths.fill(0x3fffffff);
    batch.labels.fill(-5);
    try { await p; } catch (e) { if (!e.code) throw e; }
  }
}
console.log('alive');
`,
    );
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr.slice(0, 500) }).toEqual({ status: 0, signal: null, stdout: 'alive', stderr: '' });
  });

  // FINDING (see the report), same cause as above: the worker thread reads the caller's ids after
  // the call returned. Transferring (detaching) the buffer and letting GC free it while the step runs
  // is a use after free: with 256 KB batches (freed by munmap) every run dies with SIGSEGV.
  it('detaching the batch buffers while a step runs never crashes the process', async () => {
    const file = await script(
      'detach.mjs',
      `const B = 32, L = 2048;
const model = compileModel(textCNN({ vocabSize: 50, classes: 2, embedDim: 8, widths: [2, 3], maps: 4, dropout: 0 }), { maxBatch: B, maxLength: L, seed: 1 });
for (let k = 0; k < 100; k++) {
  const ids = new Int32Array(B * L).fill(3);
  const batch = { ids, lengths: new Int32Array(B).fill(L), labels: new Int32Array(B), batch: B, length: L };
  const p = k % 2 ? model.trainStep(batch, { lr: 0.01 }) : model.predict(batch);
  structuredClone(ids.buffer, { transfer: [ids.buffer] });
  globalThis.gc();
  try { await p; } catch (e) { if (!e.code) throw e; }
}
console.log('alive');
`,
    );
    const r = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', timeout: 120_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).toEqual({ status: 0, signal: null, stdout: 'alive' });
  });

  // Found by this suite: a worker terminated while a Program call was in flight aborted the whole
  // process (StepWorker::OnOK could not run JS during the worker's environment cleanup, and
  // node-addon-api rethrew past AsyncWorker::OnAsyncWorkComplete -> std::terminate). Fixed by
  // NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS in CMakeLists.txt (binding.gyp had it already).
  it('worker_threads: the addon loads in workers; terminating one mid-call leaves the main thread healthy', async () => {
    const pkg = await transpiledPackage();
    const worker = await script(
      'worker.mjs',
      `import { parentPort } from 'node:worker_threads';
const model = compileModel(textCNN({ vocabSize: 2000, classes: 2, embedDim: 64, widths: [3, 4, 5], maps: 64 }), { maxBatch: 50, maxLength: 40, seed: 2 });
const batch = { ids: new Int32Array(2000).fill(7), lengths: new Int32Array(50).fill(40), labels: new Int32Array(50), batch: 50, length: 40 };
parentPort.postMessage('ready');
for (;;) await model.trainStep(batch, { lr: 1e-3 });
`,
    );
    const main = path.join(path.dirname(worker), 'main.mjs');
    writeFileSync(
      main,
      `const { Worker } = await import('node:worker_threads');
const { compileModel } = await import(${JSON.stringify(moduleUrl(pkg, 'src/model/program.js'))});
const { textCNN } = await import(${JSON.stringify(moduleUrl(pkg, 'src/model/graph.js'))});
for (let round = 0; round < 4; round++) {
  const w = new Worker(${JSON.stringify(worker)});
  await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await new Promise((r) => setTimeout(r, 20 + round * 40));
  await w.terminate();
}
const model = compileModel(textCNN({ vocabSize: 20, classes: 2, embedDim: 4, widths: [2], maps: 2 }), { maxBatch: 1, maxLength: 4 });
const logits = await model.predict({ ids: Int32Array.of(1, 2, 3, 4), batch: 1, length: 4 });
console.log(Array.from(logits).every(Number.isFinite) ? 'alive' : 'bad logits');
`,
    );
    const r = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).toEqual({ status: 0, signal: null, stdout: 'alive' });
  });
});
