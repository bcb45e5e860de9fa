import { FinetuneError } from '../errors.js';

export interface OnnxFormatErrorOptions {
  /** The model file being read, when known; prefixed to the message. */
  file?: string;
  /** Field path of the offending value, e.g. `graph.initializer[3].raw_data`. */
  path?: string;
  cause?: unknown;
}

/**
 * An ONNX file (or a tensor inside it, or an external-data file it points to)
 * is malformed, hostile, or holds something this package cannot use. The
 * message names the field and the problem; `file` and `path` say where.
 */
export class OnnxFormatError extends FinetuneError {
  readonly file?: string;
  readonly path?: string;
  constructor(message: string, options: OnnxFormatErrorOptions = {}) {
    super('ERR_FINETUNE_ONNX_FORMAT', options.file ? `${options.file}: ${message}` : message, {
      cause: options.cause,
    });
    if (options.file !== undefined) this.file = options.file;
    if (options.path !== undefined) this.path = options.path;
  }
}
