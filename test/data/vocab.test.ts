import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, TokenCounter, Tokenizer, Vocabulary, VocabError } from '../../src/data/index.js';
import { rejection, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const texts = [
  ['the', 'film', 'is', 'good'],
  ['the', 'film', 'is', 'bad'],
  ['a', 'bad', 'film'],
  ['__proto__', 'constructor', 'toString'],
];

describe('Vocabulary', () => {
  it('orders by count then code unit, with <pad>=0 and <unk>=1', () => {
    const v = Vocabulary.build(texts);
    expect(v.toArray()).toEqual(['<pad>', '<unk>', 'film', 'bad', 'is', 'the', '__proto__', 'a', 'constructor', 'good', 'toString']);
    expect(v.padId).toBe(0);
    expect(v.unkId).toBe(1);
    expect(Array.from(v.encode(['the', 'unseen', '__proto__']))).toEqual([5, 1, 6]);
    expect(v.idOf('hasOwnProperty')).toBe(1);
  });

  it('applies minCount and maxSize', () => {
    expect(Vocabulary.build(texts, { minCount: 2 }).toArray()).toEqual(['<pad>', '<unk>', 'film', 'bad', 'is', 'the']);
    expect(Vocabulary.build(texts, { maxSize: 4 }).toArray()).toEqual(['<pad>', '<unk>', 'film', 'bad']);
  });

  it('puts specials at configured ids and tokens', () => {
    const v = Vocabulary.build(texts, { pad: '[PAD]', padId: 1, unk: '[UNK]', unkId: 0, maxSize: 5 });
    expect(v.toArray()).toEqual(['[UNK]', '[PAD]', 'film', 'bad', 'is']);
    expect(v.padId).toBe(1);
    expect(v.unkId).toBe(0);
    const high = Vocabulary.build([['x']], { padId: 4, unkId: 5 });
    expect(high.size).toBe(6);
    expect(high.tokenOf(0)).toBe('x');
  });

  it('save -> load gives identical ids, as JSON and as text', async () => {
    const v = Vocabulary.build(texts);
    for (const name of ['v.json', 'v.txt']) {
      const p = join(tmp.dir, name);
      await v.save(p);
      const back = await Vocabulary.load(p);
      expect(back.toArray()).toEqual(v.toArray());
      for (const t of v.toArray()) expect(back.idOf(t)).toBe(v.idOf(t));
    }
    const json = JSON.parse(readFileSync(join(tmp.dir, 'v.json'), 'utf8'));
    expect(Object.hasOwn(json, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(json)).toBe(Object.prototype);
  });

  it('loads a model vocabulary with other special ids and refuses broken ones', async () => {
    const p = tmp.file('model.vocab.json', '{"<unk>": 0, "<pad>": 1, "the": 2}');
    const v = await Vocabulary.load(p);
    expect([v.padId, v.unkId]).toEqual([1, 0]);
    const dup = tmp.file('dup.json', '{"a": 0, "b": 0, "<pad>": 1}');
    const err = await rejection(Vocabulary.load(dup));
    expect(err).toBeInstanceOf(VocabError);
    expect(err.message).toMatch(/dup\.json: .*id 0 is used by both/);
    const nopad = tmp.file('nopad.txt', 'a\n<unk>\n');
    expect((await rejection(Vocabulary.load(nopad))).message).toMatch(/no pad token "<pad>"/);
    expect((await rejection(Vocabulary.load(p, { padId: 0 }))).message).toMatch(/has id 1, expected 0/);
  });

  it('extend appends new tokens after the existing ids and reports how many', () => {
    const v = Vocabulary.fromTokens(['<pad>', '<unk>', 'a', 'b']);
    expect(v.extend(['b', 'c', 'd', 'c'])).toBe(2);
    expect(v.toArray()).toEqual(['<pad>', '<unk>', 'a', 'b', 'c', 'd']);
    expect(v.idOf('a')).toBe(2);
    expect(v.extend([])).toBe(0);
  });
});

describe('TokenCounter', () => {
  it('stays within its bound with many distinct tokens and keeps frequent ones, deterministically', () => {
    const run = (): [string, number][] => {
      const c = new TokenCounter({ maxEntries: 1000 });
      let largest = 0;
      for (let i = 0; i < 200_000; i++) {
        c.add(`rare${i}`);
        if (i % 10 === 0) c.add(`common${i % 50}`);
        if (c.size > largest) largest = c.size;
      }
      expect(largest).toBeLessThanOrEqual(1000);
      return [...c.entries()].sort();
    };
    const a = run();
    expect(a).toEqual(run());
    const counts = new Map(a);
    for (let k = 0; k < 50; k += 10) expect(counts.get(`common${k}`)).toBeGreaterThan(3000);
    const c = new TokenCounter({ maxEntries: 1000 });
    for (let i = 0; i < 5000; i++) c.add(`t${i}`);
    expect(c.pruned).toBe(true);
    expect(c.pruneThreshold).toBe(1);
    const v = Vocabulary.build(c, { minCount: 2 });
    expect(v.size).toBe(2);
  });
});

describe('fast paths', () => {
  it('addText and encodeText agree with tokenize + add/encode, also while pruning', () => {
    const rng = new Rng(5);
    const words = Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? `W${i}\u00e9` : `w${i.toString(36)}`));
    const texts = Array.from({ length: 2000 }, () =>
      Array.from({ length: rng.nextInt(30) }, () => words[Math.floor(rng.nextFloat() ** 3 * words.length)]).join(rng.nextInt(3) === 0 ? ' \t ' : ' '),
    );
    for (const tok of [new Tokenizer(), new Tokenizer({ mode: 'kim', maxTokens: 7 })]) {
      const slow = new TokenCounter({ maxEntries: 500 });
      const fast = new TokenCounter({ maxEntries: 500 });
      for (const t of texts) {
        slow.addAll(tok.tokenize(t));
        fast.addText(tok.normalize(t), tok.maxTokens);
      }
      expect(fast.pruned).toBe(true);
      expect([...fast.entries()]).toEqual([...slow.entries()]);
      expect(fast.total).toBe(slow.total);
      const v = Vocabulary.build(fast, { minCount: 2 });
      let buf = new Int32Array(4);
      for (const t of texts.slice(0, 300)) {
        const r = v.encodeText(tok.normalize(t), tok.maxTokens, buf, 3);
        buf = r.ids;
        expect(Array.from(buf.subarray(3, 3 + r.length))).toEqual(Array.from(v.encode(tok.tokenize(t))));
      }
    }
  });
});
