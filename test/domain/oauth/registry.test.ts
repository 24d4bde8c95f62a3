import type { Command, Option } from 'commander';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program.js';
import {
  ASSERTION_ALGORITHMS,
  AUTH_METHOD_REGISTRY,
  CLIENT_ASSERTION_TYPE,
  GRANT_TYPES,
  SECRET_AUTH_METHODS,
  TOKEN_ENDPOINT_AUTH_METHODS,
} from '../../../src/domain/oauth/registry.js';
import { GRANT_HANDLERS } from '../../../src/http/oauth/token.js';
import { BACKENDS } from '../../helpers/backends.js';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../../helpers/oauth.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';

type Json = Record<string, any>;

/** Names a surface might accept by mistake: other RFCs' grants and methods, and Object.prototype's members. */
const UNREGISTERED_GRANTS = ['password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'toString', 'constructor', '__proto__'];
const UNREGISTERED_METHODS = ['client_secret_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'];
const UNREGISTERED_ALGORITHMS = ['ES512', 'RS384', 'PS384'];

/** The public-client methods are not advertised for introspection: `clientPowerRefusal` refuses them there. */
const INTROSPECTION_METHODS = TOKEN_ENDPOINT_AUTH_METHODS.filter((method) => AUTH_METHOD_REGISTRY[method].proof !== 'nothing');

/**
 * Issue 9: grant types, client authentication methods and assertion algorithms are written once,
 * in domain/oauth/registry.ts. Every surface that lists or accepts them must say the same:
 * the RFC 8414 metadata, the OpenAPI description (client schema, token form), the token
 * dispatcher, the client authenticator and the CLI. Before, the metadata left out ES384 (accepted
 * for private_key_jwt), advertised `none` for introspection (refused there), omitted the
 * revocation and introspection signing algorithms RFC 8414 §2 requires with private_key_jwt, and
 * the dispatcher took `toString` for a grant type.
 */
describe.each(BACKENDS)('the OAuth registry is what every surface says and does (%s)', (backend) => {
  let t: TestServer;
  let issuer: string;
  let machine: { clientId: string; clientSecret: string };

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
    const registered = await registerMachineClient(t);
    issuer = registered.issuer;
    machine = { clientId: registered.clientId, clientSecret: registered.clientSecret! };
  });
  afterAll(() => t?.close());

  it('the RFC 8414 metadata advertises exactly the registry, at both locations', async () => {
    for (const path of ['/.well-known/oauth-authorization-server/t/acme', '/t/acme/.well-known/oauth-authorization-server']) {
      const metadata = (await (await fetch(t.url + path)).json()) as Json;
      expect(metadata.grant_types_supported).toEqual(GRANT_TYPES);
      expect(metadata.token_endpoint_auth_methods_supported).toEqual(TOKEN_ENDPOINT_AUTH_METHODS);
      expect(metadata.revocation_endpoint_auth_methods_supported).toEqual(TOKEN_ENDPOINT_AUTH_METHODS);
      expect(metadata.introspection_endpoint_auth_methods_supported).toEqual(INTROSPECTION_METHODS);
      for (const endpoint of ['token', 'revocation', 'introspection']) {
        expect(metadata[`${endpoint}_endpoint_auth_signing_alg_values_supported`], endpoint).toEqual(ASSERTION_ALGORITHMS);
      }
    }
  });

  it('the token endpoint dispatches every registered grant type and refuses every other as unsupported, changing nothing', async () => {
    expect(Object.keys(GRANT_HANDLERS)).toEqual(GRANT_TYPES);
    const before = await snapshotState(t);
    const auth = { authorization: basic(machine.clientId, machine.clientSecret) };
    for (const grant of UNREGISTERED_GRANTS) {
      const answer = await postForm(t, '/t/acme/oauth/token', { grant_type: grant, resource: ORDERS_API }, auth);
      expect([grant, answer.status, answer.body.error]).toEqual([grant, 400, 'unsupported_grant_type']);
    }
    // The machine client holds client_credentials only: every other registered grant is its to be refused, not unknown.
    for (const grant of GRANT_TYPES.filter((g) => g !== 'client_credentials')) {
      const answer = await postForm(t, '/t/acme/oauth/token', { grant_type: grant, resource: ORDERS_API }, auth);
      expect([grant, answer.status, answer.body.error]).toEqual([grant, 400, 'unauthorized_client']);
    }
    expect(await snapshotState(t)).toEqual(before);
    const issued = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: ORDERS_API }, auth);
    expect(issued.status).toBe(200);
  });

  it('private_key_jwt accepts assertions signed with exactly the advertised algorithms', async () => {
    const metadata = (await (await fetch(`${t.url}/t/acme/.well-known/oauth-authorization-server`)).json()) as Json;
    const accepted: string[] = [];
    for (const alg of [...ASSERTION_ALGORITHMS, ...UNREGISTERED_ALGORITHMS]) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg };
      const client = await registerMachineClient(t, { name: `signer-${alg}`, tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg, kid: jwk.kid })
        .setIssuer(client.clientId)
        .setSubject(client.clientId)
        .setAudience(metadata.token_endpoint)
        .setJti(`jti-${alg}`)
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(privateKey);
      const answer = await postForm(t, '/t/acme/oauth/token', {
        grant_type: 'client_credentials',
        resource: ORDERS_API,
        client_id: client.clientId,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: assertion,
      });
      if (answer.status === 200) accepted.push(alg);
      else expect([alg, answer.status, answer.body.error]).toEqual([alg, 401, 'invalid_client']);
    }
    expect(accepted).toEqual(metadata.token_endpoint_auth_signing_alg_values_supported);
  });

  it('the OpenAPI description enumerates the registry in the client schema, the token form and the metadata', async () => {
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as Json;
    const resolve = (schema: Json): Json => (schema.$ref ? doc.components.schemas[String(schema.$ref).split('/').pop()!] : schema);
    const create = resolve(doc.paths['/v1/tenants/{slug}/clients'].post.requestBody.content['application/json'].schema);
    expect(create.properties.grantTypes.items.enum).toEqual(GRANT_TYPES);
    expect(create.properties.tokenEndpointAuthMethod.enum).toEqual(TOKEN_ENDPOINT_AUTH_METHODS);
    const view = resolve(doc.paths['/v1/tenants/{slug}/clients/{id}'].get.responses['200'].content['application/json'].schema);
    expect(view.properties.grantTypes.items.enum).toEqual(GRANT_TYPES);
    const form = doc.paths['/t/{slug}/oauth/token'].post.requestBody.content['application/x-www-form-urlencoded'].schema;
    expect(form.properties.grant_type.enum).toEqual(GRANT_TYPES);
    expect(form.properties.client_assertion_type.const).toBe(CLIENT_ASSERTION_TYPE);
    const metadata = doc.paths['/t/{slug}/.well-known/oauth-authorization-server'].get.responses['200'].content['application/json'].schema;
    expect(metadata.properties.grant_types_supported.items.enum).toEqual(GRANT_TYPES);
    expect(metadata.properties.token_endpoint_auth_methods_supported.items.enum).toEqual(TOKEN_ENDPOINT_AUTH_METHODS);
    expect(metadata.properties.token_endpoint_auth_signing_alg_values_supported.items.enum).toEqual(ASSERTION_ALGORITHMS);
  });
});

