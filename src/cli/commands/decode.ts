import { Option, type Command } from 'commander';
import type { JWTPayload, ProtectedHeaderParameters } from 'jose';
import type { VerificationResult } from '../api-types.js';
import { CliError, UsageError } from '../cli-errors.js';
import { DEFAULT_URL, connect, type ConnectionFlags } from '../connection.js';
import { expiryInWords, timeInWords } from '../../domain/durations.js';
import { EXIT_CODES, type ExitCode } from '../exit-codes.js';
import { formatFields, type Cell } from '../format-table.js';
import type { SignatureStatus } from '../jwt-inspect.js';
import { print, printJson } from '../output.js';
import { readStdin } from '../read-stdin.js';
import { commandGroup, runAction } from '../run-action.js';

/** `keygate decode --json` prints exactly this. */
export interface DecodeReport {
  header: ProtectedHeaderParameters;
  claims: JWTPayload;
  /** Seconds until `exp`, negative once expired; null without an `exp` claim. */
  expiresIn: number | null;
  signature: SignatureStatus;
  /** The code `POST /v1/verify` answered (`VALID`, `REVOKED`, ...), or null when not checked. */
  revocation: string | null;
}

/** What the text output says beside the report: where the keys came from and why a check was skipped. */
interface Notes {
  signature: string;
  revocation: string;
}

/**
 * `keygate decode <token>`: shows what a JWT says and whether it holds — signature against the
 * issuer's JWKS, lifetime, and (with a root key) revocation as the server sees it. Exits 0
 * when it holds, 1 when it is a JWT that does not, 2 when it is not a JWT.
 *
 * @example
 * registerDecode(program);
 */
export function registerDecode(program: Command): void {
  // A group with no subcommands is a plain command that keeps the group's exit code 2 for usage errors.
  const decode = commandGroup(program, 'decode', 'Decode a JWT and check its signature, lifetime and (with a root key) revocation')
    .argument('<token>', 'the JWT, or - to read it from stdin')
    // The connection flags of every command, described for what they do here: both are optional.
    .addOption(new Option('--url <url>', `the Keygate server that checks revocation (default ${DEFAULT_URL})`).env('KEYGATE_URL'))
    .addOption(new Option('--root-key <key>', 'with a root key (keys:verify), also ask the server whether the token is revoked').env('KEYGATE_ROOT_KEY'))
    .option('--json', 'print {header, claims, expiresIn, signature, revocation} as JSON');
  decode.action(
    runAction(async (tokenArg: string, flags: ConnectionFlags): Promise<ExitCode> => {
      const token = tokenArg === '-' ? await readStdin({ what: 'token' }) : tokenArg.trim();
      if (!token) throw new UsageError('the token is empty');
      // jose is loaded here, not at the top: other commands should not pay for it at start-up.
      const { checkSignature, decodeToken, fetchJwks } = await import('../jwt-inspect.js');
      const { header, claims } = decodeToken(token);
      const now = Date.now();

      const keys = await fetchJwks(claims.iss);
      let signature: SignatureStatus = 'unreachable';
      let signatureNote = 'failure' in keys ? `not checked: ${keys.failure}` : '';
      if ('jwks' in keys) {
        const status = await checkSignature(token, header, keys.jwks);
        signature = status;
        signatureNote = signatureWords(status, { alg: header.alg, kid: header.kid, url: keys.url });
      }

      const revocation = await checkRevocation(token, claims, flags);
      const report: DecodeReport = {
        header,
        claims,
        expiresIn: typeof claims.exp === 'number' ? claims.exp - Math.floor(now / 1000) : null,
        signature,
        revocation: revocation.code,
      };

      if (flags.json) {
        printJson(report);
        // stdout carries only the JSON; why a check could not be made goes beside it.
        if ('failure' in keys) process.stderr.write(`warning: signature not checked: ${keys.failure}\n`);
        if (revocation.exitCode !== null) process.stderr.write(`warning: revocation ${revocation.note}\n`);
      } else {
        print(formatDecoded(report, { now, notes: { signature: signatureNote, revocation: revocation.note } }));
      }
      return decodeExitCode(report, {
        now,
        jwksFailure: 'failure' in keys ? keys.exitCode : null,
        revocationFailure: revocation.exitCode,
      });
    }),
  );
}

interface RevocationCheck {
  code: string | null;
  note: string;
  /** Set when the server could not answer the question (3 or 4). */
  exitCode: ExitCode | null;
}

