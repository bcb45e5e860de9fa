import { isUtf8 } from 'node:buffer';
import { DataEncodingError } from './errors.js';

/** Text encodings the readers accept. */
export type TextEncoding = 'utf8' | 'latin1';

/** Called once per physical line, in order. `truncated` when the line was longer than the limit. */
export type LineHandler = (text: string, line: number, truncated: boolean) => void;

/**
 * Like {@link LineHandler}, but gets the line's bytes `buf[start, end)`, already validated (and
 * cut back to whole characters), to decode itself with `encoding`. Returns false to have the
 * splitter decode the whole line and call the {@link LineHandler} instead.
 */
export type RawLineHandler = (buf: Buffer, start: number, end: number, encoding: TextEncoding, line: number, truncated: boolean) => boolean;

/** Counts kept by a {@link LineSplitter}. */
export interface LineStats {
  lines: number;
  truncatedLines: number;
  lf: number;
  crlf: number;
  cr: number;
  bom: 'utf8' | null;
}

/**
 * Splits a byte stream into decoded lines, synchronously, chunk by chunk.
 *
 * Terminators are LF, CRLF and lone CR (a CR ending one chunk and an LF starting
 * the next are one CRLF); a missing final newline is fine. A UTF-8 BOM is
 * dropped; a UTF-16 BOM is refused. UTF-8 is validated strictly (one native
 * `isUtf8` call per chunk, so the common case costs little); the first invalid
 * byte stops with the file, line and absolute byte offset. A line longer than
 * `maxLineBytes` keeps its first `maxLineBytes` bytes (cut back to a whole
 * character) and the rest is dropped while reading, so memory stays bounded
 * whatever the line length.
 */
export class LineSplitter {
  readonly stats: LineStats = { lines: 0, truncatedLines: 0, lf: 0, crlf: 0, cr: 0, bom: null };
  private readonly file: string;
  private readonly encoding: TextEncoding;
  private readonly maxLineBytes: number;
  private readonly onLine: LineHandler;
  /**
   * Optional byte-level hook, tried before decoding: a parser that can split a line at ASCII
   * bytes (e.g. LABEL<space>TEXT) decodes each part on its own, so the text is a flat string
   * rather than a slice of the line, which is faster to scan and does not pin the line.
   */
  onRawLine: RawLineHandler | null = null;
  // Bytes of a line that started in an earlier chunk.
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingTruncated = false;
  private pendingStart = 0;
  // Absolute file offset of the next chunk's first byte.
  private offset = 0;
  private skipLF = false;
  private head: Buffer | null = Buffer.alloc(0);
  private ended = false;

