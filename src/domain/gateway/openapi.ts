import type { ScopeDefinition } from '../scopes.js';
import { normalisePath, type CompiledRoutes, type Operation, type Requirement } from './routes.js';

/**
 * From an OpenAPI 3.0/3.1 document (already parsed, validated and dereferenced) to the gateway's
 * route table, reading each operation's requirement exactly as OpenAPI defines it:
 * - an operation's own `security`, else the document's root `security`, else none;
 * - the list's items are alternatives (OR); the schemes inside one item are all required (AND),
 *   so their scopes add up; an empty item `{}` is an alternative that needs no scope;
 * - scopes come from oauth2 and openIdConnect schemes, and in 3.1 from any scheme's list (3.0
 *   requires the others' lists to be empty: a non-empty one is refused, never dropped);
 * - `x-keygate-scopes` (an array of scope names, all required) states the requirement instead;
 * - public only with `security: []` and `x-keygate-public: true` on the operation; anything else
 *   without a scope needs a valid credential;
 * - `x-keygate-cost` (a whole number, default 1) is what one call takes from the key's credits.
 * Every scope must be in the API's catalog. Problems are collected for the whole document, each
 * naming its operation, so an upload is refused once with every reason.
 */

export type CompileResult = { ok: true; routes: CompiledRoutes } | { ok: false; problems: string[] };

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** Keygate's extensions, read on operations only: one placed elsewhere would be silently ignored, so it is refused. */
const EXTENSIONS = ['x-keygate-scopes', 'x-keygate-public', 'x-keygate-cost'] as const;

function misplacedExtensions(value: Json, where: string, problems: string[]): void {
  for (const name of EXTENSIONS) if (name in value) problems.push(`${where}: ${name} is read on operations only`);
}
const SCOPED_SCHEMES = new Set(['oauth2', 'openIdConnect']);
export const MAX_OPERATION_COST = 1_000_000;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * The path of the first `servers` entry, variables replaced by their defaults, without a
 * trailing slash: `https://api.example.com/v1/` → `/v1`; '' when there is none.
 */
export function serverBasePath(document: Json): string | null {
  const servers = document['servers'];
  if (!Array.isArray(servers) || servers.length === 0 || !isObject(servers[0])) return '';
  const server = servers[0];
  if (typeof server['url'] !== 'string') return null;
  const variables = isObject(server['variables']) ? server['variables'] : {};
  const url = server['url'].replace(/\{([^{}]+)\}/g, (whole, name: string) => {
    const variable = variables[name];
    return isObject(variable) && typeof variable['default'] === 'string' ? variable['default'] : whole;
  });
  let path: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      path = new URL(url).pathname;
    } catch {
      return null;
    }
  } else {
    path = url.startsWith('/') ? url : `/${url}`;
  }
  const normalised = normalisePath(path);
  if (normalised === null || normalised.includes('{')) return null;
  return normalised.replace(/\/+$/, '');
}

function operationName(method: string, path: string, operation: Json): string {
  const id = typeof operation['operationId'] === 'string' ? ` (${operation['operationId']})` : '';
  return `${method.toUpperCase()} ${path}${id}`;
}

/**
 * The requirement a `security` list states, or a problem. `schemes` are the document's
 * `components.securitySchemes`; `v31` whether the document is OpenAPI 3.1.
 */
function requirementOf(security: unknown, schemes: Json, v31: boolean, where: string, problems: string[]): string[][] {
  if (!Array.isArray(security)) {
    problems.push(`${where}: security must be a list of security requirements`);
    return [];
  }
  const alternatives: string[][] = [];
  for (const item of security) {
    if (!isObject(item)) {
      problems.push(`${where}: each security requirement must be an object`);
      continue;
    }
    const scopes = new Set<string>();
    for (const [name, listed] of Object.entries(item)) {
      const scheme = schemes[name];
      if (!isObject(scheme)) {
        problems.push(`${where}: security scheme "${name}" is not in components.securitySchemes`);
        continue;
      }
      if (!isStringArray(listed)) {
        problems.push(`${where}: the scopes of "${name}" must be a list of strings`);
        continue;
      }
      if (!SCOPED_SCHEMES.has(String(scheme['type'])) && !v31 && listed.length > 0) {
        problems.push(`${where}: "${name}" is a ${String(scheme['type'])} scheme, which lists no scopes in OpenAPI 3.0`);
        continue;
      }
      for (const scope of listed) scopes.add(scope);
    }
    alternatives.push([...scopes]);
  }
  return alternatives;
}

