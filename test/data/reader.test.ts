import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createWriteStream } from 'node:fs';
import { DataEmptyError, DataEncodingError, DataFormatError, DataLabelError, DataReader, LabelMap, readExamples } from '../../src/data/index.js';
import { fixtures, readAll, rejection, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const simple = (examples: { text: string; label: string }[]) => examples.map((e) => [e.label, e.text]);

describe('labeled format', () => {
  it('reads the shared-data format with Latin-1 text', async () => {
    const { examples, reader } = await readAll(join(fixtures, 'mr-sample.txt'), { encoding: 'latin1' });
    expect(examples).toHaveLength(80);
    expect(examples[31].text).toBe('the action clich\u00e9s just pile up .');
    expect(examples[31].line).toBe(32);
    expect(reader.summary.format).toBe('labeled');
    expect(reader.summary.formatReason).toMatch(/content/);
    expect(reader.summary.classes).toEqual([
      { label: '0', count: 60 },
      { label: '1', count: 20 },
    ]);
  });

  it('refuses Latin-1 bytes read as UTF-8 with file, line, byte offset and a latin1 hint', async () => {
    const file = join(fixtures, 'mr-sample.txt');
    const err = await rejection(readAll(file));
    expect(err).toBeInstanceOf(DataEncodingError);
    expect(err.code).toBe('ERR_FINETUNE_DATA_ENCODING');
    expect(err.line).toBe(32);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(file);
    expect(err.byteOffset).toBe(bytes.indexOf(0xe9));
    expect(err.message).toContain(`${file}:32: invalid UTF-8 at byte offset ${bytes.indexOf(0xe9)}`);
    expect(err.message).toContain("encoding 'latin1'");
  });

  it('finds the bad byte also when it sits in a line split across chunks', async () => {
    const f = tmp.file('split-bad.txt', Buffer.concat([Buffer.from('1 ok\n0 caf'), Buffer.from([0xe9]), Buffer.from(' noir\n')]));
    const err = await rejection(readAll(f, { chunkSize: 7 }));
    expect(err.line).toBe(2);
    expect(err.byteOffset).toBe(10);
  });

  it('gives the same examples for LF, CRLF, CR, mixed endings and no final newline, at any chunk size', async () => {
    const lines = ['pos a good film', 'neg a bad one', '', 'pos\tlast   line  '];
    const variants = {
      lf: lines.join('\n') + '\n',
      crlf: lines.join('\r\n') + '\r\n',
      cr: lines.join('\r') + '\r',
      mixed: `${lines[0]}\r\n${lines[1]}\n\r${lines[3]}`,
      nofinal: lines.join('\n'),
    };
    const expected = [
      ['pos', 'a good film'],
      ['neg', 'a bad one'],
      ['pos', 'last   line'],
    ];
    for (const [name, content] of Object.entries(variants)) {
      for (const chunkSize of [1, 2, 3, 5, 64 * 1024]) {
        const { examples, reader } = await readAll(tmp.file(`${name}.txt`, content), { chunkSize });
        expect(simple(examples), `${name} chunk ${chunkSize}`).toEqual(expected);
        expect(examples.map((e) => e.line)).toEqual([1, 2, 4]);
        expect(reader.summary.skipped.blank).toBe(1);
        expect(examples.every((e) => !e.label.includes('\r') && !e.text.includes('\r'))).toBe(true);
      }
    }
  });

  it('counts CRLF split across a chunk boundary as one line ending', async () => {
    const { reader, examples } = await readAll(tmp.file('crlf-split.txt', 'pos\r\nneg x\r\npos y\r\n'), { chunkSize: 4, onError: 'skip' });
    expect(reader.summary.lineEndings).toEqual({ lf: 0, crlf: 3, cr: 0 });
    // `pos\r` must never become a label: the first line is a label without text.
    expect(examples.map((e) => e.label)).toEqual(['neg', 'pos']);
    expect(reader.summary.skipped.malformed).toBe(1);
  });

  it('drops a UTF-8 BOM and keeps the first label intact', async () => {
    const f = tmp.file('bom.txt', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('1 caf\u00e9 cr\u00e8me\n0 rien\n')]));
    for (const chunkSize of [1, 2, 1024]) {
      const { examples, reader } = await readAll(f, { chunkSize });
      expect(examples[0]).toEqual({ label: '1', text: 'caf\u00e9 cr\u00e8me', line: 1 });
      expect(reader.summary.bom).toBe('utf8');
    }
  });

  it('refuses UTF-16 with an unsupported-encoding message', async () => {
    for (const bom of [[0xff, 0xfe], [0xfe, 0xff]]) {
      const f = tmp.file('utf16.txt', Buffer.concat([Buffer.from(bom), Buffer.from('1\u0000 \u0000a\u0000', 'latin1')]));
      const err = await rejection(readAll(f));
      expect(err).toBeInstanceOf(DataEncodingError);
      expect(err.message).toMatch(/unsupported encoding.*UTF-16/);
    }
  });

  it('keeps lone control characters in text without crashing', async () => {
    const { examples } = await readAll(tmp.file('ctrl.txt', '1 a\u0000b\u0007c\n0 \u00ff\n'));
    expect(examples[0].text).toBe('a\u0000b\u0007c');
    expect(examples[1].text).toBe('\u00ff');
  });

  it('skips and counts blank lines; a file with none is an empty-data error', async () => {
    const err = await rejection(readAll(tmp.file('blank.txt', '\n   \n\t\n\r\n')));
    expect(err).toBeInstanceOf(DataEmptyError);
    expect(err.code).toBe('ERR_FINETUNE_DATA_EMPTY');
    expect(err.message).toMatch(/no examples \(4 lines: 4 blank/);
    const empty = await rejection(readAll(tmp.file('empty.txt', '')));
    expect(empty).toBeInstanceOf(DataEmptyError);
    const { examples, reader } = await readAll(tmp.file('empty2.txt', ''), { allowEmpty: true });
    expect(examples).toEqual([]);
    expect(reader.summary.lines).toBe(0);
  });

  it('label without text: an error with the line, or skipped and counted', async () => {
    const f = tmp.file('notext.txt', '1 fine\npos\n0 ok\n');
    const err = await rejection(readAll(f));
    expect(err).toBeInstanceOf(DataFormatError);
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/notext\.txt:2: 'pos' has no text/);
    const { examples, reader } = await readAll(f, { onError: 'skip' });
    expect(examples.map((e) => e.line)).toEqual([1, 3]);
    expect(reader.summary.skipped.malformed).toBe(1);
    expect(reader.summary.problems[0].line).toBe(2);
  });

  it('treats labels as case-sensitive and checks them against a label map', async () => {
    const labels = LabelMap.fromNames(['neg', 'pos']);
    const f = tmp.file('case.txt', 'pos good\nPos shouty\nneutral meh\nneg bad\n');
    const err = await rejection(readAll(f, { labels }));
    expect(err).toBeInstanceOf(DataLabelError);
    expect(err.line).toBe(2);
    expect(err.message).toContain("did you mean 'pos'");
    const { examples, reader } = await readAll(f, { labels, onUnknownLabel: 'skip' });
    expect(examples.map((e) => e.label)).toEqual(['pos', 'neg']);
    expect(reader.summary.skipped.label).toBe(2);
    expect(reader.summary.classes).toEqual([
      { label: 'neg', count: 1 },
      { label: 'pos', count: 1 },
    ]);
  });

  it('truncates lines over the limit and counts them', async () => {
    const long = 'x'.repeat(5000);
    const f = tmp.file('long.txt', `1 ${long}\n0 short\n1 \u00e9${'\u00e9'.repeat(3000)}\n`);
    for (const chunkSize of [100, 1 << 20]) {
      const { examples, reader } = await readAll(f, { maxLineBytes: 1001, chunkSize });
      expect(examples[0].text).toBe('x'.repeat(999));
      expect(examples[1].text).toBe('short');
      // 1001 bytes would cut a 2-byte character in half: it is dropped, not turned into an error.
      expect(examples[2].text).toBe('\u00e9'.repeat(499));
      expect(reader.summary.truncatedLines).toBe(2);
    }
  });

  it('streams a 100 MB single line in bounded memory', async () => {
    const f = join(tmp.dir, 'huge-line.txt');
    const out = createWriteStream(f);
    const piece = Buffer.alloc(1 << 20, 'ab ');
    await new Promise<void>((resolve, reject) => {
      out.on('error', reject);
      out.write('1 ');
      let i = 0;
      const more = (): void => {
        while (i < 100) {
          i++;
          if (!out.write(piece)) return void out.once('drain', more);
        }
        out.end('\n0 tail\n', () => resolve());
      };
      more();
    });
    const before = process.memoryUsage().rss;
    const { examples, reader } = await readAll(f);
    expect(examples).toHaveLength(2);
    expect(examples[0].text.length).toBeLessThanOrEqual(1 << 20);
    expect(examples[1]).toEqual({ label: '0', text: 'tail', line: 2 });
    expect(reader.summary.truncatedLines).toBe(1);
    expect(process.memoryUsage().rss - before).toBeLessThan(80 << 20);
  });

  it('reports a missing file as a data file error', async () => {
    const err = await rejection(readAll(join(tmp.dir, 'nope.txt')));
    expect(err.code).toBe('ERR_FINETUNE_DATA_FILE');
    expect(err.message).toMatch(/nope\.txt: cannot read: no such file/);
  });
});

