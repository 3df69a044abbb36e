import { fileURLToPath } from 'node:url'
import { bundle, type FileInfo } from '@apidevtools/json-schema-ref-parser'
import { upgrade } from '@scalar/openapi-upgrader'
import { Ajv, type Options as AjvOptions } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { readLocalFile } from '../../core/local-file.ts'
import { ResourceTemplate, type UriVariables } from '../../core/uri-template.ts'
import { MAX_PROTOTYPE_FILE_BYTES } from '../config.ts'
import { DOCUMENT_ID, escapePointer, nodeAt } from './json-pointer.ts'
import { OpenApiOperation } from './operation.ts'

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const

export type JsonObject = Record<string, unknown>

/** A node of the document found by following local `$ref`s, and the JSON pointer where it lives. */
export interface Located<T = JsonObject> {
  node: T
  pointer: string
}

interface PathEntry {
  readonly template: ResourceTemplate
  readonly operations: ReadonlyMap<string, OpenApiOperation>
}

/**
 * An OpenAPI 3.0 or 3.1 document, read once at start: external `$ref`s bundled in, every operation indexed by
 * path template and method, and one ajv instance per purpose with the whole document registered, so that
 * recursive schemas are compiled by reference instead of being expanded.
 */
export class OpenApiDocument {
  readonly document: JsonObject
  /** The same document with schema-level `example`s removed, for generating samples when an example is wrong. */
  readonly documentWithoutExamples: JsonObject
  /** Validates bodies and responses exactly. */
  readonly strictValidator: Ajv
  /** Validates parameters and form fields, which arrive as text: `"7"` passes as an integer. */
  readonly coercingValidator: Ajv
  /** In document order. */
  readonly #paths: readonly PathEntry[]
  /** Most specific first, for matching. */
  readonly #matchOrder: readonly PathEntry[]

  private constructor(document: JsonObject) {
    this.document = document
    this.documentWithoutExamples = withoutSchemaExamples(structuredClone(document)) as JsonObject
    const version = String(document.openapi).startsWith('3.1') ? '3.1' : '3.0'
    this.strictValidator = createValidator(version, document, {})
    this.coercingValidator = createValidator(version, document, { coerceTypes: 'array' })
    const paths: Array<PathEntry & { index: number }> = []
    const pathItems = (document.paths ?? {}) as Record<string, unknown>
    for (const [path, rawItem] of Object.entries(pathItems)) {
      const item = this.resolve(rawItem, `/paths/${escapePointer(path)}`)
      const operations = new Map<string, OpenApiOperation>()
      for (const method of METHODS) {
        const operation = item.node[method]
        if (operation && typeof operation === 'object') {
          operations.set(method.toUpperCase(), new OpenApiOperation(this, method.toUpperCase(), path, item, { node: operation as JsonObject, pointer: `${item.pointer}/${method}` }))
        }
      }
      paths.push({ template: new ResourceTemplate(path), operations, index: paths.length })
    }
    this.#paths = paths
    // The most specific template wins, as for an API's resources: `/pets/mine` before `/pets/{petId}`.
    this.#matchOrder = [...paths].sort((a, b) => b.template.specificity - a.template.specificity || a.index - b.index)
  }

  /**
   * Reads, bundles (external `$ref`s from files only: no network) and indexes the document at `file`. A Swagger
   * 2.0 document is upgraded to OpenAPI 3.0 first.
   */
  static async load(file: string): Promise<OpenApiDocument> {
    let document = (await bundle(file, { resolve: { http: false, file: { read: readReferencedFile } } })) as JsonObject
    if (document.swagger === '2.0') document = upgrade(document, '3.0') as unknown as JsonObject
    const version = document.openapi
    if (typeof version !== 'string' || !/^3\.[01]\./.test(version)) {
      throw new Error(`${file} is not an OpenAPI 3.0 or 3.1 (or Swagger 2.0) document`)
    }
    return new OpenApiDocument(document)
  }

  /** Every operation's method and path, in document order. */
  operations(): Array<{ method: string; path: string }> {
    return this.#paths.flatMap((entry) => [...entry.operations.keys()].map((method) => ({ method, path: entry.template.template })))
  }

