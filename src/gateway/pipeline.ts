import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { servesLiveTraffic } from '../config/lifecycle.ts'
import type { Environment, ListenerConfig } from '../config/schema.ts'
import { EndpointError, type BackendResponse, type Endpoint, type Exchange } from '../core/endpoint.ts'
import { readBody } from '../core/body.ts'
import { classifyFailure } from '../core/failure.ts'
import { GroupFailure } from '../resilience/attempts.ts'
import type { ApiFilter, FilterContext, FilterStop } from '../core/filter.ts'
import type { ExchangeTrace } from '../core/trace.ts'
import type { AccessLog } from '../telemetry/access-log.ts'
import type { TrafficAnalytics } from '../telemetry/analytics.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { GatewayMetrics } from '../telemetry/metrics.ts'
import type { RequestTrace, Tracing } from '../telemetry/tracing.ts'
import type { CompiledApi, CompiledResource } from './api.ts'
import { errorCodeForFailure, GATEWAY_ERRORS, sendError, type GatewayErrorCode } from '../core/errors.ts'
import { backendRequestHeaders, clientRequestId, clientResponseHeaders, ENVIRONMENT_HEADER, hostProblem } from '../core/headers.ts'
import type { Snapshot } from './snapshot.ts'
import { BadPathEncoding } from '../core/uri-template.ts'

/** `.` and `..` segments, plain or percent-encoded: refused rather than resolved, so no path climbs out of an API. */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i

/** Status logged when the client went away before the response was complete (nginx's convention). */
const CLIENT_CLOSED = 499

export interface Telemetry {
  metrics: GatewayMetrics
  accessLog: AccessLog | undefined
  logger: Logger
  /** Present when `telemetry.tracing` is set. */
  tracing?: Tracing | undefined
  /** Present when `telemetry.analytics.enabled`. */
  analytics?: TrafficAnalytics | undefined
}

/** What one exchange learned, for its access-log line and metrics. */
interface Outcome {
  readonly start: number
  readonly requestId: string
  readonly method: string
  readonly path: string
  readonly client: string
  readonly requestHeaders: IncomingHttpHeaders
  api: CompiledApi | undefined
  resource: CompiledResource | undefined
  /** The path below the API's base path, once routed. */
  resourcePath: string
  endpoint: Endpoint | undefined
  environment: Environment | undefined
  code: GatewayErrorCode | undefined
  upstreamMs: number | undefined
  /** The request's trace, when tracing is on. */
  readonly trace: RequestTrace | undefined
  /** The exchange once built: analytics read the consumer's application from it. */
  exchange: Exchange | undefined
}

/** Runs every request of one listener through route → lifecycle → environment → endpoint → response. */
export class RequestPipeline {
  readonly #snapshot: () => Snapshot
  readonly #listener: ListenerConfig
  readonly #maxHeaderFields: number
  readonly #telemetry: Telemetry
  readonly #filterContext: FilterContext

