/** Pieces shared by the commands: reading options common to several, printing results. */
import type { DataFormat, ReadOptions } from '../data/reader.js';
import type { TextEncoding } from '../data/lines.js';
import { choiceOption, type OptionSpec, UsageError } from './args.js';

export const READ_OPTIONS: OptionSpec = {
  format: { type: 'string', default: 'auto', help: 'auto, labeled (LABEL TEXT per line), csv, tsv or jsonl', value: 'FORMAT' },
  encoding: { type: 'string', default: 'utf8', help: 'utf8 (strict) or latin1', value: 'ENC' },
  'text-field': { type: 'string', help: 'CSV/TSV column or JSONL key of the text (default: text, sentence, ...)', value: 'NAME' },
  'label-field': { type: 'string', help: 'CSV/TSV column or JSONL key of the label (default: label, class, ...)', value: 'NAME' },
  'skip-bad': { type: 'boolean', help: 'skip and count malformed records and unknown labels instead of stopping' },
};

/** Options of commands that read a model exported elsewhere (predict, eval). */
export const IMPORT_OPTIONS: OptionSpec = {
  vocab: { type: 'string', help: 'vocabulary of an ONNX model exported elsewhere (JSON token -> id, or one token a line)', value: 'FILE' },
  tokenizer: { type: 'string', help: 'for a model exported elsewhere: whitespace (lower-cased, default) or kim', value: 'MODE' },
};

/** The importer's vocab/tokenizer settings from IMPORT_OPTIONS. */
export function importOptions(v: Record<string, string | boolean | undefined>): { vocab?: string; tokenizer?: { mode: 'whitespace' | 'kim' } } {
  return {
    vocab: typeof v.vocab === 'string' ? v.vocab : undefined,
    tokenizer: v.tokenizer === undefined ? undefined : { mode: choiceOption('tokenizer', v.tokenizer, ['whitespace', 'kim'] as const)! },
  };
}

export function readOptions(v: Record<string, string | boolean | undefined>): Omit<ReadOptions, 'labels'> {
  const format = choiceOption('format', v.format, ['auto', 'labeled', 'csv', 'tsv', 'jsonl'] as const) as DataFormat | 'auto';
  const encoding = choiceOption('encoding', v.encoding, ['utf8', 'latin1'] as const) as TextEncoding;
  const o: Omit<ReadOptions, 'labels'> = { format, encoding };
  if (typeof v['text-field'] === 'string') o.textField = v['text-field'];
  if (typeof v['label-field'] === 'string') o.labelField = v['label-field'];
  if (v['skip-bad']) o.onError = 'skip';
  return o;
}

export function requireString(v: Record<string, string | boolean | undefined>, name: string, command: string): string {
  const s = v[name];
  if (typeof s !== 'string' || s === '') throw new UsageError(`${command}: --${name} is required (see finetune ${command} --help)`);
  return s;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
