import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Readable } from 'node:stream'
import { servesLiveTraffic } from '../config/lifecycle.ts'
import type { Environment, ListenerConfig } from '../config/schema.ts'
import { EndpointError, type BackendResponse, type ClientCertificate, type Consumer, type Endpoint, type Exchange } from '../core/endpoint.ts'
import { readBody } from '../core/body.ts'
import { classifyFailure } from '../core/failure.ts'
import { GroupFailure } from '../resilience/attempts.ts'
import type { ApiFilter, FilterAnswer, FilterContext, FilterStop } from '../core/filter.ts'
import type { ExchangeTrace } from '../core/trace.ts'
import type { AccessLog } from '../telemetry/access-log.ts'
import type { TrafficAnalytics } from '../telemetry/analytics.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { GatewayMetrics } from '../telemetry/metrics.ts'
import type { RequestTrace, Tracing } from '../telemetry/tracing.ts'
import type { CompiledApi, CompiledResource } from './api.ts'
import { errorCodeForFailure, GATEWAY_ERRORS, sendError, type GatewayErrorCode } from '../core/errors.ts'
import { backendRequestHeaders, cameBackThroughVia, clientRequestId, clientResponseHeaders, ENVIRONMENT_HEADER, hostProblem, requestHost, withoutHeaders } from '../core/headers.ts'
import type { Snapshot } from './snapshot.ts'
import { FRAGMENT_PROBLEM, pathProblem } from './request-target.ts'
import { verifiedClientCertificate } from './tls.ts'
import { BadPathEncoding } from '../core/uri-template.ts'

/** Header values that list the token `upgrade` or `websocket` (case-insensitive, RFC 6455 section 4.2.1). */
const UPGRADE_TOKEN = /(?:^|,)\s*upgrade\s*(?:,|$)/i
const WEBSOCKET_TOKEN = /(?:^|,)\s*websocket\s*(?:,|$)/i

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
  consumer: Consumer | undefined
  code: GatewayErrorCode | undefined
  policy: string | undefined
  upstreamMs: number | undefined
  /** The request's trace, when tracing is on. */
  readonly trace: RequestTrace | undefined
  /** Aborts the backend request when the client leaves first; set once a backend may be called. */
  controller: AbortController | undefined
  /** The backend's body while it is relayed to the client, released when the client leaves first. */
  relayed: Readable | undefined
}

/** Runs every request of one listener through route → lifecycle → environment → endpoint → response. */
export class RequestPipeline {
  readonly #snapshot: () => Snapshot
  readonly #listener: ListenerConfig
  readonly #maxHeaderFields: number
  readonly #telemetry: Telemetry
  readonly #filterContext: FilterContext
  /** The latest answer on each HTTP/1.0 connection. */
  readonly #http10Answers = new WeakMap<Socket, ServerResponse>()
  readonly #scheme: 'http' | 'https'

  constructor(snapshot: () => Snapshot, listener: ListenerConfig, maxHeaders: number, telemetry: Telemetry) {
    this.#snapshot = snapshot
    this.#listener = listener
    this.#maxHeaderFields = maxHeaders * 2
    this.#telemetry = telemetry
    this.#filterContext = { logger: telemetry.logger }
    this.#scheme = listener.tls ? 'https' : 'http'
  }

