// A backend for `npm run bench:failover`: GET /health answers "ok" (the proxies' health checks), any other
// request a 100-byte body. Prints `listening <epoch ms>` once it listens and `first <epoch ms>` at its first
// request that is not a health check, so the benchmark can tell when proxied traffic returns after a restart.
// Usage: node bench/chaos-backend.ts PORT
import { createServer } from 'node:http'

const port = Number(process.argv[2])
if (!port) throw new Error('usage: node bench/chaos-backend.ts PORT')
const body = 'x'.repeat(99) + '\n'
let served = 0

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' })
    res.end('ok\n')
    return
  }
  if (served++ === 0) process.stdout.write(`first ${Date.now()}\n`)
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) })
  res.end(body)
})
server.keepAliveTimeout = 60_000
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${Date.now()}\n`))
process.on('SIGTERM', () => process.exit(0))
