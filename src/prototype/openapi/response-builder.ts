import type { ValidateFunction } from 'ajv'
import { sample } from 'openapi-sampler'
import type { JSONSchema7 } from 'json-schema'
import type { PrototypeResponse, RequestProblem } from '../response.ts'
import type { JsonObject, Located, OpenApiDocument } from './document.ts'
import { escapePointer, nodeAt, schemaRef, unescapePointer } from './json-pointer.ts'
import { isJsonMediaType, mediaTypeOf, negotiateMediaType } from './media-type.ts'
import type { Preferences } from './prefer.ts'

/** Why no response could be built; the endpoint turns it into a client error. */
export class Unsatisfiable extends Error {
  readonly status: 400 | 406
  constructor(status: 400 | 406, message: string) {
    super(message)
    this.status = status
  }
}

interface DocumentedResponse {
  /** The key in `responses`: `200`, `2XX` or `default`. */
  readonly key: string
  readonly located: Located
}

/**
 * Builds an operation's response the way Stoplight Prism's static mode does: the status the client prefers or
 * the lowest 2xx, the media type its Accept header prefers, and the body from the named example, the first
 * example, or a sample generated from the schema (by `openapi-sampler`) that is checked against that schema.
 */
export class ResponseBuilder {
  readonly #document: OpenApiDocument
  readonly #responses: readonly DocumentedResponse[]
  /** Samples depend only on the document, so each (response, media type) is generated once and kept. */
  readonly #samples = new Map<string, string>()

  constructor(document: OpenApiDocument, responses: Located | undefined) {
    this.#document = document
    const documented: DocumentedResponse[] = []
    for (const [key, raw] of Object.entries(responses?.node ?? {})) {
      if (key.startsWith('x-')) continue
      const pointer = `${responses!.pointer}/${escapePointer(key)}`
      try {
        documented.push({ key, located: document.resolve(raw, pointer) })
      } catch (error) {
        document.warn(`${pointer} left out: ${(error as Error).message}`)
      }
    }
    this.#responses = documented
  }

