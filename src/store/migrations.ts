import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * Versioned migrations, applied in name order at start by Kysely's Migrator. The column
 * types used here mean the same on SQLite and PostgreSQL; a migration once released is
 * never edited, only followed by a new one.
 */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('slug', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('apis')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('identifier', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('key_prefix', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('apis_tenant_identifier', ['tenant_id', 'identifier'])
        .execute();
      await db.schema
        .createTable('keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('api_id', 'text', (c) => c.notNull().references('apis.id'))
        .addColumn('parent_id', 'text')
        .addColumn('start', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('consumer', 'text')
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('meta', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .addColumn('ratelimits', 'text', (c) => c.notNull())
        .addColumn('credits_remaining', 'bigint')
        .addColumn('credits_refill_amount', 'bigint')
        .addColumn('credits_refill_interval', 'text')
        .addColumn('credits_refilled_at', 'bigint')
        .addColumn('ip_allowlist', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .addColumn('usage_count', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('keys_tenant_api').on('keys').columns(['tenant_id', 'api_id', 'id']).execute();
      await db.schema.createIndex('keys_tenant_consumer').on('keys').columns(['tenant_id', 'consumer', 'id']).execute();
      await db.schema.createIndex('keys_parent').on('keys').column('parent_id').execute();
      await db.schema
        .createTable('key_secrets')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
        .addColumn('retired_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('key_secrets_key').on('key_secrets').column('key_id').execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text')
        .addColumn('request_id', 'text')
        .addColumn('ip', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_tenant').on('audit_events').columns(['tenant_id', 'id']).execute();
    },
  },
  '0002_tokens': {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('tenants').addColumn('signing_alg', 'text', (c) => c.notNull().defaultTo('EdDSA')).execute();
      await db.schema.alterTable('apis').addColumn('access_token_ttl', 'bigint', (c) => c.notNull().defaultTo(3600)).execute();
      await db.schema
        .alterTable('apis')
        .addColumn('refresh_tokens', 'text', (c) => c.notNull().defaultTo('{"enabled":false,"idleTtl":1209600,"absoluteTtl":7776000}'))
        .execute();
      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('private_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('activates_at', 'bigint', (c) => c.notNull())
        .addColumn('retired_at', 'bigint')
        .addColumn('publish_until', 'bigint')
        .execute();
      await db.schema.createIndex('signing_keys_tenant').on('signing_keys').column('tenant_id').execute();
      await db.schema
        .createTable('clients')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('grant_types', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('token_endpoint_auth_method', 'text', (c) => c.notNull())
        .addColumn('jwks', 'text')
        .addColumn('redirect_uris', 'text', (c) => c.notNull())
        .addColumn('can_introspect', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('clients_tenant').on('clients').columns(['tenant_id', 'id']).execute();
      await db.schema
        .createTable('client_secrets')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .execute();
      await db.schema.createIndex('client_secrets_client').on('client_secrets').column('client_id').execute();
      await db.schema
        .createTable('issued_tokens')
        .addColumn('jti', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('api_id', 'text', (c) => c.notNull().references('apis.id'))
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('claims_format', 'text', (c) => c.notNull())
        .addColumn('kid', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('issued_tokens_tenant').on('issued_tokens').columns(['tenant_id', 'jti']).execute();
      await db.schema.createIndex('issued_tokens_kid').on('issued_tokens').column('kid').execute();
      await db.schema
        .createTable('revocations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('not_before', 'bigint')
        .addColumn('expires_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('revocations_tenant').on('revocations').columns(['tenant_id', 'id']).execute();
      await db.schema
        .createTable('hs256_secrets')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('hs256_secrets_tenant').on('hs256_secrets').column('tenant_id').execute();
    },
  },
  '0003_people': {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('tenants').addColumn('self_signup', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('users_tenant_email', ['tenant_id', 'email'])
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('interactions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('api_id', 'text', (c) => c.notNull())
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('state', 'text')
        .addColumn('code_challenge', 'text')
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('grants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('api_id', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('grants_user').on('grants').columns(['tenant_id', 'user_id', 'id']).execute();
      await db.schema
        .createTable('authorization_codes')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('grant_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('api_id', 'text', (c) => c.notNull())
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('code_challenge', 'text')
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
      await db.schema
        .createTable('refresh_tokens')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('family_id', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('grant_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('api_id', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('family_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('rotated_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('refresh_tokens_family').on('refresh_tokens').column('family_id').execute();
      await db.schema.createIndex('refresh_tokens_grant').on('refresh_tokens').column('grant_id').execute();
      await db.schema
        .createTable('password_resets')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
    },
  },
  '0004_root_keys': {
    async up(db: Kysely<any>): Promise<void> {
      // Root keys Keygate issued itself before it marked them: the seeded key(s) (shown as
      // "KEYGATE_ROOT_KEY") and the bootstrap key printed at first start (created by the system
      // actor). Marked, a later KEYGATE_ROOT_KEY retires them.
      const system = db.selectFrom('tenants').select('id').where('slug', '=', '_system');
      await db
        .updateTable('keys')
        .set({ meta: '{"keygate:origin":"seed"}' })
        .where('tenant_id', 'in', system)
        .where('start', '=', 'KEYGATE_ROOT_KEY')
        .execute();
      const bootstrap = db
        .selectFrom('audit_events')
        .select('target')
        .where('tenant_id', 'in', system)
        .where('actor', '=', 'system')
        .where('action', '=', 'root_key.create');
      await db.updateTable('keys').set({ meta: '{"keygate:origin":"bootstrap"}' }).where('id', 'in', bootstrap).execute();
    },
  },
  '0008_token_bounds': {
    async up(db: Kysely<any>): Promise<void> {
      // One day: the cap on self-issued HS256 token lifetimes for tenants made before there was one.
      await db.schema.alterTable('tenants').addColumn('hs256_max_lifetime', 'integer', (c) => c.notNull().defaultTo(86_400)).execute();
      // Who started a pending authorization, so each source address holds a bounded number of them.
      await db.schema.alterTable('interactions').addColumn('source', 'text', (c) => c.notNull().defaultTo('')).execute();
      await db.schema.createIndex('interactions_client').on('interactions').columns(['tenant_id', 'client_id', 'id']).execute();
      await db.schema.createIndex('interactions_source').on('interactions').columns(['tenant_id', 'source', 'id']).execute();
    },
  },
  '0009_master_key_check': {
    async up(db: Kysely<any>): Promise<void> {
      // Holds a value sealed with the master key at first start, so an instance started with
      // another master key refuses to start instead of failing on every signing key it opens.
      await db.schema
        .createTable('keygate_meta')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0011_audit_aggregation': {
    async up(db: Kysely<any>): Promise<void> {
      // Denials fold into one row per key, reason and minute; existing rows stand for one event each.
      await db.schema.alterTable('audit_events').addColumn('count', 'bigint', (c) => c.notNull().defaultTo(1)).execute();
      await db.schema.alterTable('audit_events').addColumn('last_at', 'bigint').execute();
      await db.schema.alterTable('audit_events').addColumn('last_request_id', 'text').execute();
      await db.schema.alterTable('audit_events').addColumn('aggregate_key', 'text').execute();
      // Unique, so instances sharing a database upsert into one row; NULLs (changes) never collide.
      await db.schema.createIndex('audit_events_aggregate').on('audit_events').column('aggregate_key').unique().execute();
      // Retention deletes by time.
      await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
    },
  },
  '0012_admin_lifecycle': {
    async up(db: Kysely<any>): Promise<void> {
      // An operator may disable a person without deleting them: no sign-in while set.
      await db.schema.alterTable('users').addColumn('disabled_at', 'bigint').execute();
    },
  },
  '0013_gateway': {
    async up(db: Kysely<any>): Promise<void> {
      // GatewaySettings as JSON; existing APIs read as the defaults: not behind the gateway.
      await db.schema.alterTable('apis').addColumn('gateway', 'text', (c) => c.notNull().defaultTo('{}')).execute();
      await db.schema
        .createTable('api_documents')
        .addColumn('api_id', 'text', (c) => c.primaryKey().references('apis.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('routes', 'text', (c) => c.notNull())
        .addColumn('uploaded_at', 'bigint', (c) => c.notNull())
        .execute();
      // A Host reaches one API in the whole installation: the primary key refuses a second claim,
      // also when two instances accept conflicting changes at the same moment.
      await db.schema
        .createTable('gateway_hosts')
        .addColumn('host', 'text', (c) => c.primaryKey())
        .addColumn('api_id', 'text', (c) => c.notNull().references('apis.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .execute();
      await db.schema.createIndex('gateway_hosts_api').on('gateway_hosts').column('api_id').execute();
    },
  },
  '0014_usage_analytics': {
    async up(db: Kysely<any>): Promise<void> {
      // One table for the three granularities: the recorder writes minute, hour and day rows of a
      // series together, and each instance adds to the same row (the primary key).
      let table = db.schema
        .createTable('usage_counts')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('granularity', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('api_id', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status_class', 'integer', (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addColumn('latency_sum_ms', 'double precision', (c) => c.notNull());
      // The latency histogram, one column per bucket of LATENCY_BOUNDS_MS (20 bounds, 21 buckets).
      for (let i = 0; i <= 20; i += 1) table = table.addColumn(`l${String(i).padStart(2, '0')}`, 'bigint', (c) => c.notNull());
      // Tenant, granularity and time first: every query reads one tenant's range of one granularity.
      await table
        .addPrimaryKeyConstraint('usage_counts_pk', ['tenant_id', 'granularity', 'at', 'api_id', 'key_id', 'consumer', 'operation', 'outcome', 'status_class'])
        .execute();
      // Retention deletes by granularity and time across tenants.
      await db.schema.createIndex('usage_counts_retention').on('usage_counts').columns(['granularity', 'at']).execute();
    },
  },
  '0015_consumers': {
    async up(db: Kysely<any>): Promise<void> {
      // Marks a consumer's grant key: the /keys routes refuse it, and key lists leave it out.
      await db.schema.alterTable('keys').addColumn('grant_of', 'text').execute();
      await db.schema
        .createTable('consumers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('consumers_tenant').on('consumers').columns(['tenant_id', 'id']).execute();
      await db.schema
        .createTable('consumer_members')
        .addColumn('consumer_id', 'text', (c) => c.notNull().references('consumers.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('consumer_members_pk', ['consumer_id', 'user_id'])
        .execute();
      // consumersOf: the consumers one user is a member of.
      await db.schema.createIndex('consumer_members_user').on('consumer_members').columns(['tenant_id', 'user_id']).execute();
      await db.schema
        .createTable('consumer_grants')
        .addColumn('consumer_id', 'text', (c) => c.notNull().references('consumers.id').onDelete('cascade'))
        .addColumn('api_id', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull().unique())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('max_keys', 'integer')
        .addPrimaryKeyConstraint('consumer_grants_pk', ['consumer_id', 'api_id'])
        .execute();
      await db.schema.createIndex('consumer_grants_api').on('consumer_grants').column('api_id').execute();
    },
  },
  '0016_consumer_ids_per_tenant': {
    async up(db: Kysely<any>): Promise<void> {
      // The API owner may choose a consumer's id, so ids are unique per tenant: the primary key
      // becomes (tenant_id, id) and members and grants point at the consumer through both. SQLite
      // cannot change a primary key in place, so the three tables are rebuilt on both backends
      // (one path, the same result): new tables, rows copied, old ones dropped, new ones renamed.
      // Children go before the parent, so no cascade fires with foreign keys on. PostgreSQL runs a
      // migration in a transaction; on SQLite we open one, so a failure leaves the old tables.
      const rebuild = async (trx: Kysely<any>): Promise<void> => {
        await trx.schema
          .createTable('consumers_v16')
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('consumers_tenant_id_pk', ['tenant_id', 'id'])
          .addForeignKeyConstraint('consumers_tenant_fk', ['tenant_id'], 'tenants', ['id'])
          .execute();
        await sql`insert into consumers_v16 (tenant_id, id, name, created_at, updated_at) select tenant_id, id, name, created_at, updated_at from consumers`.execute(trx);
        await trx.schema
          .createTable('consumer_members_v16')
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('consumer_id', 'text', (c) => c.notNull())
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('consumer_members_tenant_pk', ['tenant_id', 'consumer_id', 'user_id'])
          .addForeignKeyConstraint('consumer_members_consumer_fk', ['tenant_id', 'consumer_id'], 'consumers_v16', ['tenant_id', 'id'], (fk) => fk.onDelete('cascade'))
          .execute();
        // The tenant from the consumer's row: the one the new foreign key checks against.
        await sql`insert into consumer_members_v16 (tenant_id, consumer_id, user_id) select c.tenant_id, m.consumer_id, m.user_id from consumer_members m join consumers c on c.id = m.consumer_id`.execute(trx);
        await trx.schema
          .createTable('consumer_grants_v16')
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('consumer_id', 'text', (c) => c.notNull())
          .addColumn('api_id', 'text', (c) => c.notNull())
          .addColumn('key_id', 'text', (c) => c.notNull())
          .addColumn('max_keys', 'integer')
          .addPrimaryKeyConstraint('consumer_grants_tenant_pk', ['tenant_id', 'consumer_id', 'api_id'])
          .addUniqueConstraint('consumer_grants_key', ['key_id'])
          .addForeignKeyConstraint('consumer_grants_consumer_fk', ['tenant_id', 'consumer_id'], 'consumers_v16', ['tenant_id', 'id'], (fk) => fk.onDelete('cascade'))
          .execute();
        await sql`insert into consumer_grants_v16 (tenant_id, consumer_id, api_id, key_id, max_keys) select c.tenant_id, g.consumer_id, g.api_id, g.key_id, g.max_keys from consumer_grants g join consumers c on c.id = g.consumer_id`.execute(trx);
        await trx.schema.dropTable('consumer_members').execute();
        await trx.schema.dropTable('consumer_grants').execute();
        await trx.schema.dropTable('consumers').execute();
        // SQLite rewrites the children's REFERENCES to the new name; PostgreSQL tracks the table itself.
        await trx.schema.alterTable('consumers_v16').renameTo('consumers').execute();
        await trx.schema.alterTable('consumer_members_v16').renameTo('consumer_members').execute();
        await trx.schema.alterTable('consumer_grants_v16').renameTo('consumer_grants').execute();
        // consumersOf: the consumers one user is a member of. The primary keys cover the rest.
        await trx.schema.createIndex('consumer_members_user').on('consumer_members').columns(['tenant_id', 'user_id']).execute();
        await trx.schema.createIndex('consumer_grants_api').on('consumer_grants').column('api_id').execute();
      };
      if (db.isTransaction) await rebuild(db);
      else await db.transaction().execute(rebuild);
    },
  },
  '0017_operators': {
    async up(db: Kysely<any>): Promise<void> {
      // An operator is a user of the system tenant (password, sessions) plus its reach.
      await db.schema
        .createTable('operators')
        .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id'))
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('tenant', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      // Deleting a tenant disables the operators limited to its slug.
      await db.schema.createIndex('operators_tenant').on('operators').column('tenant').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
