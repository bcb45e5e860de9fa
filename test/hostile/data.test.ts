/**
 * HAZARDS.md, "Text data", through the public pipeline (DataReader,
 * loadTrainingData, trainFromFiles, Classifier) and the command line
 * (main([...]) in-process: one clear line on stderr, non-zero exit, no stack
 * trace). test/data covers the reader option by option; here each hazard is
 * checked end to end.
 *
 * FINETUNE_SLOW=1 adds a 1 GB file and 10 million distinct tokens.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { Classifier } from '../../src/classifier.js';
import { main } from '../../src/cli/main.js';
import { DataEmptyError, DataEncodingError, DataFormatError, DataLabelError } from '../../src/data/errors.js';
import { loadTrainingData, scanTrainingData } from '../../src/data/dataset.js';
import { DataReader, readExamples, type ReadOptions } from '../../src/data/reader.js';
import { TokenCounter } from '../../src/data/vocab.js';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { textCNN } from '../../src/model/graph.js';
import { initParams } from '../../src/model/init.js';
import { saveModel } from '../../src/onnx/model-file.js';
import { trainFromFiles } from '../../src/train/run.js';
import { expectClean, peakRssGrowth, rejected, removeTempDirs, tempDir } from './helpers.js';
import { tinyModel } from './model-helpers.js';

const SLOW = process.env.FINETUNE_SLOW === '1';

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(removeTempDirs);

let n = 0;
function file(content: string | Uint8Array, ext = '.txt'): string {
  const f = path.join(dir, `d${n++}${ext}`);
  writeFileSync(f, content);
  return f;
}

async function examples(f: string, o: ReadOptions = {}) {
  return (await readExamples(f, o)).examples.map((e) => [e.label, e.text, e.line]);
}

describe('encodings', () => {
  it('Latin-1 bytes read as UTF-8: file, line and byte offset, and the hint to pass latin1; latin1 reads it', async () => {
    const f = file(Buffer.concat([Buffer.from('pos fine\nneg caf'), Buffer.from([0xe9]), Buffer.from(' noir\n')]));
    const err = expectClean(await rejected(loadTrainingData(f)), { type: DataEncodingError, code: 'ERR_FINETUNE_DATA_ENCODING', message: [/latin1/, new RegExp(`${path.basename(f)}:2`)] });
    expect((err as DataEncodingError).byteOffset).toBe(16);
    expect(err.message).toMatch(/16/);
    expect(await examples(f, { encoding: 'latin1' })).toEqual([['pos', 'fine', 1], ['neg', 'café noir', 2]]);
  });

  it('lone surrogates (as WTF-8 bytes) are an encoding error; control characters are kept, never a crash', async () => {
    expectClean(await rejected(examples(file(Buffer.from([0x70, 0x20, 0x78, 0xed, 0xa0, 0x80, 0x0a])))), { code: 'ERR_FINETUNE_DATA_ENCODING' });
    const ctl = await examples(file('pos a\u0000b\u0007c\u001b[31m\u2028d\nneg \u0085x\n'));
    expect(ctl.map((e) => e[0])).toEqual(['pos', 'neg']);
    expect(new Tokenizer({ mode: 'kim' }).tokenize('\ud800 a \udfff b \u0000')).toBeInstanceOf(Array);
  });

  it('a UTF-8 BOM is dropped (first label intact); UTF-16 LE and BE BOMs are "unsupported encoding"', async () => {
    expect(await examples(file('\ufeffpos good\nneg bad\n'))).toEqual([['pos', 'good', 1], ['neg', 'bad', 2]]);
    const csv = await readExamples(file('\ufefflabel,text\npos,good\n', '.csv'));
    expect(csv.examples[0].label).toBe('pos');
    for (const bom of [[0xff, 0xfe], [0xfe, 0xff]]) {
      expectClean(await rejected(examples(file(Buffer.from([...bom, 0x70, 0, 0x20, 0])))), { code: 'ERR_FINETUNE_DATA_ENCODING', message: /unsupported encoding/ });
    }
  });
});

describe('line endings and blank lines', () => {
  it('LF, CRLF, CR, mixed and no final newline give the same examples; "pos\\r" is never a label', async () => {
    const want = await examples(file('pos a b\nneg c\npos d\n'));
    for (const text of ['pos a b\r\nneg c\r\npos d\r\n', 'pos a b\rneg c\rpos d\r', 'pos a b\r\nneg c\rpos d\n', 'pos a b\nneg c\npos d']) {
      const got = await examples(file(text));
      expect(got.map((e) => [e[0], e[1]])).toEqual(want.map((e) => [e[0], e[1]]));
      expect(got.every((e) => !String(e[0]).includes('\r'))).toBe(true);
    }
    const csv = await readExamples(file('label,text\r\npos\r,a\r\n', '.csv')).catch((e: unknown) => e);
    if (csv instanceof Error) expectClean(csv);
    else expect((csv as { examples: Array<{ label: string }> }).examples.every((e) => !e.label.includes('\r'))).toBe(true);
  });

  it('blank lines are skipped and counted; a file of blank lines or with no bytes is a clean error, never a NaN loss later', async () => {
    const r = new DataReader(file('\n\npos a\n   \n\t\nneg b\n\n'));
    for await (const _ of r) void _;
    expect(r.summary.skipped.blank).toBe(5);
    expect(r.summary.examples).toBe(2);
    for (const text of ['', '\n\n\n', '  \r\n\t\r\n']) {
      expectClean(await rejected(loadTrainingData(file(text))), { type: DataEmptyError, code: 'ERR_FINETUNE_DATA_EMPTY', message: /no examples/ });
      expectClean(await rejected(trainFromFiles({ train: file(text), epochs: 1 })), { code: 'ERR_FINETUNE_DATA_EMPTY' });
    }
  });
});

describe('labels', () => {
  it('a single class is an error naming the file', async () => {
    expectClean(await rejected(loadTrainingData(file('pos a\npos b\npos c\n'))), { type: DataLabelError, message: /single|one class|1 class/ });
  });

  it('integer labels: negative, 1.5 and out of range name the line', async () => {
    expectClean(await rejected(loadTrainingData(file('0 a\n1 b\n-1 c\n'))), { code: 'ERR_FINETUNE_DATA_LABEL', message: /:3/ });
    expectClean(await rejected(loadTrainingData(file('0 a\n1 b\n1.5 c\n'))), { code: 'ERR_FINETUNE_DATA_LABEL', message: /:3/ });
    const { labels, vocab } = await loadTrainingData(file('0 a\n1 b\n'));
    const { encodeFile } = await import('../../src/data/dataset.js');
    for (const bad of ['2 x\n', '-1 x\n', '1.5 x\n', 'pos x\n']) {
      expectClean(await rejected(encodeFile(file(`0 ok\n${bad}`), { vocab, labels })), { code: 'ERR_FINETUNE_DATA_LABEL', message: /:2/ });
    }
    // Skipped and counted by option.
    const r = await encodeFile(file('0 ok\n7 x\n1 fine\n'), { vocab, labels, read: { onUnknownLabel: 'skip' } });
    expect(r.summary.skipped.label).toBe(1);
    expect(r.dataset.size).toBe(2);
  });

  it("a label unseen in training, in dev data: the dev file's line", async () => {
    const dev = file('pos a\nmeh b\n');
    expectClean(await rejected(trainFromFiles({ train: file('pos a\nneg b\npos c\nneg d\n'), dev, epochs: 1, architecture: { embedDim: 4, widths: [2], maps: 2 } })), {
      code: 'ERR_FINETUNE_DATA_LABEL',
      message: new RegExp(`${path.basename(dev)}:2`),
    });
  });

  it("training data whose labels differ from the model's: the line, and the hint --new-head", async () => {
    const model = path.join(dir, 'init.onnx');
    await saveModel(model, tinyModel(1));
    const { loadModel } = await import('../../src/onnx/model-file.js');
    const train = file('neg good\npos bad\nhappy great\n');
    expectClean(await rejected(trainFromFiles({ train, init: await loadModel(model), epochs: 1 })), { code: 'ERR_FINETUNE_DATA_LABEL', message: [/:3/, /new-head/] });
  });
});

describe('long lines and big files, in bounded memory', () => {
  it('a 100 MB line (no newline) through the whole training-data pass: truncated and counted, RSS bounded', async () => {
    const f = path.join(dir, 'long.txt');
    const fd = openSync(f, 'w');
    writeSync(fd, 'pos ');
    const chunk = Buffer.from('word '.repeat(200_000)); // 1 MB
    for (let i = 0; i < 100; i++) writeSync(fd, chunk);
    writeSync(fd, '\nneg short text\n');
    closeSync(fd);
    const { value, growthMiB } = await peakRssGrowth(() => scanTrainingData(f));
    expect(value.summary.truncatedLines).toBe(1);
    expect(value.summary.examples).toBe(2);
    expect(growthMiB).toBeLessThan(150);
  });

  it.skipIf(!SLOW)('FINETUNE_SLOW: a 1 GB file is streamed with bounded memory', async () => {
    const f = path.join(dir, 'big.txt');
    const fd = openSync(f, 'w');
    const lines = Array.from({ length: 10_000 }, (_, i) => `${i % 2 ? 'pos' : 'neg'} ${'lorem ipsum dolor sit amet '.repeat(3)}w${i}\n`).join('');
    const block = Buffer.from(lines);
    let size = 0;
    while (size < 1024 ** 3) size += writeSync(fd, block);
    closeSync(fd);
    const { value, growthMiB } = await peakRssGrowth(() => scanTrainingData(f));
    expect(value.summary.examples).toBeGreaterThan(10_000_000);
    console.log(`1 GB file: ${value.summary.examples} examples, peak RSS growth ${growthMiB.toFixed(0)} MiB`);
    expect(growthMiB).toBeLessThan(400);
  }, 600_000);

  it(`${SLOW ? '10 million' : '2 million'} distinct tokens: the vocabulary counter stays capped, deterministically`, async () => {
    const total = SLOW ? 10_000_000 : 2_000_000;
    const run = () => {
      const c = new TokenCounter({ maxEntries: 200_000 });
      const words: string[] = [];
      for (let i = 0; i < total; i++) {
        words.push(`t${i}`);
        if (i % 3 === 0) words.push('common', 'frequent');
        if (words.length >= 1000) {
          c.addText(words.join(' '));
          words.length = 0;
        }
      }
      c.addText(words.join(' '));
      return c;
    };
    const { value: c, growthMiB } = await peakRssGrowth(() => run());
    expect(c.size).toBeLessThanOrEqual(200_000);
    expect(c.pruned).toBe(true);
    expect(c.count('common')).toBeGreaterThan(total / 4);
    expect(growthMiB).toBeLessThan(300);
    const v1 = Vocabulary.build(c, { maxSize: 1000 }).toArray();
    const v2 = Vocabulary.build(run(), { maxSize: 1000 }).toArray();
    expect(v1).toEqual(v2);
    expect(v1.slice(2, 4)).toEqual(['common', 'frequent']);
  }, 120_000);
});

describe('degenerate texts give padded, finite outputs (filters 3, 4, 5)', () => {
  it('empty, one-token, all-padding, whitespace-only and unknown-only texts', async () => {
    const graph = textCNN({ vocabSize: 6, classes: 2, embedDim: 4, widths: [3, 4, 5], maps: 3 });
    const saved = { graph, params: initParams(graph, 2), vocab: Vocabulary.fromTokens(['<pad>', '<unk>', 'a', 'b', 'c', 'd']), tokenizer: new Tokenizer().toJSON(), labels: ['x', 'y'] };
    const c = new Classifier(saved, { maxBatch: 4, maxLength: 16 });
    const texts = ['', 'a', '<pad> <pad> <pad>', '   \t ', 'zzz qqq', 'a '.repeat(1000)];
    const preds = await c.predict(texts);
    expect(preds).toHaveLength(texts.length);
    for (const p of preds) {
      expect(p.logits.every(Number.isFinite)).toBe(true);
      expect(Object.values(p.probabilities).every(Number.isFinite)).toBe(true);
    }
    // A text alone equals the text in a batch (per-row lengths).
    expect((await c.predict(['a']))[0].logits).toEqual(preds[1].logits);
    c.dispose();
  });
});

describe('CSV and JSONL malformations: error with the line, or skipped and counted', () => {
  const cases: Array<[string, string, string, number]> = [
    ['an open quote', '.csv', 'label,text\nneg,ok\npos,"never closed\nneg,fine\n', 3],
    ['extra columns', '.csv', 'label,text\npos,a,b\nneg,fine\n', 2],
    ['missing fields', '.csv', 'label,text\npos\nneg,fine\n', 2],
    ['text after a closing quote', '.csv', 'label,text\npos,"a"b\nneg,fine\n', 2],
    ['an empty label', '.tsv', 'label\ttext\n\tno label\nneg\tfine\n', 2],
    ['bad JSON', '.jsonl', '{"label":"pos","text":"a"}\n{"label": pos}\n{"label":"neg","text":"b"}\n', 2],
    ['a missing field', '.jsonl', '{"label":"pos","text":"a"}\n{"label":"pos"}\n{"label":"neg","text":"b"}\n', 2],
    ['an array', '.jsonl', '{"label":"pos","text":"a"}\n[1,2]\n{"label":"neg","text":"b"}\n', 2],
    ['a text that is not a string', '.jsonl', '{"label":"pos","text":"a"}\n{"label":"pos","text":{"__proto__":1}}\n{"label":"neg","text":"b"}\n', 2],
    ['a label 1.5', '.jsonl', '{"label":0,"text":"a"}\n{"label":1.5,"text":"x"}\n{"label":1,"text":"b"}\n', 2],
    ['a __proto__ label key only', '.jsonl', '{"label":"pos","text":"a"}\n{"__proto__":{"label":"pos"},"text":"x"}\n{"label":"neg","text":"b"}\n', 2],
  ];
  for (const [what, ext, content, line] of cases) {
    it(`${what} (${ext.slice(1)})`, async () => {
      const f = file(content, ext);
      const err = expectClean(await rejected(readExamples(f)), { code: /^ERR_FINETUNE_DATA_(FORMAT|LABEL)$/, message: new RegExp(`${path.basename(f).replace('.', '\\.')}:${line}`) });
      expect(err instanceof DataFormatError || err instanceof DataLabelError).toBe(true);
      const { examples: got, summary } = await readExamples(f, { onError: 'skip' });
      expect(summary.skipped.malformed + summary.skipped.label).toBeGreaterThanOrEqual(1);
      expect(got.length).toBeGreaterThanOrEqual(1);
      expect(summary.problems[0].line).toBe(line);
    });
  }
  it('a quoted newline is not an error: one record over two lines', async () => {
    const { examples: got } = await readExamples(file('label,text\npos,"two\nlines"\nneg,x\n', '.csv'));
    expect(got.map((e) => [e.label, e.text, e.line])).toEqual([['pos', 'two\nlines', 2], ['neg', 'x', 4]]);
  });
  it('__proto__ and constructor keys never touch prototypes', async () => {
    const { examples: got } = await readExamples(file('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"label":"__proto__","text":"a"}\n{"label":"constructor","text":"b"}\n', '.jsonl'));
    expect(got.map((e) => e.label)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the command line: bad input -> one clear line on stderr, non-zero exit, no stack trace', () => {
  let out = '';
  let err = '';
  beforeEach(() => {
    out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  });
  afterEach(() => vi.restoreAllMocks());

  const small = ['--embed-dim', '4', '--maps', '2', '--widths', '2', '--epochs', '1', '--batch-size', '4'];
  const expectOneLine = (code: number, message: RegExp) => {
    expect(code).toBeGreaterThan(0);
    const lines = err.trim().split('\n');
    expect(lines.length, err).toBe(1);
    expect(err).toMatch(message);
    expect(err).not.toMatch(/^\s+at /m);
    expect(err).not.toMatch(/unexpected error/);
  };

  it('train: Latin-1 data, an empty file, a missing file, a directory, a bad option value', async () => {
    const latin = file(Buffer.concat([Buffer.from('pos ok\nneg caf'), Buffer.from([0xe9, 0x0a])]));
    expectOneLine(await main(['train', '--train', latin, ...small]), /latin1/);
    err = '';
    expectOneLine(await main(['train', '--train', file(''), ...small]), /no examples/);
    err = '';
    expectOneLine(await main(['train', '--train', path.join(dir, 'missing.txt'), ...small]), /missing\.txt/);
    err = '';
    expectOneLine(await main(['train', '--train', dir, ...small]), /director|not a regular file|folder/);
    err = '';
    expectOneLine(await main(['train', '--train', file('pos a\nneg b\n'), '--epochs', 'many']), /epochs/);
    err = '';
    expectOneLine(await main(['train', '--train', file('pos a\nneg b\n'), '--lr', 'NaN']), /lr/);
    err = '';
    expectOneLine(await main(['train', '--train', file('pos a\nneg b\n'), '--batch-size=-3']), /batch-size/);
  });

  it('predict / eval / export: a garbage model, a foreign ONNX without --vocab, a wrong --sha256', async () => {
    const junk = file(Buffer.from('not a model at all'), '.onnx');
    expectOneLine(await main(['predict', '--model', junk, '--text', 'hi']), new RegExp(path.basename(junk)));
    err = '';
    expectOneLine(await main(['eval', '--model', junk, '--data', file('pos a\n')]), new RegExp(path.basename(junk)));
    err = '';
    expectOneLine(await main(['export', '--model', junk, '--out', path.join(dir, 'o.onnx')]), new RegExp(path.basename(junk)));
    err = '';
    const good = path.join(dir, 'good.onnx');
    await saveModel(good, tinyModel(1));
    expectOneLine(await main(['train', '--train', file('neg a\npos b\n'), '--init', good, '--sha256', 'ab'.repeat(32), ...small]), /SHA-256|sha256/);
  });

  it('eval with data whose labels the model does not know: the line', async () => {
    const good = path.join(dir, 'good2.onnx');
    await saveModel(good, tinyModel(1));
    const data = file('neg good\nmaybe bad\n');
    expectOneLine(await main(['eval', '--model', good, '--data', data]), new RegExp(`${path.basename(data)}:2`));
  });
});
