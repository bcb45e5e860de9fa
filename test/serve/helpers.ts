/** A tiny model trained in a fraction of a second, saved to a temp folder, for the serving tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadTrainingData } from '../../src/data/index.js';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { textCNN } from '../../src/model/graph.js';
import { compileModel } from '../../src/model/program.js';
import { saveModel } from '../../src/onnx/model-file.js';
import { fit } from '../../src/train/trainer.js';
import { TestRandom } from '../helpers/random.js';

/** Lines `LABEL text` where one cue word carries the label among noise words. */
export function cueData(n: number, seed: number): string {
  const rng = new TestRandom(seed);
  const cues = [['great', 'superb', 'lovely'], ['awful', 'dull', 'tedious'], ['maybe', 'perhaps', 'unclear']];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 3;
    const len = rng.int(3, 14);
    const words = Array.from({ length: len }, () => `w${rng.int(0, 39)}`);
    words[rng.int(0, len - 1)] = cues[label][rng.int(0, 2)];
    lines.push(`${['pos', 'neg', 'neutral'][label]} ${words.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/** Texts of varied lengths (1 to 40 tokens, some empty or unknown words) for batching tests. */
export function mixedTexts(n: number, seed: number): string[] {
  const rng = new TestRandom(seed);
  const words = ['great', 'awful', 'maybe', 'lovely', 'dull', 'perhaps', 'zzz-unknown', ...Array.from({ length: 40 }, (_, i) => `w${i}`)];
  return Array.from({ length: n }, (_, i) => (i % 17 === 5 ? '' : Array.from({ length: rng.int(1, 40) }, () => words[rng.int(0, words.length - 1)]).join(' ')));
}

export async function trainTinyModel(dir = mkdtempSync(join(tmpdir(), 'finetune-serve-'))): Promise<{ dir: string; model: string; train: string }> {
  const train = join(dir, 'train.txt');
  writeFileSync(train, cueData(300, 1));
  const { dataset, vocab, labels } = await loadTrainingData(train);
  const graph = textCNN({ vocabSize: vocab.size, classes: labels.size, paddingIdx: vocab.padId, embedDim: 16, widths: [2, 3, 4], maps: 8, dropout: 0.2 });
  const compiled = compileModel(graph, { maxBatch: 32, maxLength: 16, seed: 1 });
  await fit(compiled, dataset, { labels: labels.names, epochs: 4, batchSize: 32, lr: 0.01, seed: 2, padId: vocab.padId, unkId: vocab.unkId });
  const model = join(dir, 'model.onnx');
  await saveModel(model, { graph, params: compiled.params(), vocab, tokenizer: new Tokenizer().toJSON(), labels: [...labels.names] });
  compiled.dispose();
  return { dir, model, train };
}
