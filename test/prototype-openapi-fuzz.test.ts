import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { parse, stringify } from 'yaml'
import { OpenApiDocument } from '../src/prototype/openapi/document.ts'
import { places, replaced } from './support/mutations.ts'

const REPLACEMENTS = [null, 42, ['x'], { x: 1 }, 'x', '', true, { $ref: '#/nope' }, { $ref: '#' }]
const REQUESTS = [
  { method: 'GET', path: '/pets', query: 'limit=2', body: '' },
  { method: 'GET', path: '/pets/7', query: '', body: '' },
  { method: 'POST', path: '/pets', query: '', body: '{"id":1,"name":"x"}' },
  { method: 'POST', path: '/pets', query: '', body: 'not json' },
  { method: 'DELETE', path: '/pets/1', query: '' , body: '' },
]

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-openapi-fuzz-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

test('every value of the petstore documents (OpenAPI 3.0, Swagger 2.0) replaced by a wrong one: a load that says why, or answers; never a crash', async () => {
  let loaded = 0
  let refused = 0
  let count = 0
  for (const source of ['test/fixtures/openapi/petstore-3.0.yaml', 'test/fixtures/openapi/petstore-swagger-2.0.yaml']) {
    const original = parse(await readFile(source, 'utf8')) as unknown
    for (const path of places(original)) {
      for (const value of REPLACEMENTS) {
        const copy = replaced(original, path, value)
        const file = join(dir, `mutated-${count++}.yaml`)
        await writeFile(file, stringify(copy))
        const where = `${source}: ${path.join('.')} = ${JSON.stringify(value)}`
        let document: OpenApiDocument
        try {
          document = await OpenApiDocument.load(file)
          loaded++
        } catch (error) {
          // A refusal names the file; a TypeError's text ("Cannot read properties of null") would be a crash.
          assert.ok(error instanceof Error && !(error instanceof TypeError), `${where}: ${(error as Error).stack}`)
          assert.ok(error.message.includes(file) || /\$ref|pointer|JSON|YAML/i.test(error.message), `${where}: ${error.message}`)
          assert.doesNotMatch(error.message, /^Cannot read properties|is not (iterable|a function)$/, where)
          refused++
          continue
        }
        for (const request of REQUESTS) {
          for (const validate of [true, false]) {
            const headers = { accept: '*/*', 'content-type': 'application/json' }
            assert.doesNotThrow(
              () => document.respond({ requestId: 'fuzz', method: request.method, path: request.path, uriVariables: {}, query: new URLSearchParams(request.query), headers, body: Buffer.from(request.body) }, validate),
              `${where}: ${request.method} ${request.path}`,
            )
          }
        }
      }
    }
  }
  assert.ok(loaded > 1000 && refused > 0, `${loaded} loaded, ${refused} refused`)
})
