/**
 * HAZARDS.md, "Checkpoints and saved models": crash safety of saves through the
 * public functions saveModel (src/onnx/model-file.ts) and saveCheckpoint
 * (src/train/checkpoint.ts). test/io covers the tensor container itself.
 *
 * - A child process saving in a loop is SIGKILLed at random moments (>= 50 in
 *   all): the file is always the old one or the new one, loading and verifying
 *   (every weight equals the version written in its metadata); the temporary
 *   files a killed save leaves are ignored by loads and cleaned by the next save.
 * - Full disk (a 1 MiB tmpfs) and a read-only folder (the tmpfs remounted ro):
 *   save rejects with ERR_FINETUNE_SAVE and the old file is byte-identical.
 *   Mounting needs root; saves-faults.test.ts injects the same errors anywhere.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SaveError } from '../../src/io/errors.js';
import { textCNN, graphParams } from '../../src/model/graph.js';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { loadModel, saveModel, type SavedModel } from '../../src/onnx/model-file.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../src/train/checkpoint.js';
import { expectClean, moduleUrl, Prng, rejected, removeTempDirs, snapshotDir, tempDir, transpiledPackage } from './helpers.js';

afterAll(removeTempDirs);

// ------------------------------------------------------------ the model and checkpoint a version writes

const MAKE = `
export function makeModel(textCNN, graphParams, Vocabulary, Tokenizer, vocabSize, v) {
  const graph = textCNN({ vocabSize, classes: 2, embedDim: 64, widths: [2, 3], maps: 8, dropout: 0 });
  const params = new Map(graphParams(graph).map((p) => [p.name, new Float32Array(p.size).fill(v)]));
  const tokens = ['<pad>', '<unk>', ...Array.from({ length: vocabSize - 2 }, (_, i) => 'tok' + i)];
  return { graph, params, vocab: Vocabulary.fromTokens(tokens), tokenizer: new Tokenizer().toJSON(), labels: ['v' + v, 'other'] };
}
export function makeCheckpoint(model, v) {
  let total = 0;
  for (const p of model.params.values()) total += p.length;
  return {
    model,
    state: { m: new Float32Array(total).fill(v), v: new Float32Array(total).fill(v), paramSteps: new Float64Array(model.params.size).fill(v), steps: v, seed: 1, counter: v },
    trainer: { version: v, epoch: 0, step: v, loader: { epoch: 0, batchIndex: v }, history: [] },
    options: { version: v },
    data: { file: 'train.txt', size: v, sha256: 'x' },
  };
}
`;

function makeModel(vocabSize: number, v: number): SavedModel {
  const graph = textCNN({ vocabSize, classes: 2, embedDim: 64, widths: [2, 3], maps: 8, dropout: 0 });
  const params = new Map(graphParams(graph).map((p) => [p.name, new Float32Array(p.size).fill(v)]));
  const tokens = ['<pad>', '<unk>', ...Array.from({ length: vocabSize - 2 }, (_, i) => `tok${i}`)];
  return { graph, params, vocab: Vocabulary.fromTokens(tokens), tokenizer: new Tokenizer().toJSON(), labels: [`v${v}`, 'other'] };
}

function makeCheckpoint(model: SavedModel, v: number): Checkpoint {
  let total = 0;
  for (const p of model.params.values()) total += p.length;
  return {
    model,
    state: { m: new Float32Array(total).fill(v), v: new Float32Array(total).fill(v), paramSteps: new Float64Array(model.params.size).fill(v), steps: v, seed: 1, counter: v },
    trainer: { version: v, epoch: 0, step: v, loader: { epoch: 0, batchIndex: v }, history: [] } as unknown as Checkpoint['trainer'],
    options: { version: v },
    data: { file: 'train.txt', size: v, sha256: 'x' },
  };
}

/** Loads the model and checks that it is one whole version: every weight equals the version in its labels. */
async function verifyModel(file: string): Promise<number> {
  const m = await loadModel(file);
  const v = Number(m.labels[0].slice(1));
  expect(Number.isInteger(v)).toBe(true);
  for (const [name, p] of m.params) for (let i = 0; i < p.length; i++) if (p[i] !== v) throw new Error(`${file}: ${name}[${i}] = ${p[i]} in version ${v}`);
  return v;
}

