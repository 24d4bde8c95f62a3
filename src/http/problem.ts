import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_REGISTRY, KeygateError, type ErrorCode } from '../domain/errors.js';
import { validationErrors, type SchemaViolation } from './validation-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route whose body is not the usual JSON: what its 413 and 415 answers say instead. */
    body?: {
      /** Where the route's own size limit comes from, e.g. 'the limit of an OpenAPI document'. */
      limit: string;
      /** The media types the route accepts. */
      mediaTypes: readonly string[];
    };
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  requestId: string;
  errors?: { path: string; message: string }[];
  affected?: Readonly<Record<string, number>>;
}

/** RFC 9457 problem details; `type` points at the code's entry in docs/errors.md. */
export function problem(code: ErrorCode, detail: string, requestId: string, errors?: ProblemBody['errors']): ProblemBody {
  const entry = ERROR_REGISTRY[code];
  return {
    type: `https://keygate.dev/errors#${code.toLowerCase()}`,
    title: entry.title,
    status: entry.status,
    code,
    detail,
    requestId,
    ...(errors ? { errors } : {}),
  };
}

/**
 * Turns anything thrown by a route into a problem: our own errors as they are, Fastify's
 * parse/validation/size errors into stable codes, everything else into a generic 500 whose
 * detail stays in the log.
 */
export function toProblem(err: unknown, request: FastifyRequest): ProblemBody {
  const id = request.id;
  if (err instanceof KeygateError) {
    const body = problem(err.code, err.expose ? err.message : ERROR_REGISTRY[err.code].title, id);
    return err.affected === undefined ? body : { ...body, affected: err.affected };
  }
  const fe = err as FastifyError & { validation?: SchemaViolation[] };
  if (fe.validation) {
    const errors = validationErrors(fe.validation);
    const where = fe.validationContext ?? 'body';
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more: see errors[])` : '';
    return problem('INVALID_REQUEST', `${where} ${errors[0]?.path ?? ''}: ${errors[0]?.message ?? 'invalid'}${more}`, id, errors);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limit = request.routeOptions.config.body?.limit ?? 'set by KEYGATE_BODY_LIMIT';
      return problem('BODY_TOO_LARGE', `the request body is larger than the limit of ${describeBytes(request.routeOptions.bodyLimit)}, ${limit}`, id);
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('UNSUPPORTED_MEDIA_TYPE', `send the body as ${request.routeOptions.config.body?.mediaTypes.join(' or ') ?? 'application/json'}`, id);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem('MALFORMED_JSON', 'the body is empty; send a JSON object', id);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem('MALFORMED_JSON', 'the body is not valid JSON', id);
  }
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON|prototype/i.test(fe.message))) {
    return problem('MALFORMED_JSON', 'the body is not valid JSON', id);
  }
  return problem('INTERNAL', 'something went wrong; the request id is in the server log', id);
}

/** `1 MiB (1048576 bytes)`: the unit people configure, and the exact figure. */
function describeBytes(bytes: number): string {
  const units: [number, string][] = [
    [1024 * 1024, 'MiB'],
    [1024, 'KiB'],
  ];
  for (const [size, unit] of units) if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit} (${bytes} bytes)`;
  return `${bytes} bytes`;
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  if (body.status === 401) reply.header('www-authenticate', 'Bearer realm="keygate"');
  return reply.code(body.status).type('application/problem+json').send(body);
}
