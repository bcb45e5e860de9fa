/**
 * The Classifier's work on the event loop stays short per tick (issue #8):
 * a large call is tokenised in slices with the loop running in between,
 * every result still goes to its caller, and a long text is tokenised only
 * as far as its first maxLength tokens reach, with the same ids.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import { Classifier, ENCODE_SLICE_MS, encodeFirstTokens } from '../../src/classifier.js';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { TestRandom } from '../helpers/random.js';
import { mixedTexts, trainTinyModel } from './helpers.js';

let modelFile = '';
const texts = mixedTexts(120, 7);
let reference: Float32Array[] = [];

beforeAll(async () => {
  modelFile = (await trainTinyModel()).model;
  const clf = await Classifier.load(modelFile, { maxBatch: 1 });
  reference = [];
  for (const t of texts) reference.push(await clf.logits([t]));
  clf.dispose();
});

/** Texts not yet tokenised (white box: what the slicing works through). */
function untokenised(clf: Classifier): number {
  return (clf as unknown as { pendingTexts: number }).pendingTexts;
}

describe('Classifier tokenising in slices', () => {
  it('tokenises a large call a slice per tick, with the loop running between slices, and matches every result to its caller', async () => {
    const clf = await Classifier.load(modelFile, { maxBatch: 64, maxWaitMs: 1 });
    // Enough texts that tokenising them takes many times the slice budget on any machine.
    const n = 40_000;
    const big = Array.from({ length: n }, (_, i) => texts[i % texts.length]);
    const small = [texts[3], texts[4]];
    let ticks = 0;
    let ticksWhileTokenising = 0;
    let longest = 0;
    let last = performance.now();
    let running = true;
    const tick = () => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks++;
      const left = untokenised(clf);
      if (left > 0 && left < n) ticksWhileTokenising++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const started = performance.now();
    const pBig = clf.logits(big);
    const syncMs = performance.now() - started;
    // Not all tokenised in the call: the rest waits for later ticks.
    expect(untokenised(clf)).toBeGreaterThan(0);
    expect(clf.queued).toBeGreaterThan(0);
    const pSmall = clf.logits(small);
    // The caller may reuse its array at once: the texts still waiting were copied.
    big.fill('w1 great w2');
    const [gotBig, gotSmall] = await Promise.all([pBig, pSmall]);
    running = false;
    expect(ticksWhileTokenising).toBeGreaterThan(3);
    expect(ticks).toBeGreaterThan(ticksWhileTokenising);
    // Generous bounds (a busy machine can deschedule the process), far below tokenising 40,000 texts at once.
    expect(syncMs).toBeLessThan(50);
    expect(longest).toBeLessThan(250);
    for (let i = 0; i < n; i++) {
      const r = reference[i % texts.length];
      const g = gotBig.subarray(i * 3, i * 3 + 3);
      if (g[0] !== r[0] || g[1] !== r[1] || g[2] !== r[2]) expect(g, `text ${i}`).toEqual(r);
    }
    expect(gotSmall.subarray(0, 3)).toEqual(reference[3]);
    expect(gotSmall.subarray(3, 6)).toEqual(reference[4]);
    expect(clf.queued).toBe(0);
    clf.dispose();
  });

  it('a small call is tokenised and queued in the tick it is made', async () => {
    const clf = await Classifier.load(modelFile, { maxBatch: 64, maxWaitMs: 0 });
    const sizes: number[] = [];
    clf.onBatch((b) => sizes.push(b.size));
    // maxWaitMs 0 gathers the calls of one tick into one batch, as before.
    const got = await Promise.all(texts.slice(0, 10).map((t) => clf.logits([t])));
    got.forEach((g, i) => expect(g).toEqual(reference[i]));
    expect(sizes).toEqual([10]);
    expect(ENCODE_SLICE_MS).toBeGreaterThan(0);
    clf.dispose();
  });

  it('dispose rejects calls whose texts still wait to be tokenised, and the loop stays clean', async () => {
    const clf = await Classifier.load(modelFile, { maxBatch: 64, maxWaitMs: 1 });
    const big = Array.from({ length: 40_000 }, (_, i) => texts[i % texts.length]);
    const p = clf.logits(big);
    const q = clf.logits([texts[0]]);
    expect(untokenised(clf)).toBeGreaterThan(0);
    clf.dispose();
    await expect(p).rejects.toMatchObject({ code: 'ERR_FINETUNE_DISPOSED' });
    await expect(q).rejects.toMatchObject({ code: 'ERR_FINETUNE_DISPOSED' });
    expect(clf.queued).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(untokenised(clf)).toBe(0);
  });

  it('a long text is tokenised only as far as maxLength tokens reach, and predicts as its first maxLength tokens', async () => {
    const clf = await Classifier.load(modelFile, { maxBatch: 8, maxLength: 16 });
    const tokenizer = (clf as unknown as { tokenizer: Tokenizer }).tokenizer;
    const seen: number[] = [];
    const normalize = tokenizer.normalize.bind(tokenizer);
    tokenizer.normalize = (t: string) => {
      seen.push(t.length);
      return normalize(t);
    };
    const words = texts.join(' ').split(' ').filter(Boolean);
    let long = '';
    for (let i = 0; long.length < 1 << 20; i++) long += words[i % words.length] + (i % 7 === 0 ? ' \n\t ' : ' ');
    const [a] = await Promise.all([clf.logits([long])]);
    expect(Math.max(...seen)).toBeLessThan(4096);
    tokenizer.normalize = normalize;
    const b = await clf.logits([long.split(/\s+/).filter(Boolean).slice(0, 16).join(' ')]);
    expect(a).toEqual(b);
    clf.dispose();
  });
});

