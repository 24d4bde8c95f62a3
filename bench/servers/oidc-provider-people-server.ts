/**
 * The baseline for the people benchmarks (bench/refresh-grant.ts, bench/authorization-code.ts), in
 * its own process: `oidc-provider` (panva) configured to do what Keygate does for a person's app —
 * one confidential client (client_secret_basic, grants authorization_code + refresh_token,
 * redirect http://127.0.0.1:9/cb), PKCE S256, RFC 8707 resource indicators answered with an
 * RFC 9068 JWT access token signed EdDSA (Ed25519) for 3600 s, refresh tokens issued with every
 * code (no offline_access needed, as at Keygate), rotated on every use (`rotateRefreshToken: true`),
 * idle lifetime 14 days, not tied to the sign-in session; reuse of a rotated one revokes the grant.
 *
 *   node --import tsx bench/servers/oidc-provider-people-server.ts [--adapter lean|sqlite|default]
 *
 * Sign-in and consent: the benchmark is not about login pages, so `/interaction/:uid` (the
 * provider's interaction URL) signs the bench person in and records consent for read:users at the
 * API on the spot (a Grant, then `provider.interactionFinished`), exactly what an app's login and
 * consent pages end with. Afterwards the session cookie and the remembered grant let /auth answer
 * with a code directly. Nothing of this runs in a refresh.
 *
 * Storage: `--adapter lean` (the default here) is a Map-based in-memory adapter with O(1) grant
 * indexing and a bound of 20,000 entries per token model (oldest evicted). oidc-provider's own
 * MemoryAdapter (`--adapter default`, a dev-only LRU of 1,000 entries) rewrites the grant's
 * member list on every token save — O(tokens issued under the grant) per refresh, so with many
 * rotations under one grant it slows down as the run goes on; that is a property of the dev
 * adapter, not of oidc-provider, so it is not the baseline. Neither writes to disk, while Keygate
 * commits every rotation to SQLite: the comparison favours the baseline. `--adapter sqlite` is
 * the durable counterpart: one better-sqlite3 table in WAL mode with synchronous=NORMAL (Keygate's
 * settings), prepared statements, no ORM, in a temp directory removed on exit.
 *
 * Prints one JSON line (OidcPeopleServerInfo) on stdout when listening; stops on SIGTERM or stdin
 * end. oidc-provider's notices (console.info) go to stderr so stdout stays one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stopOnParentExit } from './bench-key.js';
import { oidcProviderBase } from './oidc-provider-base.js';
import { ACCESS_TOKEN_TTL_S, PEOPLE_API, PEOPLE_REDIRECT, PEOPLE_SCOPE, REFRESH_IDLE_TTL_S, type OidcPeopleServerInfo } from './bench-people.js';

const adapterArg = process.argv.includes('--adapter') ? process.argv[process.argv.indexOf('--adapter') + 1] : 'lean';
if (adapterArg !== 'lean' && adapterArg !== 'sqlite' && adapterArg !== 'default') throw new Error('--adapter must be lean, sqlite or default');

const ACCOUNT_ID = 'bench-person';
const MAX_TOKENS_PER_MODEL = 20_000;
const TOKEN_MODELS = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

/** The part of oidc-provider@9's API used here (the package ships no types). */
interface GrantInstance {
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ uid: string; grantId?: string; params: Record<string, unknown>; prompt: { name: string } }>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options: { mergeWithLastSubmission: boolean }): Promise<void>;
  Grant: { new (init: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
}
interface ProviderClass {
  new (issuer: string, configuration: Record<string, unknown>): ProviderInstance;
  errors: { InvalidTarget: new () => Error };
}

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };
interface Entry {
  payload: Payload;
  expiresAt: number;
}

/** Plain Maps, one per model; grants index their tokens in a Set (O(1) per save). */
class LeanAdapter {
  private static readonly models = new Map<string, Map<string, Entry>>();
  private static readonly byGrant = new Map<string, Set<string>>();
  private static readonly byUid = new Map<string, string>();
  private static readonly byUserCode = new Map<string, string>();
  private readonly store: Map<string, Entry>;

