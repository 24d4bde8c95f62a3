import { describe, expect, it } from 'vitest';
import { operationsRequiring } from '../../../src/domain/gateway/openapi.js';
import type { CompiledRoutes, Operation } from '../../../src/domain/gateway/routes.js';

function op(method: string, path: string, anyOf: string[][], extra: Partial<Operation> = {}): Operation {
  return { method, path, operationId: null, requirement: { public: false, anyOf }, cost: 1, ...extra };
}

const ROUTES: CompiledRoutes = {
  basePath: '/v1',
  operations: [
    op('GET', '/users', [['read:users'], ['admin']], { operationId: 'listUsers' }),
    op('POST', '/users', [['write:users', 'audit']]),
    op('GET', '/health', [[]], { requirement: { public: true, anyOf: [[]] } }),
    op('GET', '/me', [[]]),
  ],
};

describe('operationsRequiring: what a catalog without these scopes would close', () => {
  it('names each operation whose requirement holds one of the scopes, in any alternative or among the ANDed scopes', () => {
    expect(operationsRequiring(ROUTES, ['admin'])).toEqual(['GET /users (listUsers)']);
    expect(operationsRequiring(ROUTES, ['audit'])).toEqual(['POST /users']);
    expect(operationsRequiring(ROUTES, ['read:users', 'write:users'])).toEqual(['GET /users (listUsers)', 'POST /users']);
  });

  it('names none for scopes no operation requires: public operations and "any valid credential" require none', () => {
    expect(operationsRequiring(ROUTES, ['read:billing'])).toEqual([]);
    expect(operationsRequiring(ROUTES, [])).toEqual([]);
  });
});
