/**
 * Refresh-token grant over HTTP: Keygate's `POST {issuer}/oauth/token grant_type=refresh_token`
 * against `oidc-provider` configured to do the same job (bench/servers/oidc-provider-people-server.ts):
 * a confidential client_secret_basic client, refresh tokens rotated on every use (single-use, the
 * answer carries the next one), a 3600 s RFC 9068 JWT access token signed EdDSA for the API
 * named at authorization (RFC 8707). Each server runs in its own child process; the load runs
 * here and goes to 127.0.0.1 only.
 *
 *   tsx bench/refresh-grant.ts [--quick] [--duration 10] [--rounds 2] [--connections 50] [--warmup 2]
 *                              [--max-requests 2000000] [--profile-dir DIR] [--max-wait 60] [--oidc-adapter lean|sqlite|default]
 *
 * A refresh token is single-use on both sides, so autocannon (one fixed body) cannot drive this.
 * Instead, before any timing, each server gets C real authorization-code round trips (Keygate:
 * sign-in and consent once, then C-1 rounds with the session and the remembered grant;
 * oidc-provider: the same through its interaction, see the server file), giving C refresh tokens.
 * The load is C concurrent chains over C keep-alive connections (node:http): each chain sends its
 * current refresh token and continues with the one the answer carries; a chain never waits for
 * another. Every answer must be 200 with a new refresh token, or the run fails.
 *
 * Outside the timed part: one refresh per server first, whose access token is verified with jose
 * against the server's JWKS (iss, aud, EdDSA, typ at+jwt, scope read:users, exp, jti); after the
 * last run, a rotated refresh token is presented again on both, which must be refused
 * (invalid_grant) and, once the reuse is detected, end that chain's current token too.
 *
 * Each round runs both servers back to back for the same time, the order alternating between
 * rounds; figures are medians over rounds and the ratio is the median of per-round ratios. A run
 * during which other processes used more than 0.3 cores is measured again (at most 3 times, the
 * quietest kept). Target: Keygate >= 2x oidc-provider req/s. `--oidc-adapter` picks oidc-provider's
 * storage (see its server file): `lean` in-memory Maps (the default baseline), `sqlite` (durable,
 * SQLite in WAL mode like Keygate), or `default`, its own dev-only MemoryAdapter. `--profile-dir DIR` runs both
 * servers under `node --cpu-prof` (DIR/<server>/; read with `tsx bench/lib/profile-top.ts <file>`).
 */
