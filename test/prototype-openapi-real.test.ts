import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { bundle } from '@apidevtools/json-schema-ref-parser'
import { upgrade } from '@scalar/openapi-upgrader'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { request } from 'undici'
import { importOpenApi } from '../src/import/openapi.ts'
import { freePort, startCli } from './support/cli.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

type Json = Record<string, any>

/** Real public documents, one or more per class of problem they raised (origins and licences: fixtures README). */
const DOCUMENTS = {
  /** `{ allOf: [$ref], nullable: true }` on a recursive schema, in a request and a response body. */
  recursive: { file: 'test/fixtures/openapi/drf-recursive-3.0.yaml', context: '/recursive' },
  /** `nullable: true` without `type`, beside a `oneOf` of enums. */
  postprocessing: { file: 'test/fixtures/openapi/drf-postprocessing-3.0.yaml', context: '/postprocessing' },
  /** Swagger 2.0 `{ $ref, x-nullable: true }` (upgraded to 3.0's `{ $ref, nullable: true }`); `format: datetime`. */
  clever: { file: 'test/fixtures/openapi/clever-data-1.2.0-swagger-2.0.yaml', context: '/clever' },
  /** `discriminator` over `oneOf` arms built with `allOf`; `readOnly` properties that are `required`. */
  polymorphic: { file: 'test/fixtures/openapi/drf-polymorphic-3.0.yaml', context: '/polymorphic' },
  /** Every path is `/#X-Amz-Target=Transcribe.<Operation>`. */
  transcribe: { file: 'test/fixtures/openapi/aws-transcribe-2017-10-26.yaml', context: '/transcribe' },
  /** Ordinary paths beside `/tags#resourceArn` and `/tags#resourceArn&tagKeys`. */
  iotevents: { file: 'test/fixtures/openapi/aws-iotevents-2018-07-27.yaml', context: '/iotevents' },
  /** Patterns with `\-` and `\~`, which ECMA-262 refuses in Unicode mode. */
  mediastore: { file: 'test/fixtures/openapi/aws-mediastore-data-2017-09-01.yaml', context: '/mediastore' },
  /** A `default` response with an `Error` schema, which refusals must then fit. */
  petstore: { file: 'test/fixtures/openapi/petstore-3.0.yaml', context: '/petstore' },
} as const

type Name = keyof typeof DOCUMENTS

/**
 * The judge of response bodies, apart from the gateway's own reading: the document as JSON Schema tooling reads
 * it (upgraded to 3.1 by the same upgrader, then ajv's 2020 dialect), schemas compiled one by one, without the
 * gateway's read-only, discriminator or pattern handling.
 */
