/**
 * HAZARDS.md, "Checkpoints and saved models", through loadCheckpoint and a
 * resumed trainFromFiles: a checkpoint is a tensor file whose SHA-256 anyone
 * can recompute, so its metadata is as hostile as the rest. Loading executes
 * nothing, `__proto__`/`constructor` keys never touch prototypes, every
 * damaged part is a distinct clean error, another architecture lists the
 * mismatched tensors, and a failed load changes nothing on disk.
 * test/io/tensorfile.test.ts covers the container byte by byte.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadTensorFile, saveTensorFile, type JsonObject, type TypedArray } from '../../src/io/tensorfile.js';
import { CHECKPOINT_FILE, loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../src/train/checkpoint.js';
import { trainFromFiles } from '../../src/train/run.js';
import { expectClean, isCleanError, rejected, removeTempDirs, snapshotDir, tempDir } from './helpers.js';
import { tinyModel } from './model-helpers.js';

afterAll(removeTempDirs);

function checkpointOf(seed: number): Checkpoint {
  const model = tinyModel(seed);
  let total = 0;
  for (const p of model.params.values()) total += p.length;
  return {
    model,
    state: { m: new Float32Array(total), v: new Float32Array(total), paramSteps: new Float64Array(model.params.size), steps: 3, seed: 0, counter: 0 },
    trainer: { epoch: 0, step: 3, history: [], loader: { version: 1, epoch: 0, batchIndex: 0 } } as never,
    options: {},
    data: { file: 'x', size: 0, sha256: '' },
  };
}

let base: { meta: JsonObject; tensors: Map<string, TypedArray> };
beforeAll(async () => {
  const dir = await tempDir();
  await saveCheckpoint(dir, checkpointOf(1));
  const data = await loadTensorFile(path.join(dir, CHECKPOINT_FILE));
  base = { meta: data.meta, tensors: data.tensors };
});

let n = 0;
/** Writes a checkpoint folder holding exactly this content (a valid container). */
async function craft(edit: (meta: JsonObject, tensors: Map<string, TypedArray>) => void): Promise<string> {
  const dir = await tempDir();
  const meta = JSON.parse(JSON.stringify(base.meta)) as JsonObject;
  const tensors = new Map([...base.tensors].map(([k, v]) => [k, v.slice()]));
  edit(meta, tensors);
  await saveTensorFile(path.join(dir, CHECKPOINT_FILE), { meta, tensors });
  n++;
  return dir;
}

describe('loadCheckpoint: damaged files are distinct clean errors', () => {
  let file: string;
  let good: Uint8Array;
  beforeAll(async () => {
    const dir = await tempDir();
    file = path.join(dir, CHECKPOINT_FILE);
    await saveCheckpoint(dir, checkpointOf(2));
    good = readFileSync(file);
  });
  const variants: Array<[string, (b: Uint8Array) => Uint8Array, string]> = [
    ['an empty file', () => new Uint8Array(0), 'ERR_FINETUNE_CHECKPOINT_TRUNCATED'],
    ['a wrong magic', (b) => Uint8Array.from(b, (x, i) => (i === 0 ? 0x58 : x)), 'ERR_FINETUNE_CHECKPOINT_MAGIC'],
    ['a header length of 0', (b) => Uint8Array.from(b, (x, i) => (i >= 8 && i < 12 ? 0 : x)), 'ERR_FINETUNE_CHECKPOINT_HEADER'],
    ['a huge header length', (b) => Uint8Array.from(b, (x, i) => (i >= 8 && i < 12 ? 0xff : x)), 'ERR_FINETUNE_CHECKPOINT_HEADER'],
    ['truncated by one byte', (b) => b.subarray(0, b.length - 1), 'ERR_FINETUNE_CHECKPOINT_'],
    ['trailing bytes', (b) => Uint8Array.from([...b, 0]), 'ERR_FINETUNE_CHECKPOINT_TRAILING'],
    ['a flipped byte in the data', (b) => Uint8Array.from(b, (x, i) => (i === b.length - 100 ? x ^ 1 : x)), 'ERR_FINETUNE_CHECKPOINT_CHECKSUM'],
  ];
  for (const [what, damage, code] of variants) {
    it(`${what}: ${code}, the file named, nothing changed on disk`, async () => {
      writeFileSync(file, damage(good));
      const before = snapshotDir(path.dirname(file));
      const err = expectClean(await rejected(loadCheckpoint(path.dirname(file))), { code: new RegExp(`^${code}`), message: new RegExp(CHECKPOINT_FILE) });
      expect(err.message).toContain(file);
      expect(snapshotDir(path.dirname(file))).toEqual(before);
    });
  }
  it('a missing folder or file', async () => {
    expectClean(await rejected(loadCheckpoint(path.join(path.dirname(file), 'nope'))), { code: 'ERR_FINETUNE_CHECKPOINT_IO' });
  });
});

