import type { AuditEvent, AuditFilter } from '../domain/audit.js';
import type { Client, Hs256Secret, IssuedToken, Revocation } from '../domain/clients.js';
import type { Api } from '../domain/apis.js';
import type { ApiKey } from '../domain/keys/key.js';
import type { Tenant } from '../domain/tenants.js';
import type { AuthorizationCode, Grant, Interaction, RefreshToken, User } from '../domain/people.js';
import type { SigningKey } from '../domain/signing-keys.js';
import type { PoolUsage } from './store-observer.js';

export interface PageRequest {
  /** The id of the last item of the previous page; null for the first page. */
  after: string | null;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** The id to pass as `after` for the next page; null on the last page. */
  next: string | null;
}

/** A key found by the hash of a presented secret, with what verify needs around it. */
export interface KeyBySecret {
  key: ApiKey;
  api: Api;
  tenantSlug: string;
  secretRetiredAt: number | null;
}

/** One key's part of a chained credit spend. */
export interface CreditSpend {
  keyId: string;
  /** As `spendCredits`' `refillDueBefore`. */
  refillDueBefore: number | null;
}

export interface KeyFilter {
  apiId?: string;
  consumer?: string;
}

/** A signing key as stored: its private key sealed under the master key. */
export interface StoredSigningKey extends SigningKey {
  sealedPrivateKey: string;
}

export interface ClientSecretRecord {
  hash: string;
  expiresAt: number | null;
}

export interface UsageEntry {
  keyId: string;
  lastUsedAt: number;
  count: number;
}

/** Builds a revocation a store change records in its transaction (the service gives ids and times). */
export type RevocationFactory = (input: Pick<Revocation, 'kind' | 'subject' | 'notBefore' | 'expiresAt'>) => Revocation;

/** What uses an API: keys not revoked, live JWT API keys, and the clients allowed scopes of it. */
export interface ApiUse {
  keys: number;
  tokens: number;
  clients: number;
}

/**
 * The one persistence interface. Backends: `sqlite/` (default, embedded) and `postgres/`.
 * Every method that changes data takes the audit event describing the change and writes
 * both in one transaction. Faults (store unreachable) surface as STORE_UNAVAILABLE;
 * unique violations as the matching `*_EXISTS` code.
 */
export interface Store {
  readonly backend: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  ping(): Promise<void>;
  /** The master-key check: a value sealed with the master key at the database's first start; null before. */
  masterKeyCheck(): Promise<string | null>;
  /** Stores the check unless one exists (another instance's first start won); returns the stored one. */
  saveMasterKeyCheck(sealed: string, at: number): Promise<string>;
  /** True while the database holds no tenant at all (not even the system tenant). */
  isEmpty(): Promise<boolean>;
  /** One sealed signing key: whether a master key opens it tells whether it fits a database from before the check. */
  anySealedSigningKey(): Promise<{ kid: string; sealedPrivateKey: string } | null>;
  close(): Promise<void>;
  /** The connection pool's counts (PostgreSQL), or null for a store without a pool. */
  poolUsage(): PoolUsage | null;

  /** Creates the tenant, with its first signing key when given. */
  createTenant(tenant: Tenant, event: AuditEvent, signingKey?: StoredSigningKey): Promise<void>;
  findTenantBySlug(slug: string): Promise<Tenant | null>;
  listTenants(page: PageRequest): Promise<Page<Tenant>>;

  createApi(api: Api, event: AuditEvent): Promise<void>;
  findApi(tenantId: string, identifier: string): Promise<Api | null>;
  findApiById(id: string): Promise<Api | null>;
  listApis(tenantId: string, page: PageRequest): Promise<Page<Api>>;
  updateApi(api: Api, event: AuditEvent): Promise<void>;
  /**
   * Replaces the API's catalog when it drops `dropped` scopes: the keys (not revoked), live JWT API
   * keys and clients holding one of them are counted and, with `force`, the keys and clients
   * narrowed to the scopes that remain and the JWT API keys revoked by jti, all in one transaction
   * with the event. Without `force` and with any holder, nothing is written.
   */
  replaceCatalog(
    api: Api,
    dropped: readonly string[],
    options: { force: boolean; at: number; revocation: RevocationFactory },
    event: AuditEvent,
  ): Promise<{ applied: boolean; keyIds: string[]; clientIds: string[]; tokenIds: string[]; revocations: Revocation[] }>;
  /**
   * Deletes the API with its keys, JWT API keys (live ones revoked by jti), grants (live ones cut
   * off) and the clients' allowances for it, in one transaction. Without `force`, nothing is
   * written while anything uses it (`inUse`).
   */
  deleteApi(
    api: Api,
    options: { force: boolean; at: number; revocation: RevocationFactory },
    event: AuditEvent,
  ): Promise<{ deleted: false; inUse: ApiUse } | { deleted: true; keyIds: string[]; clientIds: string[]; revocations: Revocation[] }>;
  /** The longest access-token lifetime (s) among the tenant's APIs. */
  maxAccessTokenTtl(tenantId: string): Promise<number>;

