/**
 * Serve a model over HTTP inside your own Node process (what `finetune
 * serve` does): POST /predict, GET /health, GET /metrics, graceful shutdown
 * on SIGTERM/SIGINT.
 *
 *   node dist/examples/serve.js [sst2.onnx] [port]
 *   curl -s localhost:8080/predict -d '{"texts": ["a gorgeous , witty , seductive movie ."]}'
 */
import { Classifier, createServer } from 'finetune';

const [model = 'sst2.onnx', port = '8080'] = process.argv.slice(2);

const clf = await Classifier.load(model, { maxBatch: 64, maxWaitMs: 1 });
const server = createServer(clf, { maxBodyBytes: 1 << 20 });
const url = await server.listen(Number(port), '127.0.0.1');
console.log(`listening on ${url}`);

async function shutdown() {
  await server.close(); // stops accepting, finishes the requests in flight
  clf.dispose();
  console.log('stopped');
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

if (process.env.FINETUNE_EXAMPLES_QUICK === '1') {
  // Under test: ask ourselves once, then stop.
  const res = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ texts: ['a gorgeous , witty , seductive movie .'] }) });
  const { predictions } = (await res.json()) as { predictions: Array<{ label: string }> };
  console.log(`POST /predict -> ${res.status} ${predictions[0].label}`);
  await shutdown();
}