  constructor(file: string, encoding: TextEncoding, maxLineBytes: number, onLine: LineHandler) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 16) throw new RangeError(`maxLineBytes must be an integer >= 16, got ${maxLineBytes}`);
    this.file = file;
    this.encoding = encoding;
    this.maxLineBytes = maxLineBytes;
    this.onLine = onLine;
  }

  /** Feeds the next chunk of the file. */
  push(chunk: Buffer): void {
    if (this.head !== null) {
      // The BOM check needs the first 3 bytes, which a tiny first chunk may not hold.
      const h = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
      if (h.length < 3 && !this.ended) {
        this.head = h;
        return;
      }
      this.head = null;
      this.process(h, this.checkBom(h));
      return;
    }
    this.process(chunk, 0);
  }

  /** Signals the end of the file: emits the last line if it has no final newline. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.head !== null) {
      const h = this.head;
      this.head = null;
      if (h.length > 0) this.process(h, this.checkBom(h));
    }
    if (this.pendingBytes > 0 || this.pendingTruncated) {
      const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      this.emit(buf, 0, buf.length, this.pendingStart, this.pendingTruncated, false);
      this.pending = [];
      this.pendingBytes = 0;
      this.pendingTruncated = false;
    }
  }

  private checkBom(h: Buffer): number {
    if (h.length >= 2 && ((h[0] === 0xff && h[1] === 0xfe) || (h[0] === 0xfe && h[1] === 0xff))) {
      const which = h[0] === 0xff ? 'UTF-16 LE' : 'UTF-16 BE';
      throw new DataEncodingError(
        `unsupported encoding: the file starts with a ${which} byte-order mark; convert it to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)`,
        { file: this.file, line: 1, byteOffset: 0 },
      );
    }
    if (h.length >= 3 && h[0] === 0xef && h[1] === 0xbb && h[2] === 0xbf) {
      this.stats.bom = 'utf8';
      this.offset += 3;
      return 3;
    }
    return 0;
  }

  private process(chunk: Buffer, from: number): void {
    const len = chunk.length;
    const base = this.offset - from;
    let pos = from;
    if (this.skipLF) {
      this.skipLF = false;
      if (pos < len && chunk[pos] === 10) {
        pos++;
        this.stats.cr--;
        this.stats.crlf++;
      }
    }
    // Validate all whole lines of this chunk at once; fall back to per-line checks only if that fails.
    let validFrom = len;
    let validTo = len;
    if (this.encoding === 'utf8') {
      const lastTerm = Math.max(chunk.lastIndexOf(10), chunk.lastIndexOf(13));
      if (lastTerm >= pos) {
        let firstWhole = pos;
        if (this.pendingBytes > 0 || this.pendingTruncated) {
          const t = firstTerminator(chunk, pos);
          firstWhole = t + 1;
        }
        if (firstWhole <= lastTerm && isUtf8(chunk.subarray(firstWhole, lastTerm))) {
          validFrom = firstWhole;
          validTo = lastTerm;
        }
      }
    }
    let nextLF = -2;
    let nextCR = -2;
    while (pos < len) {
      if (nextLF !== -1 && nextLF < pos) nextLF = chunk.indexOf(10, pos);
      if (nextCR !== -1 && nextCR < pos) nextCR = chunk.indexOf(13, pos);
      let t: number;
      if (nextLF === -1) t = nextCR;
      else if (nextCR === -1) t = nextLF;
      else t = nextLF < nextCR ? nextLF : nextCR;
      if (t === -1) {
        this.keep(chunk, pos, len, base + pos);
        break;
      }
      if (this.pendingBytes > 0 || this.pendingTruncated) {
        this.keep(chunk, pos, t, base + pos);
        const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
        this.emit(buf, 0, buf.length, this.pendingStart, this.pendingTruncated, false);
        this.pending = [];
        this.pendingBytes = 0;
        this.pendingTruncated = false;
      } else if (t - pos > this.maxLineBytes) {
        this.emit(chunk, pos, pos + this.maxLineBytes, base + pos, true, false);
      } else {
        this.emit(chunk, pos, t, base + pos, false, pos >= validFrom && t <= validTo);
      }
      if (chunk[t] === 13) {
        if (t + 1 < len) {
          if (chunk[t + 1] === 10) {
            this.stats.crlf++;
            pos = t + 2;
          } else {
            this.stats.cr++;
            pos = t + 1;
          }
        } else {
          // A CR ending the chunk may be the first half of a CRLF.
          this.stats.cr++;
          this.skipLF = true;
          pos = t + 1;
        }
      } else {
        this.stats.lf++;
        pos = t + 1;
      }
    }
    this.offset = base + len;
  }

  // Appends bytes of an unfinished line, dropping what is past the limit.
  private keep(chunk: Buffer, start: number, end: number, absStart: number): void {
    if (this.pendingBytes === 0 && !this.pendingTruncated) this.pendingStart = absStart;
    const room = this.maxLineBytes - this.pendingBytes;
    if (end - start > room) {
      if (room > 0) {
        this.pending.push(Buffer.from(chunk.subarray(start, start + room)));
        this.pendingBytes += room;
      }
      this.pendingTruncated = true;
    } else if (end > start) {
      // Copy: the stream may reuse its chunk buffer, and a view would pin the whole chunk.
      this.pending.push(Buffer.from(chunk.subarray(start, end)));
      this.pendingBytes += end - start;
    }
  }

  private emit(buf: Buffer, start: number, end: number, absStart: number, truncated: boolean, validated: boolean): void {
    const line = ++this.stats.lines;
    if (truncated) this.stats.truncatedLines++;
    let text: string;
    if (this.encoding === 'latin1') {
      if (this.onRawLine !== null && this.onRawLine(buf, start, end, 'latin1', line, truncated)) return;
      text = buf.toString('latin1', start, end);
    } else {
      if (truncated) end = start + completeUtf8Length(buf, start, end);
      if (!validated && !isUtf8(buf.subarray(start, end))) {
        const bad = firstInvalidUtf8(buf, start, end);
        throw new DataEncodingError(
          `invalid UTF-8 at byte offset ${absStart + (bad - start)} (byte 0x${buf[bad].toString(16).padStart(2, '0')}); ` +
            `the file looks Latin-1: pass encoding 'latin1' (--encoding latin1)`,
          { file: this.file, line, byteOffset: absStart + (bad - start) },
        );
      }
      if (this.onRawLine !== null && this.onRawLine(buf, start, end, 'utf8', line, truncated)) return;
      text = buf.toString('utf8', start, end);
    }
    this.onLine(text, line, truncated);
  }
}

function firstTerminator(chunk: Buffer, from: number): number {
  const a = chunk.indexOf(10, from);
  const b = chunk.indexOf(13, from);
  if (a === -1) return b;
  if (b === -1) return a;
  return a < b ? a : b;
}

/** Length of the longest prefix of buf[start, end) that does not end inside a UTF-8 sequence. */
function completeUtf8Length(buf: Buffer, start: number, end: number): number {
  let i = end - 1;
  let back = 0;
  while (i >= start && back < 3 && (buf[i] & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < start) return end - start;
  const b = buf[i];
  const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
  return end - i >= need ? end - start : i - start;
}

/** Index of the first byte that makes buf[start, end) invalid UTF-8 (end if valid). */
export function firstInvalidUtf8(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= end) return i;
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return end;
}