  /**
   * A refusal of an invalid request, in the operation's own terms when it documents the refusal's status (that
   * status, its range such as `4XX`, or `default`, as Prism chooses): the gateway's answer when it fits the
   * documented schema, else the documented response's example or sample, so that clients generated from the
   * document can read it. The problems then travel in the `Portico-Request-Problems` header, as JSON.
   */
  refusal(own: PrototypeResponse, problems: readonly RequestProblem[], accept: string | undefined): PrototypeResponse {
    const range = `${Math.floor(own.status / 100)}XX`
    const documented =
      this.#responses.find((candidate) => candidate.key === String(own.status)) ??
      this.#responses.find((candidate) => candidate.key.toUpperCase() === range) ??
      this.#responses.find((candidate) => candidate.key === 'default')
    const content = (documented?.located.node.content ?? {}) as JsonObject
    const mediaType = negotiateMediaType(accept, Object.keys(content))
    if (!documented || mediaType === undefined) return own
    const pointer = `${documented.located.pointer}/content/${escapePointer(mediaType)}`
    const media = (content[mediaType] ?? {}) as JsonObject
    if (media.schema === undefined) return own
    if (isJsonMediaType(mediaType)) {
      const validate = this.#validator(`${pointer}/schema`)
      if (validate?.(JSON.parse(String(own.body)))) return { ...own, headers: { ...own.headers, 'content-type': mediaType } }
    }
    const headers = this.#headers(documented.located)
    headers['content-type'] = mediaType.includes('*') ? 'application/octet-stream' : mediaType
    headers['cache-control'] = 'no-store'
    headers[PROBLEMS_HEADER] = problemsHeader(problems)
    return { status: own.status, headers, body: this.#body(media, pointer, mediaType, undefined) }
  }

  build(preferences: Preferences, accept: string | undefined): PrototypeResponse {
    const { response, status } = this.#choose(preferences.code)
    const headers = this.#headers(response.located)
    const content = (response.located.node.content ?? {}) as JsonObject
    const mediaTypes = Object.keys(content)
    if (mediaTypes.length === 0) {
      if (preferences.example !== undefined) throw new Unsatisfiable(400, `response ${response.key} has no content, so no example "${preferences.example}"`)
      return { status, headers, body: '' }
    }
    const mediaType = negotiateMediaType(accept, mediaTypes)
    if (mediaType === undefined) throw new Unsatisfiable(406, `Accept "${accept}" matches none of ${mediaTypes.join(', ')}`)
    headers['content-type'] = mediaType.includes('*') ? 'application/octet-stream' : mediaType
    const mediaPointer = `${response.located.pointer}/content/${escapePointer(mediaType)}`
    const media = (content[mediaType] ?? {}) as JsonObject
    return { status, headers, body: this.#body(media, mediaPointer, mediaType, preferences.example) }
  }

  /** The documented response for a preferred status, or the lowest success (then `default`, then the first). */
  #choose(code: number | undefined): { response: DocumentedResponse; status: number } {
    if (this.#responses.length === 0) throw new Unsatisfiable(400, 'the operation documents no responses')
    if (code !== undefined) {
      const range = `${Math.floor(code / 100)}XX`
      const response =
        this.#responses.find((candidate) => candidate.key === String(code)) ??
        this.#responses.find((candidate) => candidate.key.toUpperCase() === range) ??
        this.#responses.find((candidate) => candidate.key === 'default')
      if (!response) throw new Unsatisfiable(400, `the operation documents no response ${code}; it has ${this.#keys()}`)
      return { response, status: code }
    }
    const numbered = this.#responses
      .map((response) => ({ response, status: statusOf(response.key) }))
      .filter((entry): entry is { response: DocumentedResponse; status: number } => entry.status !== undefined)
      .sort((a, b) => a.status - b.status)
    const success = numbered.find((entry) => entry.status >= 200 && entry.status < 300)
    if (success) return success
    const fallback = this.#responses.find((candidate) => candidate.key === 'default')
    if (fallback) return { response: fallback, status: 200 }
    return numbered[0] ?? { response: this.#responses[0]!, status: 200 }
  }

  #keys(): string {
    return this.#responses.map((response) => response.key).join(', ')
  }

  #body(media: JsonObject, pointer: string, mediaType: string, exampleName: string | undefined): string {
    const examples = (media.examples ?? {}) as JsonObject
    if (exampleName !== undefined) {
      if (!(exampleName in examples)) {
        const names = Object.keys(examples)
        throw new Unsatisfiable(400, `${mediaType} has no example "${exampleName}"${names.length ? `; it has ${names.join(', ')}` : ''}`)
      }
      return serialize(this.#exampleValue(examples[exampleName], `${pointer}/examples/${escapePointer(exampleName)}`), mediaType)
    }
    if (media.example !== undefined) return serialize(media.example, mediaType)
    for (const [name, example] of Object.entries(examples)) {
      const value = this.#exampleValue(example, `${pointer}/examples/${escapePointer(name)}`)
      if (value !== undefined) return serialize(value, mediaType)
    }
    if (media.schema === undefined) return ''
    let body = this.#samples.get(pointer)
    if (body === undefined) {
      body = this.#sample(`${pointer}/schema`, mediaType)
      this.#samples.set(pointer, body)
    }
    return body
  }

  #exampleValue(example: unknown, pointer: string): unknown {
    // `externalValue` names a URL the prototype does not fetch; such examples are passed over.
    return this.#document.resolve(example, pointer).node.value
  }

  /**
   * A sample of the schema at `pointer`, the first of these that validates: built with the schema's examples and
   * strings made to match their `pattern`s; that sample with the values its examples broke taken from a sample
   * made without examples; the sample without examples; the same without patterns (the sampler reads only
   * simple patterns). Failing all, the first.
   */
  #sample(pointer: string, mediaType: string): string {
    const document = this.#document
    const isXml = /[/+]xml$/.test(mediaTypeOf(mediaType))
    const generate = (from: JsonObject, enablePatterns: boolean): unknown => {
      try {
        const options = { skipWriteOnly: true, quiet: true, enablePatterns, ...(isXml ? { format: 'xml' as const } : {}) }
        return sample(nodeAt(from, pointer) as JSONSchema7, options, from)
      } catch (error) {
        // The sampler gives up on some schemas (a pattern it cannot read, say); another candidate is tried.
        if (!enablePatterns) document.warn(`${pointer}: no sample: ${(error as Error).message}`)
        return undefined
      }
    }
    if (isXml) return String(generate(document.document, false) ?? '')
    // A binary body (an image, a file) has no sample: the word "string" would pose as one.
    const schema = document.resolve(nodeAt(document.document, pointer), pointer).node
    if (schema.format === 'binary' || (schema.type === 'string' && schema.contentMediaType !== undefined)) return ''
    const validate = this.#validator(pointer)
    const first = generate(document.document, true) ?? generate(document.document, false)
    if (!validate || validate(first)) return serialize(first, mediaType)
    const paths = (validate.errors ?? []).map((error) => error.instancePath)
    const withoutExamples = generate(document.documentWithoutExamples, true)
    const candidates = [
      () => (withoutExamples === undefined ? undefined : replaceAt(structuredClone(first), withoutExamples, paths)),
      () => withoutExamples,
      () => generate(document.documentWithoutExamples, false),
      // The sampler ends a recursion with `{}`, which a required, nullable self-reference refuses; null fits it.
      () => replaceAt(structuredClone(first), null, paths),
    ]
    for (const candidate of candidates) {
      const value = candidate()
      if (value !== undefined && validate(value)) return serialize(value, mediaType)
    }
    return serialize(first, mediaType)
  }

