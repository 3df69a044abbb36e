import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import type { Consumer, Exchange } from '../src/core/endpoint.ts'
import type { ApiFilter } from '../src/core/filter.ts'
import { createLogger } from '../src/telemetry/logger.ts'
import { throttlingFilter } from '../src/throttling/filter.ts'

/**
 * Rate limits on one gateway process: what a refused request gets (429, Retry-After, RateLimit headers, a JSON
 * code naming the policy), fixed windows that reset on the clock, conditions that choose their own limit, byte
 * limits, burst control and the WSO2 tier names. Real backend, real gateway, real HTTP.
 */

let backend: TestBackend
before(async () => {
  backend = await startBackend((_req, res, body) => {
    res.setHeader('content-type', 'text/plain')
    res.end(body.length > 0 ? `got ${body.length}` : 'ok')
  })
})
after(() => backend.close())

async function gatewayWith(policies: string, api: string): Promise<TestGateway> {
  return startGateway(`
throttling:
  policies:
${policies}
apis:
${api.replaceAll('BACKEND', backend.url)}
`)
}

/** Waits until the next second of the clock begins (plus a margin), so a test's requests fall in one window. */
async function startOfSecond(margin = 30): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + margin))
}

describe('throttling on one gateway', () => {
  test('the request past the limit gets 429 THROTTLED with Retry-After, RateLimit-Policy and RateLimit, and the window resets on the clock', async () => {
    const gateway = await gatewayWith(
      `    - { name: five-per-second, key: ip, limit: { requests: 5, per: second } }`,
      `  - { name: reset, context: /reset, version: v1, throttling: { policies: [five-per-second] }, endpoints: { production: { type: http, url: BACKEND } } }`,
    )
    try {
      await startOfSecond()
      const statuses: number[] = []
      let last: Response | undefined
      for (let i = 0; i < 7; i++) {
        last = await fetch(`${gateway.url}/reset/v1/x`)
        statuses.push(last.status)
        if (i < 6) await last.arrayBuffer()
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429])
      assert.equal(last!.headers.get('retry-after'), '1')
      assert.equal(last!.headers.get('ratelimit-policy'), '"five-per-second";q=5;w=1')
      assert.equal(last!.headers.get('ratelimit'), '"five-per-second";r=0;t=1')
      const body = (await last!.json()) as { code: string; message: string }
      assert.equal(body.code, 'THROTTLED')
      assert.match(body.message, /Policy "five-per-second" allows 5 requests per second/)

      await startOfSecond()
      const next = await fetch(`${gateway.url}/reset/v1/x`)
      assert.equal(next.status, 200, 'a new second is a new window')
      assert.equal(next.headers.get('ratelimit'), '"five-per-second";r=4;t=1', 'an admitted response says how much room is left')
      await next.arrayBuffer()
    } finally {
      await gateway.close()
    }
  })

  test('conditions pick their limits: a header, a query parameter and an IP range each select their own', async () => {
    const gateway = await gatewayWith(
      `    - name: tiered
      key: api
      limit: { requests: 2, per: minute }
      conditions:
        - { header: { name: X-Tier, equals: premium }, limit: { requests: 6, per: minute } }
        - { query: { name: plan, equals: trial }, limit: { requests: 1, per: minute } }
        - { ip: 10.0.0.0/8, limit: { requests: 100, per: minute } }`,
      `  - { name: tiered, context: /tiered, version: v1, throttling: { policies: [tiered] }, endpoints: { production: { type: http, url: BACKEND } } }`,
    )
    try {
      const admitted = async (path: string, headers: Record<string, string> = {}) => {
        let count = 0
        for (let i = 0; i < 10; i++) {
          const response = await fetch(`${gateway.url}/tiered/v1${path}`, { headers })
          await response.arrayBuffer()
          if (response.status === 200) count++
        }
        return count
      }
      assert.equal(await admitted('/a', { 'x-tier': 'premium' }), 6, 'the header condition gives 6 a minute')
      assert.equal(await admitted('/a?plan=trial'), 1, 'the query condition gives 1 a minute')
      assert.equal(await admitted('/a'), 2, 'no condition matches 127.0.0.1 without header or query: the policy gives 2')
      const refused = await fetch(`${gateway.url}/tiered/v1/a`)
      assert.equal(refused.headers.get('ratelimit-policy'), '"tiered";q=2;w=60')
      await refused.arrayBuffer()
    } finally {
      await gateway.close()
    }
  })

  test('an IP-range condition matches the client address, and API-level policies count across resources', async () => {
    const gateway = await gatewayWith(
      `    - name: local-more
      key: api
      limit: { requests: 1, per: minute }
      conditions: [{ ip: 127.0.0.0/8, limit: { requests: 3, per: minute } }]`,
      `  - name: ranged
    context: /ranged
    version: v1
    throttling: { policies: [local-more] }
    resources: [{ uriTemplate: /a }, { uriTemplate: /b }]
    endpoints: { production: { type: http, url: BACKEND } }`,
    )
    try {
      const statuses: number[] = []
      for (const path of ['/a', '/b', '/a', '/b']) {
        const response = await fetch(`${gateway.url}/ranged/v1${path}`)
        await response.arrayBuffer()
        statuses.push(response.status)
      }
      assert.deepEqual(statuses, [200, 200, 200, 429], '127.0.0.1 is in 127.0.0.0/8: 3 a minute for the whole API')
    } finally {
      await gateway.close()
    }
  })

  test('a resource-level policy counts per resource; burst control refuses a spike a longer window would allow', async () => {
    const gateway = await gatewayWith(
      `    - { name: per-resource, key: ip, limit: { requests: 2, per: hour } }
    - { name: spiky, key: ip, limit: { requests: 1000, per: day }, burst: { requests: 3, per: second } }`,
      `  - name: scoped
    context: /scoped
    version: v1
    resources:
      - { uriTemplate: /limited, throttling: { policies: [per-resource] } }
      - { uriTemplate: /burst, throttling: { policies: [spiky] } }
      - { uriTemplate: /free }
    endpoints: { production: { type: http, url: BACKEND } }`,
    )
    try {
      const statuses = async (path: string, n: number) => {
        const out: number[] = []
        for (let i = 0; i < n; i++) {
          const response = await fetch(`${gateway.url}/scoped/v1${path}`)
          await response.arrayBuffer()
          out.push(response.status)
        }
        return out
      }
      assert.deepEqual(await statuses('/limited', 3), [200, 200, 429])
      assert.deepEqual(await statuses('/free', 3), [200, 200, 200], 'a resource without the policy is not limited')
      await startOfSecond()
      const spike = await statuses('/burst', 5)
      assert.deepEqual(spike, [200, 200, 200, 429, 429], '3 a second, though the day allows 1000')
      const refused = await fetch(`${gateway.url}/scoped/v1/burst`)
      assert.equal(refused.headers.get('ratelimit-policy'), '"spiky";q=3;w=1', 'the burst limit is the one that refused')
      await refused.arrayBuffer()
    } finally {
      await gateway.close()
    }
  })

  test('a byte limit counts request and response bodies; a request that does not fit is refused', async () => {
    const gateway = await gatewayWith(
      `    - { name: bandwidth, key: ip, limit: { bytes: 1000, per: minute } }`,
      `  - { name: bytes, context: /bytes, version: v1, throttling: { policies: [bandwidth] }, endpoints: { production: { type: http, url: BACKEND } } }`,
    )
    try {
      const post = async (size: number) => {
        const response = await fetch(`${gateway.url}/bytes/v1/upload`, { method: 'POST', body: 'x'.repeat(size) })
        await response.arrayBuffer()
        return response.status
      }
      assert.equal(await post(600), 200, '600 of 1000 bytes (and the 7-byte answer)')
      assert.equal(await post(600), 429, '607 + 600 would pass 1000')
      assert.equal(await post(300), 200, '607 + 300 fits')
      assert.equal(await post(100), 429, 'the window holds 914 bytes now: 100 more do not fit')
    } finally {
      await gateway.close()
    }
  })

  test('WSO2 tier names work without a definition: Unlimited counts nothing, Bronze sends its 1000 a minute', async () => {
    const gateway = await gatewayWith(
      `    []`,
      `  - name: tiers
    context: /tiers
    version: v1
    resources: [{ uriTemplate: /bronze, throttling: { policies: [Bronze] } }, { uriTemplate: /unlimited, throttling: { policies: [Unlimited] } }]
    endpoints: { production: { type: http, url: BACKEND } }`,
    )
    try {
      const bronze = await fetch(`${gateway.url}/tiers/v1/bronze`)
      await bronze.arrayBuffer()
      assert.equal(bronze.headers.get('ratelimit-policy'), '"Bronze";q=1000;w=60')
      const unlimited = await fetch(`${gateway.url}/tiers/v1/unlimited`)
      await unlimited.arrayBuffer()
      assert.equal(unlimited.status, 200)
      assert.equal(unlimited.headers.get('ratelimit-policy'), null)
    } finally {
      await gateway.close()
    }
  })
})

