import { randomUUID } from 'node:crypto'
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createSecureServer as createHttp2SecureServer, createServer as createH2cServer, type Http2Session, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import { createServer as createHttpsServer } from 'node:https'
import type { Server as NetServer, Socket } from 'node:net'
import type { Server as TlsServer } from 'node:tls'
import type { ConfigModel, ListenerConfig } from '../config/schema.ts'
import type { ListenerTlsConfig } from '../security/listener-tls-schema.ts'
import { errorBody, GATEWAY_ERRORS, sendError, type GatewayErrorCode } from '../core/errors.ts'
import { hostProblem } from '../core/headers.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { RequestPipeline } from './pipeline.ts'
import { ListenerCertificates } from './tls.ts'

type Limits = ConfigModel['limits']

/** One listener's server: HTTP/1.1, HTTPS with HTTP/2 by ALPN, cleartext HTTP/2, or a redirect to HTTPS. */
export interface ListenerServer {
  readonly server: NetServer
  readonly scheme: 'http' | 'https'
  /** Re-reads the certificates (SIGHUP, a reloaded config); false when the new ones are refused and the old kept. */
  reloadCertificates(config?: ListenerTlsConfig): boolean
  /** Stops accepting, lets requests in flight finish, closes idle connections; cuts the rest after `graceMs`. */
  close(graceMs: number): Promise<void>
}

/**
 * The server for one listener, with the limits that keep bad clients from hurting the gateway. `at` is the
 * listener's config path (`['listeners', 0]`); a certificate that cannot serve throws TlsMaterialError naming its field.
 */
export function createListenerServer(pipeline: RequestPipeline, listener: ListenerConfig, limits: Limits, logger: Logger, at: (string | number)[]): ListenerServer {
  const http1 = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    // node checks the two timeouts above only this often (30 s by default), which would let slow clients linger.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeout / 2)),
    // The pipeline answers a missing Host with the gateway's JSON error instead of node's empty 400.
    requireHostHeader: false,
    // No request switches protocols: one that asks to is a plain request to the pipeline (its body read as
    // any other), which answers it and closes the connection. Without this, node hands the socket to an
    // 'upgrade' listener or, with none, stops reading it: the bytes after the request are lost and it hangs.
    shouldUpgradeCallback: () => false,
  }
  const http2 = {
    // nghttp2 refuses a header block larger than this, and more fields than this (4 pseudo-headers besides).
    maxHeaderListPairs: limits.maxHeaders + 5,
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes },
  }
  const handle = pipeline.handle as (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void
  const certificates = listener.tls && new ListenerCertificates(listener.tls, [...at, 'tls'], logger)

  let server: Server | TlsServer | NetServer
  if (listener.redirectToHttps) {
    server = createServer(http1, redirect(listener.redirectToHttps.port))
  } else if (certificates && listener.http2) {
    server = createHttp2SecureServer({ ...certificates.serverOptions(), ...http1, ...http2, allowHTTP1: true }, handle)
  } else if (certificates) {
    server = createHttpsServer({ ...certificates.serverOptions(), ...http1 }, handle as (req: IncomingMessage, res: ServerResponse) => void)
  } else if (listener.h2c) {
    server = createH2cServer(http2, handle)
  } else {
    server = createServer(http1, handle as (req: IncomingMessage, res: ServerResponse) => void)
  }
  // One more than allowed, so the pipeline can tell "too many" from "exactly enough" (node drops the rest); an
  // HTTPS server with allowHTTP1 reads it for its HTTP/1.1 connections too.
  ;(server as Server).maxHeadersCount = limits.maxHeaders + 1
  // With a listener here, node leaves `Expect: 100-continue` to the pipeline, which answers 100 only once the
  // request is routed; a request that is refused never has its body sent.
  if (!listener.redirectToHttps) server.on('checkContinue', handle)
  server.on('clientError', answerClientError)
  // The gateway is no forward proxy: CONNECT tunnels are refused, not silently dropped.
  // On HTTP/2 the CONNECT arrives as a stream with its response, on HTTP/1.1 as the bare socket.
  server.on('connect', (_req: unknown, socket: Socket | Http2ServerResponse) => {
    if ('writeHead' in socket) sendError(socket as unknown as ServerResponse, 'METHOD_NOT_ALLOWED', randomUUID(), 'CONNECT is not supported')
    else answerRaw(socket, 'METHOD_NOT_ALLOWED', 'CONNECT is not supported')
  })
  if (certificates) {
    const tlsServer = server as TlsServer
    certificates.start((options) => tlsServer.setSecureContext(options))
    // A failed handshake (no client certificate, an unknown CA, a scanner) is the client's problem, not an error.
    tlsServer.on('tlsClientError', (_error, socket) => socket.destroy())
  }
  return trackConnections(server, certificates || undefined, limits.keepAliveTimeout)
}

