/**
 * Shared by the people benchmarks (bench/refresh-grant.ts, bench/authorization-code.ts): a lean
 * keep-alive HTTP client over node:http (fetch costs the load generator several times more CPU,
 * and here the load generator shares two cores with the server), a cookie-jar "browser" that
 * follows no redirect by itself, PKCE, and the Keygate setup for the authorization-code flow
 * (tenant, API with refresh tokens, one person, one confidential client), done through the
 * management API and the sign-in and consent pages exactly as an operator and a person would.
 * Nothing here is timed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export const PEOPLE_TENANT = 'people';
export const PEOPLE_API = 'https://api.people.bench';
export const PEOPLE_SCOPE = 'read:users';
export const PEOPLE_REDIRECT = 'http://127.0.0.1:9/cb';
export const PEOPLE_PERSON = { email: 'ada@example.com', password: 'correct horse battery staple', name: 'Ada' };
/** Keygate's defaults, given to oidc-provider as well: access tokens 3600 s, refresh tokens idle 14 days. */
export const ACCESS_TOKEN_TTL_S = 3600;
export const REFRESH_IDLE_TTL_S = 1_209_600;

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A keep-alive agent for 127.0.0.1 with at most `sockets` connections (one per concurrent chain). */
export function keepAliveAgent(sockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}

/** One HTTP/1.1 request; the whole answer is read. Bounded by `timeoutMs`. */
export function send(agent: Agent, url: URL, method: 'GET' | 'POST', headers: Record<string, string>, body: string | null, timeoutMs = 10_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, agent, headers: body === null ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url.pathname}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * A person's browser reduced to a cookie jar (paths and expiry ignored: one origin, one person)
 * over a keep-alive connection. Redirects are returned, not followed, so each step can be timed.
 */
export class Browser {
  private readonly cookies = new Map<string, string>();
  private readonly agent = keepAliveAgent(1);

  get(url: string): Promise<HttpAnswer & { location: string | null }> {
    return this.send(url, 'GET', null);
  }

  post(url: string, fields: Record<string, string | string[]>): Promise<HttpAnswer & { location: string | null }> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) form.append(name, v);
    return this.send(url, 'POST', form.toString());
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  close(): void {
    this.agent.destroy();
  }

  private async send(url: string, method: 'GET' | 'POST', body: string | null): Promise<HttpAnswer & { location: string | null }> {
    const target = new URL(url);
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== null) headers['content-type'] = 'application/x-www-form-urlencoded';
    const answer = await send(this.agent, target, method, headers, body);
    for (const line of answer.headers['set-cookie'] ?? []) {
      const pair = line.split(';', 1)[0]!;
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = answer.headers.location;
    return { ...answer, location: location === undefined ? null : new URL(location, target).toString() };
  }
}