/** Asks the server's verify, which knows revoked jtis and per-client and per-consumer cut-offs. */
async function checkRevocation(token: string, claims: JWTPayload, flags: ConnectionFlags): Promise<RevocationCheck> {
  if (!flags.rootKey?.trim()) return { code: null, note: 'not checked: no root key (set KEYGATE_ROOT_KEY or --root-key)', exitCode: null };
  const api = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
  if (typeof api !== 'string' || api === '') return { code: null, note: 'not checked: the token has no aud claim to verify it for', exitCode: null };
  const client = connect(flags);
  try {
    const result = await client.request<VerificationResult>('POST', '/v1/verify', { body: { credential: token, api } });
    return { code: result.code, note: revocationWords(result.code, { url: client.url }), exitCode: null };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return { code: null, note: `not checked: ${err.message.split('\n')[0]}`, exitCode: err.exitCode };
  }
}

/**
 * The exit code of `decode`, in the order of the table in docs/cli.md: 1 when anything says the
 * token does not hold (signature, lifetime, no usable issuer, the server's verify), then 4 when a
 * check got no answer, then 3 when it got a wrong one, else 0.
 *
 * @example
 * decodeExitCode(report, { now: Date.now(), jwksFailure: null, revocationFailure: null }); // 0
 */
export function decodeExitCode(
  report: DecodeReport,
  options: { now: number; jwksFailure: ExitCode | null; revocationFailure: ExitCode | null },
): ExitCode {
  const nowSec = options.now / 1000;
  const expired = typeof report.claims.exp === 'number' && report.claims.exp <= nowSec;
  const early = typeof report.claims.nbf === 'number' && report.claims.nbf > nowSec;
  const refused = report.revocation !== null && report.revocation !== 'VALID';
  if (report.signature === 'invalid' || report.signature === 'unknown_kid' || expired || early || refused) return EXIT_CODES.notValid;
  const failures = [options.jwksFailure, options.revocationFailure].filter((code): code is ExitCode => code !== null);
  if (failures.includes(EXIT_CODES.notValid)) return EXIT_CODES.notValid;
  if (failures.includes(EXIT_CODES.unreachable)) return EXIT_CODES.unreachable;
  return failures[0] ?? EXIT_CODES.ok;
}

/**
 * The decoded token for people: header and claims as indented JSON, then one line per check.
 *
 * @example
 * print(formatDecoded(report, { now: Date.now(), notes }));
 */
export function formatDecoded(report: DecodeReport, options: { now: number; notes: Notes }): string {
  const { claims, header } = report;
  const fields: [string, Cell][] = [['typ', typeof header.typ === 'string' ? typWords(header.typ) : 'none (RFC 9068 access tokens say at+jwt)']];
  if (typeof claims.iat === 'number') fields.push(['issuedAt', `${isoOf(claims.iat)} (issued ${timeInWords(claims.iat * 1000, options)})`]);
  if (typeof claims.nbf === 'number') {
    const words = claims.nbf * 1000 > options.now ? `not valid yet: valid ${timeInWords(claims.nbf * 1000, options)}` : `valid since ${timeInWords(claims.nbf * 1000, options)}`;
    fields.push(['notBefore', `${isoOf(claims.nbf)} (${words})`]);
  }
  fields.push(['expiresAt', typeof claims.exp === 'number' ? `${isoOf(claims.exp)} (${expiryInWords(claims.exp, options)})` : expiryInWords(undefined, options)]);
  fields.push(['signature', options.notes.signature]);
  fields.push(['revocation', options.notes.revocation]);
  return ['header', prettyJson(header), '', 'claims', prettyJson(claims), '', formatFields(fields)].join('\n');
}

function signatureWords(status: Exclude<SignatureStatus, 'unreachable'>, where: { alg: string | undefined; kid: string | undefined; url: string }): string {
  const key = where.kid === undefined ? 'no kid in the header' : `kid ${where.kid}`;
  switch (status) {
    case 'valid':
      return `valid (${key}, from ${where.url})`;
    case 'invalid':
      return `INVALID: the signature does not verify (${key}, from ${where.url})`;
    case 'unknown_kid':
      return where.alg?.startsWith('HS')
        ? `unknown_kid: ${where.alg} tokens are signed with a tenant secret, which is never published; "keygate key verify" checks them`
        : `unknown_kid: ${where.url} does not publish ${key} (a key retired long enough ago, or not this issuer's)`;
  }
}

function revocationWords(code: string, where: { url: string }): string {
  if (code === 'VALID') return `not revoked (verify at ${where.url} answered VALID)`;
  if (code === 'REVOKED') return `REVOKED (verify at ${where.url} answered REVOKED)`;
  return `${code}: verify at ${where.url} does not accept the token (see docs/errors.md)`;
}

function typWords(typ: string): string {
  const lower = typ.toLowerCase();
  return lower === 'at+jwt' || lower === 'application/at+jwt' ? `${typ} (an RFC 9068 access token)` : `${typ} (not at+jwt; for information only)`;
}

function isoOf(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString();
}

/**
 * JSON escapes C0 control characters but not DEL and C1 (U+0080-U+009F, where some terminals
 * read CSI); claims come from whoever made the token, so those are escaped too.
 */
function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
