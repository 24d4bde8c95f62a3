import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

/**
 * What both oidc-provider baselines need before configuring the provider: the package (typed by
 * the caller: it ships no types), its version, an Ed25519 signing JWK, and an HTTP server already
 * listening on an ephemeral port (the issuer must name the port, so the provider is built after).
 */
export async function oidcProviderBase<ProviderClass>(): Promise<{ Provider: ProviderClass; version: string; jwk: Record<string, unknown>; http: Server; url: string }> {
  // oidc-provider's notices go to stderr so the server's stdout stays one JSON line.
  console.info = (...args: unknown[]) => console.error(...args);
  // A specifier in a variable: without types for the package, the import is typed by the caller.
  const packageName = 'oidc-provider';
  const { default: Provider } = (await import(packageName)) as { default: ProviderClass };
  const { createRequire } = await import('node:module');
  const version = (createRequire(import.meta.url)('oidc-provider/package.json') as { version: string }).version;
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'bench-eddsa', alg: 'EdDSA', use: 'sig' };
  const http = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  return { Provider, version, jwk, http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}
