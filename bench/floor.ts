// The Node floor: the least a Node.js reverse proxy does (node:http in, undici out, bodies piped, no routing,
// no header work). Portico's cost is measured against this in the same run, so only the gateway's own work
// shows in the ratio. Like the gateway, it aborts the backend request only for a client that left, and pipes
// with .pipe(): an abort (stream.pipeline makes one at every finish) builds a DOMException with a stack trace,
// which costs more than everything else here. Usage: node bench/floor.ts PORT UPSTREAM_ORIGIN
import { createServer } from 'node:http'
import { Pool } from 'undici'

const [port, upstream] = process.argv.slice(2)
if (!port || !upstream) throw new Error('usage: node bench/floor.ts PORT UPSTREAM_ORIGIN')
const pool = new Pool(upstream)

const server = createServer((req, res) => {
  const headers = { ...req.headers }
  delete headers.connection
  delete headers['keep-alive']
  const controller = new AbortController()
  res.once('close', () => res.writableFinished || controller.abort())
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req
  pool.request({ method: req.method as 'GET', path: req.url ?? '/', headers, body, signal: controller.signal }).then(
    (response) => {
      if (res.destroyed) return response.body.destroy()
      const out = { ...response.headers }
      delete out.connection
      delete out['keep-alive']
      delete out['transfer-encoding']
      res.writeHead(response.statusCode, out)
      response.body.on('error', () => res.destroy()).pipe(res)
      res.once('close', () => response.body.readableEnded || response.body.destroy())
    },
    () => {
      if (res.destroyed) return
      res.statusCode = 502
      res.end()
    },
  )
})
server.keepAliveTimeout = 5_000
server.listen(Number(port), '127.0.0.1', () => console.error(`floor on 127.0.0.1:${port} -> ${upstream}`))