describe('throttling config', () => {
  const problems = (yaml: string) => {
    try {
      parseConfig(yaml, 'limits.yaml')
    } catch (error) {
      if (error instanceof ConfigError) return error.message
      throw error
    }
    return ''
  }

  test('a policy name no one defines is refused at its path', () => {
    const message = problems(`apis: [{ name: a, context: /a, version: v1, throttling: { policies: [Platinum] }, endpoints: { production: { type: http, url: "http://127.0.0.1:1" } } }]`)
    assert.match(message, /apis\[0\]\.throttling\.policies: names policy "Platinum", which throttling\.policies does not define/)
  })

  test('a limit with both requests and bytes and a bad IP range are each named', () => {
    const message = problems(`
throttling:
  policies:
    - { name: p, limit: { requests: 1, bytes: 2, per: minute } }
    - { name: q, limit: { requests: 1, per: minute }, conditions: [{ ip: 10.0.0.0/99, limit: { requests: 2, per: minute } }] }
`)
    assert.match(message, /throttling\.policies\[0\]\.limit: must give exactly one of "requests" or "bytes"/)
    assert.match(message, /throttling\.policies\[1\]\.conditions\[0\]\.ip: must be an IP address or a CIDR range/)
  })

  test('a policy defined twice is refused at the second definition', () => {
    const message = problems(`
throttling:
  policies: [{ name: p, limit: { requests: 1, per: minute } }, { name: p, limit: { requests: 2, per: minute } }]
`)
    assert.match(message, /throttling\.policies\[1\]\.name: "p" is defined already/)
  })
})