  listSigningKeys(tenantId: string): Promise<StoredSigningKey[]>;
  /** Adds a key; the keys in `retire` stop signing at `retiredAt`. */
  addSigningKey(key: StoredSigningKey, retire: { kids: string[]; retiredAt: number }, event: AuditEvent): Promise<void>;
  setPublishUntil(kid: string, publishUntil: number): Promise<void>;

  createClient(client: Client, secretHash: string | null, event: AuditEvent): Promise<void>;
  findClient(tenantId: string, id: string): Promise<Client | null>;
  listClients(tenantId: string, page: PageRequest): Promise<Page<Client>>;
  updateClient(client: Client, event: AuditEvent): Promise<void>;
  deleteClient(tenantId: string, id: string, event: AuditEvent): Promise<boolean>;
  clientSecrets(clientId: string): Promise<ClientSecretRecord[]>;
  /** Adds a current secret; the existing ones expire at `expireOthersAt`. */
  addClientSecret(clientId: string, hash: string, expireOthersAt: number, event: AuditEvent): Promise<void>;

  createIssuedToken(token: IssuedToken, event: AuditEvent): Promise<void>;
  findIssuedToken(tenantId: string, jti: string): Promise<IssuedToken | null>;
  listIssuedTokens(tenantId: string, filter: { apiId?: string; consumer?: string }, page: PageRequest): Promise<Page<IssuedToken>>;
  /** Latest expiry of live JWT API keys signed by `kid`: null if none, Infinity if one never expires. */
  lastIssuedTokenExpiry(kid: string): Promise<number | null>;

  /** Records a revocation (marking an issued JWT API key revoked too). Returns false for a jti already revoked. */
  addRevocation(revocation: Revocation, event: AuditEvent): Promise<boolean>;
  /** Revocations of a tenant after `after` (a revocation id), oldest first: the feed verifiers follow. */
  listRevocations(tenantId: string, page: PageRequest): Promise<Page<Revocation>>;

  /** Writes the tenant's `fields`, and only those, so a concurrent change of another is not undone. */
  updateTenant(tenant: Tenant, fields: readonly ('name' | 'selfSignup' | 'hs256MaxLifetime')[], event: AuditEvent): Promise<void>;
  /**
   * Deletes every row of the tenant in every table, and revokes the root keys limited to its
   * slug, in one transaction with `event` (written to the system tenant's log, since the
   * tenant's own goes). Returns the ids whose cached state must be dropped; null when no such tenant.
   */
  deleteTenant(tenant: Tenant, at: number, event: AuditEvent): Promise<{ keyIds: string[]; apiIds: string[]; clientIds: string[]; rootKeyIds: string[] } | null>;

  createUser(user: User, passwordHash: string, event: AuditEvent): Promise<void>;
  findUser(tenantId: string, id: string): Promise<User | null>;
  findUserByEmail(tenantId: string, email: string): Promise<{ user: User; passwordHash: string } | null>;
  listUsers(tenantId: string, page: PageRequest): Promise<Page<User>>;
  /**
   * Writes the user's `fields` that changed, and only those: a change read before a concurrent
   * one (a rename before a disable) must not write the other's field back. A new email ends the
   * reset links sent to the old one. With `endAccess` (the user is being disabled), also ends
   * their sessions, unused codes, reset links and refresh tokens and cuts off each live grant, in
   * the same transaction; returns the cut-offs recorded.
   */
  updateUser(
    user: User,
    options: { fields: readonly ('name' | 'email' | 'disabledAt')[]; endAccess: RevocationFactory | null; at: number },
    event: AuditEvent,
  ): Promise<Revocation[]>;
  /** Ends the user's access as `updateUser` does, then deletes the user with their grants; null when no such user. */
  deleteUser(tenantId: string, id: string, options: { at: number; revocation: RevocationFactory }, event: AuditEvent): Promise<Revocation[] | null>;

  createSession(hash: string, tenantId: string, userId: string, createdAt: number, expiresAt: number): Promise<void>;
  findSession(hash: string): Promise<{ tenantId: string; userId: string; expiresAt: number } | null>;
  deleteSession(hash: string): Promise<void>;

  /**
   * Stores a pending authorization, then drops the oldest of its source address beyond
   * `bounds.perSource` and of its client beyond `bounds.perClient`, in one transaction.
   */
  createInteraction(interaction: Interaction, bounds: { perSource: number; perClient: number }): Promise<void>;
  findInteraction(tenantId: string, id: string): Promise<Interaction | null>;
  deleteInteraction(id: string): Promise<void>;

  /** The user's live grant to the client for the API, if any. */
  findGrant(tenantId: string, userId: string, clientId: string, apiId: string): Promise<Grant | null>;
  findGrantById(tenantId: string, id: string): Promise<Grant | null>;
  /** Inserts the grant, or updates its scopes when it exists. */
  saveGrant(grant: Grant, event: AuditEvent): Promise<void>;
  listGrants(tenantId: string, userId: string, page: PageRequest): Promise<Page<Grant>>;
  /** Revokes the grant and every refresh token of it. False when there was no live grant. */
  revokeGrant(tenantId: string, id: string, at: number, event: AuditEvent): Promise<boolean>;
  touchGrant(grantId: string, at: number): Promise<void>;

