import type { IncomingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import { XMLBuilder } from 'fast-xml-parser'
import type { RestToSoapConfig } from '../soap/schema.ts'
import { EndpointError, type BackendResponse, type Endpoint, type EndpointStatus, type Exchange } from '../core/endpoint.ts'
import { Delegating, type Interceptor } from './interceptor.ts'
import type { LeafConfig } from './schema.ts'
import { BodyTooLarge, readBody } from '../core/body.ts'
import { escapeXml } from '../soap/fault.ts'
import { CONTENT_TYPE } from '../soap/version.ts'
import { parsePlain, XmlRefused } from '../soap/xml.ts'
import { errorBody } from '../core/errors.ts'
import { withoutHeaders } from '../core/headers.ts'

/** Request headers that describe the client's JSON message, not the SOAP request built from it. */
const REPLACED_HEADERS = new Set(['content-type', 'content-length', 'transfer-encoding', 'soapaction', 'accept', 'accept-encoding'])
/** Response headers that describe the backend's XML, not the JSON made from it. */
const DROPPED_RESPONSE_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'etag'])

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.$-]+)\s*\}\}/g

const valueBuilder = new XMLBuilder({ ignoreAttributes: true, processEntities: true, suppressEmptyNode: true })

/** A SOAP leaf exposed as a REST resource, when its config has `rest`. */
export function restToSoap(config: LeafConfig & { rest?: RestToSoapConfig | undefined }): Interceptor | undefined {
  const rest = config.rest
  return rest ? (inner) => new RestToSoapEndpoint(inner, rest) : undefined
}

/**
 * A SOAP operation as a REST resource: the JSON request fills the envelope template, the SOAP endpoint behind
 * gets a POST in the configured SOAP version, and the response's Body (or Fault) comes back as JSON.
 *
 * The template language is hand-written because it is one construct: `{{path}}` looks up a dotted path in
 * `{ ...json, uri: { var: uriVariables }, query: queryParameters }`; a string or number is XML-escaped, an object
 * or array becomes XML elements, and a missing value becomes empty content (for the SOAP service to judge).
 */
export class RestToSoapEndpoint extends Delegating {
  readonly #config: RestToSoapConfig
  /** The template split at its placeholders: text, path, text, path, ..., text. */
  readonly #parts: string[]
  readonly #soapHeaders: string[]

