import { documentReports } from './document-reports.ts'
import { resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundle, JSONParserErrorGroup, ParserError, type FileInfo } from '@apidevtools/json-schema-ref-parser'
import { upgrade } from '@scalar/openapi-upgrader'
import type { Ajv, Options as AjvOptions } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { readLocalFile } from '../../core/local-file.ts'
import { ResourceTemplate, type UriVariables } from '../../core/uri-template.ts'
import { MAX_PROTOTYPE_FILE_BYTES } from '../config.ts'
import type { PrototypeRequest } from '../request.ts'
import { problemResponse, type PrototypeResponse } from '../response.ts'
import { DOCUMENT_ID, escapePointer, nodeAt } from './json-pointer.ts'
import { forEachSchema, lenientRegExp, translateSchemas } from './json-schema.ts'
import { OpenApiOperation } from './operation.ts'
import { describeSelectors, readPathKey, selected, type Selector } from './path-key.ts'

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const

export type JsonObject = Record<string, unknown>

/** A node of the document found by following local `$ref`s, and the JSON pointer where it lives. */
export interface Located<T = JsonObject> {
  node: T
  pointer: string
}

/** A part of the document that is not served, with where it is. */
export interface LeftOut {
  /** JSON pointer into the document. */
  at: string
  reason: string
}

/** What loading a document found: published once per load on `documentReports`, for the gateway's log. */
export interface DocumentReport {
  file: string
  operations: number
  leftOut: LeftOut[]
  warnings: string[]
}


const inFlight = new Map<string, Promise<OpenApiDocument>>()

interface Candidate {
  readonly operation: OpenApiOperation
  readonly selectors: readonly Selector[]
}

interface PathEntry {
  readonly template: ResourceTemplate
  readonly operations: Map<string, Candidate[]>
}

/**
 * An OpenAPI 3.0 or 3.1 document, read once at start: external `$ref`s bundled in, every operation indexed by
 * path template and method, and one ajv instance (JSON Schema 2020-12) per purpose with the whole translated
 * document registered, so that recursive schemas are compiled by reference instead of being expanded. A path or
 * operation that cannot be served is left out and reported; it never costs the others.
 */
export class OpenApiDocument {
  readonly document: JsonObject
  /** The same document with schema-level `example`s removed, for generating samples when an example is wrong. */
  readonly documentWithoutExamples: JsonObject
  /** Validates request bodies exactly; read-only properties are not required. */
  readonly strictValidator: Ajv
  /** Validates parameters and form fields, which arrive as text: `"7"` passes as an integer. */
  readonly coercingValidator: Ajv
  /** Validates generated responses; write-only properties are not required. */
  readonly responseValidator: Ajv
  readonly #leftOut: LeftOut[] = []
  readonly #warnings = new Set<string>()
  #reported = false
  readonly #file: string
  /** In document order. */
  readonly #paths: readonly PathEntry[]
  /** Most specific first, for matching. */
  readonly #matchOrder: readonly PathEntry[]

  private constructor(document: JsonObject, file: string) {
    this.document = document
    this.#file = file
    this.documentWithoutExamples = withoutSchemaExamples(structuredClone(document))
    const translations = translateSchemas(document, ['request', 'response'])
    const request = translations.get('request')!.document
    const response = translations.get('response')!.document
    for (const warning of translations.get('request')!.warnings) this.#warnings.add(warning)
    this.strictValidator = this.#createValidator({})
    this.coercingValidator = this.#createValidator({ coerceTypes: 'array' })
    this.responseValidator = this.#createValidator({})
    this.#leaveOutUnknownFormats([request, response], this.responseValidator.formats)
    this.strictValidator.addSchema(request, DOCUMENT_ID)
    this.coercingValidator.addSchema(request, DOCUMENT_ID)
    this.responseValidator.addSchema(response, DOCUMENT_ID)
    const byTemplate = new Map<string, PathEntry & { index: number }>()
    const pathItems = (document.paths ?? {}) as Record<string, unknown>
    for (const [key, rawItem] of Object.entries(pathItems)) {
      const at = `/paths/${escapePointer(key)}`
      let route
      let item: Located
      try {
        route = readPathKey(key)
        item = this.resolve(rawItem, at)
      } catch (error) {
        this.#leftOut.push({ at, reason: (error as Error).message })
        continue
      }
      let entry = byTemplate.get(route.template)
      if (!entry) {
        entry = { template: new ResourceTemplate(route.template), operations: new Map(), index: byTemplate.size }
        byTemplate.set(route.template, entry)
      }
      if (item.node.trace !== undefined) this.#leftOut.push({ at: `${item.pointer}/trace`, reason: 'the gateway does not route TRACE' })
      for (const method of METHODS) {
        const node = item.node[method]
        if (!node || typeof node !== 'object') continue
        const pointer = `${item.pointer}/${method}`
        const candidates = entry.operations.get(method.toUpperCase()) ?? []
        if (candidates.some((candidate) => sameSelectors(candidate.selectors, route.selectors))) {
          this.#leftOut.push({ at: pointer, reason: `${method.toUpperCase()} ${route.template} is already served by another path of the document` })
          continue
        }
        try {
          const operation = new OpenApiOperation(this, method.toUpperCase(), key, item, { node: node as JsonObject, pointer })
          // Operations with selectors are tried first; among them, those that ask for more.
          candidates.push({ operation, selectors: route.selectors })
          candidates.sort((a, b) => b.selectors.length - a.selectors.length)
          entry.operations.set(method.toUpperCase(), candidates)
        } catch (error) {
          this.#leftOut.push({ at: pointer, reason: (error as Error).message })
        }
      }
    }
    const paths = [...byTemplate.values()].filter((entry) => entry.operations.size > 0)
    this.#paths = paths
    // The most specific template wins, as for an API's resources: `/pets/mine` before `/pets/{petId}`.
    this.#matchOrder = [...paths].sort((a, b) => b.template.specificity - a.template.specificity || a.index - b.index)
  }

