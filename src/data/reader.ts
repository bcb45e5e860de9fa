import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { DataEmptyError, DataError, DataFileError, DataFormatError, DataLabelError, type DataLocation } from './errors.js';
import { LabelMap, sortLabels } from './labels.js';
import { LineSplitter, type TextEncoding } from './lines.js';

/** Formats the readers understand. */
export type DataFormat = 'labeled' | 'csv' | 'tsv' | 'jsonl';

/** One example: its text, its label as written in the file, and the 1-based line it starts on. */
export interface Example {
  text: string;
  label: string;
  line: number;
}

/** What to do with a malformed record or a bad label: stop with an error, or skip it and count it. */
export type OnError = 'throw' | 'skip';

/** Options of {@link DataReader}. */
export interface ReadOptions {
  /** `auto` (default) picks by extension, then content, and records why in the summary. */
  format?: DataFormat | 'auto';
  /** `utf8` (default, strict) or `latin1`. */
  encoding?: TextEncoding;
  /** CSV/TSV column or JSONL key of the text. Default: the first of text, sentence, review, content, document, tweet. With `header: false`, a 0-based column number (default 1). */
  textField?: string;
  /** CSV/TSV column or JSONL key of the label. Default: the first of label, class, category, target, sentiment, y. With `header: false`, a 0-based column number (default 0). */
  labelField?: string;
  /** CSV/TSV: the first record names the columns (default true). */
  header?: boolean;
  /** CSV/TSV: honour RFC 4180 double quotes (default true). */
  quote?: boolean;
  /** Lines (CSV records) longer than this many bytes are truncated and counted. Default 1 MiB. */
  maxLineBytes?: number;
  /** Malformed records: throw (default) or skip and count. */
  onError?: OnError;
  /** Labels not in `labels`: defaults to `onError`. */
  onUnknownLabel?: OnError;
  /** Labels of the training data: every label is checked against it (dev/test data). */
  labels?: LabelMap;
  /** A file without examples is an error unless this is true. */
  allowEmpty?: boolean;
  /** Read size in bytes (default 256 KiB: a smaller batch of examples alive at once keeps the heap, and RSS, small). */
  chunkSize?: number;
}

/** Skipped-line counts by reason. */
export interface SkipCounts {
  /** Empty or whitespace-only lines. */
  blank: number;
  /** Records that broke the format (onError 'skip'). */
  malformed: number;
  /** Records whose label was invalid or unknown (onError/onUnknownLabel 'skip'). */
  label: number;
}

/** What a reader saw; complete once iteration has finished. */
export interface DataSummary {
  file: string;
  format: DataFormat;
  /** Why this format, e.g. `extension .csv` or `content: first line is a JSON object`. */
  formatReason: string;
  encoding: TextEncoding;
  bom: 'utf8' | null;
  /** Physical lines read. */
  lines: number;
  examples: number;
  /** Classes with their example counts, in label-map order (or sorted as a label map would be). */
  classes: { label: string; count: number }[];
  skipped: SkipCounts;
  /** Lines cut at `maxLineBytes`. */
  truncatedLines: number;
  maxLineBytes: number;
  lineEndings: { lf: number; crlf: number; cr: number };
  /** The first few skipped records and why (at most 20). */
  problems: { line: number; message: string }[];
  /** CSV/TSV column names, when there was a header. */
  columns?: string[];
}

const TEXT_NAMES = ['text', 'sentence', 'review', 'content', 'document', 'tweet'];
const LABEL_NAMES = ['label', 'class', 'category', 'target', 'sentiment', 'y'];
const DEFAULT_MAX_LINE = 1 << 20;

interface Sink {
  example(text: string, label: string, line: number): void;
  blank(): void;
  malformed(problem: string, line: number, truncated: boolean): void;
}

interface RecordParser {
  line(text: string, line: number, truncated: boolean): void;
  end(): void;
}

