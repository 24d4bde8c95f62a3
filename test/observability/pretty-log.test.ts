import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../src/observability/pretty-log.js';

describe('formatLogLine', () => {
  const time = Date.UTC(2026, 11, 6, 11, 20, 3, 123);

  it('writes time, level, request id and message, then the other fields indented, errors by their stack', () => {
    const line = JSON.stringify({ level: 50, time, pid: 1, hostname: 'h', reqId: 'req_1', msg: 'request failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' }, requestId: 'req_1' });
    expect(formatLogLine(line, { color: false })).toBe(
      ['11:20:03.123 ERROR [req_1] request failed', '    err: Error: boom', '            at x', '    requestId: req_1', ''].join('\n'),
    );
  });

  it('colours the level only when asked', () => {
    const line = JSON.stringify({ level: 40, time, msg: 'careful' });
    expect(formatLogLine(line, { color: true })).toBe('11:20:03.123 \u001b[33mWARN \u001b[0m careful\n');
    expect(formatLogLine(line, { color: false })).toBe('11:20:03.123 WARN  careful\n');
  });

  it('keeps a line that is not JSON as it is', () => {
    expect(formatLogLine('plain text', { color: false })).toBe('plain text\n');
  });
});
