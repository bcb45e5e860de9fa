#!/usr/bin/env node
// Keeps README.md's command-line reference equal to the commands' --help
// output. The reference sits between `<!-- cli-reference:start -->` and
// `<!-- cli-reference:end -->`.
//
//   node scripts/readme-cli.mjs          check (exit 1 and a diff hint when stale)
//   node scripts/readme-cli.mjs --write  regenerate the section
//
// Runs the built command line (dist/src/cli/bin.js: `npm run build:ts` first).
// test/package/readme.test.ts does the same check against the sources.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const COMMANDS = ['train', 'eval', 'predict', 'export', 'serve', 'bench'];
export const START = '<!-- cli-reference:start -->';
export const END = '<!-- cli-reference:end -->';

/** The reference section for `help(command)` (undefined: `finetune --help`). */
export function renderReference(help) {
  const parts = [START, '', 'Generated from `--help` by `node scripts/readme-cli.mjs --write`; a test fails when it is stale.', ''];
  parts.push('```', help(undefined).trimEnd(), '```', '');
  for (const c of COMMANDS) parts.push(`### finetune ${c}`, '', '```', help(c).trimEnd(), '```', '');
  parts.push(END);
  return parts.join('\n');
}

/** README text with its reference section replaced; throws when the markers are missing. */
export function replaceReference(readme, section) {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} ... ${END} section`);
  return readme.slice(0, a) + section + readme.slice(b + END.length);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const bin = join(root, 'dist', 'src', 'cli', 'bin.js');
  const help = (c) => {
    const r = spawnSync(process.execPath, [bin, ...(c ? [c] : []), '--help'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`finetune ${c ?? ''} --help failed: ${r.stderr}`);
    return r.stdout;
  };
  const file = join(root, 'README.md');
  const readme = readFileSync(file, 'utf8');
  const next = replaceReference(readme, renderReference(help));
  if (process.argv.includes('--write')) {
    writeFileSync(file, next);
    console.log(next === readme ? 'README.md: CLI reference already up to date' : 'README.md: CLI reference updated');
  } else if (next !== readme) {
    console.error('README.md: the CLI reference differs from --help; run `node scripts/readme-cli.mjs --write`');
    process.exit(1);
  } else {
    console.log('README.md: CLI reference matches --help');
  }
}
