import { upgrade } from '@scalar/openapi-upgrader'
import type { JsonObject } from './document.ts'
import { escapePointer, nodeAt } from './json-pointer.ts'

/** Requests are checked without read-only properties being required, responses without write-only ones. */
export type Direction = 'request' | 'response'

/** The document's schemas as JSON Schema 2020-12, for one direction, and what could not be kept. */
export interface Translation {
  readonly document: JsonObject
  /** Each with the JSON pointer of the schema it concerns. */
  readonly warnings: string[]
}

/**
 * The document with its schemas translated to JSON Schema 2020-12, ready for ajv's 2020 dialect. OpenAPI 3.0
 * schemas are upgraded by `@scalar/openapi-upgrader` (3.0 → 3.1: `nullable` with or without `type`, the
 * `{ $ref, nullable }` and `{ allOf: [$ref], nullable }` idioms, boolean `exclusiveMinimum`/`exclusiveMaximum`),
 * after dropping what 3.0 says to ignore beside a `$ref`. Three things no upgrader does are done here, because
 * their meaning depends on how the prototype uses the schema: `readOnly`/`writeOnly` by direction, a
 * `discriminator` choosing the `oneOf` arm, and patterns that JSON Schema users write for non-Unicode RegExps.
 */
export function translateSchemas(source: JsonObject, directions: readonly Direction[]): Map<Direction, Translation> {
  let document = structuredClone(source)
  const warnings: string[] = []
  if (String(document.openapi).startsWith('3.0')) {
    forEachSchema(document, dropRefSiblings)
    document = upgrade(document as never, '3.1') as unknown as JsonObject
    forEachSchema(document, nullableAnything)
  }
  forEachSchema(document, (schema, pointer) => {
    checkPatterns(schema, pointer, warnings)
    dispatchOnDiscriminator(schema, document)
  })
  const translations = new Map<Direction, Translation>()
  directions.forEach((direction, index) => {
    const copy = index === directions.length - 1 ? document : structuredClone(document)
    const hidden = direction === 'request' ? 'readOnly' : 'writeOnly'
    forEachSchema(copy, (schema) => dropHiddenFromRequired(schema, hidden, copy))
    translations.set(direction, { document: copy, warnings })
  })
  return translations
}

/**
 * Calls `visit` on every schema of an OpenAPI document (components, parameters, media types, headers and every
 * subschema), a parent before its subschemas, with its JSON pointer. `visit` may change the schema in place.
 */
export function forEachSchema(document: JsonObject, visit: (schema: JsonObject, pointer: string) => void): void {
  walk(document, '', false, visit, 0)
}

function walk(node: unknown, pointer: string, inSchema: boolean, visit: (schema: JsonObject, pointer: string) => void, depth: number): void {
  if (depth > 256) return
  if (Array.isArray(node)) {
    node.forEach((item, index) => walk(item, `${pointer}/${index}`, inSchema, visit, depth + 1))
    return
  }
  if (node === null || typeof node !== 'object') return
  const object = node as JsonObject
  if (inSchema) visit(object, pointer)
  for (const [key, value] of Object.entries(object)) {
    const at = `${pointer}/${escapePointer(key)}`
    if ((inSchema && NAMED_SCHEMAS.has(key)) || (!inSchema && key === 'schemas')) {
      // Maps from names to schemas: the names are not keywords, the values are schemas.
      if (value !== null && typeof value === 'object') {
        for (const [name, child] of Object.entries(value)) walk(child, `${at}/${escapePointer(name)}`, true, visit, depth + 1)
      }
    } else if ((!inSchema && key === 'schema') || (inSchema && SCHEMA_KEYWORDS.has(key))) {
      walk(value, at, true, visit, depth + 1)
    } else if (!inSchema && !DATA_KEYS.has(key) && !key.startsWith('x-')) {
      walk(value, at, false, visit, depth + 1)
    }
  }
}

const NAMED_SCHEMAS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'])

