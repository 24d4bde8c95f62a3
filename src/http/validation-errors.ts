/** One schema violation as Ajv reports it (the fields Keygate reads). */
export interface SchemaViolation {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** One problem in a request, as `errors[]` of an INVALID_REQUEST problem lists it. */
export interface FieldError {
  path: string;
  message: string;
}

const UNION_KEYWORDS = new Set(['anyOf', 'oneOf']);

/**
 * Every problem of a request (Ajv runs with `allErrors`), one per field and reason, in the
 * order Ajv found them. A union (`anyOf`: a nullable field, a choice of literals) fails by
 * failing each branch; those branch errors are noise, so each union becomes either the errors
 * of the one branch whose type the value has (an object with a bad field: that field's errors),
 * or one line saying what the value must be (`must be "EdDSA", "ES256" or "RS256"`).
 *
 * @example
 * validationErrors(request.validation); // [{ path: '/signingAlg', message: 'must be "EdDSA", "ES256" or "RS256"' }, …]
 */
export function validationErrors(violations: readonly SchemaViolation[]): FieldError[] {
  let remaining = [...violations];
  // Innermost unions first, so an outer union sees an inner one already collapsed.
  const unions = violations.filter((v) => UNION_KEYWORDS.has(v.keyword)).sort((a, b) => b.schemaPath.length - a.schemaPath.length);
  for (const union of unions) remaining = collapseUnion(remaining, union);
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const violation of remaining) {
    const error = toFieldError(violation);
    const key = `${error.path}\u0000${error.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      errors.push(error);
    }
  }
  return errors;
}

function collapseUnion(violations: SchemaViolation[], union: SchemaViolation): SchemaViolation[] {
  const prefix = `${union.schemaPath}/`;
  const branches = new Map<string, SchemaViolation[]>();
  for (const v of violations) {
    if (!v.schemaPath.startsWith(prefix)) continue;
    const branch = v.schemaPath.slice(prefix.length).split('/')[0]!;
    branches.set(branch, [...(branches.get(branch) ?? []), v]);
  }
  // A branch whose every error lies inside the value accepted the value's type: its errors say what is wrong.
  const matching = [...branches.values()].filter((errors) => errors.every((e) => e.instancePath !== union.instancePath));
  const replacement: SchemaViolation[] =
    matching.length === 1 ? matching[0]! : [{ instancePath: union.instancePath, schemaPath: union.schemaPath, keyword: 'union', message: expected([...branches.values()].flat(), union.instancePath) }];
  const kept = violations.filter((v) => v !== union && !v.schemaPath.startsWith(prefix));
  const at = violations.indexOf(union);
  const before = kept.filter((v) => violations.indexOf(v) < at).length;
  return [...kept.slice(0, before), ...replacement, ...kept.slice(before)];
}

/** What the branches of a union accept at its own path: `must be string or null`. */
function expected(branchErrors: readonly SchemaViolation[], path: string): string {
  const options: string[] = [];
  for (const e of branchErrors) {
    if (e.instancePath !== path) continue;
    if (e.keyword === 'const') options.push(JSON.stringify(e.params?.['allowedValue']));
    else if (e.keyword === 'enum') options.push(...((e.params?.['allowedValues'] as unknown[]) ?? []).map((value) => JSON.stringify(value)));
    else if (e.keyword === 'type') options.push(String(e.params?.['type']));
  }
  const unique = [...new Set(options)];
  if (unique.length === 0) return 'must match one of the allowed forms';
  return unique.length === 1 ? `must be ${unique[0]}` : `must be ${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
}

function toFieldError(v: SchemaViolation): FieldError {
  const unknown = v.params?.['additionalProperty'];
  if (unknown !== undefined) return { path: `${v.instancePath}/${String(unknown)}`, message: 'unknown field' };
  return { path: v.instancePath || '/', message: v.message ?? 'invalid' };
}
