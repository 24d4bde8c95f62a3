import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDoc } from '../../src/config/render-doc.js';
import { ConfigError, loadConfig, plaintextDeliveryWarnings, trustProxyOption } from '../../src/config/schema.js';

describe('configuration', () => {
  it('docs/configuration.md is what the schema generates (run `npm run docs:config`)', () => {
    expect(readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')).toBe(renderConfigDoc());
  });

  it('has working defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({ port: 4000, host: '127.0.0.1', publicUrl: 'http://127.0.0.1:4000', dataDir: './.keygate', databaseUrl: undefined, bodyLimit: 1_048_576 });
  });

  it('takes flags over env vars over defaults', () => {
    const config = loadConfig({ env: { PORT: '5000', HOST: '0.0.0.0' }, flags: { port: '6000' } });
    expect(config.port).toBe(6000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.publicUrl).toBe('http://0.0.0.0:6000');
  });

  it('reports every invalid setting at once, by name, without echoing secrets', () => {
    try {
      loadConfig({ env: { PORT: 'eighty', DATABASE_URL: 'mysql://user:hunter2@db/x', KEYGATE_ROOT_KEY: 'short', LOG_LEVEL: 'loud', KEYGATE_BODY_LIMIT: '1' } });
      expect.unreachable('invalid config was accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'KEYGATE_ROOT_KEY', 'LOG_LEVEL', 'KEYGATE_BODY_LIMIT']) expect(message).toContain(name);
      expect(message).not.toContain('hunter2');
      expect(message).not.toContain('short');
    }
  });

  it('refuses a KEYGATE_ROOT_KEY longer than management authentication reads (it would answer 401 forever)', () => {
    expect(() => loadConfig({ env: { KEYGATE_ROOT_KEY: 'k'.repeat(513) } })).toThrow(/KEYGATE_ROOT_KEY: must be at most 512 characters/);
    expect(() => loadConfig({ env: { GATEWAY_HOST_SUFFIXES: 'gw.example.com, *.com' } })).toThrow(/GATEWAY_HOST_SUFFIXES: "\*\.com" is not a DNS suffix/);
    expect(loadConfig({ env: { GATEWAY_HOST_SUFFIXES: '{tenant}.gw.example.com' } }).gatewayHostSuffixes).toBe('{tenant}.gw.example.com');
    expect(() => loadConfig({ env: { KEYGATE_GATEWAY_MAX_FORWARDS: '0' } })).toThrow(/KEYGATE_GATEWAY_MAX_FORWARDS/);
    expect(() => loadConfig({ env: { KEYGATE_GATEWAY_MAX_FORWARDS: 'many' } })).toThrow(/KEYGATE_GATEWAY_MAX_FORWARDS/);
    expect(loadConfig({ env: {} }).gatewayMaxForwards).toBe(1024);
    expect(loadConfig({ env: { KEYGATE_ROOT_KEY: 'k'.repeat(512) } }).rootKey).toHaveLength(512);
  });

  it('keeps console sessions short by default and refuses lifetimes out of range or not whole', () => {
    expect(loadConfig({ env: {} })).toMatchObject({ consoleIdleMinutes: 30, consoleSessionHours: 8 });
    for (const [name, value] of [['KEYGATE_CONSOLE_IDLE_MINUTES', '0'], ['KEYGATE_CONSOLE_IDLE_MINUTES', '1441'], ['KEYGATE_CONSOLE_IDLE_MINUTES', '15.5'], ['KEYGATE_CONSOLE_SESSION_HOURS', '0'], ['KEYGATE_CONSOLE_SESSION_HOURS', 'forever']] as const) {
      expect(() => loadConfig({ env: { [name]: value } }), `${name}=${value}`).toThrow(new RegExp(name));
    }
    expect(loadConfig({ env: { KEYGATE_CONSOLE_IDLE_MINUTES: '5', KEYGATE_CONSOLE_SESSION_HOURS: '1' } })).toMatchObject({ consoleIdleMinutes: 5, consoleSessionHours: 1 });
  });

  it('warns about a reset-link delivery in clear over a network, naming the host, never the password', () => {
    const warned = (env: Record<string, string | undefined>): string[] => plaintextDeliveryWarnings(loadConfig({ env }));
    const smtp = warned({ SMTP_URL: 'smtp://user:hunter2@mail.example.com:587?requireTLS=false', SMTP_FROM: 'a@example.com' });
    expect(smtp).toHaveLength(1);
    expect(smtp[0]).toMatch(/^SMTP_URL: .*mail\.example\.com.*requireTLS=false/);
    expect(smtp[0]).not.toContain('hunter2');
    const hook = warned({ KEYGATE_WEBHOOK_URL: 'http://user:hunter2@hooks.example.com/reset', KEYGATE_WEBHOOK_SECRET: 's'.repeat(32) });
    expect(hook).toHaveLength(1);
    expect(hook[0]).toMatch(/^KEYGATE_WEBHOOK_URL: .*hooks\.example\.com/);
    expect(hook[0]).not.toContain('hunter2');
    // TLS from the start, STARTTLS required, https, or a loopback relay: nothing to warn about.
    for (const env of [
      { SMTP_URL: 'smtps://u:p@mail.example.com:465', SMTP_FROM: 'a@example.com' },
      { SMTP_URL: 'smtp://u:p@mail.example.com:587?requireTLS=true', SMTP_FROM: 'a@example.com' },
      // Plain smtp:// beyond loopback requires STARTTLS by default (smtpTransportOptions).
      { SMTP_URL: 'smtp://u:p@mail.example.com:587', SMTP_FROM: 'a@example.com' },
      { SMTP_URL: 'smtp://localhost:25', SMTP_FROM: 'a@example.com' },
      { SMTP_URL: 'smtp://127.0.0.1:2525', SMTP_FROM: 'a@example.com' },
      { KEYGATE_WEBHOOK_URL: 'https://hooks.example.com/reset', KEYGATE_WEBHOOK_SECRET: 's'.repeat(32) },
      { KEYGATE_WEBHOOK_URL: 'http://[::1]:8080/reset', KEYGATE_WEBHOOK_SECRET: 's'.repeat(32) },
      {},
    ]) expect(warned(env)).toEqual([]);
  });

  it('requires STARTTLS for reset mail beyond this machine unless SMTP_URL opts out', async () => {
    const { createTransport } = await import('nodemailer');
    const { smtpTransportOptions } = await import('../../src/services/password-reset-delivery.js');
    const requires = (url: string): unknown => (createTransport(smtpTransportOptions(url)) as unknown as { options: { requireTLS?: boolean } }).options.requireTLS;
    expect(requires('smtp://u:p@mail.example.com:587')).toBe(true);
    expect(requires('smtp://127.0.0.1:2525')).toBe(false);
    expect(requires('smtp://localhost:25')).toBe(false);
    expect(requires('smtp://u:p@mail.example.com:587?requireTLS=false')).toBe(false);
  });

  it('maps the trust-proxy setting to what Fastify takes', () => {
    expect(trustProxyOption('false')).toBe(false);
    expect(trustProxyOption('true')).toBe(true);
    expect(trustProxyOption('2')).toBe(2);
    expect(trustProxyOption('10.0.0.1, 10.1.0.0/16')).toEqual(['10.0.0.1', '10.1.0.0/16']);
  });
});
