import { readFile, writeFile } from 'node:fs/promises';
import { runAtOnce, type Sliced } from '../io/slices.js';
import { DataFileError, VocabError } from './errors.js';
import { Spans, StringTable } from './strtab.js';

/**
 * Counts tokens in bounded memory.
 *
 * Up to `maxEntries` distinct tokens are counted exactly. When a new token
 * would exceed that, the counter prunes: it finds the smallest count `t` such
 * that at most `maxEntries / 2` entries have a count above `t`, and deletes
 * every entry with count <= `t` (all of a count at once, so the result never
 * depends on Map order or ties; it depends only on the input order, which is
 * fixed for a file). Counts are then lower bounds: a pruned token that comes
 * back starts again from 1. `pruned` says whether that happened and
 * `pruneThreshold` the largest count removed, so a vocabulary built with
 * `minCount` above that threshold is exact for frequent tokens. An entry
 * costs its string plus about 30 bytes of tables (roughly 60-100 bytes for
 * word-sized tokens), so the default of 1,000,000 entries stays near 100 MB.
 *
 * @example
 * const counter = new TokenCounter();
 * counter.addAll(['a', 'b', 'a']);
 * counter.count('a'); // 2
 */
export class TokenCounter {
  readonly maxEntries: number;
  private readonly table = new StringTable();
  private counts = new Float64Array(64);
  private readonly spans = new Spans();
  private prunesAt = 0;
  /** Total tokens added. */
  total = 0;
  /** Number of pruning passes so far. */
  prunes = 0;
  /** The largest count ever deleted by pruning (0: counts are exact). */
  pruneThreshold = 0;

  constructor(options: { maxEntries?: number } = {}) {
    const m = options.maxEntries ?? 1_000_000;
    if (!Number.isInteger(m) || m < 2) throw new RangeError(`maxEntries must be an integer >= 2, got ${m}`);
    this.maxEntries = m;
  }

  get pruned(): boolean {
    return this.prunes > 0;
  }

  /** Distinct tokens held now. */
  get size(): number {
    return this.table.size;
  }

  add(token: string, n = 1): void {
    this.bump(token, 0, token.length, StringTable.hash(token), n, true);
  }

  addAll(tokens: readonly string[]): void {
    for (let i = 0; i < tokens.length; i++) this.add(tokens[i]);
  }

  /**
   * Counts the whitespace-separated tokens of an already normalised text
   * ({@link Tokenizer.normalize}), at most maxTokens (0: all), without
   * building a token array: the fast path for large files.
   */
  addText(normalized: string, maxTokens = 0): void {
    const sp = this.spans;
    const n = this.table.resolve(normalized, maxTokens, sp);
    // Pruning renumbers entries; after one, the resolved indices of this text are stale.
    this.prunesAt = this.prunes;
    for (let k = 0; k < n; k++) {
      const e = sp.entry[k];
      // A miss may also be a token that appeared earlier in this same text: bump re-checks.
      if (e >= 0 && this.prunesAt === this.prunes) this.counts[e]++;
      else this.bump(normalized, sp.start[k], sp.end[k], sp.hash[k], 1, false);
    }
    this.total += n;
    this.prunesAt = this.prunes;
  }

  /**
   * {@link addText} that also writes each counted token's entry index into
   * `out` from `offset` (grown as needed, as {@link Vocabulary.encodeText}):
   * one pass over a small file can then count and encode, the entries mapped
   * to ids once the vocabulary is built ({@link entryKeys}). Indices written
   * before a prune are stale; check {@link prunes}.
   */
  addTextRecording(normalized: string, maxTokens: number, out: Int32Array<ArrayBuffer>, offset: number): { ids: Int32Array<ArrayBuffer>; length: number } {
    const sp = this.spans;
    const n = this.table.resolve(normalized, maxTokens, sp);
    let ids = out;
    if (offset + n > ids.length) {
      const g = new Int32Array(Math.max(offset + n, ids.length * 2));
      g.set(ids.subarray(0, offset));
      ids = g;
    }
    this.prunesAt = this.prunes;
    for (let k = 0; k < n; k++) {
      const e = sp.entry[k];
      if (e >= 0 && this.prunesAt === this.prunes) {
        this.counts[e]++;
        ids[offset + k] = e;
      } else ids[offset + k] = this.bump(normalized, sp.start[k], sp.end[k], sp.hash[k], 1, false);
    }
    this.total += n;
    this.prunesAt = this.prunes;
    return { ids, length: n };
  }

  /** The tokens by entry index (what {@link addTextRecording} wrote). */
  get entryKeys(): readonly string[] {
    return this.table.keys;
  }

