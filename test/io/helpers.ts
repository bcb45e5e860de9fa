import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const created: string[] = [];

/** A fresh folder under os.tmpdir(); removeTempDirs() deletes every one made so far. */
export async function tempDir(prefix = 'finetune-io-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of created.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const align = (n: number): number => Math.ceil(n / 64) * 64;

export interface RawFileSpec {
  /** Header object (JSON.stringify'd) or the exact header text / bytes. */
  header: unknown;
  /** Data region bytes (default: zeros of header.dataLength when given). */
  data?: Uint8Array;
  /** Overrides the u32 header length field. */
  headerLength?: number;
}

/**
 * Builds a tensor file byte by byte, with a valid SHA-256 and end magic, so a
 * test can make exactly one thing wrong.
 */
export function rawFile(spec: RawFileSpec): Uint8Array {
  const headerBytes =
    spec.header instanceof Uint8Array
      ? spec.header
      : Buffer.from(typeof spec.header === 'string' ? spec.header : JSON.stringify(spec.header), 'utf8');
  const dataStart = align(12 + headerBytes.length);
  let data = spec.data;
  if (data === undefined) {
    const dl = (spec.header as { dataLength?: unknown })?.dataLength;
    data = new Uint8Array(typeof dl === 'number' ? dl : 0);
  }
  const out = new Uint8Array(dataStart + data.length + 40);
  out.set(Buffer.from('FTCKPT01', 'latin1'), 0);
  new DataView(out.buffer).setUint32(8, spec.headerLength ?? headerBytes.length, true);
  out.set(headerBytes, 12);
  out.set(data, dataStart);
  return fixChecksum(out);
}

/** Rewrites the trailer (SHA-256 of everything before it + end magic) in place. */
export function fixChecksum(file: Uint8Array): Uint8Array {
  const end = file.length - 40;
  file.set(createHash('sha256').update(file.subarray(0, end)).digest(), end);
  file.set(Buffer.from('FTCKEND1', 'latin1'), end + 32);
  return file;
}

/**
 * Transpiles src/errors.ts and src/io/*.ts to plain ESM JavaScript in a temp
 * folder (no dependence on a built dist/ that others may be rebuilding), so a
 * child process can import them. Returns the file URL of tensorfile.js.
 */
export async function transpileIoForChild(): Promise<string> {
  const ts = (await import('typescript')).default;
  const out = await tempDir('finetune-io-js-');
  await writeFile(path.join(out, 'package.json'), '{"type":"module"}\n');
  const files = ['src/errors.ts', 'src/io/errors.ts', 'src/io/crc32.ts', 'src/io/atomic.ts', 'src/io/slices.ts', 'src/io/tensorfile.ts'];
  for (const rel of files) {
    const source = await readFile(path.join(repoRoot, rel), 'utf8');
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: rel,
    }).outputText;
    const dest = path.join(out, rel.replace(/\.ts$/, '.js'));
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, js);
  }
  return pathToFileURL(path.join(out, 'src/io/tensorfile.js')).href;
}