/** Keywords whose value is a schema or a list of schemas. */
const SCHEMA_KEYWORDS = new Set([
  'items', 'prefixItems', 'additionalProperties', 'unevaluatedProperties', 'unevaluatedItems', 'contains',
  'propertyNames', 'not', 'if', 'then', 'else', 'allOf', 'anyOf', 'oneOf', 'additionalItems',
])

/** Outside schemas, values that are data written by the author, never schemas. */
const DATA_KEYS = new Set(['example', 'examples', 'default', 'enum', 'const'])

/** What may stand beside a `$ref` in OpenAPI 3.0 and still count: annotations, and the `nullable` idiom. */
const KEPT_BESIDE_REF = new Set(['$ref', 'nullable', 'description', 'title', 'example', 'readOnly', 'writeOnly', 'deprecated', 'default', 'externalDocs', 'xml'])

/** OpenAPI 3.0: "properties adjacent to a $ref are ignored"; JSON Schema 2020-12 would apply them. */
function dropRefSiblings(schema: JsonObject): void {
  if (typeof schema.$ref !== 'string') return
  for (const key of Object.keys(schema)) if (!KEPT_BESIDE_REF.has(key) && !key.startsWith('x-')) delete schema[key]
}

/**
 * `nullable` that the upgrader leaves (it rewrites it beside `type`, `$ref` and `allOf` only), as in
 * `{ nullable: true, oneOf: [...] }`: the schema, or null. Ajv would refuse to compile it.
 */
function nullableAnything(schema: JsonObject): void {
  if (!('nullable' in schema)) return
  const nullable = schema.nullable === true
  delete schema.nullable
  if (!nullable) return
  const constraints: JsonObject = {}
  for (const [key, value] of Object.entries(schema)) {
    if (KEPT_BESIDE_REF.has(key) || key.startsWith('x-')) continue
    constraints[key] = value
    delete schema[key]
  }
  schema.anyOf = [constraints, { type: 'null' }]
}

/**
 * A pattern is compiled as ajv would (Unicode mode), else without the `u` flag, as most JSON Schema tools outside
 * JavaScript read it (`\-` and `\!` are fine there); the validator's RegExp engine falls back the same way. A
 * pattern neither mode accepts is left out of its schema, with a warning, rather than costing the operation.
 */
function checkPatterns(schema: JsonObject, pointer: string, warnings: string[]): void {
  if ('pattern' in schema) {
    const problem = typeof schema.pattern === 'string' ? patternProblem(schema.pattern) : 'it is not a string'
    if (problem) {
      warnings.push(`${pointer}/pattern left out: ${problem}`)
      delete schema.pattern
    }
  }
  const patternProperties = schema.patternProperties
  if (patternProperties !== null && typeof patternProperties === 'object') {
    for (const key of Object.keys(patternProperties)) {
      const problem = patternProblem(key)
      if (problem) {
        warnings.push(`${pointer}/patternProperties/${escapePointer(key)} left out: ${problem}`)
        delete (patternProperties as JsonObject)[key]
      }
    }
  }
}

function patternProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'u')
    return undefined
  } catch {
    try {
      new RegExp(pattern)
      return undefined
    } catch (error) {
      return (error as Error).message
    }
  }
}

/** Ajv's RegExp engine: Unicode mode when the pattern allows it, else the pattern as plain JavaScript reads it. */
export const lenientRegExp = Object.assign(
  (pattern: string, flags: string): RegExp => {
    try {
      return new RegExp(pattern, flags)
    } catch {
      return new RegExp(pattern, flags.replace('u', ''))
    }
  },
  { code: 'new RegExp' },
)

/**
 * A `discriminator` says which `oneOf`/`anyOf` arm applies: the one its property's value maps to (explicitly in
 * `mapping`, else by the arm's schema name). Without it, arms that overlap (`Cat` and `Dog` both built on `Pet`)
 * make every `oneOf` fail. So the arms become an `anyOf`, and each mapped value requires its own arm.
 */
