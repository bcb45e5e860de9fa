import { FinetuneError } from '../errors.js';

/**
 * Stable codes of the tensor-file (checkpoint) reader and writer. Each names
 * one kind of failure, so a program can branch on it:
 *
 * - MAGIC      the file does not start with `FTCKPT01` or does not end with `FTCKEND1`
 * - HEADER     header length 0 or over the limit, header not UTF-8 / JSON, too
 *              deeply nested, wrong structure or format version
 * - TENSOR     a tensor entry is malformed: name, dtype, shape, byteLength, crc32
 * - DUPLICATE  two tensors share a name
 * - LAYOUT     tensor offsets misaligned, out of order, overlapping, or past
 *              the end of the data region
 * - TRUNCATED  the file is shorter than its header says (or than any valid file)
 * - TRAILING   bytes follow the end of the file as its header describes it
 * - CHECKSUM   the SHA-256 of the file does not match its trailer (a flipped byte)
 * - MISMATCH   the tensors differ from the expected architecture (all listed)
 * - SIZE       the file is larger than the reader is allowed to allocate
 * - IO         the file cannot be opened or read, is not a regular file, or
 *              changed while it was read
 * - ENCODE     what was given to save cannot be stored (bad name, array type,
 *              shape, or metadata that is not plain JSON)
 * - UNSUPPORTED the host is big-endian
 */
export const CheckpointErrorCode = {
  MAGIC: 'ERR_FINETUNE_CHECKPOINT_MAGIC',
  HEADER: 'ERR_FINETUNE_CHECKPOINT_HEADER',
  TENSOR: 'ERR_FINETUNE_CHECKPOINT_TENSOR',
  DUPLICATE: 'ERR_FINETUNE_CHECKPOINT_DUPLICATE',
  LAYOUT: 'ERR_FINETUNE_CHECKPOINT_LAYOUT',
  TRUNCATED: 'ERR_FINETUNE_CHECKPOINT_TRUNCATED',
  TRAILING: 'ERR_FINETUNE_CHECKPOINT_TRAILING',
  CHECKSUM: 'ERR_FINETUNE_CHECKPOINT_CHECKSUM',
  MISMATCH: 'ERR_FINETUNE_CHECKPOINT_MISMATCH',
  SIZE: 'ERR_FINETUNE_CHECKPOINT_SIZE',
  IO: 'ERR_FINETUNE_CHECKPOINT_IO',
  ENCODE: 'ERR_FINETUNE_CHECKPOINT_ENCODE',
  UNSUPPORTED: 'ERR_FINETUNE_CHECKPOINT_UNSUPPORTED',
} as const;
export type CheckpointErrorCode = (typeof CheckpointErrorCode)[keyof typeof CheckpointErrorCode];

/** Code of every failed save (temporary file, write, fsync, rename). */
export const SAVE_ERROR_CODE = 'ERR_FINETUNE_SAVE';

/**
 * A tensor file (checkpoint) could not be read, or content could not be
 * encoded. `file` is the path as given (or the label of an in-memory buffer);
 * the message starts with it and names the field or tensor at fault.
 */
export class CheckpointError extends FinetuneError {
  override readonly code: CheckpointErrorCode;
  readonly file: string;
  constructor(code: CheckpointErrorCode, file: string, problem: string, options?: { cause?: unknown }) {
    super(code, `${file}: ${problem}`, options);
    this.code = code;
    this.file = file;
  }
}

/** One way a stored tensor differs from the expected architecture. */
export interface TensorMismatch {
  name: string;
  problem: 'missing' | 'unexpected' | 'dtype' | 'shape';
  /** Expected dtype or shape (absent for 'unexpected'). */
  expected?: string;
  /** Stored dtype or shape (absent for 'missing'). */
  actual?: string;
}

/** The file holds another architecture: `mismatches` lists every differing tensor. */
export class CheckpointMismatchError extends CheckpointError {
  readonly mismatches: readonly TensorMismatch[];
  constructor(file: string, mismatches: readonly TensorMismatch[]) {
    const lines = mismatches.map((m) => {
      switch (m.problem) {
        case 'missing':
          return `  - '${m.name}': missing (expected ${m.expected})`;
        case 'unexpected':
          return `  - '${m.name}': not in the model (stored ${m.actual})`;
        default:
          return `  - '${m.name}': ${m.problem} ${m.actual}, expected ${m.expected}`;
      }
    });
    super(
      CheckpointErrorCode.MISMATCH,
      file,
      `the file holds another architecture; ${mismatches.length} tensor(s) differ:\n${lines.join('\n')}`,
    );
    this.mismatches = mismatches;
  }
}

/**
 * A save failed; the previous file at `path` (if any) is untouched and the
 * temporary file removed. `errno` is the system error code (ENOSPC, EROFS...).
 */
export class SaveError extends FinetuneError {
  readonly path: string;
  readonly errno: string | undefined;
  constructor(path: string, message: string, errno: string | undefined, options?: { cause?: unknown }) {
    super(SAVE_ERROR_CODE, message, options);
    this.path = path;
    this.errno = errno;
  }
}
