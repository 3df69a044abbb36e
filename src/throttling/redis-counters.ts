import { Redis } from 'ioredis'
import type { Counters, Take, TakeAnswer } from './counters.ts'
import type { ThrottlingConfig } from './schema.ts'

type RedisConfig = NonNullable<ThrottlingConfig['redis']>

/**
 * Checks every counter, then counts in all of them or none, in one atomic step: no other gateway's take can come
 * between the check and the count. ARGV holds limit, ttl and cost per key.
 */
const TAKE = `
local counts = {}
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  local cost = tonumber(ARGV[i * 3])
  if used + math.max(cost, 1) > tonumber(ARGV[i * 3 - 2]) then
    for j = 1, #KEYS do counts[j] = tonumber(redis.call('GET', KEYS[j]) or '0') end
    return {i - 1, counts}
  end
  counts[i] = used + cost
end
for i = 1, #KEYS do
  local cost = tonumber(ARGV[i * 3])
  if cost > 0 and redis.call('INCRBY', KEYS[i], cost) == cost then redis.call('PEXPIRE', KEYS[i], ARGV[i * 3 - 1]) end
end
return {-1, counts}
`

/**
 * TAKE with leases: as TAKE, but each counter also grants up to ARGV[i * 4] more than this request's cost, never
 * past its limit, counted at once; the process admits that many later requests without asking. Returns the
 * counts after and what was granted per counter.
 */
const LEASE = `
local counts = {}
local grants = {}
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  local limit = tonumber(ARGV[i * 4 - 3])
  local cost = tonumber(ARGV[i * 4 - 1])
  if used + math.max(cost, 1) > limit then
    for j = 1, #KEYS do counts[j] = tonumber(redis.call('GET', KEYS[j]) or '0') end
    return {i - 1, counts, grants}
  end
  grants[i] = math.min(cost + tonumber(ARGV[i * 4]), limit - used)
  counts[i] = used + grants[i]
end
for i = 1, #KEYS do
  if redis.call('INCRBY', KEYS[i], grants[i]) == grants[i] then redis.call('PEXPIRE', KEYS[i], ARGV[i * 4 - 2]) end
end
return {-1, counts, grants}
`

const CHARGE = `
for i = 1, #KEYS do
  local cost = tonumber(ARGV[i * 2])
  if redis.call('INCRBY', KEYS[i], cost) == cost then redis.call('PEXPIRE', KEYS[i], ARGV[i * 2 - 1]) end
end
return 0
`

interface ScriptedRedis extends Redis {
  porticoTake(keyCount: number, ...args: Array<string | number>): Promise<[number, number[]]>
  porticoLease(keyCount: number, ...args: Array<string | number>): Promise<[number, number[], number[]]>
  porticoCharge(keyCount: number, ...args: Array<string | number>): Promise<number>
}

/**
 * Counts in Redis, shared by every gateway node that names it. Commands never wait for a connection (no offline
 * queue) and never longer than `commandTimeout`: a Redis that is down or slow fails the take at once, and the
 * caller decides what that means (fail open on this node's counters, or closed).
 */
/** What one process holds of a request counter in Redis: requests granted and not yet admitted. */
interface Lease {
  /** Requests this process may still admit without asking. */
  left: number
  /** The counter's count in Redis when it was last asked, which counts every grant. */
  counted: number
  limit: number
  /** When the window's counter is gone: the lease with it. */
  expires: number
}

/** A lease is this share of what is left of a window. */
const LEASE_SHARE = 1 / 32
/** How often leases of windows gone by are dropped. */
const LEASE_SWEEP_MS = 10_000

export class RedisCounters implements Counters {
  readonly #redis: ScriptedRedis
  readonly #prefix: string
  readonly #commandTimeout: number
  readonly #maxLease: number
  /** Leases by counter key; a counter Redis refused is kept with `left: 0` and its full count, refused here. */
  readonly #leases = new Map<string, Lease>()
  readonly #sweeper: NodeJS.Timeout
  /** Until the first connection is made; a gateway that just started has no outage, only a connection on its way. */
  #connected: Promise<void> | undefined