/**
 * Streams the examples of a text file: an async iterator over
 * `{ text, label, line }`, reading the file chunk by chunk so any size fits in
 * bounded memory (see {@link LineSplitter} for line endings, encodings and
 * long lines). `summary` fills in as it reads; after the loop it holds the
 * counts (examples, classes, skipped lines by reason, truncated lines, the
 * format and encoding used). A file with no examples throws
 * {@link DataEmptyError} at the end unless `allowEmpty`.
 *
 * Formats: `labeled` (`LABEL` then a space or tab then the text; leading
 * blanks are ignored and the text is trimmed), `csv`/`tsv` (RFC 4180 quotes,
 * quoted newlines become `\n`, a header row), `jsonl` (one object a line;
 * labels may be strings or integers).
 *
 * @example
 * const reader = new DataReader('data/train.txt', { encoding: 'latin1' });
 * for await (const { text, label, line } of reader) { ... }
 * console.log(reader.summary.examples, reader.summary.classes);
 */
export class DataReader implements AsyncIterable<Example> {
  readonly file: string;
  readonly summary: DataSummary;
  private readonly options: ReadOptions;
  private readonly maxLineBytes: number;
  private used = false;

  constructor(file: string, options: ReadOptions = {}) {
    if (typeof file !== 'string' || file.length === 0) throw new TypeError('file must be a non-empty path');
    const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE;
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 16) throw new RangeError(`maxLineBytes must be an integer >= 16, got ${maxLineBytes}`);
    const encoding = options.encoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'latin1') {
      throw new DataError('ERR_FINETUNE_DATA_ENCODING', `unsupported encoding '${String(encoding)}': use 'utf8' or 'latin1'`, { file });
    }
    const format = options.format ?? 'auto';
    if (!['auto', 'labeled', 'csv', 'tsv', 'jsonl'].includes(format)) throw new RangeError(`unknown format '${format}': use auto, labeled, csv, tsv or jsonl`);
    this.file = file;
    this.options = options;
    this.maxLineBytes = maxLineBytes;
    this.summary = {
      file,
      format: format === 'auto' ? 'labeled' : format,
      formatReason: format === 'auto' ? 'auto (not yet detected)' : 'given',
      encoding,
      bom: null,
      lines: 0,
      examples: 0,
      classes: [],
      skipped: { blank: 0, malformed: 0, label: 0 },
      truncatedLines: 0,
      maxLineBytes,
      lineEndings: { lf: 0, crlf: 0, cr: 0 },
      problems: [],
    };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Example> {
    for await (const batch of this.batches()) yield* batch;
  }

  /**
   * The same examples in arrays, one per chunk read: fewer awaits than
   * iterating example by example, for the hot path.
   */
  async *batches(): AsyncGenerator<Example[]> {
    if (this.used) throw new TypeError('a DataReader can be iterated once; make a new one to read again');
    this.used = true;
    const o = this.options;
    const s = this.summary;
    const onError = o.onError ?? 'throw';
    const onUnknown = o.onUnknownLabel ?? onError;
    const labels = o.labels;
    const counts = new Map<string, number>();
    let out: Example[] = [];
    const file = this.file;
    const note = (line: number, message: string): void => {
      if (s.problems.length < 20) s.problems.push({ line, message });
    };
    const sink: Sink = {
      example(text, label, line) {
        if (labels !== undefined && labels.indexOf(label) < 0) {
          if (onUnknown === 'throw') labels.lookup(label, { file, line });
          s.skipped.label++;
          note(line, labels.describeUnknown(label));
          return;
        }
        counts.set(label, (counts.get(label) ?? 0) + 1);
        s.examples++;
        out.push({ text, label, line });
      },
      blank() {
        s.skipped.blank++;
      },
      malformed(problem, line, truncated) {
        const msg = truncated ? `${problem} (the line is longer than maxLineBytes ${s.maxLineBytes} and was truncated)` : problem;
        if (onError === 'throw') throw new DataFormatError(msg, { file, line });
        s.skipped.malformed++;
        note(line, msg);
      },
    };
    const badLabel = (problem: string, line: number): void => {
      if (onError === 'throw') throw new DataLabelError(problem, { file, line });
      s.skipped.label++;
      note(line, problem);
    };

    let parser: RecordParser | null = null;
    let firstLines: [string, number, boolean][] | null = null;
    const requested = o.format ?? 'auto';
    if (requested !== 'auto') parser = this.makeParser(requested, sink, badLabel);
    else {
      const byExt = formatFromExtension(file);
      if (byExt !== null) {
        parser = this.makeParser(byExt, sink, badLabel);
        s.format = byExt;
        s.formatReason = `extension ${extname(file).toLowerCase()}`;
      } else firstLines = [];
    }
    const splitter = new LineSplitter(file, s.encoding, this.maxLineBytes, (text, line, truncated) => {
      if (parser !== null) return parser.line(text, line, truncated);
      // Auto by content: hold lines until the first non-blank one decides.
      firstLines!.push([text, line, truncated]);
      if (text.trim() === '') return;
      const [fmt, why] = sniffFormat(text);
      s.format = fmt;
      s.formatReason = `content: ${why}`;
      parser = this.makeParser(fmt, sink, badLabel);
      for (const [t, l, tr] of firstLines!) parser.line(t, l, tr);
      firstLines = null;
      useRawLines();
    });

    // LABEL<space or tab>TEXT lines are split on the raw bytes (see LineSplitter.onRawLine). Set
    // once the parser is known rather than tested per line: a per-line check costs more than it
    // saves on small files, which run mostly unoptimised.
    const useRawLines = (): void => {
      const p = parser;
      if (p instanceof LabeledParser) splitter.onRawLine = (buf, start, end, encoding, line) => p.lineBytes(buf, start, end, encoding, line);
    };
    useRawLines();

    let stream;
    try {
      stream = createReadStream(file, { highWaterMark: o.chunkSize ?? 1 << 18 });
      for await (const chunk of stream) {
        splitter.push(chunk as Buffer);
        if (out.length > 0) {
          const b = out;
          out = [];
          yield b;
        }
      }
      splitter.end();
      if (parser === null) {
        // Only blank lines (or nothing): any parser counts them the same.
        parser = this.makeParser('labeled', sink, badLabel);
        for (const [t, l, tr] of firstLines ?? []) parser.line(t, l, tr);
      }
      (parser as RecordParser).end();
    } catch (err) {
      if (err instanceof DataError) throw err;
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory, not a file' : e.code === 'EACCES' ? 'permission denied' : e.message;
      throw new DataFileError(`cannot read: ${why}`, { file }, { cause: err });
    } finally {
      stream?.destroy();
      const st = splitter.stats;
      s.lines = st.lines;
      s.truncatedLines = st.truncatedLines;
      s.bom = st.bom;
      s.lineEndings = { lf: st.lf, crlf: st.crlf, cr: st.cr };
      const order = labels !== undefined ? labels.names.filter((n) => counts.has(n)) : sortLabels(counts.keys());
      s.classes = order.map((label) => ({ label, count: counts.get(label)! }));
    }
    if (out.length > 0) yield out;
    if (s.examples === 0 && !o.allowEmpty) {
      const sk = s.skipped;
      throw new DataEmptyError(
        `no examples (${s.lines} lines: ${sk.blank} blank, ${sk.malformed} malformed, ${sk.label} with bad labels skipped; format ${s.format}, ${s.formatReason})`,
        { file },
      );
    }
  }

  private makeParser(format: DataFormat, sink: Sink, badLabel: (p: string, line: number) => void): RecordParser {
    const o = this.options;
    switch (format) {
      case 'labeled':
        return new LabeledParser(sink);
      case 'jsonl':
        return new JsonlParser(sink, badLabel, o.textField, o.labelField);
      case 'csv':
      case 'tsv':
        return new DelimitedParser(sink, {
          file: this.file,
          delimiter: format === 'csv' ? ',' : '\t',
          quote: o.quote ?? true,
          header: o.header ?? true,
          textField: o.textField,
          labelField: o.labelField,
          maxChars: this.maxLineBytes,
          onColumns: (cols) => {
            this.summary.columns = cols;
          },
        });
    }
  }
}

