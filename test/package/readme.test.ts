/**
 * README.md cannot drift: its CLI reference equals every command's --help
 * (see scripts/readme-cli.mjs), it starts with `npm install` and `npm test`,
 * and the commands and files it points to exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { main } from '../../src/cli/main.js';
import { repoRoot } from '../helpers/transpile.js';
// @ts-expect-error: a plain .mjs script without declarations
import { renderReference, replaceReference } from '../../scripts/readme-cli.mjs';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
afterEach(() => vi.restoreAllMocks());

async function help(command: string | undefined): Promise<string> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  await main(command ? [command, '--help'] : ['--help']);
  vi.restoreAllMocks();
  return out;
}

describe('README.md', () => {
  it('has a CLI reference equal to --help (regenerate: node scripts/readme-cli.mjs --write)', async () => {
    const texts = new Map<string | undefined, string>();
    for (const c of [undefined, 'train', 'eval', 'predict', 'export', 'serve', 'bench']) texts.set(c, await help(c));
    const section = (renderReference as (h: (c: string | undefined) => string) => string)((c) => texts.get(c)!);
    expect((replaceReference as (r: string, s: string) => string)(readme, section)).toBe(readme);
  });

  it('sets up with `npm install` then `npm test`', () => {
    const commands = [...readme.matchAll(/```(?:sh|bash|console)?\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n')).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(commands.slice(0, 2)).toEqual(['npm install', 'npm test']);
  });

  it('points to files that exist and leaves nothing to fill in', () => {
    for (const f of ['data/sst2/train.txt', 'data/sst2/dev.txt', 'data/sst2/test.txt', 'examples/train.ts', 'examples/fine-tune.ts', 'examples/predict.ts', 'examples/serve.ts', 'bench/serve.ts', 'bench/soak.ts', 'scripts/check-package.sh']) {
      expect(readme, f).toContain(f);
      expect(existsSync(join(repoRoot, f)), f).toBe(true);
    }
    expect(readme).not.toMatch(/\bTODO\b|\bTBD\b|XXX/);
  });
});
