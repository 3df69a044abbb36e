/**
 * Sweeps a collection of real OpenAPI documents through prototype endpoints (docs/prototype.md, "Measured on
 * real documents"): each document is imported as `portico import openapi` does, served by an in-process gateway
 * on 127.0.0.1, and a few of its operations are called with a request built from the document. Prints counts:
 * documents imported and served, operations answered with a documented status, JSON bodies valid against their
 * schema (judged by a validator of its own, not the gateway's), and 5xx answers.
 *
 *   npm run sweep:openapi -- DIR [--operations 3] [--every 1] [--limit N] [--offset 0] [--seconds 900] [--verbose]
 *
 * DIR is searched for openapi.{yaml,json} and swagger.{yaml,json} files, for instance a checkout of
 * github.com/APIs-guru/openapi-directory's APIs/ folder. Nothing leaves the machine: documents are read from
 * disk, external `$ref`s to URLs are refused, and the gateway listens on loopback.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { bundle, JSONParserErrorGroup } from '@apidevtools/json-schema-ref-parser'
import { upgrade } from '@scalar/openapi-upgrader'
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { sample } from 'openapi-sampler'
import type { JSONSchema7 } from 'json-schema'
import { request } from 'undici'
import { parseConfig } from '../../src/config/load.ts'
import { PorticoInstance } from '../../src/process/instance.ts'
import { importOpenApi } from '../../src/import/openapi.ts'
import { createLogger } from '../../src/telemetry/logger.ts'

type Json = Record<string, any>

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    operations: { type: 'string', default: '3' },
    limit: { type: 'string', default: '100000' },
    offset: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '900' },
    every: { type: 'string', default: '1' },
    batch: { type: 'string', default: '8' },
    verbose: { type: 'boolean', default: false },
  },
})
const [root] = positionals
if (!root) {
  console.error('usage: npm run sweep:openapi -- DIR [--operations 3] [--every 1] [--limit N] [--offset 0] [--seconds 900] [--batch 8] [--verbose]')
  process.exit(2)
}
const OPERATIONS = Number(values.operations)
const deadline = Date.now() + Number(values.seconds) * 1000
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head']

const counts = {
  documents: 0,
  withoutOperations: 0,
  imported: 0,
  served: 0,
  operationsCalled: 0,
  documentedStatus: 0,
  jsonBodies: 0,
  validBodies: 0,
  unjudged: 0,
  invalidRequests: 0,
  validRequests: 0,
  refusedInvalid: 0,
  refusedValid: 0,
  fiveXx: 0,
  fiveXxDocumentedOnly: 0,
  leftOutParts: 0,
  documentsWithLeftOut: 0,
  warnings: 0,
}
const failures: string[] = []
const fiveXx: string[] = []
const undocumented: string[] = []
const invalid: string[] = []
const refusals: string[] = []

async function documents(dir: string): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /^(openapi|swagger)\.(ya?ml|json)$/.test(entry.name)) found.push(join(entry.parentPath, entry.name))
  }
  return found.sort()
}

/** The document as the sweep reads it on its own: bundled, and Swagger 2.0 upgraded to OpenAPI 3.0. */
async function readDocument(file: string): Promise<Json> {
  // References to files that are not there (split Azure documents) stay unresolved, as the gateway leaves them.
  let document = (await bundle(file, { resolve: { http: false }, continueOnError: true }).catch((error: unknown) => {
    if (error instanceof JSONParserErrorGroup) return (error.files as { schema: unknown }).schema
    throw error
  })) as Json
  if (document.swagger === '2.0') document = upgrade(document as never, '3.0') as unknown as Json
  return document
}

/** The judge: the document upgraded to 3.1 and ajv's 2020 dialect, each schema compiled on its own. */
function judge(document: Json): (pointer: string) => ValidateFunction | undefined {
  const translated = String(document.openapi).startsWith('3.0') ? (upgrade(structuredClone(document) as never, '3.1') as unknown as Json) : document
  const regExp = Object.assign((pattern: string, flags: string) => {
    try {
      return new RegExp(pattern, flags)
    } catch {
      try {
        return new RegExp(pattern, '')
      } catch {
        return /(?:)/
      }
    }
  }, { code: 'new RegExp' })
  const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: false, code: { regExp }, logger: false })
  addFormats.default(ajv)
  for (const name of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password']) ajv.addFormat(name, true)
  ajv.addSchema(translated, 'doc')
  return (pointer) => {
    try {
      return ajv.compile({ $ref: `doc#${pointer.split('/').map(encodeURIComponent).join('/')}` })
    } catch {
      return undefined
    }
  }
}

