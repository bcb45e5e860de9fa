/**
 * Disk full, read-only folders and I/O errors, injected into node:fs/promises
 * (tests run as root in CI, where chmod cannot make a folder read-only).
 */
import { afterAll, describe, expect, it, vi, beforeEach } from 'vitest';
import * as path from 'node:path';
import { readdir } from 'node:fs/promises';

const faults = vi.hoisted(() => ({
  open: undefined as string | undefined,
  /** fail the write call with this index (0-based) of the temp file */
  write: undefined as { code: string; at: number } | undefined,
  sync: undefined as string | undefined,
  rename: undefined as string | undefined,
}));

function sysError(code: string, syscall: string): NodeJS.ErrnoException {
  const messages: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EROFS: 'read-only file system',
    EACCES: 'permission denied',
    EIO: 'i/o error',
    EDQUOT: 'disk quota exceeded',
  };
  return Object.assign(new Error(`${code}: ${messages[code] ?? 'error'}, ${syscall}`), { code, syscall });
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (file, flags, mode) => {
    const isTemp = flags === 'wx';
    if (isTemp && faults.open !== undefined) throw sysError(faults.open, 'open');
    const fh = await real.open(file, flags, mode);
    if (isTemp) {
      let writes = 0;
      const write = fh.write.bind(fh) as (...a: unknown[]) => Promise<unknown>;
      const sync = fh.sync.bind(fh);
      Object.assign(fh, {
        write: async (...args: unknown[]) => {
          if (faults.write !== undefined && writes++ === faults.write.at) throw sysError(faults.write.code, 'write');
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

const { loadTensorFile, saveTensorFile, SaveError } = await import('../../src/io/index.js');
const { tempDir, removeTempDirs } = await import('./helpers.js');

afterAll(removeTempDirs);

async function withOldFile(): Promise<{ dir: string; file: string }> {
  const dir = await tempDir();
  const file = path.join(dir, 'ckpt.ftc');
  await saveTensorFile(file, { meta: { v: 1 }, tensors: { w: new Float32Array(1000).fill(1) } });
  return { dir, file };
}

async function expectOldIntact(dir: string, file: string): Promise<void> {
  const data = await loadTensorFile(file);
  expect(data.meta.v).toBe(1);
  expect(data.tensors.get('w')!.every((x) => x === 1)).toBe(true);
  expect(await readdir(dir)).toEqual(['ckpt.ftc']);
}

const next = () => ({ meta: { v: 2 }, tensors: { w: new Float32Array(1000).fill(2), b: new Float32Array(10) } });

beforeEach(() => {
  faults.open = undefined;
  faults.write = undefined;
  faults.sync = undefined;
  faults.rename = undefined;
});

describe('injected save failures', () => {
  const cases: [string, () => void, string, RegExp][] = [
    ['disk full in the middle of the write', () => (faults.write = { code: 'ENOSPC', at: 1 }), 'ENOSPC', /disk full/],
    ['quota exceeded', () => (faults.write = { code: 'EDQUOT', at: 0 }), 'EDQUOT', /quota/],
    ['read-only file system', () => (faults.open = 'EROFS'), 'EROFS', /read-only/],
    ['folder not writable', () => (faults.open = 'EACCES'), 'EACCES', /read-only or not writable/],
    ['fsync fails', () => (faults.sync = 'EIO'), 'EIO', /input\/output error/],
    ['rename fails', () => (faults.rename = 'EACCES'), 'EACCES', /not writable/],
  ];
  for (const [what, arm, errno, hint] of cases) {
    it(`${what}: rejects with ERR_FINETUNE_SAVE, old file intact, temp removed`, async () => {
      const { dir, file } = await withOldFile();
      arm();
      const err = await saveTensorFile(file, next()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SaveError);
      expect(err).toMatchObject({ code: 'ERR_FINETUNE_SAVE', errno, path: file });
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(hint);
      expect((err as Error).cause).toMatchObject({ code: errno });
      faults.open = faults.write = faults.sync = faults.rename = undefined;
      await expectOldIntact(dir, file);
      // and the next save works
      await saveTensorFile(file, next());
      expect((await loadTensorFile(file)).meta.v).toBe(2);
    });
  }
});
