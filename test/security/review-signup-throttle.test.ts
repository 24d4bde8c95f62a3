import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGN_UPS_PER_IP } from '../../src/services/users-service.js';
import { BACKENDS } from '../helpers/backends.js';
import { Person } from '../helpers/person.js';
import { snapshotAll } from '../helpers/snapshot.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of invariant 7 (issue 7): self sign-up is throttled per source like sign-in and reset.
 * Unthrottled, anyone could create accounts without end on a tenant that allows sign-up, each one
 * a scrypt in the instance's one PasswordHasher, which every tenant's sign-ins share: a flood of
 * sign-ups made other tenants' people wait (429) and filled the users table.
 */
describe.each(BACKENDS)('self sign-up (%s)', (backend) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { selfSignup: true }), 200);
  });
  afterAll(() => t?.close());

  it(`takes ${SIGN_UPS_PER_IP} sign-ups from one source in the window, then answers 429 and creates nobody`, async () => {
    const person = new Person(t.url);
    const csrf = Person.hidden((await person.get(`${t.url}/t/acme/signup`)).html, 'csrf');
    const signUp = (i: number) => person.post(`${t.url}/t/acme/signup`, { csrf, name: `Flood ${i}`, email: `flood-${i}@example.com`, password: 'a long enough password' });
    for (let i = 0; i < SIGN_UPS_PER_IP; i++) expect((await signUp(i)).status).toBe(303);
    const users = async (): Promise<number> => (JSON.parse(await snapshotAll(t.backend)) as Record<string, string[]>)['users']!.length;
    const before = await users();
    const refused = await signUp(SIGN_UPS_PER_IP);
    expect(refused.status).toBe(429);
    expect(refused.html).toContain('Too many sign-ups from here');
    expect(await users()).toBe(before);
  });
});
