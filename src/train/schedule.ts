/**
 * Learning-rate schedules: a pure function of the step (and, for
 * reduce-on-plateau, of the dev metrics seen), so a resumed run recomputes
 * the same rate without compiling anything.
 */
import { FinetuneError } from '../errors.js';

export type ScheduleSpec =
  | { type: 'constant' }
  | { type: 'step'; stepSize: number; gamma?: number }
  | { type: 'cosine'; minLr?: number }
  | { type: 'linear'; minLr?: number }
  | { type: 'plateau'; factor?: number; patience?: number; minLr?: number; mode?: 'max' | 'min' };

export interface ScheduleOptions {
  /** Linear warm-up from 0 over this many steps (default 0). */
  warmupSteps?: number;
}

export class LrSchedule {
  private plateauScale = 1;
  private best = NaN;
  private bad = 0;

  constructor(
    readonly spec: ScheduleSpec,
    readonly baseLr: number,
    readonly totalSteps: number,
    readonly options: ScheduleOptions = {},
  ) {
    if (!(baseLr >= 0) || !Number.isFinite(baseLr)) throw new FinetuneError('ERR_FINETUNE_OPTION', `learning rate must be a finite number >= 0, got ${baseLr}`);
    if (spec.type === 'step' && !(Number.isInteger(spec.stepSize) && spec.stepSize > 0)) throw new FinetuneError('ERR_FINETUNE_OPTION', 'step schedule needs stepSize > 0 (steps)');
  }

  /** Multiplier at 0-based step `step` (before warm-up). */
  private factor(step: number): number {
    const s = this.spec;
    const warm = this.options.warmupSteps ?? 0;
    const span = Math.max(1, this.totalSteps - warm);
    const progress = Math.min(1, Math.max(0, step - warm) / span);
    const floor = 'minLr' in s && s.minLr !== undefined ? s.minLr / (this.baseLr || 1) : 0;
    switch (s.type) {
      case 'constant':
        return 1;
      case 'step':
        return (s.gamma ?? 0.1) ** Math.floor(step / s.stepSize);
      case 'cosine':
        return floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
      case 'linear':
        return floor + (1 - floor) * (1 - progress);
      case 'plateau':
        return Math.max(this.plateauScale, floor);
    }
  }

  /** Multiplier of every group's base rate at 0-based step `step`, warm-up included. */
  scale(step: number): number {
    const warm = this.options.warmupSteps ?? 0;
    const w = warm > 0 && step < warm ? (step + 1) / warm : 1;
    return w * this.factor(step);
  }

  /** Learning rate for 0-based step `step`. */
  lr(step: number): number {
    return this.baseLr * this.scale(step);
  }

  /** Reduce-on-plateau: feed the dev metric after each epoch. */
  observe(metric: number): void {
    if (this.spec.type !== 'plateau') return;
    const maximize = (this.spec.mode ?? 'max') === 'max';
    if (Number.isNaN(this.best) || (maximize ? metric > this.best : metric < this.best)) {
      this.best = metric;
      this.bad = 0;
    } else if (++this.bad > (this.spec.patience ?? 1)) {
      this.plateauScale *= this.spec.factor ?? 0.1;
      this.bad = 0;
    }
  }

  state(): { plateauScale: number; best: number; bad: number } {
    return { plateauScale: this.plateauScale, best: this.best, bad: this.bad };
  }

  restore(s: { plateauScale: number; best: number | null; bad: number }): void {
    this.plateauScale = s.plateauScale;
    this.best = s.best ?? NaN;
    this.bad = s.bad;
  }
}
