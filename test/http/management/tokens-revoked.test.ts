import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/run-cli.js';
import { BACKENDS } from '../../helpers/backends.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';

interface ListedToken {
  jti: string;
  consumer: string;
  revokedAt: string | null;
}

/**
 * Issue 8, item 9. `GET /v1/tenants/{slug}/tokens` shows a JWT API key as revoked exactly when
 * verify answers REVOKED for it: by its jti, or cut off with its consumer. Both come from
 * `revocationCause` (domain/tokens/revocation.ts), the rule every verifier applies.
 */
describe.each(BACKENDS)('the token list says what verify says about revocation (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  /** Keygate's clock stands still unless a test moves it, so "the second after the cut-off" is exact. */
  // Starts at a whole second of today, so the CLI (which reads the real clock) sees live tokens as active.
  let nowMs = Math.floor(Date.now() / 1000) * 1000;

  const issue = async (consumer: string): Promise<{ jti: string; token: string }> => {
    const response = await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer, scopes: ['read:users'] });
    expectStatus(response, 201);
    return response.body;
  };
  const listed = async (): Promise<Map<string, ListedToken>> => {
    const response = await t.call('GET', '/v1/tenants/acme/tokens?limit=100');
    expectStatus(response, 200);
    return new Map((response.body.items as ListedToken[]).map((token) => [token.jti, token]));
  };
  const verifyCode = async (credential: string): Promise<string> => {
    const response = await t.call('POST', '/v1/verify', { credential, api, scopes: ['read:users'] });
    expectStatus(response, 200);
    return response.body.code;
  };

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: () => nowMs });
    ({ api } = await seedTenant(t));
  });
  afterAll(() => t?.close());

  it('shows tokens cut off with their consumer as revoked at the cut-off, and nobody else\'s', async () => {
    const cut = [await issue('acme-co'), await issue('acme-co')];
    const bystander = await issue('globex');
    const byJti = await issue('initech');
    nowMs += 2000;
    expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${byJti.jti}/revoke`), 200);
    const cutOff = await t.call('POST', '/v1/tenants/acme/consumers/acme-co/revoke-tokens');
    expectStatus(cutOff, 200);
    nowMs += 1000;
    const after = await issue('acme-co');

    const tokens = await listed();
    for (const token of cut) {
      expect(tokens.get(token.jti)?.revokedAt).toBe(cutOff.body.notBefore);
      expect(await verifyCode(token.token)).toBe('REVOKED');
    }
    expect(tokens.get(byJti.jti)?.revokedAt).toBe(new Date(nowMs - 1000).toISOString());
    expect(await verifyCode(byJti.token)).toBe('REVOKED');
    expect(tokens.get(bystander.jti)?.revokedAt).toBeNull();
    expect(await verifyCode(bystander.token)).toBe('VALID');
    // Issued in a later second than the mark: the cut-off does not reach it, here or in verify.
    expect(tokens.get(after.jti)?.revokedAt).toBeNull();
    expect(await verifyCode(after.token)).toBe('VALID');
  });

  it('filters by consumer without losing the revocation', async () => {
    const response = await t.call('GET', '/v1/tenants/acme/tokens?consumer=acme-co');
    expectStatus(response, 200);
    const revoked = (response.body.items as ListedToken[]).map((token) => token.revokedAt !== null);
    expect(revoked.sort()).toEqual([false, true, true]);
  });

  it('shows the cut-off tokens as revoked in keygate token list', async () => {
    const run = await runCli(['token', 'list', '--consumer', 'acme-co', '--json'], { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' } });
    expect(run.code, run.stderr).toBe(0);
    const table = await runCli(['token', 'list', '--consumer', 'acme-co'], { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' } });
    const statuses = table.stdout.trimEnd().split('\n').slice(1).map((line) => line.split(/\s{2,}/)[1]);
    expect(statuses.sort()).toEqual(['active', 'revoked', 'revoked']);
    expect((JSON.parse(run.stdout).items as ListedToken[]).filter((token) => token.revokedAt !== null)).toHaveLength(2);
  });
});
