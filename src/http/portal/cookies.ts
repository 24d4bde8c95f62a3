import type {} from '@fastify/cookie';
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from '../../crypto/secrets.js';

export const SESSION_COOKIE = 'kg_session';
export const CSRF_COOKIE = 'kg_csrf';

/** Cookie settings: HttpOnly, SameSite=Lax (the consent redirect is a top-level navigation), Secure over https, scoped to the tenant. */
export function cookieOptions(publicUrl: string, slug: string, maxAgeSeconds?: number) {
  return {
    path: `/t/${slug}`,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: publicUrl.startsWith('https:'),
    ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}),
  };
}

/**
 * Double-submit CSRF protection: a random token in a cookie and the same value in every form.
 * A cross-site form post cannot read the cookie, so it cannot send the matching field.
 */
export function csrfToken(request: FastifyRequest, reply: FastifyReply, publicUrl: string, slug: string): string {
  const existing = request.cookies[CSRF_COOKIE];
  if (existing !== undefined && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = randomBytes(32).toString('base64url');
  reply.setCookie(CSRF_COOKIE, token, cookieOptions(publicUrl, slug));
  return token;
}

export function csrfValid(request: FastifyRequest, submitted: string | undefined): boolean {
  const cookie = request.cookies[CSRF_COOKIE];
  return cookie !== undefined && submitted !== undefined && safeEqual(cookie, submitted);
}