  private bump(text: string, s: number, e: number, h: number, n: number, total: boolean): number {
    let i = this.table.find(text, s, e, h);
    if (i < 0) {
      if (this.table.size >= this.maxEntries) this.prune();
      // Copy the span: a plain slice of a long line would keep the whole line alive as long as the entry.
      i = this.table.insert(s === 0 && e === text.length ? text : copyString(text.slice(s, e)), h);
      if (i >= this.counts.length) {
        const g = new Float64Array(this.counts.length * 2);
        g.set(this.counts);
        this.counts = g;
      }
      this.counts[i] = n;
    } else this.counts[i] += n;
    if (total) this.total += n;
    return i;
  }

  count(token: string): number {
    const i = this.table.findKey(token);
    return i < 0 ? 0 : this.counts[i];
  }

  /** [token, count] pairs in first-seen order (after pruning, survivors keep their order). */
  *entries(): IterableIterator<[string, number]> {
    const keys = this.table.keys;
    for (let i = 0; i < keys.length; i++) yield [keys[i], this.counts[i]];
  }

  private prune(): void {
    const keep = Math.floor(this.maxEntries / 2);
    const n = this.table.size;
    // Histogram of counts (capped) to find the threshold without sorting all entries.
    const CAP = 1 << 16;
    const hist = new Float64Array(CAP + 1);
    for (let i = 0; i < n; i++) hist[this.counts[i] > CAP ? CAP : this.counts[i]]++;
    let above = 0;
    let t = CAP;
    // Walk down from the top until keeping one more count level would exceed `keep`.
    while (t > 0 && above + hist[t] <= keep) {
      above += hist[t];
      t--;
    }
    if (t === CAP) t = CAP - 1; // pathological: everything is very frequent; drop below the cap
    const counts = this.counts;
    const kept = this.table.compact((i) => counts[i] > t);
    const fresh = new Float64Array(Math.max(64, this.counts.length));
    for (let j = 0; j < kept.length; j++) fresh[j] = counts[kept[j]];
    this.counts = fresh;
    this.prunes++;
    if (t > this.pruneThreshold) this.pruneThreshold = t;
  }
}

/** Special tokens and their ids. */
export interface SpecialTokens {
  /** Padding token (default `<pad>`) and id (default 0). */
  pad?: string;
  padId?: number;
  /** Unknown-word token (default `<unk>`) and id (default 1). */
  unk?: string;
  unkId?: number;
}

/** Options of {@link Vocabulary.build}. */
export interface BuildVocabOptions extends SpecialTokens {
  /** Keep tokens seen at least this often (default 1). */
  minCount?: number;
  /** At most this many entries, specials included (default: no limit). */
  maxSize?: number;
}

/**
 * Token <-> id, ids dense from 0. The pad and unknown tokens sit at their ids
 * (`<pad>` 0 and `<unk>` 1 by default; set `padId`/`unkId` to match an
 * imported model). Unknown tokens map to the unknown id. Tokens live in a
 * Map, so `__proto__` is an ordinary token.
 *
 * @example
 * const vocab = Vocabulary.build(counter, { minCount: 2, maxSize: 20000 });
 * await vocab.save('vocab.json');
 * const same = await Vocabulary.load('vocab.json');
 * same.encode(['the', 'film']); // Int32Array [ids...]
 */
export class Vocabulary {
  readonly pad: string;
  readonly unk: string;
  readonly padId: number;
  readonly unkId: number;
  // Entry index == id: tokens are inserted in id order.
  private readonly table: StringTable;
  private readonly tokens: string[];
  private readonly spans = new Spans();

  /** `table` holds `tokens`, entry i = id i (built by fromTokensSliced). */
  private constructor(table: StringTable, tokens: string[], specials: SpecialTokens) {
    this.table = table;
    this.tokens = tokens;
    this.pad = specials.pad ?? '<pad>';
    this.unk = specials.unk ?? '<unk>';
    const pid = this.table.findKey(this.pad);
    const uid = this.table.findKey(this.unk);
    if (pid < 0) throw new VocabError(`the vocabulary has no pad token ${JSON.stringify(this.pad)}; name the right one with the pad option`);
    if (uid < 0) throw new VocabError(`the vocabulary has no unknown-word token ${JSON.stringify(this.unk)}; name the right one with the unk option`);
    if (specials.padId !== undefined && specials.padId !== pid) throw new VocabError(`pad token ${JSON.stringify(this.pad)} has id ${pid}, expected ${specials.padId}`);
    if (specials.unkId !== undefined && specials.unkId !== uid) throw new VocabError(`unknown token ${JSON.stringify(this.unk)} has id ${uid}, expected ${specials.unkId}`);
    if (pid === uid) throw new VocabError('pad and unknown tokens must differ');
    this.padId = pid;
    this.unkId = uid;
  }

