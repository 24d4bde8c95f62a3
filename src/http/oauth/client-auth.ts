import type { FastifyRequest } from 'fastify';
import { OAuthError } from '../../domain/oauth/errors.js';
import { decodeJwt } from '../../domain/tokens/jwt.js';
import { CLIENT_ASSERTION_TYPE } from '../../domain/oauth/registry.js';
import type { PresentedClient } from '../../services/client-authenticator.js';
import { param, type Form } from './form.js';

/**
 * Which client authentication the request used: HTTP Basic (RFC 6749 §2.3.1, with the
 * form-urlencoding of id and secret undone), secret in the body, a JWT assertion (RFC 7523), or
 * only a client_id (public clients). Presenting two methods is invalid_request.
 */
export function presentedClient(request: FastifyRequest, form: Form): PresentedClient {
  const header = request.headers.authorization;
  const bodyId = param(form, 'client_id');
  const bodySecret = param(form, 'client_secret');
  const assertion = param(form, 'client_assertion');
  const assertionType = param(form, 'client_assertion_type');
  const methods = [header !== undefined, bodySecret !== undefined, assertion !== undefined].filter(Boolean).length;
  if (methods > 1) throw new OAuthError('invalid_request', 'use exactly one client authentication method');

  if (header !== undefined) {
    const match = /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
    const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new OAuthError('invalid_client', 'malformed Basic credentials');
    const clientId = safeDecode(decoded.slice(0, colon));
    if (bodyId !== undefined && bodyId !== clientId) throw new OAuthError('invalid_request', 'client_id differs from the authenticated client');
    return { method: 'client_secret_basic', clientId, secret: safeDecode(decoded.slice(colon + 1)), address: request.ip, requestId: request.id };
  }
  if (assertion !== undefined) {
    if (assertionType !== CLIENT_ASSERTION_TYPE) throw new OAuthError('invalid_request', `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
    const clientId = bodyId ?? issuerOfAssertion(assertion);
    return { method: 'private_key_jwt', clientId, assertion, address: request.ip, requestId: request.id };
  }
  if (bodyId === undefined) throw new OAuthError('invalid_client', 'client authentication is required');
  if (bodySecret !== undefined) return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret, address: request.ip, requestId: request.id };
  return { method: 'none', clientId: bodyId, address: request.ip, requestId: request.id };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new OAuthError('invalid_client', 'malformed Basic credentials');
  }
}

function issuerOfAssertion(assertion: string): string {
  const iss = decodeJwt(assertion)?.payload.iss;
  if (typeof iss === 'string') return iss;
  throw new OAuthError('invalid_client', 'the client assertion names no client');
}
