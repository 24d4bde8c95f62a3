import { ProblemError, UnexpectedResponseError, UnreachableError, type ProblemBody } from './cli-errors.js';

export interface ClientOptions {
  /** Base URL of the Keygate server, e.g. `http://127.0.0.1:4000` (a path prefix is kept). */
  url: string;
  /** The root key (or, for sub-keys, the parent key) sent as a bearer token. */
  rootKey: string;
  /** Give up on a request after this long; default 30 s. */
  timeoutMs?: number;
  /** Replaceable for tests; default the global `fetch`. */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  body?: unknown;
  /** A body sent as it is instead of `body` as JSON (an OpenAPI document in YAML or JSON). */
  text?: { body: string; contentType: string };
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | undefined>;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A page of a list endpoint. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * A small client for the management API. Success returns the parsed JSON body (undefined
 * for 204); every failure becomes a typed error: `ProblemError` for problem details,
 * `UnexpectedResponseError` for answers that are not Keygate's, `UnreachableError` when
 * there is no answer.
 */
export class KeygateClient {
  readonly url: string;
  readonly #rootKey: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#rootKey = options.rootKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    // Called through a wrapper so the global fetch never sees this object as `this`.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /**
   * Sends one request and returns the JSON body.
   *
   * @example
   * const tenant = await client.request<Tenant>('POST', '/v1/tenants', { body: { slug: 'acme', name: 'Acme' } });
   */
  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const { response, text } = await this.#send(method, path, options, 'application/json');
    if (response.status === 204) return undefined as T;
    const json = parseJson(text);
    if (!response.ok) throw this.#failure(response, text, json);
    if (json === undefined) throw new UnexpectedResponseError(response.status, this.url, snippet(text));
    return json as T;
  }

  /**
   * Sends one request and returns the body as text with its content type, for answers that are
   * documents rather than JSON values (an API's OpenAPI document, kept byte for byte).
   *
   * @example
   * const { text } = await client.requestText('GET', '/v1/tenants/acme/apis/api_1/openapi');
   */
  async requestText(method: Method, path: string, options: RequestOptions = {}): Promise<{ text: string; contentType: string | null }> {
    const { response, text } = await this.#send(method, path, options, '*/*');
    if (!response.ok) throw this.#failure(response, text, parseJson(text));
    return { text, contentType: response.headers.get('content-type') };
  }

  async #send(method: Method, path: string, options: RequestOptions, accept: string): Promise<{ response: Response; text: string }> {
    const target = this.url + path + queryString(options.query);
    const headers: Record<string, string> = { authorization: `Bearer ${this.#rootKey}`, accept };
    let body: string | undefined;
    if (options.text !== undefined) {
      headers['content-type'] = options.text.contentType;
      body = options.text.body;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    try {
      const response = await this.#fetch(target, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(this.#timeoutMs) });
      return { response, text: await response.text() };
    } catch (err) {
      throw new UnreachableError(this.url, reasonOf(err, this.#timeoutMs));
    }
  }

  #failure(response: Response, text: string, json: unknown): Error {
    return isProblem(json) ? new ProblemError(json) : new UnexpectedResponseError(response.status, this.url, snippet(text));
  }

  /**
   * Follows `nextCursor` until the last page and returns every item. Pages are fetched one
   * after another because each cursor comes from the page before.
   *
   * @example
   * const keys = await client.listAll<KeyView>('/v1/tenants/acme/keys', { api: 'https://api.example.com' });
   */
  async listAll<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.request<Page<T>>('GET', path, { query: { ...query, limit: 100, cursor } });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return items;
  }
}

function queryString(query: RequestOptions['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The body as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isProblem(value: unknown): value is ProblemBody {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['code'] === 'string' && typeof v['status'] === 'number' && typeof v['detail'] === 'string';
}

/** The start of a body, on one line, for an error message. */
export function snippet(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

/** Node's fetch hides the socket error in `cause`; that is the part worth showing. */
export function reasonOf(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${timeoutMs / 1000} s`;
  }
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}
