import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import type { Engine } from './connect.ts'

/**
 * One set of migrations for both engines. Only the generated row ids differ (SQLite's AUTOINCREMENT, PostgreSQL's
 * identity columns); every other type is one both engines know.
 */
function migrations(engine: Engine): Record<string, Migration> {
  const serial = (db: Kysely<unknown>, table: string) =>
    db.schema.createTable(table).addColumn('id', 'integer', (column) =>
      engine === 'postgres' ? column.primaryKey().generatedByDefaultAsIdentity() : column.primaryKey().autoIncrement(),
    )
  return {
    '001-control-plane': {
      async up(db) {
        await db.schema.createTable('settings').addColumn('key', 'text', (c) => c.primaryKey()).addColumn('value', 'text', (c) => c.notNull()).execute()
        await db.schema
          .createTable('apis')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('context', 'text', (c) => c.notNull())
          .addColumn('lifecycle', 'text', (c) => c.notNull())
          .addColumn('config', 'text', (c) => c.notNull())
          .addColumn('etag', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('apis_name_version', ['name', 'version'])
          .execute()
        await serial(db, 'lifecycle_history')
          .addColumn('api_id', 'text', (c) => c.notNull().references('apis.id').onDelete('cascade'))
          .addColumn('from_state', 'text')
          .addColumn('to_state', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('revisions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('api_id', 'text', (c) => c.notNull().references('apis.id').onDelete('cascade'))
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('config', 'text', (c) => c.notNull())
          .addColumn('description', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('revisions_api_number', ['api_id', 'number'])
          .execute()
        await db.schema
          .createTable('deployments')
          .addColumn('api_id', 'text', (c) => c.notNull().references('apis.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('revision_id', 'text', (c) => c.notNull().references('revisions.id'))
          .addColumn('deployed_by', 'text', (c) => c.notNull())
          .addColumn('deployed_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('deployments_pk', ['api_id', 'environment'])
          .execute()
        await db.schema
          .createTable('config_versions')
          .addColumn('version', 'integer', (c) => c.primaryKey())
          .addColumn('document', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('node_status')
          .addColumn('node_id', 'text', (c) => c.primaryKey())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .addColumn('applied_at', 'text', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('admin_tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('scopes', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute()
        await serial(db, 'audit_log')
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('before', 'text')
          .addColumn('after', 'text')
          .execute()
        await sql`create index lifecycle_history_api on lifecycle_history (api_id, id)`.execute(db)
      },
    },
    '002-applications': {
      async up(db) {
        await db.schema
          .createTable('applications')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('throttling_policy', 'text', (c) => c.notNull())
          .addColumn('description', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('applications_owner_name', ['owner', 'name'])
          .execute()
        await db.schema
          .createTable('application_keys')
          .addColumn('application_id', 'text', (c) => c.notNull().references('applications.id').onDelete('cascade'))
          .addColumn('key_type', 'text', (c) => c.notNull())
          .addColumn('consumer_key', 'text', (c) => c.notNull().unique())
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('application_keys_pk', ['application_id', 'key_type'])
          .execute()
        await db.schema
          .createTable('subscriptions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('application_id', 'text', (c) => c.notNull().references('applications.id').onDelete('cascade'))
          .addColumn('api_id', 'text', (c) => c.notNull().references('apis.id').onDelete('cascade'))
          .addColumn('throttling_policy', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('subscriptions_application_api', ['application_id', 'api_id'])
          .execute()
      },
    },
    '003-version-outlines': {
      async up(db) {
        await db.schema.alterTable('config_versions').addColumn('outline', 'text').execute()
        // PostgreSQL compresses a version's megabytes with pglz by default, some 10 ms per version of 5,000 APIs;
        // lz4 (PostgreSQL 14 and later, when built with it) takes a fifth of that.
        if (engine !== 'postgres') return
        const lz4 = await sql<{ on: boolean }>`select 'lz4' = any(enumvals) as on from pg_settings where name = 'default_toast_compression'`.execute(db)
        if (!lz4.rows[0]?.on) return
        for (const column of ['document', 'outline']) await sql`alter table config_versions alter column ${sql.ref(column)} set compression lz4`.execute(db)
      },
    },
  }
}

/** Brings the schema up to date; each migration runs in a transaction (Kysely's Migrator does so on both engines). */
export async function migrate(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(engine) }
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest()
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')
    throw new Error(`store migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message}`)
  }
}
