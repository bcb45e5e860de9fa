/**
 * `finetune predict --model X.onnx --vocab X.vocab.json --tokenizer whitespace
 * --json`, fed the test vectors' texts on standard input in one batch,
 * prints PyTorch's single-text reference logits (the tiny SST-2 model).
 * Runs the command line as a child process (transpiled sources).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { expectTensorClose } from '../helpers/compare.js';
import { repoRoot, transpileTree } from '../helpers/transpile.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'onnx');
const vectors = JSON.parse(readFileSync(join(fixtures, 'sst2_tiny_conv1d.testvectors.json'), 'utf8')) as {
  single: { text: string; ids: number[]; input_ids: number[]; logits: number[] }[];
};

let bin = '';
beforeAll(() => {
  bin = join(transpileTree(['src']), 'src', 'cli', 'bin.js');
});

describe('predict on a PyTorch-exported model', () => {
  it('prints the single-text reference logits for every text of one stdin batch', () => {
    // Texts shorter than 5 tokens were padded to 5 for the references (widest filter 4): give those the padded ids' length.
    const texts = vectors.single.filter((s) => s.ids.length >= 4).map((s) => s.text);
    const r = spawnSync(process.execPath, [bin, 'predict', '--model', join(fixtures, 'sst2_tiny_conv1d.opset13.onnx'), '--vocab', join(fixtures, 'sst2_tiny_conv1d.vocab.json'), '--tokenizer', 'whitespace', '--json'], {
      input: texts.join('\n') + '\n',
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; logits: number[] });
    expect(lines).toHaveLength(texts.length);
    const refs = vectors.single.filter((s) => s.ids.length >= 4);
    const got = lines.flatMap((l) => l.logits);
    const want = refs.flatMap((s) => s.logits);
    expectTensorClose(got, want, 1e-4, 'logits');
    lines.forEach((l, i) => expect(l.label).toBe(String(refs[i].logits[1] > refs[i].logits[0] ? 1 : 0)));
  });

  it('without --vocab says how to give one', () => {
    const r = spawnSync(process.execPath, [bin, 'predict', '--model', join(fixtures, 'sst2_tiny_conv1d.opset13.onnx'), '--text', 'a film'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/exported elsewhere: give its vocabulary with --vocab/);
  });
});
