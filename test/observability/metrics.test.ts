import { describe, expect, it } from 'vitest';
import { KeygateMetrics } from '../../src/observability/metrics.js';
import { Counter, Histogram, Registry } from '../../src/observability/prometheus.js';

/** The registry's text format and the gauges' sources, without a server. */
describe('KeygateMetrics and its registry', () => {
  it('reads the queues and the pool when scraped, not before', async () => {
    const metrics = new KeygateMetrics();
    let audit = 0;
    metrics.readFrom({ auditQueue: () => audit, usageQueue: () => 3, store: { poolUsage: () => ({ total: 4, idle: 1, waiting: 2 }) } });
    audit = 7;
    const text = await metrics.registry.metrics();
    expect(text).toContain('\nkeygate_audit_queue_events 7\n');
    expect(text).toContain('\nkeygate_usage_queue_keys 3\n');
    expect(text).toContain('\nkeygate_store_pool_clients{state="total"} 4\nkeygate_store_pool_clients{state="idle"} 1\nkeygate_store_pool_clients{state="waiting"} 2\n');
  });

  it('counts an observation equal to a bound in that bucket (le is "less or equal"), cumulatively', async () => {
    const registry = new Registry();
    const histogram = new Histogram({ name: 'h_seconds', help: 'h', buckets: [0.1, 1], registers: [registry] });
    for (const value of [0.1, 0.5, 1, 3]) histogram.observe(value);
    expect(await registry.metrics()).toBe(
      ['# HELP h_seconds h', '# TYPE h_seconds histogram', 'h_seconds_bucket{le="0.1"} 1', 'h_seconds_bucket{le="1"} 3', 'h_seconds_bucket{le="+Inf"} 4', 'h_seconds_sum 4.6', 'h_seconds_count 4', ''].join('\n'),
    );
  });

  it('escapes label values and help text as the format requires', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'c_total', help: 'a \\ b\nc', labelNames: ['l'], registers: [registry] });
    counter.labels('say "hi"\\\n').inc(2);
    expect(await registry.metrics()).toBe('# HELP c_total a \\\\ b\\nc\n# TYPE c_total counter\nc_total{l="say \\"hi\\"\\\\\\n"} 2\n');
  });

  it('refuses a second metric of the same name, a wrong number of labels and a negative increment', () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'x_total', help: 'x', labelNames: ['a'], registers: [registry] });
    expect(() => new Counter({ name: 'x_total', help: 'x', registers: [registry] })).toThrow(/already been registered/);
    expect(() => counter.labels()).toThrow(/expected 1 label values/);
    expect(() => counter.labels('v').inc(-1)).toThrow(/decrease/);
  });
});
