import type { ErrorObject, ValidateFunction } from 'ajv'
import type { UriVariables } from '../../core/uri-template.ts'
import type { PrototypeRequest } from '../request.ts'
import type { RequestProblem } from '../response.ts'
import type { JsonObject, Located, OpenApiDocument } from './document.ts'
import { escapePointer, schemaRef } from './json-pointer.ts'
import { isJsonMediaType, mediaTypeOf, matchMediaType } from './media-type.ts'

const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization'])

type ParameterLocation = 'path' | 'query' | 'header'

interface Parameter {
  readonly name: string
  readonly in: ParameterLocation
  readonly isArray: boolean
  /** Query arrays as `a=1&a=2` (explode, the default) or `a=1,2`. */
  readonly explode: boolean
}

interface ParameterGroup {
  readonly parameters: readonly Parameter[]
  readonly validate: ValidateFunction
}

/** The verdict on a request: nothing wrong, or the status to answer with and every problem found. */
export type Verdict = { ok: true } | { ok: false; status: 400 | 415 | 422; problems: RequestProblem[] }

/**
 * Checks a request against one operation: path, query and header parameters (their text coerced to the
 * schema's types), and the body for JSON and form media types. Validators are compiled when the document loads.
 */
export class RequestValidator {
  readonly #groups: ReadonlyMap<ParameterLocation, ParameterGroup>
  readonly #bodyRequired: boolean
  /** Media types of the request body with their validators; none when the body is not checked (XML, binary). */
  readonly #bodies: ReadonlyMap<string, ValidateFunction | undefined> | undefined

  constructor(document: OpenApiDocument, parameters: ReadonlyArray<Located>, requestBody: Located | undefined) {
    const groups = new Map<ParameterLocation, ParameterGroup>()
    for (const location of ['path', 'query', 'header'] as const) {
      // OpenAPI: header parameters named Accept, Content-Type or Authorization "SHALL be ignored".
      const inGroup = parameters.filter(
        (parameter) => parameter.node.in === location && !(location === 'header' && IGNORED_HEADERS.has(String(parameter.node.name).toLowerCase())),
      )
      if (inGroup.length === 0) continue
      const properties: Record<string, unknown> = {}
      const required: string[] = []
      const compiled: Parameter[] = []
      for (const { node, pointer } of inGroup) {
        const name = location === 'header' ? String(node.name).toLowerCase() : String(node.name)
        if (node.schema !== undefined) {
          properties[name] = schemaRef(`${pointer}/schema`)
        } else {
          // A parameter described by `content` instead of `schema`: only its presence is checked.
          properties[name] = {}
        }
        if (node.required === true || location === 'path') required.push(name)
        const type = parameterType(document, node.schema, `${pointer}/schema`)
        compiled.push({ name, in: location, isArray: type === 'array' || (Array.isArray(type) && type.includes('array')), explode: node.explode !== false })
      }
      const validate = compileOrWarn(document, `${location} parameters of ${inGroup[0]!.pointer.replace(/\/parameters\/\d+$/, '')}`, () =>
        document.coercingValidator.compile({ type: 'object', properties, required }),
      )
      if (validate) groups.set(location, { parameters: compiled, validate })
    }
    this.#groups = groups
    this.#bodyRequired = requestBody?.node.required === true
    if (requestBody && typeof requestBody.node.content === 'object' && requestBody.node.content !== null) {
      const bodies = new Map<string, ValidateFunction | undefined>()
      for (const [mediaType, media] of Object.entries(requestBody.node.content as JsonObject)) {
        const schemaPointer = `${requestBody.pointer}/content/${escapePointer(mediaType)}/schema`
        const hasSchema = (media as JsonObject | null)?.schema !== undefined
        let validate: ValidateFunction | undefined
        if (hasSchema && isJsonMediaType(mediaType)) validate = compileOrWarn(document, schemaPointer, () => document.strictValidator.compile(schemaRef(schemaPointer)))
        else if (hasSchema && mediaType === 'application/x-www-form-urlencoded') {
          validate = compileOrWarn(document, schemaPointer, () => document.coercingValidator.compile(schemaRef(schemaPointer)))
        }
        bodies.set(mediaType, validate)
      }
      this.#bodies = bodies
    }
  }

  check(request: PrototypeRequest, pathVariables: UriVariables): Verdict {
    const problems: RequestProblem[] = []
    for (const [location, group] of this.#groups) {
      const values = parameterValues(location, group.parameters, request, pathVariables)
      if (!group.validate(values)) problems.push(...group.validate.errors!.map((error) => parameterProblem(location, error)))
    }
    if (problems.length > 0) return { ok: false, status: 400, problems }
    return this.#checkBody(request)
  }

