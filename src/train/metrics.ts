/** Classification metrics from a confusion matrix. */

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Examples of this class. */
  support: number;
}

export interface Metrics {
  accuracy: number;
  macroF1: number;
  /** Mean loss over the examples (when computed). */
  loss?: number;
  examples: number;
  perClass: ClassMetrics[];
  /** confusion[actual][predicted]. */
  confusion: number[][];
}

/** Accumulates predictions into a confusion matrix. */
export class ConfusionMatrix {
  readonly counts: number[][];
  constructor(readonly labels: readonly string[]) {
    this.counts = labels.map(() => labels.map(() => 0));
  }

  /** Adds a batch: logits [rows x classes] and the true labels. Ties go to the first arg-max. */
  addLogits(logits: Float32Array, labels: Int32Array, rows: number): void {
    const C = this.labels.length;
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (logits[r * C + c] > logits[r * C + best]) best = c;
      this.counts[labels[r]][best]++;
    }
  }

  add(actual: number, predicted: number): void {
    this.counts[actual][predicted]++;
  }

  metrics(loss?: number): Metrics {
    const C = this.labels.length;
    let total = 0, correct = 0;
    const perClass: ClassMetrics[] = [];
    for (let c = 0; c < C; c++) {
      let predicted = 0, actual = 0;
      for (let k = 0; k < C; k++) {
        predicted += this.counts[k][c];
        actual += this.counts[c][k];
      }
      const tp = this.counts[c][c];
      total += actual;
      correct += tp;
      const precision = predicted ? tp / predicted : 0;
      const recall = actual ? tp / actual : 0;
      const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
      perClass.push({ label: this.labels[c], precision, recall, f1, support: actual });
    }
    // Macro-F1 over the classes present in the data (as scikit-learn with labels=present).
    const present = perClass.filter((p) => p.support > 0);
    const macroF1 = present.length ? present.reduce((s, p) => s + p.f1, 0) / present.length : 0;
    return { accuracy: total ? correct / total : 0, macroF1, loss, examples: total, perClass, confusion: this.counts.map((r) => [...r]) };
  }
}

/** A plain-text table of per-class figures and the confusion matrix. */
export function formatMetrics(m: Metrics): string {
  const w = Math.max(5, ...m.perClass.map((p) => p.label.length));
  const pad = (s: string, n: number) => s.padStart(n);
  const lines = [
    `accuracy ${(m.accuracy * 100).toFixed(2)}%  macro-F1 ${(m.macroF1 * 100).toFixed(2)}%  examples ${m.examples}` +
      (m.loss !== undefined ? `  loss ${m.loss.toFixed(4)}` : ''),
    '',
    `${pad('class', w)}  precision  recall     f1  support`,
    ...m.perClass.map((p) => `${pad(p.label, w)}  ${pad(p.precision.toFixed(4), 9)}  ${pad(p.recall.toFixed(4), 6)}  ${pad(p.f1.toFixed(4), 5)}  ${pad(String(p.support), 7)}`),
    '',
    `confusion (rows: actual, columns: predicted)`,
    `${pad('', w)}  ${m.perClass.map((p) => pad(p.label, Math.max(6, p.label.length))).join(' ')}`,
    ...m.confusion.map((row, i) => `${pad(m.perClass[i].label, w)}  ${row.map((v, j) => pad(String(v), Math.max(6, m.perClass[j].label.length))).join(' ')}`),
  ];
  return lines.join('\n');
}
