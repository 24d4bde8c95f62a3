import type { GatewaySettings } from './gateway/settings.js';
import type { ScopeDefinition } from './scopes.js';

/** A protected resource server, named by its audience identifier, with its scope catalog. */
export interface Api {
  id: string;
  tenantId: string;
  identifier: string;
  name: string;
  keyPrefix: string;
  scopes: ScopeDefinition[];
  /** Lifetime of access tokens for this API, in seconds. */
  accessTokenTtl: number;
  refreshTokens: RefreshTokenSettings;
  /** How the gateway fronts this API; the defaults leave it out of the gateway. */
  gateway: GatewaySettings;
  createdAt: number;
}

/** Whether refresh tokens are issued for this API, and their lifetimes in seconds. */
export interface RefreshTokenSettings {
  enabled: boolean;
  idleTtl: number;
  absoluteTtl: number;
  /**
   * Seconds after a rotation during which the rotated token, presented again, is taken for a
   * concurrent refresh (refused, the family lives) rather than a replay (the family dies). 0, the
   * default, treats every reuse as a replay (RFC 9700 §4.14.2).
   */
  reuseInterval: number;
}

/** The largest reuse interval: longer leaves a replayed refresh token undetected too long. */
export const MAX_REFRESH_REUSE_INTERVAL = 60;

export const DEFAULT_REFRESH_TOKENS: RefreshTokenSettings = { enabled: false, idleTtl: 1_209_600, absoluteTtl: 7_776_000, reuseInterval: 0 };
