/**
 * Authorization-code round trip with consent already given: how long an app waits, end to end,
 * when a signed-in person who already allowed it comes back. Keygate: GET /authorize (303 to
 * /consent) → GET /consent (the remembered grant covers the scopes: 303 to the app with a code) →
 * POST /oauth/token (code + PKCE verifier, client_secret_basic) → access token (EdDSA JWT) and
 * refresh token. The same with `oidc-provider` (bench/servers/oidc-provider-people-server.ts) as a
 * reference: its /auth answers a signed-in person with a remembered grant directly with the code,
 * so its round trip has one hop fewer.
 *
 *   tsx bench/authorization-code.ts [--quick] [--rounds 300] [--warmup 30] [--max-seconds 120] [--max-wait 60] [--profile-dir DIR]
 *
 * Each server runs in its own child process; requests go to 127.0.0.1 only, one at a time: the
 * browser's requests on one keep-alive connection with its cookies, the app's token request on
 * another. Before timing, the person signs in and consents once on each server (Keygate: its
 * sign-in and consent pages with CSRF; oidc-provider: its interaction, ended by the server's
 * bench interaction route), and one access token from each is verified with jose against the
 * server's JWKS. Rounds alternate between the servers (K, O, K, O, …) so that the shared
 * machine's noise falls on both alike; PKCE pairs and states are made before each round's clock
 * starts. Bounded by --rounds and --max-seconds. No target: the figures are latencies (p50/p99),
 * with each server's CPU per round, which the neighbours' load disturbs less than wall time.
 */
import { fileURLToPath } from 'node:url';
import { startChild, type ChildServer } from './lib/child.js';
import { fmtCores, machineNote, NoiseMeter, now, numberArg, parseArgs, percentile, selfCpuSeconds, waitForQuiet } from './lib/common.js';
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
  send,
  setupKeygatePeople,
  tokensOf,
  type KeygatePeopleSetup,
  type OidcPeopleServerInfo,
} from './servers/bench-people.js';
import { assertJwtAccessToken, basicAuth, type KeygateTokensServerInfo } from './servers/bench-tokens.js';

const args = parseArgs(process.argv.slice(2), {
  quick: 'flag',
  rounds: 'value',
  warmup: 'value',
  'max-seconds': 'value',
  'max-wait': 'value',
  'profile-dir': 'value',
});
const quick = args.has('quick');
const rounds = Math.floor(numberArg(args, 'rounds', quick ? 100 : 300));
const warmup = Math.floor(numberArg(args, 'warmup', quick ? 10 : 30));
const maxSeconds = numberArg(args, 'max-seconds', quick ? 60 : 120);
const maxWaitMs = numberArg(args, 'max-wait', quick ? 10 : 60) * 1000;
const profileDir = args.get('profile-dir');

const script = (name: string): string => fileURLToPath(new URL(`./servers/${name}`, import.meta.url));

/** One timed round: per-hop and total wall time in ms. */
interface Round {
  total: number;
  hops: Record<string, number>;
}
/** What the untimed sign-in round returns (never recorded). */
const UNTIMED: Round = { total: Number.NaN, hops: {} };

interface Side {
  name: 'keygate' | 'oidc-provider';
  server: ChildServer<unknown>;
  /** Browser hops (names in order) then the token exchange. */
  hopNames: string[];
  round(state: string, challenge: string, verifier: string): Promise<Round>;
  /** The last token answer, for the check outside the timed part. */
  lastAccessToken: string | null;
  issuer: string;
  jwksUrl: string;
  rounds: Round[];
}

