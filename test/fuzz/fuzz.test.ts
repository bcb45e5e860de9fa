/**
 * Seeded mutation fuzzing of the readers (see targets.ts): each target runs
 * FUZZ_SECONDS (default 15) from seed FUZZ_SEED (default 1, so CI is
 * reproducible); `npm run fuzz` runs them longer with a fresh seed.
 *
 * A finding (an exception that is not a clean error, an input taking over
 * FUZZ_SLOW_MS, or RSS growing past FUZZ_RSS_MIB) is saved under
 * test/fuzz/corpus/regressions/<target>-<sha>.bin (with a .json note) and
 * fails the run; every saved input is replayed below as a regression test.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { isCleanError, removeTempDirs, tempDir } from '../hostile/helpers.js';
import { Mutator } from './mutate.js';
import { TARGETS, type Target } from './targets.js';

afterAll(removeTempDirs);

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 15);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const SLOW_MS = Number(process.env.FUZZ_SLOW_MS ?? 2000);
const RSS_MIB = Number(process.env.FUZZ_RSS_MIB ?? 1500);
const REGRESSIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus', 'regressions');

/** The kind of a problem: its first line without paths and numbers, so one bug is saved once. */
function signature(problem: string): string {
  return problem.split('\n')[0].replace(/\/[^\s:'"]+/g, '<path>').replace(/\d+/g, 'N').slice(0, 200);
}

/** Signatures of saved findings not fixed yet (their note says "fixed": false): counted, not failing the run. */
function knownUnfixed(): Map<string, string> {
  const known = new Map<string, string>();
  if (!existsSync(REGRESSIONS)) return known;
  for (const f of readdirSync(REGRESSIONS).filter((x) => x.endsWith('.json'))) {
    const note = JSON.parse(readFileSync(path.join(REGRESSIONS, f), 'utf8')) as { problem: string; fixed?: boolean };
    if (note.fixed === false) known.set(signature(note.problem), f);
  }
  return known;
}

interface Finding {
  target: string;
  file: string;
  problem: string;
}

function save(target: Target, bytes: Uint8Array, problem: string, ops: string[]): string {
  mkdirSync(REGRESSIONS, { recursive: true });
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const file = path.join(REGRESSIONS, `${target.name}-${sha}.bin`);
  writeFileSync(file, bytes);
  writeFileSync(`${file.slice(0, -4)}.json`, JSON.stringify({ target: target.name, problem, signature: signature(problem), ops, seed: SEED }, null, 2) + '\n');
  return file;
}

/** Runs one input; returns a problem description, or null when it behaved. */
async function check(target: Target, bytes: Uint8Array, work: string): Promise<string | null> {
  const started = performance.now();
  try {
    await target.run(bytes, work);
  } catch (err) {
    if (!isCleanError(err)) {
      const e = err as Error;
      return `unclean ${e?.constructor?.name ?? typeof err}: ${e?.message ?? String(err)}\n${(e?.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
    }
  }
  const ms = performance.now() - started;
  if (ms > SLOW_MS) return `slow: ${ms.toFixed(0)} ms for ${bytes.length} bytes`;
  return null;
}

const counts: Record<string, { executions: number; clean: number; findings: number; known: number }> = {};

describe('mutation fuzzing', () => {
  for (const target of TARGETS) {
    it(
      `${target.name}: ${SECONDS} s from seed ${SEED}, every exception a clean error, no slow input, bounded memory`,
      async () => {
        const work = await tempDir(`finetune-fuzz-${target.name}-`);
        const seeds = await target.seeds(work);
        expect(seeds.length).toBeGreaterThan(0);
        // The seeds themselves must pass.
        for (const s of seeds) expect(await check(target, s, work)).toBeNull();
        const m = new Mutator(SEED * 1000 + TARGETS.indexOf(target), seeds);
        const findings: Finding[] = [];
        const known = knownUnfixed();
        const seen = new Set<string>();
        const stats = { executions: 0, clean: 0, findings: 0, known: 0 };
        const baseRss = process.memoryUsage().rss / 2 ** 20;
        const deadline = performance.now() + SECONDS * 1000;
        while (performance.now() < deadline && findings.length < 10) {
          const { bytes, ops } = target.next(m);
          stats.executions++;
          const problem = await check(target, bytes, work);
          if (problem === null) stats.clean++;
          else if (known.has(signature(problem))) stats.known++;
          else {
            stats.findings++;
            if (!seen.has(signature(problem))) {
              seen.add(signature(problem));
              findings.push({ target: target.name, file: save(target, bytes, problem, ops), problem });
            }
          }
          if (stats.executions % 200 === 0) {
            const rss = process.memoryUsage().rss / 2 ** 20;
            if (rss - baseRss > RSS_MIB) {
              findings.push({ target: target.name, file: save(target, bytes, `rss grew ${(rss - baseRss).toFixed(0)} MiB`, ops), problem: 'memory' });
              break;
            }
          }
        }
        counts[target.name] = stats;
        console.log(
          `fuzz ${target.name}: ${stats.executions} executions in ${SECONDS} s (seed ${SEED}), ${stats.findings} new findings (${findings.length} distinct), ${stats.known} hits of known unfixed findings`,
        );
        expect(findings).toEqual([]);
      },
      SECONDS * 1000 + 120_000,
    );
  }
});

describe('saved fuzz findings replay cleanly (test/fuzz/corpus/regressions)', () => {
  const files = existsSync(REGRESSIONS) ? readdirSync(REGRESSIONS).filter((f) => f.endsWith('.bin')).sort() : [];
  it('the corpus folder is readable', () => {
    expect(Array.isArray(files)).toBe(true);
  });
  for (const name of files) {
    const target = TARGETS.find((t) => name.startsWith(`${t.name}-`));
    if (!target) continue;
    const note = JSON.parse(readFileSync(path.join(REGRESSIONS, `${name.slice(0, -4)}.json`), 'utf8')) as { problem: string; fixed?: boolean };
    // Findings not fixed yet are expected to fail (see the report); flip `fixed` when they are.
    const test = note.fixed === false ? it.fails : it;
    test(`${name}: ${note.problem.split('\n')[0].slice(0, 120)}`, async () => {
      const work = await tempDir('finetune-fuzz-replay-');
      await target.seeds(work);
      expect(await check(target, new Uint8Array(readFileSync(path.join(REGRESSIONS, name))), work)).toBeNull();
    });
  }
});
