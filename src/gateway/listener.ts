import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { ConfigModel } from '../config/schema.ts'
import { errorBody, GATEWAY_ERRORS, type GatewayErrorCode } from '../core/errors.ts'
import type { RequestPipeline } from './pipeline.ts'

type Limits = ConfigModel['limits']

/** A node:http server for one listener, with the limits that keep bad clients from hurting the gateway. */
export function createListenerServer(pipeline: RequestPipeline, limits: Limits): Server {
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      keepAliveTimeout: limits.keepAliveTimeout,
      // node checks the two timeouts above only this often (30 s by default), which would let slow clients linger.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeout / 2)),
      // One more than allowed, so the pipeline can tell "too many" from "exactly enough" (node drops the rest).
      maxHeadersCount: limits.maxHeaders + 1,
      // The pipeline answers a missing Host with the gateway's JSON error instead of node's empty 400.
      requireHostHeader: false,
      // No request switches protocols: one that asks to is a plain request to the pipeline (its body read as
      // any other), which answers it and closes the connection. Without this, node hands the socket to an
      // 'upgrade' listener or, with none, stops reading it: the bytes after the request are lost and it hangs.
      shouldUpgradeCallback: () => false,
    } as Parameters<typeof createServer>[0],
    pipeline.handle,
  )
  // With a listener here, node leaves `Expect: 100-continue` to the pipeline, which answers 100 only once the
  // request is routed; a request that is refused never has its body sent.
  server.on('checkContinue', pipeline.handle)
  server.on('clientError', answerClientError)
  // The gateway is no forward proxy: CONNECT tunnels are refused, not silently dropped.
  server.on('connect', (_req, socket: Socket) => answerRaw(socket, 'METHOD_NOT_ALLOWED', 'CONNECT is not supported'))
  return server
}

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
    `HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  )
}
