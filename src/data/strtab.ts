/**
 * An open-addressing hash table of strings keyed by a hash computed while
 * scanning text, so tokens can be looked up as spans `text[start, end)`
 * without first cutting them out as new strings. This is the hot path of
 * vocabulary counting and encoding: it is several times faster than
 * `Map.get(text.slice(s, e))`, which allocates and hashes every token.
 * Entries are numbered 0, 1, 2, ... in insertion order.
 */
export class StringTable {
  keys: string[] = [];
  // Four ints a slot, [entry + 1, hash, length, pool offset], so one probe reads one cache line
  // and a match compares against the packed character pool, not a heap string.
  private slots = new Int32Array(128 * 4);
  private mask = 127;
  private hashes = new Int32Array(64);
  private pool = new Uint16Array(1024);
  private poolUsed = 0;
  private offsets = new Int32Array(64);

  /** `expected`: entries to make room for up front (a table built from a known list skips the regrowing). */
  constructor(expected = 0) {
    if (expected > 64) {
      let cap = 128;
      while (cap < expected * 2) cap *= 2;
      this.slots = new Int32Array(cap * 4);
      this.mask = cap - 1;
      this.hashes = new Int32Array(expected);
      this.offsets = new Int32Array(expected);
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.keys.length;
  }

  /** FNV-1a over UTF-16 code units (the value {@link StringTable.resolve} computes while scanning). */
  static hash(s: string): number {
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h;
  }

  /** Entry index of text[start, end) with hash h, or -1. */
  find(text: string, start: number, end: number, h: number): number {
    const len = end - start;
    const slots = this.slots;
    const pool = this.pool;
    let slot = h & this.mask;
    for (;;) {
      const b = slot << 2;
      const e = slots[b] - 1;
      if (e < 0) return -1;
      if (slots[b + 1] === h && slots[b + 2] === len) {
        const p = slots[b + 3];
        let j = 0;
        while (j < len && pool[p + j] === text.charCodeAt(start + j)) j++;
        if (j === len) return e;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /**
   * Splits text on whitespace ({@link isSpace}) and looks every token
   * up in one tight loop, with no callback per token: afterwards
   * `spans.entry[k]` is token k's entry index or -1, and start/end/hash
   * locate it. Returns the token count (at most maxTokens; 0: all).
   */
  resolve(text: string, maxTokens: number, spans: Spans): number {
    const n = text.length;
    spans.reserve((n >> 1) + 1);
    const entry = spans.entry;
    const starts = spans.start;
    const ends = spans.end;
    const hashes = spans.hash;
    const slots = this.slots;
    const pool = this.pool;
    const mask = this.mask;
    let count = 0;
    let i = 0;
    while (i < n) {
      let c = text.charCodeAt(i);
      if (c <= 32 || (c >= 0x85 && isSpace(c))) {
        i++;
        continue;
      }
      const st = i;
      let h = 0x811c9dc5 | 0;
      do {
        h = Math.imul(h ^ c, 0x01000193);
        if (++i >= n) break;
        c = text.charCodeAt(i);
      } while (!(c <= 32 || (c >= 0x85 && isSpace(c))));
      const len = i - st;
      let slot = h & mask;
      let found = -1;
      for (;;) {
        const b = slot << 2;
        const e = slots[b] - 1;
        if (e < 0) break;
        if (slots[b + 1] === h && slots[b + 2] === len) {
          const p = slots[b + 3];
          let j = 0;
          while (j < len && pool[p + j] === text.charCodeAt(st + j)) j++;
          if (j === len) {
            found = e;
            break;
          }
        }
        slot = (slot + 1) & mask;
      }
      entry[count] = found;
      starts[count] = st;
      ends[count] = i;
      hashes[count] = h;
      if (++count === maxTokens) break;
    }
    return count;
  }

  /** Entry index of a whole string, or -1. */
  findKey(key: string): number {
    return this.find(key, 0, key.length, StringTable.hash(key));
  }

  /** Adds a key known to be absent; returns its entry index. */
  insert(key: string, h: number): number {
    const e = this.keys.length;
    if (e >= this.hashes.length) {
      this.hashes = grow(this.hashes, e + 1);
      this.offsets = grow(this.offsets, e + 1);
    }
    this.keys.push(key);
    this.hashes[e] = h;
    this.offsets[e] = this.store(key);
    if ((e + 1) * 2 > this.mask + 1) this.rehash((this.mask + 1) * 2);
    else this.place(e);
    return e;
  }

  /** Keeps only the entries for which keep(index) is true, renumbering them in order. */
  compact(keep: (index: number) => boolean): number[] {
    const kept: number[] = [];
    const keys: string[] = [];
    this.poolUsed = 0;
    for (let e = 0; e < this.keys.length; e++) {
      if (keep(e)) {
        const k = this.keys[e];
        this.hashes[keys.length] = this.hashes[e];
        keys.push(k);
        kept.push(e);
      }
    }
    this.keys = keys;
    for (let e = 0; e < keys.length; e++) this.offsets[e] = this.store(keys[e]);
    let cap = 128;
    while (cap < keys.length * 2) cap *= 2;
    this.rehash(cap);
    return kept;
  }

  private store(key: string): number {
    const at = this.poolUsed;
    if (at + key.length > this.pool.length) {
      let cap = this.pool.length * 2;
      while (cap < at + key.length) cap *= 2;
      const g = new Uint16Array(cap);
      g.set(this.pool.subarray(0, at));
      this.pool = g;
    }
    for (let j = 0; j < key.length; j++) this.pool[at + j] = key.charCodeAt(j);
    this.poolUsed = at + key.length;
    return at;
  }

  private place(e: number): void {
    const h = this.hashes[e];
    let slot = h & this.mask;
    while (this.slots[slot << 2] !== 0) slot = (slot + 1) & this.mask;
    const b = slot << 2;
    this.slots[b] = e + 1;
    this.slots[b + 1] = h;
    this.slots[b + 2] = this.keys[e].length;
    this.slots[b + 3] = this.offsets[e];
  }

  private rehash(cap: number): void {
    this.slots = new Int32Array(cap * 4);
    this.mask = cap - 1;
    for (let e = 0; e < this.keys.length; e++) this.place(e);
  }
}

function grow(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  let cap = a.length * 2;
  while (cap < need) cap *= 2;
  const g = new Int32Array(cap);
  g.set(a);
  return g;
}

/** Whitespace as the tokenizers split on it: C0 controls, space and Python's str.split() Unicode spaces. */
export function isSpace(c: number): boolean {
  if (c <= 32) return true;
  if (c < 0x85) return false;
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** Reusable output arrays of {@link StringTable.resolve}. */
export class Spans {
  entry = new Int32Array(256);
  start = new Int32Array(256);
  end = new Int32Array(256);
  hash = new Int32Array(256);

  reserve(n: number): void {
    if (n <= this.entry.length) return;
    let cap = this.entry.length;
    while (cap < n) cap *= 2;
    this.entry = new Int32Array(cap);
    this.start = new Int32Array(cap);
    this.end = new Int32Array(cap);
    this.hash = new Int32Array(cap);
  }
}