describe('backend protection (capacity on a leaf)', () => {
  /** A backend that answers after `delayMs` and records the most requests it ever had in flight, and when each came. */
  async function slowBackend(delayMs: number) {
    const seen = { inFlight: 0, most: 0, arrivals: [] as number[] }
    const server = await startBackend((_req, res) => {
      seen.inFlight++
      seen.most = Math.max(seen.most, seen.inFlight)
      seen.arrivals.push(Date.now())
      setTimeout(() => {
        seen.inFlight--
        res.end('slow')
      }, delayMs)
    })
    return Object.assign(server, { seen })
  }

  const burst = async (url: string, n: number, headers: Record<string, string> = {}) => {
    const answers = await Promise.all(Array.from({ length: n }, () => fetch(url, { headers }).then(async (response) => ({ status: response.status, body: await response.text() }))))
    return answers
  }

  test('maxConcurrent holds against a slow backend: the rest get 503 BACKEND_AT_CAPACITY at once, or wait their turn with queueTimeout', async () => {
    const slow = await slowBackend(300)
    const gateway = await startGateway(`
apis:
  - name: capped
    context: /capped
    version: v1
    resources:
      - { uriTemplate: /now, endpoints: { production: { type: http, url: "${slow.url}", capacity: { maxConcurrent: 2 } } } }
      - { uriTemplate: /queued, endpoints: { production: { type: http, url: "${slow.url}", capacity: { maxConcurrent: 2, queueTimeout: 3s } } } }
`)
    try {
      const now = await burst(`${gateway.url}/capped/v1/now`, 6)
      assert.equal(now.filter((answer) => answer.status === 200).length, 2)
      const refused = now.filter((answer) => answer.status === 503)
      assert.equal(refused.length, 4)
      assert.equal((JSON.parse(refused[0]!.body) as { code: string }).code, 'BACKEND_AT_CAPACITY')
      assert.equal(slow.seen.most, 2)

      const started = Date.now()
      const queued = await burst(`${gateway.url}/capped/v1/queued`, 6)
      assert.deepEqual(queued.map((answer) => answer.status), [200, 200, 200, 200, 200, 200], 'all six waited for room')
      assert.equal(slow.seen.most, 2, 'never more than two at the backend')
      assert.ok(Date.now() - started >= 850, 'three rounds of two requests of 300 ms each')
      const status = (await (await fetch(`${gateway.adminUrl}/admin/endpoints`)).json()) as { endpoints: Array<{ capacity?: { refused: number } }> }
      assert.ok(status.endpoints.some((endpoint) => endpoint.capacity?.refused === 4), 'the admin view counts the refusals')
    } finally {
      await gateway.close()
      await slow.close()
    }
  })

  test('maxTps holds per second, production and sandbox each on their own leaf', async () => {
    const slow = await slowBackend(10)
    const gateway = await startGateway(`
apis:
  - name: tps
    context: /tps
    version: v1
    endpoints:
      production: { type: http, url: "${slow.url}", capacity: { maxTps: 4 } }
      sandbox: { type: http, url: "${slow.url}", capacity: { maxTps: 2 } }
`)
    try {
      await startOfSecond()
      const production = await burst(`${gateway.url}/tps/v1/x`, 10)
      const sandbox = await burst(`${gateway.url}/tps/v1/x`, 10, { 'x-portico-environment': 'sandbox' })
      assert.equal(production.filter((answer) => answer.status === 200).length, 4)
      assert.equal(sandbox.filter((answer) => answer.status === 200).length, 2)
      assert.equal(slow.seen.arrivals.length, 6, 'the backend saw only what the caps let through')
    } finally {
      await gateway.close()
      await slow.close()
    }
  })
})