describe('csv and tsv', () => {
  it('reads quoted fields, doubled quotes and embedded newlines', async () => {
    const { examples, reader } = await readAll(join(fixtures, 'sample.csv'));
    expect(reader.summary.format).toBe('csv');
    expect(reader.summary.formatReason).toBe('extension .csv');
    expect(reader.summary.columns).toEqual(['id', 'text', 'label']);
    expect(simple(examples)).toEqual([
      ['pos', 'a fine, moving film'],
      ['neg', 'he said "no" twice'],
      ['pos', 'line one\nline two'],
      ['neg', 'plain text'],
    ]);
    expect(examples.map((e) => e.line)).toEqual([2, 3, 4, 6]);
  });

  it('reads TSV with default column names sentence/class', async () => {
    const { examples } = await readAll(join(fixtures, 'sample.tsv'));
    expect(simple(examples)).toEqual([
      ['1', 'an honest film'],
      ['0', 'quoted\ttab'],
      ['1', 'another one'],
    ]);
  });

  it('takes user-named columns and headerless files', async () => {
    const f = tmp.file('named.csv', 'Review,Stars\ngreat,5\nawful,1\n');
    const { examples } = await readAll(f, { textField: 'review', labelField: 'Stars' });
    expect(simple(examples)).toEqual([
      ['5', 'great'],
      ['1', 'awful'],
    ]);
    const missing = await rejection(readAll(f, { textField: 'body' }));
    expect(missing.message).toMatch(/named\.csv:1: no column named 'body'.*Review, Stars/);
    const g = tmp.file('nohead.csv', 'pos,nice\nneg,"bad, bad"\n');
    const { examples: ex2 } = await readAll(g, { header: false });
    expect(simple(ex2)).toEqual([
      ['pos', 'nice'],
      ['neg', 'bad, bad'],
    ]);
  });

  it('handles CRLF inside and outside quotes', async () => {
    const f = tmp.file('crlf.csv', 'text,label\r\n"two\r\nlines",a\r\nthree,b');
    const { examples } = await readAll(f, { chunkSize: 3 });
    expect(simple(examples)).toEqual([
      ['a', 'two\nlines'],
      ['b', 'three'],
    ]);
  });

  const malformed: [string, string, number, RegExp][] = [
    ['open quote at end of file', 'text,label\nfine,a\n"never closed,b\nmore,c\n', 3, /unterminated quoted field/],
    ['extra columns', 'text,label\nfine,a\nx,b,extra\nok,c\n', 3, /extra columns: expected 2 fields/],
    ['missing field', 'text,label\nfine,a\nlonely\nok,c\n', 3, /missing fields/],
    ['text after a closing quote', 'text,label\nfine,a\n"q"x,b\nok,c\n', 3, /after the closing quote/],
  ];
  for (const [name, content, line, re] of malformed) {
    it(`${name}: error with the line, or skipped and counted`, async () => {
      const f = tmp.file(`bad-${line}-${name.length}.csv`, content);
      const err = await rejection(readAll(f));
      expect(err).toBeInstanceOf(DataFormatError);
      expect(err.code).toBe('ERR_FINETUNE_DATA_FORMAT');
      expect(err.line).toBe(line);
      expect(err.message).toMatch(re);
      expect(err.message.startsWith(`${f}:${line}: `)).toBe(true);
      const { examples, reader } = await readAll(f, { onError: 'skip' });
      expect(reader.summary.skipped.malformed).toBe(1);
      expect(examples[0]).toEqual({ text: 'fine', label: 'a', line: 2 });
      // The open quote swallows the rest of the file; the others resume on the next line.
      if (!name.startsWith('open')) expect(examples.map((e) => e.label)).toEqual(['a', 'c']);
    });
  }
});

