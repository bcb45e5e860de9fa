/**
 * Classify texts with a saved model: labels, probabilities and the top
 * labels, computed off the event loop.
 *
 *   node dist/examples/predict.js [sst2.onnx] ["text" ...]
 */
import { Classifier } from 'finetune';

const [model = 'sst2.onnx', ...given] = process.argv.slice(2);
const texts = given.length ? given : ['a gorgeous , witty , seductive movie .', 'the plot is nothing but boilerplate clichés .'];

const clf = await Classifier.load(model, { maxBatch: 64, maxWaitMs: 1 });
try {
  // Concurrent calls (e.g. from different requests) share native batches; each result is what the text gets alone.
  const results = await Promise.all(texts.map((t) => clf.predict([t], { topK: 2 })));
  results.forEach(([p], i) => {
    console.log(`${p.label}\t${p.probabilities[p.label].toFixed(3)}\t${texts[i]}`);
    console.log(`  top: ${p.top!.map((t) => `${t.label} ${t.probability.toFixed(3)}`).join(', ')}; logits [${p.logits.map((z) => z.toFixed(3)).join(', ')}]`);
  });
} finally {
  clf.dispose(); // frees the native memory now
}
