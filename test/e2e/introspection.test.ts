import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTROSPECTION_MISSES_PER_MINUTE } from '../../src/services/introspection-service.js';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { testClock } from '../helpers/clock.js';
import { seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const clock = testClock();

describe('introspection permissions and scanning protection (RFC 7662 §4)', () => {
  let t: TestServer;
  let owner: { clientId: string; clientSecret: string };
  let stranger: { clientId: string; clientSecret: string };
  let auditor: { clientId: string; clientSecret: string };
  let token: string;

  const introspect = (who: { clientId: string; clientSecret: string }, value: string) =>
    postForm(t, '/t/acme/oauth/introspect', { token: value }, { authorization: basic(who.clientId, who.clientSecret) });

  beforeAll(async () => {
    t = await startTestServer('sqlite', {}, { clock: clock.now });
    await seedTenant(t);
    owner = (await registerMachineClient(t)) as typeof owner;
    stranger = (await registerMachineClient(t)) as typeof stranger;
    auditor = (await registerMachineClient(t, { canIntrospect: true })) as typeof auditor;
    token = (await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: ORDERS_API }, { authorization: basic(owner.clientId, owner.clientSecret) })).body.access_token;
  });
  afterAll(() => t.close());

  it('shows a client its own tokens, a client with the introspect permission any token, and others nothing', async () => {
    expect((await introspect(owner, token)).body).toMatchObject({ active: true, client_id: owner.clientId });
    expect((await introspect(auditor, token)).body).toMatchObject({ active: true, client_id: owner.clientId });
    expect((await introspect(stranger, token)).body).toEqual({ active: false });
  });

  it('requires client authentication', async () => {
    const anonymous = await postForm(t, '/t/acme/oauth/introspect', { token });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('invalid_client');
  });

  it(`slows a client down after ${INTROSPECTION_MISSES_PER_MINUTE} inactive answers in a minute`, async () => {
    const scanner = (await registerMachineClient(t)) as typeof owner;
    for (let i = 0; i < INTROSPECTION_MISSES_PER_MINUTE; i++) {
      expect((await introspect(scanner, `guess.${i}.token`)).body).toEqual({ active: false });
    }
    const limited = await introspect(scanner, 'guess.again.token');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Retry-After is counted on Keygate's clock, the one the window expires on.
    clock.advance(45_000);
    expect(Number((await introspect(scanner, 'guess.later.token')).headers.get('retry-after'))).toBeLessThanOrEqual(15);
    // The limit is per client: the owner still introspects.
    expect((await introspect(owner, token)).body.active).toBe(true);
  });
});