  /**
   * Takes a request of either protocol. HTTP/2's compatibility API answers to everything the pipeline uses of a
   * ServerResponse (writeHead with a flat list, end, destroy, addTrailers, writeContinue, headersSent,
   * writableEnded); what differs on the request (pseudo-headers, :authority, no Content-Length) is handled below.
   */
  readonly handle = (request: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse): void => {
    const req = request as IncomingMessage
    const res = response as ServerResponse
    // HTTP/1.0 has no chunked encoding, so an answer of unknown length ends the connection, and a request
    // pipelined behind it would reach the backend yet never be answered. Such a request waits for the answer
    // before it, and is dropped, unforwarded, when that answer closes the connection. (HTTP/2 reports 2.0.)
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) {
      const previous = this.#http10Answers.get(req.socket)
      this.#http10Answers.set(req.socket, res)
      if (previous && !previous.writableFinished) {
        previous.once('close', () => {
          if (previous.writableFinished && previous.shouldKeepAlive) this.#start(req, res)
        })
        return
      }
    }
    this.#start(req, res)
  }

  #start(req: IncomingMessage, res: ServerResponse): void {
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
      consumer: undefined,
      code: undefined,
      policy: undefined,
      upstreamMs: undefined,
      trace: this.#telemetry.tracing?.startRequest(req.headers, method, path, client),
      controller: undefined,
      relayed: undefined,
    }
    // The whole exchange runs on the snapshot it started with; a reload closes what it retires only after this.
    const snapshot = this.#snapshot()
    snapshot.enter()
    // The one listener for the end of the exchange, however it ended: one closure per request instead of one
    // for each thing to release. `on`, not `once`: a response closes once, and `once` binds a wrapper each time.
    res.on('close', () => {
      snapshot.leave()
      this.#finish(res, outcome)
      // writableEnded, not writableFinished: HTTP/2's response reports itself finished when its stream is reset.
      if (!res.writableEnded) outcome.controller?.abort()
      const relayed = outcome.relayed
      if (relayed !== undefined && !relayed.readableEnded) relayed.destroy()
    })
    this.#exchange(snapshot, req, res, outcome, queryAt < 0 ? '' : url.slice(queryAt + 1)).catch((error: unknown) => {
      this.#telemetry.logger.error({ err: error, requestId: outcome.requestId }, 'request failed inside the gateway')
      this.#fail(res, outcome, 'INTERNAL_ERROR')
    })
  }

  async #exchange(snapshot: Snapshot, req: IncomingMessage, res: ServerResponse, outcome: Outcome, query: string): Promise<void> {
    const http2 = req.httpVersionMajor === 2
    // HTTP/2's four pseudo-headers (:method, :path, :scheme, :authority) are not among the fields a client may send.
    if (req.rawHeaders.length - (http2 ? 8 : 0) > this.#maxHeaderFields) return this.#fail(res, outcome, 'HEADERS_TOO_LARGE')
    const badHost = hostProblem(req)
    if (badHost) return this.#fail(res, outcome, 'BAD_REQUEST', badHost)
    const upgrade = req.headers.upgrade
    // An upgrade is asked for only with `Connection: upgrade`; a lone Upgrade header is just hop-by-hop.
    if (upgrade !== undefined && UPGRADE_TOKEN.test(req.headers.connection ?? '')) {
      // node parses nothing more on a connection after a request that asks to switch protocols, so the answer
      // closes it: bytes sent after it are never left waiting.
      res.shouldKeepAlive = false
      // Relaying WebSocket needs the endpoint contract to hand over a connection, not a response: refused until
      // it does. Any other upgrade (h2c) is ignored, as RFC 9110 section 7.8 allows, and served over HTTP/1.1.
      if (WEBSOCKET_TOKEN.test(upgrade)) {
        return this.#fail(res, outcome, 'UPGRADE_NOT_SUPPORTED', 'This gateway does not relay WebSocket connections; the request was not forwarded')
      }
    }
    if (cameBackThroughVia(req)) {
      return this.#fail(res, outcome, 'LOOP_DETECTED', "The request already passed through this gateway (its own Via entry): an endpoint's URL or a dynamic endpoint's allow-list reaches the gateway itself")
    }
    const path = outcome.path
    const badPath = pathProblem(path) ?? (query.includes('#') ? FRAGMENT_PROBLEM : undefined)
    if (badPath) return this.#fail(res, outcome, 'BAD_REQUEST', badPath)
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

    // On an API with consumer authentication the consumer's key type chooses, after the filters; a header never does.
    const environment = resource.choosesEnvironment ? this.#listener.environment : this.#environment(req)
    if (!environment) {
      return this.#fail(res, outcome, 'BAD_REQUEST', `${ENVIRONMENT_HEADER} must be "production" or "sandbox"`)
    }
    let endpoint: Endpoint | undefined
    if (!resource.choosesEnvironment) {
      endpoint = this.#endpoint(res, outcome, api, resource, environment)
      if (!endpoint) return
    }

    if (req.headers.expect !== undefined) res.writeContinue()
    const controller = new AbortController()
    outcome.controller = controller
    let body: Readable | Buffer | null = hasBody(req, http2) ? req : null
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
      headers: backendRequestHeaders(req, outcome.requestId, outcome.client, this.#scheme),
      body,
      route: resource.route,
      environment,
      properties: new Map(),
      target: undefined,
      client: { address: outcome.client, protocol: this.#scheme, host: requestHost(req) ?? '' },
      clientCertificate: this.#listener.tls?.clientCertificates ? clientCertificate(req, http2) : undefined,
      trace: outcome.trace?.exchange,
    }
    const forwardHeader = this.#listener.tls?.clientCertificates?.forwardHeader
    if (forwardHeader) forwardClientCertificate(exchange, forwardHeader)

    const filters = resource.filters
    const trace = exchange.trace
    for (let i = 0; i < filters.length; i++) {
      const filter = filters[i]!
      if (!filter.request) continue
      let stop = trace === undefined ? filter.request(exchange, this.#filterContext) : this.#traced(filter, 'request', trace, () => filter.request!(exchange, this.#filterContext))
      // Only a promise is awaited: an await of anything suspends the request for a turn of the microtask queue.
      if (stop instanceof Promise) stop = await stop
      if (stop) {
        outcome.consumer = exchange.consumer
        return this.#stop(res, outcome, stop)
      }
    }
    outcome.consumer = exchange.consumer
    if (!endpoint) {
      endpoint = this.#endpoint(res, outcome, api, resource, exchange.environment)
      if (!endpoint) return
    }
    // A mediation `rewrite` may build the path from properties, which come from the client's headers or body: it
    // must not climb out of the endpoint's base path either.
    if (exchange.path !== route.rest) {
      const badRewrite = pathProblem(exchange.path)
      if (badRewrite) return this.#fail(res, outcome, 'BAD_REQUEST', `The path this API's mediation rewrote the request to is refused: ${badRewrite}`)
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
        stop = trace === undefined ? filter.response(exchange, response, this.#filterContext) : this.#traced(filter, 'response', trace, () => filter.response!(exchange, response, this.#filterContext))
        if (stop instanceof Promise) stop = await stop
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
    // `on`: a body fails once (it is destroyed then), and `once` would bind a wrapper on every request.
    response.body.on('error', (error) => {
      if (!controller.signal.aborted) {
        const failure = classifyFailure(error, endpoint.id)
        this.#telemetry.metrics.upstreamError(failure.endpointId, failure.kind)
        // Logged as the 502 it would have been had the headers not been sent already, not as a client's 499.
        outcome.code = errorCodeForFailure(failure.kind)
      }
      // A broken body cuts the client's connection: the client must not take a truncated body for a whole one.
      res.destroy()
    })
    outcome.relayed = response.body
    // Trailers come after a body of unknown length (chunked, or HTTP/2 without Content-Length): only then is the
    // relay's extra step of waiting for the body's end worth taking.
    relay(response.body, res, response.headers['content-length'] === undefined ? response.trailers : undefined)
  }

  /** The resource's endpoint for the environment, checked against the API's lifecycle; undefined once it failed the request. */
  #endpoint(res: ServerResponse, outcome: Outcome, api: CompiledApi, resource: CompiledResource, environment: Environment): Endpoint | undefined {
    outcome.environment = environment
    const endpoint = resource.endpoints[environment]
    if (!endpoint) {
      this.#fail(res, outcome, 'ENVIRONMENT_NOT_CONFIGURED', `API ${api.key} has no ${environment} endpoint`)
      return undefined
    }
    outcome.endpoint = endpoint
    if (servesLiveTraffic(api.lifecycle) === endpoint.isPrototype) {
      if (endpoint.isPrototype) this.#fail(res, outcome, 'PROTOTYPE_NOT_SERVED', `API ${api.key} is ${api.lifecycle}; its prototype endpoint no longer serves it`)
      else this.#fail(res, outcome, 'API_NOT_PUBLISHED', `API ${api.key} is ${api.lifecycle}; only a prototype endpoint serves it until it is published`)
      return undefined
    }
    return endpoint
  }

  /** A filter's hook in a span of its own, so any filter shows in the trace. Only traced exchanges come here. */
  async #traced(filter: ApiFilter, hook: 'request' | 'response', trace: ExchangeTrace, run: () => FilterAnswer): Promise<FilterStop | undefined> {
    const span = trace.begin(`${filter.name ?? 'filter'} ${hook}`, 'internal', { 'portico.filter': filter.name ?? 'filter' })
    try {
      const stop = await run()
      // A reply of the filter's own (a mediation `respond`) is an answer, not a failure.
      if (stop && 'code' in stop) span.fail(stop.code, stop.message)
      else if (stop && hook === 'request') span.set('portico.filter.replied', stop.reply.status)
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
    if ('code' in stop) {
      outcome.policy = stop.policy
      return this.#fail(res, outcome, stop.code, stop.message, stop.headers)
    }
    const { status, headers, body } = stop.reply
    const lifecycle = outcome.api?.lifecycleHeaders ?? []
    res.writeHead(status, [...headers, 'content-length', String(body.length), 'x-request-id', outcome.requestId, ...lifecycle])
    res.end(body)
  }

  #fail(res: ServerResponse, outcome: Outcome, code: GatewayErrorCode, message?: string, headers?: readonly string[]): void {
    outcome.code = code
    const api = outcome.api
    const apiHeaders = api?.errorHeaders ? [...api.lifecycleHeaders, ...api.errorHeaders(outcome.requestHeaders)] : api?.lifecycleHeaders ?? []
    const formatter = api?.errorFormatter
    const format = formatter && { formatter, requestHeaders: outcome.requestHeaders }
    sendError(res, code, outcome.requestId, message, headers ? [...headers, ...apiHeaders] : apiHeaders, format, outcome.trace?.traceId)
  }

  #finish(res: ServerResponse, outcome: Outcome): void {
    const status = res.writableEnded && res.writableFinished ? res.statusCode : outcome.code ? GATEWAY_ERRORS[outcome.code].status : CLIENT_CLOSED
    const durationMs = performance.now() - outcome.start
    const apiKey = outcome.api?.key ?? ''
    const template = outcome.resource?.route.uriTemplate ?? ''
    this.#telemetry.metrics.request(apiKey, template, outcome.method, status, durationMs / 1000)
    this.#telemetry.analytics?.record(apiKey, template, outcome.consumer?.application ?? '', durationMs, outcome.code ?? (status >= 500 ? String(status) : undefined))
    const trace = outcome.trace
    if (trace) trace.end(status, outcome.resource && `${outcome.path.slice(0, outcome.path.length - outcome.resourcePath.length)}${template}`, outcome.code)
    this.#telemetry.accessLog?.write({
      time: Date.now(),
      requestId: outcome.requestId,
      traceId: trace?.traceId,
      method: outcome.method,
      path: outcome.path,
      status,
      api: outcome.api?.key,
      resource: outcome.resource?.route.uriTemplate,
      endpoint: outcome.endpoint?.id,
      environment: outcome.environment,
      // Who called, never with what: the credential stays out of every log.
      subject: outcome.consumer?.subject,
      application: outcome.consumer?.application,
      code: outcome.code,
      policy: outcome.policy,
      client: outcome.client,
      durationMs: Math.round(durationMs * 1000) / 1000,
      upstreamMs: outcome.upstreamMs === undefined ? undefined : Math.round(outcome.upstreamMs * 1000) / 1000,
    })
  }
}

