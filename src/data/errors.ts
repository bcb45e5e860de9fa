import { FinetuneError } from '../errors.js';

/** Where in a data file a problem was found. */
export interface DataLocation {
  /** The file as the user named it. */
  file?: string;
  /** 1-based physical line number. */
  line?: number;
}

/**
 * Base class of every data error: bad text files, labels, vocabularies.
 * `file` and `line` (1-based) say where, when known; the message names them too.
 */
export class DataError extends FinetuneError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  constructor(code: string, message: string, where: DataLocation = {}, options?: { cause?: unknown }) {
    super(code, message, options);
    this.file = where.file;
    this.line = where.line;
  }
}

/** Formats `file:line: problem`, leaving out what is unknown. */
export function locate(where: DataLocation, problem: string): string {
  if (where.file === undefined) return where.line === undefined ? problem : `line ${where.line}: ${problem}`;
  return where.line === undefined ? `${where.file}: ${problem}` : `${where.file}:${where.line}: ${problem}`;
}

/** A record does not follow its format (bad JSON, open quote, missing field, extra columns...). */
export class DataFormatError extends DataError {
  constructor(problem: string, where: DataLocation = {}, options?: { cause?: unknown }) {
    super('ERR_FINETUNE_DATA_FORMAT', locate(where, problem), where, options);
  }
}

/** The bytes are not valid in the declared encoding, or the encoding is unsupported (UTF-16). */
export class DataEncodingError extends DataError {
  /** Absolute offset in the file of the first offending byte. */
  readonly byteOffset: number | undefined;
  constructor(problem: string, where: DataLocation & { byteOffset?: number } = {}) {
    super('ERR_FINETUNE_DATA_ENCODING', locate(where, problem), where);
    this.byteOffset = where.byteOffset;
  }
}

/** A label is invalid, unknown to the label map, or the label set is unusable (a single class). */
export class DataLabelError extends DataError {
  constructor(problem: string, where: DataLocation = {}) {
    super('ERR_FINETUNE_DATA_LABEL', locate(where, problem), where);
  }
}

/** A file (or a split) holds no examples at all. */
export class DataEmptyError extends DataError {
  constructor(problem: string, where: DataLocation = {}) {
    super('ERR_FINETUNE_DATA_EMPTY', locate(where, problem), where);
  }
}

/** A data file cannot be opened or read (missing, a directory, permissions). */
export class DataFileError extends DataError {
  constructor(problem: string, where: DataLocation = {}, options?: { cause?: unknown }) {
    super('ERR_FINETUNE_DATA_FILE', locate(where, problem), where, options);
  }
}

/** A vocabulary file or object is invalid (duplicate ids, gaps, missing specials). */
export class VocabError extends DataError {
  constructor(problem: string, where: DataLocation = {}) {
    super('ERR_FINETUNE_VOCAB', locate(where, problem), where);
  }
}

/** A saved state (loader position, tokenizer or label map JSON) is invalid. */
export class DataStateError extends DataError {
  constructor(problem: string) {
    super('ERR_FINETUNE_DATA_STATE', problem);
  }
}
