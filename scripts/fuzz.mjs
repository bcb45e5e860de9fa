#!/usr/bin/env node
// Runs the mutation fuzzers (test/fuzz) for longer than CI does, with a fresh
// seed, and prints how to replay what they find.
//
//   npm run fuzz                      # 300 s per target, random seed
//   FUZZ_SECONDS=60 FUZZ_SEED=42 npm run fuzz
//   npm run fuzz -- -t checkpoint     # one target (extra args go to vitest)
//
// Findings are saved under test/fuzz/corpus/regressions/ (<target>-<sha>.bin
// and a .json note); the suite replays them as regression tests.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = process.env.FUZZ_SECONDS ?? '300';
const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
console.log(`fuzz: ${seconds} s per target, seed ${seed} (rerun with FUZZ_SEED=${seed})`);
const r = spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['vitest', 'run', 'test/fuzz', '--testTimeout', String((Number(seconds) + 300) * 1000), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FUZZ_SECONDS: seconds, FUZZ_SEED: seed },
});
if (r.status !== 0) console.log('fuzz: findings (if any) are in test/fuzz/corpus/regressions/; each .json says what happened');
process.exit(r.status ?? 1);
