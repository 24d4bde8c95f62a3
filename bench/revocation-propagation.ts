/**
 * How long a revoked JWT keeps passing the middleware's offline verifier: Keygate runs in a child
 * process; the verifier (`createKeygateVerifier`, src/middleware/core) runs here with
 * `revocationPollMs` 1000 (the default) and follows Keygate's revocation feed over HTTP on
 * 127.0.0.1.
 *
 *   tsx bench/revocation-propagation.ts [--quick] [--iterations 50] [--poll-ms 1000] [--probe-ms 5]
 *
 * Each iteration: mint a JWT API key (`POST /v1/tenants/{slug}/tokens`), verify it through the
 * verifier twice (so it is cached as verified), revoke it (`POST …/tokens/{jti}/revoke`), then
 * ask the verifier again every `--probe-ms` until it refuses the token; the delay is from the
 * revoke response to the first refusal (whose reason must be REVOKED). Between iterations a
 * random pause of 0–poll ms spreads the revocations over the phase of the verifier's poll
 * timer; without it every revocation would land just after a poll (the previous iteration ended
 * on one) and the figures would all sit at the worst case. Every wait is bounded (10 × poll per
 * iteration, and the whole run by --iterations).
 *
 * Documented bound (docs/middleware.md): `revocationPollMs` + one round trip of the feed request.
 * The round trip is measured here too (`GET /v1/tenants/{slug}/revocations`, as the verifier
 * sends it), and the probe step adds up to `--probe-ms` of sampling delay.
 */
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKeygateVerifier, type KeygateVerifier } from '../src/middleware/core/index.js';
import type { DenialReason } from '../src/middleware/core/index.js';
import { startChild, type ChildServer } from './lib/child.js';
import { fmtInt, machineNote, now, numberArg, parseArgs, percentile } from './lib/common.js';
import { management, setupTokensTenant, TOKENS_API, TOKENS_SCOPE, TOKENS_TENANT, type KeygateTokensServerInfo } from './servers/bench-tokens.js';

const args = parseArgs(process.argv.slice(2), { quick: 'flag', iterations: 'value', 'poll-ms': 'value', 'probe-ms': 'value' });
const quick = args.has('quick');
const iterations = Math.min(numberArg(args, 'iterations', quick ? 10 : 50), 1000);
const pollMs = numberArg(args, 'poll-ms', 1000);
const probeMs = numberArg(args, 'probe-ms', 5);
const FEED_SAMPLES = 50;