async function judge(file: string): Promise<{ document: Json; validate(pointer: string, value: unknown): { ok: boolean; errors: unknown } }> {
  let document = (await bundle(file)) as Json
  if (document.swagger === '2.0') document = upgrade(document as never, '3.0') as unknown as Json
  const translated = upgrade(structuredClone(document) as never, '3.1') as unknown as Json
  const regExp = Object.assign((pattern: string, flags: string) => {
    try {
      return new RegExp(pattern, flags)
    } catch {
      return new RegExp(pattern)
    }
  }, { code: 'new RegExp' })
  const ajv = new Ajv2020({ strict: false, validateSchema: false, logger: false, code: { regExp } })
  addFormats.default(ajv)
  for (const name of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password', 'datetime']) ajv.addFormat(name, true)
  ajv.addSchema(translated, 'doc')
  return {
    document,
    validate(pointer, value) {
      const check = ajv.compile({ $ref: `doc#${pointer.split('/').map(encodeURIComponent).join('/')}` })
      return { ok: check(value) as boolean, errors: check.errors }
    },
  }
}

describe('prototype endpoints on real OpenAPI documents', () => {
  let gateway: TestGateway
  const bases = new Map<Name, string>()
  const reports = new Map<Name, Awaited<ReturnType<typeof importOpenApi>>['report']>()

  before(async () => {
    const apis: string[] = []
    for (const [name, { file, context }] of Object.entries(DOCUMENTS) as Array<[Name, (typeof DOCUMENTS)[Name]]>) {
      const { yaml, report } = await importOpenApi(file, { context })
      reports.set(name, report)
      const version = /^ {4}version: (.+)$/m.exec(yaml)![1]!.replace(/^'|'$/g, '')
      bases.set(name, `${context}/${version}`)
      apis.push(yaml.slice(yaml.indexOf('apis:\n') + 'apis:\n'.length))
    }
    gateway = await startGateway(`apis:\n${apis.join('')}`)
  })

  after(async () => {
    await gateway.close()
  })

  async function call(name: Name, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
    const response = await request(`${gateway.url}${bases.get(name)}${path}`, {
      method: method as 'GET',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body ?? null,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    })
    const text = await response.body.text()
    return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as Json }
  }

  test('OpenAPI 3.0 nullable idioms load and validate: allOf+nullable, nullable without type, $ref+nullable', async () => {
    for (const name of ['recursive', 'postprocessing', 'clever'] as const) {
      assert.deepEqual(reports.get(name)!.leftOut, [], `${name}: nothing is left out`)
    }
    // Request bodies: `next` is a nullable Link, required.
    const recursive = await judge(DOCUMENTS.recursive.file)
    const linked = await call('recursive', 'POST', '/link', {}, JSON.stringify({ name: 'a', next: { name: 'b', next: null } }))
    assert.equal(linked.status, 200, linked.text)
    const link = recursive.validate('/components/schemas/Link', linked.json())
    assert.ok(link.ok, `${linked.text}: ${JSON.stringify(link.errors)}`)
    assert.equal((await call('recursive', 'POST', '/link', {}, '{"name":"a","next":null}')).status, 200)
    const wrong = await call('recursive', 'POST', '/link', {}, '{"name":"a","next":"b"}')
    assert.equal(wrong.status, 422)
    assert.ok(wrong.json().errors.some((error: Json) => error.name === '/next'), wrong.text)

    // A response whose schema has `nullable` without `type` (used to be 502 BACKEND_BAD_RESPONSE).
    const selection = await call('postprocessing', 'GET', '/a/selection/')
    assert.equal(selection.status, 200, selection.text)
    // JSON Schema tooling cannot compile this schema at all, so the check is written out: B.language is one of
    // LanguageEnum, BlankEnum or NullEnum, or null.
    assert.deepEqual(Object.keys(selection.json()), ['language'])
    assert.ok(['en', 'es', 'ru', 'cn', '', null].includes(selection.json().language), selection.text)

    // Swagger 2.0 `x-nullable` beside `$ref`: DistrictAdmin.name.
    const admin = await call('clever', 'GET', '/district_admins/42')
    assert.equal(admin.status, 200, admin.text)
    const clever = await judge(DOCUMENTS.clever.file)
    const checked = clever.validate('/components/schemas/DistrictAdminResponse', admin.json())
    assert.ok(checked.ok, `${admin.text}: ${JSON.stringify(checked.errors)}`)
  })

  test('a discriminator picks its oneOf arm; read-only properties are not required in requests', async () => {
    const persons = await call('polymorphic', 'GET', '/persons/')
    assert.equal(persons.status, 200, persons.text)
    // `id` and `board` are read-only and required: a request need not send them. And with `oneOf` read plainly,
    // this body would match both LegalPersonTyped and NomadicPersonTyped (whose only other field is read-only).
    const legal = { resourcetype: 'legal', company_name: 'Acme', address: 'Main St 1' }
    const created = await call('polymorphic', 'POST', '/persons/', {}, JSON.stringify(legal))
    assert.equal(created.status, 201, created.text)
    const nomadic = await call('polymorphic', 'POST', '/persons/', {}, JSON.stringify({ resourcetype: 'nomadic' }))
    assert.equal(nomadic.status, 201, nomadic.text)
    // The discriminator says "legal": the legal arm must hold, although the nomadic one would.
    const wrongArm = await call('polymorphic', 'POST', '/persons/', {}, JSON.stringify({ resourcetype: 'legal', address: 'Main St 1' }))
    assert.equal(wrongArm.status, 422, wrongArm.text)
    assert.ok(wrongArm.json().errors.some((error: Json) => error.name === '/company_name'), wrongArm.text)
  })

  test('paths with # serve every operation: selectors from the header, ordinary paths beside them', async () => {
    const transcribe = reports.get('transcribe')!
    assert.deepEqual(transcribe.leftOut, [])
    assert.equal(transcribe.operations, 23)
    const { validate } = await judge(DOCUMENTS.transcribe.file)
    const list = await call('transcribe', 'POST', '/', { 'x-amz-target': 'Transcribe.ListVocabularies' }, '{}')
    assert.equal(list.status, 200, list.text)
    const checked = validate('/components/schemas/ListVocabulariesResponse', list.json())
    assert.ok(checked.ok, `${list.text}: ${JSON.stringify(checked.errors)}`)
    const other = await call('transcribe', 'POST', '/', { 'x-amz-target': 'Transcribe.GetVocabulary' }, '{"VocabularyName":"words"}')
    assert.equal(other.status, 200, other.text)
    assert.ok(validate('/components/schemas/GetVocabularyResponse', other.json()).ok, other.text)
    const unnamed = await call('transcribe', 'POST', '/', {}, '{}')
    assert.equal(unnamed.status, 400)
    assert.equal(unnamed.json().code, 'PROTOTYPE_REQUEST_INVALID')
    assert.match(unnamed.json().errors[0].message, /one of .*X-Amz-Target=Transcribe\.ListVocabularies/)

    const iotevents = reports.get('iotevents')!
    assert.deepEqual(iotevents.leftOut, [])
    const tags = await call('iotevents', 'GET', '/tags?resourceArn=arn:aws:iotevents:eu-west-1:1:input/a')
    assert.equal(tags.status, 200, tags.text)
    const models = await call('iotevents', 'GET', '/detector-models')
    assert.equal(models.status, 200, models.text)
  })

  test('a path no request can reach is left out with its location, a missing referenced file is a warning; the rest is served', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portico-openapi-'))
    try {
      // The petstore with one path added whose variable the router cannot take.
      const file = join(dir, 'odd.yaml')
      const petstore = (await bundle(DOCUMENTS.petstore.file)) as Json
      petstore.paths['/pets/{pet id}/toys'] = { get: { responses: { 200: { description: 'toys' } } } }
      // And a reference to a file that is not there (as in many split Azure documents of the same directory).
      petstore.paths['/owners'] = { get: { responses: { 200: { description: 'owners', content: { 'application/json': { schema: { $ref: './owners.json#/Owners' } } } } } } }
      await writeFile(file, JSON.stringify(petstore))
      const { yaml, report } = await importOpenApi(file, { context: '/odd' })
      assert.deepEqual(report.leftOut.map((part) => part.at), ['/paths/~1pets~1{pet id}~1toys'])
      assert.match(report.leftOut[0]!.reason, /white space/)
      assert.equal(report.warnings.length, 1)
      assert.match(report.warnings[0]!, /^\$ref "\.\/owners\.json#\/Owners" could not be read \(.*ENOENT.*\): 1 place accept any value, first at \/paths\/~1owners\/get\/responses\/200\/content\/application~1json\/schema$/)
      assert.match(yaml, /# Not served \(1\):\n# {3}\/paths\/~1pets~1\{pet id\}~1toys: /)
      const odd = await startGateway(yaml)
      try {
        for (const path of ['/pets/7', '/owners']) {
          const response = await request(`${odd.url}/odd/1.0.0${path}`)
          assert.equal(response.statusCode, 200, path)
          await response.body.dump()
        }
      } finally {
        await odd.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('patterns that are invalid in Unicode mode are compiled without it and still checked', async () => {
    assert.deepEqual(reports.get('mediastore')!.leftOut, [])
    const ok = await call('mediastore', 'GET', '/movies.avi', { range: 'bytes=0-99' })
    assert.equal(ok.status, 200, ok.text)
    const bad = await call('mediastore', 'GET', '/movies.avi', { range: 'octets=0-99' })
    assert.equal(bad.status, 400, bad.text)
    assert.deepEqual(bad.json().errors.map((error: Json) => error.name), ['range'])
  })

  test('a refusal fits the error schema the operation documents, and carries the problems in a header', async () => {
    const { document, validate } = await judge(DOCUMENTS.petstore.file)
    assert.ok(document.paths['/pets'].get.responses.default, 'the operation documents a default (error) response')
    const refused = await call('petstore', 'GET', '/pets?limit=lots')
    assert.equal(refused.status, 400)
    assert.equal(refused.headers['content-type'], 'application/json')
    const fits = validate('/components/schemas/Error', refused.json())
    assert.ok(fits.ok, `${refused.text}: ${JSON.stringify(fits.errors)}`)
    const problems = JSON.parse(String(refused.headers['portico-request-problems']))
    assert.deepEqual(problems, [{ in: 'query', name: 'limit', message: 'must be integer' }])
    // An operation without a documented refusal keeps the gateway's own answer.
    const own = await call('clever', 'GET', '/contacts?limit=many')
    assert.equal(own.status, 400, own.text)
    assert.equal(own.json().code, 'PROTOTYPE_REQUEST_INVALID')
  })
})

describe('prototype document reports in the gateway log', () => {
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-openapi-log-'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('unknown formats are one structured warning per document, and the log has only JSON lines', async () => {
    // The config names the document by its absolute path: paths in a config are relative to the config's directory.
    const { yaml } = await importOpenApi(resolve(DOCUMENTS.clever.file), { context: '/clever' })
    const port = await freePort()
    const file = join(dir, 'clever.yaml')
    await writeFile(file, `listeners: [{ name: main, host: 127.0.0.1, port: ${port} }]\nadmin: { enabled: false }\n${yaml}`)
    const cli = startCli(['start', '--config', file, '--workers', '1'])
    try {
      await cli.waitForLog('OpenAPI document')
      const base = `http://127.0.0.1:${port}/clever/1.2.0`
      for (const path of ['/district_admins/1', '/districts/1', '/students/1', '/sections/1']) {
        const response = await request(`${base}${path}`)
        assert.equal(response.statusCode, 200, path)
        await response.body.dump()
      }
      const lines = cli.log().trim().split('\n')
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `a log line that is not JSON: ${line}`)
      const reports = lines.map((line) => JSON.parse(line) as Json).filter((entry) => entry.openapi)
      assert.equal(reports.length, 1, 'production and sandbox share one reading of the document: one report')
      const [report] = reports
      assert.equal(report!.level, 40)
      assert.equal(report!.openapi.file, resolve(DOCUMENTS.clever.file))
      assert.equal(report!.openapi.operations, 44)
      assert.deepEqual(
        report!.openapi.warnings.filter((warning: string) => warning.startsWith('unknown format')),
        [report!.openapi.warnings.find((warning: string) => /^unknown format "datetime" is not checked \(\d+ schemas, first at \/components\/schemas\//.test(warning))],
      )
    } finally {
      await cli.stop()
    }
  })
})
