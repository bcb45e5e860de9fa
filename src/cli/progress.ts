/**
 * Training progress on stderr: a bar redrawn in place on a terminal, one line
 * per epoch otherwise, nothing with --json.
 */
import type { EpochRecord, StepInfo } from '../train/trainer.js';

export interface Progress {
  step(info: StepInfo, epochs: number): void;
  epoch(record: EpochRecord, epochs: number): void;
  message(text: string): void;
  done(): void;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

export function createProgress(mode: 'tty' | 'lines' | 'silent', out: NodeJS.WritableStream = process.stderr): Progress {
  let lastDraw = 0;
  let lossAvg = NaN;
  let accAvg = NaN;
  const write = (s: string) => out.write(s);
  return {
    step(info, epochs) {
      lossAvg = Number.isNaN(lossAvg) || info.batch === 0 ? info.loss : 0.9 * lossAvg + 0.1 * info.loss;
      accAvg = Number.isNaN(accAvg) || info.batch === 0 ? info.accuracy : 0.9 * accAvg + 0.1 * info.accuracy;
      if (mode !== 'tty') return;
      const now = Date.now();
      if (now - lastDraw < 100 && info.batch + 1 < info.batches) return;
      lastDraw = now;
      const frac = (info.batch + 1) / info.batches;
      const width = 24;
      const filled = Math.round(frac * width);
      const eta = info.seconds * ((info.batches - info.batch - 1) / (info.batch + 1));
      write(
        `\repoch ${info.epoch + 1}/${epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%` +
          `  loss ${lossAvg.toFixed(4)}  acc ${(accAvg * 100).toFixed(1)}%  ${info.examplesPerSecond.toFixed(0)} ex/s  lr ${info.lr.toPrecision(3)}  ETA ${duration(eta)}\x1b[K`,
      );
    },
    epoch(r, epochs) {
      const dev = r.dev ? `  dev acc ${(r.dev.accuracy * 100).toFixed(2)}%  dev macro-F1 ${(r.dev.macroF1 * 100).toFixed(2)}%` : '';
      const skipped = r.skippedSteps ? `  skipped ${r.skippedSteps} non-finite steps` : '';
      const line = `epoch ${r.epoch}/${epochs}  loss ${r.loss.toFixed(4)}  acc ${(r.accuracy * 100).toFixed(2)}%${dev}  ${duration(r.seconds)}  ${r.examplesPerSecond.toFixed(0)} ex/s${skipped}`;
      if (mode === 'tty') write(`\r${line}\x1b[K\n`);
      else if (mode === 'lines') write(`${line}\n`);
    },
    message(text) {
      if (mode !== 'silent') write(`${text}\n`);
    },
    done() {},
  };
}
