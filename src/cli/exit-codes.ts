/**
 * The exit codes scripts may rely on; docs/cli.md lists the same table and the CLI tests
 * assert each one.
 */
export const EXIT_CODES = {
  /** The command did what was asked (`key verify`: the credential is valid). */
  ok: 0,
  /**
   * The answer is a "no": `key verify` and `decode` (the credential is not valid), `token revoke`
   * (no JWT API key has that jti). `start` also exits 1 when Keygate cannot start.
   */
  notValid: 1,
  /** The command line is wrong: a missing or malformed flag, an unknown command. */
  usage: 2,
  /** The server answered with a problem (RFC 9457), e.g. TENANT_EXISTS or UNAUTHORIZED. */
  problem: 3,
  /** The server could not be reached (connection refused, DNS failure, timeout). */
  unreachable: 4,
  /** Anything else: a bug in the CLI. The message says what happened. */
  internal: 5,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];
