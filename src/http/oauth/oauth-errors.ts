import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { KeygateError } from '../../domain/errors.js';
import { OAuthError } from '../../domain/oauth/errors.js';

/**
 * Errors of the OAuth endpoints as RFC 6749 §5.2 bodies: `{error, error_description}`, never a
 * 500 with details. Store outages are `temporarily_unavailable`; unexpected faults
 * `server_error` with the detail in the log.
 */
export function oauthErrorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let error: OAuthError;
  if (err instanceof OAuthError) error = err;
  else if (err instanceof KeygateError && err.code === 'STORE_UNAVAILABLE') error = new OAuthError('temporarily_unavailable', 'the store is unreachable; retry shortly');
  else if (err instanceof KeygateError && err.status < 500) error = new OAuthError('invalid_request', err.message);
  else if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') error = new OAuthError('invalid_request', 'the request body is too large', { status: 413 });
  else if ((err as FastifyError).statusCode !== undefined && (err as FastifyError).statusCode! < 500) error = new OAuthError('invalid_request', 'the request is malformed');
  else {
    request.log.error({ err, requestId: request.id }, 'oauth request failed');
    error = new OAuthError('server_error', 'something went wrong; the request id is in the server log');
  }
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
  if (error.code === 'invalid_client' && error.status === 401 && request.headers.authorization?.toLowerCase().startsWith('basic ')) {
    reply.header('www-authenticate', 'Basic realm="keygate"');
  }
  return reply.code(error.status).send({ error: error.code, error_description: error.message });
}
