import type { Pool } from 'undici'
import { ResponseTimeoutPool } from './response-timeout-pool.ts'

/**
 * Connection pools shared by the HTTP endpoints that reach one origin with the same settings. An undici Pool
 * costs some 20 KiB before it opens a connection (its request queue is preallocated), so a gateway of thousands
 * of APIs on a few backends keeps one per origin, not one per API. Each user takes a reference; the pool closes
 * when the last one is released, so a reload that keeps an origin keeps its connections.
 */
const shared = new Map<string, { pool: Pool; users: number }>()

/** A pool for `origin` with `options` (plain data, no functions: the key is their JSON). */
export function acquirePool(origin: string, options: Pool.Options): Pool {
  const key = `${origin}\u0000${JSON.stringify(options)}`
  let entry = shared.get(key)
  if (!entry || entry.pool.closed || entry.pool.destroyed) {
    entry = { pool: new ResponseTimeoutPool(origin, options), users: 0 }
    shared.set(key, entry)
  }
  entry.users++
  return entry.pool
}

/** Gives back a pool from `acquirePool`; the last user closes it. */
export async function releasePool(pool: Pool): Promise<void> {
  for (const [key, entry] of shared) {
    if (entry.pool !== pool) continue
    if (--entry.users > 0) return
    shared.delete(key)
    break
  }
  await pool.close()
}