function resolve(document: Json, node: any): any {
  for (let i = 0; i < 20 && node && typeof node.$ref === 'string' && node.$ref.startsWith('#'); i++) {
    node = node.$ref
      .slice(1)
      .split('/')
      .slice(1)
      .reduce((at: any, part: string) => at?.[decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~')], document)
  }
  return node
}

type Judge = (pointer: string) => ValidateFunction | undefined

const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'host', 'content-type'])

/**
 * A value for the schema at `pointer`, the first the judge accepts among samples with and without the
 * document's examples and with and without strings made from patterns; `valid` says whether one was accepted.
 */
function sampleOf(document: Json, withoutExamples: Json, pointer: string, judgeAt: Judge): { value: unknown; valid: boolean } {
  const validate = judgeAt(pointer)
  let first: unknown
  for (const [from, enablePatterns] of [[document, true], [withoutExamples, true], [withoutExamples, false], [document, false]] as const) {
    let value: unknown
    try {
      value = sample(nodeAt(from, pointer) as JSONSchema7, { skipReadOnly: true, quiet: true, enablePatterns }, from)
    } catch {
      continue
    }
    first ??= value
    if (!validate) return { value, valid: true }
    try {
      if (validate(value)) return { value, valid: true }
    } catch {
      return { value, valid: true }
    }
  }
  return { value: first, valid: false }
}

function nodeAt(document: Json, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce((at: any, part: string) => at?.[part.replaceAll('~1', '/').replaceAll('~0', '~')], document)
}

function withoutSchemaExamples(document: Json): Json {
  return JSON.parse(JSON.stringify(document, (key, value) => (key === 'example' ? undefined : value)))
}

interface Call {
  method: string
  key: string
  pointer: string
  path: string
  headers: Record<string, string>
  body: string | undefined
  operation: Json
  /** Whether every sampled parameter and the body passed the judge: if not, a refusal is the right answer. */
  valid: boolean
}

function escape(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}

/** Follows `$ref`s from the node at `pointer` and returns the pointer of the node it lands on. */
function landing(document: Json, pointer: string): string {
  let at = pointer
  for (let i = 0; i < 20; i++) {
    const node = nodeAt(document, at) as Json | undefined
    if (!node || typeof node.$ref !== 'string' || !node.$ref.startsWith('#')) return at
    at = decodeURIComponent(node.$ref.slice(1))
  }
  return at
}

