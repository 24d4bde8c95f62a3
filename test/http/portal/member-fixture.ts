import { Person } from '../../helpers/person.js';
import { expectStatus, type TestServer } from '../../helpers/server.js';

export const PASSWORD = 'a long enough password';

/** A tenant user; returns its id. */
export async function createUser(t: TestServer, email: string, slug = 'acme'): Promise<string> {
  const response = await t.call('POST', `/v1/tenants/${slug}/users`, { email, password: PASSWORD });
  expectStatus(response, 201);
  return response.body.id;
}

/** A consumer of `slug` with these members and grants; returns its id and its grant keys' ids. */
export async function createConsumer(t: TestServer, input: { name: string; members: string[]; grants: Record<string, unknown>[] }, slug = 'acme'): Promise<{ id: string; grants: { grantKeyId: string }[] }> {
  const response = await t.call('POST', `/v1/tenants/${slug}/consumers`, input);
  expectStatus(response, 201);
  return response.body;
}

/** A person signed in to the tenant's pages (a session and a CSRF cookie). */
export async function signedIn(t: TestServer, email: string, slug = 'acme'): Promise<Person> {
  const person = new Person(t.url);
  const login = await person.get(`/t/${slug}/login`);
  const response = await person.post(`/t/${slug}/login`, { csrf: Person.hidden(login.html, 'csrf'), email, password: PASSWORD });
  if (response.status !== 303) throw new Error(`sign-in failed: HTTP ${response.status}`);
  return person;
}