  /**
   * Reads, bundles (external `$ref`s from files only: no network) and indexes the document at `file`. A Swagger
   * 2.0 document is upgraded to OpenAPI 3.0 first. Publishes what it left out and its warnings once.
   */
  static load(file: string): Promise<OpenApiDocument> {
    // Endpoints built together that serve the same file (an imported API's production and sandbox) share one
    // reading of it, and its report is published once.
    const key = resolvePath(file)
    let loading = inFlight.get(key)
    if (!loading) {
      loading = OpenApiDocument.#read(file).finally(() => inFlight.delete(key))
      inFlight.set(key, loading)
    }
    return loading
  }

  static async #read(file: string): Promise<OpenApiDocument> {
    let loaded: OpenApiDocument
    try {
      let { document, unread } = await bundled(file)
      if (document.swagger === '2.0') document = upgraded(document, file)
      const version = document.openapi
      if (typeof version !== 'string' || !/^3\.[01]\./.test(version)) {
        throw new Error(`${file} is not an OpenAPI 3.0 or 3.1 (or Swagger 2.0) document`)
      }
      const dangling = withoutExternalRefs(document)
      loaded = new OpenApiDocument(document, file)
      for (const [ref, { first, count }] of dangling) {
        loaded.#warnings.add(`$ref "${ref}" could not be read${unread ? ` (${unread})` : ''}: ${count} place${count === 1 ? '' : 's'} accept any value, first at ${first}`)
      }
    } catch (error) {
      if (documentReports.hasSubscribers) documentReports.publish({ file, operations: 0, leftOut: [{ at: '', reason: (error as Error).message }], warnings: [] })
      throw error
    }
    loaded.#reported = true
    if (documentReports.hasSubscribers) documentReports.publish(loaded.report())
    return loaded
  }

  /** Every served operation's method and URI template, in document order. */
  operations(): Array<{ method: string; path: string }> {
    return this.#paths.flatMap((entry) =>
      [...entry.operations].flatMap(([method, candidates]) => candidates.map(() => ({ method, path: entry.template.template }))),
    )
  }

  /** What was left out and every warning so far. */
  report(): DocumentReport {
    return { file: this.#file, operations: this.operations().length, leftOut: [...this.#leftOut], warnings: [...this.#warnings] }
  }

  /** Notes a problem found while serving (a schema the validator cannot compile, say); reported once. */
  warn(warning: string): void {
    if (this.#warnings.has(warning)) return
    this.#warnings.add(warning)
    if (this.#reported && documentReports.hasSubscribers) documentReports.publish({ file: this.#file, operations: this.operations().length, leftOut: [], warnings: [warning] })
  }

  /**
   * Answers a request below the API from the operation it matches; undefined when no path of the document
   * matches. A method the path lacks is 501 naming those it has; operations told apart by a selector
   * (`X-Amz-Target`, `Action`) that the request does not carry are 400 naming the values.
   */
  respond(request: PrototypeRequest, validate: boolean): PrototypeResponse | undefined {
    for (const entry of this.#matchOrder) {
      const variables = entry.template.match(request.path)
      if (!variables) continue
      const candidates = entry.operations.get(request.method) ?? (request.method === 'HEAD' ? entry.operations.get('GET') : undefined)
      if (!candidates) {
        const message = `The OpenAPI document has no ${request.method} operation for ${request.path}; it has ${[...entry.operations.keys()].join(', ')}`
        return problemResponse(501, 'PROTOTYPE_NO_RESPONSE', message, request.requestId)
      }
      const chosen = candidates.find((candidate) => selected(candidate.selectors, request.query, request.headers))
      if (chosen) return this.#answer(chosen.operation, request, variables, validate)
      const names = [...new Set(candidates.flatMap((candidate) => candidate.selectors.map((selector) => selector.name)))]
      const choices = candidates.map((candidate) => describeSelectors(candidate.selectors)).join(', ')
      const problem = { in: 'header' as const, name: names.join(', '), message: `must say which operation: one of ${choices} (as headers or query parameters)` }
      const message = `${request.method} ${request.path} documents several operations; ${names.join(', ')} say${names.length === 1 ? 's' : ''} which`
      return problemResponse(400, 'PROTOTYPE_REQUEST_INVALID', message, request.requestId, { errors: [problem] })
    }
    return undefined
  }

  #answer(operation: OpenApiOperation, request: PrototypeRequest, variables: UriVariables, validate: boolean): PrototypeResponse {
    try {
      return operation.respond(request, variables, validate)
    } catch (error) {
      // Every part of an operation that can fail is checked at load or guarded where it runs; this is the last
      // line, so that a prototype's own failure is never reported as a backend's.
      this.warn(`${operation.method} ${operation.path}: ${(error as Error).message}`)
      const message = `The prototype could not answer ${operation.method} ${operation.path} from its OpenAPI document: ${(error as Error).message}`
      return problemResponse(500, 'PROTOTYPE_FAILED', message, request.requestId)
    }
  }

  /** Follows local `$ref`s from `value` (found at `pointer`) to the node they name. */
  resolve<T = JsonObject>(value: unknown, pointer: string): Located<T> {
    let node = value
    let at = pointer
    for (let hops = 0; hops < 32; hops++) {
      const ref = (node as { $ref?: unknown } | null)?.$ref
      if (typeof ref !== 'string') return { node: (node ?? {}) as T, pointer: at }
      if (!ref.startsWith('#')) throw new Error(`unsupported $ref "${ref}" at ${at}: only local references remain after bundling`)
      at = decodePointer(ref.slice(1))
      node = nodeAt(this.document, at)
      if (node === undefined) throw new Error(`$ref "${ref}" at ${pointer} names nothing in the document`)
    }
    throw new Error(`$ref chain at ${pointer} is too long or circular`)
  }

  #createValidator(options: AjvOptions): Ajv {
    // OpenAPI documents carry keywords JSON Schema does not know (xml, externalDocs, discriminator, x-*), so
    // strict mode is off. Ajv's warnings (unknown formats are found before it, below) join the document's.
    const logger = { log() {}, warn: (...args: unknown[]) => this.warn(args.map(String).join(' ')), error: (...args: unknown[]) => this.warn(args.map(String).join(' ')) }
    const common: AjvOptions = { strict: false, allErrors: true, validateFormats: true, validateSchema: false, code: { regExp: lenientRegExp }, logger, ...options }
    const ajv = new Ajv2020(common)
    addFormats.default(ajv)
    // OpenAPI's own formats: integer ranges are checked, the rest describe encodings that any string may hold.
    ajv.addFormat('int32', { type: 'number', validate: (value: number) => Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 })
    ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isInteger(value) })
    for (const name of ['float', 'double']) ajv.addFormat(name, { type: 'number', validate: () => true })
    for (const name of ['byte', 'binary', 'password']) ajv.addFormat(name, true)
    return ajv
  }

  /** One warning per unknown format (ajv would print one per schema that uses it, each time it compiles one). */
  #leaveOutUnknownFormats(documents: readonly JsonObject[], known: object): void {
    const unknown = new Map<string, { first: string; count: number }>()
    documents.forEach((document, index) =>
      forEachSchema(document, (schema, pointer) => {
        const format = schema.format
        if (typeof format !== 'string' || format in known) return
        delete schema.format
        if (index > 0) return
        const seen = unknown.get(format)
        if (seen) seen.count++
        else unknown.set(format, { first: pointer, count: 1 })
      }),
    )
    for (const [format, { first, count }] of unknown) {
      this.#warnings.add(`unknown format "${format}" is not checked (${count} schema${count === 1 ? '' : 's'}, first at ${first})`)
    }
  }
}

