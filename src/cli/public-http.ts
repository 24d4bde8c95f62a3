import { UnreachableError } from './cli-errors.js';
import { parseJson, reasonOf } from './client.js';

/** What a public endpoint answered: the status, the body as JSON (undefined when it is not) and as text. */
export interface PublicAnswer {
  status: number;
  json: unknown;
  text: string;
}

export interface PublicRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

/**
 * One request to a tenant's public endpoints (token endpoint, JWKS): no root key, and no
 * problem details to expect, so the caller reads the answer itself. Only a missing answer
 * throws.
 *
 * @throws UnreachableError when nothing answers within the timeout; `hint` says which flag or
 *   claim the URL came from.
 * @example
 * const answer = await requestPublic(`${issuer}/.well-known/jwks.json`, { method: 'GET' }, { hint: 'Check --issuer.' });
 */
export async function requestPublic(
  url: string,
  request: PublicRequest,
  options: { hint: string; timeoutMs?: number; fetch?: typeof fetch },
): Promise<PublicAnswer> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const fetchFn = options.fetch ?? ((input: string | URL | Request, init?: RequestInit) => fetch(input, init));
  try {
    const response = await fetchFn(url, {
      method: request.method,
      headers: { accept: 'application/json', ...request.headers },
      ...(request.body !== undefined ? { body: request.body } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, json: parseJson(text), text };
  } catch (err) {
    throw new UnreachableError(url, reasonOf(err, timeoutMs), { hint: options.hint });
  }
}

/**
 * Parses a URL given on the command line or found in a token, keeping only http(s).
 *
 * @example
 * httpUrl('http://127.0.0.1:4000/t/acme'); // URL
 * httpUrl('javascript:alert(1)'); // null
 */
export function httpUrl(text: string): URL | null {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}
