import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Exchange } from '../src/core/endpoint.ts'
import { LeastConnections } from '../src/balancing/least-connections.ts'
import type { BalancingPolicy } from '../src/balancing/policy.ts'
import { PowerOfTwoChoices } from '../src/balancing/power-of-two.ts'
import { RoundRobin } from '../src/balancing/round-robin.ts'
import { WeightedRoundRobin } from '../src/balancing/weighted-round-robin.ts'

describe('balancing policies', () => {
  test('round robin keeps its order when a child is not a candidate', () => {
    const policy: BalancingPolicy = new RoundRobin()
    const load = [0, 0, 0]
    assert.deepEqual([0, 1, 2, 0].map(() => policy.select([0, 1, 2], load)), [0, 1, 2, 0])
    assert.equal(policy.select([0, 2], load), 2, 'after 0 comes 1; 1 is out, so 2')
    assert.equal(policy.select([0, 1, 2], load), 0)
  })

  test('smooth weighted round robin spreads 5,1,1 as nginx does, and adapts when a child drops out', () => {
    const policy: BalancingPolicy = new WeightedRoundRobin([5, 1, 1])
    const picks = Array.from({ length: 7 }, () => policy.select([0, 1, 2], []))
    assert.deepEqual(picks, [0, 0, 1, 0, 2, 0, 0])
    const counts = [0, 0, 0]
    for (let i = 0; i < 700; i++) counts[policy.select([0, 1, 2], [])]!++
    assert.deepEqual(counts, [500, 100, 100])
    const withoutFirst = Array.from({ length: 4 }, () => policy.select([1, 2], []))
    assert.deepEqual(withoutFirst.sort(), [1, 1, 2, 2])
  })

  test('least connections picks the least loaded, ties in turn', () => {
    const policy = new LeastConnections()
    assert.equal(policy.select([0, 1, 2], [3, 1, 2]), 1)
    assert.deepEqual([0, 1, 2, 3].map(() => policy.select([0, 1, 2], [2, 0, 0])), [2, 1, 2, 1])
  })

  test('power of two choices compares two different candidates', () => {
    const sequence = [0.1, 0.0, 0.5, 0.99]
    let at = 0
    const policy = new PowerOfTwoChoices(() => sequence[at++ % sequence.length]!)
    // 0.1 → candidate 0; 0.0 → the one after it, candidate 1: the less loaded of the two wins.
    assert.equal(policy.select([0, 1, 2], [5, 2, 0]), 1)
    // 0.5 → candidate 1; 0.99 → two steps on, candidate 0: on a tie the first drawn wins.
    assert.equal(policy.select([0, 1, 2], [0, 0, 0]), 1)
    const counts = new Map<number, number>()
    const random = new PowerOfTwoChoices()
    for (let i = 0; i < 3000; i++) {
      const pick = random.select([0, 1, 2], [0, 0, 9])
      counts.set(pick, (counts.get(pick) ?? 0) + 1)
    }
    assert.ok((counts.get(2) ?? 0) === 0, 'the loaded child loses every comparison it is in')
    assert.ok(Math.abs(counts.get(0)! - counts.get(1)!) < 400, `the idle ones share: ${[...counts]}`)
  })
})

describe('sticky sessions', () => {
  test('session ids invented by clients cannot grow the bindings past MAX_SESSIONS; the oldest go first', async () => {
    const { MAX_SESSIONS, StickySessions } = await import('../src/balancing/sticky-session.ts')
    const sessions = new StickySessions({ type: 'header', name: 'x-session', timeout: 3_600_000 }, ['a', 'b'])
    const exchange = (id: string) => ({ headers: ['x-session', id] }) as unknown as Exchange
    const response = { status: 200, headers: {}, body: null }
    for (let i = 0; i < MAX_SESSIONS + 5_000; i++) sessions.bind(exchange(`s${i}`), i % 2, response, 0)
    assert.ok(sessions.size <= MAX_SESSIONS, `${sessions.size} bindings`)
    assert.equal(sessions.find(exchange(`s${MAX_SESSIONS + 4_999}`), 1), (MAX_SESSIONS + 4_999) % 2, 'the newest is kept')
    assert.equal(sessions.find(exchange('s0'), 1), undefined, 'the oldest went')
  })
})