/** Alternatives without repeats; one that needs no scope makes every other one moot. */
function simplify(alternatives: string[][]): string[][] {
  if (alternatives.length === 0 || alternatives.some((scopes) => scopes.length === 0)) return [[]];
  const seen = new Set<string>();
  return alternatives.filter((scopes) => {
    const key = [...scopes].sort().join(' ');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function compileOperation(
  method: string,
  path: string,
  operation: Json,
  context: { rootSecurity: unknown; schemes: Json; v31: boolean; catalog: ReadonlySet<string> },
  problems: string[],
): Operation | null {
  const where = operationName(method, path, operation);
  const before = problems.length;
  const marked = operation['x-keygate-public'];
  const extension = operation['x-keygate-scopes'];
  const own = operation['security'];
  if (marked !== undefined && typeof marked !== 'boolean') problems.push(`${where}: x-keygate-public must be true or false`);
  if (extension !== undefined && !isStringArray(extension)) problems.push(`${where}: x-keygate-scopes must be a list of scope names`);

  let requirement: Requirement;
  if (marked === true) {
    if (!Array.isArray(own) || own.length > 0) problems.push(`${where}: x-keygate-public needs the operation's own "security: []"`);
    if (extension !== undefined) problems.push(`${where}: a public operation cannot have x-keygate-scopes`);
    requirement = { public: true, anyOf: [[]] };
  } else if (isStringArray(extension)) {
    requirement = { public: false, anyOf: [[...new Set(extension)]] };
  } else {
    const security = own !== undefined ? own : context.rootSecurity;
    const alternatives = security === undefined ? [] : requirementOf(security, context.schemes, context.v31, where, problems);
    requirement = { public: false, anyOf: simplify(alternatives) };
  }
  for (const scope of new Set(requirement.anyOf.flat())) {
    if (!context.catalog.has(scope)) problems.push(`${where}: scope "${scope}" is not in the API's scope catalog`);
  }

  const cost = operation['x-keygate-cost'] ?? 1;
  if (!Number.isSafeInteger(cost) || (cost as number) < 0 || (cost as number) > MAX_OPERATION_COST) {
    problems.push(`${where}: x-keygate-cost must be a whole number from 0 to ${MAX_OPERATION_COST}`);
  }
  if (problems.length > before) return null;
  const operationId = typeof operation['operationId'] === 'string' ? operation['operationId'] : null;
  return { method: method.toUpperCase(), path, operationId, requirement, cost: cost as number };
}

/** A template's matching key: each `{name}` the same, so `/a/{x}` and `/a/{y}` collide. */
function templateKey(path: string): string {
  return path.replace(/\{[^{}/]+\}/g, '{}').replace(/\/+$/, '');
}

/** Whether a declared template is one `normalisePath` leaves as it is (else no request could reach it as declared). */
function templateProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'must start with "/"';
  const literal = path.replace(/\{[^{}/]+\}/g, 'x');
  if (/[{}]/.test(literal)) return 'has an unbalanced or nested "{" "}"';
  if (normalisePath(literal) === null) return 'has a character, escape or "." / ".." segment that the gateway refuses in requests';
  return null;
}

/**
 * @example
 * const result = compileOpenApi(await dereferenced(text), api.scopes);
 * if (!result.ok) throw new KeygateError('INVALID_OPENAPI', result.problems.join('; '));
 */
export function compileOpenApi(document: unknown, catalog: readonly ScopeDefinition[]): CompileResult {
  if (!isObject(document)) return { ok: false, problems: ['the document must be an object'] };
  const version = typeof document['openapi'] === 'string' ? document['openapi'] : '';
  if (!/^3\.[01]\.\d+/.test(version)) return { ok: false, problems: ['only OpenAPI 3.0 and 3.1 documents are accepted (the "openapi" field)'] };
  const problems: string[] = [];
  const basePath = serverBasePath(document);
  if (basePath === null) problems.push('servers[0].url has no usable path (variables without defaults, or characters the gateway refuses)');
  misplacedExtensions(document, 'the document root', problems);

  const components = isObject(document['components']) ? document['components'] : {};
  const context = {
    rootSecurity: document['security'],
    schemes: isObject(components['securitySchemes']) ? components['securitySchemes'] : {},
    v31: version.startsWith('3.1.'),
    catalog: new Set(catalog.map((scope) => scope.name)),
  };
  const operations: Operation[] = [];
  const declared = new Map<string, string>();
  const paths = isObject(document['paths']) ? document['paths'] : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const problem = templateProblem(path);
    if (problem !== null) {
      problems.push(`path "${path}" ${problem}`);
      continue;
    }
    misplacedExtensions(item, `path "${path}"`, problems);
    for (const method of METHODS) {
      const operation = item[method];
      if (!isObject(operation)) continue;
      const key = `${method} ${templateKey(path)}`;
      const earlier = declared.get(key);
      if (earlier !== undefined) {
        problems.push(`${operationName(method, path, operation)}: matches the same requests as ${method.toUpperCase()} ${earlier}`);
        continue;
      }
      declared.set(key, path);
      const compiled = compileOperation(method, path, operation, context, problems);
      if (compiled !== null) operations.push(compiled);
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, routes: { basePath: basePath ?? '', operations } };
}

/**
 * The operations of compiled routes whose requirement names one of `scopes`, each as
 * `METHOD /path (operationId)`: what a catalog that drops those scopes would close silently, so
 * the catalog change is refused while the document requires them. The compiled requirement holds
 * exactly the scopes the upload checked against the catalog, so no need to compile the document again.
 *
 * @example
 * operationsRequiring(document.routes, ['read:users']) // ['GET /users (listUsers)', 'GET /users/{id}']
 */
export function operationsRequiring(routes: CompiledRoutes, scopes: readonly string[]): string[] {
  const wanted = new Set(scopes);
  return routes.operations
    .filter((operation) => operation.requirement.anyOf.some((alternative) => alternative.some((scope) => wanted.has(scope))))
    .map((operation) => `${operation.method} ${operation.path}${operation.operationId === null ? '' : ` (${operation.operationId})`}`);
}