/** Tracks sockets and HTTP/2 sessions so that `close` can drain them gracefully, and closes idle sessions. */
function trackConnections(server: NetServer, certificates: ListenerCertificates | undefined, idleMs: number): ListenerServer {
  const sockets = new Set<Socket>()
  const sessions = new Set<Http2Session>()
  server.on(certificates ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('session', (session: Http2Session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    // node keeps an HTTP/2 connection open forever by default; one without requests for keepAliveTimeout goes,
    // as an idle HTTP/1.1 connection does (a GOAWAY lets the client open a new one cleanly).
    let open = 0
    // Made once per session, not per stream; `close` comes once, so `on` needs no `once` wrapper either.
    const streamClosed = () => open--
    session.on('stream', (stream) => {
      open++
      stream.on('close', streamClosed)
    })
    session.setTimeout(idleMs, () => {
      if (open === 0) session.close()
    })
  })
  const http = server as Server
  return {
    server,
    scheme: certificates ? 'https' : 'http',
    reloadCertificates: (config) => certificates?.reload(config) ?? true,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        certificates?.close()
        if (!server.listening) return resolve()
        const closeIdle = () => http.closeIdleConnections?.()
        const sweep = setInterval(closeIdle, 50)
        const deadline = setTimeout(() => {
          for (const session of sessions) session.destroy()
          for (const socket of sockets) socket.destroy()
        }, graceMs)
        server.close(() => {
          clearInterval(sweep)
          clearTimeout(deadline)
          resolve()
        })
        // GOAWAY: clients finish their streams and open no new ones here.
        for (const session of sessions) session.close()
        closeIdle()
      }),
  }
}

/** Answers every request on a plain listener with a 308 to the same host and path on HTTPS. */
function redirect(port: number): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const requestId = randomUUID()
    const host = req.headers.host
    const problem = hostProblem(req) ?? (host ? undefined : 'A request to be redirected to HTTPS needs a Host header')
    if (problem) return sendError(res, 'BAD_REQUEST', requestId, problem)
    const name = /^(\[[^\]]*\]|[^:]*)/.exec(host!)![1]
    const target = `https://${name}${port === 443 ? '' : `:${port}`}${req.url?.startsWith('/') ? req.url : '/'}`
    res.writeHead(308, ['location', target, 'content-length', '0', 'x-request-id', requestId, 'cache-control', 'no-store'])
    res.end()
  }
}

/**
 * An empty SETTINGS frame (a server's connection preface must be one) and a GOAWAY with error code
 * HTTP_1_1_REQUIRED (RFC 9113, 7) and no stream processed; its debug data says why, for whoever captures it.
 */
const HTTP2_USE_HTTP1 = (() => {
  const reason = Buffer.from('this listener speaks HTTP/1.1 only; HTTP/2 needs TLS with ALPN, or h2c: true')
  const goaway = Buffer.alloc(9 + 8 + reason.length)
  goaway.writeUIntBE(8 + reason.length, 0, 3)
  goaway[3] = 0x7
  goaway.writeUInt32BE(0, 9)
  goaway.writeUInt32BE(0xd, 13)
  reason.copy(goaway, 17)
  return Buffer.concat([Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]), goaway])
})()

/** Requests node could not parse (bad syntax, oversized headers, too slow) still get a JSON error. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  // Bytes after a request that closes the connection (HTTP/1.0 without keep-alive, `Connection: close`): node
  // stops parsing, and that request's answer is still to be sent; an error now would replace it. Node closes
  // the connection once the answer is out, so the pipelined requests are neither answered nor forwarded.
  if (error.code === 'HPE_CLOSED_CONNECTION') return
  // The HTTP/2 connection preface on a listener without h2c: an HTTP/1.1 error would be noise to an HTTP/2 client,
  // so it gets the frames it reads, saying to use HTTP/1.1 (which curl, for one, then does).
  if (error.code === 'HPE_PAUSED_H2_UPGRADE') {
    socket.end(HTTP2_USE_HTTP1)
    return
  }
  let code: GatewayErrorCode = 'BAD_REQUEST'
  if (error.code === 'HPE_HEADER_OVERFLOW') code = 'HEADERS_TOO_LARGE'
  else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') code = 'REQUEST_TIMEOUT'
  answerRaw(socket, code, GATEWAY_ERRORS[code].message)
}

/** Writes a JSON error straight to the socket and closes it, for requests that never reach the pipeline. */
function answerRaw(socket: Socket, code: GatewayErrorCode, message: string): void {
  const { status } = GATEWAY_ERRORS[code]
  const requestId = randomUUID()
  const body = errorBody(code, message, requestId)
  socket.end(
    // The reason phrase and headers an answer from the pipeline has, so a client cannot tell the two apart.
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\ncache-control: no-store\r\ndate: ${new Date().toUTCString()}\r\nconnection: close\r\n\r\n${body}`,
  )
}
