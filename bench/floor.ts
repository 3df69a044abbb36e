// The Node floor: the least a Node.js reverse proxy does (node:http in, undici out, bodies piped, no routing,
// no header work). Portico's cost is measured against this in the same run, so only the gateway's own work
// shows in the ratio. Like the gateway, it aborts the backend request only for a client that left, and pipes
// with .pipe(): an abort (stream.pipeline makes one at every finish) builds a DOMException with a stack trace,
// which costs more than everything else here. With `tls` it is node:https, with `h2` node:http2 (TLS, HTTP/1.1
// allowed), both with the given certificate. Usage: node bench/floor.ts PORT UPSTREAM_ORIGIN [http|tls|h2 CERT KEY]
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createSecureServer } from 'node:http2'
import { createServer as createHttpsServer } from 'node:https'
import { Pool } from 'undici'

const [port, upstream, transport = 'http', certFile, keyFile] = process.argv.slice(2)
if (!port || !upstream) throw new Error('usage: node bench/floor.ts PORT UPSTREAM_ORIGIN [http|tls|h2 CERT KEY]')
const pool = new Pool(upstream)
// Loaded only when asked for, so that the floor itself loads nothing of the SDK.
const spans = process.env.FLOOR_SDK_SPANS === '1' ? new (await import('./floor-spans.ts')).FloorSpans(Number(port)) : undefined

const handle = (req: IncomingMessage, res: ServerResponse) => {
  const headers = { ...req.headers }
  delete headers.connection
  delete headers['keep-alive']
  // HTTP/2's pseudo-headers are not headers to pass on.
  if (transport === 'h2') for (const name in headers) if (name.charCodeAt(0) === 58) delete headers[name]
  const traced = spans?.start(req, headers)
  const controller = new AbortController()
  res.once('close', () => res.writableEnded || controller.abort())
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req
  pool.request({ method: req.method as 'GET', path: req.url ?? '/', headers, body, signal: controller.signal }).then(
    (response) => {
      if (res.destroyed) return response.body.destroy()
      const out = { ...response.headers }
      delete out.connection
      delete out['keep-alive']
      delete out['transfer-encoding']
      res.writeHead(response.statusCode, out)
      if (traced) traced.answered(response.statusCode, res)
      response.body.on('error', () => res.destroy()).pipe(res)
      res.once('close', () => response.body.readableEnded || response.body.destroy())
    },
    () => {
      if (res.destroyed) return
      res.statusCode = 502
      res.end()
    },
  )
}

const tls = () => ({ cert: readFileSync(certFile!), key: readFileSync(keyFile!) })
const server =
  transport === 'h2'
    ? createSecureServer({ ...tls(), allowHTTP1: true }, handle as never)
    : transport === 'tls'
      ? createHttpsServer(tls(), handle)
      : createServer(handle)
if ('keepAliveTimeout' in server) server.keepAliveTimeout = 5_000
server.listen(Number(port), '127.0.0.1', () => console.error(`floor (${transport}) on 127.0.0.1:${port} -> ${upstream}`))
