import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PasswordResetMessage } from '../../src/services/password-reset-delivery.js';
import { expectStatus, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review (issue 7, secrets in logs): a delivery that fails may quote what it was sending — an
 * embedder's hook or a mailer's error naming the link. The portal's request already logged only
 * the error's code; an operator's request (POST …/users/{id}/password-reset) attached the whole
 * error as the cause of its 502, and the server logs a 5xx with its cause, link included.
 */
describe('a failed operator-sent reset link', () => {
  let t: TestServer;
  const log: string[] = [];
  const sent: PasswordResetMessage[] = [];

  beforeAll(async () => {
    t = await startTestServer('sqlite', {}, {
      logStream: { write: (line) => void log.push(line) },
      onPasswordReset: (message) => {
        sent.push(message);
        throw Object.assign(new Error(`could not send ${message.url} to ${message.email}`), { code: 'EENVELOPE' });
      },
    });
  });
  afterAll(() => t?.close());

  it('answers 502 with the error code and leaves the link out of the response and the log', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }), 201);
    const user = (await t.call('POST', '/v1/tenants/acme/users', { email: 'a@acme.test', password: 'a long enough password' })).body;
    const failed = await t.call('POST', `/v1/tenants/acme/users/${user.id}/password-reset`);
    expect(failed.status).toBe(502);
    expect(failed.body.code).toBe('RESET_DELIVERY_FAILED');
    expect(failed.body.detail).toContain('EENVELOPE');
    expect(sent).toHaveLength(1);
    const token = new URL(sent[0]!.url).searchParams.get('token')!;
    expect(JSON.stringify(failed.body)).not.toContain(token);
    const text = log.join('\n');
    expect(text).toContain('RESET_DELIVERY_FAILED');
    expect(text).not.toContain(token);
  });
});