describe('jsonl', () => {
  it('reads string and integer labels', async () => {
    const { examples, reader } = await readAll(join(fixtures, 'sample.jsonl'));
    expect(reader.summary.format).toBe('jsonl');
    expect(simple(examples)).toEqual([
      ['pos', 'good movie'],
      ['neg', 'bad movie'],
      ['1', 'number label'],
    ]);
  });

  it('detects JSONL by content and takes configured field names', async () => {
    const f = tmp.file('custom.txt', '\n{"body":"x y","tag":3}\n{"body":"z","tag":4}\n');
    const { examples, reader } = await readAll(f, { textField: 'body', labelField: 'tag' });
    expect(reader.summary.format).toBe('jsonl');
    expect(reader.summary.formatReason).toMatch(/content: first line is a JSON object/);
    expect(simple(examples)).toEqual([
      ['3', 'x y'],
      ['4', 'z'],
    ]);
  });

  it('never lets __proto__ or constructor keys touch prototypes', async () => {
    const f = tmp.file(
      'proto.jsonl',
      '{"__proto__":{"polluted":true},"text":"a","label":"x"}\n{"constructor":{"prototype":{"bad":1}},"text":"b","label":"__proto__"}\n{"text":"c","label":"constructor"}\n',
    );
    const { examples, reader } = await readAll(f);
    expect(simple(examples)).toEqual([
      ['x', 'a'],
      ['__proto__', 'b'],
      ['constructor', 'c'],
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).bad).toBeUndefined();
    expect(reader.summary.classes.map((c) => c.label)).toEqual(['__proto__', 'constructor', 'x']);
    // A field named __proto__ is looked up as an own key only: absent means missing, not Object.prototype.
    const err = await rejection(readAll(f, { textField: '__proto__', labelField: 'label', onError: 'throw' }));
    expect(err.message).toMatch(/:1: field "__proto__" must be a string, found object/);
    const g = tmp.file('proto2.jsonl', '{"text":"a","label":"x"}\n');
    const err2 = await rejection(readAll(g, { textField: '__proto__' }));
    expect(err2.message).toMatch(/missing field "__proto__"/);
  });

  const bad: [string, string, RegExp, string][] = [
    ['bad JSON', '{"text": "a", "label": }', /invalid JSON/, 'ERR_FINETUNE_DATA_FORMAT'],
    ['an array', '["a", "b"]', /expected a JSON object.*an array/, 'ERR_FINETUNE_DATA_FORMAT'],
    ['a string', '"just text"', /expected a JSON object.*string/, 'ERR_FINETUNE_DATA_FORMAT'],
    ['missing label', '{"text": "a"}', /missing field for the label/, 'ERR_FINETUNE_DATA_FORMAT'],
    ['non-string text', '{"text": 5, "label": "x"}', /"text" must be a string/, 'ERR_FINETUNE_DATA_FORMAT'],
    ['fractional label', '{"text": "a", "label": 1.5}', /label 1\.5 is not an integer/, 'ERR_FINETUNE_DATA_LABEL'],
    ['boolean label', '{"text": "a", "label": true}', /must be a string or an integer/, 'ERR_FINETUNE_DATA_FORMAT'],
  ];
  for (const [name, line, re, code] of bad) {
    it(`${name}: error with the line, or skipped and counted`, async () => {
      const f = tmp.file(`bad-${name.replace(/ /g, '-')}.jsonl`, `{"text":"ok","label":"y"}\n${line}\n{"text":"fine","label":"z"}\n`);
      const err = await rejection(readAll(f));
      expect(err.code).toBe(code);
      expect(err.line).toBe(2);
      expect(err.message).toMatch(re);
      const { examples, reader } = await readAll(f, { onError: 'skip' });
      expect(examples.map((e) => e.label)).toEqual(['y', 'z']);
      expect(reader.summary.skipped.malformed + reader.summary.skipped.label).toBe(1);
    });
  }
});

