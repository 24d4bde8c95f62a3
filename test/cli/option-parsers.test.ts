import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/cli-errors.js';
import {
  collectAllowance,
  collectImplication,
  collectRatelimit,
  collectScopeDefinition,
  parseCount,
  parseJsonObject,
  parseJwks,
  parseRefill,
  parseSecondsArg,
  required,
} from '../../src/cli/option-parsers.js';

describe('option parsers', () => {
  it('reads rate limits as name:limit:window, the name may hold colons', () => {
    const limits = collectRatelimit('burst:10:1s', collectRatelimit('requests:100:60000', undefined));
    expect(limits).toEqual([
      { name: 'requests', limit: 100, duration: 60_000 },
      { name: 'burst', limit: 10, duration: 1_000 },
    ]);
    expect(collectRatelimit('api:read:5:1m', [])).toEqual([{ name: 'api:read', limit: 5, duration: 60_000 }]);
  });

  it.each(['requests:100', ':100:1m', 'r:0:1m', 'r:ten:1m', 'r:1:soon', 'r:1:0'])('refuses the rate limit %j', (text) => {
    expect(() => collectRatelimit(text, [])).toThrow(InvalidArgumentError);
  });

  it('reads refills and credits', () => {
    expect(parseRefill('1000/monthly')).toEqual({ amount: 1000, interval: 'monthly' });
    expect(parseRefill('5/daily')).toEqual({ amount: 5, interval: 'daily' });
    for (const bad of ['1000', '0/daily', '10/weekly', 'x/daily']) expect(() => parseRefill(bad)).toThrow(InvalidArgumentError);
    expect(parseCount('0')).toBe(0);
    for (const bad of ['-1', '1.5', 'ten', '']) expect(() => parseCount(bad)).toThrow(InvalidArgumentError);
  });

  it('reads scope catalogs as name=description and implications as scope=a,b', () => {
    const scopes = collectScopeDefinition('write:users=Write users = and more', collectScopeDefinition('read:users', undefined));
    expect(scopes).toEqual([
      { name: 'read:users', description: '' },
      { name: 'write:users', description: 'Write users = and more' },
    ]);
    expect(() => collectScopeDefinition('read:users=again', scopes)).toThrow(/twice/);
    const implies = collectImplication('repo=public_repo, read:org', collectImplication('repo=public_repo', undefined));
    expect(implies).toEqual({ repo: ['public_repo', 'read:org'] });
    for (const bad of ['repo', 'repo=', '=x']) expect(() => collectImplication(bad, {})).toThrow(InvalidArgumentError);
  });

  it('reads --meta only as a JSON object', () => {
    expect(parseJsonObject('{"plan":"pro","seats":3}')).toEqual({ plan: 'pro', seats: 3 });
    for (const bad of ['[1]', '"x"', 'null', '{plan:pro}']) expect(() => parseJsonObject(bad)).toThrow(InvalidArgumentError);
  });

  it('names the missing flag and its env var', () => {
    expect(required('acme', { flag: '--tenant <slug>' })).toBe('acme');
    expect(() => required(undefined, { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' })).toThrow(
      new UsageError('missing required option --tenant <slug> (or set KEYGATE_TENANT)'),
    );
    expect(() => required('  ', { flag: '--name <name>' })).toThrow('missing required option --name <name>');
    expect(() => required([], { flag: '--scope <scope>' })).toThrow(UsageError);
  });

  it('reads token lifetimes as whole seconds and refuses a bare number, which could be ms or s', () => {
    expect(parseSecondsArg('1h')).toBe(3600);
    expect(parseSecondsArg('5m')).toBe(300);
    expect(parseSecondsArg('0')).toBe(0);
    expect(() => parseSecondsArg('3600')).toThrow(/needs a unit, e.g. 3600s/);
    for (const bad of ['1500ms', 'soon', '-1s']) expect(() => parseSecondsArg(bad)).toThrow(InvalidArgumentError);
  });

  it('reads a client allowance as api=scope,scope and merges repeats per API', () => {
    const allowance = collectAllowance('https://a.test=write:orders', collectAllowance('https://a.test=read:orders, write:orders', undefined));
    expect(collectAllowance('urn:b=read', allowance)).toEqual({ 'https://a.test': ['read:orders', 'write:orders'], 'urn:b': ['read'] });
    for (const bad of ['https://a.test', 'https://a.test=', '=read']) expect(() => collectAllowance(bad, {})).toThrow(InvalidArgumentError);
  });

  it('reads a JWK Set from JSON or from @file, and sends only its keys', () => {
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'abc' }] };
    expect(parseJwks(JSON.stringify({ ...jwks, extra: 1 }))).toEqual(jwks);
    const dir = mkdtempSync(join(tmpdir(), 'keygate-jwks-'));
    try {
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
      expect(parseJwks(`@${join(dir, 'jwks.json')}`)).toEqual(jwks);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    for (const bad of ['{"keys":[]}', '{"kty":"OKP"}', '{"keys":[1]}', '@/nonexistent/jwks.json']) expect(() => parseJwks(bad)).toThrow(InvalidArgumentError);
  });
});
