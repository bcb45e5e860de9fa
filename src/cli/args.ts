/** Option parsing for the command line, on node:util parseArgs, with errors that name the option. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { FinetuneError } from '../errors.js';

export class UsageError extends FinetuneError {
  constructor(message: string) {
    super('ERR_FINETUNE_USAGE', message);
  }
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean; help: string; value?: string }>;

export function parseOptions(command: string, argv: string[], spec: OptionSpec): Record<string, string | boolean | undefined> {
  const options: ParseArgsConfig['options'] = {};
  for (const [name, o] of Object.entries(spec)) options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    if (positionals.length > 0) throw new UsageError(`${command}: unexpected argument '${positionals[0]}' (options start with --; see finetune ${command} --help)`);
    const out: Record<string, string | boolean | undefined> = Object.create(null);
    for (const [name, o] of Object.entries(spec)) out[name] = (values as Record<string, string | boolean | undefined>)[name] ?? o.default;
    return out;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${command}: ${(err as Error).message.replace(/\. To specify a positional.*$/s, '')} (see finetune ${command} --help)`);
  }
}

export function helpText(command: string, summary: string, spec: OptionSpec): string {
  const rows = Object.entries(spec).map(([name, o]) => {
    const left = `  --${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '';
    return `${left.padEnd(30)} ${o.help}${def}`;
  });
  return `Usage: finetune ${command} [options]\n\n${summary}\n\nOptions:\n${rows.join('\n')}\n`;
}

export function intOption(name: string, v: string | boolean | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} expects an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any' : max}, got '${String(v)}'`);
  }
  return n;
}

export function numberOption(name: string, v: string | boolean | undefined, min: number, max = Infinity): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} expects a number from ${min} to ${max}, got '${String(v)}'`);
  }
  return n;
}

export function listOption(name: string, v: string | boolean | undefined, min = 1): number[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} expects a comma-separated list of integers, got '${String(v)}'`);
  if (v.trim() === 'none') return [];
  return v.split(',').map((s) => intOption(name, s.trim(), min)!);
}

export function choiceOption<T extends string>(name: string, v: string | boolean | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !choices.includes(v as T)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${String(v)}'`);
  return v as T;
}
