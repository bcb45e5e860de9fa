/**
 * Shared pieces of the hostile-input suite (test/hostile) and the fuzzers
 * (test/fuzz): temp folders, the "clean error" check of HAZARDS.md, RSS
 * measurement, byte-identity of files, small models, and a transpiled copy of
 * src/ that child processes can import (so a child can be SIGKILLed mid-save
 * without depending on a built dist/ others may be rebuilding).
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'vitest';

import { FinetuneError } from '../../src/errors.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixtures = path.join(repoRoot, 'test', 'fixtures');

const created: string[] = [];

/** A fresh folder under os.tmpdir(); removeTempDirs() deletes every one made so far. */
export async function tempDir(prefix = 'finetune-hostile-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of created.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** What a throwing call threw (fails the test if it did not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw, but the call returned');
}

/** What a promise rejected with (fails the test if it resolved). */
export async function rejected(p: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Messages of engine errors: our code crashed on a value instead of checking it. */
const ENGINE_MESSAGE =
  /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Invalid typed array length|Invalid array length|Array buffer allocation failed|Maximum call stack|Cannot convert|Invalid string length|out of memory|undefined is not|null is not|Cannot destructure|Offset is outside the bounds/;

/**
 * True when `err` is one of the error kinds this package promises: a
 * FinetuneError, or a TypeError/RangeError from an argument check, with an
 * ERR_FINETUNE_ code. The addon's own state errors (ERR_FINETUNE_BUSY,
 * _DISPOSED, _NO_MEMORY, _INTERNAL) are plain Errors with a code; they are
 * accepted here (see the report: they are not FinetuneErrors).
 */
export function isCleanError(err: unknown): err is Error & { code: string } {
  if (!(err instanceof Error)) return false;
  const plainNative = Object.getPrototypeOf(err) === Error.prototype && /^ERR_FINETUNE_(BUSY|DISPOSED|NO_MEMORY|INTERNAL)$/.test(String((err as { code?: unknown }).code));
  if (!(err instanceof FinetuneError || err instanceof TypeError || err instanceof RangeError || plainNative)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^ERR_FINETUNE_[A-Z0-9_]+$/.test(code)) return false;
  return !ENGINE_MESSAGE.test(err.message);
}

export interface CleanSpec {
  /** The exact code, or a pattern. */
  code?: string | RegExp;
  /** Patterns the message must match (file, field, line...). */
  message?: RegExp | RegExp[];
  /** The class it must be an instance of. */
  type?: abstract new (...args: never[]) => Error;
}

/**
 * The "clean error" of HAZARDS.md: a FinetuneError (or a TypeError/RangeError
 * from an argument check) with an ERR_FINETUNE_ code, a message that is not an
 * engine error and names what it must name. Returns the error for more checks.
 */
export function expectClean(err: unknown, spec: CleanSpec = {}): Error & { code: string } {
  if (!isCleanError(err)) {
    const e = err as Error | undefined;
    throw new Error(
      `not a clean error: ${e?.constructor?.name ?? typeof err} code=${String((e as { code?: unknown })?.code)} message=${JSON.stringify(e?.message)}\n${e?.stack ?? ''}`,
    );
  }
  if (spec.type) expect(err).toBeInstanceOf(spec.type);
  if (typeof spec.code === 'string') expect(err.code).toBe(spec.code);
  else if (spec.code) expect(err.code).toMatch(spec.code);
  for (const m of spec.message === undefined ? [] : Array.isArray(spec.message) ? spec.message : [spec.message]) expect(err.message).toMatch(m);
  return err;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function sha256File(file: string): string {
  return sha256(readFileSync(file));
}

/** Every file of a folder (recursively, names relative to it) with its SHA-256: to prove nothing changed on disk. */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(full);
      if (st.isDirectory()) walk(full, r);
      else if (st.isFile()) out[r] = sha256(readFileSync(full));
      else out[r] = `(${st.isSymbolicLink() ? 'symlink' : 'other'})`;
    }
  };
  walk(dir, '');
  return out;
}

/**
 * Under AddressSanitizer (scripts/test-asan.sh sets FINETUNE_ASAN=1) freed
 * memory sits in a quarantine, so RSS bounds are loosened by this factor.
 */
export const RSS_SLACK = process.env.FINETUNE_ASAN === '1' ? 8 : 1;

/** Resident set size in MiB (after a GC when --expose-gc is on). */
export function rssMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
}

/** Peak RSS growth (MiB) while `fn` runs, sampled every few ms and at the end. */
export async function peakRssGrowth<T>(fn: () => Promise<T> | T): Promise<{ value: T; growthMiB: number }> {
  const before = rssMiB();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss / 1024 / 1024);
  }, 5);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss / 1024 / 1024);
    return { value, growthMiB: peak - before };
  } finally {
    clearInterval(timer);
  }
}

/** Small deterministic PRNG (mulberry32): next() in [0, 1). */
export class Prng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

// ------------------------------------------------------------ a transpiled src/ for child processes

let transpiled: Promise<string> | undefined;

/**
 * Transpiles every src/**.ts to plain ESM in a temp folder laid out as a
 * package named "finetune" (package.json, node_modules and the addon's
 * build/ and prebuilds/ folders linked to the repository's), so that
 * `import(moduleUrl('src/onnx/model-file.js'))` works in a child process and
 * src/native.ts finds the addon as it does in the repository (FINETUNE_PREBUILD
 * still applies). Returns the package folder. Done once per test file.
 */
export function transpiledPackage(): Promise<string> {
  transpiled ??= (async () => {
    const ts = (await import('typescript')).default;
    const out = await tempDir('finetune-hostile-js-');
    writeFileSync(path.join(out, 'package.json'), JSON.stringify({ name: 'finetune', type: 'module' }) + '\n');
    for (const link of ['node_modules', 'build', 'prebuilds']) {
      try {
        symlinkSync(path.join(repoRoot, link), path.join(out, link));
      } catch {
        /* absent in this checkout */
      }
    }
    const walk = (rel: string): void => {
      for (const name of readdirSync(path.join(repoRoot, rel))) {
        const r = path.join(rel, name);
        const st = lstatSync(path.join(repoRoot, r));
        if (st.isDirectory()) walk(r);
        else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
          const js = ts.transpileModule(readFileSync(path.join(repoRoot, r), 'utf8'), {
            compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
            fileName: r,
          }).outputText;
          const dest = path.join(out, r.replace(/\.ts$/, '.js'));
          mkdirSync(path.dirname(dest), { recursive: true });
          writeFileSync(dest, js);
        }
      }
    };
    walk('src');
    return out;
  })();
  return transpiled;
}

/** file: URL of a module of the transpiled package, e.g. moduleUrl(pkg, 'src/onnx/model-file.js'). */
export function moduleUrl(pkg: string, rel: string): string {
  return pathToFileURL(path.join(pkg, rel)).href;
}
