import { DatabaseSync, type StatementSync } from 'node:sqlite'
import type { SqliteDatabase, SqliteStatement } from 'kysely'

/**
 * Node's built-in `node:sqlite` behind the better-sqlite3-like interface that Kysely's SqliteDialect drives.
 * Written here because no maintained Kysely dialect for `node:sqlite` is among the project's dependencies, and the
 * embedded store must need no native module or server. The adapter only renames: `reader` is whether the statement
 * returns columns (better-sqlite3's meaning of it).
 */
export function openSqlite(file: string): SqliteDatabase {
  const database = new DatabaseSync(file)
  // Several processes (a node, `portico apply`) may share the file: wait for a lock rather than fail at once.
  database.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON')
  return {
    close: () => database.close(),
    prepare: (sql: string): SqliteStatement => statement(database.prepare(sql)),
  }
}

type Parameter = null | number | bigint | string | NodeJS.ArrayBufferView

function statement(prepared: StatementSync): SqliteStatement {
  const bind = (parameters: ReadonlyArray<unknown>) => parameters.map((value) => (typeof value === 'boolean' ? Number(value) : (value ?? null)) as Parameter)
  return {
    reader: prepared.columns().length > 0,
    all: (parameters) => prepared.all(...bind(parameters)),
    run: (parameters) => {
      const { changes, lastInsertRowid } = prepared.run(...bind(parameters))
      return { changes, lastInsertRowid }
    },
    iterate: (parameters) => prepared.iterate(...bind(parameters)) as IterableIterator<unknown>,
  }
}
