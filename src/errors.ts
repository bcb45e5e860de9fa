/**
 * Every error this package throws on purpose is a FinetuneError (or one of the
 * built-in TypeError / RangeError thrown by argument checks) with a stable
 * `code` that programs can branch on.
 */
export class FinetuneError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The native addon could not be loaded; the message says why and what to run. */
export class NativeLoadError extends FinetuneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FINETUNE_NATIVE_LOAD', message, options);
  }
}
