/**
 * Where command results go: stdout, as exact JSON for scripts or as text for people.
 * Errors go to stderr (see run-action.ts), so `--json` output can be piped as it is.
 */

/**
 * Prints a value as indented JSON on stdout.
 *
 * @example
 * printJson({ revoked: ['key_1'] });
 */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Prints text followed by a newline on stdout.
 *
 * @example
 * print(formatTable(['ID'], [['key_1']]));
 */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/**
 * Prints a secret with the warning that it will not be shown again. `kept` says what Keygate
 * keeps instead, which is why the secret cannot be shown again (default: its hash).
 *
 * @example
 * printSecret('API key', issued.key);
 * printSecret('JWT API key', issued.token, { kept: 'only its jti' });
 */
export function printSecret(label: string, secret: string, options: { kept?: string } = {}): void {
  const kept = options.kept ?? 'only its hash';
  print(`\n${label} (shown only once; Keygate keeps ${kept}, so store it now):\n\n  ${secret}\n`);
}
