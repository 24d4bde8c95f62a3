import type {} from '@fastify/cookie';
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from '../../crypto/secrets.js';

export const CONSOLE_SESSION_COOKIE = 'kg_console';
export const CONSOLE_CSRF_COOKIE = 'kg_console_csrf';

/**
 * The console's cookies: HttpOnly, SameSite=Strict (no flow ever enters the console from another
 * site, so no cross-site request carries them at all), Secure over https, scoped to `/console`.
 */
export function consoleCookieOptions(publicUrl: string, maxAgeSeconds?: number) {
  return {
    path: '/console',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: publicUrl.startsWith('https:'),
    ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}),
  };
}

/** The double-submit CSRF token of this browser: a random value in a cookie, repeated in every form. */
export function consoleCsrfToken(request: FastifyRequest, reply: FastifyReply, publicUrl: string): string {
  const existing = request.cookies[CONSOLE_CSRF_COOKIE];
  if (existing !== undefined && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = randomBytes(32).toString('base64url');
  reply.setCookie(CONSOLE_CSRF_COOKIE, token, consoleCookieOptions(publicUrl));
  return token;
}

export function consoleCsrfValid(request: FastifyRequest, submitted: string | undefined): boolean {
  const cookie = request.cookies[CONSOLE_CSRF_COOKIE];
  return cookie !== undefined && submitted !== undefined && safeEqual(cookie, submitted);
}

/**
 * The CSRF token of a signed-in operator's forms: derived from the session secret, so only a
 * page served to the session's own browser can hold it. A sibling subdomain (same site, so
 * SameSite does not stop it) may plant a CSRF cookie, but it cannot learn this.
 */
export function sessionCsrf(sessionValue: string): string {
  return createHash('sha256').update(`keygate console csrf:${sessionValue}`).digest('base64url');
}
