/**
 * An HTTP JSON server around a Classifier, on node:http:
 *
 *   POST /predict  {"texts": ["...", ...], "topK"?: k}  ->  {"predictions": [{label, probabilities, logits, top?}, ...]}
 *   GET  /health   {"status": "ok", "labels": [...]} (503 "shutting down" during shutdown)
 *   GET  /metrics  Prometheus text format
 *
 * Errors are JSON `{"error": "..."}`: 400 bad JSON or fields, 404, 405 (with
 * Allow), 413 body over the limit, 503 shutting down, 500 otherwise.
 * Concurrent requests share the classifier's micro-batches, so the event loop
 * only parses, tokenises and serialises. `close()` is graceful: it stops
 * accepting connections, lets in-flight requests finish, then resolves.
 *
 * @example
 * const clf = await Classifier.load('model.onnx');
 * const server = createServer(clf, { maxBodyBytes: 1 << 20 });
 * const url = await server.listen(8080, '127.0.0.1');
 * process.once('SIGTERM', () => server.close().then(() => clf.dispose()));
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

import type { Classifier } from '../classifier.js';
import { FinetuneError } from '../errors.js';
import { Computed, Counter, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE, Registry } from './metrics.js';

export interface ServeOptions {
  /** Port for `listen()` without arguments (default 8080; 0 picks a free one). */
  port?: number;
  /** Address for `listen()` without arguments (default 127.0.0.1). */
  host?: string;
  /** Largest request body in bytes (default 1 MiB); larger -> 413. */
  maxBodyBytes?: number;
  /** Most texts in one request (default 1024); more -> 400. */
  maxTexts?: number;
  /** After `close()`, connections still open after this many milliseconds are cut (default 10000). */
  shutdownTimeoutMs?: number;
}

export interface FinetuneServer {
  /** The node:http server (for its events and settings). */
  readonly http: Server;
  readonly classifier: Classifier;
  /** `http://host:port` once listening, else null. */
  readonly url: string | null;
  /** True once `close()` was called. */
  readonly closing: boolean;
  /** Starts listening; resolves with the URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Graceful: stops accepting, finishes in-flight requests, closes idle connections. The classifier is not disposed. */
  close(): Promise<void>;
  /** The metrics in Prometheus text format (what GET /metrics returns). */
  metrics(): string;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const ROUTES: Record<string, string[]> = {
  '/predict': ['POST'],
  '/health': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
};

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** Checks a /predict body; returns the texts and topK or throws a 400. */
export function parsePredictBody(body: unknown, maxTexts: number, labels: number): { texts: string[]; topK?: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, `the body must be a JSON object like {"texts": ["..."]}, got ${describe(body)}`);
  }
  for (const k of Object.keys(body)) {
    if (k !== 'texts' && k !== 'topK') throw new HttpError(400, `unknown field '${k}' (expected "texts" and optionally "topK")`);
  }
  const { texts, topK } = body as { texts?: unknown; topK?: unknown };
  if (texts === undefined) throw new HttpError(400, 'missing field "texts": an array of strings');
  if (!Array.isArray(texts)) throw new HttpError(400, `"texts" must be an array of strings, got ${describe(texts)}`);
  if (texts.length > maxTexts) throw new HttpError(400, `"texts" holds ${texts.length} texts; at most ${maxTexts} per request`);
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw new HttpError(400, `"texts[${i}]" must be a string, got ${describe(t)}`);
  });
  if (topK === undefined) return { texts: texts as string[] };
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > labels) {
    throw new HttpError(400, `"topK" must be an integer from 1 to ${labels}, got ${JSON.stringify(topK)}`);
  }
  return { texts: texts as string[], topK };
}

