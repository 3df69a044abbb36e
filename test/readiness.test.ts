import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { startBackend } from './support/backend.ts'
import { startGateway } from './support/gateway.ts'

/** Which APIs hold `/ready` back, by lifecycle and endpoint state; a real gateway in this process, real backends. */

async function ready(adminUrl: string): Promise<{ status: number; body: { status: string; apis?: Array<{ api: string; reason: string; endpoints: Array<{ id: string; state: string }> }> } }> {
  const response = await fetch(`${adminUrl}/ready`)
  return { status: response.status, body: (await response.json()) as never }
}

describe('/ready', () => {
  test('a PUBLISHED API with only a prototype endpoint is not ready and says what it will answer; a BLOCKED API and a draft do not count', async () => {
    const gateway = await startGateway(`apis:
  - { name: empty, context: /empty, version: v1, endpoints: { production: { type: prototype, resources: [{ uriTemplate: "/*", responses: [{ body: ok }] }] } } }
  - { name: draft, context: /draft, version: v1, lifecycle: CREATED }
  - { name: blocked, context: /blocked, version: v1, lifecycle: BLOCKED, endpoints: { production: { type: http, url: "http://127.0.0.1:9" } } }
`)
    try {
      const { status, body } = await ready(gateway.adminUrl)
      assert.equal(status, 503)
      assert.deepEqual(body.apis, [{ api: 'empty:v1', reason: 'PUBLISHED with no endpoint that serves it (a prototype endpoint serves only CREATED and PROTOTYPED APIs): every request is answered with an error', endpoints: [] }])
    } finally {
      await gateway.close()
    }
  })

  test('a group whose members are all suspended is not ready; one ready member is enough', async () => {
    const live = await startBackend((_req, res) => res.end('ok'))
    const dead = await startBackend((_req, res) => res.end('ok'))
    await dead.close()
    const gateway = await startGateway(`apis:
  - name: shop
    context: /shop
    version: v1
    endpoints:
      production: { type: failover, name: shop-group, endpoints: [{ type: http, name: first, url: "${dead.url}" }, { type: http, name: second, url: "${live.url}" }] }
`)
    try {
      assert.equal((await ready(gateway.adminUrl)).status, 200, 'nothing has failed yet')
      assert.equal((await fetch(`${gateway.url}/shop/v1/x`)).status, 200, 'failed over to the second')
      assert.equal((await ready(gateway.adminUrl)).status, 200, 'the first is suspended, the second is ready')
      await live.close()
      assert.equal((await fetch(`${gateway.url}/shop/v1/x`)).status, 503)
      const { status, body } = await ready(gateway.adminUrl)
      assert.equal(status, 503)
      assert.deepEqual(body.apis, [{ api: 'shop:v1', reason: 'no endpoint can take a request now', endpoints: [{ id: 'shop-group', state: 'unavailable' }] }])
    } finally {
      await gateway.close()
      await live.close()
    }
  })
})
