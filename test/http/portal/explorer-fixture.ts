import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OpenAPI document with a read, a write, a templated path, a public and an out-of-grant operation. */
export const DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'Acme API', version: '1' },
  components: { securitySchemes: { keygate: { type: 'http', scheme: 'bearer' } } },
  security: [{ keygate: ['read:users'] }],
  paths: {
    '/users': {
      get: { summary: 'List users', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer' } }], responses: { '200': { description: 'the users' } } },
      post: {
        summary: 'Create a user',
        security: [{ keygate: ['write:users'] }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: { '201': { description: 'created' } },
      },
    },
    '/users/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, description: 'The user id', schema: { type: 'string' } }],
      get: { summary: 'One user', responses: { '200': { description: 'the user' } } },
    },
    '/invoices': { get: { summary: 'Invoices', security: [{ keygate: ['read:billing'] }], responses: { '200': { description: 'invoices' } } } },
    '/health': { get: { summary: 'Health', security: [], 'x-keygate-public': true, responses: { '200': { description: 'up' } } } },
    '/export': { get: { summary: 'Everything, as one large text', responses: { '200': { description: 'more than Try it shows' } } } },
  },
};

/** The operations' indexes in the explorer, in the document's order. */
export const OP = { listUsers: 0, createUser: 1, oneUser: 2, invoices: 3, health: 4, export: 5 };

/** A stand-in API that answers with what reached it, and remembers every request. */
export async function echoUpstream(): Promise<{ server: Server; url: string; seen: { method: string; url: string; subject: string | undefined; body: string; headers: Record<string, unknown> }[] }> {
  const seen: { method: string; url: string; subject: string | undefined; body: string; headers: Record<string, unknown> }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const entry = { method: request.method!, url: request.url!, subject: request.headers['keygate-subject'] as string | undefined, body, headers: request.headers };
      seen.push(entry);
      if (entry.url === '/export') return void response.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(300 * 1024));
      response.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'echo' }).end(JSON.stringify({ method: entry.method, path: entry.url, subject: entry.subject ?? null, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}