const children: ChildServer<unknown>[] = [];
async function start<T>(name: string, file: string): Promise<ChildServer<T>> {
  const child = await startChild<T>(file, { nodeArgs: typeof profileDir === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${name}`] : [] });
  children.push(child as ChildServer<unknown>);
  return child;
}

const tokenAgent = keepAliveAgent(1);
const browsers: Browser[] = [];

async function exchange(tokenEndpoint: URL, authorization: string, code: string, verifier: string, what: string): Promise<string> {
  const answer = await send(tokenAgent, tokenEndpoint, 'POST', { 'content-type': 'application/x-www-form-urlencoded', authorization }, codeForm(code, verifier));
  return tokensOf(answer, what).access_token;
}

function keygateSide(server: ChildServer<unknown>, setup: KeygatePeopleSetup): Side {
  const browser = new Browser();
  browsers.push(browser);
  const tokenEndpoint = new URL(setup.tokenEndpoint);
  const authorization = basicAuth(setup.clientId, setup.clientSecret);
  let signedIn = false;
  const side: Side = {
    name: 'keygate',
    server,
    hopNames: ['GET /authorize', 'POST /token'],
    issuer: setup.issuer,
    jwksUrl: setup.jwksUrl,
    lastAccessToken: null,
    rounds: [],
    async round(state, challenge, verifier) {
      if (!signedIn) {
        // Sign-in and consent, once, untimed.
        const code = await keygateFirstConsent(browser, setup, challenge, state);
        side.lastAccessToken = await exchange(tokenEndpoint, authorization, code, verifier, 'keygate first exchange');
        signedIn = true;
        return UNTIMED;
      }
      const t0 = now();
      const { code, authorizeMs } = await keygateRememberedCode(browser, setup, challenge, state, now);
      const t1 = now();
      side.lastAccessToken = await exchange(tokenEndpoint, authorization, code, verifier, 'keygate code exchange');
      const t2 = now();
      return { total: t2 - t0, hops: { 'GET /authorize': authorizeMs, 'POST /token': t2 - t1 } };
    },
  };
  return side;
}

function oidcSide(server: ChildServer<unknown>, info: OidcPeopleServerInfo): Side {
  const browser = new Browser();
  browsers.push(browser);
  const tokenEndpoint = new URL(info.tokenEndpoint);
  const authorization = basicAuth(info.clientId, info.clientSecret);
  let signedIn = false;
  const side: Side = {
    name: 'oidc-provider',
    server,
    hopNames: ['GET /auth', 'POST /token'],
    issuer: info.issuer,
    jwksUrl: info.jwksUrl,
    lastAccessToken: null,
    rounds: [],
    async round(state, challenge, verifier) {
      const t0 = now();
      let step = await browser.get(authorizeUrl(info.authorizationEndpoint, info.clientId, challenge, state));
      const t1 = now();
      if (!signedIn) {
        // The interaction (sign-in + consent) and the resume, once, untimed.
        for (let hop = 0; hop < 3 && step.location !== null && step.location.startsWith(info.url); hop++) step = await browser.get(step.location);
      } else if (step.status !== 303 || step.location === null || step.location.startsWith(info.url)) {
        throw new Error(`oidc-provider /auth: expected a redirect to the client with the grant remembered, got ${step.status} ${step.location}`);
      }
      const code = codeFrom(step.location, state, info.issuer);
      const t2 = now();
      side.lastAccessToken = await exchange(tokenEndpoint, authorization, code, verifier, 'oidc-provider code exchange');
      const t3 = now();
      if (!signedIn) {
        signedIn = true;
        return UNTIMED;
      }
      return { total: t3 - t0, hops: { 'GET /auth': t1 - t0, 'POST /token': t3 - t2 } };
    },
  };
  return side;
}

const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

try {
  const keygate = await start<KeygateTokensServerInfo>('keygate', script('keygate-tokens-server.ts'));
  const oidc = await start<OidcPeopleServerInfo>('oidc-provider', script('oidc-provider-people-server.ts'));
  const setup = await setupKeygatePeople(keygate.info);
  const sides = [keygateSide(keygate as ChildServer<unknown>, setup), oidcSide(oidc as ChildServer<unknown>, oidc.info)];

  let serial = 0;
  const play = async (side: Side): Promise<Round> => {
    const { verifier, challenge } = pkcePair();
    return side.round(`st-${side.name}-${serial++}`, challenge, verifier);
  };

  // Sign-in + consent once per server, then the check that both hand out the same kind of token.
  for (const side of sides) {
    await play(side);
    await play(side); // the first remembered round, also untimed
    const { header } = await assertJwtAccessToken(side.lastAccessToken, { jwksUrl: side.jwksUrl, issuer: side.issuer, audience: PEOPLE_API, alg: 'EdDSA' });
    process.stderr.write(`pre-flight ${side.name}: remembered consent → code → ${header['alg']} ${header['typ']} access token verified by jose (iss, aud, scope, exp, jti)\n`);
  }

  const quietBefore = await waitForQuiet({ maxWaitMs });
  for (let i = 0; i < warmup; i++) for (const side of sides) await play(side);
  process.stderr.write(`warm-up: ${warmup} rounds per server\n`);

  const meter = new NoiseMeter([selfCpuSeconds, ...sides.map((s) => () => s.server.cpuSeconds())]);
  const cpu0 = sides.map((s) => s.server.cpuSeconds());
  const deadline = now() + maxSeconds * 1000;
  const started = now();
  for (let i = 0; i < rounds && now() < deadline; i++) {
    // Alternate which server goes first, so neither always follows the other.
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) side.rounds.push(await play(side));
  }
  const elapsed = (now() - started) / 1000;
  const others = meter.othersCores();
  const cpu1 = sides.map((s) => s.server.cpuSeconds());

  console.log('authorization-code: remembered consent → code → token exchange, sequential rounds (wall time per round)');
  console.log(`  ${sides[0]!.rounds.length} timed rounds per server after ${warmup} warm-up rounds, alternating servers, in ${elapsed.toFixed(1)} s; keep-alive connections; PKCE S256; client_secret_basic`);
  console.log(`  ${''.padEnd(16)}${'p50'.padStart(11)}${'p99'.padStart(11)}${'mean'.padStart(11)}${'srv CPU/round'.padStart(15)}   hops`);
  const p50s: Record<string, number> = {};
  sides.forEach((side, i) => {
    const totals = side.rounds.map((r) => r.total);
    const mean = totals.reduce((a, b) => a + b, 0) / totals.length;
    const cpu = cpu0[i] === null || cpu1[i] === null ? null : ((cpu1[i]! - cpu0[i]!) / side.rounds.length) * 1000;
    p50s[side.name] = percentile(totals, 50);
    console.log(
      `  ${side.name.padEnd(16)}${fmt(percentile(totals, 50)).padStart(11)}${fmt(percentile(totals, 99)).padStart(11)}${fmt(mean).padStart(11)}` +
        `${(cpu === null ? '?' : fmt(cpu)).padStart(15)}   ${side.hopNames.length} requests: ${side.hopNames.join(' → ')}`,
    );
    for (const hop of side.hopNames) {
      const values = side.rounds.map((r) => r.hops[hop]!);
      console.log(`    ${hop.padEnd(14)}${fmt(percentile(values, 50)).padStart(11)}${fmt(percentile(values, 99)).padStart(11)}`);
    }
  });
  console.log(`  p50 ratio oidc-provider/keygate: ${(p50s['oidc-provider']! / p50s['keygate']!).toFixed(2)} (above 1: Keygate's round trip is shorter)`);
  console.log(`  other processes used ${fmtCores(others)} cores during the timed rounds (${fmtCores(quietBefore)} before start)`);
  console.log(`  ${machineNote()}`);
} finally {
  tokenAgent.destroy();
  for (const browser of browsers) browser.close();
  for (const child of children) await child.stop();
}
