import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataReader, type Example, type ReadOptions } from '../../src/data/index.js';

export const fixtures = fileURLToPath(new URL('../fixtures/data/', import.meta.url));

/** A temp directory removed by the returned cleanup. */
export function tempDir(): { dir: string; file: (name: string, content: string | Uint8Array) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'finetune-data-'));
  return {
    dir,
    file(name, content) {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function readAll(file: string, options: ReadOptions = {}): Promise<{ examples: Example[]; reader: DataReader }> {
  const reader = new DataReader(file, options);
  const examples: Example[] = [];
  for await (const e of reader) examples.push(e);
  return { examples, reader };
}

/** Catches the rejection of a promise (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; line?: number; file?: string; byteOffset?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}