  constructor(config: RedisConfig) {
    this.#prefix = config.keyPrefix
    this.#commandTimeout = config.commandTimeout
    this.#maxLease = config.maxLease
    this.#sweeper = setInterval(() => {
      const now = Date.now()
      for (const [key, lease] of this.#leases) if (lease.expires <= now) this.#leases.delete(key)
    }, LEASE_SWEEP_MS).unref()
    this.#redis = new Redis(config.url, {
      commandTimeout: config.commandTimeout,
      connectTimeout: Math.max(1000, config.commandTimeout),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Reconnect for as long as the gateway runs: every 100 ms at first, then every second.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
    }) as ScriptedRedis
    // A refused connection is reported through the takes that fail; without a listener it would crash the process.
    this.#redis.on('error', () => {})
    // defineCommand sends EVALSHA and falls back to EVAL when Redis lost its scripts (a restart).
    this.#redis.defineCommand('porticoTake', { lua: TAKE })
    this.#redis.defineCommand('porticoLease', { lua: LEASE })
    this.#redis.defineCommand('porticoCharge', { lua: CHARGE })
    this.#connected = new Promise((resolve) => this.#redis.once('ready', resolve)).then(() => {
      this.#connected = undefined
    })
  }

  take(entries: readonly Take[]): TakeAnswer | Promise<TakeAnswer> {
    // Request counters (cost 1) lease; a byte counter's cost varies per request and is always asked for.
    if (this.#maxLease > 1 && entries.every((entry) => entry.cost === 1)) return this.#fromLeases(entries) ?? this.#lease(entries)
    return this.#take(entries)
  }

  async #take(entries: readonly Take[]): Promise<TakeAnswer> {
    if (this.#connected) await this.#firstConnection()
    const args: Array<string | number> = entries.map((entry) => this.#prefix + entry.key)
    for (const entry of entries) args.push(entry.limit, entry.ttlMs, entry.cost)
    const [refused, counts] = await this.#redis.porticoTake(entries.length, ...args)
    return { refused, counts }
  }

  /**
   * The answer this process can give alone: admitted when it holds a lease on every counter (all or nothing, as
   * in Redis), refused when Redis has said a counter is used up (a window's count only grows until it ends).
   * Undefined when Redis must be asked.
   */
  #fromLeases(entries: readonly Take[]): TakeAnswer | undefined {
    const now = Date.now()
    let leases: Lease[] | undefined
    for (let i = 0; i < entries.length; i++) {
      const lease = this.#leases.get(entries[i]!.key)
      if (!lease || lease.expires <= now) return undefined
      if (lease.left === 0) {
        if (lease.counted >= lease.limit) return { refused: i, counts: entries.map((entry) => this.#leases.get(entry.key)?.counted ?? 0), local: true }
        return undefined
      }
      ;(leases ??= []).push(lease)
    }
    // The count a client is told: Redis's last count less what this process has not admitted yet.
    const counts = leases!.map((lease) => {
      lease.left--
      return lease.counted - lease.left
    })
    return { refused: -1, counts, local: true }
  }

  async #lease(entries: readonly Take[]): Promise<TakeAnswer> {
    if (this.#connected) await this.#firstConnection()
    const args: Array<string | number> = entries.map((entry) => this.#prefix + entry.key)
    for (const entry of entries) {
      // A share of what was left when last asked: the first ask learns the count; near the limit, one at a time.
      const known = this.#leases.get(entry.key)
      const extra = known ? Math.min(this.#maxLease - 1, Math.floor((entry.limit - known.counted) * LEASE_SHARE)) : 0
      args.push(entry.limit, entry.ttlMs, entry.cost, Math.max(0, extra))
    }
    const [refused, counts, grants] = await this.#redis.porticoLease(entries.length, ...args)
    const now = Date.now()
    entries.forEach((entry, i) => {
      const held = this.#leases.get(entry.key)
      const current = held && held.expires > now ? held : undefined
      const left = (current?.left ?? 0) + (refused < 0 ? grants[i]! - entry.cost : 0)
      this.#leases.set(entry.key, { left, counted: counts[i]!, limit: entry.limit, expires: current?.expires ?? now + entry.ttlMs })
    })
    return { refused, counts: refused < 0 ? entries.map((entry, i) => counts[i]! - this.#leases.get(entry.key)!.left) : counts }
  }

  charge(entries: readonly Take[]): void {
    const charged = entries.filter((entry) => entry.cost > 0)
    if (charged.length === 0) return
    const args: Array<string | number> = charged.map((entry) => this.#prefix + entry.key)
    for (const entry of charged) args.push(entry.ttlMs, entry.cost)
    // Bytes counted after the response are best effort: a Redis that is down loses them.
    this.#redis.porticoCharge(charged.length, ...args).catch(() => {})
  }

  /** Waits for the first connection, at most `commandTimeout`: past it, the take fails as in an outage. */
  async #firstConnection(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.#connected, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#commandTimeout)))])
    clearTimeout(timer)
  }

  close(): void {
    clearInterval(this.#sweeper)
    this.#leases.clear()
    this.#redis.disconnect()
  }
}
