import type { ConsoleContext } from '../context.js';

/** An API as `GET /v1/tenants/{slug}/apis` answers it, reduced to what a picker shows. */
export interface ApiChoice {
  identifier: string;
  name: string;
  scopes: { name: string; description: string }[];
}

/**
 * Every item of a /v1 listing the operator may read, following `nextCursor` 100 at a time for at
 * most `pages` pages (a picker, not an export); null when /v1 refuses the first page (a scope the
 * operator lacks, another tenant), so the page can offer a text field instead.
 *
 * @example
 * const tenants = await v1Items<{ slug: string }>(c, '/v1/tenants', { pages: 5 }); // [{ slug: 'acme', … }] or null
 */
export async function v1Items<T>(c: ConsoleContext, path: string, options: { pages: number }): Promise<T[] | null> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < options.pages; page += 1) {
    const query: string = new URLSearchParams({ limit: '100', ...(cursor === null ? {} : { cursor }) }).toString();
    const result = await c.v1('GET', `${path}?${query}`);
    if (result.status !== 200) return page === 0 ? null : items;
    items.push(...(result.body.items as T[]));
    cursor = result.body.nextCursor;
    if (cursor === null) break;
  }
  return items;
}

/**
 * Every API of a tenant the operator may list, for a picker (at most 100 × `pages`, 1,000 by default), read through /v1 as
 * the operator; null when /v1 refuses the listing (no `apis:read`, another tenant).
 *
 * @example
 * const apis = await apisOf(c, 'acme'); // [{ identifier: 'https://api.acme.test', name: 'Acme API', scopes: […] }] or null
 */
export async function apisOf(c: ConsoleContext, slug: string, options: { pages: number } = { pages: 10 }): Promise<ApiChoice[] | null> {
  const apis = await v1Items<ApiChoice>(c, `/v1/tenants/${encodeURIComponent(slug)}/apis`, options);
  return apis === null ? null : apis.map((api) => ({ identifier: api.identifier, name: api.name, scopes: api.scopes ?? [] }));
}
