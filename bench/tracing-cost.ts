// `node bench/tracing-cost.ts`: CPU per traced request of the tracer alone, without HTTP: the server span, one
// attempt span, traceparent injected, both exported as OTLP/HTTP protobuf to a receiver in this process (its share
// of the CPU is counted too, so this is an upper bound). The queue is large so that nothing is dropped. Prints the
// lowest and the median of ROUNDS rounds (default 7) of 20,000 requests, after a warm-up.
import { createServer } from 'node:http'
import { Tracing } from '../src/telemetry/tracing.ts'
const sink = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end()) })
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r))
const { port } = sink.address() as { port: number }
let dropped = 0
const tracing = new Tracing({ endpoint: `http://127.0.0.1:${port}/v1/traces`, sampleRatio: 1, serviceName: 'x', maxQueueSize: 200000, maxExportBatchSize: 512, scheduledDelay: 200, exportTimeout: 10000 }, (_r, n) => { dropped += n })
const headers = { host: '127.0.0.1:8280', 'user-agent': 'wrk' }
const attempt = { 'portico.endpoint': 'leaf', 'portico.endpoint.type': 'http', 'server.address': '127.0.0.1', 'server.port': 80 }
async function round(n: number) {
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    const t = tracing.startRequest(headers, 'GET', '/bench/1.0.0/small', '127.0.0.1')
    const span = t.exchange!.begin('GET leaf', 'client', attempt)
    span.set('http.request.method', 'GET')
    span.set('url.path', '/small')
    const h = ['host', 'x', 'x-request-id', 'abc']
    t.exchange!.inject(h)
    span.set('http.response.status_code', 200)
    span.end()
    t.end(200, '/bench/1.0.0/small', undefined)
    // A turn of the event loop now and then, as a server takes between requests: exports go out as they would.
    if (i % 50 === 0) await new Promise((r) => setImmediate(r))
  }
  // The last batches are exported within scheduledDelay.
  await new Promise((r) => setTimeout(r, 400))
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / n
}
await round(20000)
const rounds: number[] = []
for (let i = 0; i < Number(process.env.ROUNDS ?? 7); i++) rounds.push(await round(20000))
rounds.sort((a, b) => a - b)
console.log(`µs CPU per traced request (2 spans, export included): lowest ${rounds[0]!.toFixed(1)}, median ${rounds[rounds.length >> 1]!.toFixed(1)}; dropped ${dropped}`)
await tracing.close()
sink.close()
