import { describe, expect, it } from 'vitest';
import { KeygateMetrics } from '../../src/observability/metrics.js';

/** The gauges' sources, read at scrape time, without a server. */
describe('KeygateMetrics', () => {
  it('reads the queues and the pool when scraped, not before', async () => {
    const metrics = new KeygateMetrics();
    let audit = 0;
    metrics.readFrom({ auditQueue: () => audit, usageQueue: () => 3, analyticsQueue: () => 5, analyticsDropped: () => 2, store: { poolUsage: () => ({ total: 4, idle: 1, waiting: 2 }) } });
    audit = 7;
    const text = await metrics.registry.metrics();
    expect(text).toContain('\nkeygate_audit_queue_events 7\n');
    expect(text).toContain('\nkeygate_usage_queue_keys 3\n');
    expect(text).toContain('\nkeygate_usage_analytics_queue_series 5\n');
    expect(text).toContain('\nkeygate_usage_dropped_total 2\n');
    expect(text).toContain('\nkeygate_store_pool_clients{state="total"} 4\nkeygate_store_pool_clients{state="idle"} 1\nkeygate_store_pool_clients{state="waiting"} 2\n');
  });
});
