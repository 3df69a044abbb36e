import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import { migrate } from './migrations.ts'
import { openSqlite } from './sqlite-database.ts'
import type { Tables } from './tables.ts'

export type Engine = 'sqlite' | 'postgres'

/** Where a store lives: `sqlite:DIR` (a data directory) or `postgres://user@host/db[?schema=NAME]`. */
export interface StoreLocation {
  engine: Engine
  /** The data directory (sqlite) or the connection string without the `schema` parameter (postgres). */
  target: string
  /** PostgreSQL only: the schema the tables live in, so several stores can share one database. */
  schema?: string
}

export function parseStoreUrl(url: string): StoreLocation {
  if (url.startsWith('sqlite:')) {
    const directory = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    if (!directory) throw new Error('--store sqlite:DIR needs a data directory, e.g. sqlite:./portico-data')
    return { engine: 'sqlite', target: resolve(directory) }
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const parsed = new URL(url)
    const schema = parsed.searchParams.get('schema') ?? undefined
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`schema "${schema}" must be lower-case letters, digits and "_"`)
    parsed.searchParams.delete('schema')
    return { engine: 'postgres', target: parsed.toString(), ...(schema ? { schema } : {}) }
  }
  throw new Error(`"${url}" is not a store: use sqlite:DIR or postgres://USER@HOST:PORT/DATABASE`)
}

/** PostgreSQL connection settings for `location`, with the search path set to its schema. */
export function postgresConfig(location: StoreLocation): pg.ClientConfig {
  return { connectionString: location.target, ...(location.schema ? { options: `-c search_path=${location.schema}` } : {}) }
}

/**
 * The store's database: SQLite opens its file at the first query; PostgreSQL connects then too, so a node can be
 * created while its database is down.
 */
export function connect(location: StoreLocation): Kysely<Tables> {
  if (location.engine === 'sqlite') {
    const file = join(location.target, 'portico.db')
    return new Kysely<Tables>({
      dialect: new SqliteDialect({
        database: async () => {
          mkdirSync(location.target, { recursive: true })
          return openSqlite(file)
        },
      }),
    })
  }
  const pool = new pg.Pool({ ...postgresConfig(location), max: 5 })
  // An idle client whose server went away reports here; the next query opens a new one.
  pool.on('error', () => {})
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) })
}

/** Creates the PostgreSQL schema when named, and brings the tables up to date. */
export async function prepare(location: StoreLocation, db: Kysely<Tables>): Promise<void> {
  if (location.engine === 'postgres' && location.schema) {
    const client = new pg.Client({ connectionString: location.target })
    await client.connect()
    try {
      await client.query(`create schema if not exists ${location.schema}`)
    } finally {
      await client.end()
    }
  }
  await migrate(db as Kysely<unknown>, location.engine)
}
