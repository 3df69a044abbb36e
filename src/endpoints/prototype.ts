import type { PrototypeEndpointConfig } from './schema.ts'
import type { PrototypeResourceConfig } from '../prototype/config.ts'
import { OpenApiDocument } from '../prototype/openapi/document.ts'
import { BodyTooLarge } from '../core/body.ts'
import { MAX_PROTOTYPE_BODY_BYTES, readPrototypeRequest, type PrototypeRequest } from '../prototype/request.ts'
import { problemResponse, toBackendResponse, type PrototypeResponse } from '../prototype/response.ts'
import { SandboxBusy, ScriptFailure, ScriptSandbox } from '../prototype/script-sandbox.ts'
import { StaticResponses } from '../prototype/static-responses.ts'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange } from '../core/endpoint.ts'

/** What answers one method set of one resource. */
interface ResourceAnswer {
  readonly methods: ReadonlySet<string> | undefined
  readonly answer: StaticResponses | ScriptSandbox
}

type DocumentState =
  | { state: 'none' }
  | { state: 'loading'; loaded: Promise<OpenApiDocument | undefined> }
  | { state: 'ready'; document: OpenApiDocument }
  | { state: 'failed'; error: string }

/**
 * A mock backend for an API still being designed (CREATED or PROTOTYPED): per-resource static responses and
 * sandboxed scripts, then an OpenAPI document for everything else. It is an endpoint like any other, so the
 * API's resources stay as they are when real endpoints replace it at publication.
 */
/** How many of an OpenAPI document's operations the endpoint's description lists. */
const MAX_DESCRIBED_OPERATIONS = 200

export class PrototypeEndpoint implements Endpoint {
  readonly id: string
  readonly isPrototype = true
  readonly #config: PrototypeEndpointConfig
  /** By the resource's URI template, in config order. */
  readonly #resources: ReadonlyMap<string, readonly ResourceAnswer[]>
  #document: DocumentState
  #served = 0
  #scriptFailures = 0

  constructor(id: string, config: PrototypeEndpointConfig) {
    this.id = id
    this.#config = config
    const resources = new Map<string, ResourceAnswer[]>()
    for (const resource of config.resources) {
      const list = resources.get(resource.uriTemplate) ?? []
      list.push({ methods: resource.methods && methodSet(resource.methods), answer: answerFor(resource, config) })
      resources.set(resource.uriTemplate, list)
    }
    this.#resources = resources
    if (config.openapi === undefined) {
      this.#document = { state: 'none' }
    } else {
      const file = config.openapi
      const loaded = OpenApiDocument.load(file).then(
        (document) => {
          this.#document = { state: 'ready', document }
          return document
        },
        (error: unknown) => {
          this.#document = { state: 'failed', error: `cannot use OpenAPI document ${file}: ${(error as Error).message}` }
          return undefined
        },
      )
      this.#document = { state: 'loading', loaded }
    }
  }

  /** Resolves once the OpenAPI document (if any) is read; the error message when it could not be. */
  async loaded(): Promise<string | undefined> {
    if (this.#document.state === 'loading') await this.#document.loaded
    return this.#document.state === 'failed' ? this.#document.error : undefined
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    this.#served++
    let request: PrototypeRequest
    try {
      request = await readPrototypeRequest(exchange, signal)
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error
      const message = `A prototype reads request bodies of up to ${MAX_PROTOTYPE_BODY_BYTES} bytes`
      return toBackendResponse(problemResponse(413, 'PROTOTYPE_BODY_TOO_LARGE', message, exchange.requestId), exchange.method)
    }
    return toBackendResponse(await this.#respond(request, exchange.route.uriTemplate, signal), exchange.method)
  }

  async #respond(request: PrototypeRequest, uriTemplate: string, signal: AbortSignal): Promise<PrototypeResponse> {
    for (const candidate of this.#resources.get(uriTemplate) ?? []) {
      if (candidate.methods && !candidate.methods.has(request.method)) continue
      if (candidate.answer instanceof ScriptSandbox) return this.#runScript(candidate.answer, request, signal)
      const response = await candidate.answer.respond(request, signal)
      if (response) return response
    }
    let document = this.#document
    if (document.state === 'loading') {
      await document.loaded
      document = this.#document
    }
    if (document.state === 'failed') return problemResponse(503, 'PROTOTYPE_UNAVAILABLE', document.error, request.requestId)
    if (document.state === 'ready') {
      const response = document.document.respond(request, this.#config.validateRequests)
      if (response) return response
    }
    return problemResponse(501, 'PROTOTYPE_NO_RESPONSE', `The prototype has no response for ${request.method} ${request.path}`, request.requestId)
  }

  async #runScript(sandbox: ScriptSandbox, request: PrototypeRequest, signal: AbortSignal): Promise<PrototypeResponse> {
    try {
      return await sandbox.respond(request, signal)
    } catch (error) {
      if (error instanceof SandboxBusy) return problemResponse(503, 'PROTOTYPE_BUSY', `The prototype's script was not run: ${error.message}`, request.requestId)
      if (!(error instanceof ScriptFailure)) throw error
      this.#scriptFailures++
      return problemResponse(500, 'PROTOTYPE_SCRIPT_FAILED', `The prototype's script failed: ${error.message}`, request.requestId)
    }
  }

  /** Always: a document that failed to load is answered with 503 PROTOTYPE_UNAVAILABLE, saying why. */
  ready(): boolean {
    return true
  }

  describe(): EndpointStatus {
    const status: EndpointStatus = {
      id: this.id,
      type: 'prototype',
      state: this.#document.state === 'failed' ? 'failed' : this.#document.state === 'loading' ? 'loading' : 'active',
      resources: this.#config.resources.length,
      served: this.#served,
      scriptFailures: this.#scriptFailures,
    }
    if (this.#config.openapi !== undefined) status.openapi = this.#config.openapi
    if (this.#document.state === 'ready') {
      const operations = this.#document.document.operations()
      status.operations = operations.length
      // What the console's "try it" offers for this API (bounded: a document may describe thousands).
      status.documentedOperations = operations.slice(0, MAX_DESCRIBED_OPERATIONS)
    }
    if (this.#document.state === 'failed') status.error = this.#document.error
    return status
  }

  async close(): Promise<void> {}
}

function methodSet(methods: readonly string[]): ReadonlySet<string> {
  const set = new Set(methods)
  if (set.has('GET')) set.add('HEAD')
  return set
}

function answerFor(resource: PrototypeResourceConfig, config: PrototypeEndpointConfig): StaticResponses | ScriptSandbox {
  return resource.script !== undefined ? new ScriptSandbox(resource.script, config.scriptLimits) : new StaticResponses(resource.responses ?? [])
}