async function verifyCheckpoint(dir: string): Promise<number> {
  const c = await loadCheckpoint(dir);
  const v = (c.trainer as unknown as { version: number }).version;
  expect(c.options.version).toBe(v);
  expect(c.state.steps).toBe(v);
  expect(c.model.labels[0]).toBe(`v${v}`);
  for (const arr of [...c.model.params.values(), c.state.m, c.state.v, c.state.paramSteps]) {
    for (let i = 0; i < arr.length; i++) if (arr[i] !== v) throw new Error(`${dir}: a value ${arr[i]} in version ${v}`);
  }
  return v;
}

const temps = (dir: string): string[] => readdirSync(dir).filter((n) => n.includes('.tmp-'));

// ------------------------------------------------------------ SIGKILL

describe('SIGKILL at random moments of model and checkpoint saves', () => {
  let work: string;
  let script: string;
  beforeAll(async () => {
    const pkg = await transpiledPackage();
    work = await tempDir('finetune-hostile-kill-');
    writeFileSync(path.join(work, 'make.mjs'), MAKE);
    script = path.join(work, 'child.mjs');
    writeFileSync(
      script,
      `const [, , kind, target, start] = process.argv;
const { saveModel } = await import(${JSON.stringify(moduleUrl(pkg, 'src/onnx/model-file.js'))});
const { saveCheckpoint } = await import(${JSON.stringify(moduleUrl(pkg, 'src/train/checkpoint.js'))});
const { textCNN, graphParams } = await import(${JSON.stringify(moduleUrl(pkg, 'src/model/graph.js'))});
const { Vocabulary } = await import(${JSON.stringify(moduleUrl(pkg, 'src/data/vocab.js'))});
const { Tokenizer } = await import(${JSON.stringify(moduleUrl(pkg, 'src/data/tokenizer.js'))});
const { makeModel, makeCheckpoint } = await import('./make.mjs');
let v = Number(start);
process.stdout.write('started\\n');
for (;;) {
  v += 1;
  const model = makeModel(textCNN, graphParams, Vocabulary, Tokenizer, 4000, v);
  if (kind === 'model') await saveModel(target, model);
  else await saveCheckpoint(target, makeCheckpoint(model, v));
}
`,
    );
  });

  function killAfter(kind: string, target: string, start: number, delayMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [script, kind, target, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), delayMs));
      child.on('error', reject);
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code} ${signal}: ${stderr}`))));
    });
  }

  it('leaves the old or the new file, each valid, at 52 kill points; temps are ignored and then cleaned', async () => {
    const KILLS = 26;
    const stats = { kills: 0, tempLeft: 0, advanced: 0 };
    const lane = async (kind: 'model' | 'checkpoint', seed: number): Promise<void> => {
      const rng = new Prng(seed);
      const dir = path.join(work, kind);
      mkdirSync(dir);
      const target = kind === 'model' ? path.join(dir, 'model.onnx') : path.join(dir, 'ckpt');
      const folder = kind === 'model' ? dir : target;
      const save = (v: number) => (kind === 'model' ? saveModel(target, makeModel(4000, v)) : saveCheckpoint(target, makeCheckpoint(makeModel(4000, v), v)).then(() => undefined));
      const verify = () => (kind === 'model' ? verifyModel(target) : verifyCheckpoint(target));
      let known = 0;
      await save(known);
      for (let k = 0; k < KILLS; k++) {
        const start = (k + 1) * 1000; // versions stay exact in float32
        await killAfter(kind, target, start, Math.floor(rng.next() * 200));
        stats.kills++;
        if (temps(folder).length > 0) stats.tempLeft++;
        const version = await verify(); // a temp file beside it changes nothing
        expect(version === known || (version > start && version < start + 1000), `${kind} kill ${k}: version ${version}`).toBe(true);
        if (version !== known) stats.advanced++;
        known = start + 999;
        await save(known);
        expect(temps(folder)).toEqual([]);
        expect(await verify()).toBe(known);
      }
    };
    await Promise.all([lane('model', 11), lane('checkpoint', 12)]);
    console.log(`SIGKILL during saves: ${stats.kills} kills, ${stats.tempLeft} left a temporary file (killed mid-save), ${stats.advanced} saw a new version`);
    expect(stats.kills).toBeGreaterThanOrEqual(50);
    expect(stats.tempLeft).toBeGreaterThan(3);
    expect(stats.advanced).toBeGreaterThan(3);
  });
});

// ------------------------------------------------------------ full disk and read-only folder, for real

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function tryMount(dir: string, size: string): boolean {
  if (!isRoot || process.platform !== 'linux') return false;
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
}

describe('full disk and read-only folder (a real tmpfs; root only)', () => {
  let mnt: string;
  let mounted = false;
  beforeAll(async () => {
    mnt = await tempDir('finetune-hostile-mnt-');
    mounted = tryMount(mnt, '2m');
  });
  afterAll(() => {
    if (mounted) spawnSync('umount', ['-l', mnt]);
  });

  it('disk full: saveModel and saveCheckpoint reject with ENOSPC; the old files are byte-identical, no temp left', async (ctx) => {
    if (!mounted) ctx.skip();
    const modelFile = path.join(mnt, 'model.onnx');
    const ckptDir = path.join(mnt, 'ckpt');
    await saveModel(modelFile, makeModel(300, 1));
    await saveCheckpoint(ckptDir, makeCheckpoint(makeModel(300, 1), 1));
    // Fill the rest of the disk.
    const filler = path.join(mnt, 'filler');
    const free = Number(spawnSync('df', ['--output=avail', '-B1', mnt], { encoding: 'utf8' }).stdout.trim().split('\n').pop());
    writeFileSync(filler, Buffer.alloc(Math.max(0, free - 8192)));
    const before = snapshotDir(mnt);
    const e1 = expectClean(await rejected(saveModel(modelFile, makeModel(300, 2))), { code: 'ERR_FINETUNE_SAVE', message: [/disk full/, /model\.onnx/] });
    expect((e1 as SaveError).errno).toBe('ENOSPC');
    const e2 = expectClean(await rejected(saveCheckpoint(ckptDir, makeCheckpoint(makeModel(300, 2), 2))), { code: 'ERR_FINETUNE_SAVE', message: /disk full/ });
    expect((e2 as SaveError).errno).toBe('ENOSPC');
    expect(snapshotDir(mnt)).toEqual(before);
    expect(await verifyModel(modelFile)).toBe(1);
    expect(await verifyCheckpoint(ckptDir)).toBe(1);
  });

  it('read-only folder: saves reject with EROFS; the old files are byte-identical', async (ctx) => {
    if (!mounted) ctx.skip();
    const modelFile = path.join(mnt, 'model.onnx');
    const ckptDir = path.join(mnt, 'ckpt');
    spawnSync('rm', ['-f', path.join(mnt, 'filler')]);
    await saveModel(modelFile, makeModel(300, 3));
    await saveCheckpoint(ckptDir, makeCheckpoint(makeModel(300, 3), 3));
    expect(spawnSync('mount', ['-o', 'remount,ro', mnt]).status).toBe(0);
    try {
      const before = snapshotDir(mnt);
      const e1 = expectClean(await rejected(saveModel(modelFile, makeModel(300, 4))), { code: 'ERR_FINETUNE_SAVE', message: /read-only/ });
      expect((e1 as SaveError).errno).toBe('EROFS');
      expectClean(await rejected(saveCheckpoint(ckptDir, makeCheckpoint(makeModel(300, 4), 4))), { code: 'ERR_FINETUNE_SAVE', message: /read-only/ });
      expect(snapshotDir(mnt)).toEqual(before);
      expect(await verifyModel(modelFile)).toBe(3);
      expect(await verifyCheckpoint(ckptDir)).toBe(3);
    } finally {
      spawnSync('mount', ['-o', 'remount,rw', mnt]);
    }
  });
});

describe('a checkpoint folder that cannot be created', () => {
  // FINDING (see the report): saveCheckpoint (src/train/checkpoint.ts) calls mkdir(dir, { recursive: true })
  // outside writeFileAtomic's error handling, so a folder that cannot be created (read-only file
  // system, a path under a regular file, permissions) rejects with Node's raw error (code ENOENT /
  // ENOTDIR / EROFS), not a SaveError with code ERR_FINETUNE_SAVE; the CLI prints "unexpected error".
  it('rejects with ERR_FINETUNE_SAVE naming the folder', async () => {
    const dir = await tempDir();
    writeFileSync(path.join(dir, 'plain'), 'x');
    const target = path.join(dir, 'plain', 'ckpt');
    expectClean(await rejected(saveCheckpoint(target, makeCheckpoint(makeModel(300, 1), 1))), { code: 'ERR_FINETUNE_SAVE', message: /plain/ });
  });
});
