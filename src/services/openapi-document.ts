import type { ParserOptions } from '@readme/openapi-parser';
import { KeygateError } from '../domain/errors.js';
import { compileOpenApi } from '../domain/gateway/openapi.js';
import type { CompiledRoutes } from '../domain/gateway/routes.js';
import type { ScopeDefinition } from '../domain/scopes.js';

/** The largest OpenAPI document an API may upload (large public specs are 2–7 MiB of JSON). */
export const MAX_OPENAPI_BYTES = 8 * 1024 * 1024;
/** How deeply a document may nest: deep enough for real schemas, far from the validator's stack limit. */
export const MAX_OPENAPI_DEPTH = 128;

/**
 * Only the document itself is read: a `$ref` to a URL or a file would make Keygate fetch what an
 * API owner names (SSRF, local files), so external references are left unresolved.
 */
const PARSER_OPTIONS: ParserOptions = {
  resolve: { external: false, file: false },
  dereference: { circular: 'ignore' },
  timeoutMs: 5_000,
};

/** INVALID_OPENAPI with every reason, for `errors[]`. */
export class InvalidOpenApiError extends KeygateError {
  constructor(readonly problems: readonly string[]) {
    super('INVALID_OPENAPI', problems.length === 1 ? problems[0] : `${problems[0]} (and ${problems.length - 1} more)`);
  }
}

/*
 * The parser and the YAML reader are loaded by the first document read, not at every start: most
 * instances never see one, and together they are a tenth of a start's CPU (bench/startup.ts).
 */
const openApiParser = (): Promise<typeof import('@readme/openapi-parser')> => import('@readme/openapi-parser');

async function parseText(text: string, format: 'json' | 'yaml'): Promise<unknown> {
  const parseYaml = format === 'yaml' ? (await import('yaml')).parse : null;
  try {
    return parseYaml === null ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100, uniqueKeys: true });
  } catch (err) {
    throw new InvalidOpenApiError([`the document is not valid ${format.toUpperCase()}: ${(err as Error).message.split('\n')[0]}`]);
  }
}

/** Whether a parsed value nests deeper than `max`, walked without recursion. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth >= max) return true;
    for (const child of Object.values(next.value)) pending.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}

/**
 * A stored document (validated when it was uploaded), parsed and dereferenced again for reading
 * its words: summaries, parameters, body types (the API explorer).
 *
 * @example
 * const document = await readDocument(stored.document, stored.format);
 */
export async function readDocument(text: string, format: 'json' | 'yaml'): Promise<unknown> {
  const parsed = await parseText(text, format);
  const { dereference } = await openApiParser();
  try {
    return await dereference(parsed as Parameters<typeof dereference>[0], PARSER_OPTIONS);
  } catch (err) {
    throw new InvalidOpenApiError([(err as Error).message]);
  }
}

/**
 * Reads an uploaded OpenAPI document and compiles the gateway's routes from it: parsed as JSON or
 * YAML, validated by `@readme/openapi-parser` against the OpenAPI 3.0/3.1 schemas, dereferenced,
 * then compiled against the API's scope catalog. Throws InvalidOpenApiError with every reason.
 *
 * @example
 * const routes = await compileDocument(await readFile('openapi.yaml', 'utf8'), 'yaml', api.scopes);
 */
export async function compileDocument(text: string, format: 'json' | 'yaml', catalog: readonly ScopeDefinition[]): Promise<CompiledRoutes> {
  const parsed = await parseText(text, format);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidOpenApiError(['the document must be an object']);
  if (nestsDeeperThan(parsed, MAX_OPENAPI_DEPTH)) throw new InvalidOpenApiError([`the document nests more than ${MAX_OPENAPI_DEPTH} levels deep`]);
  if (typeof (parsed as Record<string, unknown>)['openapi'] !== 'string') {
    throw new InvalidOpenApiError(['only OpenAPI 3.0 and 3.1 documents are accepted (the "openapi" field)']);
  }
  const { dereference, validate } = await openApiParser();
  let dereferenced: unknown;
  try {
    const result = await validate(structuredClone(parsed) as Parameters<typeof validate>[0], PARSER_OPTIONS);
    if (!result.valid) throw new InvalidOpenApiError(result.errors.map((error) => error.message));
    dereferenced = await dereference(structuredClone(parsed) as Parameters<typeof dereference>[0], PARSER_OPTIONS);
  } catch (err) {
    if (err instanceof InvalidOpenApiError) throw err;
    throw new InvalidOpenApiError([(err as Error).message]);
  }
  const compiled = compileOpenApi(dereferenced, catalog);
  if (!compiled.ok) throw new InvalidOpenApiError(compiled.problems);
  return compiled.routes;
}
