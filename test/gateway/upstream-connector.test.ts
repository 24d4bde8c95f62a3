import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { createSecureContext } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { upstreamConnector } from '../../src/services/upstream-connector.js';
import { scriptedLookup } from './scripted-lookup.js';

/** A self-signed certificate for `secure.test` (P-256, valid until 2126): no CA anywhere trusts it. */
const SECURE_TEST = {
  cert: `-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgIUSidDFKUbMKehV/Gu4F3tZ4Hr780wCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLc2VjdXJlLnRlc3QwIBcNMjYxMjA2MTYyMTEyWhgPMjEyNjEx
MTIxNjIxMTJaMBYxFDASBgNVBAMMC3NlY3VyZS50ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAETv8uo8kMVWvA4TqzZzVN5XJrrxyf/XofHKn3mskBs4EYuNHh
b5uWGiuBzprsj8nAooX05K3zzs1EhWSEXwi1wqNrMGkwHQYDVR0OBBYEFIvISY+3
S5/dI8rm2OjELvHA8RteMB8GA1UdIwQYMBaAFIvISY+3S5/dI8rm2OjELvHA8Rte
MA8GA1UdEwEB/wQFMAMBAf8wFgYDVR0RBA8wDYILc2VjdXJlLnRlc3QwCgYIKoZI
zj0EAwIDSQAwRgIhAN3wA8SnJO5W7ZOCpNanqvaZSYkzLyy6DnYrQSAlLDgkAiEA
8KIi0ccuiJlfFaC4fIw2gV0dluoEa2EuqUOz2BhZlmA=
-----END CERTIFICATE-----
`,
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLx95DHqv8KPwvCDU
oNEqs2d51io+BN8XZUcWeNobBTChRANCAARO/y6jyQxVa8DhOrNnNU3lcmuvHJ/9
eh8cqfeayQGzgRi40eFvm5YaK4HOmuyPycCihfTkrfPOzUSFZIRfCLXC
-----END PRIVATE KEY-----
`,
};

/** What the request came to: the upstream's status, or the error's code. */
async function outcome(agent: Agent, url: string): Promise<number | string> {
  try {
    const response = await request(url, { dispatcher: agent });
    await response.body.text();
    return response.statusCode;
  } catch (err) {
    return (err as { code: string }).code;
  }
}

/** Attacker review F5: the upstream address rule at every connection, not only when the URL is set. */
describe('upstreamConnector: DNS rebinding and connect-time address checks', () => {
  let upstream: Server;
  let port: number;
  let received = 0;
  let tls: TlsServer;
  let tlsPort: number;
  const servernames: string[] = [];
  const agents: Agent[] = [];

  function agent(options: { allowLinkLocal?: boolean; ownPorts?: number[]; lookup: LookupFunction }): Agent {
    const made = new Agent({ connect: upstreamConnector({ allowLinkLocal: false, ownPorts: [], timeoutMs: 2000, ...options }) });
    agents.push(made);
    return made;
  }

  beforeAll(async () => {
    // Each answer closes its connection, so each request is a new connection and a new lookup.
    upstream = createServer((_request, response) => {
      received += 1;
      response.writeHead(200, { connection: 'close' }).end('upstream');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    port = (upstream.address() as AddressInfo).port;
    tls = createTlsServer(
      {
        ...SECURE_TEST,
        SNICallback: (servername, done) => {
          servernames.push(servername);
          done(null, createSecureContext(SECURE_TEST));
        },
      },
      (_request, response) => response.end('secure'),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', () => resolve()));
    tlsPort = (tls.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await Promise.all(agents.map((made) => made.close()));
    upstream?.closeAllConnections();
    tls?.closeAllConnections();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (tls ? tls.close(() => resolve()) : resolve()));
  });
  beforeEach(() => {
    received = 0;
  });

  it('resolves the name at each connection: once it rebinds to the metadata address, nothing more is sent', async () => {
    const { lookup } = scriptedLookup({ 'rebind.test': [['127.0.0.1'], ['169.254.169.254']] });
    const through = agent({ lookup });
    expect(await outcome(through, `http://rebind.test:${port}/first`)).toBe(200);
    expect(await outcome(through, `http://rebind.test:${port}/second`)).toBe('UPSTREAM_ADDRESS_REFUSED');
    expect(received).toBe(1);
  });

  it('refuses an answer that lists the metadata address beside an allowed one, whichever comes first', async () => {
    const { lookup } = scriptedLookup({ 'first.test': [['169.254.169.254', '127.0.0.1']], 'second.test': [['127.0.0.1', 'fd00:ec2::254']] });
    const through = agent({ lookup });
    expect(await outcome(through, `http://first.test:${port}/`)).toBe('UPSTREAM_ADDRESS_REFUSED');
    expect(await outcome(through, `http://second.test:${port}/`)).toBe('UPSTREAM_ADDRESS_REFUSED');
    expect(received).toBe(0);
  });

  it('refuses the metadata address carried in an AAAA answer (NAT64, 6to4, IPv4-mapped)', async () => {
    const { lookup } = scriptedLookup({ 'nat64.test': [['64:ff9b::a9fe:a9fe']], '6to4.test': [['2002:a9fe:a9fe::1']], 'mapped.test': [['::ffff:169.254.169.254']] });
    const through = agent({ lookup });
    for (const name of ['nat64.test', '6to4.test', 'mapped.test']) expect(await outcome(through, `http://${name}:${port}/`), name).toBe('UPSTREAM_ADDRESS_REFUSED');
    expect(received).toBe(0);
  });

  it("refuses loopback on Keygate's own port, by name and as a literal however spelled; loopback on another port connects", async () => {
    const { lookup, asked } = scriptedLookup({ 'self.test': [['127.0.0.1']] });
    const ownPort = agent({ lookup, ownPorts: [port] });
    for (const host of ['self.test', '127.0.0.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]']) expect(await outcome(ownPort, `http://${host}:${port}/`), host).toBe('UPSTREAM_ADDRESS_REFUSED');
    expect(received).toBe(0);
    expect(asked).toEqual(['self.test']);
    const otherPort = agent({ lookup, ownPorts: [port + 1] });
    expect(await outcome(otherPort, `http://self.test:${port}/`)).toBe(200);
    expect(await outcome(otherPort, `http://127.0.0.1:${port}/`)).toBe(200);
  });

  it('refuses a metadata literal or name before any lookup or connection', async () => {
    const { lookup, asked } = scriptedLookup({});
    const through = agent({ lookup });
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://metadata.google.internal/', 'http://0.0.0.0:1/']) {
      expect(await outcome(through, url), url).toBe('UPSTREAM_ADDRESS_REFUSED');
    }
    expect(asked).toEqual([]);
  });

  it("checks an https upstream's certificate against the URL's name, sent as SNI, and its address at each connection", async () => {
    const { lookup } = scriptedLookup({ 'secure.test': [['127.0.0.1'], ['169.254.169.254']] });
    const through = agent({ lookup });
    expect(await outcome(through, `https://secure.test:${tlsPort}/`)).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(servernames).toEqual(['secure.test']);
    expect(await outcome(through, `https://secure.test:${tlsPort}/`)).toBe('UPSTREAM_ADDRESS_REFUSED');
    expect(servernames).toEqual(['secure.test']);
  });
});