  /**
   * Builds from counted tokens: tokens with count >= minCount, most frequent
   * first, ties in UTF-16 code unit order (deterministic), truncated so that
   * the vocabulary holds at most maxSize entries; specials at their ids and
   * the other tokens filling the free ids in that order. A special token seen
   * in the text is not added twice.
   */
  static build(source: TokenCounter | Iterable<readonly string[]>, options: BuildVocabOptions = {}): Vocabulary {
    let counter: TokenCounter;
    if (source instanceof TokenCounter) counter = source;
    else {
      counter = new TokenCounter();
      for (const toks of source) counter.addAll(toks);
    }
    const minCount = options.minCount ?? 1;
    const maxSize = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(minCount) || minCount < 1) throw new RangeError(`minCount must be an integer >= 1, got ${minCount}`);
    if (!Number.isInteger(maxSize) || maxSize < 2) throw new RangeError(`maxSize must be an integer >= 2 (room for the specials), got ${maxSize}`);
    const pad = options.pad ?? '<pad>';
    const unk = options.unk ?? '<unk>';
    const padId = options.padId ?? 0;
    const unkId = options.unkId ?? 1;
    if (!Number.isInteger(padId) || !Number.isInteger(unkId) || padId < 0 || unkId < 0 || padId === unkId) {
      throw new RangeError(`padId and unkId must be distinct non-negative integers, got ${padId} and ${unkId}`);
    }
    const kept: [string, number][] = [];
    for (const e of counter.entries()) if (e[1] >= minCount && e[0] !== pad && e[0] !== unk) kept.push(e);
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const size = Math.max(padId + 1, unkId + 1, Math.min(maxSize, kept.length + 2));
    if (size > maxSize) throw new RangeError(`maxSize ${maxSize} is too small for padId ${padId} and unkId ${unkId}`);
    const tokens = new Array<string>(size);
    tokens[padId] = pad;
    tokens[unkId] = unk;
    let k = 0;
    for (let id = 0; id < size; id++) {
      if (id === padId || id === unkId) continue;
      // Specials at high ids may leave holes when too few tokens were seen: fill with placeholders.
      tokens[id] = k < kept.length ? kept[k++][0] : `<unused${id}>`;
    }
    return Vocabulary.fromTokens(tokens, { pad, unk });
  }

  /** A vocabulary whose id i is tokens[i] (e.g. from an imported model). */
  static fromTokens(tokens: readonly string[], specials: SpecialTokens = {}): Vocabulary {
    return runAtOnce(Vocabulary.fromTokensSliced(tokens, specials));
  }

  /**
   * fromTokens as sliced work (src/io/slices.ts): indexing 50,000 tokens
   * takes tens of milliseconds, too long to block a server's event loop.
   */
  static *fromTokensSliced(tokens: readonly string[], specials: SpecialTokens = {}): Sliced<Vocabulary> {
    const table = new StringTable(tokens.length);
    const list: string[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (typeof t !== 'string') throw new VocabError(`token at id ${i} is not a string`);
      const h = StringTable.hash(t);
      const dup = table.find(t, 0, t.length, h);
      if (dup >= 0) throw new VocabError(`duplicate token ${JSON.stringify(t)} at ids ${dup} and ${i}`);
      table.insert(t, h);
      list.push(t);
      if (i % 1024 === 1023) yield;
    }
    return new Vocabulary(table, list, specials);
  }

  /**
   * From a `{ token: id }` object (as `JSON.parse` returns it: `__proto__`
   * keys are own properties and are read as tokens). Ids must be 0..n-1, each once.
   */
  static fromJSON(value: unknown, specials: SpecialTokens = {}): Vocabulary {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      if (Array.isArray(value)) return Vocabulary.fromTokens(value as string[], specials);
      throw new VocabError('a vocabulary must be a JSON object mapping token -> id');
    }
    const keys = Object.keys(value);
    const tokens = new Array<string | undefined>(keys.length);
    for (const k of keys) {
      const id = (value as Record<string, unknown>)[k];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= keys.length) {
        throw new VocabError(`token ${JSON.stringify(k)} has id ${JSON.stringify(id)}; ids must be integers 0..${keys.length - 1}`);
      }
      if (tokens[id] !== undefined) throw new VocabError(`id ${id} is used by both ${JSON.stringify(tokens[id])} and ${JSON.stringify(k)}`);
      tokens[id] = k;
    }
    return Vocabulary.fromTokens(tokens as string[], specials);
  }

  /** From one-token-a-line text: the token on line i (0-based) has id i. */
  static fromText(text: string, specials: SpecialTokens = {}): Vocabulary {
    const lines = text.split(/\r?\n/);
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return Vocabulary.fromTokens(lines, specials);
  }

  /** Loads a `.json` file (token -> id object) or any other file as one token a line. */
  static async load(path: string, specials: SpecialTokens = {}): Promise<Vocabulary> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new DataFileError(`cannot read vocabulary: ${(err as Error).message}`, { file: path }, { cause: err });
    }
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const trimmed = text.trim();
    const isJson = path.toLowerCase().endsWith('.json') || (trimmed.startsWith('{') && trimmed.endsWith('}'));
    try {
      if (!isJson) return Vocabulary.fromText(text, specials);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new VocabError(`invalid JSON: ${(err as Error).message}`);
      }
      return Vocabulary.fromJSON(parsed, specials);
    } catch (err) {
      if (err instanceof VocabError && err.file === undefined) throw new VocabError(`${path}: ${err.message}`, { file: path });
      throw err;
    }
  }

  /** Number of ids (the embedding's row count). */
  get size(): number {
    return this.tokens.length;
  }

  /** The id of a token; the unknown id when absent. */
  idOf(token: string): number {
    const id = this.table.findKey(token);
    return id < 0 ? this.unkId : id;
  }

  has(token: string): boolean {
    return this.table.findKey(token) >= 0;
  }

  /** The token of an id, or undefined. */
  tokenOf(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Ids of tokens (unknown id for unknown tokens). */
  encode(tokens: readonly string[]): Int32Array {
    const out = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) out[i] = this.idOf(tokens[i]);
    return out;
  }

  /**
   * Ids of the whitespace-separated tokens of an already normalised text
   * ({@link Tokenizer.normalize}), at most maxTokens (0: all), written into
   * `out` from `offset` (grown when too small; the returned array is the one
   * written, and `length` the number of ids). The fast path for large files.
   *
   * @example
   * const { ids, length } = vocab.encodeText(tokenizer.normalize(text), tokenizer.maxTokens);
   */
  encodeText(normalized: string, maxTokens = 0, out?: Int32Array<ArrayBuffer>, offset = 0): { ids: Int32Array<ArrayBuffer>; length: number } {
    const sp = this.spans;
    const n = this.table.resolve(normalized, maxTokens, sp);
    let ids = out ?? new Int32Array(n);
    if (offset + n > ids.length) {
      const g = new Int32Array(Math.max(offset + n, ids.length * 2));
      g.set(ids.subarray(0, offset));
      ids = g;
    }
    const entry = sp.entry;
    const unk = this.unkId;
    for (let k = 0; k < n; k++) ids[offset + k] = entry[k] < 0 ? unk : entry[k];
    return { ids, length: n };
  }

  /**
   * Appends tokens not yet present after the existing ids (for fine-tuning a
   * pretrained model on new text: the embedding grows by the returned count,
   * old ids are unchanged). Returns how many were added.
   */
  extend(tokens: Iterable<string>): number {
    let added = 0;
    for (const t of tokens) {
      if (typeof t !== 'string') throw new TypeError('extend: tokens must be strings');
      const h = StringTable.hash(t);
      if (this.table.find(t, 0, t.length, h) >= 0) continue;
      this.table.insert(t, h);
      this.tokens.push(t);
      added++;
    }
    return added;
  }

  /** All tokens in id order (a copy). */
  toArray(): string[] {
    return this.tokens.slice();
  }

  /** `{ token: id }` as a prototype-free object (so a `__proto__` token is an own key). */
  toJSON(): Record<string, number> {
    const o = Object.create(null) as Record<string, number>;
    for (let i = 0; i < this.tokens.length; i++) o[this.tokens[i]] = i;
    return o;
  }

  /** One token a line, id order; fails for tokens holding a line break. */
  toText(): string {
    for (const t of this.tokens) if (/[\r\n]/.test(t)) throw new VocabError(`token ${JSON.stringify(t)} holds a line break: save the vocabulary as JSON`);
    return this.tokens.join('\n') + '\n';
  }

  /** Writes `toJSON()` for `.json` paths (or format 'json'), else one token a line. */
  async save(path: string, format?: 'json' | 'text'): Promise<void> {
    const f = format ?? (path.toLowerCase().endsWith('.json') ? 'json' : 'text');
    await writeFile(path, f === 'json' ? JSON.stringify(this.toJSON()) : this.toText(), 'utf8');
  }
}

/** A string that does not share storage with its source (V8 slices of 13+ chars point into the parent). */
function copyString(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}
