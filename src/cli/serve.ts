import { Classifier } from '../classifier.js';
import { DEFAULT_BACKGROUND_NICE, prioritizeEventLoop } from '../serve/priority.js';
import { createServer } from '../serve/server.js';
import { helpText, intOption, numberOption, parseOptions, type OptionSpec } from './args.js';
import { requireString } from './common.js';
import { applyThreads, defaultServeThreads, threadOption } from './threads.js';

const SPEC: OptionSpec = {
  model: { type: 'string', help: 'a model saved by finetune (required)', value: 'MODEL.onnx' },
  port: { type: 'string', default: '8080', help: 'TCP port (0: any free port)', value: 'N' },
  host: { type: 'string', default: '127.0.0.1', help: 'address to listen on (0.0.0.0 for all interfaces)', value: 'ADDR' },
  'max-batch': { type: 'string', default: '64', help: 'most texts per native micro-batch', value: 'N' },
  'max-wait-ms': { type: 'string', default: '1', help: 'how long a text waits for others to fill its batch', value: 'MS' },
  'max-body-bytes': { type: 'string', default: '1048576', help: 'largest request body (larger: 413)', value: 'N' },
  'max-texts': { type: 'string', default: '1024', help: 'most texts per request (more: 400)', value: 'N' },
  'max-length': { type: 'string', default: '256', help: 'tokens kept per text (longer ones are cut)', value: 'N' },
  sha256: { type: 'string', help: 'refuse the model unless the file has this SHA-256', value: 'HEX' },
  threads: { type: 'string', help: 'native threads (default: one fewer than the cores, at least 1, leaving a core for the event loop)', value: 'N' },
  'background-nice': {
    type: 'string',
    default: String(DEFAULT_BACKGROUND_NICE),
    help: 'nice value for every thread but the event loop (predictions, V8 helpers) so the loop gets a core first on a busy machine (Linux; 0: leave them)',
    value: 'N',
  },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

const SUMMARY = `Serves a model over HTTP until SIGTERM or SIGINT, then finishes the requests in flight and exits.
  POST /predict  {"texts": ["...", ...], "topK": k (optional)}  ->  {"predictions": [{"label", "probabilities", "logits"}, ...]}
  GET  /health   {"status": "ok", "labels": [...]}
  GET  /metrics  Prometheus text format (requests, latency, batch sizes, in flight, event-loop delay)`;

export interface ServeRunOptions {
  /** Stops the server as SIGTERM would (for tests and embedding). */
  signal?: AbortSignal;
  /** Called with the URL once listening. */
  onListening?: (url: string) => void;
}

export async function runServe(argv: string[], run: ServeRunOptions = {}): Promise<number> {
  const v = parseOptions('serve', argv, SPEC);
  if (v.help) {
    process.stdout.write(helpText('serve', SUMMARY, SPEC));
    return 0;
  }
  const model = requireString(v, 'model', 'serve');
  const port = intOption('port', v.port, 0, 65535)!;
  const maxBatch = intOption('max-batch', v['max-batch'], 1, 65536)!;
  const maxWaitMs = numberOption('max-wait-ms', v['max-wait-ms'], 0, 60_000)!;
  const maxBodyBytes = intOption('max-body-bytes', v['max-body-bytes'], 1)!;
  const maxTexts = intOption('max-texts', v['max-texts'], 1)!;
  const maxLength = intOption('max-length', v['max-length'], 1, 1 << 20)!;
  const backgroundNice = intOption('background-nice', v['background-nice'], 0, 19)!;
  applyThreads(threadOption(v.threads) ?? defaultServeThreads());
  const clf = await Classifier.load(model, { maxBatch, maxWaitMs, maxLength, expectedSha256: v.sha256 as string | undefined });
  // After the native threads exist: threads started later would keep the loop's priority.
  if (backgroundNice > 0) await prioritizeEventLoop(backgroundNice);
  const server = createServer(clf, { maxBodyBytes, maxTexts });
  try {
    const url = await server.listen(port, v.host as string);
    process.stdout.write(`finetune serve: listening on ${url} (model ${model}; labels ${clf.labels.join(', ')}; POST /predict, GET /health, GET /metrics)\n`);
    run.onListening?.(url);
    let onTerm = () => {};
    let onInt = () => {};
    let onAbort = () => {};
    await new Promise<void>((resolve) => {
      let signals = 0;
      const stop = (why: string) => {
        if (signals++ > 0) {
          process.stderr.write(`finetune serve: ${why} again; closing all connections now\n`);
          server.http.closeAllConnections();
          return;
        }
        process.stderr.write(`finetune serve: ${why}; finishing the requests in flight\n`);
        void server.close().then(resolve);
      };
      onTerm = () => stop('SIGTERM');
      onInt = () => stop('SIGINT');
      onAbort = () => stop('stopped');
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
      run.signal?.addEventListener('abort', onAbort, { once: true });
      if (run.signal?.aborted) onAbort();
    }).finally(() => {
      // A later signal behaves as usual again.
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      run.signal?.removeEventListener('abort', onAbort);
    });
    process.stderr.write('finetune serve: stopped\n');
    return 0;
  } finally {
    await server.close();
    clf.dispose();
  }
}
