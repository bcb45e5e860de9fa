/**
 * createServer: every route and error, concurrent requests getting their own
 * answers, metrics, and a graceful close that finishes in-flight requests.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Classifier } from '../../src/classifier.js';
import { createServer, type FinetuneServer } from '../../src/serve/server.js';
import { mixedTexts, trainTinyModel } from './helpers.js';

let clf: Classifier;
let server: FinetuneServer;
let url = '';
const texts = mixedTexts(60, 11);
let reference: number[][] = [];

beforeAll(async () => {
  const { model } = await trainTinyModel();
  clf = await Classifier.load(model, { maxBatch: 16, maxWaitMs: 1 });
  reference = (await clf.predict(texts)).map((p) => p.logits);
  server = createServer(clf, { maxBodyBytes: 4096, maxTexts: 50 });
  url = await server.listen(0, '127.0.0.1');
});
afterAll(async () => {
  await server.close();
  clf.dispose();
});

async function post(body: string | object, path = '/predict', headers: Record<string, string> = {}) {
  const res = await fetch(url + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

describe('createServer', () => {
  it('listens on the port asked for and reports its URL', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).toBe(url);
  });

  it('POST /predict returns label, probabilities and logits per text, in order, and topK on request', async () => {
    const r = await post({ texts: ['w1 great w2', 'w3 awful', ''] });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const { predictions } = r.json();
    expect(predictions).toHaveLength(3);
    expect(predictions[0].label).toBe('pos');
    expect(predictions[1].label).toBe('neg');
    expect(Object.keys(predictions[0].probabilities)).toEqual(['neg', 'neutral', 'pos']);
    expect(predictions[0].logits).toHaveLength(3);
    expect(predictions[0].top).toBeUndefined();
    const k = (await post({ texts: ['w1 great'], topK: 2 })).json();
    expect(k.predictions[0].top.map((t: { label: string }) => t.label)[0]).toBe('pos');
    expect(k.predictions[0].top).toHaveLength(2);
    expect((await post({ texts: [] })).json()).toEqual({ predictions: [] });
  });

  it('concurrent requests each get their own answers (equal to single-text predictions)', async () => {
    const groups = Array.from({ length: 30 }, (_, i) => [i * 2, i * 2 + 1].filter((j) => j < texts.length));
    const replies = await Promise.all(groups.map((g) => post({ texts: g.map((i) => texts[i]) })));
    replies.forEach((r, c) => {
      expect(r.status).toBe(200);
      const preds = r.json().predictions as Array<{ logits: number[] }>;
      groups[c].forEach((t, j) => expect(preds[j].logits).toEqual(reference[t]));
    });
  });

  it('answers bad requests with 400 and a message naming the problem', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"texts": [', /not valid JSON/],
      ['[]', /JSON object/],
      ['"hello"', /JSON object/],
      ['{}', /missing field "texts"/],
      ['{"texts": "one"}', /"texts" must be an array of strings, got string/],
      ['{"texts": ["a", 2]}', /"texts\[1\]" must be a string, got number/],
      ['{"texts": ["a"], "extra": 1}', /unknown field 'extra'/],
      ['{"texts": ["a"], "topK": 9}', /"topK" must be an integer from 1 to 3/],
      [JSON.stringify({ texts: Array.from({ length: 51 }, () => 'a') }), /at most 50 per request/],
    ];
    for (const [body, message] of cases) {
      const r = await post(body);
      expect(r.status, body).toBe(400);
      expect(r.json().error, body).toMatch(message);
    }
  });

  it('refuses a body over the limit with 413, whether declared or streamed', async () => {
    const big = JSON.stringify({ texts: ['x'.repeat(5000)] });
    const r = await post(big);
    expect(r.status).toBe(413);
    expect(r.json().error).toMatch(/at most 4096/);
    // Chunked (no Content-Length): counted as it arrives.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url + '/predict', { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('{"texts": ["' + 'y'.repeat(3000));
      req.write('y'.repeat(3000) + '"]}');
      req.end();
    });
    expect(status).toBe(413);
    // The server still works.
    expect((await post({ texts: ['w1 great'] })).status).toBe(200);
  });

  it('404 for unknown routes, 405 with Allow for wrong methods', async () => {
    const nf = await fetch(url + '/nope');
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: string }).error).toMatch(/no route GET \/nope/);
    const get = await fetch(url + '/predict');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const postHealth = await post({}, '/health');
    expect(postHealth.status).toBe(405);
    expect(postHealth.headers.get('allow')).toBe('GET, HEAD');
  });

  it('GET /health and GET /metrics (Prometheus text format)', async () => {
    const h = await fetch(url + '/health');
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: 'ok', labels: ['neg', 'neutral', 'pos'] });
    const m = await fetch(url + '/metrics');
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await m.text();
    expect(text).toContain('# TYPE finetune_http_requests_total counter');
    expect(text).toMatch(/finetune_http_requests_total\{route="\/predict",method="POST",status="200"\} \d+/);
    expect(text).toMatch(/finetune_http_requests_total\{route="\/predict",method="POST",status="400"\} 9/);
    expect(text).toMatch(/finetune_http_requests_total\{route="\/predict",method="POST",status="413"\} 2/);
    expect(text).toMatch(/finetune_http_requests_total\{route="other",method="other",status="404"\} 1/);
    expect(text).toContain('# TYPE finetune_http_request_duration_seconds histogram');
    expect(text).toMatch(/finetune_http_request_duration_seconds_bucket\{route="\/predict",le="\+Inf"\} \d+/);
    expect(text).toContain('# TYPE finetune_batch_size histogram');
    expect(text).toMatch(/finetune_batch_size_bucket\{le="16"\} \d+/);
    expect(text).toMatch(/finetune_http_requests_in_flight 1\n/); // this request
    expect(text).toMatch(/finetune_event_loop_delay_seconds\{quantile="0.99"\} [\d.e-]+/);
    expect(text).toMatch(/finetune_predictions_total \d+/);
    // Every sample line parses as `name{labels} value`.
    for (const line of text.trim().split('\n')) {
      if (!line.startsWith('#')) expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? [-+\d.eInfNa]+$/);
    }
  });

  it('closes gracefully: in-flight requests finish, new connections are refused', async () => {
    const { model } = await trainTinyModel();
    const own = await Classifier.load(model);
    const s = createServer(own);
    const u = await s.listen(0);
    const port = Number(new URL(u).port);
    // A request whose body is still arriving when close() is called.
    const body = JSON.stringify({ texts: ['w1 great', 'w2 awful'] });
    const reply = new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/predict', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: b, connection: res.headers.connection }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 150);
    });
    await new Promise((r) => setTimeout(r, 50));
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(closed).toBe(false);
    expect(s.closing).toBe(true);
    await expect(fetch(u + '/health')).rejects.toThrow();
    const r = await reply;
    expect(r.status).toBe(200);
    expect(r.connection).toBe('close');
    expect(JSON.parse(r.body).predictions.map((p: { label: string }) => p.label)).toEqual(['pos', 'neg']);
    await closing;
    expect(closed).toBe(true);
    own.dispose();
  });

  it('answers 503 once the classifier is disposed', async () => {
    const { model } = await trainTinyModel();
    const own = await Classifier.load(model);
    const s = createServer(own);
    const u = await s.listen(0);
    own.dispose();
    const r = await fetch(u + '/predict', { method: 'POST', body: '{"texts":["a"]}' });
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: string }).error).toMatch(/disposed/);
    await s.close();
  });
});
