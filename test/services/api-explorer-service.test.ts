import { describe, expect, it } from 'vitest';
import { gatewayAddress } from '../../src/services/api-explorer-service.js';

describe('gatewayAddress: where Try it reaches the gateway', () => {
  it.each([
    ['0.0.0.0', '127.0.0.1'],
    ['::', '::1'],
    ['127.0.0.1', '127.0.0.1'],
    ['10.1.2.3', '10.1.2.3'],
    ['gateway.internal', 'gateway.internal'],
  ])('listening on %s, it is reached at %s', (host, reached) => {
    expect(gatewayAddress(host, 8080)).toEqual({ host: reached, port: 8080 });
  });
});