/** The values of `candidates` that a CLI option's parser accepts. */
function acceptedBy(option: Option, candidates: readonly string[]): string[] {
  return candidates.filter((value) => {
    try {
      option.parseArg!(value, undefined as never);
      return true;
    } catch {
      return false;
    }
  });
}

function optionOf(program: Command, path: readonly string[], flag: string): Option {
  let command = program;
  for (const name of path) command = command.commands.find((c) => c.name() === name)!;
  const option = command.options.find((o) => o.long === flag);
  if (option === undefined) throw new Error(`${path.join(' ')} has no ${flag}`);
  return option;
}

describe('the CLI offers exactly the registry', () => {
  const program = buildProgram();

  it('client create and update take every registered grant type and no other', () => {
    for (const mode of ['create', 'update']) {
      expect(acceptedBy(optionOf(program, ['client', mode], '--grant'), [...GRANT_TYPES, ...UNREGISTERED_GRANTS]), mode).toEqual(GRANT_TYPES);
    }
  });

  it('client create takes every registered auth method; token get the ones that send a secret', () => {
    const candidates = [...TOKEN_ENDPOINT_AUTH_METHODS, ...UNREGISTERED_METHODS];
    expect(acceptedBy(optionOf(program, ['client', 'create'], '--auth-method'), candidates)).toEqual(TOKEN_ENDPOINT_AUTH_METHODS);
    expect(acceptedBy(optionOf(program, ['token', 'get'], '--auth-method'), candidates)).toEqual(SECRET_AUTH_METHODS);
  });
});
