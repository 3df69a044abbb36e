import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

/** The PostgreSQL every test machine runs (CI starts one); override with PORTICO_TEST_POSTGRES. */
export const POSTGRES = process.env.PORTICO_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestStore {
  engine: 'sqlite' | 'postgres'
  url: string
  /** Removes the data directory or drops the schema. */
  drop(): Promise<void>
}

/** A fresh, empty store location on `engine`: a temporary data directory, or a schema of its own in PostgreSQL. */
export function freshStore(engine: 'sqlite' | 'postgres'): TestStore {
  if (engine === 'sqlite') {
    const directory = mkdtempSync(join(tmpdir(), 'portico-store-'))
    return { engine, url: `sqlite:${directory}`, drop: async () => rmSync(directory, { recursive: true, force: true }) }
  }
  const schema = `portico_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  return {
    engine,
    url: `${POSTGRES}?schema=${schema}`,
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES })
      await client.connect()
      try {
        await client.query(`drop schema if exists ${schema} cascade`)
      } finally {
        await client.end()
      }
    },
  }
}

export const ENGINES = ['sqlite', 'postgres'] as const