function dispatchOnDiscriminator(schema: JsonObject, document: JsonObject): void {
  const discriminator = schema.discriminator as { propertyName?: unknown; mapping?: unknown } | undefined
  if (!discriminator || typeof discriminator.propertyName !== 'string') return
  const arms = (schema.oneOf ?? schema.anyOf) as unknown
  if (!Array.isArray(arms) || arms.length === 0) return
  const property = discriminator.propertyName
  const targets = new Map<string, string>()
  const mapping = (discriminator.mapping ?? {}) as Record<string, unknown>
  for (const [value, target] of Object.entries(mapping)) {
    if (typeof target !== 'string') continue
    const ref = target.includes('#') || target.includes('/') ? target : `#/components/schemas/${target}`
    if (ref.startsWith('#') && nodeAt(document, decodeRef(ref)) !== undefined) targets.set(value, ref)
  }
  for (const arm of arms) {
    const ref = (arm as JsonObject | null)?.$ref
    if (typeof ref !== 'string' || !ref.startsWith('#')) continue
    const name = decodeURIComponent(ref.slice(ref.lastIndexOf('/') + 1))
    if (![...targets.values()].includes(ref) && !targets.has(name)) targets.set(name, ref)
  }
  if (targets.size === 0) return
  delete schema.oneOf
  schema.anyOf = arms
  const dispatch = [...targets].map(([value, ref]) => ({
    if: { properties: { [property]: { const: value } }, required: [property] },
    then: { $ref: ref },
  }))
  schema.allOf = [...((schema.allOf as unknown[] | undefined) ?? []), ...dispatch]
}

/**
 * A required property that is read-only is not sent in requests, and a write-only one is not returned in
 * responses (OpenAPI 3.0 and 3.1 both say so), so it is not required in that direction.
 */
function dropHiddenFromRequired(schema: JsonObject, hidden: 'readOnly' | 'writeOnly', document: JsonObject): void {
  if (!Array.isArray(schema.required) || schema.required.length === 0) return
  const kept = schema.required.filter((name) => !(typeof name === 'string' && isHidden(propertyOf(schema, name, document, 0), hidden, document)))
  if (kept.length !== schema.required.length) schema.required = kept
}

/** The schema of property `name` as `schema` or one of its `allOf` members declares it. */
function propertyOf(schema: JsonObject, name: string, document: JsonObject, depth: number): unknown {
  if (depth > 8) return undefined
  const properties = schema.properties as JsonObject | undefined
  if (properties && typeof properties === 'object' && name in properties) return properties[name]
  for (const member of (schema.allOf as unknown[] | undefined) ?? []) {
    const found = propertyOf(resolved(member, document), name, document, depth + 1)
    if (found !== undefined) return found
  }
  return undefined
}

function isHidden(property: unknown, hidden: 'readOnly' | 'writeOnly', document: JsonObject): boolean {
  let node = property as JsonObject | undefined
  for (let hops = 0; hops < 8 && node && typeof node === 'object'; hops++) {
    if (node[hidden] === true) return true
    // The upgrader's nullable form `{ anyOf: [{ $ref }, { type: 'null' }] }` keeps the flag on the target.
    const anyOf = node.anyOf as JsonObject[] | undefined
    const next = typeof node.$ref === 'string' ? node : Array.isArray(anyOf) && anyOf.length === 2 ? anyOf.find((arm) => arm?.type !== 'null') : undefined
    if (!next) return false
    node = next === node ? resolved(node, document) : next
  }
  return false
}

function resolved(node: unknown, document: JsonObject): JsonObject {
  const ref = (node as JsonObject | null)?.$ref
  if (typeof ref !== 'string' || !ref.startsWith('#')) return (node ?? {}) as JsonObject
  return (nodeAt(document, decodeRef(ref)) ?? {}) as JsonObject
}

function decodeRef(ref: string): string {
  try {
    return decodeURIComponent(ref.slice(1))
  } catch {
    return ref.slice(1)
  }
}