  constructor(soap: Endpoint, config: RestToSoapConfig) {
    super(soap)
    this.#config = config
    this.#parts = config.template.split(PLACEHOLDER)
    this.#soapHeaders =
      config.soapVersion === '1.1'
        ? ['content-type', CONTENT_TYPE['1.1'], 'soapaction', `"${config.action}"`, 'accept', 'text/xml']
        : ['content-type', `${CONTENT_TYPE['1.2']}; action="${config.action}"`, 'accept', 'application/soap+xml']
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    let input: unknown = {}
    try {
      const text = (await readBody(exchange.body, this.#config.maxRequestBytes)).toString('utf8')
      if (text.trim() !== '') input = JSON.parse(text)
    } catch (error) {
      if (error instanceof BodyTooLarge) return clientError(413, 'PAYLOAD_TOO_LARGE', `The JSON request is ${error.message}`, exchange.requestId)
      if (error instanceof SyntaxError) return clientError(400, 'BAD_REQUEST', `The request is not valid JSON: ${error.message}`, exchange.requestId)
      throw new EndpointError('client-body', this.id, `${this.id}: the request body could not be read`, { cause: error })
    }
    let envelope: Buffer
    try {
      envelope = Buffer.from(this.#render(input, exchange))
    } catch (error) {
      if (!(error instanceof UnmappableJson)) throw error
      return clientError(400, 'BAD_REQUEST', `The JSON request cannot become SOAP: ${error.message}`, exchange.requestId)
    }
    const headers = withoutHeaders(exchange.headers, REPLACED_HEADERS)
    headers.push(...this.#soapHeaders, 'content-length', String(envelope.length))
    const soapExchange: Exchange = { ...exchange, method: 'POST', path: '', query: '', headers, body: envelope }
    let response: BackendResponse
    try {
      response = await this.inner.send(soapExchange, signal)
    } catch (error) {
      // A Fault counted as a failure still carries the backend's answer: it goes to the client as JSON too.
      if (!(error instanceof EndpointError) || !error.response) throw error
      throw new EndpointError(error.kind, error.endpointId, error.message, { cause: error, status: error.status, response: await this.#toJson(error.response) })
    }
    return this.#toJson(response)
  }

  #render(input: unknown, exchange: Exchange): string {
    const scope = {
      ...(typeof input === 'object' && input !== null && !Array.isArray(input) ? input : { body: input }),
      uri: { var: exchange.uriVariables },
      query: Object.fromEntries(new URLSearchParams(exchange.query)),
    }
    let out = ''
    for (let i = 0; i < this.#parts.length; i++) {
      out += i % 2 === 0 ? this.#parts[i]! : xmlValue(lookup(scope, this.#parts[i]!))
    }
    return out
  }

  /** The SOAP response's Body content (or Fault) as JSON, with the backend's status. */
  async #toJson(response: BackendResponse): Promise<BackendResponse> {
    let body: Record<string, unknown> | undefined
    try {
      const xml = (await readBody(response.body, this.#config.maxResponseBytes)).toString('utf8')
      const envelope = parsePlain(xml).Envelope as Record<string, unknown> | undefined
      const content = envelope?.Body
      if (content !== undefined) body = typeof content === 'object' && content !== null ? (content as Record<string, unknown>) : {}
    } catch (error) {
      if (!(error instanceof BodyTooLarge) && !(error instanceof XmlRefused)) throw error
      response.body?.destroy()
      throw new EndpointError('protocol', this.id, `${this.id}: the SOAP response cannot be converted to JSON: ${error.message}`, { cause: error })
    }
    if (!body) throw new EndpointError('protocol', this.id, `${this.id}: the response is not a SOAP envelope (status ${response.status})`)
    const json = Buffer.from(JSON.stringify('Fault' in body ? { fault: body.Fault } : body))
    return { status: response.status, headers: jsonHeaders(response.headers, json.length), body: Readable.from([json]) }
  }

  override describe(): EndpointStatus {
    return { ...super.describe(), rest: { soapVersion: this.#config.soapVersion, action: this.#config.action } }
  }

}

function lookup(scope: unknown, path: string): unknown {
  let value = scope
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

/** JSON that cannot become XML: a key that is no element name (so no input can add markup of its own), or too deep. */
class UnmappableJson extends Error {}

const XML_NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/

function xmlValue(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value !== 'object') return escapeXml(String(value))
  checkNames(value)
  return valueBuilder.build(value) as string
}

/** Deeper JSON is refused: no SOAP operation takes it, and building its XML would exhaust the stack. */
const MAX_DEPTH = 64

function checkNames(value: unknown, depth = 0): void {
  if (typeof value !== 'object' || value === null) return
  if (depth >= MAX_DEPTH) throw new UnmappableJson(`it nests deeper than ${MAX_DEPTH} levels`)
  if (Array.isArray(value)) return value.forEach((item) => checkNames(item, depth + 1))
  for (const [key, inner] of Object.entries(value)) {
    if (!XML_NAME.test(key)) throw new UnmappableJson(`"${key}" cannot be an XML element name`)
    checkNames(inner, depth + 1)
  }
}

function jsonHeaders(headers: IncomingHttpHeaders, length: number): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const name in headers) if (!DROPPED_RESPONSE_HEADERS.has(name)) out[name] = headers[name]
  out['content-type'] = 'application/json'
  out['content-length'] = String(length)
  return out
}

/** A refusal in the gateway's JSON error shape, for a request the bridge cannot turn into SOAP. */
function clientError(status: number, code: string, message: string, requestId: string): BackendResponse {
  const body = Buffer.from(errorBody(code, message, requestId))
  return { status, headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body: Readable.from([body]) }
}