  /** The operation for a method and a path below the API; HEAD falls back to GET. */
  find(method: string, path: string): { operation: OpenApiOperation; variables: UriVariables } | { allowed: string[] } | undefined {
    for (const entry of this.#matchOrder) {
      const variables = entry.template.match(path)
      if (!variables) continue
      const operation = entry.operations.get(method) ?? (method === 'HEAD' ? entry.operations.get('GET') : undefined)
      if (operation) return { operation, variables }
      return { allowed: [...entry.operations.keys()] }
    }
    return undefined
  }

  /** Follows local `$ref`s from `value` (found at `pointer`) to the node they name. */
  resolve<T = JsonObject>(value: unknown, pointer: string): Located<T> {
    let node = value
    let at = pointer
    for (let hops = 0; hops < 32; hops++) {
      const ref = (node as { $ref?: unknown } | null)?.$ref
      if (typeof ref !== 'string') return { node: (node ?? {}) as T, pointer: at }
      if (!ref.startsWith('#')) throw new Error(`unsupported $ref "${ref}" at ${at}: only local references remain after bundling`)
      at = ref.slice(1)
      node = nodeAt(this.document, at)
      if (node === undefined) throw new Error(`$ref "${ref}" names nothing in the document`)
    }
    throw new Error(`$ref chain at ${pointer} is too long or circular`)
  }
}

function createValidator(version: '3.0' | '3.1', document: JsonObject, options: AjvOptions): Ajv {
  // OpenAPI documents carry keywords JSON Schema does not know (xml, externalDocs, discriminator, x-*), so
  // strict mode is off; 3.0's `nullable` is understood by ajv itself.
  const common: AjvOptions = { strict: false, allErrors: true, validateFormats: true, ...options }
  const ajv = version === '3.1' ? new Ajv2020(common) : new Ajv(common)
  addFormats.default(ajv)
  // OpenAPI's own formats: integer ranges are checked, the rest describe encodings that any string may hold.
  ajv.addFormat('int32', { type: 'number', validate: (value: number) => Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 })
  ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isInteger(value) })
  for (const name of ['float', 'double']) ajv.addFormat(name, { type: 'number', validate: () => true })
  for (const name of ['byte', 'binary', 'password']) ajv.addFormat(name, true)
  ajv.addSchema(document, DOCUMENT_ID)
  return ajv
}

/**
 * Removes `example` (3.0) and `examples` (3.1) from schemas, leaving media-type and parameter examples alone:
 * a schema's example is a hint that authors get wrong often enough (a number for a string property) that a
 * response built from it can break the document's own schema.
 */
function withoutSchemaExamples(node: unknown, inSchema = false): unknown {
  if (Array.isArray(node)) {
    for (const item of node) withoutSchemaExamples(item, inSchema)
    return node
  }
  if (node === null || typeof node !== 'object') return node
  const object = node as JsonObject
  if (inSchema) {
    delete object.example
    if (Array.isArray(object.examples)) delete object.examples
  }
  for (const [key, value] of Object.entries(object)) {
    if ((inSchema && NAMED_SCHEMAS.has(key)) || (!inSchema && key === 'schemas')) {
      // Maps from names to schemas: the names are not keywords, the values are schemas.
      for (const child of Object.values((value ?? {}) as JsonObject)) withoutSchemaExamples(child, true)
    } else if ((!inSchema && key === 'schema') || (inSchema && SCHEMA_KEYWORDS.has(key))) {
      withoutSchemaExamples(value, true)
    } else if (!inSchema) {
      withoutSchemaExamples(value, false)
    }
  }
  return node
}

const NAMED_SCHEMAS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'])

/** Keywords whose value is a schema or a list of schemas. */
const SCHEMA_KEYWORDS = new Set([
  'items', 'prefixItems', 'additionalProperties', 'unevaluatedProperties', 'unevaluatedItems', 'contains',
  'propertyNames', 'not', 'if', 'then', 'else', 'allOf', 'anyOf', 'oneOf', 'additionalItems',
])

/** The document and every file its `$ref`s name: regular files of a bounded size only, as every config file. */
function readReferencedFile(file: FileInfo): Promise<Buffer> {
  return readLocalFile(file.url.startsWith('file:') ? fileURLToPath(file.url) : decodeURI(file.url), MAX_PROTOTYPE_FILE_BYTES)
}
