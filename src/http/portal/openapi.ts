/**
 * The portal's pages in /openapi.json: HTML for people, listed so the document covers every
 * route Keygate serves. Their forms carry a CSRF token the page itself sets (double-submit
 * cookie), so they are not an API a program should call.
 */

type Operation = Record<string, unknown>;

const PAGES: readonly { path: string; get?: string; post?: string; extra?: string }[] = [
  { path: '/t/{slug}/login', get: 'Sign-in page (`?interaction=` continues an authorization, `?next=` returns to a developer portal page)', post: 'Sign in with email and password: 303 on to consent or the account page; 401 or 429 (throttled) re-show the page' },
  { path: '/t/{slug}/logout', post: 'Sign out: ends the session' },
  { path: '/t/{slug}/consent', get: 'Consent page of a pending authorization (`?interaction=`)', post: 'Approve (some of) the scopes or deny: 303 back to the app with a code or `access_denied`' },
  { path: '/t/{slug}/account/apps', get: 'Connected apps of the signed-in person' },
  { path: '/t/{slug}/account/apps/{grantId}/revoke', post: 'Disconnect an app: revokes the grant, its refresh tokens and access tokens', extra: 'grantId' },
  { path: '/t/{slug}/signup', get: 'Sign-up page (tenants with self sign-up only)', post: 'Create an account and sign in' },
  { path: '/t/{slug}/password-reset', get: 'Ask for a password-reset link', post: 'Send a reset link if the email is known (the answer is the same either way)' },
  { path: '/t/{slug}/portal', get: 'Developer portal home of the signed-in consumer member: granted APIs and alerts' },
  { path: '/t/{slug}/portal/consumer', post: 'Pick the consumer to act for, among those the signed-in user is a member of' },
  { path: '/t/{slug}/portal/keys', get: 'The consumer\'s keys, and the forms to create one within its grant', post: 'Create a key within the consumer\'s grant: 201, the secret shown once (no-store)' },
  { path: '/t/{slug}/portal/keys/{keyId}/roll', post: 'Roll one of the consumer\'s keys with a grace period: 201, the new secret shown once', extra: 'keyId' },
  { path: '/t/{slug}/portal/keys/{keyId}/revoke', post: 'Revoke one of the consumer\'s keys and its sub-keys', extra: 'keyId' },
  { path: '/t/{slug}/portal/keys/{keyId}/subkey', get: 'The form for a sub-key of one of the consumer\'s keys', post: 'Create the sub-key: 201, the secret shown once', extra: 'keyId' },
  { path: '/t/{slug}/portal/usage', get: 'The consumer\'s requests by outcome per key and operation (`?window=hour|day|month&key=&operation=`), and its keys\' recent refused requests' },
  { path: '/t/{slug}/portal/apis', get: 'The APIs the consumer holds a grant on, each linking to its explorer' },
  { path: '/t/{slug}/portal/apis/{api}', get: 'The API explorer: the API\'s OpenAPI document with each operation\'s required scopes marked against the grant', extra: 'api' },
  { path: '/t/{slug}/portal/apis/{api}/token', post: 'A short-lived JWT (1–15 minutes) for the consumer with the ticked scopes, within its grant: 201, the token in the page or, with `Accept: application/json`, as JSON (no-store)', extra: 'api' },
  { path: '/t/{slug}/portal/apis/{api}/try', post: 'Send one declared operation through Keygate\'s own gateway with the posted token: its status, headers and body, in the page or as JSON', extra: 'api' },
  { path: '/t/{slug}/portal/debugger', get: 'The token debugger', post: 'The debugger with the posted token decoded and its verdict (without JavaScript)' },
  { path: '/t/{slug}/portal/debugger/verify', post: 'The verdict on the posted token for this tenant as JSON: signatureValid, expired, revoked, valid, reason' },
  { path: '/t/{slug}/portal/assets/{name}', get: 'A script of the developer portal (JavaScript)', extra: 'name' },
  { path: '/t/{slug}/password-reset/confirm', get: 'Choose a new password (`?token=` from the link)', post: 'Set the new password: ends the person\'s sessions and refresh tokens' },
];

const HTML = { content: { 'text/html': { schema: { type: 'string' } } } };

function parameters(extra: string | undefined): unknown[] {
  const slug = { name: 'slug', in: 'path', required: true, description: 'The tenant.', schema: { type: 'string' } };
  return extra ? [slug, { name: extra, in: 'path', required: true, schema: { type: 'string' } }] : [slug];
}

/**
 * The portal's paths, for /openapi.json.
 *
 * @example
 * document.paths = { ...document.paths, ...portalPaths() };
 */
export function portalPaths(): Record<string, Record<string, Operation>> {
  const paths: Record<string, Record<string, Operation>> = {};
  for (const page of PAGES) {
    const item: Record<string, Operation> = {};
    const common = { tags: ['portal'], security: [], parameters: parameters(page.extra) };
    if (page.get) item['get'] = { ...common, summary: page.get, responses: { '200': { description: 'The page.', ...HTML }, '404': { description: 'No such tenant: an error page.', ...HTML } } };
    if (page.post) {
      item['post'] = {
        ...common,
        summary: page.post,
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', description: 'The page\'s own form, with its CSRF token.' } } } },
        responses: {
          '303': { description: 'Done: on to the next page.' },
          '400': { description: 'A field is wrong: the page again, saying which.', ...HTML },
          '403': { description: 'Missing or wrong CSRF token.', ...HTML },
        },
      };
    }
    paths[page.path] = item;
  }
  return paths;
}