let server: ChildServer<KeygateTokensServerInfo> | null = null;
let verifier: KeygateVerifier | null = null;
try {
  server = await startChild<KeygateTokensServerInfo>(fileURLToPath(new URL('./servers/keygate-tokens-server.ts', import.meta.url)));
  const setup = await setupTokensTenant(server.info);
  const { url, rootKey } = setup;
  const denials: DenialReason[] = [];
  const warnings: string[] = [];
  verifier = createKeygateVerifier({
    issuer: setup.issuer,
    audience: TOKENS_API,
    rootKey,
    revocationPollMs: pollMs,
    onDenied: (reason) => denials.push(reason),
    onWarning: (message) => warnings.push(message),
  });
  const requirement = { scopes: [TOKENS_SCOPE] };

  // The feed round trip, as the verifier makes it (its first page, the root key, JSON).
  const feedUrl = `${url}/v1/tenants/${TOKENS_TENANT}/revocations?limit=100`;
  const feedRtt: number[] = [];
  // The first few requests of a fresh server and connection are not what a poll costs later.
  const FEED_WARMUP = 5;
  for (let i = 0; i < FEED_WARMUP + FEED_SAMPLES; i++) {
    const t0 = now();
    const response = await fetch(feedUrl, { headers: { authorization: `Bearer ${rootKey}`, accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
    await response.text();
    if (i >= FEED_WARMUP) feedRtt.push(now() - t0);
    if (response.status !== 200) throw new Error(`the revocation feed answered ${response.status}`);
  }

  const delays: number[] = [];
  const fromRequest: number[] = [];
  const probes: number[] = [];
  const deadline = (): number => 10 * pollMs;
  for (let i = 0; i < iterations; i++) {
    const minted = await management<{ jti: string; token: string }>(url, rootKey, 'POST', `/v1/tenants/${TOKENS_TENANT}/tokens`, {
      api: TOKENS_API,
      consumer: 'bench-consumer',
      scopes: [TOKENS_SCOPE],
    });
    for (let k = 0; k < 2; k++) {
      const outcome = await verifier.verify(minted.token, requirement);
      if (!outcome.ok) throw new Error(`iteration ${i + 1}: a fresh token was refused: ${JSON.stringify(denials.at(-1))}`);
    }
    denials.length = 0;
    const sent = now();
    const revoked = await management<{ revoked: boolean }>(url, rootKey, 'POST', `/v1/tenants/${TOKENS_TENANT}/tokens/${minted.jti}/revoke`);
    const answered = now();
    if (!revoked.revoked) throw new Error(`iteration ${i + 1}: Keygate did not record the revocation`);
    if (i === 0) {
      // Keygate itself refuses it at once (its own revocations apply immediately).
      const direct = await management<{ code: string }>(url, rootKey, 'POST', '/v1/verify', { credential: minted.token, api: TOKENS_API, scopes: [TOKENS_SCOPE] });
      if (direct.code !== 'REVOKED') throw new Error(`Keygate's /v1/verify answered ${direct.code} for a revoked token`);
    }
    let refusedAt: number | null = null;
    let n = 0;
    while (now() - answered < deadline() && n < 100_000) {
      n++;
      const outcome = await verifier.verify(minted.token, requirement);
      if (!outcome.ok) {
        refusedAt = now();
        break;
      }
      await sleep(probeMs);
    }
    if (refusedAt === null) throw new Error(`iteration ${i + 1}: still accepted ${deadline()} ms after the revocation`);
    if (denials[0]?.code !== 'REVOKED') throw new Error(`iteration ${i + 1}: refused for ${JSON.stringify(denials[0])}, not REVOKED`);
    delays.push(refusedAt - answered);
    fromRequest.push(refusedAt - sent);
    probes.push(n);
    process.stderr.write(`  ${i + 1}/${iterations}: refused ${(refusedAt - answered).toFixed(1)} ms after the revoke response (${n} probes)\n`);
    // A random phase against the poll timer for the next revocation (see the header).
    if (i + 1 < iterations) await sleep(Math.random() * pollMs);
  }

  const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;
  const rttP99 = percentile(feedRtt, 99);
  const bound = pollMs + rttP99;
  const max = Math.max(...delays);
  console.log(`revocation-propagation: revoke → first refusal by the middleware verifier (revocationPollMs ${pollMs}), ${iterations} revocations`);
  console.log(`  delay from the revoke response: p50 ${fmt(percentile(delays, 50))}, p99 ${fmt(percentile(delays, 99))}, max ${fmt(max)}, min ${fmt(Math.min(...delays))}`);
  console.log(`  delay from the revoke request:  p50 ${fmt(percentile(fromRequest, 50))}, p99 ${fmt(percentile(fromRequest, 99))}, max ${fmt(Math.max(...fromRequest))}`);
  console.log(`  feed round trip (GET …/revocations, ${FEED_SAMPLES} samples): p50 ${fmt(percentile(feedRtt, 50))}, p99 ${fmt(rttP99)}, max ${fmt(Math.max(...feedRtt))}`);
  console.log(`  probes every ${probeMs} ms: ${fmtInt(probes.reduce((a, b) => a + b, 0))} verifications in all (up to ${probeMs} ms of the delay is sampling)`);
  console.log(
    `  documented bound revocationPollMs + one feed round trip = ${fmt(bound)} (+ ${probeMs} ms sampling step): ` +
      `${max <= bound + probeMs ? 'HELD' : 'EXCEEDED'} (max ${fmt(max)})`,
  );
  if (warnings.length > 0) console.log(`  verifier warnings: ${warnings.join(' | ')}`);
  console.log(`  ${machineNote()}`);
} finally {
  await verifier?.close();
  await server?.stop();
}
