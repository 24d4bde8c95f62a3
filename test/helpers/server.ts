import { startServer, type RunningServer } from '../../src/server.js';
import type { Config } from '../../src/config/schema.js';
import type { Clock } from '../../src/domain/clock.js';
import type { Cluster } from '../../src/cluster/cluster.js';
import type { PasswordResetHook } from '../../src/services/password-reset-delivery.js';
import { createBackend, type Backend, type BackendName } from './backends.js';

export const ROOT_KEY = 'test-root-key-0123456789abcdef0123456789';

export interface TestServer {
  url: string;
  server: RunningServer;
  backend: Backend;
  /** fetch against the server with the root key (or `auth`) and a JSON body. */
  call(method: string, path: string, body?: unknown, options?: { auth?: string | null; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

/** The real server on an ephemeral port, over a fresh store of the given backend. */
export async function startTestServer(backendName: BackendName = 'sqlite', overrides: Partial<Config> = {}, options: { clock?: Clock; cluster?: Cluster; logStream?: { write(line: string): void }; onPasswordReset?: PasswordResetHook } = {}): Promise<TestServer> {
  const backend = await createBackend(backendName);
  const server = await startServer(
    { port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, ...backend.config, ...overrides },
    {
      logger: options.logStream ? { level: 'trace', stream: options.logStream } : false,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.cluster ? { cluster: options.cluster } : {}),
      ...(options.onPasswordReset ? { onPasswordReset: options.onPasswordReset } : {}),
    },
  );
  return {
    url: server.url,
    server,
    backend,
    async call(method, path, body, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const auth = options.auth === undefined ? ROOT_KEY : options.auth;
      if (auth !== null) headers['authorization'] = `Bearer ${auth}`;
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] ??= 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const response = await fetch(server.url + path, { method, headers, body: payload });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text === '' ? null : JSON.parse(text) };
    },
    async close() {
      await server.close();
      await backend.destroy();
    },
  };
}

/** Creates tenant `acme`, an API with a small catalog, and returns their names. */
export async function seedTenant(t: TestServer, slug = 'acme'): Promise<{ slug: string; api: string }> {
  const api = 'https://api.acme.test';
  expectStatus(await t.call('POST', '/v1/tenants', { slug, name: 'Acme' }), 201);
  expectStatus(
    await t.call('POST', `/v1/tenants/${slug}/apis`, {
      identifier: api,
      name: 'Acme API',
      scopes: [
        { name: 'read:users', description: 'Read users' },
        { name: 'write:users', description: 'Change users', implies: ['read:users'] },
        { name: 'read:billing', description: 'Read invoices' },
        { name: 'repo', description: 'Full repository access', implies: ['public_repo'] },
        { name: 'public_repo', description: 'Public repositories' },
      ],
    }),
    201,
  );
  return { slug, api };
}

export function expectStatus(response: { status: number; body: unknown }, status: number): void {
  if (response.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${response.status}: ${JSON.stringify(response.body)}`);
  }
}
