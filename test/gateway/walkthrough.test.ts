import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { freePort } from '../helpers/free-port.js';

const run = promisify(execFile);

/** docs/gateway.md's five-minute walkthrough must work verbatim: run it in bash against a real server. */
describe('docs/gateway.md walkthrough', () => {
  let t: TestServer;
  const doc = readFileSync(new URL('../../docs/gateway.md', import.meta.url), 'utf8');
  const block = /<!-- gateway:start -->\n```sh\n([\s\S]*?)```\n<!-- gateway:end -->/.exec(doc)![1]!;
  const rootKey = /KEYGATE_ROOT_KEY=(\S+)/.exec(block)![1]!;
  const cwd = mkdtempSync(join(tmpdir(), 'keygate-gateway-doc-'));

  beforeAll(async () => {
    t = await startTestServer('sqlite', { rootKey, gatewayPort: 0 });
  });
  afterAll(async () => {
    await t.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('protects the stand-in API: allowed, public, 401 without a key, 403 without the scope', async () => {
    // Only the export line changes: the test server and the stand-in listen on ephemeral ports.
    const script = block.replace(/^export KEYGATE_URL=.*$/m, '');
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
      cwd,
      env: { ...process.env, KEYGATE_URL: t.url, GATEWAY_URL: t.server.gatewayUrl!, UPSTREAM_PORT: String(await freePort()), KEYGATE_ROOT_KEY: rootKey },
    });
    const printed = /prints\n\n```\n([\s\S]*?)```/.exec(doc)![1]!;
    expect(stdout).toBe(printed);
  });
});
