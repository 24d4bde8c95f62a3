import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { resetDeliveryFromConfig } from '../../src/services/password-reset-delivery.js';

/**
 * Review of invariant 8 (issue 7): a reset link goes to the configured webhook and nowhere else.
 * fetch follows redirects, and a 307/308 makes it send the same POST — the link inside — to
 * wherever the answer points (another host, plain http), so the delivery must not follow one.
 */
describe('the reset webhook', () => {
  const elsewhere: string[] = [];
  let redirector: Server;
  let target: Server;
  let webhookUrl: string;

  const listen = async (server: Server): Promise<string> => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    target = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        elsewhere.push(Buffer.concat(chunks).toString('utf8'));
        response.writeHead(204).end();
      });
    });
    const targetUrl = await listen(target);
    redirector = createServer((request, response) => {
      request.resume();
      response.writeHead(308, { location: `${targetUrl}/collect` }).end();
    });
    webhookUrl = `${await listen(redirector)}/keygate-events`;
  });
  afterAll(() => {
    redirector.close();
    target.close();
  });

  it('does not follow a redirect: the delivery fails and the link reaches nobody else', async () => {
    const deliver = resetDeliveryFromConfig({ smtpUrl: '', smtpFrom: '', webhookUrl, webhookSecret: 'a-secret-of-at-least-32-characters!!' } as unknown as Config, () => Date.now());
    const message = { tenant: 'acme', email: 'ada@example.com', token: 'the-token', url: 'https://keygate.example/t/acme/password-reset/confirm?token=the-token', expiresAt: Date.now() + 60_000 };
    await expect(Promise.resolve(deliver!(message))).rejects.toThrow();
    expect(elsewhere).toEqual([]);
  });
});
