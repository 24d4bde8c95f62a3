/**
 * The console's pages in /openapi.json: HTML for signed-in operators, listed so the document
 * covers every route Keygate serves. Each acts through the management API as the operator
 * (docs/console.md), so it is not an API a program should call: call /v1 instead.
 */

type Operation = Record<string, unknown>;

const T = '/console/tenants/{slug}';

const PAGES: readonly { path: string; get?: string; post?: string; params?: string[] }[] = [
  { path: '/console', get: 'Console home: the signed-in operator, their reach and sections' },
  { path: '/console/login', get: 'Operator sign-in page (`?next=` returns to a console page)', post: 'Sign in: 303 to the console; 401 or 429 (throttled) re-show the page' },
  { path: '/console/logout', post: 'Sign out: ends the console session' },
  { path: '/console/assets/{name}', get: 'A script of the console (JavaScript)', params: ['name'] },
  { path: '/console/debugger', get: 'The verify tool and token debugger', post: 'Verify the posted credential as POST /v1/verify does, and decode it' },
  { path: '/console/operators', get: 'The operators the signed-in operator could have created', post: 'Create an operator: the password shown once in the answer (no-store)' },
  { path: '/console/operators/{id}', get: 'An operator', params: ['id'] },
  { path: '/console/operators/{id}/{action}', post: 'Disable, enable, reset the password of (shown once) or delete an operator', params: ['id', 'action'] },
  { path: '/console/tenants', get: 'Tenants, searched and paged', post: 'Create a tenant' },
  { path: T, get: 'A tenant: its settings and sections' },
  { path: `${T}/settings`, post: 'Change the tenant\'s name, self sign-up, signing algorithm and HS256 lifetime cap' },
  { path: `${T}/delete`, post: 'Delete the tenant and everything in it (the slug typed to confirm)' },
  { path: `${T}/apis`, get: 'The tenant\'s APIs, searched and paged', post: 'Create an API with its scope catalog' },
  { path: `${T}/apis/{identifier}`, get: 'An API: catalog, OpenAPI operations and the scopes each requires, token and gateway settings', params: ['identifier'] },
  { path: `${T}/apis/{identifier}/name`, post: 'Rename the API', params: ['identifier'] },
  { path: `${T}/apis/{identifier}/scopes`, post: 'Replace the scope catalog (with force: narrow what holds a dropped scope)', params: ['identifier'] },
  { path: `${T}/apis/{identifier}/tokens`, post: 'Change the access-token lifetime and refresh-token settings', params: ['identifier'] },
  { path: `${T}/apis/{identifier}/gateway`, post: 'Change the gateway settings', params: ['identifier'] },
  { path: `${T}/apis/{identifier}/openapi`, post: 'Upload the API\'s OpenAPI document', params: ['identifier'] },
  { path: `${T}/apis/{identifier}/delete`, post: 'Delete the API (with force: what uses it too)', params: ['identifier'] },
  { path: `${T}/consumers`, get: 'The tenant\'s consumers, searched and paged', post: 'Create a consumer with members and grants' },
  { path: `${T}/consumers/{id}`, get: 'A consumer: its grants with the keys under them, and its members', params: ['id'] },
  { path: `${T}/consumers/{id}/grants`, post: 'Change the consumer\'s grants (narrowing confirmed first)', params: ['id'] },
  { path: `${T}/consumers/{id}/keys`, post: 'Create a key for a member within a grant: the secret shown once', params: ['id'] },
  { path: `${T}/consumers/{id}/rename`, post: 'Rename the consumer', params: ['id'] },
  { path: `${T}/consumers/{id}/members/add`, post: 'Add a member', params: ['id'] },
  { path: `${T}/consumers/{id}/members/remove`, post: 'Remove a member', params: ['id'] },
  { path: `${T}/consumers/{id}/delete`, post: 'Delete the consumer, revoking its keys', params: ['id'] },
  { path: `${T}/keys`, get: 'The tenant\'s keys, found by start, name, consumer or API', post: 'Create a key: the secret shown once in the answer (no-store)' },
  { path: `${T}/keys/new`, get: 'The new-key form for an API (`?api=`)' },
  { path: `${T}/keys/{id}`, get: 'A key: settings, parent and sub-keys as a tree', params: ['id'] },
  { path: `${T}/keys/{id}/revoke`, get: 'What revoking the key takes with it', post: 'Revoke the key and its sub-keys', params: ['id'] },
  { path: `${T}/keys/{id}/roll`, post: 'Roll the key\'s secret with a grace period: the new secret shown once', params: ['id'] },
  { path: `${T}/keys/{id}/disable`, post: 'Disable the key', params: ['id'] },
  { path: `${T}/keys/{id}/enable`, post: 'Enable the key', params: ['id'] },
  { path: `${T}/clients`, get: 'The tenant\'s OAuth clients, searched and paged', post: 'Register a client: the secret shown once in the answer (no-store)' },
  { path: `${T}/clients/{id}`, get: 'A client: grant types, redirect URIs, allowances', params: ['id'] },
  { path: `${T}/clients/{id}/update`, post: 'Change the client\'s name, redirect URIs, allowances', params: ['id'] },
  { path: `${T}/clients/{id}/rotate`, post: 'Rotate the client\'s secret with a grace period: the new secret shown once', params: ['id'] },
  { path: `${T}/clients/{id}/revoke-tokens`, post: 'Revoke every token the client was issued', params: ['id'] },
  { path: `${T}/clients/{id}/delete`, post: 'Delete the client', params: ['id'] },
  { path: `${T}/users`, get: 'The tenant\'s users, searched and paged', post: 'Create a user' },
  { path: `${T}/users/{id}`, get: 'A user and their connected apps', params: ['id'] },
  { path: `${T}/users/{id}/update`, post: 'Change the user\'s name or email', params: ['id'] },
  { path: `${T}/users/{id}/disable`, post: 'Disable the user: sessions and tokens end', params: ['id'] },
  { path: `${T}/users/{id}/enable`, post: 'Enable the user', params: ['id'] },
  { path: `${T}/users/{id}/reset`, post: 'Send the user a password-reset link', params: ['id'] },
  { path: `${T}/users/{id}/delete`, post: 'Delete the user', params: ['id'] },
  { path: `${T}/users/{id}/grants/{grantId}/revoke`, post: 'Revoke one of the user\'s connected apps', params: ['id', 'grantId'] },
  { path: `${T}/signing-keys`, get: 'The tenant\'s signing keys (current, next, retired) and HS256 secrets' },
  { path: `${T}/signing-keys/rotate`, post: 'Rotate the signing key now' },
  { path: `${T}/signing-keys/hs256-secrets`, post: 'Create an HS256 secret: shown once' },
  { path: `${T}/signing-keys/hs256-secrets/{kid}/revoke`, post: 'Revoke an HS256 secret', params: ['kid'] },
  { path: `${T}/audit`, get: 'The tenant\'s audit log, filtered, with denials aggregated' },
  { path: `${T}/usage`, get: 'The tenant\'s usage by outcome over time, top consumers and keys, denial reasons' },
];