/** Reads a whole file into memory: convenient for small data. */
export async function readExamples(file: string, options: ReadOptions = {}): Promise<{ examples: Example[]; summary: DataSummary }> {
  const reader = new DataReader(file, options);
  const examples: Example[] = [];
  for await (const batch of reader.batches()) for (const e of batch) examples.push(e);
  return { examples, summary: reader.summary };
}

/** The format a file name implies, or null (e.g. `.txt`: look at the content). */
export function formatFromExtension(file: string): DataFormat | null {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return null;
}

/** Guesses the format from the first non-blank line; returns the format and why. */
export function sniffFormat(firstLine: string): [DataFormat, string] {
  const t = firstLine.trim();
  if (t.startsWith('{')) return ['jsonl', 'first line is a JSON object'];
  const known = (cells: string[]): boolean => {
    const names = cells.map((c) => c.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
    return names.some((n) => TEXT_NAMES.includes(n)) && names.some((n) => LABEL_NAMES.includes(n));
  };
  if (t.includes('\t') && known(t.split('\t'))) return ['tsv', 'first line is a tab-separated header'];
  if (t.includes(',') && known(t.split(','))) return ['csv', 'first line is a comma-separated header'];
  return ['labeled', 'LABEL<space or tab>TEXT lines'];
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 32 && c !== 0xa0 && c !== 0xfeff && !(c >= 0x2000 && c <= 0x200a) && c !== 0x3000) return false;
  }
  return true;
}

