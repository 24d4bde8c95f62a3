import type { Transporter } from 'nodemailer';
import { isLoopback, type Config } from '../config/schema.js';
import { WEBHOOK_SIGNATURE_HEADER, signWebhook } from '../crypto/webhook-signature.js';
import type { Clock } from '../domain/clock.js';

/** A password-reset link on its way to the person. `url` carries the one-time token. */
export interface PasswordResetMessage {
  tenant: string;
  email: string;
  token: string;
  url: string;
  expiresAt: number;
}

/** Delivers a reset link to the person (by mail, a webhook, or an embedder's own code). */
export type PasswordResetHook = (message: PasswordResetMessage) => void | Promise<void>;

const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * What a failed delivery may tell, in a message or a log line: the error's code (` (ECONNREFUSED)`,
 * ` (EAUTH)`), or nothing. Never the error itself: a mailer's or fetch's error may quote the
 * message, and the message is the reset link.
 *
 * @example
 * deliveryFailureCode(Object.assign(new Error('…'), { code: 'EAUTH' })) // " (EAUTH)"
 */
export function deliveryFailureCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? ` (${code})` : '';
}

/**
 * The delivery the configuration asks for: SMTP when `SMTP_URL` is set, else a signed webhook
 * when `KEYGATE_WEBHOOK_URL` is set, else none (password reset is then disabled). There is no
 * logging fallback: a reset link is a credential, and logs are read by more people than mail is.
 *
 * @example
 * const deliver = resetDeliveryFromConfig(config, systemClock);
 * if (deliver === null) logger.warn('password reset is disabled');
 */
export function resetDeliveryFromConfig(config: Config, clock: Clock): PasswordResetHook | null {
  if (config.smtpUrl && config.smtpFrom) return smtpDelivery(config.smtpUrl, config.smtpFrom, clock);
  if (config.webhookUrl && config.webhookSecret) return webhookDelivery(config.webhookUrl, config.webhookSecret, clock);
  return null;
}

/**
 * The nodemailer options for `SMTP_URL`. STARTTLS is required beyond this machine: plain smtp://
 * upgrades only when the server offers it, and whoever strips the offer reads the link and the
 * SMTP password. The URL's own `requireTLS=false` still wins (nodemailer lets URL parameters
 * override these options), and start warns about it.
 *
 * @example
 * smtpTransportOptions('smtp://u:p@mail.example.com:587') // { url, requireTLS: true }
 */
export function smtpTransportOptions(url: string): { url: string; requireTLS: boolean } {
  return { url, requireTLS: !isLoopback(new URL(url).hostname) };
}

function smtpDelivery(url: string, from: string, clock: Clock): PasswordResetHook {
  const options = smtpTransportOptions(url);
  // nodemailer is loaded by the first reset mail, not at every start (bench/startup.ts).
  let transport: Promise<Transporter> | null = null;
  return async ({ email, url: link, expiresAt }) => {
    const minutes = Math.round((expiresAt - clock()) / 60_000);
    transport ??= import('nodemailer').then(({ createTransport }) => createTransport(options));
    await (await transport).sendMail({
      from,
      to: email,
      subject: 'Reset your password',
      text: `Someone asked to reset the password of this account. To choose a new one, open:\n\n${link}\n\nThe link works once and expires in about ${minutes} minutes. If it was not you, ignore this mail: your password stays as it is.\n`,
    });
  };
}

function webhookDelivery(url: string, secret: string, clock: Clock): PasswordResetHook {
  return async ({ tenant, email, url: link, expiresAt }) => {
    const body = JSON.stringify({ type: 'password_reset', tenant, email, url: link, expiresAt: new Date(expiresAt).toISOString() });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, Math.floor(clock() / 1000), body) },
      body,
      // A 307/308 would have fetch send the link to wherever it points: a redirect is a failure.
      redirect: 'manual',
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`the webhook answered HTTP ${response.status}`);
  };
}
