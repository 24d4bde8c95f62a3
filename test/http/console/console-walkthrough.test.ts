import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Person } from '../../helpers/person.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * docs/console.md's first steps: the command that creates the first operator runs verbatim in
 * bash (`keygate` being the CLI from source), and the password it prints once signs in to the
 * console, which then shows what the operator's scopes reach. The pages' story itself runs in
 * test/e2e/console.test.ts.
 */
describe('docs/console.md walkthrough', () => {
  let t: TestServer;
  const doc = readFileSync(new URL('../../../docs/console.md', import.meta.url), 'utf8');
  const block = /<!-- console:start -->\n```sh\n([\s\S]*?)```\n<!-- console:end -->/.exec(doc)![1]!;
  const rootKey = /KEYGATE_ROOT_KEY=(\S+)/.exec(block)![1]!;
  const email = /--email (\S+)/.exec(block)![1]!;

  beforeAll(async () => {
    t = await startTestServer('sqlite', { rootKey });
  });
  afterAll(() => t.close());

  it('creates the first operator with the documented command, whose printed password signs in', async () => {
    // Only the export line changes (an ephemeral port); `keygate` is the CLI run from source.
    const script = `keygate() { node --import tsx ${ROOT}/src/cli/main.ts "$@"; }\n${block.replace(/^export KEYGATE_URL=\S+/m, 'export')}`;
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env: { ...process.env, KEYGATE_URL: t.url } });
    expect(stdout).toContain(`email    ${email}`);
    const password = /Password \(shown only once[^\n]*\n\n\s+(\S+)/.exec(stdout)![1]!;

    const operator = new Person(t.url);
    const login = await operator.get('/console/login');
    const signedIn = await operator.post('/console/login', { csrf: Person.hidden(login.html, 'csrf'), email, password });
    expect(signedIn.status).toBe(303);
    const home = await operator.get('/console');
    expect(home.status).toBe(200);
    expect(home.html).toContain('every tenant of this Keygate');
    for (const section of ['/console/tenants', '/console/debugger', '/console/operators']) expect(home.html).toContain(`href="${section}"`);
  });
});