  constructor(private readonly model: string) {
    let store = LeanAdapter.models.get(model);
    if (store === undefined) LeanAdapter.models.set(model, (store = new Map()));
    this.store = store;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    if (this.store.has(id)) this.unindex(id, this.store.get(id)!.payload);
    this.store.set(id, { payload, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY });
    if (payload.grantId !== undefined && TOKEN_MODELS.has(this.model)) {
      let members = LeanAdapter.byGrant.get(payload.grantId);
      if (members === undefined) LeanAdapter.byGrant.set(payload.grantId, (members = new Set()));
      members.add(`${this.model}:${id}`);
    }
    if (this.model === 'Session' && typeof payload.uid === 'string') LeanAdapter.byUid.set(payload.uid, id);
    if (typeof payload.userCode === 'string') LeanAdapter.byUserCode.set(payload.userCode, id);
    if (TOKEN_MODELS.has(this.model) && this.store.size > MAX_TOKENS_PER_MODEL) {
      const oldest = this.store.keys().next().value as string;
      await this.destroy(oldest);
    }
  }

  async find(id: string): Promise<Payload | undefined> {
    const entry = this.store.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      await this.destroy(id);
      return undefined;
    }
    return entry.payload;
  }

  findByUid(uid: string): Promise<Payload | undefined> {
    const id = LeanAdapter.byUid.get(uid);
    return id === undefined ? Promise.resolve(undefined) : this.find(id);
  }

  findByUserCode(userCode: string): Promise<Payload | undefined> {
    const id = LeanAdapter.byUserCode.get(userCode);
    return id === undefined ? Promise.resolve(undefined) : this.find(id);
  }

  async consume(id: string): Promise<void> {
    const entry = this.store.get(id);
    if (entry !== undefined) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    const entry = this.store.get(id);
    if (entry === undefined) return;
    this.store.delete(id);
    this.unindex(id, entry.payload);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const members = LeanAdapter.byGrant.get(grantId);
    if (members === undefined) return;
    LeanAdapter.byGrant.delete(grantId);
    for (const key of members) {
      const colon = key.indexOf(':');
      LeanAdapter.models.get(key.slice(0, colon))?.delete(key.slice(colon + 1));
    }
  }

  private unindex(id: string, payload: Payload): void {
    if (payload.grantId !== undefined) LeanAdapter.byGrant.get(payload.grantId)?.delete(`${this.model}:${id}`);
    if (this.model === 'Session' && typeof payload.uid === 'string' && LeanAdapter.byUid.get(payload.uid) === id) LeanAdapter.byUid.delete(payload.uid);
    if (typeof payload.userCode === 'string' && LeanAdapter.byUserCode.get(payload.userCode) === id) LeanAdapter.byUserCode.delete(payload.userCode);
  }
}

/** The durable variant: every model in one SQLite table, consumed kept in its own column. */
const sqliteDir = adapterArg === 'sqlite' ? mkdtempSync(join(tmpdir(), 'oidc-bench-')) : null;
const database = sqliteDir === null ? null : new SQLite(join(sqliteDir, 'oidc.db'));
class SqliteAdapter {
  private static statements: ReturnType<typeof SqliteAdapter.prepare> | null = null;