describe('encodeFirstTokens', () => {
  const words = ['great', 'AWFUL', "isn't", "it's", 'ΟΔΟΣ', 'Σ', 'σ.', '(x)', 'a,b', 'é', 'e\u0301', '\ud83d\ude00', 'w1', 'w2', 'W3', 'zz-unknown', 'end.', '?!'];
  const spaces = [' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u3000', '\u0085', ' \u2028 '];
  const vocab = Vocabulary.fromTokens(['<pad>', '<unk>', 'great', 'awful', 'is', "n't", "'s", 'it', 'οδος', 'ς', 'σ', '(', ')', 'x', ',', 'a', 'b', 'w1', 'w2', 'w3', '!', '?', 'é', 'end']);

  it('gives the ids of the first tokens of the whole text, whatever the length, tokenizer mode or whitespace', () => {
    const rng = new TestRandom(3);
    for (const config of [{}, { mode: 'kim' as const }, { mode: 'kim' as const, lowercase: false }, { maxTokens: 7 }, { mode: 'kim' as const, maxTokens: 300 }]) {
      const tokenizer = new Tokenizer(config);
      for (let k = 0; k < 30; k++) {
        const count = [1, 5, 30, 200, 3000][k % 5];
        let text = rng.int(0, 3) === 0 ? spaces[rng.int(0, spaces.length - 1)] : '';
        for (let i = 0; i < count; i++) {
          text += words[rng.int(0, words.length - 1)];
          // Runs of whitespace longer than a prefix guess, now and then.
          text += rng.int(0, 50) === 0 ? ' '.repeat(rng.int(100, 5000)) : spaces[rng.int(0, spaces.length - 1)];
        }
        if (rng.int(0, 4) === 0) text += 'x'.repeat(rng.int(1, 9000)); // a long last word, no whitespace after it
        const whole = vocab.encode(tokenizer.tokenize(text));
        for (const limit of [1, 16, 256]) {
          const want = Array.from(whole.subarray(0, limit));
          expect(Array.from(encodeFirstTokens(tokenizer, vocab, text, limit)), `${JSON.stringify(config)} count ${count} limit ${limit}`).toEqual(want);
        }
      }
    }
  });

  it('keeps the token that ends a prefix whole, at every offset around where a prefix is cut', () => {
    // A prefix is first tried around 8 * limit + 64 characters; put the limit-th token across that point.
    for (const tokenizer of [new Tokenizer(), new Tokenizer({ mode: 'kim' })]) {
      for (const limit of [1, 16, 256]) {
        const guess = limit * 8 + 64;
        for (const word of ['great', 'ΟΔΟΣ', "isn't", 'w1']) {
          for (let start = guess - word.length - 2; start <= guess + 2; start++) {
            const head = 'w2 '.repeat(limit - 1);
            const text = head + ' '.repeat(start - head.length) + word + ' awful '.repeat(limit + 50);
            const want = Array.from(vocab.encode(tokenizer.tokenize(text)).subarray(0, limit));
            expect(Array.from(encodeFirstTokens(tokenizer, vocab, text, limit)), `${tokenizer.mode} ${limit} ${word} at ${start}`).toEqual(want);
          }
        }
      }
    }
  });

  it('normalises a bounded prefix of a long text', () => {
    const tokenizer = new Tokenizer({ mode: 'kim' });
    const lengths: number[] = [];
    const normalize = tokenizer.normalize.bind(tokenizer);
    tokenizer.normalize = (t: string) => {
      lengths.push(t.length);
      return normalize(t);
    };
    const text = "It isn't great, (really)! ".repeat(40_000);
    const ids = encodeFirstTokens(tokenizer, vocab, text, 256);
    expect(ids).toHaveLength(256);
    expect(lengths.reduce((a, b) => a + b, 0)).toBeLessThan(20_000);
    // Short texts are normalised once, whole.
    lengths.length = 0;
    encodeFirstTokens(tokenizer, vocab, 'w1 great', 256);
    expect(lengths).toEqual(['w1 great'.length]);
  });
});