  /** The response validator for the schema at `pointer`; none, with a warning, when it cannot be compiled. */
  #validator(pointer: string): ValidateFunction | undefined {
    const validator = this.#document.responseValidator
    const ref = schemaRef(pointer)
    try {
      return validator.getSchema(ref.$ref) ?? validator.compile(ref)
    } catch (error) {
      this.#document.warn(`${pointer}: responses are sent unchecked: ${(error as Error).message}`)
      return undefined
    }
  }

  #headers(response: Located): Record<string, string> {
    const headers: Record<string, string> = {}
    const documented = (response.node.headers ?? {}) as JsonObject
    for (const [name, raw] of Object.entries(documented)) {
      const lower = name.toLowerCase()
      if (lower === 'content-type' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) continue
      let value: unknown
      try {
        const header = this.#document.resolve(raw, `${response.pointer}/headers/${escapePointer(name)}`)
        value = header.node.example
        if (value === undefined && header.node.schema !== undefined) {
          value = sample(this.#document.resolve<JSONSchema7>(header.node.schema, `${header.pointer}/schema`).node, { quiet: true }, this.#document.document)
        }
      } catch (error) {
        this.#document.warn(`${response.pointer}/headers/${escapePointer(name)} left out: ${(error as Error).message}`)
        continue
      }
      if (value === undefined || value === null) continue
      const text = Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value)
      if (!/[\r\n\0]/.test(text)) headers[lower] = text
    }
    return headers
  }
}

const PROBLEMS_HEADER = 'portico-request-problems'

/** The problems as JSON in a header value: ASCII only, and at most 4 KiB (the first problems kept whole). */
function problemsHeader(problems: readonly RequestProblem[]): string {
  const ascii = (text: string) => text.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
  let kept = [...problems]
  let value = ascii(JSON.stringify(kept))
  while (value.length > 4096 && kept.length > 1) {
    kept = kept.slice(0, -1)
    value = ascii(JSON.stringify(kept))
  }
  return value
}

/**
 * `target` with the value at each of `pointers` taken from `source` (the whole of it for the root pointer), or
 * set to null when `source` is null.
 */
function replaceAt(target: unknown, source: unknown, pointers: readonly string[]): unknown {
  for (const pointer of pointers) {
    if (pointer === '') return source
    const at = pointer.lastIndexOf('/')
    const parent = nodeAt(target, pointer.slice(0, at))
    const replacement = source === null ? null : nodeAt(source, pointer)
    if (parent !== null && typeof parent === 'object' && replacement !== undefined) {
      ;(parent as Record<string, unknown>)[unescapePointer(pointer.slice(at + 1))] = replacement
    }
  }
  return target
}

function statusOf(key: string): number | undefined {
  if (/^[1-5]\d\d$/.test(key)) return Number(key)
  if (/^[1-5]XX$/i.test(key)) return Number(key[0]) * 100
  return undefined
}

/** Text media types carry a string example as it is; everything else is JSON. */
function serialize(value: unknown, mediaType: string): string {
  if (value === undefined) return ''
  if (typeof value === 'string' && !isJsonMediaType(mediaType)) return value
  return JSON.stringify(value)
}