  constructor(snapshot: () => Snapshot, listener: ListenerConfig, maxHeaders: number, telemetry: Telemetry) {
    this.#snapshot = snapshot
    this.#listener = listener
    this.#maxHeaderFields = maxHeaders * 2
    this.#telemetry = telemetry
    this.#filterContext = { logger: telemetry.logger }
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? ''
    const queryAt = url.indexOf('?')
    const method = req.method ?? 'GET'
    const path = queryAt < 0 ? url : url.slice(0, queryAt)
    const client = req.socket.remoteAddress ?? ''
    const outcome: Outcome = {
      start: performance.now(),
      requestId: clientRequestId(req) ?? randomUUID(),
      method,
      path,
      client,
      requestHeaders: req.headers,
      api: undefined,
      resource: undefined,
      resourcePath: '',
      endpoint: undefined,
      environment: undefined,
      code: undefined,
      upstreamMs: undefined,
      trace: this.#telemetry.tracing?.startRequest(req.headers, method, path, client),
      exchange: undefined,
    }
    // The whole exchange runs on the snapshot it started with; a reload closes what it retires only after this.
    const snapshot = this.#snapshot()
    snapshot.enter()
    res.once('close', () => {
      snapshot.leave()
      this.#finish(res, outcome)
    })
    this.#exchange(snapshot, req, res, outcome, queryAt < 0 ? '' : url.slice(queryAt + 1)).catch((error: unknown) => {
      this.#telemetry.logger.error({ err: error, requestId: outcome.requestId }, 'request failed inside the gateway')
      this.#fail(res, outcome, 'INTERNAL_ERROR')
    })
  }

  async #exchange(snapshot: Snapshot, req: IncomingMessage, res: ServerResponse, outcome: Outcome, query: string): Promise<void> {
    if (req.rawHeaders.length > this.#maxHeaderFields) return this.#fail(res, outcome, 'HEADERS_TOO_LARGE')
    const badHost = hostProblem(req)
    if (badHost) return this.#fail(res, outcome, 'BAD_REQUEST', badHost)
    const path = outcome.path
    if (path.charCodeAt(0) !== 47 || DOT_SEGMENT.test(path)) {
      return this.#fail(res, outcome, 'BAD_REQUEST', 'The request target must be an absolute path without "." or ".." segments')
    }
    const route = snapshot.router.find(path)
    if (!route) return this.#fail(res, outcome, 'NO_ROUTE')
    const api = route.api
    outcome.api = api
    outcome.resourcePath = route.rest
    if (api.lifecycle === 'RETIRED') return this.#fail(res, outcome, 'API_RETIRED', `API ${api.key} is retired`)
    if (api.lifecycle === 'BLOCKED') return this.#fail(res, outcome, 'API_BLOCKED', `API ${api.key} is blocked`)

    let match
    try {
      match = api.match(outcome.method, route.rest || '/')
    } catch (error) {
      if (!(error instanceof BadPathEncoding)) throw error
      return this.#fail(res, outcome, 'BAD_REQUEST', `The path has ${error.message}`)
    }
    if (!match) return this.#fail(res, outcome, 'RESOURCE_NOT_FOUND', `API ${api.key} has no resource for ${route.rest || '/'}`)
    if (!('resource' in match)) {
      const allow = match.allowed.join(', ')
      return this.#fail(res, outcome, 'METHOD_NOT_ALLOWED', `${route.rest || '/'} accepts ${allow}`, ['allow', allow])
    }
    const resource = match.resource
    outcome.resource = resource

    const environment = this.#environment(req)
    if (!environment) {
      return this.#fail(res, outcome, 'BAD_REQUEST', `${ENVIRONMENT_HEADER} must be "production" or "sandbox"`)
    }
    outcome.environment = environment
    const endpoint = resource.endpoints[environment]
    if (!endpoint) {
      return this.#fail(res, outcome, 'ENVIRONMENT_NOT_CONFIGURED', `API ${api.key} has no ${environment} endpoint`)
    }
    outcome.endpoint = endpoint
    if (servesLiveTraffic(api.lifecycle) === endpoint.isPrototype) {
      return endpoint.isPrototype
        ? this.#fail(res, outcome, 'PROTOTYPE_NOT_SERVED', `API ${api.key} is ${api.lifecycle}; its prototype endpoint no longer serves it`)
        : this.#fail(res, outcome, 'API_NOT_PUBLISHED', `API ${api.key} is ${api.lifecycle}; only a prototype endpoint serves it until it is published`)
    }

    if (req.headers.expect !== undefined) res.writeContinue()
    const controller = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) controller.abort()
    })
    let body: Readable | Buffer | null = hasBody(req) ? req : null
    const declared = Number(req.headers['content-length'])
    if (body && declared <= snapshot.config.limits.inMemoryBodyBytes && req.headers['transfer-encoding'] === undefined) {
      // A small body is read first and sent as one buffer. Streamed, each one cost the gateway some 40 µs of
      // garbage collection (its chunks outlived young-generation collections); it is also ready for a replay.
      try {
        body = await readBody(req, declared, { declaredLength: declared, signal: controller.signal })
      } catch {
        if (controller.signal.aborted) return
        return this.#fail(res, outcome, 'BAD_REQUEST', 'The request body ended before its Content-Length')
      }
    }
    const exchange: Exchange = {
      requestId: outcome.requestId,
      method: outcome.method,
      path: route.rest,
      basePath: path.slice(0, path.length - route.rest.length),
      query,
      uriVariables: match.variables,
      headers: backendRequestHeaders(req, outcome.requestId, outcome.client, 'http'),
      body,
      route: resource.route,
      environment,
      properties: new Map(),
      target: undefined,
      client: { address: outcome.client, protocol: 'http', host: req.headers.host ?? '' },
      trace: outcome.trace?.exchange,
    }
    outcome.exchange = exchange

    const filters = resource.filters
    const trace = exchange.trace
    for (let i = 0; i < filters.length; i++) {
      const filter = filters[i]!
      if (!filter.request) continue
      const stop = trace === undefined ? await filter.request(exchange, this.#filterContext) : await this.#tracedRequest(filter, exchange, trace)
      if (stop) return this.#stop(res, outcome, stop)
    }

    const sentAt = performance.now()
    let response
    try {
      response = await endpoint.send(exchange, controller.signal)
    } catch (error) {
      const failure = classifyFailure(error, endpoint.id)
      this.#telemetry.metrics.upstreamError(failure.endpointId, failure.kind)
      if (controller.signal.aborted) return
      // A failure that still carries the backend's answer (a SOAP Fault counted as a failure) passes it on.
      if (!failure.response) return this.#fail(res, outcome, errorCodeForFailure(failure.kind), publicMessage(failure))
      response = failure.response
    }
    outcome.upstreamMs = performance.now() - sentAt
    this.#telemetry.metrics.upstream(endpoint.id, outcome.upstreamMs / 1000)
    for (let i = filters.length - 1; i >= 0; i--) {
      const filter = filters[i]!
      if (!filter.response) continue
      let stop
      try {
        stop = trace === undefined ? await filter.response(exchange, response, this.#filterContext) : await this.#tracedResponse(filter, exchange, response, trace)
      } catch (error) {
        // The backend's body would otherwise hold its pooled connection until the idle timeout.
        response.body?.destroy()
        throw error
      }
      if (stop) return this.#stop(res, outcome, stop)
    }
    // RFC 9110 section 8.6: a 204 has no Content-Length, whatever the backend said.
    if (response.status === 204) delete response.headers['content-length']
    res.writeHead(response.status, clientResponseHeaders(response.headers, outcome.requestId, api.lifecycleHeaders))
    if (!response.body || !carriesBody(outcome.method, response.status)) {
      // Whatever a backend sends after a 204 or 304 is not a body (RFC 9110 section 6.4.1): the client gets none.
      response.body?.on('error', () => {}).resume()
      res.end()
      return
    }
    // On the body itself, so that it is known before the pipeline closes the client's response and logs it.
    response.body.once('error', (error) => {
      if (controller.signal.aborted) return
      const failure = classifyFailure(error, endpoint.id)
      this.#telemetry.metrics.upstreamError(failure.endpointId, failure.kind)
      // Logged as the 502 it would have been had the headers not been sent already, not as a client's 499.
      outcome.code = errorCodeForFailure(failure.kind)
    })
    relay(response.body, res)
  }

  /** A filter's request hook in a span of its own, so any filter shows in the trace. */
  async #tracedRequest(filter: ApiFilter, exchange: Exchange, trace: ExchangeTrace): Promise<FilterStop | undefined> {
    const span = trace.begin(`${filter.name ?? 'filter'} request`, 'internal', { 'portico.filter': filter.name ?? 'filter' })
    try {
      const stop = await filter.request!(exchange, this.#filterContext)
      // A reply of the filter's own (a mediation `respond`) is an answer, not a failure.
      if (stop && 'code' in stop) span.fail(stop.code, stop.message)
      else if (stop) span.set('portico.filter.replied', stop.reply.status)
      return stop
    } catch (error) {
      span.fail((error as Error).name ?? 'Error')
      throw error
    } finally {
      span.end()
    }
  }

  async #tracedResponse(filter: ApiFilter, exchange: Exchange, response: BackendResponse, trace: ExchangeTrace): Promise<FilterStop | undefined> {
    const span = trace.begin(`${filter.name ?? 'filter'} response`, 'internal', { 'portico.filter': filter.name ?? 'filter' })
    try {
      const stop = await filter.response!(exchange, response, this.#filterContext)
      if (stop && 'code' in stop) span.fail(stop.code, stop.message)
      return stop
    } catch (error) {
      span.fail((error as Error).name ?? 'Error')
      throw error
    } finally {
      span.end()
    }
  }

  /** The environment the request asked for, the listener's otherwise; undefined when the ask is invalid. */
  #environment(req: IncomingMessage): Environment | undefined {
    const asked = this.#listener.environmentHeader ? req.headers[ENVIRONMENT_HEADER] : undefined
    if (asked === undefined) return this.#listener.environment
    return asked === 'production' || asked === 'sandbox' ? asked : undefined
  }

  /** Ends the exchange as a filter decided: its reply (a mediation `respond`), or an error. */
  #stop(res: ServerResponse, outcome: Outcome, stop: FilterStop): void {
    if ('code' in stop) return this.#fail(res, outcome, stop.code, stop.message, stop.headers)
    const { status, headers, body } = stop.reply
    const lifecycle = outcome.api?.lifecycleHeaders ?? []
    res.writeHead(status, [...headers, 'content-length', String(body.length), 'x-request-id', outcome.requestId, ...lifecycle])
    res.end(body)
  }

  #fail(res: ServerResponse, outcome: Outcome, code: GatewayErrorCode, message?: string, headers?: readonly string[]): void {
    outcome.code = code
    const lifecycle = outcome.api?.lifecycleHeaders ?? []
    const formatter = outcome.api?.errorFormatter
    const format = formatter && { formatter, requestHeaders: outcome.requestHeaders }
    sendError(res, code, outcome.requestId, message, headers ? [...headers, ...lifecycle] : lifecycle, format, outcome.trace?.traceId)
  }

  #finish(res: ServerResponse, outcome: Outcome): void {
    const status = res.writableFinished ? res.statusCode : outcome.code ? GATEWAY_ERRORS[outcome.code].status : CLIENT_CLOSED
    const durationMs = performance.now() - outcome.start
    const apiKey = outcome.api?.key ?? ''
    const template = outcome.resource?.route.uriTemplate ?? ''
    this.#telemetry.metrics.request(apiKey, template, outcome.method, status, durationMs / 1000)
    this.#telemetry.analytics?.record(apiKey, template, application(outcome.exchange), durationMs, outcome.code ?? (status >= 500 ? String(status) : undefined))
    const trace = outcome.trace
    if (trace) trace.end(status, outcome.resource && `${outcome.path.slice(0, outcome.path.length - outcome.resourcePath.length)}${template}`, outcome.code)
    this.#telemetry.accessLog?.write({
      requestId: outcome.requestId,
      traceId: trace?.traceId,
      method: outcome.method,
      path: outcome.path,
      status,
      api: outcome.api?.key,
      resource: outcome.resource?.route.uriTemplate,
      endpoint: outcome.endpoint?.id,
      environment: outcome.environment,
      code: outcome.code,
      client: outcome.client,
      durationMs: Math.round(durationMs * 1000) / 1000,
      upstreamMs: outcome.upstreamMs === undefined ? undefined : Math.round(outcome.upstreamMs * 1000) / 1000,
    })
  }
}