  createCode(code: AuthorizationCode): Promise<void>;
  /** Marks the code used; `first` is false when it had been used already (a replay). */
  consumeCode(hash: string, now: number): Promise<{ code: AuthorizationCode; first: boolean } | null>;

  createRefreshToken(token: RefreshToken): Promise<void>;
  /** Marks the token rotated; `won` is false when it was already rotated or revoked. */
  rotateRefreshToken(hash: string, now: number): Promise<{ token: RefreshToken; won: boolean } | null>;
  findRefreshToken(hash: string): Promise<RefreshToken | null>;

  /** Stores a reset link's hash; with `event` (an operator sent it), writes the event in the same transaction. */
  createPasswordReset(hash: string, tenantId: string, userId: string, expiresAt: number, options?: { event?: AuditEvent }): Promise<void>;
  /** The user of a live, unused reset token of the tenant; null otherwise. Uses nothing up. */
  findPasswordReset(hash: string, tenantId: string, now: number): Promise<{ userId: string } | null>;
  /**
   * In one transaction: uses up a live reset token of the tenant and every other reset token of
   * its user, sets the user's new password,
   * ends every session of the user and revokes every refresh token of theirs (so every grant's
   * refresh family ends), and writes the event. Null, and nothing changed, when the token is not
   * live (unknown, used, expired, or another tenant's).
   */
  completePasswordReset(
    reset: { hash: string; tenantId: string; passwordHash: string; at: number },
    event: (userId: string) => AuditEvent,
  ): Promise<{ userId: string } | null>;

  /**
   * Deletes what can no longer matter: expired sessions, pending authorizations, codes, password
   * resets and refresh tokens, and jti revocations whose token has expired anyway. Returns how
   * many rows went.
   */
  pruneExpired(now: number): Promise<number>;

  createHs256Secret(secret: Hs256Secret, sealed: string, event: AuditEvent): Promise<void>;
  findHs256Secret(kid: string): Promise<(Hs256Secret & { sealed: string }) | null>;
  listHs256Secrets(tenantId: string): Promise<Hs256Secret[]>;
  revokeHs256Secret(tenantId: string, kid: string, at: number, event: AuditEvent): Promise<boolean>;

  /**
   * Writes the key, its secret and the event in one transaction. With `maxChildren`, a sub-key
   * is refused (SUBKEY_LIMIT_REACHED, nothing written) when its parent already has that many
   * unrevoked children; the parent's row is locked while counting so parallel mints cannot pass.
   */
  createKey(key: ApiKey, secretHash: string, event: AuditEvent, options?: { maxChildren?: number }): Promise<void>;
  findKey(tenantId: string, id: string): Promise<ApiKey | null>;
  /** The key's ancestors, its parent first and the root last; empty for a key without parent. */
  findKeyAncestors(tenantId: string, id: string): Promise<ApiKey[]>;
  findKeyBySecret(hash: string): Promise<KeyBySecret | null>;
  listKeys(tenantId: string, filter: KeyFilter, page: PageRequest): Promise<Page<ApiKey>>;
  /** The key and all its descendants (the key first); empty when the key is unknown. */
  findKeyTree(tenantId: string, id: string): Promise<ApiKey[]>;
  /** Writes the changed fields of several keys of one tenant and the event in one transaction. */
  updateKeys(keys: readonly ApiKey[], event: AuditEvent): Promise<void>;
  /** Revokes the key and all its descendants; returns the ids revoked now. */
  revokeKeyTree(tenantId: string, id: string, at: number, event: AuditEvent): Promise<string[]>;
  /** Deletes the key, its descendants and their secrets; returns the ids deleted. */
  deleteKeyTree(tenantId: string, id: string, event: AuditEvent): Promise<string[]>;
  /** Adds a new current secret; older secrets retire at `retireAt`. */
  rollKeySecret(keyId: string, newHash: string, start: string, retireAt: number, event: AuditEvent): Promise<void>;
  /**
   * Atomically spends `cost` credits, first refilling to the refill amount when the last refill
   * happened before `refillDueBefore`. Returns the credits left, or null when too few remain.
   */
  spendCredits(keyId: string, cost: number, now: number, refillDueBefore: number | null): Promise<number | null>;
  /**
   * Spends `cost` from every listed key (refilling each as `spendCredits` does), all or none in
   * one transaction; rows are updated in the given order (callers pass key-id order, so two
   * writers never lock them in different orders). Returns the credits left per key in that
   * order, or null when any key has too few.
   */
  spendChainCredits(spends: readonly CreditSpend[], cost: number, now: number): Promise<number[] | null>;
  readCredits(keyId: string): Promise<number | null>;
  recordUsage(entries: readonly UsageEntry[]): Promise<void>;

  /** Inserts events; an event with an `aggregate` adds its count to the row of the same key. */
  appendAudit(events: readonly AuditEvent[]): Promise<void>;
  /** The tenant's events, newest first, narrowed by the filter. */
  listAudit(tenantId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>>;
  /** Retention: deletes audit events that happened before `before`; returns how many. */
  pruneAudit(before: number): Promise<number>;
}
