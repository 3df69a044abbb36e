import pg from 'pg'
import { postgresConfig } from './connect.ts'
import { CHANNEL, type ConfigStore } from './store.ts'

/**
 * Calls `wake` whenever the store may hold a newer config version: on a PostgreSQL notification, on every
 * (re)connection of the listening client, on a commit in this process, and every `pollMs`. Notifications only wake
 * a node, which then reads the latest version itself, so a missed one is never a missed change. Returns a stop
 * function. `onState` hears whether the listening connection is up (PostgreSQL only).
 */
export function watchVersions(store: ConfigStore, wake: () => void, options: { pollMs: number; onState?: (connected: boolean) => void }): () => void {
  let stopped = false
  let client: pg.Client | undefined
  let retry: NodeJS.Timeout | undefined
  const listen = async () => {
    if (stopped) return
    // Named, so an operator (or a test) can tell the nodes' listening connections apart.
    const next = new pg.Client({ ...postgresConfig(store.location), application_name: `portico-listen:${store.location.schema ?? ''}`.slice(0, 63) })
    client = next
    const reconnect = () => {
      if (client !== next || stopped) return
      client = undefined
      options.onState?.(false)
      next.end().catch(() => {})
      retry = setTimeout(() => void listen(), 1000)
    }
    next.on('error', reconnect)
    next.on('end', reconnect)
    next.on('notification', () => wake())
    try {
      await next.connect()
      await next.query(`LISTEN ${CHANNEL}`)
      options.onState?.(true)
      wake()
    } catch {
      reconnect()
    }
  }
  if (store.engine === 'postgres') void listen()
  const local = () => wake()
  store.changes.on('version', local)
  const poll = setInterval(wake, options.pollMs)
  poll.unref()
  return () => {
    stopped = true
    clearInterval(poll)
    clearTimeout(retry)
    store.changes.off('version', local)
    client?.end().catch(() => {})
    client = undefined
  }
}
