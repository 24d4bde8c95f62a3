/**
 * The gateway's route table, compiled from an OpenAPI document (`openapi.ts`), and the matcher
 * every gateway request goes through. Pure: no I/O, no framework.
 *
 * Path rules, in the order they apply (each is a way an encoding trick could reach an operation
 * it does not match, so each fails closed as `bad_path`, 400, or normalises to one spelling):
 * 1. the query (from the first `?`) is not part of the path; the path must start with `/`;
 * 2. control characters, spaces, non-ASCII bytes, `\`, `#` and `;` (a path parameter that Tomcat
 *    and Spring strip, so `/admin;x` would reach `/admin` upstream) are refused;
 * 3. percent-escapes must be well formed; `%2F`, `%5C` and `%00` are refused (an upstream that
 *    decodes them sees other segments than the gateway matched); escapes of unreserved characters
 *    (RFC 3986 §2.3) are decoded, every other escape is kept with upper-case hex;
 * 4. after decoding, a `.` or `..` segment is refused (`%2e%2e` included);
 * 5. repeated slashes collapse to one; a trailing slash is kept in the forwarded path but ignored
 *    when matching, so `/users/` is `/users`.
 * Literal segments match before templated ones (OpenAPI: concrete paths first), and the first
 * path that declares the method decides: `DELETE /users/me` with only `GET /users/me` literal is
 * `DELETE /users/{id}`, as the upstream's router would run it, never an undeclared method that
 * passthrough forwards for any credential. 405 lists the methods of every path that matches.
 * A path whose lower-cased form reaches another declared path than it does itself is `not_found`
 * with `shadows`: a case-insensitive upstream would run that other path's operation.
 */

/** OR of ANDs: the caller must hold every scope of at least one alternative. [] alternatives never happens; [[]] = any valid credential. */
export interface Requirement {
  public: boolean;
  anyOf: readonly (readonly string[])[];
}

export interface Operation {
  /** Upper-case HTTP method. */
  method: string;
  /** The path template as declared in the document, without the base path. */
  path: string;
  operationId: string | null;
  requirement: Requirement;
  /** Credits one call costs (`x-keygate-cost`, default 1). */
  cost: number;
}

export interface CompiledRoutes {
  /** The `servers` base path (`/v1`), '' when the document serves from the root. */
  basePath: string;
  operations: Operation[];
}

/**
 * `path` on a match is the normalised path (base path included) that the upstream must receive:
 * forwarding the caller's raw path instead would let the upstream decode what the gateway did not match.
 */
export type RouteMatch =
  | { kind: 'operation'; operation: Operation; path: string }
  /** `shadows`: another letter case of the path reaches another declared operation (forward it, and a case-insensitive upstream runs that operation unchecked). */
  | { kind: 'not_found'; shadows?: true }
  | { kind: 'method_not_allowed'; allow: string[] }
  | { kind: 'bad_path' };

const HEX = '0123456789ABCDEF';
const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** Bytes refused anywhere in a raw path: controls, space, `"`, `#`, `;`, `<`, `>`, `\`, `^`, backtick, `{`, `|`, `}`, DEL and non-ASCII. */
const REFUSED_CHARACTER = /[\x00-\x20"#;<>\\^`{|}\x7f-\uffff]/;
const REFUSED_ESCAPES = new Set(['%2F', '%5C', '%00']);
/** What a path needs normalising for: an escape, a repeated slash, a segment starting with a dot. */
const CANONICAL_SUSPECT = /%|\/\/|\/\./;

/**
 * The canonical spelling of a request path (rules 1–5 above), or null when it must be refused.
 *
 * @example
 * normalisePath('/users//%7Ebob/?q=1') // '/users/~bob/'
 * normalisePath('/a/%2e%2e/admin')     // null
 */
