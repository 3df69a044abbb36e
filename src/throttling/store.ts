import type { Logger } from 'pino'
import { nodeCounters, type Counters, type Take, type TakeAnswer } from './counters.ts'
import { countStoreError, setStoreUp } from './metrics.ts'
import type { RedisCounters } from './redis-counters.ts'
import type { ThrottlingConfig } from './schema.ts'

/** Where one config's counts go: this node's counters, or Redis with this node's counters as the fallback. */
export interface CountStore {
  /** The answer (at once from this process's counters), or undefined when Redis failed and the config fails closed. */
  take(entries: readonly Take[], logger: Logger): TakeAnswer | undefined | Promise<TakeAnswer | undefined>
  charge(entries: readonly Take[]): void
}

/**
 * One Redis connection per Redis config for the life of the process: a reload that keeps the config keeps the
 * connection, and an outage is one outage for every API that counts there.
 */
const redisStores = new Map<string, RedisStore>()

export function countStore(throttling: ThrottlingConfig): CountStore {
  if (!throttling.redis) return new NodeStore(nodeCounters())
  const id = JSON.stringify(throttling.redis)
  let redis = redisStores.get(id)
  if (!redis) redisStores.set(id, (redis = new RedisStore(throttling.redis)))
  return { take: (entries, logger) => redis.take(entries, throttling.onStoreFailure, logger), charge: (entries) => redis.charge(entries) }
}

/** Closes every Redis connection (at shutdown). */
export function closeCountStores(): void {
  for (const store of redisStores.values()) store.close()
  redisStores.clear()
}

class NodeStore implements CountStore {
  readonly #counters: Counters
  constructor(counters: Counters) {
    this.#counters = counters
  }
  take(entries: readonly Take[]): TakeAnswer | Promise<TakeAnswer> {
    return this.#counters.take(entries)
  }
  charge(entries: readonly Take[]): void {
    this.#counters.charge(entries)
  }
}

/** Redis, and what this node does while it is unreachable: logged once when an outage starts and once when it ends. */
class RedisStore {
  // ioredis is imported when a config first counts in Redis, not at every start: until then takes wait for it.
  #redis: RedisCounters | undefined
  readonly #loading: Promise<RedisCounters>
  readonly #where: string
  #down = false

  constructor(config: NonNullable<ThrottlingConfig['redis']>) {
    this.#loading = import('./redis-counters.ts').then(({ RedisCounters }) => (this.#redis = new RedisCounters(config)))
    // A client that could not be made fails each take (an outage, handled there), never the process.
    this.#loading.catch(() => {})
    // The address only: a URL may carry a password.
    this.#where = config.url.replace(/\/\/[^@/]*@/, '//')
    setStoreUp(true)
  }

  async take(entries: readonly Take[], onFailure: 'open' | 'closed', logger: Logger): Promise<TakeAnswer | undefined> {
    try {
      const answer = await (this.#redis ?? (await this.#loading)).take(entries)
      // An answer from a lease says nothing of Redis: only one Redis gave ends an outage.
      if (this.#down && !answer.local) {
        this.#down = false
        setStoreUp(true)
        logger.info(`rate-limit store ${this.#where} answers again: counting in Redis`)
      }
      return answer
    } catch (error) {
      countStoreError()
      if (!this.#down) {
        this.#down = true
        setStoreUp(false)
        logger.error(
          { err: { message: (error as Error).message } },
          `rate-limit store ${this.#where} unreachable: ${onFailure === 'open' ? "counting on this node's own counters" : 'refusing requests (onStoreFailure: closed)'} until it answers`,
        )
      }
      return onFailure === 'open' ? nodeCounters().take(entries) : undefined
    }
  }

  charge(entries: readonly Take[]): void {
    if (this.#down) nodeCounters().charge(entries)
    else if (this.#redis) this.#redis.charge(entries)
    else this.#loading.then((redis) => redis.charge(entries), () => {})
  }

  close(): void {
    this.#loading.then((redis) => redis.close(), () => {})
  }
}
