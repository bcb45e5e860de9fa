/**
 * Train a TextCNN (Kim 2014, CNN-rand) on the SST-2 files shipped with the
 * package, report dev and test accuracy, and save one ONNX file holding the
 * graph, weights, vocabulary, tokenizer settings and labels.
 *
 *   node dist/examples/train.js [train.txt dev.txt test.txt out.onnx]
 */
import { saveModel, trainFromFiles } from 'finetune';

const [train = 'data/sst2/train.txt', dev = 'data/sst2/dev.txt', test = 'data/sst2/test.txt', out = 'sst2.onnx'] = process.argv.slice(2);
// FINETUNE_EXAMPLES_QUICK=1 (set by the test that runs the examples): a tiny model, for speed.
const quick = process.env.FINETUNE_EXAMPLES_QUICK === '1';

const run = await trainFromFiles({
  train,
  dev,
  test,
  epochs: quick ? 2 : 5,
  batchSize: 50,
  optimizer: 'adam',
  lr: 1e-3,
  bucket: true, // batch texts of similar length together: less padding
  architecture: quick ? { embedDim: 16, widths: [2, 3], maps: 8 } : { embedDim: 300, widths: [3, 4, 5], maps: 100, dropout: 0.5 },
  seed: 1,
  onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, dev accuracy ${e.dev ? (e.dev.accuracy * 100).toFixed(1) + '%' : '-'}`),
});
console.log(`test accuracy ${(run.test!.accuracy * 100).toFixed(2)}% (macro-F1 ${run.test!.macroF1.toFixed(3)})`);
await saveModel(out, run.model);
console.log(`saved ${out}`);
