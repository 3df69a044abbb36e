import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ConfigError } from '../src/config/load.ts'
import { loadConfigFile } from '../src/config/reader.ts'

/** `count` APIs of two resources: from about 120 on, the file is large enough to be parsed in a process of its own. */
function apis(count: number, broken?: number): string {
  let yaml = 'apis:\n'
  for (let i = 0; i < count; i++) {
    yaml += `  - name: api${i}\n    context: /api${i}\n    version: v1\n    resources:\n      - { uriTemplate: "/items/{id}", methods: [GET] }\n      - { uriTemplate: /orders, methods: [${i === broken ? 'FETCH' : 'POST'}] }\n`
    yaml += `    endpoints:\n      production: { type: http, url: "http://127.0.0.1:9/svc${i}" }\n`
  }
  return yaml
}

describe('a config of thousands of APIs', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-large-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('loads with every API, as a small one does', async () => {
    const file = join(dir, 'large.yaml')
    await writeFile(file, apis(2000))
    const config = await loadConfigFile(file)
    assert.equal(config.apis.length, 2000)
    assert.equal(config.apis[1999]!.endpoints.production!.type, 'http')
    assert.deepEqual(config.apis[1999]!.resources.map((resource) => resource.uriTemplate), ['/items/{id}', '/orders'])
  })

  test('reports a problem with its file, line, column and field', async () => {
    const file = join(dir, 'broken.yaml')
    await writeFile(file, apis(2000, 1500))
    await assert.rejects(loadConfigFile(file), (error: unknown) => {
      assert.ok(error instanceof ConfigError)
      assert.equal(error.issues.length, 1)
      assert.equal(error.issues[0]!.path, 'apis[1500].resources[1].methods[0]')
      assert.equal(error.issues[0]!.line, 1 + 1500 * 8 + 6)
      return true
    })
  })
})