describe('throttling keys by the consumer that authentication puts on the exchange', () => {
  // Consumer authentication (the filter before it in the chain) sets `exchange.consumer`; the filter is driven
  // directly with the exchanges it would see, the consumer's other fields as an OAuth2 token would fill them.
  const logger = createLogger('silent')
  const exchange = (partial?: Pick<Consumer, 'subject'> & Partial<Consumer>, address = '127.0.0.1'): Exchange => {
    const consumer: Consumer | undefined = partial && { application: undefined, keyType: 'PRODUCTION', scopes: [], scheme: 'oauth2', claims: {}, ...partial }
    return {
    requestId: 'r', method: 'GET', path: '/x', basePath: '/keyed/v1', query: '', uriVariables: {}, headers: [], body: null,
    route: { apiName: 'keyed', apiVersion: 'v1', uriTemplate: '/*' }, environment: 'production', properties: new Map(), target: undefined,
    client: { address, protocol: 'http', host: 'h' }, ...(consumer ? { consumer } : {}),
    }
  }
  const policies = (yaml: string) => parseConfig(`throttling:\n  policies:\n${yaml}`, 'keys.yaml').throttling
  const admitted = async (filter: ApiFilter, make: () => Exchange, n: number) => {
    let count = 0
    for (let i = 0; i < n; i++) if (!(await filter.request!(make(), { logger }))) count++
    return count
  }

  test('key application counts each application apart, and a request without a consumer by its address', async () => {
    const filter = throttlingFilter([{ names: ['per-app'], scope: `keyed-app-${Date.now()}` }], policies(`    - { name: per-app, key: application, limit: { requests: 2, per: minute } }`))!
    assert.equal(await admitted(filter, () => exchange({ subject: 'alice', application: 'shop' }), 3), 2)
    assert.equal(await admitted(filter, () => exchange({ subject: 'bob', application: 'shop' }), 1), 0, 'same application, same count')
    assert.equal(await admitted(filter, () => exchange({ subject: 'carol', application: 'billing' }), 3), 2)
    assert.equal(await admitted(filter, () => exchange(undefined, '10.1.2.3'), 3), 2, 'anonymous: counted by address')
  })

  test('a claim condition picks its limit, and key claim counts per claim value', async () => {
    const filter = throttlingFilter([{ names: ['by-tenant'], scope: `keyed-claim-${Date.now()}` }], policies(`    - name: by-tenant
      key: { claim: tenant }
      limit: { requests: 1, per: minute }
      conditions: [{ claim: { name: plan, equals: gold }, limit: { requests: 4, per: minute } }]`))!
    const gold = () => exchange({ subject: 's', claims: { tenant: 'acme', plan: 'gold' } })
    const free = () => exchange({ subject: 's', claims: { tenant: 'acme', plan: 'free' } })
    assert.equal(await admitted(filter, gold, 6), 4)
    assert.equal(await admitted(filter, free, 3), 1, 'the same tenant without the gold claim has the policy limit, counted apart')
    assert.equal(await admitted(filter, () => exchange({ subject: 's', claims: { tenant: 'other' } }), 2), 1)
  })
})