class LabeledParser implements RecordParser {
  constructor(private readonly sink: Sink) {}
  line(text: string, line: number, truncated: boolean): void {
    const n = text.length;
    let i = 0;
    let c = 0;
    while (i < n && ((c = text.charCodeAt(i)) === 32 || c === 9)) i++;
    if (i === n) return this.sink.blank();
    let j = i;
    while (j < n && (c = text.charCodeAt(j)) !== 32 && c !== 9) j++;
    if (j === n) {
      if (isBlank(text)) return this.sink.blank();
      return this.sink.malformed(`'${short(text.slice(i))}' has no text after the label (expected LABEL<space or tab>TEXT)`, line, truncated);
    }
    this.sink.example(text.slice(j + 1).trim(), text.slice(i, j), line);
  }
  /**
   * The same as {@link LabeledParser.line} on the line's bytes, for the common case of a
   * well-formed line; returns false (nothing done) for blank or label-only lines, which then
   * go through `line`. Splitting at the ASCII bytes 32/9 gives the same parts as splitting the
   * decoded text, in Latin-1 and in (validated) UTF-8 alike.
   */
  lineBytes(buf: Buffer, start: number, end: number, encoding: TextEncoding, line: number): boolean {
    let i = start;
    let c = 0;
    while (i < end && ((c = buf[i]) === 32 || c === 9)) i++;
    if (i === end) return false;
    let j = i;
    while (j < end && (c = buf[j]) !== 32 && c !== 9) j++;
    if (j === end) return false;
    // A one-byte ASCII label (the usual 0/1) comes from V8's single-character string cache: no
    // allocation and no call into the decoder.
    const label = j - i === 1 && buf[i] < 0x80 ? String.fromCharCode(buf[i]) : buf.toString(encoding, i, j);
    // Strip ASCII blanks at the ends before decoding so the text is one flat string (trim() would
    // return a slice); trim() then removes any other whitespace, as on the decoded line.
    let a = j + 1;
    let b = end;
    while (a < b && ((c = buf[a]) === 32 || (c >= 9 && c <= 13))) a++;
    while (b > a && ((c = buf[b - 1]) === 32 || (c >= 9 && c <= 13))) b--;
    this.sink.example(buf.toString(encoding, a, b).trim(), label, line);
    return true;
  }
  end(): void {}
}

