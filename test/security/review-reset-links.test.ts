import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PasswordResetMessage } from '../../src/services/password-reset-delivery.js';
import { BACKENDS } from '../helpers/backends.js';
import { Person } from '../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const PERSON = { email: 'ada@example.com', password: 'the old password' };

/**
 * Review of invariant 8 (issue 7): a completed reset ends every other reset link of the person.
 * Up to three links go out per window and each lived its 30 minutes, so whoever read one of the
 * others (the mailbox the person is recovering from) could set the password again right after
 * the person had set theirs.
 */
describe.each(BACKENDS)('a completed password reset (%s)', (backend) => {
  let t: TestServer;
  const sent: PasswordResetMessage[] = [];

  async function requestLink(): Promise<void> {
    const person = new Person(t.url);
    const csrf = Person.hidden((await person.get(`${t.url}/t/acme/password-reset`)).html, 'csrf');
    expect((await person.post(`${t.url}/t/acme/password-reset`, { csrf, email: PERSON.email })).status).toBe(200);
  }
  async function useLink(message: PasswordResetMessage, password: string): Promise<number> {
    const person = new Person(t.url);
    const page = await person.get(message.url);
    return (await person.post(`${t.url}/t/acme/password-reset/confirm`, { csrf: Person.hidden(page.html, 'csrf'), token: Person.hidden(page.html, 'token'), password })).status;
  }
  async function signIn(password: string): Promise<number> {
    const person = new Person(t.url);
    const csrf = Person.hidden((await person.get(`${t.url}/t/acme/login`)).html, 'csrf');
    return (await person.post(`${t.url}/t/acme/login`, { csrf, email: PERSON.email, password })).status;
  }

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { onPasswordReset: (message) => void sent.push(message) });
    await seedTenant(t);
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', PERSON), 201);
  });
  afterAll(() => t?.close());

  it("ends the person's other reset links", async () => {
    await requestLink();
    await requestLink();
    expect(sent).toHaveLength(2);
    expect(await useLink(sent[1]!, 'the person chose this')).toBe(303);
    expect(await useLink(sent[0]!, 'the intruder chose this')).toBe(400);
    expect(await signIn('the intruder chose this')).toBe(401);
    expect(await signIn('the person chose this')).toBe(303);
  });
});
