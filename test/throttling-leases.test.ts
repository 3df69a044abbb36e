import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { after, before, test } from 'node:test'
import { RedisCounters } from '../src/throttling/redis-counters.ts'
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.ts'

let redis: PrivateRedis
before(async () => {
  redis = await startPrivateRedis()
})
after(() => redis.stop())

const config = (maxLease: number) => ({ url: redis.url, commandTimeout: 1000, keyPrefix: 'lease-test:', maxLease })

/** How many scripts Redis has run (EVALSHA and EVAL): the round trips the counters made. */
async function scriptCalls(): Promise<number> {
  const { stdout } = await promisify(execFile)('redis-cli', ['-p', String(redis.port), 'INFO', 'commandstats'])
  return [...stdout.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0)
}

test('leases: two processes admit exactly the limit between them, asking Redis far less than once a request', async () => {
  const [a, b] = [new RedisCounters(config(64)), new RedisCounters(config(64))]
  try {
    const limit = 1000
    const take = (counters: RedisCounters) => counters.take([{ key: 'api|window', limit, ttlMs: 60_000, cost: 1 }])
    const before = await scriptCalls()
    let admitted = 0
    let refused = 0
    for (let i = 0; i < 1500; i++) {
      const answer = await take(i % 3 === 0 ? b : a)
      if (answer.refused < 0) admitted++
      else refused++
      assert.ok(answer.counts[0]! <= limit, `a count never passes the limit (${answer.counts[0]})`)
    }
    const calls = (await scriptCalls()) - before
    assert.equal(admitted, limit, 'never more than the limit, and not less once the load has passed it')
    assert.equal(refused, 500)
    assert.ok(calls < 400, `${calls} round trips for 1,500 requests`)
  } finally {
    a.close()
    b.close()
  }
})

test('leases: near the limit one request at a time; maxLease 1 asks for every request; a refused counter is refused here', async () => {
  const single = new RedisCounters(config(1))
  const leased = new RedisCounters(config(64))
  try {
    const entry = { key: 'api|small', limit: 10, ttlMs: 60_000, cost: 1 }
    let before = await scriptCalls()
    for (let i = 0; i < 5; i++) assert.equal((await single.take([entry])).refused, -1)
    assert.equal((await scriptCalls()) - before, 5, 'maxLease 1: one script per request')

    // Five left of ten is little: the leased counters take them one by one, never one too many.
    before = await scriptCalls()
    const results: number[] = []
    for (let i = 0; i < 7; i++) results.push((await leased.take([entry])).refused)
    assert.deepEqual(results, [-1, -1, -1, -1, -1, 0, 0])
    // The grant that took the tenth said the counter is full: the refusals are answered here, without asking.
    assert.equal((await scriptCalls()) - before, 5)
    const local = await leased.take([entry])
    assert.deepEqual([local.refused, local.local], [0, true])
  } finally {
    single.close()
    leased.close()
  }
})