/** A request for an operation: parameters and body sampled from their schemas, selectors after # or ? sent. */
function buildCall(document: Json, withoutExamples: Json, key: string, method: string, judgeAt: Judge): Call {
  const itemPointer = landing(document, `/paths/${escape(key)}`)
  const item = (nodeAt(document, itemPointer) ?? {}) as Json
  const operation = item[method] as Json
  // The operation's parameters override the path item's of the same name and location.
  const byKey = new Map<string, string>()
  for (const at of [
    ...((item.parameters ?? []) as unknown[]).map((_, index) => landing(document, `${itemPointer}/parameters/${index}`)),
    ...((operation.parameters ?? []) as unknown[]).map((_, index) => landing(document, `${itemPointer}/${method}/parameters/${index}`)),
  ]) {
    const parameter = nodeAt(document, at) as Json | undefined
    // Framing headers are the HTTP client's to write, whatever a document declares.
    if (parameter?.in === 'header' && FRAMING.has(String(parameter.name).toLowerCase())) continue
    byKey.set(`${parameter?.in} ${parameter?.name}`, at)
  }
  const parameterPointers = [...byKey.values()]
  const cut = key.search(/[?#]/)
  let path = (cut < 0 ? key : key.slice(0, cut)).replace(/\{([^}]+?)\+?\}/g, '{$1}')
  const query = new URLSearchParams()
  const headers: Record<string, string> = {}
  let valid = true
  // What follows the # or ? selects the operation: a declared parameter of that name carries it, else a
  // header (name=value, or x-*) or a query flag.
  const declared = new Map(parameterPointers.map((at) => nodeAt(document, at) as Json | undefined).filter((parameter) => parameter?.name).map((parameter) => [String(parameter!.name), parameter!]))
  const selectors = new Map<string, string | undefined>()
  if (cut >= 0) {
    for (const part of key.slice(cut + 1).split(/[&?#]/)) {
      const [name, value] = part.split('=')
      if (!name) continue
      selectors.set(name, value)
      if (declared.has(name)) continue
      if (value !== undefined || /^x-/i.test(name)) headers[name.toLowerCase()] = value ?? 'x'
      else query.append(name, '')
    }
  }
  for (const at of parameterPointers) {
    const parameter = nodeAt(document, at) as Json | undefined
    if (!parameter?.in || !parameter.name) continue
    const selector = selectors.get(String(parameter.name))
    const required = parameter.required === true || parameter.in === 'path' || selectors.has(String(parameter.name))
    if (!required) continue
    const validate = parameter.schema === undefined ? undefined : judgeAt(`${at}/schema`)
    const fits = (candidate: unknown) => {
      try {
        return !validate || (validate(candidate) as boolean)
      } catch {
        return true
      }
    }
    let value: unknown = selector !== undefined && fits(selector) ? selector : parameter.example !== undefined && fits(parameter.example) ? parameter.example : undefined
    if (value === undefined && parameter.schema !== undefined) {
      const sampled = sampleOf(document, withoutExamples, `${at}/schema`, judgeAt)
      value = sampled.value
      valid &&= sampled.valid
    }
    if (value === undefined || value === null) value = 'x'
    const text = (item: unknown) => (typeof item === 'object' ? JSON.stringify(item) : String(item))
    if (parameter.in === 'path') path = path.replace(`{${parameter.name}}`, encodeURIComponent(text(value)) || 'x')
    else if (parameter.in === 'query') {
      if (Array.isArray(value)) for (const entry of value) query.append(parameter.name, text(entry))
      else query.append(parameter.name, text(value))
    } else if (parameter.in === 'header') headers[String(parameter.name).toLowerCase()] = Array.isArray(value) ? value.map(text).join(',') : text(value)
  }
  let body: string | undefined
  const bodyPointer = landing(document, `${itemPointer}/${method}/requestBody`)
  const content = (nodeAt(document, bodyPointer) as Json | undefined)?.content as Json | undefined
  if (content && Object.keys(content).length > 0) {
    const mediaType = Object.keys(content).find((type) => /json/.test(type)) ?? Object.keys(content)[0]!
    headers['content-type'] = mediaType === '*/*' ? 'application/octet-stream' : mediaType
    const schemaPointer = `${bodyPointer}/content/${escape(mediaType)}/schema`
    const hasSchema = content[mediaType]?.schema !== undefined
    if (/json/.test(mediaType)) {
      const sampled = content[mediaType]?.example !== undefined || !hasSchema ? { value: content[mediaType]?.example ?? {}, valid: true } : sampleOf(document, withoutExamples, schemaPointer, judgeAt)
      valid &&= sampled.valid
      body = JSON.stringify(sampled.value ?? {})
    } else if (mediaType === 'application/x-www-form-urlencoded') {
      const sampled = hasSchema ? sampleOf(document, withoutExamples, schemaPointer, judgeAt) : { value: {}, valid: true }
      valid &&= sampled.valid
      const fields = sampled.value
      body = new URLSearchParams(Object.entries(typeof fields === 'object' && fields ? fields : {}).map(([name, value]): [string, string] => [name, String(value)])).toString()
    } else body = 'sample'
  }
  const search = query.size > 0 ? `?${query}` : ''
  return { method: method.toUpperCase(), key, pointer: `/paths/${escape(key)}/${method}`, path: `${path}${search}`, headers, body, operation, valid }
}

/** Up to OPERATIONS operations, spread over the document. */
function chooseOperations(document: Json): Array<{ key: string; method: string }> {
  const all: Array<{ key: string; method: string }> = []
  for (const [key, raw] of Object.entries((document.paths ?? {}) as Json)) {
    const item = resolve(document, raw)
    for (const method of METHODS) if (item?.[method] && typeof item[method] === 'object') all.push({ key, method })
  }
  if (all.length <= OPERATIONS) return all
  const step = all.length / OPERATIONS
  return Array.from({ length: OPERATIONS }, (_, index) => all[Math.floor(index * step)]!)
}

interface Prepared {
  file: string
  context: string
  base: string
  apiYaml: string
  document: Json
  leftOut: Set<string>
}

async function prepare(file: string, index: number): Promise<Prepared | undefined> {
  counts.documents++
  const context = `/d${index}`
  try {
    const { yaml, report } = await importOpenApi(file, { context })
    const api = parseConfig(yaml, 'imported.yaml').apis[0]!
    counts.imported++
    counts.leftOutParts += report.leftOut.length
    counts.warnings += report.warnings.length
    if (report.leftOut.length > 0) counts.documentsWithLeftOut++
    if (values.verbose) for (const part of report.leftOut) console.log(`  left out ${file} ${part.at}: ${part.reason}`)
    return {
      file,
      context,
      base: `${context}/${api.version}`,
      apiYaml: yaml.slice(yaml.indexOf('apis:\n') + 'apis:\n'.length),
      document: await readDocument(file),
      leftOut: new Set(report.leftOut.map((part) => part.at)),
    }
  } catch (error) {
    // A document without a single operation (Azure's shared definition files) has nothing to serve.
    const document = await readDocument(file).catch(() => undefined)
    if (document && chooseOperations(document).length === 0) counts.withoutOperations++
    else failures.push(`${file}: ${(error as Error).message.split('\n')[0]!.slice(0, 300)}`)
    return undefined
  }
}

async function sweepBatch(batch: Prepared[]): Promise<void> {
  const parsed = parseConfig(`apis:\n${batch.map((entry) => entry.apiYaml).join('')}`, 'sweep.yaml')
  const config = {
    ...parsed,
    listeners: [{ ...parsed.listeners[0]!, host: '127.0.0.1', port: 0 }],
    admin: { ...parsed.admin, enabled: false },
    accessLog: { ...parsed.accessLog, enabled: false },
  }
  const instance = await PorticoInstance.start(config, { logger: createLogger(process.env.PORTICO_LOG_LEVEL ?? 'silent'), admin: false })
  const url = instance.gateway.addresses()[0]!.url
  try {
    for (const entry of batch) {
      const validator = judge(entry.document)
      const withoutExamples = withoutSchemaExamples(entry.document)
      let answered = false
      for (const { key, method } of chooseOperations(entry.document)) {
        const call = buildCall(entry.document, withoutExamples, key, method, validator)
        if (entry.leftOut.has(call.pointer) || entry.leftOut.has(`/paths/${escape(key)}`)) continue
        counts.operationsCalled++
        if (!call.valid) counts.invalidRequests++
        const where = `${entry.file} ${call.method} ${key}`
        let status: number
        let headers: Record<string, string | string[] | undefined>
        let text: string
        try {
          const response = await request(`${url}${entry.base}${call.path}`, {
            method: call.method as 'GET',
            headers: call.headers,
            body: call.body ?? null,
            headersTimeout: 60_000,
            bodyTimeout: 60_000,
          })
          status = response.statusCode
          headers = response.headers
          text = await response.body.text()
        } catch (error) {
          fiveXx.push(`${where}: no answer: ${(error as Error).message}`)
          counts.fiveXx++
          continue
        }
        const responses = (call.operation.responses ?? {}) as Json
        const documentedKey = String(status) in responses ? String(status) : `${String(status)[0]}XX` in responses ? `${String(status)[0]}XX` : 'default' in responses ? 'default' : undefined
        const gatewayCode = /^\{"code":"([A-Z_]+)"/.exec(text)?.[1]
        if (status >= 500) {
          const onlyDocumentedStatus = gatewayCode === undefined && documentedKey !== undefined && !Object.keys(responses).some((k) => /^[1-4]/.test(k))
          if (onlyDocumentedStatus) counts.fiveXxDocumentedOnly++
          else {
            counts.fiveXx++
            fiveXx.push(`${where}: ${status} ${text.slice(0, 300)}`)
          }
        } else answered = true
        const refused = gatewayCode === 'PROTOTYPE_REQUEST_INVALID' || headers['portico-request-problems'] !== undefined
        if (refused) {
          if (call.valid) {
            counts.refusedValid++
            refusals.push(`${where}: ${status} ${String(headers['portico-request-problems'] ?? text).slice(0, 300)}`)
          } else counts.refusedInvalid++
        }
        if (!call.valid) continue
        counts.validRequests++
        if (documentedKey === undefined) {
          undocumented.push(`${where}: ${status} ${text.slice(0, 200)}`)
          continue
        }
        counts.documentedStatus++
        const contentType = String(headers['content-type'] ?? '')
        const documented = resolve(entry.document, responses[documentedKey])
        const mediaType = Object.keys(documented?.content ?? {}).find((type) => type === contentType)
        if (!mediaType || !/json/.test(mediaType) || documented.content[mediaType].schema === undefined || text === '' || gatewayCode) continue
        counts.jsonBodies++
        const responsePointer = `${call.pointer}/responses/${escape(documentedKey)}`
        const schemaPointer = `${responses[documentedKey].$ref ? responses[documentedKey].$ref.slice(1) : responsePointer}/content/${escape(mediaType)}/schema`
        const validate = validator(schemaPointer)
        if (!validate) {
          counts.unjudged++
          continue
        }
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch {
          invalid.push(`${where}: not JSON: ${text.slice(0, 100)}`)
          continue
        }
        let valid = false
        try {
          valid = validate(body) as boolean
        } catch {
          counts.unjudged++
          continue
        }
        if (valid) counts.validBodies++
        else invalid.push(`${where}: ${JSON.stringify(validate.errors?.slice(0, 2)).slice(0, 300)}`)
      }
      if (answered) counts.served++
    }
  } finally {
    await instance.close()
  }
}

// `--every N` takes every Nth document, to spread a sample over all providers of an alphabetical listing.
const files = (await documents(root))
  .filter((_, position) => position % Number(values.every) === 0)
  .slice(Number(values.offset), Number(values.offset) + Number(values.limit))
const started = Date.now()
let index = 0
let timedOut = false
while (index < files.length) {
  if (Date.now() > deadline) {
    timedOut = true
    break
  }
  const batch: Prepared[] = []
  while (batch.length < Number(values.batch) && index < files.length) {
    const prepared = await prepare(files[index]!, index)
    index++
    if (prepared) batch.push(prepared)
  }
  if (batch.length > 0) {
    try {
      await sweepBatch(batch)
    } catch (error) {
      failures.push(`batch of ${batch.map((entry) => entry.file).join(', ')}: ${(error as Error).message.split('\n')[0]}`)
    }
  }
  if (values.verbose) console.log(`${index}/${files.length} documents, ${Math.round((Date.now() - started) / 1000)} s`)
}

const percent = (part: number, whole: number) => (whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)} %`)
const list = (title: string, items: string[]) => {
  if (items.length === 0) return
  console.log(`\n${title} (${items.length}):`)
  for (const item of items.slice(0, values.verbose ? items.length : 25)) console.log(`  ${item}`)
}
list('not imported', failures)
list('5xx answers', fiveXx)
list('undocumented status', undocumented)
list('bodies that fail their schema', invalid)
list('requests the judge accepts, refused by the prototype', refusals)
console.log(`
documents swept: ${counts.documents} of ${files.length}${timedOut ? ' (time limit reached)' : ''} in ${Math.round((Date.now() - started) / 1000)} s
documents without any operation (nothing to import): ${counts.withoutOperations}
imported: ${counts.imported} (${percent(counts.imported, counts.documents - counts.withoutOperations)} of those with operations); served (an operation answered below 500): ${counts.served} (${percent(counts.served, counts.documents - counts.withoutOperations)})
parts left out: ${counts.leftOutParts} in ${counts.documentsWithLeftOut} documents; warnings: ${counts.warnings}
operations called: ${counts.operationsCalled}
  with a request the judge accepts: ${counts.validRequests}; answered with a documented status: ${counts.documentedStatus} (${percent(counts.documentedStatus, counts.validRequests)}); refused: ${counts.refusedValid}
  with a request the sweep could not make valid (sampler limits): ${counts.invalidRequests}; refused (400, 415 or 422) as they should be: ${counts.refusedInvalid}
JSON bodies judged: ${counts.jsonBodies - counts.unjudged}; valid against their schema: ${counts.validBodies} (${percent(counts.validBodies, counts.jsonBodies - counts.unjudged)}); not judged (the judge could not compile the schema): ${counts.unjudged}
5xx answers: ${counts.fiveXx} (plus ${counts.fiveXxDocumentedOnly} where the operation documents only 5xx responses)`)
