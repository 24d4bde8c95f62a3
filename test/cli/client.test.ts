import { describe, expect, it } from 'vitest';
import { ProblemError, UnexpectedResponseError, UnreachableError } from '../../src/cli/cli-errors.js';
import { KeygateClient } from '../../src/cli/client.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';

type Seen = { url: string; init: RequestInit };

function fakeServer(answer: (seen: Seen) => Response): { client: KeygateClient; seen: Seen[] } {
  const seen: Seen[] = [];
  const fake = (async (input: string | URL | Request, init?: RequestInit) => {
    const call = { url: String(input), init: init ?? {} };
    seen.push(call);
    return answer(call);
  }) as typeof fetch;
  return { client: new KeygateClient({ url: 'http://keygate.test/prefix/', rootKey: 'root-secret', fetch: fake }), seen };
}

const json = (status: number, body: unknown): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('KeygateClient', () => {
  it('sends the bearer key and JSON body, keeps a path prefix and drops undefined query values', async () => {
    const { client, seen } = fakeServer(() => json(201, { id: 'ten_1' }));
    expect(await client.request('POST', '/v1/tenants', { body: { slug: 'a' }, query: { a: 'x y', b: undefined } })).toEqual({ id: 'ten_1' });
    expect(seen[0]!.url).toBe('http://keygate.test/prefix/v1/tenants?a=x+y');
    const headers = seen[0]!.init.headers as Record<string, string>;
    expect(headers['authorization']).toBe('Bearer root-secret');
    expect(headers['content-type']).toBe('application/json');
    expect(seen[0]!.init.body).toBe('{"slug":"a"}');
  });

  it('turns problem details into a ProblemError with code, detail and field errors', async () => {
    const body = { type: 't', title: 'T', status: 400, code: 'INVALID_REQUEST', detail: 'body /slug: bad', requestId: 'req_1', errors: [{ path: '/slug', message: 'bad' }] };
    const { client } = fakeServer(() => json(400, body));
    const err = await client.request('GET', '/v1/tenants').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect(err).toMatchObject({ code: 'INVALID_REQUEST', status: 400, detail: 'body /slug: bad', exitCode: EXIT_CODES.problem, message: 'INVALID_REQUEST: body /slug: bad' });
    expect((err as ProblemError).errors).toEqual(body.errors);
  });

  it('treats an error page that is not Keygate\'s as an unexpected response', async () => {
    const { client } = fakeServer(() => new Response('<html>Bad Gateway</html>', { status: 502 }));
    const err = await client.request('GET', '/v1/tenants').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnexpectedResponseError);
    expect((err as Error).message).toMatch(/^HTTP_502: .*Bad Gateway/);
  });

  it('returns undefined for 204 and follows nextCursor until the end', async () => {
    const pages: Record<string, unknown> = { '': { items: [1, 2], nextCursor: 'c1' }, c1: { items: [3], nextCursor: null } };
    const { client, seen } = fakeServer(({ url }) => {
      if (url.includes('/keys/k1')) return new Response(null, { status: 204 });
      return json(200, pages[new URL(url).searchParams.get('cursor') ?? '']);
    });
    expect(await client.request('DELETE', '/v1/tenants/a/keys/k1')).toBeUndefined();
    expect(await client.listAll<number>('/v1/tenants/a/keys', { api: 'x' })).toEqual([1, 2, 3]);
    expect(seen.slice(1).map((s) => new URL(s.url).search)).toEqual(['?api=x&limit=100', '?api=x&limit=100&cursor=c1']);
  });

  it('reports a refused connection as unreachable, with the socket error code', async () => {
    const refused = (async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    }) as typeof fetch;
    const client = new KeygateClient({ url: 'http://127.0.0.1:9', rootKey: 'k', fetch: refused });
    const err = await client.request('GET', '/v1/tenants').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toContain('http://127.0.0.1:9 (ECONNREFUSED)');
    expect((err as Error).message).toContain('keygate start');
  });
});