const HTML = { content: { 'text/html': { schema: { type: 'string' } } } };

function parameters(path: string, extra: readonly string[]): unknown[] {
  const names = [...(path.includes('{slug}') ? ['slug'] : []), ...extra];
  return names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
}

/**
 * The console's paths, for /openapi.json.
 *
 * @example
 * document.paths = { ...document.paths, ...consolePaths() };
 */
export function consolePaths(): Record<string, Record<string, Operation>> {
  const paths: Record<string, Record<string, Operation>> = {};
  for (const page of PAGES) {
    const item: Record<string, Operation> = {};
    const common = { tags: ['console'], security: [], parameters: parameters(page.path, page.params ?? []) };
    if (page.get) {
      item['get'] = { ...common, summary: page.get, responses: { '200': { description: 'The page.', ...HTML }, '303': { description: 'Not signed in: on to the sign-in page.' }, '404': { description: 'Nothing the operator may see: an error page.', ...HTML } } };
    }
    if (page.post) {
      item['post'] = {
        ...common,
        summary: page.post,
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', description: 'The page\'s own form, with its session-bound CSRF token.' } } } },
        responses: {
          '303': { description: 'Done: on to the next page.' },
          '400': { description: 'The management API refused a field: the page again, saying why.', ...HTML },
          '403': { description: 'No live session, a wrong CSRF token, or a scope the operator lacks.', ...HTML },
          '404': { description: 'Nothing the operator may act on.', ...HTML },
        },
      };
    }
    paths[page.path] = item;
  }
  return paths;
}
