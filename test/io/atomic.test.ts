import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { cleanStaleTemps, loadTensorFile, saveTensorFile, SaveError, writeFileAtomic } from '../../src/io/index.js';
import { isTempFileOf } from '../../src/io/atomic.js';
import { removeTempDirs, rng, tempDir, transpileIoForChild } from './helpers.js';

afterAll(removeTempDirs);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function temps(dir: string, base: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => isTempFileOf(n, base));
}

/** pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

describe('writeFileAtomic', () => {
  it('writes chunks, replaces the old file, leaves no temporary file, keeps the mode', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'f.bin');
    await writeFile(file, 'old');
    await chmod(file, 0o640);
    await writeFileAtomic(file, [Buffer.from('hello '), new Uint8Array(0), Buffer.from('world')]);
    expect(await readFile(file, 'utf8')).toBe('hello world');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await temps(dir, 'f.bin')).toEqual([]);
    await writeFileAtomic(file, Buffer.from('x'), { mode: 0o600 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('concurrent writes to one path run in call order', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'c.bin');
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        writeFileAtomic(file, Buffer.alloc(100_000 + (19 - i) * 10_000, i)).then(() => order.push(i)),
      ),
    );
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const final = await readFile(file);
    expect(final.length).toBe(100_000);
    expect(final.every((b) => b === 19)).toBe(true);
    expect(await temps(dir, 'c.bin')).toEqual([]);
  });

  it('a failed write does not block later writes to the same path', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'missing', 'f.bin');
    const a = writeFileAtomic(file, Buffer.from('a'));
    await mkdir(path.dirname(file));
    // `a` may or may not fail depending on timing; the next one must succeed.
    await a.catch(() => undefined);
    await writeFileAtomic(file, Buffer.from('b'));
    expect(await readFile(file, 'utf8')).toBe('b');
  });

  it('writes through a symlink to the file it points to', async () => {
    const dir = await tempDir();
    const real = path.join(dir, 'real.bin');
    const link = path.join(dir, 'link.bin');
    await writeFile(real, 'old');
    const { symlink, lstat } = await import('node:fs/promises');
    await symlink(real, link);
    await writeFileAtomic(link, Buffer.from('new'));
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readFile(real, 'utf8')).toBe('new');
  });
});

describe('save failures reject with ERR_FINETUNE_SAVE and leave the old file', () => {
  it('folder does not exist', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nope', 'ckpt.ftc');
    const err = await saveTensorFile(file, { tensors: { w: new Float32Array(4) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SaveError);
    expect(err).toMatchObject({ code: 'ERR_FINETUNE_SAVE', errno: 'ENOENT', path: file });
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('folder does not exist');
  });

  it('a path under a regular file', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'plain'), 'x');
    const file = path.join(dir, 'plain', 'ckpt.ftc');
    await expect(writeFileAtomic(file, Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_FINETUNE_SAVE', errno: 'ENOTDIR' });
  });

  it('target is a folder: rejects, folder intact, no temporary file', async () => {
    const dir = await tempDir();
    const target = path.join(dir, 'sub');
    await mkdir(target);
    await writeFile(path.join(target, 'keep'), 'k');
    const err = await writeFileAtomic(target, Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_FINETUNE_SAVE' });
    expect(await readFile(path.join(target, 'keep'), 'utf8')).toBe('k');
    expect(await temps(dir, 'sub')).toEqual([]);
  });

  it.skipIf(isRoot)('read-only folder (skipped as root: chmod does not stop root; atomic-faults.test.ts simulates EROFS/EACCES)', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'ckpt.ftc');
    await saveTensorFile(file, { meta: { v: 1 }, tensors: { w: new Float32Array([1]) } });
    await chmod(dir, 0o555);
    try {
      const err = await saveTensorFile(file, { meta: { v: 2 }, tensors: { w: new Float32Array([2]) } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_FINETUNE_SAVE', errno: 'EACCES' });
      expect((err as Error).message).toContain('read-only');
      expect((await loadTensorFile(file)).meta.v).toBe(1);
    } finally {
      await chmod(dir, 0o755);
    }
  });
});

describe('temporary files', () => {
  it('cleanStaleTemps removes temps of dead processes only', async () => {
    const dir = await tempDir();
    const dead = deadPid();
    const names = {
      dead: `.ckpt.ftc.tmp-${dead}-0123456789ab`,
      mine: `.ckpt.ftc.tmp-${process.pid}-0123456789ab`,
      parent: `.ckpt.ftc.tmp-${process.ppid}-0123456789ab`,
      other: `.other.ftc.tmp-${dead}-0123456789ab`,
      unrelated: 'ckpt.ftc.tmp-notours',
    };
    for (const n of Object.values(names)) await writeFile(path.join(dir, n), 'x');
    expect(await cleanStaleTemps(dir, 'ckpt.ftc')).toEqual([names.dead]);
    const left = await readdir(dir);
    expect(left.sort()).toEqual([names.mine, names.parent, names.other, names.unrelated].sort());
    expect(await cleanStaleTemps(path.join(dir, 'missing'), 'x')).toEqual([]);
  });

  it('each save cleans what dead processes left', async () => {
    const dir = await tempDir();
    const stale = `.m.ftc.tmp-${deadPid()}-aaaaaaaaaaaa`;
    await writeFile(path.join(dir, stale), 'partial');
    await saveTensorFile(path.join(dir, 'm.ftc'), { tensors: {} });
    expect(await readdir(dir)).toEqual(['m.ftc']);
  });
});

describe('concurrent saves', () => {
  it('two concurrent saves both resolve; the file is the later one, valid', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'two.ftc');
    const big = new Float32Array(2_000_000).fill(1);
    const small = new Float32Array(10).fill(2);
    await Promise.all([
      saveTensorFile(file, { meta: { v: 1 }, tensors: { w: big } }),
      saveTensorFile(file, { meta: { v: 2 }, tensors: { w: small } }),
    ]);
    const data = await loadTensorFile(file);
    expect(data.meta.v).toBe(2);
    expect([...data.tensors.get('w')!]).toEqual(Array(10).fill(2));
    expect(await temps(dir, 'two.ftc')).toEqual([]);
  });

  it('ten concurrent saves: call order wins', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'ten.ftc');
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => saveTensorFile(file, { meta: { v: i }, tensors: { w: new Float32Array(50_000 * (10 - i)).fill(i) } })),
    );
    const data = await loadTensorFile(file);
    expect(data.meta.v).toBe(9);
    expect(data.tensors.get('w')!.every((x) => x === 9)).toBe(true);
  });
});

// ------------------------------------------------------------ SIGKILL during saves

const CHILD = `
const [, , modUrl, target, startVersion, elements] = process.argv;
const { saveTensorFile } = await import(modUrl);
const w = new Float32Array(Number(elements));
let v = Number(startVersion);
process.stdout.write('started\\n');
for (;;) {
  v += 1;
  w.fill(v);
  await saveTensorFile(target, { meta: { version: v }, tensors: { w, v: new Int32Array([v]) } }, { copy: false });
}
`;

describe('SIGKILL at random moments of a save loop', () => {
  let modUrl: string;
  let work: string;
  beforeAll(async () => {
    modUrl = await transpileIoForChild();
    work = await tempDir('finetune-io-kill-');
  });

  /** Runs the child until `delayMs` after it started saving, SIGKILLs it, waits for its exit. */
  function killAfter(script: string, target: string, start: number, elements: number, delayMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [script, modUrl, target, String(start), String(elements)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), delayMs));
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (signal === 'SIGKILL') resolve();
        else reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
      });
    });
  }

  it('leaves the old or the new file, each valid, at >= 50 kill points; the next save cleans temps', async () => {
    const script = path.join(work, 'child.mjs');
    await writeFile(script, CHILD);
    const ELEMENTS = 500_000; // 2 MB per save
    const LANES = 2;
    const KILLS_PER_LANE = 26;
    const stats = { kills: 0, tempLeft: 0, advanced: 0 };
    const lane = async (laneNo: number): Promise<void> => {
      const r = rng(1000 + laneNo);
      const dir = path.join(work, `lane${laneNo}`);
      await mkdir(dir);
      const target = path.join(dir, 'ckpt.ftc');
      let known = 0;
      await saveTensorFile(target, { meta: { version: 0 }, tensors: { w: new Float32Array(ELEMENTS), v: new Int32Array([0]) } });
      for (let k = 0; k < KILLS_PER_LANE; k++) {
        const start = (k + 1) * 1000; // versions stay below 2^24, exact in float32
        await killAfter(script, target, start, ELEMENTS, Math.floor(r() * 60));
        stats.kills++;
        if ((await temps(dir, 'ckpt.ftc')).length > 0) stats.tempLeft++;
        const data = await loadTensorFile(target);
        const version = data.meta.version as number;
        expect(data.tensors.get('v')![0]).toBe(version);
        const w = data.tensors.get('w')!;
        expect(w.length).toBe(ELEMENTS);
        for (let i = 0; i < w.length; i++) if (w[i] !== version) throw new Error(`lane ${laneNo} kill ${k}: w[${i}] = ${w[i]}, version ${version}`);
        expect(version === known || (version > start && version < start + 1000)).toBe(true);
        if (version !== known) stats.advanced++;
        // The next save (by this process) removes the dead child's temp file and sets a new "old" version.
        known = start + 999;
        await saveTensorFile(target, { meta: { version: known }, tensors: { w: new Float32Array(ELEMENTS).fill(known), v: new Int32Array([known]) } });
        expect(await temps(dir, 'ckpt.ftc')).toEqual([]);
      }
    };
    await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
    console.log(`SIGKILL test: ${stats.kills} kills, ${stats.tempLeft} left a temporary file (killed mid-save), ${stats.advanced} saw a new version`);
    expect(stats.kills).toBeGreaterThanOrEqual(50);
    // The kill points must actually hit saves in progress, not only process start-up.
    expect(stats.tempLeft).toBeGreaterThan(5);
  });
});
