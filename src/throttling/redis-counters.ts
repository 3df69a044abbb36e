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

const CHARGE = `
for i = 1, #KEYS do
  local cost = tonumber(ARGV[i * 2])
  if redis.call('INCRBY', KEYS[i], cost) == cost then redis.call('PEXPIRE', KEYS[i], ARGV[i * 2 - 1]) end
end
return 0
`

interface ScriptedRedis extends Redis {
  porticoTake(keyCount: number, ...args: Array<string | number>): Promise<[number, number[]]>
  porticoCharge(keyCount: number, ...args: Array<string | number>): Promise<number>
}

/**
 * Counts in Redis, shared by every gateway node that names it. Commands never wait for a connection (no offline
 * queue) and never longer than `commandTimeout`: a Redis that is down or slow fails the take at once, and the
 * caller decides what that means (fail open on this node's counters, or closed).
 */
export class RedisCounters implements Counters {
  readonly #redis: ScriptedRedis
  readonly #prefix: string
  readonly #commandTimeout: number
  /** Until the first connection is made; a gateway that just started has no outage, only a connection on its way. */
  #connected: Promise<void> | undefined

  constructor(config: RedisConfig) {
    this.#prefix = config.keyPrefix
    this.#commandTimeout = config.commandTimeout
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
    this.#redis.defineCommand('porticoCharge', { lua: CHARGE })
    this.#connected = new Promise((resolve) => this.#redis.once('ready', resolve)).then(() => {
      this.#connected = undefined
    })
  }

  async take(entries: readonly Take[]): Promise<TakeAnswer> {
    if (this.#connected) await this.#firstConnection()
    const args: Array<string | number> = entries.map((entry) => this.#prefix + entry.key)
    for (const entry of entries) args.push(entry.limit, entry.ttlMs, entry.cost)
    const [refused, counts] = await this.#redis.porticoTake(entries.length, ...args)
    return { refused, counts }
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
    this.#redis.disconnect()
  }
}