import type { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { httpBenchOptions, type RoundRun } from './lib/rounds.js';
import { startChild, type ChildServer } from './lib/child.js';
import { fmtCores, fmtInt, fmtRatio, machineNote, median, NoiseMeter, now, numberArg, percentile, quietest, selfCpuSeconds, waitForQuiet } from './lib/common.js';
import {
  authorizeUrl,
  Browser,
  codeForm,
  codeFrom,
  keepAliveAgent,
  keygateFirstConsent,
  keygateRememberedCode,
  PEOPLE_API,
  pkcePair,
  refreshForm,
  send,
  setupKeygatePeople,
  tokensOf,
  type HttpAnswer,
  type OidcPeopleServerInfo,
} from './servers/bench-people.js';
import { assertJwtAccessToken, basicAuth, type KeygateTokensServerInfo } from './servers/bench-tokens.js';

const TARGET = 2;

const { args, quick, duration, rounds, warmup, connections, profileDir, maxWaitMs } = httpBenchOptions({ 'max-requests': 'value', 'oidc-adapter': 'value' });
const maxRequests = Math.floor(numberArg(args, 'max-requests', 2_000_000));
const oidcAdapter = args.get('oidc-adapter') ?? 'lean';
if (oidcAdapter !== 'lean' && oidcAdapter !== 'sqlite' && oidcAdapter !== 'default') throw new Error('--oidc-adapter must be lean, sqlite or default');
const ADAPTERS = { lean: 'lean in-memory adapter', sqlite: 'SQLite adapter (WAL, like Keygate)', default: 'its dev MemoryAdapter' } as const;

const script = (name: string): string => fileURLToPath(new URL(`./servers/${name}`, import.meta.url));

interface Target {
  name: 'oidc-provider' | 'keygate';
  description: string;
  server: ChildServer<unknown>;
  tokenEndpoint: URL;
  authorization: string;
  issuer: string;
  jwksUrl: string;
  /** The current refresh token of each chain. */
  chains: string[];
  /** The token chain 0 held before its last rotation (for the reuse check at the end). */
  previous0: string | null;
  agent: Agent;
}

type Run = RoundRun;

const children: ChildServer<unknown>[] = [];
async function start<T>(name: string, file: string, argv: string[] = []): Promise<ChildServer<T>> {
  const child = await startChild<T>(file, {
    nodeArgs: typeof profileDir === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${name}`] : [],
    args: argv,
  });
  children.push(child as ChildServer<unknown>);
  return child;
}

function refreshOnce(target: Target, token: string): Promise<HttpAnswer> {
  return send(target.agent, target.tokenEndpoint, 'POST', { 'content-type': 'application/x-www-form-urlencoded', authorization: target.authorization }, refreshForm(token));
}

/** The refresh token in a 200 answer; anything else fails the run (a chain cannot go on without it). */
function nextToken(target: Target, answer: { status: number; body: string }, chain: number): string {
  if (answer.status !== 200) throw new Error(`${target.name} chain ${chain}: HTTP ${answer.status} ${answer.body.slice(0, 300)}`);
  const token = (JSON.parse(answer.body) as { refresh_token?: unknown }).refresh_token;
  if (typeof token !== 'string') throw new Error(`${target.name} chain ${chain}: no refresh_token in ${answer.body.slice(0, 300)}`);
  return token;
}

/** C concurrent chains for `seconds` (and at most maxRequests in all); latencies in ms. */
async function load(target: Target, seconds: number): Promise<Run> {
  const latencies = new Float64Array(maxRequests);
  let count = 0;
  const cpuBefore = target.server.cpuSeconds();
  const selfBefore = process.cpuUsage();
  const meter = new NoiseMeter([selfCpuSeconds, () => target.server.cpuSeconds()]);
  const t0 = now();
  const deadline = t0 + seconds * 1000;
  const chain = async (i: number): Promise<void> => {
    while (now() < deadline && count < maxRequests) {
      const slot = count++;
      const started = now();
      const answer = await refreshOnce(target, target.chains[i]!);
      latencies[slot] = now() - started;
      const next = nextToken(target, answer, i);
      if (i === 0) target.previous0 = target.chains[0]!;
      target.chains[i] = next;
    }
  };
  await Promise.all(target.chains.map((_, i) => chain(i)));
  const elapsed = (now() - t0) / 1000;
  const cpuAfter = target.server.cpuSeconds();
  const self = process.cpuUsage(selfBefore);
  const others = meter.othersCores();
  const sample = Array.from(latencies.subarray(0, count));
  return {
    rps: count / elapsed,
    p50: percentile(sample, 50),
    p99: percentile(sample, 99),
    total: count,
    serverCpu: cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / elapsed,
    cpuPerRequestUs: cpuBefore === null || cpuAfter === null || count === 0 ? null : ((cpuAfter - cpuBefore) / count) * 1e6,
    loadCpu: (self.user + self.system) / 1e6 / elapsed,
    others,
  };
}

/** Keygate: sign-in and consent once, then C-1 code rounds with the session and remembered grant. */
async function mintKeygate(target: Target, setup: Awaited<ReturnType<typeof setupKeygatePeople>>, n: number): Promise<void> {
  const browser = new Browser();
  try {
    for (let i = 0; i < n; i++) {
      const { verifier, challenge } = pkcePair();
      const state = `mint-${i}`;
      const code = i === 0 ? await keygateFirstConsent(browser, setup, challenge, state) : (await keygateRememberedCode(browser, setup, challenge, state, now)).code;
      const answer = await send(target.agent, target.tokenEndpoint, 'POST', { 'content-type': 'application/x-www-form-urlencoded', authorization: target.authorization }, codeForm(code, verifier));
      target.chains.push(tokensOf(answer, 'keygate code exchange').refresh_token);
    }
  } finally {
    browser.close();
  }
}

/** oidc-provider: its interaction once (sign-in + consent), then C-1 code rounds with the session and remembered grant. */
async function mintOidc(target: Target, info: OidcPeopleServerInfo, n: number): Promise<void> {
  const browser = new Browser();
  try {
    for (let i = 0; i < n; i++) {
      const { verifier, challenge } = pkcePair();
      const state = `mint-${i}`;
      let step = await browser.get(authorizeUrl(info.authorizationEndpoint, info.clientId, challenge, state));
      // First round: /auth → /interaction/:uid (signs in, consents) → /auth/:uid (resume) → the client.
      for (let hop = 0; hop < 3 && step.location !== null && step.location.startsWith(info.url); hop++) step = await browser.get(step.location);
      const code = codeFrom(step.location, state, info.issuer);
      const answer = await send(target.agent, target.tokenEndpoint, 'POST', { 'content-type': 'application/x-www-form-urlencoded', authorization: target.authorization }, codeForm(code, verifier));
      target.chains.push(tokensOf(answer, 'oidc-provider code exchange').refresh_token);
    }
  } finally {
    browser.close();
  }
}

const pct = (c: number | null): string => (c === null ? '?' : `${Math.round(c * 100)}%`);

try {
  const keygate = await start<KeygateTokensServerInfo>('keygate', script('keygate-tokens-server.ts'));
  const oidc = await start<OidcPeopleServerInfo>('oidc-provider', script('oidc-provider-people-server.ts'), ['--adapter', oidcAdapter]);
  const setup = await setupKeygatePeople(keygate.info);
  const targets: Target[] = [
    {
      name: 'oidc-provider',
      description: `oidc-provider ${oidc.info.version}, ${ADAPTERS[oidcAdapter]}, rotate → EdDSA JWT`,
      server: oidc as ChildServer<unknown>,
      tokenEndpoint: new URL(oidc.info.tokenEndpoint),
      authorization: basicAuth(oidc.info.clientId, oidc.info.clientSecret),
      issuer: oidc.info.issuer,
      jwksUrl: oidc.info.jwksUrl,
      chains: [],
      previous0: null,
      agent: keepAliveAgent(connections),
    },
    {
      name: 'keygate',
      description: 'Keygate server (startServer, SQLite WAL), rotate → EdDSA JWT',
      server: keygate as ChildServer<unknown>,
      tokenEndpoint: new URL(setup.tokenEndpoint),
      authorization: basicAuth(setup.clientId, setup.clientSecret),
      issuer: setup.issuer,
      jwksUrl: setup.jwksUrl,
      chains: [],
      previous0: null,
      agent: keepAliveAgent(connections),
    },
  ];
  const [oidcTarget, keygateTarget] = targets as [Target, Target];

  const mintStart = now();
  await mintOidc(oidcTarget, oidc.info, connections);
  await mintKeygate(keygateTarget, setup, connections);
  process.stderr.write(`minted ${connections} refresh tokens per server through the authorization-code flow in ${((now() - mintStart) / 1000).toFixed(1)} s\n`);

  // Same job on both sides, checked once outside the timed part.
  const tokenSizes: Record<string, number> = {};
  for (const target of targets) {
    const before = target.chains[0]!;
    const answer = await refreshOnce(target, before);
    const tokens = tokensOf(answer, `pre-flight ${target.name}`);
    if (tokens.refresh_token === before) throw new Error(`pre-flight ${target.name}: the refresh token was not rotated`);
    const { header } = await assertJwtAccessToken(tokens.access_token, { jwksUrl: target.jwksUrl, issuer: target.issuer, audience: PEOPLE_API, alg: 'EdDSA' });
    target.previous0 = before;
    target.chains[0] = tokens.refresh_token;
    tokenSizes[target.name] = tokens.access_token.length;
    process.stderr.write(
      `pre-flight ${target.name}: refresh rotated; ${header['alg']} ${header['typ']} access token of ${tokenSizes[target.name]} chars verified by jose (iss, aud, scope, exp, jti), expires_in ${tokens.expires_in}\n`,
    );
  }

  const quietBefore = await waitForQuiet({ maxWaitMs });
  process.stderr.write(`warm-up ${warmup} s each…\n`);
  for (const target of targets) {
    const run = await load(target, warmup);
    process.stderr.write(`  warm-up ${target.name}: ${fmtInt(run.total)} refreshes\n`);
  }

  const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
  let retries = 0;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const kept = await quietest(`${target.name} round ${round + 1}`, 3, async () => {
        const value = await load(target, duration);
        return { value, others: value.others };
      });
      retries += kept.tries - 1;
      const run = kept.value;
      runs.get(target.name)!.push(run);
      process.stderr.write(
        `round ${round + 1}/${rounds} ${target.name}: ${fmtInt(run.rps)} req/s (${fmtInt(run.total)} refreshes), p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ` +
          `server CPU ${pct(run.serverCpu)} (${run.cpuPerRequestUs?.toFixed(1) ?? '?'} µs/req), load CPU ${pct(run.loadCpu)}, other processes ${fmtCores(run.others)} cores\n`,
      );
    }
  }

  // Reuse of a rotated token after the last run: refused on both, and the reuse ends the chain.
  const reuse: string[] = [];
  await new Promise((resolve) => setTimeout(resolve, 2_100)); // past Keygate's 2 s concurrent-refresh window
  for (const target of targets) {
    const replay = await refreshOnce(target, target.previous0!);
    const error = replay.status === 400 ? (JSON.parse(replay.body) as { error?: string }).error : undefined;
    if (error !== 'invalid_grant') throw new Error(`${target.name}: a rotated refresh token was accepted again (HTTP ${replay.status} ${replay.body.slice(0, 200)})`);
    const current = await refreshOnce(target, target.chains[0]!);
    reuse.push(`${target.name}: replay → invalid_grant, then the chain's current token → HTTP ${current.status}`);
  }

  const base = runs.get('oidc-provider')!;
  const kg = runs.get('keygate')!;
  console.log('refresh-grant: rotating refresh token → EdDSA JWT access token + next refresh token, Keygate vs oidc-provider');
  console.log(
    `  ${connections} concurrent chains (one keep-alive connection each, node:http), ${rounds} round(s) × ${duration} s per server after ${warmup} s warm-up; ` +
      `access tokens: oidc-provider ${tokenSizes['oidc-provider']} chars, keygate ${tokenSizes['keygate']} chars`,
  );
  console.log(`  ${''.padEnd(14)}${'req/s'.padStart(10)}${'p50'.padStart(10)}${'p99'.padStart(10)}${'ratio'.padStart(8)}${'srv CPU'.padStart(9)}${'µs/req'.padStart(9)}${'load CPU'.padStart(10)}${'others'.padStart(8)}   what`);
  for (const target of targets) {
    const rs = runs.get(target.name)!;
    const cpu = rs.map((r) => r.serverCpu).filter((c): c is number => c !== null);
    const ratio = median(rs.map((r, i) => r.rps / base[i]!.rps));
    console.log(
      `  ${target.name.padEnd(14)}${fmtInt(median(rs.map((r) => r.rps))).padStart(10)}${`${median(rs.map((r) => r.p50)).toFixed(2)} ms`.padStart(10)}` +
        `${`${median(rs.map((r) => r.p99)).toFixed(2)} ms`.padStart(10)}${fmtRatio(ratio).padStart(8)}${pct(cpu.length > 0 ? median(cpu) : null).padStart(9)}` +
        `${median(rs.map((r) => r.cpuPerRequestUs ?? Number.NaN)).toFixed(1).padStart(9)}${pct(median(rs.map((r) => r.loadCpu))).padStart(10)}` +
        `${fmtCores(median(rs.map((r) => r.others ?? Number.NaN))).padStart(8)}   ${target.description}`,
    );
  }
  const ratio = median(kg.map((r, i) => r.rps / base[i]!.rps));
  const cpuRatio = median(base.map((r) => r.cpuPerRequestUs ?? Number.NaN)) / median(kg.map((r) => r.cpuPerRequestUs ?? Number.NaN));
  console.log(`  ratio keygate/oidc-provider req/s: ${fmtRatio(ratio)} (per round: ${kg.map((r, i) => fmtRatio(r.rps / base[i]!.rps)).join(', ')})`);
  console.log(`  ratio of server CPU per request (oidc-provider µs/req ÷ keygate µs/req): ${fmtRatio(cpuRatio)}`);
  console.log(`  reuse check after the runs: ${reuse.join('; ')}`);
  console.log(
    '  srv CPU / load CPU: cores used by the server / by the load generator (this process); others: cores used by every other process ' +
      `(${fmtCores(quietBefore)} before start; ${retries} noisy run(s) measured again)`,
  );
  console.log(`  target ratio >= ${TARGET}: ${ratio >= TARGET ? 'MET' : 'MISSED'}`);
  console.log(`  ${machineNote()}`);
  for (const target of targets) target.agent.destroy();
} finally {
  for (const child of children) await child.stop();
}