/**
 * The document with its external `$ref`s to files bundled in. A reference that cannot be read (a missing file,
 * a URL: nothing is fetched) does not cost the document: it stays, and `withoutExternalRefs` takes it out.
 */
async function bundled(file: string): Promise<{ document: JsonObject; unread: string | undefined }> {
  try {
    const document: unknown = await bundle(file, { resolve: { http: false, file: { read: readReferencedFile } }, continueOnError: true })
    // A file that parses to something else than a mapping (an XML or GraphQL document read as YAML text, a list).
    if (document === null || typeof document !== 'object' || Array.isArray(document)) throw new Error(`${file} is not an OpenAPI 3.0 or 3.1 (or Swagger 2.0) document`)
    return { document: document as JsonObject, unread: undefined }
  } catch (error) {
    const schema = error instanceof JSONParserErrorGroup ? (error.files as { schema?: unknown }).schema : undefined
    if (schema === null || typeof schema !== 'object') {
      // The document itself does not parse (a GraphQL schema, a broken YAML file): say so, in one line.
      const unparsable = error instanceof ParserError ? error : error instanceof JSONParserErrorGroup ? error.errors.find((problem) => problem instanceof ParserError) : undefined
      if (unparsable) throw new Error(`${file} is not YAML or JSON: ${unparsable.message.split('\n')[0]}`)
      throw error
    }
    const reasons = (error as JSONParserErrorGroup).errors.map((problem) => problem.message)
    return { document: schema as JsonObject, unread: `${reasons[0]}${reasons.length > 1 ? `, and ${reasons.length - 1} more` : ''}` }
  }
}