class JsonlParser implements RecordParser {
  private readonly textKeys: string[];
  private readonly labelKeys: string[];
  constructor(
    private readonly sink: Sink,
    private readonly badLabel: (p: string, line: number) => void,
    textField?: string,
    labelField?: string,
  ) {
    this.textKeys = textField !== undefined ? [textField] : TEXT_NAMES;
    this.labelKeys = labelField !== undefined ? [labelField] : LABEL_NAMES;
  }
  line(text: string, line: number, truncated: boolean): void {
    if (isBlank(text)) return this.sink.blank();
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return this.sink.malformed(`invalid JSON: ${(e as Error).message}`, line, truncated);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      return this.sink.malformed(`expected a JSON object like {"text": ..., "label": ...}, found ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`, line, truncated);
    }
    // JSON.parse makes `__proto__` an own data property; reading only own keys keeps prototypes out of it.
    const obj = v as Record<string, unknown>;
    const tk = this.textKeys.find((k) => Object.hasOwn(obj, k));
    const lk = this.labelKeys.find((k) => Object.hasOwn(obj, k));
    if (tk === undefined) return this.sink.malformed(`missing field ${this.textKeys.length === 1 ? `"${this.textKeys[0]}"` : `for the text (one of ${this.textKeys.join(', ')})`}`, line, truncated);
    if (lk === undefined) return this.sink.malformed(`missing field ${this.labelKeys.length === 1 ? `"${this.labelKeys[0]}"` : `for the label (one of ${this.labelKeys.join(', ')})`}`, line, truncated);
    const t = obj[tk];
    const l = obj[lk];
    if (typeof t !== 'string') return this.sink.malformed(`field "${tk}" must be a string, found ${jsonType(t)}`, line, truncated);
    let label: string;
    if (typeof l === 'string') label = l.trim();
    else if (typeof l === 'number') {
      if (!Number.isInteger(l)) return this.badLabel(`label ${l} is not an integer; labels must be strings or integers`, line);
      label = String(l);
    } else return this.sink.malformed(`field "${lk}" must be a string or an integer, found ${jsonType(l)}`, line, truncated);
    if (label === '') return this.sink.malformed(`empty label in field "${lk}"`, line, truncated);
    this.sink.example(t.trim(), label, line);
  }
  end(): void {}
}

function jsonType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

interface DelimitedOptions {
  file: string;
  delimiter: string;
  quote: boolean;
  header: boolean;
  textField?: string;
  labelField?: string;
  maxChars: number;
  onColumns: (cols: string[]) => void;
}

/**
 * RFC 4180 records over physical lines: a quoted field may span lines (joined
 * with `\n`), `""` is a quote inside quotes, a bare quote inside an unquoted
 * field is kept as text, and anything but a delimiter after a closing quote is
 * malformed. A record's stored text is capped at maxChars (counted as truncated).
 */
class DelimitedParser implements RecordParser {
  private fields: string[] = [];
  private field = '';
  private inQuotes = false;
  private afterQuote = false;
  private fieldStarted = false;
  private recordLine = 0;
  private chars = 0;
  private truncated = false;
  private columns: string[] | null = null;
  private textIdx = -1;
  private labelIdx = -1;

  constructor(
    private readonly sink: Sink,
    private readonly o: DelimitedOptions,
  ) {
    if (!o.header) {
      this.textIdx = columnNumber(o.textField, 1, 'textField');
      this.labelIdx = columnNumber(o.labelField, 0, 'labelField');
    }
  }

