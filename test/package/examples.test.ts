/**
 * The examples cannot rot: they type-check against the sources (tsc with
 * examples/tsconfig.json, where 'finetune' maps to src/index.ts), then run
 * with node, in order, on tiny data in a temp folder (train -> predict ->
 * fine-tune -> serve).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { cueData } from '../serve/helpers.js';
import { repoRoot, transpileTree } from '../helpers/transpile.js';

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('examples/', () => {
  it('type-check against the sources', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'examples', 'tsconfig.json'), '--noEmit'], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('run: train, predict, fine-tune, serve', () => {
    const js = transpileTree(['src', 'examples'], (code, file, out) => {
      let rel = relative(dirname(file), join(out, 'src', 'index.js'));
      if (!rel.startsWith('.')) rel = `./${rel}`;
      return code.replace(/from 'finetune'/g, `from '${rel}'`);
    });
    const dir = mkdtempSync(join(tmpdir(), 'finetune-examples-'));
    cleanup.push(js, dir);
    // Two-class data with a cue word; "gorgeous" and "boilerplate" are the cues the default texts use.
    const lines = (n: number, seed: number) => cueData(n, seed).split('\n').filter((l) => l && !l.startsWith('neutral')).map((l) => l.replace(/\b(great|superb|lovely)\b/, 'gorgeous').replace(/\b(awful|dull|tedious)\b/, 'boilerplate')).join('\n') + '\n';
    writeFileSync(join(dir, 'train.txt'), lines(450, 1));
    writeFileSync(join(dir, 'dev.txt'), lines(90, 2));
    writeFileSync(join(dir, 'test.txt'), lines(90, 3));
    const run = (name: string, ...args: string[]) =>
      execFileSync(process.execPath, [join(js, 'examples', `${name}.js`), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, FINETUNE_EXAMPLES_QUICK: '1' }, timeout: 60_000 });

    const trained = run('train', 'train.txt', 'dev.txt', 'test.txt', 'model.onnx');
    expect(trained).toMatch(/epoch 2: loss [\d.]+, dev accuracy [\d.]+%/);
    expect(trained).toMatch(/test accuracy [\d.]+%/);
    expect(trained).toContain('saved model.onnx');

    const predicted = run('predict', 'model.onnx', 'w1 gorgeous w2', 'w3 boilerplate');
    expect(predicted).toMatch(/^(pos|neg)\t[\d.]+\tw1 gorgeous w2$/m);
    expect(predicted).toMatch(/^(pos|neg)\t[\d.]+\tw3 boilerplate$/m);
    expect(predicted).toContain('top: ');

    const tuned = run('fine-tune', 'model.onnx', 'train.txt', 'dev.txt', 'tuned.onnx');
    expect(tuned).toMatch(/fine-tuned for 2 epochs: dev accuracy [\d.]+%/);
    expect(tuned).toContain('saved tuned.onnx');

    const served = run('serve', 'tuned.onnx', '0');
    expect(served).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(served).toMatch(/POST \/predict -> 200 (pos|neg)/);
    expect(served).toContain('stopped');
  });
});
