import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../../../domain/people.js';
import type { Tenant } from '../../../domain/tenants.js';
import type { ConsumerDetails } from '../../../services/consumers-service.js';
import type { Keygate } from '../../../services/keygate.js';
import type { KeyWithApi } from '../../../services/keys-service.js';
import { param, type Form } from '../../oauth/form.js';
import { cookieOptions } from '../cookies.js';
import { checkedForm, portalRequest, type PortalRequest } from '../context.js';
import { html } from '../html.js';
import { developerPage, developerReply } from './layout.js';

/** The consumer the member last picked. Only a hint: it is honoured only while the user is still its member. */
export const CONSUMER_COOKIE = 'kg_consumer';

/** A signed-in member of at least one consumer, acting for `consumer`. */
export interface MemberContext {
  tenant: Tenant;
  user: User;
  /** The consumer the member acts for: one of `consumers`. */
  consumer: ConsumerDetails;
  consumers: ConsumerDetails[];
  csrf: string;
  /** `/t/{slug}`. */
  base: string;
  /** `/t/{slug}/portal`. */
  portal: string;
}

/**
 * The member behind a portal request, or null once a reply was sent: a redirect to sign-in
 * (coming back to this page) for a visitor, a 403 page for a user who belongs to no consumer.
 * Membership is read from the store on every request, so a member removed by the owner loses
 * the portal at once; the consumer cookie only picks among the consumers the user belongs to.
 *
 * @example
 * const member = await requireMember(keygate, request, reply);
 * if (member === null) return reply;
 */
export async function requireMember(keygate: Keygate, request: FastifyRequest, reply: FastifyReply): Promise<MemberContext | null> {
  return memberOf(keygate, request, reply, await portalRequest(keygate, request, reply));
}

/**
 * A posted portal form and its member, or null once a reply was sent: the tenant first (404),
 * then the CSRF token (403), then the member as `requireMember` decides.
 *
 * @example
 * const posted = await memberForm(keygate, request, reply);
 * if (posted === null) return reply;
 */
export async function memberForm(keygate: Keygate, request: FastifyRequest, reply: FastifyReply): Promise<{ member: MemberContext; form: Form } | null> {
  const portalContext = await portalRequest(keygate, request, reply);
  const form = checkedForm(request, reply);
  if (form === null) return null;
  const member = await memberOf(keygate, request, reply, portalContext);
  return member === null ? null : { member, form };
}

async function memberOf(keygate: Keygate, request: FastifyRequest, reply: FastifyReply, { tenant, user, csrf, base }: PortalRequest): Promise<MemberContext | null> {
  const portal = `${base}/portal`;
  if (user === null) {
    const back = request.method === 'GET' ? request.url.split('?')[0]! : portal;
    reply.redirect(`${base}/login?next=${encodeURIComponent(back)}`, 303);
    return null;
  }
  const consumers = await keygate.consumers.consumersOf(tenant, user.id);
  const picked = request.cookies[CONSUMER_COOKIE];
  const consumer = consumers.find((c) => c.consumer.id === picked) ?? consumers[0];
  if (consumer === undefined) {
    developerReply(
      reply,
      403,
      developerPage({
        title: 'No consumer',
        tenant,
        member: user,
        consumer: null,
        consumers: [],
        csrf,
        active: 'home',
        body: html`<h1>You are not a member of any consumer</h1><p class="lead">The developer portal is for the members of ${tenant.name}'s consumers. Ask the API owner to add <strong>${user.email}</strong> to your company's consumer, then reload this page.</p>`,
      }),
    );
    return null;
  }
  return { tenant, user, consumer, consumers, csrf, base, portal };
}

/** Every key of the member's consumer (ConsumersService lists only the keys under its grants), sub-keys and revoked ones included. */
export async function consumerKeys(keygate: Keygate, member: MemberContext): Promise<KeyWithApi[]> {
  const keys: KeyWithApi[] = [];
  for (let after: string | null = null; ; ) {
    const page = await keygate.consumers.listKeys(member.tenant, member.consumer.consumer.id, { after, limit: 100 });
    keys.push(...page.items);
    if (page.next === null) return keys;
    after = page.next;
  }
}

/** The shell's inputs for a member's page. */
export function shellOf(member: MemberContext): Pick<Parameters<typeof developerPage>[0], 'tenant' | 'member' | 'consumer' | 'consumers' | 'csrf'> {
  return {
    tenant: member.tenant,
    member: member.user,
    consumer: { id: member.consumer.consumer.id, name: member.consumer.consumer.name },
    consumers: member.consumers.map((c) => ({ id: c.consumer.id, name: c.consumer.name })),
    csrf: member.csrf,
  };
}

/**
 * Whether `next` is a portal page of this tenant to return to after sign-in: a path under
 * `/t/{slug}/portal` and nothing else (no scheme, host, `//`, backslash or dot segment), so the
 * sign-in page cannot be made to redirect anywhere else.
 */
export function portalReturnPath(slug: string, next: unknown): string | null {
  // A repeated `?next=` arrives as an array: no return path, not a crash.
  if (typeof next !== 'string') return null;
  const portal = `/t/${slug}/portal`;
  if (next !== portal && !next.startsWith(`${portal}/`)) return null;
  return /^[A-Za-z0-9_/-]+$/.test(next) && !next.includes('//') ? next : null;
}

/** The consumer picker: the choice is stored only after the user's membership is checked. */
export function memberRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.post('/t/:slug/portal/consumer', { schema: { hide: true } }, async (request, reply) => {
    const posted = await memberForm(keygate, request, reply);
    if (posted === null) return reply;
    const { member, form } = posted;
    const chosen = member.consumers.find((c) => c.consumer.id === param(form, 'consumer'));
    if (chosen === undefined) {
      return developerReply(
        reply,
        403,
        developerPage({ ...shellOf(member), title: 'Not a member', active: 'home', body: html`<h1>Not a member</h1><p class="error" role="alert">You are not a member of that consumer. Pick one from the list.</p>` }),
      );
    }
    reply.setCookie(CONSUMER_COOKIE, chosen.consumer.id, cookieOptions(keygate.publicUrl, member.tenant.slug));
    return reply.redirect(member.portal, 303);
  });
}
