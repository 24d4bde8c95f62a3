import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { populateTenant, type PopulatedTenant } from '../helpers/populated-tenant.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue 8 against security.md §12: disabling a person revokes their refresh tokens in
 * one transaction, but a refresh that had already rotated its token went on to issue an access
 * token and a fresh refresh token (not revoked, of a live grant) after the disable committed: the
 * app kept refreshing for a person who can no longer sign in. The grant's person is checked when
 * a grant produces tokens.
 */
describe.each(BACKENDS)('a refresh racing a disable (%s)', (backend) => {
  let t: TestServer;
  let p: PopulatedTenant;

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { onPasswordReset: () => undefined });
    p = await populateTenant(t, 'acme');
  });
  afterAll(() => t?.close());

  it('gets no tokens once the person is disabled', async () => {
    const store = t.server.keygate.store.people;
    const rotate = store.rotateRefreshToken.bind(store);
    store.rotateRefreshToken = async (...args: Parameters<typeof rotate>) => {
      store.rotateRefreshToken = rotate;
      const rotated = await rotate(...args);
      // The disable commits between the rotation and the issue.
      const disabled = await t.call('PATCH', `/v1/tenants/acme/users/${p.userId}`, { disabled: true });
      expect(disabled.status).toBe(200);
      return rotated;
    };
    let outcome: string;
    try {
      await client.refreshTokenGrant(p.app, p.refreshToken);
      outcome = 'ok';
    } catch (err) {
      outcome = (err as { error?: string }).error ?? String(err);
    }
    expect(outcome).toBe('invalid_grant');
  });
});