describe('loadCheckpoint: hostile metadata in a valid container', () => {
  const KEYS = ['format', 'graph', 'vocab', 'specials', 'tokenizer', 'labels', 'trainer', 'program', 'options', 'data'];
  const VALUES: unknown[] = [null, 0, -1, 'x', true, [], {}, [null], { __proto__: null }, { steps: 'x', seed: -1, counter: 1e300 }];

  it('every metadata key removed or replaced by JSON of the wrong shape: a clean error, or a load that is still usable', async () => {
    const unclean: string[] = [];
    let refused = 0;
    for (const key of KEYS) {
      for (const value of [undefined, ...VALUES]) {
        const dir = await craft((meta) => {
          if (value === undefined) delete meta[key];
          else meta[key] = value as never;
        });
        try {
          await loadCheckpoint(dir);
        } catch (err) {
          refused++;
          if (!isCleanError(err)) unclean.push(`${key} = ${JSON.stringify(value)}: ${(err as Error).constructor.name}: ${(err as Error).message}`);
        }
      }
    }
    expect(refused).toBeGreaterThan(30);
    // FINDING (see the report): 'program' is not checked (meta.program.steps on undefined/null).
    expect(unclean.filter((u) => !u.startsWith('program ='))).toEqual([]);
  });

  // FINDING (see the report): loadCheckpoint (src/train/checkpoint.ts) reads meta.program.steps
  // without checking that `program` is an object; a checkpoint without it (or with null) throws a
  // plain TypeError "Cannot read properties of undefined (reading 'steps')".
  it('a missing or null "program" entry is a clean error naming it', async () => {
    for (const value of [undefined, null]) {
      const dir = await craft((meta) => {
        if (value === undefined) delete meta.program;
        else meta.program = value;
      });
      expectClean(await rejected(loadCheckpoint(dir)), { code: /^ERR_FINETUNE_CHECKPOINT/, message: /program/ });
    }
  });

  it('__proto__ and constructor keys never touch prototypes', async () => {
    const dir = await craft((meta) => {
      Object.defineProperty(meta, '__proto__', { value: { polluted: 'yes', format: 'evil' }, enumerable: true, configurable: true, writable: true });
      (meta.options as JsonObject) = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}') as JsonObject;
      (meta.tokenizer as JsonObject) = JSON.parse('{"__proto__": {"mode": "kim"}, "mode": "whitespace"}') as JsonObject;
      meta.labels = ['__proto__', 'constructor'];
    });
    const c = await loadCheckpoint(dir);
    expect(c.model.labels).toEqual(['__proto__', 'constructor']);
    expect(c.model.tokenizer.mode).toBe('whitespace');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Metadata objects are plain data: their prototype is Object.prototype or null, never the file's.
    expect([Object.prototype, null]).toContain(Object.getPrototypeOf(c.options));
    expect((c.options as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a tensor of the wrong dtype or size, or a missing one, is named', async () => {
    for (const [edit, name] of [
      [(t: Map<string, TypedArray>) => t.set('param:conv0.weight', new Float64Array(t.get('param:conv0.weight')!.length)), 'conv0.weight'],
      [(t: Map<string, TypedArray>) => t.set('param:classifier.bias', new Float32Array(3)), 'classifier.bias'],
      [(t: Map<string, TypedArray>) => t.delete('param:embedding.weight'), 'embedding.weight'],
      [(t: Map<string, TypedArray>) => t.set('optimizer:m', new Float32Array(1)), 'optimizer'],
      [(t: Map<string, TypedArray>) => t.set('optimizer:paramSteps', new Float32Array(7)), 'optimizer:paramSteps'],
    ] as const) {
      const dir = await craft((_meta, tensors) => edit(tensors));
      expectClean(await rejected(loadCheckpoint(dir)), { message: new RegExp(name) });
    }
  });

  // FINDING (see the report): a checkpoint whose tensors belong to another architecture than its
  // graph is refused at the first differing parameter; HAZARDS.md asks for the list of every
  // mismatched tensor (loadTensorFile's `expected` option already produces CheckpointMismatchError).
  it('a checkpoint from another architecture lists every mismatched tensor', async () => {
    const dir = await craft((meta) => {
      const graph = meta.graph as { layers: Array<Record<string, unknown>> };
      for (const l of graph.layers) if (l.type === 'conv1d') l.outChannels = 5;
    });
    const err = expectClean(await rejected(loadCheckpoint(dir)), { code: /^ERR_FINETUNE_CHECKPOINT/ });
    for (const name of ['conv0.weight', 'conv0.bias', 'conv1.weight', 'conv1.bias', 'classifier.weight']) expect(err.message).toContain(name);
  });
});

describe('resuming from a hostile checkpoint', () => {
  let train: string;
  let ckpt: string;
  beforeAll(async () => {
    const dir = await tempDir();
    train = path.join(dir, 'train.txt');
    writeFileSync(train, Array.from({ length: 40 }, (_, i) => `${i % 2 ? 'pos' : 'neg'}\t${i % 2 ? 'great fun' : 'awful bore'} film ${i}`).join('\n') + '\n');
    ckpt = path.join(dir, 'ckpt');
    await trainFromFiles({ train, epochs: 1, batchSize: 8, architecture: { embedDim: 4, widths: [2], maps: 2 }, checkpointDir: ckpt, seed: 1 });
    const data = await loadTensorFile(path.join(ckpt, CHECKPOINT_FILE));
    base = { meta: data.meta, tensors: data.tensors };
  });

  it('a resumed run works from the untouched checkpoint', async () => {
    const r = await trainFromFiles({ train, resume: ckpt, epochs: 2 });
    expect(r.fit.history.length).toBe(2);
  });

  // FINDING (see the report): the data fingerprint, trainer snapshot and stored run options of a
  // checkpoint are used on resume unchecked: data null -> TypeError "Cannot read properties of null
  // (reading 'sha256')" in trainFromFiles (src/train/run.ts); trainer null or a string history
  // resume silently (from epoch 0 / with a garbage history) instead of being refused.
  it('trainer, data and options of the wrong shape are clean errors on resume', async () => {
    const cases: Array<[string, (meta: JsonObject) => void]> = [
      ['trainer null', (m) => void (m.trainer = null)],
      ['trainer.loader missing', (m) => void delete (m.trainer as JsonObject).loader],
      ['trainer.history a string', (m) => void ((m.trainer as JsonObject).history = 'x')],
      ['data null', (m) => void (m.data = null)],
      ['options.batchSize -1', (m) => void ((m.options as JsonObject).batchSize = -1)],
      ['options.read a number', (m) => void ((m.options as JsonObject).read = 5)],
      ['options.architecture a string', (m) => void ((m.options as JsonObject).architecture = 'big')],
    ];
    const unclean: string[] = [];
    for (const [what, edit] of cases) {
      const dir = await craft(edit);
      const err = await trainFromFiles({ train, resume: dir, epochs: 2 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (err !== undefined && !isCleanError(err)) unclean.push(`${what}: ${(err as Error).constructor.name}: ${(err as Error).message}`);
    }
    expect(unclean).toEqual([]);
  });
});
