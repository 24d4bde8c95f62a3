import { Person } from '../../helpers/person.js';
import { expectStatus, type TestServer } from '../../helpers/server.js';

export const OPERATOR_PASSWORD = 'an operator password long enough';

/** An operator created with the root key through /v1/operators; returns its id. */
export async function createOperator(t: TestServer, input: { email: string; scopes: string[]; tenant?: string; name?: string }): Promise<string> {
  const response = await t.call('POST', '/v1/operators', { ...input, password: OPERATOR_PASSWORD });
  expectStatus(response, 201);
  return response.body.id;
}

/** A browser signed in to the console as the operator (a session cookie). */
export async function signedInOperator(t: TestServer, email: string): Promise<Person> {
  const person = new Person(t.url);
  const login = await person.get('/console/login');
  const response = await person.post('/console/login', { csrf: Person.hidden(login.html, 'csrf'), email, password: OPERATOR_PASSWORD });
  if (response.status !== 303) throw new Error(`console sign-in failed: HTTP ${response.status}: ${response.html.slice(0, 300)}`);
  return person;
}

/** The CSRF token of the operator's forms, read from a console page. */
export async function consoleCsrf(person: Person, path = '/console'): Promise<string> {
  const page = await person.get(path);
  if (page.status !== 200) throw new Error(`GET ${path}: HTTP ${page.status}`);
  return Person.hidden(page.html, 'csrf');
}
