import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { RESET_LINKS_PER_ACCOUNT, RESET_REQUESTS_PER_IP } from '../../src/services/users-service.js';
import { BACKENDS, type BackendName } from '../helpers/backends.js';
import { Person } from '../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const CALLBACK = 'http://127.0.0.1:9/callback';
const PERSON = { email: 'reset@example.com', password: 'the old password' };
const NEW_PASSWORD = 'a brand new password';

/**
 * Everything the server process writes: its logger stream, stdout, stderr and the console. A
 * reset token must never appear in any of them.
 */
class OutputCapture {
  readonly lines: string[] = [];
  readonly stream = { write: (line: string): void => void this.lines.push(line) };

  start(): void {
    for (const target of [process.stdout, process.stderr]) {
      const write = target.write.bind(target);
      vi.spyOn(target, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
        this.lines.push(String(chunk));
        return write(chunk, ...rest);
      }) as typeof target.write);
    }
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void this.lines.push(args.map(String).join(' ')));
    }
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** Starts the server under capture, with a tenant, a person, and an app holding a refresh token of theirs. */
async function startWithPerson(backend: BackendName, overrides: Partial<Config>, capture: OutputCapture) {
  const t = await startTestServer(backend, overrides, { logStream: capture.stream });
  const { api } = await seedTenant(t);
  expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { refreshTokens: { enabled: true, idleTtl: 3600, absoluteTtl: 86_400 } }), 200);
  expectStatus(await t.call('POST', '/v1/tenants/acme/users', PERSON), 201);
  const registered = await t.call('POST', '/v1/tenants/acme/clients', {
    name: 'Photo Printer',
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'none',
    redirectUris: [CALLBACK],
    scopes: { [api]: ['read:users'] },
  });
  expectStatus(registered, 201);
  const issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer as string;
  const app = await client.discovery(new URL(issuer), registered.body.clientId, { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }, client.None(), {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(app, { redirect_uri: CALLBACK, scope: 'read:users', resource: api, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
  // The person's browser: signed in to the portal, and the app it authorized.
  const browser = new Person(t.url);
  const callback = await browser.authorize(url.toString(), PERSON);
  const tokens = await client.authorizationCodeGrant(app, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
  expect(tokens.refresh_token).toBeTruthy();
  expect((await browser.get(`${t.url}/t/acme/account/apps`)).status).toBe(200);
  return { t, app, browser, refreshToken: tokens.refresh_token! };
}

/** Asks for a reset link for an unknown and a known email; both answers must be the same. */
async function requestResets(t: TestServer): Promise<void> {
  const person = new Person(t.url);
  const form = await person.get(`${t.url}/t/acme/password-reset`);
  expect(form.status).toBe(200);
  const csrf = Person.hidden(form.html, 'csrf');
  const unknown = await person.post(`${t.url}/t/acme/password-reset`, { csrf, email: 'nobody@example.com' });
  const known = await person.post(`${t.url}/t/acme/password-reset`, { csrf, email: PERSON.email });
  expect([unknown.status, known.status]).toEqual([200, 200]);
  expect(known.html).toBe(unknown.html);
  expect(known.html).toContain('If an account uses that email');
}

/** Follows a reset link as the person would, sets the new password, and checks what ended. */
async function completeReset(t: TestServer, link: string, before: Awaited<ReturnType<typeof startWithPerson>>): Promise<string> {
  expect(link.startsWith(`${t.url}/t/acme/password-reset/confirm?token=`)).toBe(true);
  // The page's URL holds the token: the browser must not send it on as a Referer.
  expect((await fetch(link)).headers.get('referrer-policy')).toBe('no-referrer');
  const person = new Person(t.url);
  const page = await person.get(link);
  expect(page.status).toBe(200);
  const token = Person.hidden(page.html, 'token');
  const csrf = Person.hidden(page.html, 'csrf');
  const done = await person.post(`${t.url}/t/acme/password-reset/confirm`, { csrf, token, password: NEW_PASSWORD });
  expect([done.status, done.location]).toEqual([303, `${t.url}/t/acme/login`]);
  // Single use: the same link sets nothing a second time.
  expect((await person.post(`${t.url}/t/acme/password-reset/confirm`, { csrf, token, password: 'yet another password' })).status).toBe(400);

  // The old session and the app's refresh token are gone.
  expect((await before.browser.get(`${t.url}/t/acme/account/apps`)).location).toBe(`${t.url}/t/acme/login`);
  await expect(client.refreshTokenGrant(before.app, before.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
  // The old password is refused, the new one works.
  const login = new Person(t.url);
  const loginCsrf = Person.hidden((await login.get(`${t.url}/t/acme/login`)).html, 'csrf');
  expect((await login.post(`${t.url}/t/acme/login`, { csrf: loginCsrf, ...PERSON })).status).toBe(401);
  expect((await login.post(`${t.url}/t/acme/login`, { csrf: loginCsrf, email: PERSON.email, password: NEW_PASSWORD })).status).toBe(303);
  return token;
}

describe.each(BACKENDS)('password reset (%s)', (backend) => {
  let capture: OutputCapture;
  beforeEach(() => {
    capture = new OutputCapture();
    capture.start();
  });
  afterEach(() => vi.restoreAllMocks());

  describe('by mail through SMTP', () => {
    const mails: { to: string[]; raw: string }[] = [];
    const arrivals = new EventEmitter();
    let smtp: SMTPServer;
    let smtpUrl: string;

    beforeAll(async () => {
      smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
            arrivals.emit('mail');
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
      smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => smtp.close(() => resolve())));

    it('mails a one-time link to the account only, which sets the password and ends sessions and refresh tokens; the token is in no log', async () => {
      const setup = await startWithPerson(backend, { smtpUrl, smtpFrom: 'Acme <no-reply@acme.test>' }, capture);
      try {
        const arrived = once(arrivals, 'mail');
        await requestResets(setup.t);
        await arrived;
        expect(mails.map((m) => m.to)).toEqual([[PERSON.email]]);
        expect(mails[0]!.raw).toMatch(/^From: Acme <no-reply@acme\.test>/m);
        const link = /https?:\/\/\S+\/password-reset\/confirm\?token=[A-Za-z0-9_-]+/.exec(quotedPrintableDecode(mails[0]!.raw))?.[0];
        expect(link).toBeDefined();
        const token = await completeReset(setup.t, link!, setup);
        expect(capture.text()).not.toContain(token);
        // Nothing else was sent: the unknown email got no mail.
        expect(mails).toHaveLength(1);
      } finally {
        await setup.t.close();
      }
    });
  });

  describe('by a signed webhook', () => {
    const secret = randomBytes(32).toString('base64url');
    const deliveries: { signature: string; body: string }[] = [];
    const arrivals = new EventEmitter();
    let receiver: Server;
    let webhookUrl: string;

    beforeAll(async () => {
      receiver = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          deliveries.push({ signature: String(request.headers['keygate-signature']), body: Buffer.concat(chunks).toString('utf8') });
          response.writeHead(204).end();
          arrivals.emit('delivery');
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/keygate-events`;
    });
    afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

    it('posts the link signed with HMAC-SHA256 over timestamp and body, which a receiver verifies as docs/people.md shows', async () => {
      const setup = await startWithPerson(backend, { webhookUrl, webhookSecret: secret }, capture);
      try {
        const arrived = once(arrivals, 'delivery');
        await requestResets(setup.t);
        await arrived;
        expect(deliveries).toHaveLength(1);
        const { signature, body } = deliveries[0]!;
        expect(verifySignature(secret, signature, body)).toBe(true);
        // The signature binds the secret, the body and the timestamp.
        expect(verifySignature(randomBytes(32).toString('base64url'), signature, body)).toBe(false);
        expect(verifySignature(secret, signature, body.replace(PERSON.email, 'mallory@example.com'))).toBe(false);
        expect(verifySignature(secret, signature.replace(/t=(\d+)/, (_, t) => `t=${Number(t) - 1}`), body)).toBe(false);
        const event = JSON.parse(body) as { type: string; tenant: string; email: string; url: string; expiresAt: string };
        expect({ type: event.type, tenant: event.tenant, email: event.email }).toEqual({ type: 'password_reset', tenant: 'acme', email: PERSON.email });
        const token = await completeReset(setup.t, event.url, setup);
        expect(capture.text()).not.toContain(token);
      } finally {
        await setup.t.close();
      }
    });
  });

  describe('requests are bounded', () => {
    it(`sends at most ${RESET_LINKS_PER_ACCOUNT} links per account, and answers a source past ${RESET_REQUESTS_PER_IP} requests with 429`, async () => {
      const sent: string[] = [];
      const t = await startTestServer(backend, {}, { onPasswordReset: ({ email }) => void sent.push(email) });
      try {
        await seedTenant(t);
        expectStatus(await t.call('POST', '/v1/tenants/acme/users', PERSON), 201);
        const person = new Person(t.url);
        const csrf = Person.hidden((await person.get(`${t.url}/t/acme/password-reset`)).html, 'csrf');
        const ask = (email: string) => person.post(`${t.url}/t/acme/password-reset`, { csrf, email });
        const answers = [];
        for (let i = 0; i < RESET_LINKS_PER_ACCOUNT + 2; i++) answers.push(await ask(PERSON.email));
        for (let i = answers.length; i < RESET_REQUESTS_PER_IP; i++) answers.push(await ask(`nobody-${i}@example.com`));
        // The same answer every time, whether a link went out, was held back, or there is no account.
        expect(new Set(answers.map((a) => `${a.status} ${a.html}`)).size).toBe(1);
        expect(sent).toEqual(Array(RESET_LINKS_PER_ACCOUNT).fill(PERSON.email));
        const throttled = await fetch(`${t.url}/t/acme/password-reset`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kg_csrf=${person.cookie('kg_csrf')}` },
          body: new URLSearchParams({ csrf, email: 'someone@example.com' }).toString(),
        });
        expect(throttled.status).toBe(429);
        expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(sent).toHaveLength(RESET_LINKS_PER_ACCOUNT);
      } finally {
        await t.close();
      }
    });
  });

  describe('when delivery fails', () => {
    it('answers the person as usual and reports the failure without the link', async () => {
      const deliveries: string[] = [];
      const receiver = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          deliveries.push(Buffer.concat(chunks).toString('utf8'));
          response.writeHead(500).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
      const t = await startTestServer(backend, { webhookUrl, webhookSecret: randomBytes(32).toString('base64url') }, { logStream: capture.stream });
      try {
        await seedTenant(t);
        expectStatus(await t.call('POST', '/v1/tenants/acme/users', PERSON), 201);
        await requestResets(t);
        await vi.waitFor(() => expect(capture.text()).toContain('password-reset delivery failed for tenant acme'));
        const { url } = JSON.parse(deliveries[0]!) as { url: string };
        expect(capture.text()).not.toContain(new URL(url).searchParams.get('token'));
      } finally {
        await t.close();
        await new Promise<void>((resolve) => receiver.close(() => resolve()));
      }
    });
  });

  describe('with neither configured', () => {
    it('says password reset is disabled, makes no token and logs nothing about it', async () => {
      const t = await startTestServer(backend, {}, { logStream: capture.stream });
      try {
        await seedTenant(t);
        expectStatus(await t.call('POST', '/v1/tenants/acme/users', PERSON), 201);
        const person = new Person(t.url);
        const signIn = await person.get(`${t.url}/t/acme/login`);
        expect(signIn.html).not.toContain('/password-reset');
        const page = await person.get(`${t.url}/t/acme/password-reset`);
        expect(page.status).toBe(404);
        expect(page.html).toContain('Password reset is disabled');
        const csrf = Person.hidden(signIn.html, 'csrf');
        const asked = await person.post(`${t.url}/t/acme/password-reset`, { csrf, email: PERSON.email });
        expect(asked.status).toBe(404);
        expect(asked.html).toContain('Password reset is disabled');
        // The server's logger writes into the capture (so its silence about tokens means something).
        expect(capture.text()).toContain('Server listening at');
        expect(capture.text()).not.toMatch(/password-reset\/confirm|token=/);
        // Nothing changed: the password is the one it was.
        expect((await person.post(`${t.url}/t/acme/login`, { csrf, ...PERSON })).status).toBe(303);
      } finally {
        await t.close();
      }
    });
  });
});

/** What a receiver does with `Keygate-Signature: t=…,v1=…` (docs/people.md), with a five-minute tolerance. */
function verifySignature(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((part) => part.split('=') as [string, string]));
  const timestamp = Number(parts['t']);
  if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
  const given = Buffer.from(parts['v1'] ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Mail bodies may be quoted-printable (soft line breaks, `=3D` for `=`). */
function quotedPrintableDecode(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
