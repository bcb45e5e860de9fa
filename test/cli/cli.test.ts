/**
 * The command line, run in-process through main(): exit codes, messages
 * that name the problem, --json as the last line, and the train -> predict ->
 * eval -> export round trip.
 */
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { main } from '../../src/cli/main.js';
import { TestRandom } from '../helpers/random.js';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

const dir = mkdtempSync(join(tmpdir(), 'finetune-cli-'));
function data(n: number, seed: number): string {
  const rng = new TestRandom(seed);
  return Array.from({ length: n }, () => {
    const y = rng.int(0, 1);
    const w = Array.from({ length: rng.int(2, 8) }, () => `t${rng.int(0, 20)}`);
    w[rng.int(0, w.length - 1)] = y ? 'great' : 'awful';
    return `${y ? 'pos' : 'neg'}\t${w.join(' ')}`;
  }).join('\n');
}
const train = join(dir, 'train.txt');
const dev = join(dir, 'dev.txt');
writeFileSync(train, data(200, 1));
writeFileSync(dev, data(60, 2));
const small = ['--embed-dim', '16', '--maps', '8', '--widths', '2,3', '--batch-size', '20'];

describe('finetune train / predict / eval / export', () => {
  it('trains, prints the figures as the last JSON line, and writes a model that predicts and evaluates', async () => {
    const model = join(dir, 'model.onnx');
    const code = await main(['train', '--train', train, '--dev', dev, '--epochs', '5', '--lr', '0.01', ...small, '--out', model, '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    const figures = JSON.parse(lines[lines.length - 1]);
    expect(figures).toMatchObject({ epochs: 5, examples: { train: 200, dev: 60 } });
    expect(figures.accuracy).toBeGreaterThan(0.9);
    expect(figures.secondsPerEpoch).toBeGreaterThan(0);
    expect(existsSync(model)).toBe(true);

    out = '';
    expect(await main(['predict', '--model', model, '--text', 't1 great t2', '--json'])).toBe(0);
    const p = JSON.parse(out.trim());
    expect(p.label).toBe('pos');
    expect(Object.keys(p.probabilities)).toEqual(['neg', 'pos']);
    expect(p.logits).toHaveLength(2);

    out = '';
    expect(await main(['eval', '--model', model, '--data', dev, '--json'])).toBe(0);
    expect(JSON.parse(out.trim()).accuracy).toBe(figures.accuracy);

    out = '';
    expect(await main(['eval', '--model', model, '--data', dev])).toBe(0);
    expect(out).toMatch(/accuracy \d+\.\d\d%/);
    expect(out).toContain('confusion (rows: actual, columns: predicted)');

    const exported = join(dir, 'again.onnx');
    expect(await main(['export', '--model', model, '--out', exported])).toBe(0);
    expect(existsSync(exported)).toBe(true);
  });

  it('trains with a deeper head, another activation and a frozen embedding', async () => {
    const code = await main(['train', '--train', train, '--epochs', '1', ...small, '--hidden', '12', '--activation', 'gelu', '--freeze', 'embedding', '--optimizer', 'adamw', '--weight-decay', '0.01', '--schedule', 'cosine', '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
  });

  it("trains with Kim (2014)'s padding, Adadelta and max-norm constraint, and saves a model whose head rows respect it", async () => {
    const out = join(dir, 'kim.onnx');
    expect(await main(['train', '--train', train, '--epochs', '2', ...small, '--conv-padding', 'kim', '--optimizer', 'adadelta', '--rho', '0.95', '--max-norm', '0.05', '--out', out, '--json'])).toBe(0);
    expect(err).toBe('');
    const { loadModel } = await import('../../src/onnx/model-file.js');
    const m = await loadModel(out);
    const widest = Math.max(...m.graph.layers.flatMap((l) => (l.type === 'conv1d' ? [l.width] : [])));
    for (const l of m.graph.layers) if (l.type === 'conv1d') expect(l.padding).toBe(widest - 1);
    const w = m.params.get('classifier.weight')!;
    const cols = w.length / 2;
    for (let r = 0; r < 2; r++) expect(Math.hypot(...w.subarray(r * cols, (r + 1) * cols))).toBeLessThanOrEqual(0.05 * (1 + 1e-6));
  });

  it('progress goes to stderr, one line per epoch when not a terminal', async () => {
    expect(await main(['train', '--train', train, '--epochs', '2', ...small])).toBe(0);
    expect(err).toMatch(/read 200 training examples .* 2 classes: neg \d+, pos \d+/);
    expect(err.match(/^epoch \d\/2 .*ex\/s/gm)).toHaveLength(2);
  });

  it.each([
    [['train'], 2, /--train is required/],
    [['train', '--train', train, '--epochs', 'ten'], 2, /--epochs expects an integer/],
    [['train', '--train', train, '--optimizer', 'lbfgs'], 2, /--optimizer must be one of adam, adamw, sgd/],
    [['train', '--train', train, '--conv-padding', 'full'], 2, /--conv-padding expects valid, same, kim or a number of zeros from 0 to 1024, got 'full'/],
    [['train', '--train', train, '--bogus'], 2, /Unknown option '--bogus'/],
    [['train', '--train', join(dir, 'missing.txt')], 1, /missing\.txt: cannot read the file \(no such file\)/],
    [['train', '--train', train, '--freeze', 'lstm', ...small], 1, /'lstm' matches no layer/],
    [['train', '--train', train, '--early-stopping', '2'], 2, /--early-stopping needs --dev/],
    [['predict', '--model', join(dir, 'nope.onnx'), '--text', 'x'], 1, /cannot read .*nope\.onnx/],
    [['frobnicate'], 2, /unknown command 'frobnicate'/],
  ])('%j exits %i with a clear message', async (argv, code, message) => {
    expect(await main(argv as string[])).toBe(code);
    expect(err).toMatch(message);
    expect(err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('names the file and line of bad data', async () => {
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, 'pos fine text\nneg other text\n\xff\xfe broken\n', 'latin1');
    expect(await main(['train', '--train', bad, ...small])).toBe(1);
    expect(err).toMatch(/bad\.txt:3: .*latin1/);
  });

  it('--help documents every option with its default', async () => {
    expect(await main(['train', '--help'])).toBe(0);
    for (const opt of ['--train', '--dev', '--epochs', '--batch-size', '--lr', '--optimizer', '--freeze', '--checkpoint', '--resume', '--json']) expect(out).toContain(opt);
    expect(out).toContain('(default: 0.001; 1 with adadelta)');
  });
});

describe('fine-tuning from a saved model (--init)', () => {
  it('new head for other labels, vocabulary extension, per-group learning rates, gradual unfreezing', async () => {
    const base = join(dir, 'base.onnx');
    expect(await main(['train', '--train', train, '--epochs', '2', '--lr', '0.01', ...small, '--out', base, '--json'])).toBe(0);
    // A 3-class task with new words.
    const rng = new TestRandom(9);
    const three = join(dir, 'three.txt');
    writeFileSync(three, Array.from({ length: 90 }, (_, i) => `${['a', 'b', 'c'][i % 3]} ${['great', 'awful', 'meh'][i % 3]} z${rng.int(0, 5)} t${rng.int(0, 20)}`).join('\n'));
    err = '';
    expect(await main(['train', '--train', three, '--init', base, '--epochs', '1'])).toBe(1);
    expect(err).toMatch(/--new-head/);
    err = '';
    out = '';
    const tuned = join(dir, 'tuned.onnx');
    const code = await main([
      'train', '--train', three, '--init', base, '--new-head', '--hidden', '6', '--extend-vocab', '--freeze', 'embedding,conv',
      '--unfreeze-after', '1', '--lr-embedding', '0.0001', '--lr-head', '0.02', '--activation', 'tanh', '--epochs', '3', '--batch-size', '20', '--out', tuned,
    ]);
    expect(err).toMatch(/vocabulary extended by \d+ tokens/);
    expect(err).toMatch(/new classifier head for 3 classes \(a, b, c\) with hidden layers 6/);
    expect(code).toBe(0);
    out = '';
    expect(await main(['predict', '--model', tuned, '--text', 'meh z1 t2', '--json'])).toBe(0);
    expect(Object.keys(JSON.parse(out.trim()).probabilities)).toEqual(['a', 'b', 'c']);
    err = '';
    expect(await main(['train', '--train', three, '--init', base, '--new-head', '--widths', '2'])).toBe(2);
    expect(err).toMatch(/describe a new model/);
  });
});
