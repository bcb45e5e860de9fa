import { DataLabelError, DataStateError, type DataLocation } from './errors.js';

/** `integer` when every label is a non-negative decimal integer, else `string`. */
export type LabelKind = 'integer' | 'string';

const INTEGER = /^(0|[1-9][0-9]{0,14})$/;
const NUMERIC = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

/** True for a label such as `0`, `7` or `12` (no sign, no leading zero, no fraction). */
export function isIntegerLabel(label: string): boolean {
  return INTEGER.test(label);
}

/**
 * Orders label names the way a {@link LabelMap} built from training data does:
 * numerically when all are integer labels (`2` before `10`), otherwise by
 * UTF-16 code unit order (plain `<` on strings), which does not depend on the
 * order of lines in the file.
 */
export function sortLabels(names: Iterable<string>): string[] {
  const all = [...names];
  if (all.length > 0 && all.every(isIntegerLabel)) return all.sort((a, b) => Number(a) - Number(b));
  return all.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Label names <-> class indices 0..size-1.
 *
 * Built from training data with {@link LabelMapBuilder} (sorted as in
 * {@link sortLabels}: the shared data sets' labels `0`..`5` get indices 0..5),
 * saved with a model (`toJSON()` is the list of names in index order) and
 * applied to dev/test data with {@link LabelMap.lookup}, which names the file
 * and line of an unknown label. Names live in a Map, so labels like
 * `__proto__` are ordinary.
 *
 * @example
 * const labels = LabelMap.fromNames(['neg', 'pos']);
 * labels.lookup('pos'); // 1
 * LabelMap.fromJSON(JSON.parse(JSON.stringify(labels))).equals(labels); // true
 */
export class LabelMap {
  /** Names in index order. */
  readonly names: readonly string[];
  readonly kind: LabelKind;
  private readonly index: Map<string, number>;

  private constructor(names: string[]) {
    this.names = Object.freeze(names.slice());
    this.index = new Map();
    names.forEach((n, i) => {
      if (typeof n !== 'string') throw new TypeError(`label names must be strings, got ${typeof n} at index ${i}`);
      if (this.index.has(n)) throw new DataLabelError(`duplicate label name '${n}'`);
      this.index.set(n, i);
    });
    this.kind = names.length > 0 && names.every(isIntegerLabel) ? 'integer' : 'string';
  }

  /** A map whose index i is names[i] (e.g. an imported model's label list). */
  static fromNames(names: readonly string[]): LabelMap {
    if (!Array.isArray(names)) throw new TypeError('label names must be an array of strings');
    return new LabelMap(names.slice());
  }

  /** Reads what {@link LabelMap.toJSON} wrote. */
  static fromJSON(value: unknown): LabelMap {
    const names = Array.isArray(value) ? value : (value as { names?: unknown } | null)?.names;
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
      throw new DataStateError('a label map must be a JSON array of label names');
    }
    return new LabelMap(names as string[]);
  }

  get size(): number {
    return this.names.length;
  }

  /** The index of a name, or -1. */
  indexOf(name: string): number {
    const i = this.index.get(name);
    return i === undefined ? -1 : i;
  }

  /** The name of an index (throws RangeError when out of range). */
  nameOf(index: number): string {
    if (!Number.isInteger(index) || index < 0 || index >= this.names.length) throw new RangeError(`label index ${index} out of range 0..${this.names.length - 1}`);
    return this.names[index];
  }

  /**
   * The index of a label read from a file; a label not in the map is a
   * {@link DataLabelError} naming file and line, with a hint when the label
   * differs only in case or is not an integer where integers are expected.
   */
  lookup(name: string, where: DataLocation = {}): number {
    const i = this.index.get(name);
    if (i !== undefined) return i;
    throw new DataLabelError(this.describeUnknown(name), where);
  }

  /** Why a label is not in the map, in words. */
  describeUnknown(name: string): string {
    const shown = this.names.length <= 12 ? this.names.join(', ') : `${this.names.slice(0, 12).join(', ')}, ... (${this.names.length} in all)`;
    if (this.kind === 'integer' && !isIntegerLabel(name)) {
      const what = NUMERIC.test(name) ? (name.startsWith('-') ? 'a negative number' : 'not a plain non-negative integer') : 'not an integer';
      return `label '${name}' is ${what}; the training labels are the integers ${shown}`;
    }
    if (this.kind === 'integer') return `label '${name}' is out of range: the training labels are the integers ${shown}`;
    const folded = this.names.find((n) => n.toLowerCase() === name.toLowerCase());
    const hint = folded !== undefined ? ` (labels are case-sensitive: did you mean '${folded}'?)` : '';
    return `unknown label '${name}', not seen in the training data; known labels: ${shown}${hint}`;
  }

  /** True when both maps have the same names in the same order. */
  equals(other: LabelMap): boolean {
    return other.names.length === this.names.length && other.names.every((n, i) => n === this.names[i]);
  }

  /** Throws a DataLabelError describing the first difference from `expected` (e.g. a model's labels). */
  assertSameAs(expected: LabelMap, what = 'the model'): void {
    if (this.equals(expected)) return;
    for (let i = 0; i < Math.max(this.size, expected.size); i++) {
      if (this.names[i] !== expected.names[i]) {
        throw new DataLabelError(
          `label map differs from ${what}'s: index ${i} is '${this.names[i] ?? '(none)'}' here but '${expected.names[i] ?? '(none)'}' in ${what} ` +
            `(${this.size} vs ${expected.size} classes)`,
        );
      }
    }
  }

  /** The names in index order: a plain JSON array. */
  toJSON(): string[] {
    return this.names.slice();
  }
}

/**
 * Collects the labels of a training file and builds a {@link LabelMap}.
 * Remembers where each label first appeared so errors can name the line.
 *
 * Rules: at least two classes; if some labels are integers and others look
 * numeric but are not non-negative integers (`-1`, `1.5`, `01`), that is an
 * error naming the first such line, since a mixed set is almost always a typo.
 */
export class LabelMapBuilder {
  private readonly first = new Map<string, DataLocation>();
  readonly counts = new Map<string, number>();

  /** Counts one occurrence of a label. */
  add(label: string, where: DataLocation = {}): void {
    const c = this.counts.get(label);
    if (c === undefined) {
      this.counts.set(label, 1);
      this.first.set(label, where);
    } else this.counts.set(label, c + 1);
  }

  /** Where a label was first seen. */
  firstSeen(label: string): DataLocation | undefined {
    return this.first.get(label);
  }

  /** Builds the map; throws DataLabelError for fewer than two classes or a mixed numeric set. */
  build(file?: string): LabelMap {
    const names = [...this.counts.keys()];
    const ints = names.filter(isIntegerLabel);
    if (ints.length > 0 && ints.length < names.length) {
      const odd = names.filter((n) => !isIntegerLabel(n) && NUMERIC.test(n));
      if (odd.length > 0) {
        const where = this.first.get(odd[0]) ?? { file };
        throw new DataLabelError(
          `label '${odd[0]}' is not a non-negative integer, but other labels are integers (${sortLabels(ints).slice(0, 6).join(', ')}); ` +
            `integer labels must be 0, 1, 2, ... without sign, fraction or leading zeros`,
          where,
        );
      }
    }
    if (names.length < 2) {
      throw new DataLabelError(
        names.length === 0 ? 'no labels in the training data' : `the training data has a single class ('${names[0]}'); a classifier needs at least two`,
        { file },
      );
    }
    return LabelMap.fromNames(sortLabels(names));
  }
}
