import { describe, expect, it } from 'vitest';
import { upstreamTarget } from '../../src/services/gateway-service.js';

/** The query the upstream receives: the credential parameter and every spelling of `_method` cut out, the rest as sent. */
describe('upstreamTarget', () => {
  const query = (raw: string, credentialQuery: string | null = null): string => upstreamTarget('http://up', '/x', `/x?${raw}`, credentialQuery).query;

  it('keeps a query without either untouched, in its exact spelling', () => {
    expect(query('b=2&a=%41&c')).toBe('b=2&a=%41&c');
    expect(upstreamTarget('http://up/base', '/x', '/x', null)).toEqual({ url: 'http://up/base/x', query: '' });
  });

  it('cuts the credential parameter out', () => {
    expect(query('api_key=kg_1&page=2', 'api_key')).toBe('page=2');
  });

  it.each([
    '_method=DELETE',
    '%5Fmethod=DELETE',
    '_%6Dethod=DELETE',
    '.method=DELETE',
    '%2Emethod=DELETE',
    '[method=DELETE',
    '_method[]=DELETE',
    '_method[x]=DELETE',
    '_method%00=DELETE',
    '%20%20_method=DELETE',
    'page=1;_method=DELETE',
  ])('cuts %s, which PHP frameworks read as _method', (override) => {
    expect(query(`a=1&${override}&b=2`)).toBe('a=1&b=2');
  });

  // PHP drops leading spaces from a name, so ` method` is `method`.
  it.each(['method=GET', '+method=DELETE', '%20method=DELETE', '_methods=x', 'x_method=1', '_method_x=1', '_METHOD=DELETE', '_method[x=1'])('keeps %s, which is not _method', (pair) => {
    expect(query(`a=1&${pair}`)).toBe(`a=1&${pair}`);
  });
});
