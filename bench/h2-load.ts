// An HTTP/2 load generator for `npm run bench`'s h2 scenarios, as wrk is for the others (wrk speaks HTTP/1.1
// only, and h2load is not installed everywhere): SESSIONS TLS connections, each keeping STREAMS requests in
// flight, for SECONDS. Prints wrk's summary lines and its p99 latency line, which bench.ts reads. Written here because no load tool in
// node_modules speaks HTTP/2. Usage: node bench/h2-load.ts URL SECONDS SESSIONS STREAMS
import { connect, type ClientHttp2Session } from 'node:http2'

const [url, seconds = '5', sessionCount = '4', streams = '8'] = process.argv.slice(2)
if (!url) throw new Error('usage: node bench/h2-load.ts URL SECONDS SESSIONS STREAMS')
const target = new URL(url)
const path = target.pathname + target.search
let completed = 0
let failed = 0
let errors = 0
let running = true
/** Each completed request's latency (ms), for the p99 line that wrk --latency prints. */
const latencies: number[] = []

function loop(session: ClientHttp2Session): void {
  if (!running || session.closed || session.destroyed) return
  const sent = performance.now()
  const stream = session.request({ ':path': path })
  stream.on('response', (headers) => {
    const status = Number(headers[':status'])
    if (status < 200 || status >= 400) failed++
  })
  stream.on('data', () => {})
  stream.on('end', () => {
    completed++
    latencies.push(performance.now() - sent)
    loop(session)
  })
  stream.on('error', () => {
    errors++
    loop(session)
  })
}

const sessions = Array.from({ length: Number(sessionCount) }, () => {
  // The benchmark's certificate is made for the run and trusted by nothing: verification is not what is measured.
  const session = connect(target.origin, { rejectUnauthorized: false })
  session.on('error', () => errors++)
  return session
})
const started = performance.now()
for (const session of sessions) for (let i = 0; i < Number(streams); i++) loop(session)
setTimeout(() => {
  running = false
  const elapsed = (performance.now() - started) / 1000
  console.log(`  ${completed} requests in ${elapsed.toFixed(2)}s`)
  console.log(`Requests/sec: ${(completed / elapsed).toFixed(2)}`)
  latencies.sort((a, b) => a - b)
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0
  console.log(`     99%   ${p99.toFixed(2)}ms`)
  if (failed > 0) console.log(`Non-2xx or 3xx responses: ${failed}`)
  if (errors > 0) console.log(`Socket errors: ${errors} stream errors`)
  for (const session of sessions) session.destroy()
}, Number(seconds) * 1000)