/**
 * Streams the backend's body to the client with backpressure. What stream.pipeline does here, without the
 * AbortController it aborts on every finish: that abort builds a DOMException with a stack trace, 8 % of the
 * gateway's CPU on small GETs. The exchange's own listeners do the rest: a broken body cuts the client's
 * connection (the body's `error`), and a client that leaves releases the body (the response's `close`).
 */
function relay(body: Readable, res: ServerResponse, trailers: Record<string, string> | undefined): void {
  // The response's `close`, which follows its error, releases the body; this only keeps an error from going unheard.
  res.on('error', ignore)
  if (!trailers) {
    body.pipe(res)
    return
  }
  // The backend's trailers are known only once its body has ended; they go out after the last chunk (HTTP/1.1
  // clients get them on a chunked response, HTTP/2 clients always).
  body.pipe(res, { end: false })
  body.once('end', () => {
    const fields = clientTrailers(trailers)
    if (fields) res.addTrailers(fields)
    res.end()
  })
}

function ignore(): void {}

/** Trailer fields that may be passed on: none a proxy must drop, nothing HTTP/2 forbids in trailers. */
function clientTrailers(trailers: Record<string, string>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined
  for (const name in trailers) {
    if (name.startsWith(':') || TRAILERS_NEVER_PASSED.has(name)) continue
    ;(out ??= {})[name] = trailers[name]!
  }
  return out
}

