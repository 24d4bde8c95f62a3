import type { FastifyInstance } from 'fastify';
import { OAuthError } from '../../domain/oauth/errors.js';

/** A parsed `application/x-www-form-urlencoded` body, keeping repeated names to refuse them. */
export type Form = Map<string, string[]>;

const FORM_LIMIT = 64 * 1024;

/** Registers the form parser on an (encapsulated) Fastify scope: the OAuth endpoints and the pages. */
export function acceptForms(app: FastifyInstance, bodyLimit = FORM_LIMIT): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    const form: Form = new Map();
    for (const [name, value] of new URLSearchParams(body as string)) {
      const values = form.get(name);
      if (values) values.push(value);
      else form.set(name, [value]);
    }
    done(null, form);
  });
}

/** The form of a request; a request without one is invalid_request. */
export function formOf(body: unknown): Form {
  if (!(body instanceof Map)) throw new OAuthError('invalid_request', 'send the parameters as application/x-www-form-urlencoded');
  return body as Form;
}

/** One parameter's value; RFC 6749 §3.2: parameters MUST NOT be included more than once. */
export function param(form: Form, name: string): string | undefined {
  const values = form.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) throw new OAuthError('invalid_request', `parameter "${name}" is repeated`);
  return values[0];
}

export function requiredParam(form: Form, name: string): string {
  const value = param(form, name);
  if (value === undefined || value === '') throw new OAuthError('invalid_request', `parameter "${name}" is required`);
  return value;
}
