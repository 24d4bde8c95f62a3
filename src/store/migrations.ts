import type { Kysely, Migration, MigrationProvider } from 'kysely';

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
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