  private static prepare(db: SQLite.Database) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`create table if not exists oidc (model text not null, id text not null, payload text not null, grant_id text, uid text, user_code text,
      expires_at integer, consumed integer, primary key (model, id));
      create index if not exists oidc_grant on oidc (grant_id); create index if not exists oidc_uid on oidc (uid); create index if not exists oidc_user_code on oidc (user_code);`);
    return {
      upsert: db.prepare(`insert into oidc (model, id, payload, grant_id, uid, user_code, expires_at, consumed) values (?, ?, ?, ?, ?, ?, ?, null)
        on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at, consumed = null`),
      find: db.prepare('select payload, expires_at, consumed from oidc where model = ? and id = ?'),
      findBy: db.prepare('select payload, expires_at, consumed from oidc where model = ? and uid = ?'),
      findByUserCode: db.prepare('select payload, expires_at, consumed from oidc where model = ? and user_code = ?'),
      consume: db.prepare('update oidc set consumed = ? where model = ? and id = ?'),
      destroy: db.prepare('delete from oidc where model = ? and id = ?'),
      revoke: db.prepare('delete from oidc where grant_id = ?'),
    };
  }

  private readonly sql = (SqliteAdapter.statements ??= SqliteAdapter.prepare(database!));

  constructor(private readonly model: string) {}

  private static row(row: unknown): Payload | undefined {
    if (row === undefined) return undefined;
    const { payload, expires_at: expiresAt, consumed } = row as { payload: string; expires_at: number | null; consumed: number | null };
    if (expiresAt !== null && expiresAt <= Date.now()) return undefined;
    const parsed = JSON.parse(payload) as Payload;
    return consumed === null ? parsed : { ...parsed, consumed };
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : null;
    this.sql.upsert.run(this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresAt);
  }

  async find(id: string): Promise<Payload | undefined> {
    return SqliteAdapter.row(this.sql.find.get(this.model, id));
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    return SqliteAdapter.row(this.sql.findBy.get(this.model, uid));
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    return SqliteAdapter.row(this.sql.findByUserCode.get(this.model, userCode));
  }

  async consume(id: string): Promise<void> {
    this.sql.consume.run(Math.floor(Date.now() / 1000), this.model, id);
  }

  async destroy(id: string): Promise<void> {
    this.sql.destroy.run(this.model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.sql.revoke.run(grantId);
  }
}

const { Provider, version, jwk, http, url } = await oidcProviderBase<ProviderClass>();
const clientId = 'bench-people-client';
const clientSecret = randomBytes(32).toString('base64url');

const provider = new Provider(url, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [PEOPLE_REDIRECT],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  ...(adapterArg === 'lean' ? { adapter: LeanAdapter } : adapterArg === 'sqlite' ? { adapter: SqliteAdapter } : {}),
  jwks: { keys: [jwk] },
  // Only EdDSA is in the key set; no ID token is asked for (no openid scope), but the defaults must name a usable alg.
  clientDefaults: { id_token_signed_response_alg: 'EdDSA', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
  enabledJWA: { idTokenSigningAlgValues: ['EdDSA'] },
  findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
  interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
  // As at Keygate: every code for a client allowed refresh_token yields a refresh token, rotated on every use, independent of the sign-in session.
  issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(grant: string): boolean }) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  expiresWithSession: () => false,
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL_S,
    AuthorizationCode: 60,
    Grant: 7_776_000,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: REFRESH_IDLE_TTL_S,
    Session: REFRESH_IDLE_TTL_S,
  },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => PEOPLE_API,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, indicator: string) => {
        if (indicator !== PEOPLE_API) throw new Provider.errors.InvalidTarget();
        return { scope: PEOPLE_SCOPE, audience: PEOPLE_API, accessTokenTTL: ACCESS_TOKEN_TTL_S, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'EdDSA' } } };
      },
    },
  },
});

const callback = provider.callback();

/** The end of a login and consent page: the person is signed in and allows read:users at the API. */
async function finishInteraction(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const grant = (details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId: ACCOUNT_ID, clientId });
  grant.addResourceScope(PEOPLE_API, PEOPLE_SCOPE);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT_ID }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

http.on('request', (req: IncomingMessage, res: ServerResponse) => {
  if (req.method === 'GET' && req.url?.startsWith('/interaction/')) {
    finishInteraction(req, res).catch((err: unknown) => {
      console.error(err);
      res.statusCode = 500;
      res.end();
    });
    return;
  }
  callback(req, res);
});

const info: OidcPeopleServerInfo = {
  url,
  issuer: url,
  authorizationEndpoint: `${url}/auth`,
  tokenEndpoint: `${url}/token`,
  jwksUrl: `${url}/jwks`,
  clientId,
  clientSecret,
  version,
};
process.stdout.write(`${JSON.stringify(info)}\n`);

stopOnParentExit(async () => {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  database?.close();
  if (sqliteDir !== null) rmSync(sqliteDir, { recursive: true, force: true });
});
