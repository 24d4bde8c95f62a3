/** Keygate could not be asked: network error, timeout, or an answer that makes no sense. */
export class KeygateUnavailableError extends Error {
  override readonly name = 'KeygateUnavailableError';
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or null when there was none or it was not JSON. */
  body: unknown;
}

/**
 * The verifier's calls to Keygate: JSON in and out, each with a time limit, all aborted by
 * `close()`. Redirects are refused so the root key is only ever sent to the configured URL.
 */
export class KeygateHttp {
  private readonly closing = new AbortController();

  constructor(
    private readonly fetch: typeof globalThis.fetch,
    private readonly timeoutMs: number,
  ) {}

  async request(url: string, init: { method: 'GET' | 'POST'; authorization?: string; json?: unknown }): Promise<JsonResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.authorization !== undefined) headers['authorization'] = init.authorization;
    if (init.json !== undefined) headers['content-type'] = 'application/json';
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.timeoutMs)]);
    try {
      const response = await this.fetch(url, {
        method: init.method,
        headers,
        redirect: 'error',
        signal,
        ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: parseJson(text) };
    } catch (error) {
      const what = this.closing.signal.aborted ? 'the verifier is closed' : error instanceof Error ? error.message : String(error);
      throw new KeygateUnavailableError(`${init.method} ${url} failed: ${what}`, { cause: error });
    }
  }

  close(): void {
    this.closing.abort();
  }
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
