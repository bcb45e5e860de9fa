/**
 * The Prometheus metrics: a label set is one series whatever the order of its
 * names, and the per-request handles (`child`) count into the same series as
 * `inc` / `observe`.
 */
import { describe, expect, it } from 'vitest';

import { Counter, Gauge, Histogram } from '../../src/serve/metrics.js';

describe('metrics', () => {
  it('counters: one series per label set, whatever the order of the names; child handles add to it', () => {
    const c = new Counter('c_total', 'help');
    c.inc({ a: '1', b: '2' });
    c.inc({ b: '2', a: '1' }, 2);
    c.child({ a: '1', b: '2' }).inc();
    const other = c.child({ a: '1', b: '3' });
    expect(c.render()).not.toContain('b="3"'); // a handle alone adds no series
    other.inc(5);
    c.inc();
    c.child().inc(2);
    c.inc({ route: '/x' });
    c.child({ route: '/x' }).inc();
    // One-label keys cannot meet the general ones: a value with the separator or brackets in it stays apart.
    c.inc({ route: '["a","1"]' });
    expect(c.get({ a: '1', b: '2' })).toBe(4);
    expect(c.get({ b: '3', a: '1' })).toBe(5);
    expect(c.get()).toBe(3);
    expect(c.get({ route: '/x' })).toBe(2);
    expect(c.get({ route: '["a","1"]' })).toBe(1);
    expect(c.render().split('\n')).toEqual([
      '# HELP c_total help',
      '# TYPE c_total counter',
      'c_total{a="1",b="2"} 4',
      'c_total{a="1",b="3"} 5',
      'c_total 3',
      'c_total{route="/x"} 2',
      'c_total{route="[\\"a\\",\\"1\\"]"} 1',
    ]);
  });

  it('histograms: child handles and observe share a series; buckets are cumulative; NaN lands in no bucket', () => {
    const h = new Histogram('h_seconds', 'help', [0.1, 1, 0.5]);
    const child = h.child({ route: '/p' });
    child.observe(0.05);
    h.observe(0.7, { route: '/p' });
    child.observe(3);
    child.observe(1);
    h.observe(Number.NaN, { route: '/p' });
    expect(h.count({ route: '/p' })).toBe(5);
    const lines = h.render().split('\n');
    expect(lines).toContain('h_seconds_bucket{route="/p",le="0.1"} 1');
    expect(lines).toContain('h_seconds_bucket{route="/p",le="0.5"} 1');
    expect(lines).toContain('h_seconds_bucket{route="/p",le="1"} 3');
    expect(lines).toContain('h_seconds_bucket{route="/p",le="+Inf"} 5');
    expect(lines).toContain('h_seconds_count{route="/p"} 5');
  });

  it('gauges: inc and dec in place, and computed values', () => {
    const g = new Gauge('g', 'help');
    g.inc();
    g.inc(2);
    g.dec();
    expect(g.get()).toBe(2);
    let v = 7;
    g.set(() => v, { kind: 'f' });
    v = 9;
    expect(g.get({ kind: 'f' })).toBe(9);
    expect(g.render()).toContain('g{kind="f"} 9');
  });
});
