import type { ConsoleContext } from '../context.js';

/** An API as `GET /v1/tenants/{slug}/apis` answers it, reduced to what a picker shows. */
export interface ApiChoice {
  identifier: string;
  name: string;
  scopes: { name: string; description: string }[];
}

/** At most this many pages of APIs are read for a picker (100 each). */
const API_PAGES = 10;

/**
 * Every API of a tenant the operator may list, for a picker, read through /v1 as the operator;
 * null when /v1 refuses the listing (no `apis:read`, another tenant), so the page can offer a
 * text field instead.
 *
 * @example
 * const apis = await apisOf(c, 'acme'); // [{ identifier: 'https://api.acme.test', name: 'Acme API', scopes: […] }] or null
 */
export async function apisOf(c: ConsoleContext, slug: string): Promise<ApiChoice[] | null> {
  const apis: ApiChoice[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < API_PAGES; page += 1) {
    const query: string = new URLSearchParams({ limit: '100', ...(cursor === null ? {} : { cursor }) }).toString();
    const result = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}/apis?${query}`);
    if (result.status !== 200) return page === 0 ? null : apis;
    for (const api of result.body.items as ApiChoice[]) apis.push({ identifier: api.identifier, name: api.name, scopes: api.scopes ?? [] });
    cursor = result.body.nextCursor;
    if (cursor === null) break;
  }
  return apis;
}
