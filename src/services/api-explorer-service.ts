import { request as httpRequest } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Api } from '../domain/apis.js';
import { HEADER_VALUE, describeApi, tryRequest, TryRefusal, type ApiDoc, type TryRequest, type TryValues } from '../domain/gateway/explorer.js';
import { compileRouter, type RouteMatch } from '../domain/gateway/routes.js';
import { gatewayHostsOf } from '../domain/gateway/settings.js';
import type { ServiceContextWith } from './context.js';
import { readDocument } from './openapi-document.js';

/** The most of an answer "Try it" reads and shows; the rest is cut off and said so. */
export const MAX_TRY_RESPONSE_BYTES = 256 * 1024;
/** How long "Try it" waits for the whole answer through the gateway. */
export const TRY_TIMEOUT_MS = 10_000;

/** Where Keygate's own gateway listens, as this instance reaches it. */
export interface GatewayAddress {
  host: string;
  port: number;
}

export interface TryAnswer {
  kind: 'answered';
  status: number;
  statusText: string;
  /** Every header as received, in order, names lower-case. */
  headers: [string, string][];
  /** The body as UTF-8 text; a body that is not text is described instead of shown. */
  body: string;
  truncated: boolean;
}

export type TryOutcome =
  | TryAnswer
  /** The values do not make a request of the operation: nothing was sent. */
  | { kind: 'refused'; message: string }
  /** This instance runs no gateway (no GATEWAY_PORT), or the API is not behind it. */
  | { kind: 'no-gateway'; message: string }
  | { kind: 'unreachable'; message: string };

interface Explored {
  uploadedAt: number;
  doc: ApiDoc;
  match: (method: string, rawPath: string) => RouteMatch;
}

const TEXTUAL = /^(?:text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded|yaml|problem\+json)\b)/i;

/**
 * The developer portal's API explorer (docs/portal.md): an API's OpenAPI document as the
 * explorer shows it, and "Try it" — one request of a declared operation sent to Keygate's own
 * gateway, never anywhere else, with the API's Host, so it meets exactly the checks any caller
 * meets. The browser never calls the gateway itself (that would need CORS on every API).
 */
export class ApiExplorerService {
  /** Dereferencing a large document takes a while: kept per API until another is uploaded. */
  private readonly explored = new LRUCache<string, Explored>({ max: 32 });

  constructor(
    private readonly ctx: ServiceContextWith<'directory'>,
    private readonly gateway: GatewayAddress | null,
  ) {}

  /** The API's operations with their words, or null when it has no OpenAPI document. */
  async describe(api: Api): Promise<ApiDoc | null> {
    return (await this.explore(api))?.doc ?? null;
  }

  /**
   * Sends operation `index` of the API's document through the gateway with `token` (none for a
   * public operation), and answers what came back: status, headers and at most
   * MAX_TRY_RESPONSE_BYTES of the body, within TRY_TIMEOUT_MS.
   */
  async tryOperation(api: Api, index: number, token: string | null, values: TryValues): Promise<TryOutcome> {
    const explored = await this.explore(api);
    const doc = explored?.doc.operations[index];
    if (explored === null || doc === undefined) return { kind: 'refused', message: 'the API declares no such operation' };
    if (this.gateway === null) return { kind: 'no-gateway', message: 'Keygate runs no gateway here (GATEWAY_PORT is not set), so there is nothing to send the request through.' };
    if (api.gateway.upstream === null) return { kind: 'no-gateway', message: `${api.name} is not behind the gateway (it has no upstream).` };
    if (token !== null && !HEADER_VALUE.test(token)) return { kind: 'refused', message: 'the token must be one line of printable ASCII' };
    const built = tryRequest(doc, { basePath: explored.doc.basePath, match: explored.match }, values, api.gateway);
    if (built instanceof TryRefusal) return { kind: 'refused', message: built.message };
    const host = gatewayHostsOf(api.identifier, api.gateway)[0] ?? hostHeader(this.gateway);
    try {
      return await send(this.gateway, host, built, token);
    } catch (err) {
      return { kind: 'unreachable', message: (err as Error).name === 'TimeoutError' ? `the gateway did not answer within ${TRY_TIMEOUT_MS / 1000} s` : 'the gateway could not be reached' };
    }
  }

  private async explore(api: Api): Promise<Explored | null> {
    const stored = await this.ctx.store.directory.findApiDocument(api.id);
    if (stored === null) return null;
    const cached = this.explored.get(api.id);
    if (cached !== undefined && cached.uploadedAt === stored.uploadedAt) return cached;
    const explored = { uploadedAt: stored.uploadedAt, doc: describeApi(await readDocument(stored.document, stored.format), stored.routes), match: compileRouter(stored.routes) };
    this.explored.set(api.id, explored);
    return explored;
  }
}

/**
 * The address to reach a gateway listening on `host`: an unspecified address (every interface)
 * is reached on loopback.
 */
export function gatewayAddress(host: string, port: number): GatewayAddress {
  return { host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host, port };
}

function hostHeader(gateway: GatewayAddress): string {
  return `${gateway.host.includes(':') ? `[${gateway.host}]` : gateway.host}:${gateway.port}`;
}

function timeoutError(): Error {
  const err = new Error('timed out');
  err.name = 'TimeoutError';
  return err;
}

function send(gateway: GatewayAddress, host: string, built: TryRequest, token: string | null): Promise<TryAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...built.headers, host, accept: '*/*' };
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (built.body !== null) headers['content-length'] = Buffer.byteLength(built.body);
    // No pooled socket: a try is rare, and nothing should outlive it.
    const outgoing = httpRequest({ host: gateway.host, port: gateway.port, method: built.method, path: built.target, headers, agent: false });
    const timer = setTimeout(() => outgoing.destroy(timeoutError()), TRY_TIMEOUT_MS);
    outgoing.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    outgoing.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const headerPairs: [string, string][] = [];
        for (let i = 0; i < response.rawHeaders.length; i += 2) headerPairs.push([response.rawHeaders[i]!.toLowerCase(), response.rawHeaders[i + 1]!]);
        const type = String(response.headers['content-type'] ?? '');
        const bytes = Buffer.concat(chunks);
        resolve({ kind: 'answered', status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', headers: headerPairs, body: bodyText(bytes, type, truncated), truncated });
      };
      response.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = MAX_TRY_RESPONSE_BYTES - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (chunk.length > room) {
          truncated = true;
          response.destroy();
          finish();
        }
      });
      response.on('end', finish);
      response.on('error', (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err);
      });
    });
    outgoing.end(built.body ?? undefined);
  });
}

/** Text shown as it came (JSON indented when complete); anything else described by its size and type. */
function bodyText(bytes: Buffer, type: string, truncated: boolean): string {
  if (bytes.length === 0) return '';
  if (type !== '' && !TEXTUAL.test(type)) return `(${bytes.length} bytes of ${type.split(';')[0]}, not shown)`;
  const body = bytes.toString('utf8');
  if (!truncated && /json/i.test(type)) {
    try {
      return JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      return body;
    }
  }
  return body;
}