/** The value of a hidden input in a page. */
export function hidden(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no hidden field "${name}" in the page`);
  return match[1]!.replace(/&amp;/g, '&');
}

/** The code in a redirect to the client, after checking state (and iss when given). */
export function codeFrom(location: string | null, state: string, issuer?: string): string {
  if (location === null || !location.startsWith(`${PEOPLE_REDIRECT}?`)) throw new Error(`expected a redirect to the client, got ${location}`);
  const params = new URL(location).searchParams;
  if (params.get('state') !== state) throw new Error(`state mismatch in ${location}`);
  if (issuer !== undefined && params.get('iss') !== issuer) throw new Error(`iss mismatch in ${location}`);
  const code = params.get('code');
  if (code === null) throw new Error(`no code in ${location}`);
  return code;
}

/** What bench/servers/oidc-provider-people-server.ts prints when it listens. */
export interface OidcPeopleServerInfo {
  url: string;
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  jwksUrl: string;
  clientId: string;
  clientSecret: string;
  version: string;
}

export interface KeygatePeopleSetup {
  url: string;
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  jwksUrl: string;
  clientId: string;
  clientSecret: string;
}

async function management<T>(url: string, rootKey: string, method: 'POST' | 'PATCH', path: string, body: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${rootKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status < 200 || response.status > 299) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}

/**
 * Tenant (EdDSA, the default), API with one scope, refresh tokens enabled with Keygate's default
 * lifetimes (idle 14 days), access tokens 3600 s (the default), one person, one confidential
 * client_secret_basic client for authorization_code + refresh_token.
 */
export async function setupKeygatePeople(server: { url: string; rootKey: string }): Promise<KeygatePeopleSetup> {
  const { url, rootKey } = server;
  const tenant = await management<{ issuer: string }>(url, rootKey, 'POST', '/v1/tenants', { slug: PEOPLE_TENANT, name: 'People bench' });
  await management(url, rootKey, 'POST', `/v1/tenants/${PEOPLE_TENANT}/apis`, {
    identifier: PEOPLE_API,
    name: 'People bench API',
    accessTokenTtl: ACCESS_TOKEN_TTL_S,
    scopes: [{ name: PEOPLE_SCOPE, description: 'Read users' }],
  });
  await management(url, rootKey, 'PATCH', `/v1/tenants/${PEOPLE_TENANT}/apis/${encodeURIComponent(PEOPLE_API)}`, { refreshTokens: { enabled: true, idleTtl: REFRESH_IDLE_TTL_S } });
  await management(url, rootKey, 'POST', `/v1/tenants/${PEOPLE_TENANT}/users`, PEOPLE_PERSON);
  const client = await management<{ clientId: string; clientSecret: string }>(url, rootKey, 'POST', `/v1/tenants/${PEOPLE_TENANT}/clients`, {
    name: 'People bench app',
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    redirectUris: [PEOPLE_REDIRECT],
    scopes: { [PEOPLE_API]: [PEOPLE_SCOPE] },
  });
  return {
    url,
    issuer: tenant.issuer,
    authorizationEndpoint: `${tenant.issuer}/oauth/authorize`,
    tokenEndpoint: `${tenant.issuer}/oauth/token`,
    jwksUrl: `${tenant.issuer}/.well-known/jwks.json`,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
  };
}

/** The authorization request both servers get: code + PKCE S256 + state + resource + scope. */
export function authorizeUrl(endpoint: string, clientId: string, challenge: string, state: string): string {
  const params = new URLSearchParams({
    client_id: clientId,
    redirect_uri: PEOPLE_REDIRECT,
    response_type: 'code',
    scope: PEOPLE_SCOPE,
    resource: PEOPLE_API,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  });
  return `${endpoint}?${params}`;
}

/** The code-exchange form both token endpoints get. */
export function codeForm(code: string, verifier: string): string {
  return new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: PEOPLE_REDIRECT, code_verifier: verifier }).toString();
}

export function refreshForm(refreshToken: string): string {
  return new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString();
}

/**
 * Signs the person in at Keygate and consents once (login page, sign-in form, consent page,
 * consent form with CSRF): afterwards the browser holds a session and the grant is remembered.
 * Returns the code of that first round.
 */
export async function keygateFirstConsent(browser: Browser, setup: KeygatePeopleSetup, challenge: string, state: string): Promise<string> {
  let step = await browser.get(authorizeUrl(setup.authorizationEndpoint, setup.clientId, challenge, state));
  if (step.status !== 303 || step.location === null || !step.location.includes('/login')) throw new Error(`authorize: expected a redirect to sign-in, got ${step.status} ${step.location}`);
  const login = await browser.get(step.location);
  const loginAction = step.location.split('?')[0]!;
  step = await browser.post(loginAction, { csrf: hidden(login.body, 'csrf'), interaction: hidden(login.body, 'interaction'), ...PEOPLE_PERSON });
  if (step.status !== 303 || step.location === null) throw new Error(`sign-in failed: ${step.status} ${step.body.slice(0, 200)}`);
  const consent = await browser.get(step.location);
  if (consent.status !== 200) throw new Error(`consent page: HTTP ${consent.status} ${consent.location}`);
  step = await browser.post(step.location.split('?')[0]!, { csrf: hidden(consent.body, 'csrf'), interaction: hidden(consent.body, 'interaction'), decision: 'allow', scope: [PEOPLE_SCOPE] });
  return codeFrom(step.location, state, setup.issuer);
}

/**
 * One round with a session and a remembered grant: GET /authorize → 303 straight to the client
 * with a code (Keygate skips the consent hop when the grant covers the request). Returns the code
 * and the time of the hop (ms).
 */
export async function keygateRememberedCode(browser: Browser, setup: KeygatePeopleSetup, challenge: string, state: string, clock: () => number): Promise<{ code: string; authorizeMs: number }> {
  const t0 = clock();
  const first = await browser.get(authorizeUrl(setup.authorizationEndpoint, setup.clientId, challenge, state));
  const t1 = clock();
  if (first.status !== 303 || first.location === null || first.location.includes('/consent?')) {
    throw new Error(`authorize: expected a redirect to the client with a code, got ${first.status} ${first.location}`);
  }
  return { code: codeFrom(first.location, state, setup.issuer), authorizeMs: t1 - t0 };
}

/** The tokens of a successful token-endpoint answer, or an error naming what came back. */
export function tokensOf(answer: HttpAnswer, what: string): { access_token: string; refresh_token: string; token_type: string; expires_in: number; scope?: string } {
  if (answer.status !== 200) throw new Error(`${what}: HTTP ${answer.status} ${answer.body.slice(0, 300)}`);
  const json = JSON.parse(answer.body) as Record<string, unknown>;
  if (typeof json['access_token'] !== 'string' || typeof json['refresh_token'] !== 'string') throw new Error(`${what}: no access_token and refresh_token in ${answer.body.slice(0, 300)}`);
  return json as ReturnType<typeof tokensOf>;
}
