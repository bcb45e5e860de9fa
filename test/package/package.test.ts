/**
 * What `npm pack` ships and how users meet it:
 *  - the tarball holds dist/, the native sources for a source build, the
 *    install script, the shipped data and (when built) prebuilds/linux-x64/,
 *    and no tests or build folders;
 *  - publint finds nothing wrong with package.json;
 *  - types resolve for ESM users and for CommonJS users (`require` under
 *    module nodenext; `await import()` under node16, where `require` of an
 *    ES module is refused by TypeScript), and `require('finetune')` runs on
 *    Node >= 20.19;
 *  - slow, opt-in (FINETUNE_PACKAGE_TEST=1): scripts/check-package.sh installs
 *    the tarball into an empty project with no compiler on PATH and runs the
 *    quick start.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const temp: string[] = [];
afterAll(() => temp.forEach((d) => rmSync(d, { recursive: true, force: true })));

function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
}

/** A consumer project whose node_modules/finetune is this repository. */
function consumer(): string {
  const dir = mkdtempSync(join(tmpdir(), 'finetune-consumer-'));
  temp.push(dir);
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'finetune'), 'dir');
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  return dir;
}

const built = existsSync(join(root, 'dist', 'src', 'index.d.ts'));

describe('npm pack', () => {
  it('ships dist, native sources, install script, data and prebuilds; no tests or build output', () => {
    const files = packedFiles();
    const has = (p: string) => files.includes(p);
    for (const f of ['package.json', 'README.md', 'CMakeLists.txt', 'binding.gyp', 'scripts/install.mjs', 'data/sst2/train.txt', 'data/sst2/dev.txt', 'data/sst2/test.txt', 'native/addon/addon.cpp', 'native/addon/program_binding.cpp', 'native/runtime/program.cpp', 'native/cpu/conv1d.cpp']) {
      expect(has(f), f).toBe(true);
    }
    if (built) for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/bin.js', 'dist/src/serve/server.js']) expect(has(f), f).toBe(true);
    if (existsSync(join(root, 'prebuilds', 'linux-x64', 'finetune.node'))) expect(has('prebuilds/linux-x64/finetune.node')).toBe(true);
    const unwanted = files.filter((f) => /^(test|build|build-[^/]*|node_modules|coverage|examples)\//.test(f) || /\.test\.[cm]?[jt]s$/.test(f) || f.endsWith('.tgz') || f.endsWith('.node') && !f.startsWith('prebuilds/'));
    expect(unwanted).toEqual([]);
  });

  it('publint finds no problems', async () => {
    const { publint } = await import('publint');
    const { messages } = await publint({ pkgDir: root, level: 'warning', strict: true, pack: 'npm' });
    expect(messages.map((m) => `${m.code} ${m.path.join('.')}`)).toEqual([]);
  });
});

describe.runIf(built)('types and module formats for users', () => {
  it('types resolve for ESM (import), CommonJS under nodenext (require) and CommonJS under node16 (await import)', () => {
    const dir = consumer();
    writeFileSync(join(dir, 'esm.mts'), `import { Classifier, createServer, trainFromFiles, saveModel, replaceHead, type Prediction } from 'finetune';
const clf: Classifier = await Classifier.load('m.onnx', { maxBatch: 32, maxWaitMs: 2 });
const p: Prediction[] = await clf.predict(['x'], { topK: 1 });
const server = createServer(clf, { maxBodyBytes: 1024 });
await server.listen(0);
void [p, trainFromFiles, saveModel, replaceHead];
`);
    writeFileSync(join(dir, 'require.cts'), `import { Classifier, type Prediction } from 'finetune';
export async function run(): Promise<Prediction[]> {
  return (await Classifier.load('m.onnx')).predict(['x']);
}
`);
    writeFileSync(join(dir, 'dynamic.cts'), `export async function run(): Promise<string[]> {
  const { Classifier } = await import('finetune');
  return (await (await Classifier.load('m.onnx')).predict(['x'])).map((p) => p.label);
}
`);
    const base = { target: 'es2022', strict: true, noEmit: true, types: ['node'], skipLibCheck: true };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base, module: 'nodenext' }, files: ['esm.mts', 'require.cts', 'dynamic.cts'] }));
    writeFileSync(join(dir, 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: { ...base, module: 'node16' }, files: ['dynamic.cts'] }));
    for (const project of ['tsconfig.json', 'tsconfig.node16.json']) {
      const r = spawnSync(process.execPath, [tsc, '-p', project], { cwd: dir, encoding: 'utf8' });
      expect(r.stdout + r.stderr, project).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it('loads with import and, on Node >= 20.19, with require', () => {
    const dir = consumer();
    writeFileSync(join(dir, 'a.mjs'), `import { Classifier, createServer } from 'finetune';\nconsole.log(typeof Classifier.load, typeof createServer);\n`);
    writeFileSync(join(dir, 'b.cjs'), `const { Classifier, createServer } = require('finetune');\nconsole.log(typeof Classifier.load, typeof createServer);\n`);
    expect(execFileSync(process.execPath, ['a.mjs'], { cwd: dir, encoding: 'utf8' }).trim()).toBe('function function');
    const [major, minor] = process.versions.node.split('.').map(Number);
    if (major > 20 || (major === 20 && minor >= 19)) {
      expect(execFileSync(process.execPath, ['b.cjs'], { cwd: dir, encoding: 'utf8' }).trim()).toBe('function function');
    }
  });
});

describe.runIf(process.env.FINETUNE_PACKAGE_TEST === '1')('installing the tarball (slow: FINETUNE_PACKAGE_TEST=1)', () => {
  it('installs with no compiler on PATH and runs the quick start', () => {
    const r = spawnSync('bash', [join(root, 'scripts', 'check-package.sh')], { cwd: root, encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stdout.slice(-4000) + r.stderr.slice(-4000)).toBe(0);
    expect(r.stdout).toContain('check-package: OK');
  }, 600_000);
});
