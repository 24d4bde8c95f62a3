/**
 * In-process JWT verification: Keygate's `keygate.verify()` (signature, claims, revocation check,
 * scope check, result object) against the two JWT libraries a Node API would otherwise use,
 * verifying the same tokens in the same run — `jose.jwtVerify` and fast-jwt's `createVerifier`
 * (with `cache: true` for tokens seen again; jose has no cache). Also the middleware's offline
 * verifier (`createKeygateVerifier(...).verify(token, { scopes })`, src/middleware/core) for
 * EdDSA, the one kind it verifies without asking Keygate.
 *
 *   tsx bench/jwt-verify.ts [--quick] [--rounds 5] [--tokens 4000] [--round-ms 1000] [--max-wait 60]
 *
 * Cells: {EdDSA, HS256} × {first seen, seen again}.
 * - first seen: each round mints `--tokens` new tokens per algorithm (Keygate signs the EdDSA
 *   ones with the tenant key; the HS256 ones are self-issued with a secret from
 *   `hs256Secrets.create`, kid `hs_…`), and every subject verifies each of them once, in order.
 *   Keygate and the middleware cache what they verified, so every round uses tokens they have
 *   never seen; the libraries keep no state (fast-jwt without its cache here).
 * - seen again: one token, verified repeatedly for `--round-ms`.
 * All subjects check issuer, audience, algorithm and expiry; Keygate and the middleware also
 * check revocations (the tenant has revocations on record, so the check looks something up) and
 * the scope read:users. Rounds rotate the order of subjects; each figure is the median over
 * rounds and each ratio the median of per-round ratios, Keygate ÷ the faster library in that
 * round. A round during which other processes used more than 0.3 cores is measured again (at
 * most 3 times, the quietest kept).
 *
 * The middleware reaches Keygate (JWKS, revocation feed) through `fetch` → `app.inject` on
 * Keygate's own Fastify app in this process: no sockets, and the feed is still polled every
 * `revocationPollMs` (1000) by the verifier's own timer.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, randomUUID } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { buildApp } from '../src/http/app.js';
import { createKeygateVerifier } from '../src/middleware/core/index.js';
import { SYSTEM_ACTOR } from '../src/services/context.js';
import { createKeygate } from '../src/services/keygate.js';
import {
  consume,
  fmtCores,
  fmtInt,
  fmtRatio,
  isolateEnv,
  machineNote,
  median,
  NoiseMeter,
  now,
  numberArg,
  parseArgs,
  quietest,
  selfCpuSeconds,
  waitForQuiet,
} from './lib/common.js';
import { benchRootKey } from './servers/bench-key.js';

const PUBLIC_URL = 'http://127.0.0.1:4000';
const API = 'https://api.bench';
const SCOPES = ['read:users'];
/** Upper bound on operations per measurement, whatever the clock says. */
const MAX_OPS = 20_000_000;
const CHUNK = 256;
/** Revocations on record, so the revocation check has a non-empty set to look in. */
const REVOKED_ON_RECORD = 100;

const args = parseArgs(process.argv.slice(2), { quick: 'flag', rounds: 'value', tokens: 'value', 'round-ms': 'value', 'max-wait': 'value' });
const quick = args.has('quick');
const rounds = numberArg(args, 'rounds', quick ? 3 : 5);
const tokenCount = Math.min(numberArg(args, 'tokens', quick ? 1000 : 4000), 9000); // under the verifiers' 10 000-entry caches
const roundMs = numberArg(args, 'round-ms', quick ? 300 : 1000);
const maxWaitMs = numberArg(args, 'max-wait', quick ? 10 : 60) * 1000;

type Alg = 'EdDSA' | 'HS256';
type Mode = 'first' | 'again';
type Subject = 'keygate' | 'middleware' | 'jose' | 'fast-jwt';

