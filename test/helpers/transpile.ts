/**
 * Plain-JavaScript copies of src/ (and optionally other folders) for code
 * that runs outside vitest's transform: worker threads and child processes.
 * Each file is transpiled on its own (no type check: `tsc --noEmit` does
 * that), into node_modules/.cache/ inside the repository so that the copy
 * still finds the package root and its native addon.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/**
 * Transpiles `folders` (relative to the repository, default ['src']) into a
 * fresh folder and returns it; `rewrite` may change each emitted file (e.g. a
 * bare 'finetune' import into a relative one).
 */
export function transpileTree(folders: string[] = ['src'], rewrite?: (js: string, outFile: string, out: string) => string): string {
  const base = join(repoRoot, 'node_modules', '.cache');
  mkdirSync(base, { recursive: true });
  const out = mkdtempSync(join(base, 'finetune-js-'));
  // ESM scope for the copies (node_modules/ stops the search for the repository's package.json).
  writeFileSync(join(out, 'package.json'), JSON.stringify({ name: 'finetune-transpiled', private: true, type: 'module' }));
  for (const folder of folders) {
    for (const file of tsFiles(join(repoRoot, folder))) {
      const rel = relative(repoRoot, file);
      const target = join(out, rel.replace(/\.ts$/, '.js'));
      const r = ts.transpileModule(readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
      });
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, rewrite ? rewrite(r.outputText, target, out) : r.outputText);
    }
  }
  return out;
}
