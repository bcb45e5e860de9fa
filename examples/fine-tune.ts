/**
 * Fine-tune a pretrained model, step by step: load its weights, change the
 * activation, put a deeper head on it, freeze the embedding, give the head
 * its own learning rate, train with Adam, evaluate accuracy and export.
 *
 *   node dist/examples/fine-tune.js [pretrained.onnx train.txt dev.txt out.onnx]
 */
import { compileModel, encodeFile, evaluate, fit, loadModel, loadTrainingData, replaceHead, saveModel, setActivation, Tokenizer } from 'finetune';

const [pretrainedFile = 'sst2.onnx', train = 'data/sst2/train.txt', dev = 'data/sst2/dev.txt', out = 'sst2-finetuned.onnx'] = process.argv.slice(2);
const quick = process.env.FINETUNE_EXAMPLES_QUICK === '1';

// 1. Load pretrained weights, vocabulary, tokenizer and labels (a model saved by finetune).
const pretrained = await loadModel(pretrainedFile);

// 2. Data, encoded with the pretrained tokenizer and vocabulary (unknown words map to <unk>); labels come from the data.
const tokenizer = new Tokenizer(pretrained.tokenizer);
const data = await loadTrainingData(train, { tokenizer, baseVocab: pretrained.vocab });
const devSet = (await encodeFile(dev, { tokenizer, vocab: data.vocab, labels: data.labels })).dataset;

// 3. Change the model: GELU after the convolutions, then a deeper head (one hidden layer of 64) for the data's labels.
let parts = setActivation(pretrained.graph, pretrained.params, 'gelu', 'conv');
parts = replaceHead(parts.graph, parts.params, { classes: data.labels.size, hidden: [64], activation: 'relu', dropout: 0.3 }, 7);

// 4. Compile: the embedding frozen; the head in its own parameter group with a higher learning rate.
const model = compileModel(parts.graph, { maxBatch: 50, maxLength: 64, params: parts.params, freeze: ['embedding'], groups: { head: ['head'] }, seed: 1 });
try {
  // 5. Train with Adam; evaluate on the dev set after every epoch.
  const result = await fit(model, data.dataset, {
    labels: data.labels.names,
    dev: devSet,
    epochs: quick ? 2 : 4,
    batchSize: 50,
    optimizer: 'adam',
    lr: 1e-4,
    groups: { head: { lr: 1e-3 } },
    bucket: true,
    padId: data.vocab.padId,
    unkId: data.vocab.unkId,
    seed: 2,
    onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, dev accuracy ${(e.dev!.accuracy * 100).toFixed(1)}%`),
  });

  // 6. Evaluate: accuracy, per-class precision/recall/F1, confusion matrix.
  const metrics = await evaluate(model, devSet, data.labels.names, { padId: data.vocab.padId });
  console.log(`fine-tuned for ${result.epochs} epochs: dev accuracy ${(metrics.accuracy * 100).toFixed(2)}%, macro-F1 ${metrics.macroF1.toFixed(3)}`);

  // 7. Export: one ONNX file (onnxruntime-node runs it; finetune can load and fine-tune it again).
  await saveModel(out, { graph: parts.graph, params: model.params(), vocab: data.vocab, tokenizer: tokenizer.toJSON(), labels: [...data.labels.names] });
  console.log(`saved ${out}`);
} finally {
  model.dispose();
}