isolateEnv();
const dir = await mkdtemp(join(tmpdir(), 'kg-bench-jwt-'));
const rootKey = benchRootKey();
const kg = await createKeygate({ config: { dataDir: dir, databaseUrl: undefined, redisUrl: undefined, publicUrl: PUBLIC_URL, rootKey } });
const app = await buildApp(kg, { logger: false });
const verifiers: Array<{ close(): Promise<void> }> = [];
try {
  const tenant = await kg.tenants.create(SYSTEM_ACTOR, { slug: 'bench', name: 'Bench' });
  const api = await kg.apis.create(SYSTEM_ACTOR, tenant, { identifier: API, name: 'Bench', scopes: [{ name: 'read:users', description: 'Read users' }] });
  const issuer = `${PUBLIC_URL}/t/${tenant.slug}`;
  for (let i = 0; i < REVOKED_ON_RECORD; i++) await kg.revocations.revokeJti(SYSTEM_ACTOR, tenant, randomUUID(), Date.now() + 86_400_000);

  // EdDSA: Keygate's own access tokens, signed by the tenant's current key (nothing stored per token).
  const mintEd = async (): Promise<string> =>
    (await kg.tokens.issueAccessToken({ tenant, api, subject: 'bench-consumer', clientId: 'bench-client', scopes: SCOPES })).token;
  // HS256: self-issued by the tenant's own service with a Keygate-registered secret.
  const hs = await kg.hs256Secrets.create(SYSTEM_ACTOR, tenant);
  const signHs = createSigner({ key: hs.secret, algorithm: 'HS256', kid: hs.kid }) as (payload: Record<string, unknown>) => string;
  const mintHs = (): string => {
    const iat = Math.floor(Date.now() / 1000);
    return signHs({ iss: issuer, sub: 'bench-consumer', aud: API, iat, exp: iat + 3600, jti: randomUUID(), scope: SCOPES.join(' ') });
  };
  const mint = async (alg: Alg, n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(alg === 'EdDSA' ? await mintEd() : mintHs());
    return out;
  };

  // The libraries get the same key material Keygate publishes (EdDSA) or holds (HS256).
  const jwks = (await kg.signingKeys.jwks(tenant)) as { keys: JWK[] };
  const edJwk = jwks.keys[0]!;
  const edKey = await importJWK(edJwk, 'EdDSA');
  const edPem = createPublicKey({ key: edJwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
  const hsKey = new TextEncoder().encode(hs.secret);
  const libOptions = { issuer, audience: API };
  const fast = {
    EdDSA: {
      first: createVerifier({ key: edPem, algorithms: ['EdDSA'], allowedIss: issuer, allowedAud: API }),
      again: createVerifier({ key: edPem, algorithms: ['EdDSA'], allowedIss: issuer, allowedAud: API, cache: true }),
    },
    HS256: {
      first: createVerifier({ key: hs.secret, algorithms: ['HS256'], allowedIss: issuer, allowedAud: API }),
      again: createVerifier({ key: hs.secret, algorithms: ['HS256'], allowedIss: issuer, allowedAud: API, cache: true }),
    },
  } as const;

  // The middleware's verifier; its HTTP calls go to Keygate's app in this process.
  const injectFetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const res = await app.inject({ method: (init?.method ?? 'GET') as 'GET' | 'POST', url: url.pathname + url.search, headers, ...(typeof init?.body === 'string' ? { payload: init.body } : {}) });
    const out = new Headers();
    for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) out.set(name, Array.isArray(value) ? value.join(', ') : String(value));
    return new Response(res.body === '' ? null : res.body, { status: res.statusCode, headers: out });
  };
  const warnings: string[] = [];
  const newMiddleware = (): ReturnType<typeof createKeygateVerifier> => {
    const v = createKeygateVerifier({ issuer, audience: API, rootKey, revocationPollMs: 1000, fetch: injectFetch, onWarning: (m) => warnings.push(m) });
    verifiers.push(v);
    return v;
  };
  const middleware = newMiddleware();

  let invalid = 0;
  const firstInvalid: string[] = [];
  const bad = (who: string, why: unknown): void => {
    invalid++;
    if (firstInvalid.length < 5) firstInvalid.push(`${who}: ${typeof why === 'string' ? why : JSON.stringify(why)}`);
  };

  /** One verification by a subject; counts a refusal as a failure of the benchmark. */
  const verifyOnce: Record<Subject, (alg: Alg, mode: Mode, token: string) => Promise<void> | void> = {
    keygate: async (_alg, _mode, token) => {
      const r = await kg.verify({ credential: token, api: API, scopes: SCOPES });
      if (!r.valid) bad('keygate', r.code);
    },
    middleware: async (_alg, _mode, token) => {
      const r = await middleware.verify(token, { scopes: SCOPES });
      if (!r.ok) bad('middleware', r);
    },
    jose: async (alg, _mode, token) => {
      const { payload } = await jwtVerify(token, alg === 'EdDSA' ? edKey : hsKey, { ...libOptions, algorithms: [alg] });
      consume(payload.exp ?? 0);
    },
    'fast-jwt': (alg, mode, token) => {
      const payload = fast[alg][mode](token) as { exp: number };
      consume(payload.exp);
    },
  };

  // Sanity, outside any timing: every subject accepts a fresh token of each kind and refuses a revoked one where it checks revocations.
  for (const alg of ['EdDSA', 'HS256'] as const) {
    const [token] = await mint(alg, 1);
    for (const subject of subjectsFor(alg)) await verifyOnce[subject](alg, 'first', token!);
  }
  if (invalid > 0) throw new Error(`setup: a fresh token was refused: ${firstInvalid.join('; ')}`);

  /** ops/s verifying each token once (first seen), bounded by the token count. */
  const runFirst = async (subject: Subject, alg: Alg, tokens: readonly string[]): Promise<number> => {
    const fn = verifyOnce[subject];
    const t0 = now();
    for (const token of tokens) await fn(alg, 'first', token);
    return (tokens.length / (now() - t0)) * 1000;
  };
  /** ops/s verifying one token again and again, bounded by time and by MAX_OPS. */
  const runAgain = async (subject: Subject, alg: Alg, token: string, ms: number): Promise<number> => {
    const fn = verifyOnce[subject];
    let ops = 0;
    let elapsed = 0;
    const t0 = now();
    while (ops < MAX_OPS) {
      for (let i = 0; i < CHUNK; i++) await fn(alg, 'again', token);
      ops += CHUNK;
      elapsed = now() - t0;
      if (elapsed >= ms) break;
    }
    return (ops / elapsed) * 1000;
  };

  const cells: Array<{ alg: Alg; mode: Mode }> = [
    { alg: 'EdDSA', mode: 'first' },
    { alg: 'EdDSA', mode: 'again' },
    { alg: 'HS256', mode: 'first' },
    { alg: 'HS256', mode: 'again' },
  ];
  const cellKey = (alg: Alg, mode: Mode): string => `${alg}/${mode}`;
  const againTokens = { EdDSA: (await mint('EdDSA', 1))[0]!, HS256: (await mint('HS256', 1))[0]! };

  /** One round: fresh tokens, every cell, every subject (order rotated by `rotate`). */
  const round = async (rotate: number, ms: number, n: number): Promise<Map<string, number>> => {
    const fresh = { EdDSA: await mint('EdDSA', n), HS256: await mint('HS256', n) };
    const out = new Map<string, number>();
    for (const { alg, mode } of cells) {
      const subjects = subjectsFor(alg);
      for (let j = 0; j < subjects.length; j++) {
        const subject = subjects[(rotate + j) % subjects.length]!;
        const value = mode === 'first' ? await runFirst(subject, alg, fresh[alg]) : await runAgain(subject, alg, againTokens[alg], ms);
        out.set(`${cellKey(alg, mode)}/${subject}`, value);
      }
    }
    return out;
  };

  // Warm-up: every path JIT-compiled before anything is counted (its own tokens).
  for (let w = 0; w < 2; w++) await round(w, Math.min(300, roundMs), Math.min(500, tokenCount));
  if (invalid > 0) throw new Error(`warm-up: ${invalid} verifications failed: ${firstInvalid.join('; ')}`);

  const quietBefore = await waitForQuiet({ maxWaitMs });
  const figures = new Map<string, number[]>();
  const noise: number[] = [];
  let retries = 0;
  for (let r = 0; r < rounds; r++) {
    const kept = await quietest(`round ${r + 1}`, 3, async () => {
      const meter = new NoiseMeter([selfCpuSeconds]);
      const value = await round(r, roundMs, tokenCount);
      return { value, others: meter.othersCores() };
    });
    retries += kept.tries - 1;
    noise.push(kept.others ?? Number.NaN);
    for (const [k, v] of kept.value) figures.set(k, [...(figures.get(k) ?? []), v]);
    process.stderr.write(
      `round ${r + 1}/${rounds}: other processes ${fmtCores(kept.others)} cores; ` +
        cells.map(({ alg, mode }) => `${cellKey(alg, mode)} keygate ${fmtInt(kept.value.get(`${cellKey(alg, mode)}/keygate`)!)}/s`).join(', ') +
        '\n',
    );
  }
  if (invalid > 0) throw new Error(`${invalid} verifications failed, the figures are meaningless: ${firstInvalid.join('; ')}`);

  const get = (alg: Alg, mode: Mode, subject: Subject): number[] => figures.get(`${cellKey(alg, mode)}/${subject}`) ?? [];
  console.log('jwt-verify: in-process JWT verification, Keygate vs jose.jwtVerify and fast-jwt createVerifier on the same tokens');
  console.log(
    `  ${rounds} round(s); first seen: ${fmtInt(tokenCount)} new tokens per algorithm per round, each verified once by each subject; ` +
      `seen again: one token for ${roundMs} ms per subject. jose ${versionOf('jose')}, fast-jwt ${versionOf('fast-jwt')} (cache: true only for "seen again")`,
  );
  console.log('  keygate = keygate.verify({credential, api, scopes}): signature (first seen), iss/aud/exp, revocation check, scope check, result object');
  console.log('  middleware = createKeygateVerifier(...).verify(token, {scopes}): offline, JWKS + revocation feed (EdDSA only; HS256 goes to Keygate over HTTP)');
  console.log(`  ${'cell'.padEnd(16)}${'keygate'.padStart(12)}${'middleware'.padStart(12)}${'jose'.padStart(12)}${'fast-jwt'.padStart(12)}${'ratio'.padStart(8)}   ratio = keygate ÷ faster library (median of per-round ratios)`);
  const summary: string[] = [];
  for (const { alg, mode } of cells) {
    const k = get(alg, mode, 'keygate');
    const m = get(alg, mode, 'middleware');
    const j = get(alg, mode, 'jose');
    const f = get(alg, mode, 'fast-jwt');
    const ratio = median(k.map((x, i) => x / Math.max(j[i]!, f[i]!)));
    const mwRatio = m.length > 0 ? median(m.map((x, i) => x / Math.max(j[i]!, f[i]!))) : Number.NaN;
    const label = `${alg} ${mode === 'first' ? 'first seen' : 'seen again'}`;
    console.log(
      `  ${label.padEnd(16)}${fmtInt(median(k)).padStart(12)}${(m.length > 0 ? fmtInt(median(m)) : '—').padStart(12)}${fmtInt(median(j)).padStart(12)}` +
        `${fmtInt(median(f)).padStart(12)}${fmtRatio(ratio).padStart(8)}${m.length > 0 ? `   middleware ratio ${fmtRatio(mwRatio)}` : ''}`,
    );
    summary.push(`${label}: ${fmtRatio(ratio)}`);
  }
  console.log('  ops/s, medians over rounds. Per-round keygate ops/s:');
  for (const { alg, mode } of cells) console.log(`    ${cellKey(alg, mode).padEnd(14)} [${get(alg, mode, 'keygate').map(fmtInt).join(', ')}]`);
  console.log(`  ratios keygate ÷ faster library: ${summary.join(', ')}`);
  if (warnings.length > 0) console.log(`  middleware warnings: ${warnings.join(' | ')}`);
  console.log(`  noise: other processes used ${fmtCores(quietBefore)} cores before start, ${noise.map(fmtCores).join(' / ')} cores per round; ${retries} noisy round(s) measured again`);
  console.log(`  ${machineNote()}`);
} finally {
  for (const v of verifiers) await v.close();
  await app.close();
  await kg.close();
  await rm(dir, { recursive: true, force: true });
}

function versionOf(name: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function subjectsFor(alg: Alg): Subject[] {
  return alg === 'EdDSA' ? ['keygate', 'middleware', 'jose', 'fast-jwt'] : ['keygate', 'jose', 'fast-jwt'];
}