  #checkBody(request: PrototypeRequest): Verdict {
    if (request.body.length === 0) {
      return this.#bodyRequired ? { ok: false, status: 422, problems: [{ in: 'body', name: '', message: 'a request body is required' }] } : { ok: true }
    }
    if (!this.#bodies) return { ok: true }
    const contentType = request.headers['content-type']
    const mediaType = contentType === undefined ? undefined : matchMediaType(mediaTypeOf(contentType), this.#bodies.keys())
    if (mediaType === undefined) {
      const accepted = [...this.#bodies.keys()].join(', ')
      const message = contentType === undefined ? `has no Content-Type; send one of ${accepted}` : `Content-Type ${contentType} is not one of ${accepted}`
      return { ok: false, status: 415, problems: [{ in: 'header', name: 'content-type', message }] }
    }
    const validate = this.#bodies.get(mediaType)
    if (!validate) return { ok: true }
    let value: unknown
    if (isJsonMediaType(mediaType)) {
      try {
        value = JSON.parse(request.body.toString('utf8'))
      } catch (error) {
        return { ok: false, status: 400, problems: [{ in: 'body', name: '', message: `is not valid JSON: ${(error as Error).message}` }] }
      }
    } else {
      value = formFields(request.body.toString('utf8'))
    }
    if (validate(value)) return { ok: true }
    return { ok: false, status: 422, problems: validate.errors!.map(bodyProblem) }
  }
}

/**
 * A validator, or undefined with a warning when the schema cannot be compiled (a `$ref` that names nothing, a
 * keyword with a value of the wrong kind): that part of the request goes unchecked, the operation is served.
 */
function compileOrWarn(document: OpenApiDocument, what: string, compile: () => ValidateFunction): ValidateFunction | undefined {
  try {
    return compile()
  } catch (error) {
    document.warn(`${what} is not checked: ${(error as Error).message}`)
    return undefined
  }
}

/** The schema's type, to know which parameters are arrays; a schema that cannot be resolved has none. */
function parameterType(document: OpenApiDocument, schema: unknown, pointer: string): unknown {
  if (schema === undefined) return undefined
  try {
    return document.resolve(schema, pointer).node.type
  } catch {
    return undefined
  }
}

function parameterValues(location: ParameterLocation, parameters: readonly Parameter[], request: PrototypeRequest, pathVariables: UriVariables): JsonObject {
  const values: JsonObject = {}
  for (const parameter of parameters) {
    let value: string | string[] | undefined
    if (location === 'path') value = pathVariables[parameter.name]
    else if (location === 'header') value = request.headers[parameter.name]
    else if (parameter.isArray && parameter.explode) value = request.query.has(parameter.name) ? request.query.getAll(parameter.name) : undefined
    else value = request.query.get(parameter.name) ?? undefined
    if (value !== undefined && parameter.isArray && typeof value === 'string') value = value.split(',')
    if (value !== undefined) values[parameter.name] = value
  }
  return values
}

/** Form fields as an object: a repeated field becomes a list, which the coercing validator accepts for arrays. */
function formFields(text: string): JsonObject {
  const fields: JsonObject = {}
  for (const [name, value] of new URLSearchParams(text)) {
    const previous = fields[name]
    fields[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value]
  }
  return fields
}

function parameterProblem(location: ParameterLocation, error: ErrorObject): RequestProblem {
  if (error.keyword === 'required') return { in: location, name: String(error.params.missingProperty), message: 'is required' }
  const [, name = '', ...rest] = error.instancePath.split('/')
  const inside = rest.length > 0 ? `/${rest.join('/')} ` : ''
  return { in: location, name: name.replaceAll('~1', '/').replaceAll('~0', '~'), message: `${inside}${error.message ?? 'is invalid'}` }
}

function bodyProblem(error: ErrorObject): RequestProblem {
  if (error.keyword === 'required') {
    return { in: 'body', name: `${error.instancePath}/${escapePointer(String(error.params.missingProperty))}`, message: 'is required' }
  }
  if (error.keyword === 'additionalProperties') {
    return { in: 'body', name: `${error.instancePath}/${escapePointer(String(error.params.additionalProperty))}`, message: 'is not allowed' }
  }
  return { in: 'body', name: error.instancePath, message: error.message ?? 'is invalid' }
}
