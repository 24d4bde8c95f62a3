import type { GatewaySettings } from './settings.js';
import type { CompiledRoutes, Operation, RouteMatch } from './routes.js';

/**
 * What the portal's API explorer shows and sends (docs/portal.md): each operation of an API's
 * compiled routes with its words from the OpenAPI document, and the one rule for "Try it" —
 * a request is built only from an operation the document declares, its declared parameters and
 * its declared body types, and must match that same operation again through the gateway's own
 * matcher, so no form value can steer it to another path. Pure: the document comes parsed and
 * dereferenced.
 */

export type ParameterLocation = 'path' | 'query' | 'header';

export interface ParameterDoc {
  name: string;
  in: ParameterLocation;
  required: boolean;
  description: string;
  /** The schema's type (`string`, `integer`, `array`…), or null when the document gives none. */
  type: string | null;
}

export interface OperationDoc {
  operation: Operation;
  summary: string;
  description: string;
  deprecated: boolean;
  /** Path parameters first, then query, then header (cookie parameters are not sent by the explorer). */
  parameters: ParameterDoc[];
  /** The request body's media types, or null when the operation takes none. */
  body: { required: boolean; contentTypes: string[] } | null;
}

export interface ApiDoc {
  title: string;
  version: string;
  description: string;
  basePath: string;
  operations: OperationDoc[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const LOCATIONS: readonly ParameterLocation[] = ['path', 'query', 'header'];

/** A path item's parameters overridden by the operation's own (same name and location), OpenAPI §4.8.10. */
function parametersOf(item: Json, operation: Json): ParameterDoc[] {
  const merged = new Map<string, ParameterDoc>();
  for (const list of [item['parameters'], operation['parameters']]) {
    if (!Array.isArray(list)) continue;
    for (const parameter of list) {
      if (!isObject(parameter) || typeof parameter['name'] !== 'string') continue;
      const location = parameter['in'] as ParameterLocation;
      if (!LOCATIONS.includes(location)) continue;
      const schema = isObject(parameter['schema']) ? parameter['schema'] : {};
      merged.set(`${location} ${parameter['name']}`, {
        name: parameter['name'],
        in: location,
        required: location === 'path' || parameter['required'] === true,
        description: text(parameter['description']),
        type: typeof schema['type'] === 'string' ? schema['type'] : null,
      });
    }
  }
  return [...merged.values()].sort((a, b) => LOCATIONS.indexOf(a.in) - LOCATIONS.indexOf(b.in));
}

function bodyOf(operation: Json): OperationDoc['body'] {
  const body = operation['requestBody'];
  if (!isObject(body) || !isObject(body['content'])) return null;
  const contentTypes = Object.keys(body['content']).filter((type) => /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+*-]+(?:;.*)?$/i.test(type) && !type.includes('*'));
  return contentTypes.length === 0 ? null : { required: body['required'] === true, contentTypes };
}

/**
 * The explorer's view of an API: every operation the gateway routes, in the document's order,
 * with its summary, parameters and body types.
 *
 * @example
 * const doc = describeApi(dereferencedDocument, stored.routes);
 * doc.operations[0].operation.requirement // { public: false, anyOf: [['read:users']] }
 */
export function describeApi(document: unknown, routes: CompiledRoutes): ApiDoc {
  const root = isObject(document) ? document : {};
  const info = isObject(root['info']) ? root['info'] : {};
  const paths = isObject(root['paths']) ? root['paths'] : {};
  return {
    title: text(info['title']),
    version: text(info['version']),
    description: text(info['description']),
    basePath: routes.basePath,
    operations: routes.operations.map((operation) => {
      const item = isObject(paths[operation.path]) ? (paths[operation.path] as Json) : {};
      const declared = isObject(item[operation.method.toLowerCase()]) ? (item[operation.method.toLowerCase()] as Json) : {};
      return {
        operation,
        summary: text(declared['summary']),
        description: text(declared['description']),
        deprecated: declared['deprecated'] === true,
        parameters: parametersOf(item, declared),
        body: bodyOf(declared),
      };
    }),
  };
}

/** The values a person typed for one operation: parameters by name, per location. */
export interface TryValues {
  path: ReadonlyMap<string, string>;
  query: ReadonlyMap<string, string>;
  header: ReadonlyMap<string, string>;
  body: string | null;
  contentType: string | null;
}

export interface TryRequest {
  method: string;
  /** The path and query to send to the gateway, already in the form the gateway matches. */
  target: string;
  headers: Record<string, string>;
  body: string | null;
}

/**
 * Headers the explorer never sends from a declared parameter: the gateway's own and hop-by-hop
 * headers, the credential (the minted token goes in Authorization, set by the explorer) and
 * cookies.
 */
const UNSENDABLE_HEADERS = new Set([
  'host', 'authorization', 'cookie', 'connection', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'content-length', 'content-type', 'expect', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
]);

/** A header value Node sends as typed: printable ASCII and tabs, so nothing is split, dropped or re-encoded on the way. */
export const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** Why a try request cannot be built, in words for the person who filled in the form. */
export class TryRefusal {
  constructor(readonly message: string) {}
}

/**
 * The request "Try it" sends for one declared operation, or why not: a required parameter left
 * empty, a body type the operation does not declare, a header the explorer does not send, or a
 * path that, once filled in, no longer matches this very operation (a value like `..` or one
 * the gateway refuses). Values go through `encodeURIComponent`, so none can add a segment.
 *
 * @example
 * const routes = { basePath: stored.routes.basePath, match: compileRouter(stored.routes) };
 * const built = tryRequest(doc.operations[0], routes, { path: new Map([['id', '42']]), query: new Map(), header: new Map(), body: null, contentType: null }, api.gateway);
 * if (!(built instanceof TryRefusal)) send(built);
 */
export function tryRequest(
  doc: OperationDoc,
  routes: { basePath: string; match: (method: string, rawPath: string) => RouteMatch },
  values: TryValues,
  settings: Pick<GatewaySettings, 'credentialHeader' | 'credentialQuery'>,
): TryRequest | TryRefusal {
  const { operation } = doc;
  for (const parameter of doc.parameters) {
    const value = values[parameter.in].get(parameter.name) ?? '';
    if (parameter.required && value === '') return new TryRefusal(`${parameter.name} (${parameter.in}) is required`);
  }
  const path = operation.path.replace(/\{([^{}/]+)\}/g, (_whole, name: string) => encodeURIComponent(values.path.get(name) ?? ''));
  const query = new URLSearchParams();
  const headers: Record<string, string> = {};
  for (const parameter of doc.parameters) {
    const value = values[parameter.in].get(parameter.name) ?? '';
    if (value === '' || parameter.in === 'path') continue;
    if (parameter.in === 'query') {
      if (parameter.name === settings.credentialQuery) return new TryRefusal(`${parameter.name} is where the gateway reads credentials: the explorer sends the token in Authorization`);
      query.append(parameter.name, value);
      continue;
    }
    const name = parameter.name.toLowerCase();
    if (UNSENDABLE_HEADERS.has(name) || name.startsWith('keygate-') || name === settings.credentialHeader) return new TryRefusal(`the explorer does not send the ${parameter.name} header`);
    if (!HEADER_VALUE.test(value)) return new TryRefusal(`${parameter.name} must be one line of printable ASCII`);
    headers[name] = value;
  }
  let body: string | null = null;
  if (doc.body !== null && values.body !== null && values.body !== '') {
    if (values.contentType === null || !doc.body.contentTypes.includes(values.contentType)) return new TryRefusal(`the body type must be one of ${doc.body.contentTypes.join(', ')}`);
    headers['content-type'] = values.contentType;
    body = values.body;
  } else if (doc.body?.required) {
    return new TryRefusal('this operation needs a request body');
  }
  const target = `${routes.basePath}${path}${query.size > 0 ? `?${query}` : ''}`;
  const match = routes.match(operation.method, target);
  if (match.kind !== 'operation' || match.operation.method !== operation.method || match.operation.path !== operation.path) {
    return new TryRefusal(`those values make a path that is not ${operation.method} ${operation.path}`);
  }
  return { method: operation.method, target: `${match.path}${query.size > 0 ? `?${query}` : ''}`, headers, body };
}