  line(text: string, line: number, truncated: boolean): void {
    if (this.inQuotes) {
      this.append('\n');
    } else {
      if (isBlank(text)) return this.sink.blank();
      this.recordLine = line;
      this.chars = 0;
      this.truncated = false;
    }
    if (truncated) this.truncated = true;
    const d = this.o.delimiter;
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.inQuotes) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          this.append(text.slice(i));
          i = n;
          break;
        }
        this.append(text.slice(i, q));
        if (text.charCodeAt(q + 1) === 34) {
          this.append('"');
          i = q + 2;
        } else {
          this.inQuotes = false;
          this.afterQuote = true;
          i = q + 1;
        }
        continue;
      }
      const c = text[i];
      if (c === d) {
        this.endField();
        i++;
        continue;
      }
      if (this.afterQuote) {
        const col = this.fields.length + 1;
        this.reset();
        return this.sink.malformed(`unexpected '${c}' after the closing quote of field ${col} (a quote inside a quoted field must be doubled)`, this.recordLine, this.truncated);
      }
      if (c === '"' && this.o.quote && !this.fieldStarted) {
        this.inQuotes = true;
        this.fieldStarted = true;
        i++;
        continue;
      }
      let next = text.indexOf(d, i);
      if (next < 0) next = n;
      this.append(text.slice(i, next));
      this.fieldStarted = true;
      i = next;
    }
    if (this.inQuotes) return;
    this.endField();
    this.endRecord();
  }

  end(): void {
    if (this.inQuotes) {
      const at = this.recordLine;
      this.reset();
      this.sink.malformed(`unterminated quoted field: the quote opened on this line is never closed before the end of the file`, at, this.truncated);
    }
  }

  private append(s: string): void {
    if (this.chars + s.length > this.o.maxChars) {
      s = s.slice(0, Math.max(0, this.o.maxChars - this.chars));
      this.truncated = true;
    }
    this.chars += s.length;
    this.field += s;
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.afterQuote = false;
    this.fieldStarted = false;
  }

  private reset(): void {
    this.fields = [];
    this.field = '';
    this.inQuotes = false;
    this.afterQuote = false;
    this.fieldStarted = false;
  }

  private endRecord(): void {
    const fields = this.fields;
    const line = this.recordLine;
    this.reset();
    if (this.o.header && this.columns === null) {
      this.columns = fields.map((f) => f.trim());
      this.o.onColumns(this.columns);
      this.textIdx = pickColumn(this.columns, this.o.textField, TEXT_NAMES, 'text', { file: this.o.file, line });
      this.labelIdx = pickColumn(this.columns, this.o.labelField, LABEL_NAMES, 'label', { file: this.o.file, line });
      return;
    }
    if (this.columns !== null && fields.length !== this.columns.length) {
      const what = fields.length > this.columns.length ? 'extra columns' : 'missing fields';
      return this.sink.malformed(`${what}: expected ${this.columns.length} fields (${this.columns.join(', ')}), found ${fields.length}`, line, this.truncated);
    }
    const need = Math.max(this.textIdx, this.labelIdx) + 1;
    if (fields.length < need) return this.sink.malformed(`missing fields: expected at least ${need} fields, found ${fields.length}`, line, this.truncated);
    const label = fields[this.labelIdx].trim();
    if (label === '') return this.sink.malformed('empty label', line, this.truncated);
    this.sink.example(fields[this.textIdx].trim(), label, line);
  }
}

function columnNumber(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!/^[0-9]+$/.test(v)) throw new RangeError(`${name} must be a 0-based column number when header is false, got '${v}'`);
  return Number(v);
}

function pickColumn(columns: string[], wanted: string | undefined, defaults: string[], what: string, where: DataLocation): number {
  const lower = columns.map((c) => c.toLowerCase());
  if (wanted !== undefined) {
    let i = columns.indexOf(wanted);
    if (i < 0) i = lower.indexOf(wanted.toLowerCase());
    if (i < 0) throw new DataFormatError(`no column named '${wanted}' for the ${what}; the header has: ${columns.join(', ')}`, where);
    return i;
  }
  for (const d of defaults) {
    const i = lower.indexOf(d);
    if (i >= 0) return i;
  }
  throw new DataFormatError(
    `no ${what} column in the header (${columns.join(', ')}); name one with ${what}Field (--${what}-column), or looked for: ${defaults.join(', ')}`,
    where,
  );
}
