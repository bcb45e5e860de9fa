/**
 * Crash-safe file replacement: write a temporary file in the target's folder,
 * fsync it, rename it over the target, fsync the folder. A reader (or a
 * process restarted after SIGKILL or power loss) sees the old file or the new
 * one, never a mix. Saves to one path within this process are serialised.
 */
import { open, readdir, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SaveError } from './errors.js';

export interface WriteFileAtomicOptions {
  /** File mode of the new file; default: the mode of the file replaced, else 0o666 less the umask. */
  mode?: number;
  /** fsync the file and its folder (default true). Only tests and throwaway files should turn this off. */
  fsync?: boolean;
}

/** One write call hands the kernel at most this many bytes. */
const WRITE_SLICE = 1 << 30;

const locks = new Map<string, Promise<void>>();

/**
 * Runs `fn` when every earlier `withPathLock` on the same (resolved) path has
 * settled, and holds the path until `fn` settles. Calls run in call order.
 */
export function withPathLock<T>(target: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(target);
  const previous = locks.get(key) ?? Promise.resolve();
  const result = previous.then(fn);
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, settled);
  void settled.then(() => {
    if (locks.get(key) === settled) locks.delete(key);
  });
  return result;
}

/**
 * Replaces `target` with `data` (one buffer or chunks written in order)
 * atomically. Rejects with a SaveError (code ERR_FINETUNE_SAVE) naming the
 * path and the cause; the old file is then intact and no temporary file left.
 * The chunks are read when the write runs: do not change them until the
 * promise settles.
 */
export function writeFileAtomic(
  target: string,
  data: Uint8Array | readonly Uint8Array[],
  opts: WriteFileAtomicOptions = {},
): Promise<void> {
  if (typeof target !== 'string' || target.length === 0) {
    return Promise.reject(new TypeError('writeFileAtomic: the path must be a non-empty string'));
  }
  const chunks = data instanceof Uint8Array ? [data] : [...data];
  for (const c of chunks) {
    if (!(c instanceof Uint8Array)) {
      return Promise.reject(new TypeError('writeFileAtomic: data must be a Uint8Array or an array of them'));
    }
  }
  return withPathLock(target, () => writeFileAtomicUnlocked(target, chunks, opts));
}

/** writeFileAtomic without taking the per-path lock (the caller holds it). */
export async function writeFileAtomicUnlocked(
  target: string,
  chunks: readonly Uint8Array[],
  opts: WriteFileAtomicOptions = {},
): Promise<void> {
  const fsync = opts.fsync ?? true;
  let finalPath = path.resolve(target);
  try {
    // Replace the file a symlink points to, not the symlink.
    finalPath = await realpath(finalPath);
  } catch {
    /* does not exist yet (or a dangling link): write at the given path */
  }
  const dir = path.dirname(finalPath);
  const base = path.basename(finalPath);
  await cleanStaleTemps(dir, base).catch(() => undefined);

  let mode = opts.mode;
  if (mode === undefined) {
    try {
      const st = await stat(finalPath);
      if (st.isFile()) mode = st.mode & 0o7777;
    } catch {
      /* new file */
    }
  }

  const tmp = path.join(dir, tempName(base));
  let fh: FileHandle | undefined;
  let created = false;
  try {
    fh = await open(tmp, 'wx', mode ?? 0o666);
    created = true;
    if (mode !== undefined) await fh.chmod(mode);
    for (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const length = Math.min(WRITE_SLICE, chunk.byteLength - offset);
        const { bytesWritten } = await fh.write(chunk, offset, length);
        if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
        offset += bytesWritten;
      }
    }
    if (fsync) await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, finalPath);
    created = false;
  } catch (err) {
    if (fh !== undefined) await fh.close().catch(() => undefined);
    if (created) await unlink(tmp).catch(() => undefined);
    throw saveError(target, err);
  }
  if (fsync) await syncFolder(dir, target);
}

async function syncFolder(dir: string, target: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = errnoOf(err);
    // Some file systems cannot fsync a folder; the rename has happened anyway.
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EPERM' && code !== 'EBADF') {
      throw saveError(target, err, 'the new file is in place, but syncing its folder failed');
    }
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

const HINTS: Record<string, string> = {
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'folder is read-only (read-only file system)',
  EACCES: 'folder is read-only or not writable (permission denied)',
  EPERM: 'folder is read-only or not writable (operation not permitted)',
  ENOENT: 'folder does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'the path is a folder',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'input/output error',
};

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function saveError(target: string, err: unknown, context?: string): SaveError {
  const errno = errnoOf(err);
  const hint = (errno !== undefined && Object.hasOwn(HINTS, errno) ? HINTS[errno] : undefined) ?? 'write failed';
  const detail = err instanceof Error ? err.message : String(err);
  const head = context ?? `cannot save: ${hint}; the previous file, if any, is unchanged`;
  return new SaveError(target, `${target}: ${head} (${detail})`, errno, { cause: err });
}

/** Base of the target as it appears in temp names (kept short enough for NAME_MAX). */
function tempStem(base: string): string {
  const bytes = Buffer.from(base, 'utf8');
  return bytes.length <= 200 ? base : bytes.subarray(0, 200).toString('utf8');
}

function tempName(base: string): string {
  return `.${tempStem(base)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/**
 * Removes temporary files that saves of `dir/base` left behind in processes
 * that no longer run (killed mid-save). Temp files of live processes,
 * including this one, are kept. Returns the names removed. Never throws for
 * a missing folder or a file it cannot remove.
 */
export async function cleanStaleTemps(dir: string, base: string): Promise<string[]> {
  const prefix = `.${tempStem(base)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d{1,10})-[0-9a-f]{12}$/.exec(name.slice(prefix.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      await unlink(path.join(dir, name));
      removed.push(name);
    } catch {
      /* gone already, or not ours to remove */
    }
  }
  return removed;
}

/** True if `name` looks like a temporary file of a save of `base` (any process). */
export function isTempFileOf(name: string, base: string): boolean {
  const prefix = `.${tempStem(base)}.tmp-`;
  return name.startsWith(prefix) && /^\d{1,10}-[0-9a-f]{12}$/.test(name.slice(prefix.length));
}
