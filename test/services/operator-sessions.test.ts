import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_MANAGEMENT_SCOPES } from '../../src/domain/management.js';
import type { Keygate } from '../../src/services/keygate.js';
import { BACKENDS } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FULL = { scopes: new Set(ALL_MANAGEMENT_SCOPES), tenant: null };
const ACTOR = { id: 'test', requestId: null, ip: null };
const SOURCE = { ip: '203.0.113.7', requestId: 'req_test' };
const PASSWORD = 'correct horse battery staple';
const MINUTE = 60_000;

/**
 * The console's sign-in contract (`keygate.operators`): signIn, startSession, resolveSession,
 * endSession, on both stores, with the idle and absolute lifetimes on a stepped clock.
 */
describe.each(BACKENDS)('operator sign-in and console sessions (%s)', (backend) => {
  let t: TestServer;
  let keygate: Keygate;
  const clock = testClock();

  beforeAll(async () => {
    t = await startTestServer(backend, { consoleIdleMinutes: 30, consoleSessionHours: 8 }, { clock: clock.now });
    keygate = t.server.keygate;
  });
  afterAll(() => t?.close());

  async function operator(email: string, options: { password?: string } = {}) {
    return (await keygate.operators.create(ACTOR, FULL, { email, password: options.password ?? PASSWORD, scopes: ['keys:read'] })).operator;
  }

  it('signs in with the right password only, and the same answer for a wrong password, an unknown email and a disabled operator', async () => {
    const ada = await operator('Ada@Ops.test');
    const ok = await keygate.operators.signIn('ada@ops.test', PASSWORD, SOURCE);
    expect(ok).toEqual({ operator: { ...ada, email: 'ada@ops.test' } });
    expect(await keygate.operators.signIn('ada@ops.test', 'wrong password here', SOURCE)).toEqual({ error: 'invalid' });
    expect(await keygate.operators.signIn('nobody@ops.test', PASSWORD, SOURCE)).toEqual({ error: 'invalid' });
    await keygate.operators.update(ACTOR, FULL, ada.id, { disabled: true });
    expect(await keygate.operators.signIn('ada@ops.test', PASSWORD, SOURCE)).toEqual({ error: 'invalid' });
  });

  it('is not fooled by a portal user of a tenant with the same email and password', async () => {
    expect((await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' })).status).toBe(201);
    expect((await t.call('POST', '/v1/tenants/acme/users', { email: 'eve@ops.test', password: PASSWORD })).status).toBe(201);
    expect(await keygate.operators.signIn('eve@ops.test', PASSWORD, { ...SOURCE, ip: '203.0.113.8' })).toEqual({ error: 'invalid' });
    // And a portal session is never a console session.
    const acme = await keygate.tenants.get('acme');
    const user = (await keygate.users.list(acme, { after: null, limit: 10 })).items[0]!;
    const portal = await keygate.sessions.create(acme, user);
    expect(await keygate.operators.resolveSession(portal.value)).toBeNull();
  });

  it('throttles an account after 5 failures, whatever the password, until the window passes', async () => {
    await operator('grace@ops.test');
    const source = { ...SOURCE, ip: '198.51.100.1' };
    for (let i = 0; i < 5; i += 1) expect(await keygate.operators.signIn('grace@ops.test', `wrong password ${i}`, source)).toEqual({ error: 'invalid' });
    const throttled = await keygate.operators.signIn('grace@ops.test', PASSWORD, source);
    expect(throttled).toMatchObject({ error: 'throttled', retryAfter: expect.any(Number) });
    clock.advance(16 * MINUTE);
    expect(await keygate.operators.signIn('grace@ops.test', PASSWORD, source)).toMatchObject({ operator: { email: 'grace@ops.test' } });
  });

  it('keeps a session while it is used within the idle lifetime, and ends it after 30 idle minutes', async () => {
    const op = await operator('idle@ops.test');
    const session = await keygate.operators.startSession(op);
    expect(session.expiresAt).toBe(clock.now() + 30 * MINUTE);
    for (let i = 0; i < 4; i += 1) {
      clock.advance(20 * MINUTE);
      expect((await keygate.operators.resolveSession(session.value))?.id).toBe(op.id);
    }
    clock.advance(30 * MINUTE);
    expect(await keygate.operators.resolveSession(session.value)).toBeNull();
  });

  it('ends a session after 8 hours however busy, and on sign-out', async () => {
    const op = await operator('busy@ops.test');
    const session = await keygate.operators.startSession(op);
    for (let elapsed = 0; elapsed < 8 * 60 - 10; elapsed += 10) {
      clock.advance(10 * MINUTE);
      expect((await keygate.operators.resolveSession(session.value))?.id, `after ${elapsed + 10} minutes`).toBe(op.id);
    }
    clock.advance(10 * MINUTE);
    expect(await keygate.operators.resolveSession(session.value)).toBeNull();

    const other = await keygate.operators.startSession(op);
    expect((await keygate.operators.resolveSession(other.value))?.id).toBe(op.id);
    await keygate.operators.endSession(other.value);
    expect(await keygate.operators.resolveSession(other.value)).toBeNull();
    await keygate.operators.endSession(undefined);
    expect(await keygate.operators.resolveSession(undefined)).toBeNull();
    expect(await keygate.operators.resolveSession('x'.repeat(500))).toBeNull();
  });

  it('ends sessions when the operator is disabled, their password reset, or deleted', async () => {
    const op = await operator('ends@ops.test');
    const first = await keygate.operators.startSession(op);
    await keygate.operators.update(ACTOR, FULL, op.id, { disabled: true });
    expect(await keygate.operators.resolveSession(first.value)).toBeNull();
    await keygate.operators.update(ACTOR, FULL, op.id, { disabled: false });
    // Enabling again does not bring an ended session back.
    expect(await keygate.operators.resolveSession(first.value)).toBeNull();

    const second = await keygate.operators.startSession(op);
    const reset = await keygate.operators.resetPassword(ACTOR, FULL, op.id);
    expect(reset.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await keygate.operators.resolveSession(second.value)).toBeNull();
    expect(await keygate.operators.signIn('ends@ops.test', PASSWORD, { ...SOURCE, ip: '198.51.100.9' })).toEqual({ error: 'invalid' });
    expect(await keygate.operators.signIn('ends@ops.test', reset.password!, { ...SOURCE, ip: '198.51.100.9' })).toMatchObject({ operator: { id: op.id } });

    const third = await keygate.operators.startSession(op);
    await keygate.operators.delete(ACTOR, FULL, op.id);
    expect(await keygate.operators.resolveSession(third.value)).toBeNull();
  });
});
