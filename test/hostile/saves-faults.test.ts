/**
 * Disk full and read-only folder for saveModel and saveCheckpoint, injected
 * into node:fs/promises (runs anywhere; saves.test.ts does it for real on a
 * tmpfs when it can mount one). The old file must stay byte-identical and no
 * temporary file may be left.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

const faults = vi.hoisted(() => ({ open: undefined as string | undefined, write: undefined as string | undefined, sync: undefined as string | undefined, rename: undefined as string | undefined }));

function sysError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected, ${syscall}`), { code, syscall });
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (file, flags, mode) => {
    const isTemp = flags === 'wx';
    if (isTemp && faults.open !== undefined) throw sysError(faults.open, 'open');
    const fh = await real.open(file, flags, mode);
    if (isTemp) {
      const write = fh.write.bind(fh) as (...a: unknown[]) => Promise<unknown>;
      const sync = fh.sync.bind(fh);
      let writes = 0;
      Object.assign(fh, {
        write: async (...args: unknown[]) => {
          // Every write of the temporary file fails.
          if (faults.write !== undefined && writes++ >= 0) throw sysError(faults.write, 'write');
          return write(...args);
        },
        sync: async () => {
          if (faults.sync !== undefined) throw sysError(faults.sync, 'fsync');
          return sync();
        },
      });
    }
    return fh;
  };
  const rename: typeof real.rename = async (a, b) => {
    if (faults.rename !== undefined) throw sysError(faults.rename, 'rename');
    return real.rename(a, b);
  };
  return { ...real, open, rename, default: { ...real, open, rename } };
});

const { saveModel, loadModel } = await import('../../src/onnx/model-file.js');
const { saveCheckpoint, loadCheckpoint } = await import('../../src/train/checkpoint.js');
const { expectClean, rejected, removeTempDirs, snapshotDir, tempDir } = await import('./helpers.js');
const { tinyModel } = await import('./model-helpers.js');

afterAll(removeTempDirs);
beforeEach(() => {
  faults.open = faults.write = faults.sync = faults.rename = undefined;
});

function checkpointOf(seed: number) {
  const model = tinyModel(seed);
  let total = 0;
  for (const p of model.params.values()) total += p.length;
  return {
    model,
    state: { m: new Float32Array(total), v: new Float32Array(total), paramSteps: new Float64Array(model.params.size), steps: seed, seed: 0, counter: 0 },
    trainer: { seed, epoch: 0, step: 0, history: [], loader: { version: 1, epoch: 0, batchIndex: 0 } } as never,
    options: {},
    data: { file: 'x', size: 0, sha256: '' },
  };
}

const CASES: Array<[string, keyof typeof faults, string, RegExp]> = [
  ['disk full at open', 'open', 'ENOSPC', /disk full/],
  ['disk full at write', 'write', 'ENOSPC', /disk full/],
  ['quota exceeded at fsync', 'sync', 'EDQUOT', /quota/],
  ['read-only folder', 'open', 'EROFS', /read-only/],
  ['permission denied', 'open', 'EACCES', /read-only or not writable/],
  ['read-only at rename', 'rename', 'EROFS', /read-only/],
  ['I/O error at write', 'write', 'EIO', /input\/output/],
];

describe('saveModel and saveCheckpoint under injected faults', () => {
  for (const [what, where, code, message] of CASES) {
    it(`${what}: rejects with ERR_FINETUNE_SAVE (${code}); old files byte-identical, no temporary file`, async () => {
      const dir = await tempDir();
      const modelFile = path.join(dir, 'model.onnx');
      const ckpt = path.join(dir, 'ckpt');
      await saveModel(modelFile, tinyModel(1));
      await saveCheckpoint(ckpt, checkpointOf(1));
      const before = snapshotDir(dir);
      faults[where] = code;
      const e1 = expectClean(await rejected(saveModel(modelFile, tinyModel(2))), { code: 'ERR_FINETUNE_SAVE', message: [message, /model\.onnx/] });
      expect((e1 as { errno?: string }).errno).toBe(code);
      expectClean(await rejected(saveCheckpoint(ckpt, checkpointOf(2))), { code: 'ERR_FINETUNE_SAVE', message });
      faults[where] = undefined;
      expect(snapshotDir(dir)).toEqual(before);
      expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
      expect(Array.from((await loadModel(modelFile)).params.get('classifier.bias')!)).toEqual(Array.from(tinyModel(1).params.get('classifier.bias')!));
      expect((await loadCheckpoint(ckpt)).state.steps).toBe(1);
    });
  }
});