export function normalisePath(rawPath: string): string | null {
  const query = rawPath.indexOf('?');
  const raw = query < 0 ? rawPath : rawPath.slice(0, query);
  if (raw.charCodeAt(0) !== 0x2f || REFUSED_CHARACTER.test(raw)) return null;
  // Most paths have no escape, no empty and no dot segment: they are already canonical.
  if (!CANONICAL_SUSPECT.test(raw)) return raw;
  let decoded = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== '%') {
      decoded += ch;
      continue;
    }
    if (i + 2 >= raw.length) return null;
    const hi = HEX.indexOf(raw[i + 1]!.toUpperCase());
    const lo = HEX.indexOf(raw[i + 2]!.toUpperCase());
    if (hi < 0 || lo < 0) return null;
    const escape = `%${HEX[hi]}${HEX[lo]}`;
    if (REFUSED_ESCAPES.has(escape)) return null;
    const char = String.fromCharCode(hi * 16 + lo);
    decoded += UNRESERVED.test(char) ? char : escape;
    i += 2;
  }
  const trailing = decoded.length > 1 && decoded.endsWith('/');
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) return null;
  return `/${segments.join('/')}${trailing && segments.length > 0 ? '/' : ''}`;
}

interface Node {
  literals: Map<string, Node>;
  /** Segments with a template inside literal text (`{name}.json`), tried after literals: the literal pieces around the templates. */
  patterns: { pieces: string[]; node: Node }[];
  /** A whole-segment template (`{id}`), tried last. */
  param: Node | null;
  methods: Map<string, Operation>;
}

function newNode(): Node {
  return { literals: new Map(), patterns: [], param: null, methods: new Map() };
}

const TEMPLATE = /\{[^{}/]+\}/g;

/**
 * Whether a segment matches literal pieces with a non-empty template value between each two.
 * Each middle piece is taken at its first place that leaves room: that leaves the most room for
 * the rest, so one pass decides, where a regex with several lazy groups would backtrack for as
 * long as a caller's segment is.
 */
function matchesPieces(pieces: readonly string[], segment: string): boolean {
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (!segment.startsWith(first)) return false;
  let at = first.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const found = segment.indexOf(pieces[i]!, at + 1);
    if (found < 0) return false;
    at = found + pieces[i]!.length;
  }
  return segment.length - last.length >= at + 1 && segment.endsWith(last);
}

/** The segments of a declared template, spelled as `normalisePath` spells a request. */
function templateSegments(template: string): string[] {
  return template
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => segment.replace(/%([0-9a-fA-F]{2})/g, (escape, hex: string) => {
      const char = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(char) ? char : escape.toUpperCase();
    }));
}

function childFor(node: Node, segment: string): Node {
  if (/^\{[^{}/]+\}$/.test(segment)) {
    node.param ??= newNode();
    return node.param;
  }
  if (segment.includes('{')) {
    const pieces = segment.split(TEMPLATE);
    const existing = node.patterns.find((p) => p.pieces.join('{}') === pieces.join('{}'));
    if (existing !== undefined) return existing.node;
    const created = { pieces, node: newNode() };
    node.patterns.push(created);
    return created.node;
  }
  let child = node.literals.get(segment);
  if (child === undefined) {
    child = newNode();
    node.literals.set(segment, child);
  }
  return child;
}

/**
 * The first declared path that has `method`, trying literals, then patterns, then the template at
 * each segment. A path that matches without the method does not end the search: upstream routers
 * (Express, Fastify, ASP.NET Core) route by method and path together, so with only `GET
 * /users/me` literal they run `DELETE /users/{id}` for `DELETE /users/me`.
 */
function find(node: Node, segments: readonly string[], index: number, method: string): Node | null {
  if (index === segments.length) return node.methods.has(method) ? node : null;
  const segment = segments[index]!;
  const literal = node.literals.get(segment);
  if (literal !== undefined) {
    const found = find(literal, segments, index + 1, method);
    if (found !== null) return found;
  }
  for (const pattern of node.patterns) {
    if (!matchesPieces(pattern.pieces, segment)) continue;
    const found = find(pattern.node, segments, index + 1, method);
    if (found !== null) return found;
  }
  return node.param === null ? null : find(node.param, segments, index + 1, method);
}

/** Adds the methods of every declared path that matches to `into`; false when none does. */
function collectMethods(node: Node, segments: readonly string[], index: number, into: Set<string>): boolean {
  if (index === segments.length) {
    for (const method of node.methods.keys()) into.add(method);
    return node.methods.size > 0;
  }
  const segment = segments[index]!;
  let matched = false;
  const literal = node.literals.get(segment);
  if (literal !== undefined) matched = collectMethods(literal, segments, index + 1, into);
  for (const pattern of node.patterns) {
    if (matchesPieces(pattern.pieces, segment)) matched = collectMethods(pattern.node, segments, index + 1, into) || matched;
  }
  if (node.param !== null) matched = collectMethods(node.param, segments, index + 1, into) || matched;
  return matched;
}