export function createServer(classifier: Classifier, options: ServeOptions = {}): FinetuneServer {
  const maxBodyBytes = positiveInt('maxBodyBytes', options.maxBodyBytes, 1 << 20);
  const maxTexts = positiveInt('maxTexts', options.maxTexts, 1024);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  const registry = new Registry();
  const requests = registry.add(new Counter('finetune_http_requests_total', 'HTTP requests by route, method and status code'));
  const latency = registry.add(new Histogram('finetune_http_request_duration_seconds', 'HTTP request latency by route, from arrival to the last byte written', LATENCY_BUCKETS));
  const inFlight = registry.add(new Gauge('finetune_http_requests_in_flight', 'HTTP requests being handled'));
  const texts = registry.add(new Counter('finetune_predictions_total', 'Texts classified'));
  const batchBuckets: number[] = [];
  for (let b = 1; b < classifier.maxBatch; b *= 2) batchBuckets.push(b);
  batchBuckets.push(classifier.maxBatch);
  const batchSize = registry.add(new Histogram('finetune_batch_size', 'Texts per native micro-batch', batchBuckets));
  const batchSeconds = registry.add(new Histogram('finetune_batch_duration_seconds', 'Time of one native micro-batch', LATENCY_BUCKETS));
  const batchErrors = registry.add(new Counter('finetune_batch_errors_total', 'Micro-batches that failed'));
  registry.add(new Gauge('finetune_queue_texts', 'Texts waiting for a micro-batch')).set(() => classifier.queued);
  registry.add(new Gauge('finetune_model_native_bytes', 'Native memory held by the compiled model')).set(() => classifier.nativeBytes);
  registry.add(new Gauge('process_resident_memory_bytes', 'Resident set size')).set(() => process.memoryUsage.rss());
  const loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  registry.add(
    new Computed('finetune_event_loop_delay_seconds', 'Event-loop delay since the previous scrape (quantiles and max)', 'gauge', () => {
      const q = (p: number) => (loop.count ? loop.percentile(p) / 1e9 : 0);
      const out: Array<[Record<string, string>, number]> = [
        [{ quantile: '0.5' }, q(50)],
        [{ quantile: '0.9' }, q(90)],
        [{ quantile: '0.99' }, q(99)],
        [{ quantile: '1' }, loop.count ? loop.max / 1e9 : 0],
      ];
      loop.reset();
      return out;
    }),
  );
  // Series handles by label values, so a request costs no label-set lookups.
  const requestSeries = new Map<string, { inc(by?: number): void }>();
  const latencySeries = new Map<string, { observe(value: number): void }>();
  const textsSeries = texts.child();
  const countRequest = (route: string, method: string, status: number, seconds: number) => {
    const k = `${route} ${method} ${status}`;
    let c = requestSeries.get(k);
    if (!c) {
      c = requests.child({ route, method, status: String(status) });
      requestSeries.set(k, c);
    }
    c.inc();
    let l = latencySeries.get(route);
    if (!l) {
      l = latency.child({ route });
      latencySeries.set(route, l);
    }
    l.observe(seconds);
  };
  const removeListener = classifier.onBatch((b) => {
    batchSize.observe(b.size);
    batchSeconds.observe(b.seconds);
    if (b.error !== undefined) batchErrors.inc();
  });

  let closing = false;
  let url: string | null = null;
  let closed: Promise<void> | null = null;

  const send = (res: ServerResponse, status: number, body: string, type: string, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const h: Record<string, string | number> = { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers };
    if (closing) h.connection = 'close';
    res.writeHead(status, h);
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const sendJson = (res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>) =>
    send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);

  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBodyBytes) {
        reject(new HttpError(413, `the body is ${declared} bytes; at most ${maxBodyBytes} allowed`, { connection: 'close' }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on('data', (c: Buffer) => {
        if (done) return;
        size += c.length;
        if (size > maxBodyBytes) {
          done = true;
          reject(new HttpError(413, `the body exceeds ${maxBodyBytes} bytes`, { connection: 'close' }));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        resolve(Buffer.concat(chunks, size));
      });
      req.on('error', (err) => {
        if (done) return;
        done = true;
        reject(err);
      });
      req.on('close', () => {
        if (done) return;
        done = true;
        reject(new HttpError(400, 'the request was aborted before its body ended'));
      });
    });

  const predict = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `the body is not valid JSON: ${(err as Error).message}`);
    }
    const { texts: batch, topK } = parsePredictBody(body, maxTexts, classifier.labels.length);
    const predictions = await classifier.predict(batch, topK === undefined ? {} : { topK });
    textsSeries.inc(batch.length);
    sendJson(res, 200, { predictions });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, route: string) => {
    const allowed = ROUTES[route];
    if (!allowed) throw new HttpError(404, `no route ${req.method} ${(req.url ?? '').split('?')[0]} (routes: POST /predict, GET /health, GET /metrics)`);
    if (!allowed.includes(req.method ?? '')) throw new HttpError(405, `${route} accepts ${allowed.join(', ')}, not ${req.method}`, { allow: allowed.join(', ') });
    if (route === '/health') {
      if (closing) throw new HttpError(503, 'shutting down');
      sendJson(res, 200, { status: 'ok', labels: classifier.labels, maxBatch: classifier.maxBatch });
      return;
    }
    if (route === '/metrics') {
      send(res, 200, registry.render(), PROMETHEUS_CONTENT_TYPE);
      return;
    }
    if (closing) throw new HttpError(503, 'shutting down');
    await predict(req, res);
  };

  const http = createHttpServer((req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0];
    const route = ROUTES[path] ? path : 'other';
    inFlight.inc();
    res.once('close', () => {
      inFlight.dec();
      countRequest(route, ROUTES[path] ? (req.method ?? '') : 'other', res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    });
    handle(req, res, route).catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.message }, err.headers);
        if (err.status === 413) res.once('finish', () => req.socket.destroySoon());
        return;
      }
      const disposed = err instanceof FinetuneError && err.code === 'ERR_FINETUNE_DISPOSED';
      sendJson(res, disposed ? 503 : 500, { error: (err as Error)?.message ?? String(err) });
    });
  });

  return {
    http,
    classifier,
    get url() {
      return url;
    },
    get closing() {
      return closing;
    },
    listen(port = options.port ?? 8080, host = options.host ?? '127.0.0.1') {
      return new Promise<string>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        http.once('error', onError);
        http.listen(port, host, () => {
          http.off('error', onError);
          const a = http.address() as AddressInfo;
          url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
          resolve(url);
        });
      });
    },
    close() {
      if (closed) return closed;
      closing = true;
      closed = new Promise<void>((resolve) => {
        if (!http.listening) {
          resolve();
          return;
        }
        const force = setTimeout(() => http.closeAllConnections(), shutdownTimeoutMs);
        force.unref();
        http.close(() => {
          clearTimeout(force);
          resolve();
        });
        http.closeIdleConnections();
        // A connection becomes idle when its in-flight response ends; close it then.
        http.on('request', (_req, res: ServerResponse) => res.once('finish', () => http.closeIdleConnections()));
      }).finally(() => {
        removeListener();
        loop.disable();
      });
      return closed;
    },
    metrics: () => registry.render(),
  };
}
