import { describe, expect, it } from 'vitest';
import { DataLabelError, LabelMap, LabelMapBuilder, Tokenizer, kimClean, sortLabels, splitWhitespace } from '../../src/data/index.js';

function build(labels: string[]): LabelMap {
  const b = new LabelMapBuilder();
  labels.forEach((l, i) => b.add(l, { file: 'train.txt', line: i + 1 }));
  return b.build('train.txt');
}

describe('LabelMap', () => {
  it('maps integer labels numerically: 0..5 -> 0..5, and 10 after 9', () => {
    const m = build(['3', '0', '5', '1', '2', '4', '0']);
    expect(m.kind).toBe('integer');
    expect([0, 1, 2, 3, 4, 5].map((i) => m.indexOf(String(i)))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sortLabels(['10', '9', '1'])).toEqual(['1', '9', '10']);
    expect(build(['2', '1']).names).toEqual(['1', '2']);
  });

  it('orders string labels by code unit, independent of file order', () => {
    expect(build(['pos', 'neg', 'Neutral']).names).toEqual(['Neutral', 'neg', 'pos']);
    expect(build(['neg', 'pos']).names).toEqual(build(['pos', 'neg']).names);
  });

  it('refuses a single class and mixed integer/non-integer numbers, naming the line', () => {
    expect(() => build(['1', '1'])).toThrow(/train\.txt: the training data has a single class \('1'\)/);
    for (const odd of ['1.5', '-1', '01']) {
      let err: DataLabelError | undefined;
      try {
        build(['0', '1', odd, '1']);
      } catch (e) {
        err = e as DataLabelError;
      }
      expect(err).toBeInstanceOf(DataLabelError);
      expect(err!.line).toBe(3);
      expect(err!.message).toContain(`train.txt:3: label '${odd}' is not a non-negative integer`);
    }
  });

  it('lookup names file and line, explains out-of-range, negative and fractional labels', () => {
    const m = LabelMap.fromNames(['0', '1', '2']);
    expect(m.lookup('2', { file: 'dev.txt', line: 9 })).toBe(2);
    expect(() => m.lookup('3', { file: 'dev.txt', line: 9 })).toThrow(/^dev\.txt:9: label '3' is out of range/);
    expect(() => m.lookup('-1', { file: 'dev.txt', line: 4 })).toThrow(/dev\.txt:4: label '-1' is a negative number/);
    expect(() => m.lookup('1.5', { line: 7 })).toThrow(/line 7: label '1\.5' is not a plain non-negative integer/);
  });

  it('round-trips through JSON, keeps __proto__ as a plain label, and reports a differing map', () => {
    const m = LabelMap.fromNames(['__proto__', 'constructor', 'x']);
    const back = LabelMap.fromJSON(JSON.parse(JSON.stringify(m)));
    expect(back.equals(m)).toBe(true);
    expect(back.indexOf('__proto__')).toBe(0);
    expect(back.indexOf('toString')).toBe(-1);
    expect(() => LabelMap.fromNames(['a', 'b']).assertSameAs(LabelMap.fromNames(['b', 'a']))).toThrow(/index 0 is 'a' here but 'b' in the model/);
    expect(() => LabelMap.fromJSON({ names: [1, 2] })).toThrow(/array of label names/);
    expect(() => LabelMap.fromNames(['a', 'a'])).toThrow(/duplicate/);
  });
});

describe('Tokenizer', () => {
  it('whitespace mode lower-cases and splits on any whitespace run', () => {
    const t = new Tokenizer();
    expect(t.tokenize('  The  Film\tIS\u00a0Good\u3000!\n')).toEqual(['the', 'film', 'is', 'good', '!']);
    expect(new Tokenizer({ lowercase: false }).tokenize('A b')).toEqual(['A', 'b']);
    expect(new Tokenizer({ maxTokens: 2 }).tokenize('a b c d')).toEqual(['a', 'b']);
    expect(t.tokenize('')).toEqual([]);
  });

  it('kim mode follows clean_str from process_data.py', () => {
    const t = new Tokenizer({ mode: 'kim' });
    // Expected values worked out by hand from Kim's regex rules.
    expect(t.tokenize("It isn't bad, (really)!")).toEqual(['it', 'is', "n't", 'bad', ',', '(', 'really', ')', '!']);
    expect(t.tokenize("He's here; we've gone, they're off? I'd say you'll see.")).toEqual([
      'he', "'s", 'here', 'we', "'ve", 'gone', ',', 'they', "'re", 'off', '?', 'i', "'d", 'say', 'you', "'ll", 'see',
    ]);
    expect(t.tokenize('a--b  ``quoted``  $5.00 #tag')).toEqual(['a', 'b', '``quoted``', '5', '00', 'tag']);
    // Kim lower-cases last, so an upper-case N'T is not split (as in his code).
    expect(new Tokenizer({ mode: 'kim', lowercase: false }).tokenize("DON'T Stop")).toEqual(["DON'T", 'Stop']);
    expect(kimClean('x,y')).toBe('x , y');
  });

  it('kim mode keeps letters of any script and combining marks', () => {
    const t = new Tokenizer({ mode: 'kim' });
    expect(t.tokenize('Café CRÈME, naïve señor — Ελληνικά 東京 e\u0301')).toEqual(['café', 'crème', ',', 'naïve', 'señor', 'ελληνικά', '東京', 'e\u0301']);
  });

  it('never throws on lone surrogates or control characters', () => {
    for (const mode of ['whitespace', 'kim'] as const) {
      const t = new Tokenizer({ mode });
      const out = t.tokenize('a\ud800b \udfff c\u0000d\u0007e\u001f f\u007f');
      expect(Array.isArray(out)).toBe(true);
      expect(out.every((x) => x.length > 0)).toBe(true);
    }
    expect(new Tokenizer({ mode: 'kim' }).tokenize('a\ud800b')).toEqual(['a', 'b']);
    expect(splitWhitespace('a\u0000b')).toEqual(['a', 'b']);
  });

  it('serialises to JSON and back', () => {
    const t = new Tokenizer({ mode: 'kim', lowercase: false, maxTokens: 7 });
    const back = Tokenizer.fromJSON(JSON.parse(JSON.stringify(t)));
    expect(back.toJSON()).toEqual({ mode: 'kim', lowercase: false, maxTokens: 7 });
    expect(() => Tokenizer.fromJSON({ mode: 'bpe' })).toThrow(/unknown tokenizer mode/);
    expect(() => Tokenizer.fromJSON(JSON.parse('{"__proto__": {"mode": "kim"}}'))).not.toThrow();
    expect(Tokenizer.fromJSON(JSON.parse('{"__proto__": {"mode": "kim"}}')).mode).toBe('whitespace');
  });
});