/** The segments after `base`, or null when they do not start with it. */
function under(segments: readonly string[], base: readonly string[]): string[] | null {
  for (let i = 0; i < base.length; i++) if (segments[i] !== base[i]) return null;
  return segments.slice(base.length);
}

/**
 * Builds the matcher of a route table. A method and template declared twice (`/a/{x}` and
 * `/a/{y}`) keep the first; `openapi.ts` refuses such documents before they get here.
 *
 * @example
 * const match = compileRouter({ basePath: '/v1', operations })('GET', '/v1/users/42?x=1');
 * if (match.kind === 'operation') forward(match.path, match.operation.requirement);
 */
export function compileRouter(routes: CompiledRoutes): (method: string, rawPath: string) => RouteMatch {
  const root = newNode();
  // The same table with every literal in lower case: what a case-insensitive upstream would match.
  const folded = newNode();
  /** Each declared path's place in the folded table (two paths that differ only in case share one). */
  const foldedOf = new Map<Node, Node>();
  let upperCaseDeclared = /[A-Z]/.test(routes.basePath);
  for (const operation of routes.operations) {
    let node = root;
    let foldedNode = folded;
    for (const segment of templateSegments(operation.path)) {
      node = childFor(node, segment);
      foldedNode = childFor(foldedNode, segment.toLowerCase());
      upperCaseDeclared ||= /[A-Z]/.test(segment.replace(TEMPLATE, ''));
    }
    const method = operation.method.toUpperCase();
    if (!node.methods.has(method)) node.methods.set(method, operation);
    if (!foldedNode.methods.has(method)) foldedNode.methods.set(method, operation);
    foldedOf.set(node, foldedNode);
  }
  // HEAD is GET without the body (RFC 9110 §9.3.2), and servers run the GET handler for it: an
  // undeclared HEAD needs what the GET needs, never passthrough's any-credential.
  for (const node of [...foldedOf.keys(), ...foldedOf.values()]) {
    const get = node.methods.get('GET');
    if (get !== undefined && !node.methods.has('HEAD')) node.methods.set('HEAD', get);
  }
  const base = templateSegments(routes.basePath);
  const foldedBase = base.map((segment) => segment.toLowerCase());
  const NOT_FOUND: RouteMatch = { kind: 'not_found' };
  const SHADOWS: RouteMatch = { kind: 'not_found', shadows: true };
  const BAD_PATH: RouteMatch = { kind: 'bad_path' };

  return (method: string, rawPath: string): RouteMatch => {
    const path = normalisePath(rawPath);
    if (path === null) return BAD_PATH;
    const verb = method.toUpperCase();
    const segments = path.split('/').filter((segment) => segment !== '');
    const rest = under(segments, base);
    const node = rest === null ? null : find(root, rest, 0, verb);
    // A case-insensitive upstream (Express, ASP.NET Core) runs what the lower-cased path reaches.
    // Where that is another declared path than the one matched (`/pages/ADMIN` matching
    // `/pages/{slug}` while `/pages/admin` is declared), the upstream could run an operation whose
    // requirement was never checked: refused as `shadows`. With no upper-case letter on either
    // side, both tables give the same answer.
    const foldedRest = upperCaseDeclared || /[A-Z]/.test(path) ? under(segments.map((segment) => segment.toLowerCase()), foldedBase) : undefined;
    if (node !== null) {
      if (foldedRest !== undefined && (foldedRest === null ? null : find(folded, foldedRest, 0, verb)) !== foldedOf.get(node)) return SHADOWS;
      return { kind: 'operation', operation: node.methods.get(verb)!, path };
    }
    const allow = new Set<string>();
    const declaredPath = rest !== null && collectMethods(root, rest, 0, allow);
    // Another letter case declares the method, or the path when no path as spelled does.
    if (foldedRest != null && (find(folded, foldedRest, 0, verb) !== null || (!declaredPath && collectMethods(folded, foldedRest, 0, new Set())))) return SHADOWS;
    return declaredPath ? { kind: 'method_not_allowed', allow: [...allow].sort() } : NOT_FOUND;
  };
}