/**
 * A Swagger 2.0 document as OpenAPI 3.0. The upgrader trusts the document's shape: a `null` operation or a
 * parameter list that is not a list makes it throw a TypeError, which says nothing to the document's author.
 */
function upgraded(document: JsonObject, file: string): JsonObject {
  try {
    return upgrade(document, '3.0') as unknown as JsonObject
  } catch (error) {
    throw new Error(`${file} is a Swagger 2.0 document with a part that is not of the shape Swagger 2.0 gives it (the upgrade to OpenAPI 3.0 stopped: ${(error as Error).message}); check it against the Swagger 2.0 schema`)
  }
}

/** Removes every `$ref` that bundling left pointing outside the document; by reference, where it was first found. */
function withoutExternalRefs(document: JsonObject): Map<string, { first: string; count: number }> {
  const dangling = new Map<string, { first: string; count: number }>()
  const visit = (node: unknown, pointer: string, depth: number): void => {
    if (node === null || typeof node !== 'object' || depth > 512) return
    if (Array.isArray(node)) {
      node.forEach((item, index) => visit(item, `${pointer}/${index}`, depth + 1))
      return
    }
    const object = node as JsonObject
    if (typeof object.$ref === 'string' && !object.$ref.startsWith('#')) {
      const seen = dangling.get(object.$ref)
      if (seen) seen.count++
      else dangling.set(object.$ref, { first: pointer, count: 1 })
      delete object.$ref
    }
    for (const [key, value] of Object.entries(object)) visit(value, `${pointer}/${escapePointer(key)}`, depth + 1)
  }
  visit(document, '', 0)
  return dangling
}

function sameSelectors(a: readonly Selector[], b: readonly Selector[]): boolean {
  return a.length === b.length && a.every((selector, index) => selector.name === b[index]!.name && selector.value === b[index]!.value)
}

function decodePointer(pointer: string): string {
  try {
    return decodeURIComponent(pointer)
  } catch {
    return pointer
  }
}

/**
 * Removes `example` (3.0) and `examples` (3.1) from schemas, leaving media-type and parameter examples alone:
 * a schema's example is a hint that authors get wrong often enough (a number for a string property) that a
 * response built from it can break the document's own schema.
 */
function withoutSchemaExamples(document: JsonObject): JsonObject {
  forEachSchema(document, (schema) => {
    delete schema.example
    if (Array.isArray(schema.examples)) delete schema.examples
  })
  return document
}

/** The document and every file its `$ref`s name: regular files of a bounded size only, as every config file. */
function readReferencedFile(file: FileInfo): Promise<Buffer> {
  return readLocalFile(file.url.startsWith('file:') ? fileURLToPath(file.url) : decodeURI(file.url), MAX_PROTOTYPE_FILE_BYTES)
}