describe('auto detection and helpers', () => {
  it('picks by extension, then content, and says why', async () => {
    const tsvByContent = tmp.file('data.txt', 'label\ttext\n1\thello there\n0\tbye now\n');
    const { examples, reader } = await readAll(tsvByContent);
    expect(reader.summary.format).toBe('tsv');
    expect(reader.summary.formatReason).toMatch(/tab-separated header/);
    expect(simple(examples)).toEqual([
      ['1', 'hello there'],
      ['0', 'bye now'],
    ]);
    // A labeled file with tabs is not mistaken for TSV.
    const labeledTabs = tmp.file('tabs.txt', '1\thello there\n0\tbye\n');
    const r2 = await readAll(labeledTabs);
    expect(r2.reader.summary.format).toBe('labeled');
    // An explicit format wins over the extension.
    const r3 = await readAll(tmp.file('x.csv', '1 a b\n0 c\n'), { format: 'labeled' });
    expect(simple(r3.examples)).toEqual([
      ['1', 'a b'],
      ['0', 'c'],
    ]);
  });

  it('readExamples returns examples and summary; a reader iterates once', async () => {
    const { examples, summary } = await readExamples(join(fixtures, 'trec-sample.txt'), { encoding: 'latin1' });
    expect(examples).toHaveLength(100);
    expect(summary.classes.map((c) => c.label)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(examples[65].text).toContain('sister\u00f0city');
    const reader = new DataReader(join(fixtures, 'sample.jsonl'));
    for await (const _ of reader) void _;
    await expect(async () => {
      for await (const _ of reader) void _;
    }).rejects.toThrow(/iterated once/);
  });
});
