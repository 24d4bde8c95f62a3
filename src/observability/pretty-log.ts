/**
 * Readable log lines for a person at a terminal (`LOG_FORMAT=pretty`, or stdout is a TTY),
 * made from pino's JSON lines in this process: no worker thread, no transport, no dependency.
 * Machines get the JSON lines untouched.
 *
 *   11:20:03.123 INFO  [req_4f…] request failed
 *       err: Error: boom
 *           at …
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has or that the first line already shows. */
const SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId']);

/**
 * One pino JSON line as readable text (ending in a newline); a line that is not JSON is kept as it is.
 *
 * @example
 * formatLogLine('{"level":30,"time":0,"msg":"hi","reqId":"req_1"}', { color: false }); // "00:00:00.000 INFO  [req_1] hi\n"
 */
export function formatLogLine(line: string, options: { color: boolean }): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof record['level'] === 'number' ? record['level'] : 30;
  const name = (LEVELS[level] ?? String(level)).padEnd(5);
  const time = typeof record['time'] === 'number' ? new Date(record['time']).toISOString().slice(11, 23) : '';
  const request = typeof record['reqId'] === 'string' ? ` [${record['reqId']}]` : '';
  const head = `${time} ${options.color ? `\u001b[${COLORS[level] ?? '0'}m${name}\u001b[0m` : name}${request} ${String(record['msg'] ?? '')}`;
  const details: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (SHOWN.has(key) || value === undefined) continue;
    details.push(`    ${key}: ${describe(value).replace(/\n/g, '\n        ')}`);
  }
  return [head, ...details].join('\n') + '\n';
}

/**
 * A pino destination writing readable lines to `out`.
 *
 * @example
 * Fastify({ logger: { stream: prettyLogStream(process.stdout) } });
 */
export function prettyLogStream(out: { write(text: string): unknown; isTTY?: boolean }): { write(line: string): void } {
  const color = out.isTTY === true && process.env['NO_COLOR'] === undefined;
  return { write: (line) => void out.write(formatLogLine(line, { color })) };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { stack?: unknown }).stack === 'string') {
    return (value as { stack: string }).stack;
  }
  return JSON.stringify(value);
}
