import { DataStateError } from './errors.js';
import { isSpace } from './strtab.js';

/** `whitespace`: split on whitespace. `kim`: Kim (2014)'s clean_str rules, Unicode-aware. */
export type TokenizerMode = 'whitespace' | 'kim';

/** A tokenizer's settings: plain JSON, saved with a model. */
export interface TokenizerConfig {
  mode: TokenizerMode;
  /** Lower-case the text first (default true, as in Kim's MR/SST preprocessing and the shared models). */
  lowercase: boolean;
  /** Keep at most this many tokens (0: no limit). */
  maxTokens: number;
}

// Kim's first rule keeps [A-Za-z0-9(),!?'`]; here any letter, mark or digit of any script survives too.
const KIM_DROP = /[^\p{L}\p{M}\p{N}(),!?'`]+/gu;
const KIM_RULES: [RegExp, string][] = [
  [/'s/g, " 's"],
  [/'ve/g, " 've"],
  [/n't/g, " n't"],
  [/'re/g, " 're"],
  [/'d/g, " 'd"],
  [/'ll/g, " 'll"],
  [/,/g, ' , '],
  [/!/g, ' ! '],
  [/\(/g, ' ( '],
  [/\)/g, ' ) '],
  [/\?/g, ' ? '],
];

/**
 * Turns text into tokens. Settings are plain JSON (`toJSON` / `fromJSON`) so
 * they travel with a model.
 *
 * - `whitespace` splits on runs of whitespace: C0 control characters, space,
 *   and the Unicode spaces Python's `str.split()` uses (U+0085, U+00A0,
 *   U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
 * - `kim` applies the rules of `clean_str` in Kim's CNN_sentence
 *   process_data.py: everything but letters, digits and `(),!?'\`` becomes a
 *   space; `'s 've n't 're 'd 'll` and `, ! ( ) ?` are split off; whitespace
 *   runs collapse. Two differences: letters, combining marks and digits of any
 *   script are kept (Kim's ASCII class would delete `é`), and `(` `)` come out
 *   as `(` `)` (Python 3's re.sub turns Kim's `" \( "` into a literal
 *   backslash-paren token).
 *
 * Lone surrogates and control characters never throw: they are separators.
 *
 * @example
 * new Tokenizer({ mode: 'kim' }).tokenize("It isn't bad, (really)!");
 * // ['it', 'is', "n't", 'bad', ',', '(', 'really', ')', '!']
 */
export class Tokenizer {
  readonly mode: TokenizerMode;
  readonly lowercase: boolean;
  readonly maxTokens: number;

  constructor(config: Partial<TokenizerConfig> = {}) {
    const mode = config.mode ?? 'whitespace';
    if (mode !== 'whitespace' && mode !== 'kim') throw new RangeError(`unknown tokenizer mode '${String(mode)}': use whitespace or kim`);
    const maxTokens = config.maxTokens ?? 0;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`maxTokens must be a non-negative integer, got ${maxTokens}`);
    this.mode = mode;
    this.lowercase = config.lowercase ?? true;
    this.maxTokens = maxTokens;
  }

  /** The tokens of one text. */
  tokenize(text: string): string[] {
    return splitWhitespace(this.normalize(text), this.maxTokens);
  }

  /**
   * The text with cleaning and lower-casing applied: its whitespace-separated
   * words are the tokens (before maxTokens). {@link Vocabulary.encodeText} and
   * {@link TokenCounter.addText} take this to skip building token arrays.
   */
  normalize(text: string): string {
    // Kim lower-cases after cleaning, so an upper-case `N'T` escapes his case-sensitive rule; same here.
    if (this.mode === 'kim') text = kimClean(text);
    if (this.lowercase) text = text.toLowerCase();
    return text;
  }

  toJSON(): TokenizerConfig {
    return { mode: this.mode, lowercase: this.lowercase, maxTokens: this.maxTokens };
  }

  /** Reads what {@link Tokenizer.toJSON} wrote; unknown keys are ignored. */
  static fromJSON(value: unknown): Tokenizer {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DataStateError('tokenizer settings must be a JSON object');
    const v = value as Record<string, unknown>;
    const mode = Object.hasOwn(v, 'mode') ? v.mode : undefined;
    const lowercase = Object.hasOwn(v, 'lowercase') ? v.lowercase : undefined;
    const maxTokens = Object.hasOwn(v, 'maxTokens') ? v.maxTokens : undefined;
    if (mode !== undefined && mode !== 'whitespace' && mode !== 'kim') throw new DataStateError(`unknown tokenizer mode ${JSON.stringify(mode)}`);
    if (lowercase !== undefined && typeof lowercase !== 'boolean') throw new DataStateError('tokenizer lowercase must be a boolean');
    if (maxTokens !== undefined && (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 0)) {
      throw new DataStateError('tokenizer maxTokens must be a non-negative integer');
    }
    return new Tokenizer({ mode: mode as TokenizerMode | undefined, lowercase: lowercase as boolean | undefined, maxTokens: maxTokens as number | undefined });
  }
}

/** Kim (2014)'s clean_str without the final strip/lower-case (see {@link Tokenizer}). */
export function kimClean(text: string): string {
  text = text.replace(KIM_DROP, ' ');
  // The six clitic rules all need an apostrophe; most texts have none.
  const from = text.includes("'") ? 0 : 6;
  for (let r = from; r < KIM_RULES.length; r++) text = text.replace(KIM_RULES[r][0], KIM_RULES[r][1]);
  return text;
}

/** Splits on whitespace runs (see {@link Tokenizer}); keeps at most maxTokens (0: all). */
export function splitWhitespace(text: string, maxTokens = 0): string[] {
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const s = i;
    while (i < n && !isSpace(text.charCodeAt(i))) i++;
    out.push(text.slice(s, i));
    if (out.length === maxTokens) break;
  }
  return out;
}
