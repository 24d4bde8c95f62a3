import { EXIT_CODES, type ExitCode } from './exit-codes.js';

/**
 * The failures the CLI expects. Each carries its exit code; `runAction` prints the message
 * without a stack trace and exits with that code.
 */
export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCode;
}

/** The command line is wrong. The message names the flag and, where one exists, its env var. */
export class UsageError extends CliError {
  readonly exitCode = EXIT_CODES.usage;
  override readonly name = 'UsageError';
}

/** One entry of a problem's `errors` list: which field, and what is wrong with it. */
export interface ProblemFieldError {
  path: string;
  message: string;
}

/** The RFC 9457 body Keygate answers errors with. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  requestId: string;
  errors?: ProblemFieldError[];
}

/** The server answered with problem details. `code` is Keygate's stable error code. */
export class ProblemError extends CliError {
  readonly exitCode = EXIT_CODES.problem;
  override readonly name = 'ProblemError';
  readonly code: string;
  readonly status: number;
  readonly detail: string;
  readonly requestId: string;
  readonly errors: ProblemFieldError[];

  constructor(readonly body: ProblemBody) {
    super(`${body.code}: ${body.detail}`);
    this.code = body.code;
    this.status = body.status;
    this.detail = body.detail;
    this.requestId = body.requestId;
    this.errors = body.errors ?? [];
  }
}

/**
 * Something answered, but not the way Keygate answers: an error without problem details or
 * a body that is not JSON (a proxy's error page, another service on that port).
 */
export class UnexpectedResponseError extends CliError {
  readonly exitCode = EXIT_CODES.problem;
  override readonly name = 'UnexpectedResponseError';

  constructor(
    readonly status: number,
    readonly url: string,
    snippet: string,
  ) {
    super(`HTTP_${status}: ${url} did not answer as Keygate does${snippet ? ` (${snippet})` : ''}; is --url right?`);
  }
}

/** No answer at all: refused, unknown host, reset, or no reply within the timeout. */
export class UnreachableError extends CliError {
  readonly exitCode = EXIT_CODES.unreachable;
  override readonly name = 'UnreachableError';

  /**
   * @param options.hint replaces the closing advice, for URLs that did not come from --url
   *   (an issuer taken from a token or from --issuer).
   */
  constructor(
    readonly url: string,
    readonly reason: string,
    options: { hint?: string } = {},
  ) {
    super(
      `cannot reach Keygate at ${url} (${reason}).\n` +
        (options.hint ?? 'Is the server running? Start it with "keygate start", or point --url (or KEYGATE_URL) at it.'),
    );
  }
}

/** An RFC 6749 §5.2 error body, as the OAuth endpoints answer. */
export interface OAuthErrorBody {
  error: string;
  error_description?: string;
}

/** An OAuth endpoint (the token endpoint) refused the request; `error` is the RFC's code. */
export class OAuthResponseError extends CliError {
  readonly exitCode = EXIT_CODES.problem;
  override readonly name = 'OAuthResponseError';

  constructor(
    readonly body: OAuthErrorBody,
    readonly status: number,
  ) {
    super(`${body.error}${body.error_description ? `: ${body.error_description}` : ''}`);
  }
}

/** The input is not a JWT at all (exit 2, like any other malformed value). */
export class NotAJwtError extends CliError {
  readonly exitCode = EXIT_CODES.usage;
  override readonly name = 'NotAJwtError';
}

/** A destructive command was not confirmed: no `--yes` without a terminal, or "no" on one (exit 2). */
export class NotConfirmedError extends CliError {
  readonly exitCode = EXIT_CODES.usage;
  override readonly name = 'NotConfirmedError';
}
