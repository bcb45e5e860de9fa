/**
 * Training parity after import: the tiny SST-2 model from PyTorch, dropout
 * off, PyTorch-compatible padding, one epoch over a fixed file in file order
 * (Adam 1e-3, batches of 8) ends with the weights PyTorch ends with, to 1e-4.
 * Reference: test/fixtures/onnx/gen_finetune_parity.py.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { encodeFile } from '../../src/data/dataset.js';
import { LabelMap } from '../../src/data/labels.js';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { compileModel } from '../../src/model/program.js';
import { importOnnxFile } from '../../src/onnx/import.js';
import { fit } from '../../src/train/trainer.js';
import { expectTensorClose } from '../helpers/compare.js';
import { torchConvWeight } from '../helpers/torch.js';
import reference from '../fixtures/onnx/finetune_parity.json' with { type: 'json' };

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'onnx');

describe('fine-tuning an imported model matches PyTorch step for step', () => {
  it('one epoch, fixed order, Adam 1e-3: losses and every weight', async () => {
    const saved = await importOnnxFile(join(fixtures, 'sst2_tiny_conv1d.opset13.onnx'), { vocab: join(fixtures, 'sst2_tiny_conv1d.vocab.json') });
    const labels = LabelMap.fromNames(saved.labels);
    const { dataset } = await encodeFile(join(fixtures, 'finetune_parity.txt'), { vocab: saved.vocab, labels, tokenizer: new Tokenizer(saved.tokenizer) });
    const model = compileModel(saved.graph, { maxBatch: 8, maxLength: 64, params: saved.params, padding: 'batch' });
    const losses: number[] = [];
    await fit(model, dataset, { labels: labels.names, epochs: 1, batchSize: 8, lr: reference.lr, shuffle: false, onStep: (s) => losses.push(s.loss) });
    expect(losses).toHaveLength(reference.losses.length);
    losses.forEach((l, i) => expect(Math.abs(l - reference.losses[i]) / reference.losses[i]).toBeLessThan(1e-5));
    const p = reference.params as Record<string, { shape: number[]; data: number[] }>;
    const want = new Map<string, ArrayLike<number>>([
      ['embedding.weight', p['embedding.weight'].data],
      ['classifier.weight', p['fc.weight'].data],
      ['classifier.bias', p['fc.bias'].data],
    ]);
    [2, 3, 4].forEach((w, i) => {
      want.set(`conv${i}.weight`, torchConvWeight(p[`convs.${i}.weight`].data, 8, 16, w));
      want.set(`conv${i}.bias`, p[`convs.${i}.bias`].data);
    });
    for (const [name, values] of model.params()) expectTensorClose(values, want.get(name)!, 1e-4, name);
    model.dispose();
  });
});