const TRAILERS_NEVER_PASSED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'te', 'trailer', 'upgrade'])

/** The client certificate the listener verified on this request's connection (the TLS socket under HTTP/2's session). */
function clientCertificate(req: IncomingMessage, http2: boolean): ClientCertificate | undefined {
  const socket = http2 ? (req as unknown as Http2ServerRequest).stream.session!.socket : req.socket
  return verifiedClientCertificate(socket as TLSSocket)
}

/** Replaces whatever the client sent in `header` with the verified certificate, or nothing, so none can forge it. */
function forwardClientCertificate(exchange: Exchange, header: string): void {
  exchange.headers = withoutHeaders(exchange.headers, new Set([header]))
  const certificate = exchange.clientCertificate
  if (!certificate) return
  const hash = certificate.fingerprint256.replaceAll(':', '').toLowerCase()
  exchange.headers.push(header, `Hash=${hash};Subject="${certificate.subject.replaceAll(', ', ',').replaceAll('"', '\\"')}"`)
}

/** Whether a response to `method` with `status` has a body to pass on; HEAD's headers describe one never sent. */
function carriesBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304 && status >= 200
}

function hasBody(req: IncomingMessage, http2: boolean): boolean {
  // HTTP/2 needs no Content-Length: a request has a body unless its HEADERS frame ended the stream.
  if (http2) return !(req as unknown as Http2ServerRequest).stream.endAfterHeaders
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