/**
 * Streams the backend's body to the client with backpressure; a broken body cuts the client's connection, and a
 * client that leaves releases the body. What stream.pipeline does here, without the AbortController it aborts on
 * every finish: that abort builds a DOMException with a stack trace, 8 % of the gateway's CPU on small GETs.
 */
function relay(body: Readable, res: ServerResponse): void {
  body.once('error', () => res.destroy())
  res.once('error', () => body.destroy())
  res.once('close', () => {
    if (!body.readableEnded) body.destroy()
  })
  body.pipe(res)
}

/** Whether a response to `method` with `status` has a body to pass on; HEAD's headers describe one never sent. */
function carriesBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304 && status >= 200
}

/**
 * The consuming application, when consumer authentication put one on the exchange (`exchange.consumer`, added by
 * the access filters); '' otherwise. Read loosely, so analytics work with or without those filters.
 */
function application(exchange: Exchange | undefined): string {
  const consumer = (exchange as { consumer?: { application?: unknown } } | undefined)?.consumer
  return typeof consumer?.application === 'string' ? consumer.application : ''
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/** A failure's message for the client: what failed and why, without internals such as stack traces. */
function publicMessage(failure: EndpointError): string {
  const base = GATEWAY_ERRORS[errorCodeForFailure(failure.kind)].message
  // A group's message lists each endpoint it tried and how that one failed.
  if (failure instanceof GroupFailure) return `${base} (endpoint ${failure.message})`
  const reason = failure.reason ? `: ${failure.reason}` : ''
  return `${base} (endpoint ${failure.endpointId}: ${failure.kind})${reason}`
}
