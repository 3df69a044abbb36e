// `node bench/tracing-cost.ts`: CPU per traced request of the tracer alone, without HTTP: the server span, one
// attempt span, traceparent injected, both exported as OTLP/HTTP protobuf to a receiver in this process (its share
// of the CPU is counted too, so this is an upper bound). The queue is large so that nothing is dropped.
import { createServer } from 'node:http'
import { Tracing } from '../src/telemetry/tracing.ts'
const sink = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end()) })
await new Promise<void>((r) => sink.listen(14330, '127.0.0.1', r))
let dropped = 0
const tracing = new Tracing({ endpoint: 'http://127.0.0.1:14330/v1/traces', sampleRatio: 1, serviceName: 'x', maxQueueSize: 200000, maxExportBatchSize: 512, scheduledDelay: 200, exportTimeout: 10000 }, (_r, n) => { dropped += n })
const headers = { host: '127.0.0.1:8280', 'user-agent': 'wrk' }
async function round(n: number) {
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    const t = tracing.startRequest(headers, 'GET', '/bench/1.0.0/small', '127.0.0.1')
    const span = t.exchange!.begin('GET leaf', 'client', { 'portico.endpoint': 'leaf', 'server.address': '127.0.0.1', 'server.port': 80, 'http.request.method': 'GET' })
    const h = ['host', 'x', 'x-request-id', 'abc']
    t.exchange!.inject(h)
    span.set('http.response.status_code', 200)
    span.end()
    t.end(200, '/bench/1.0.0/small', undefined)
    if (i % 500 === 0) await new Promise((r) => setImmediate(r))
  }
  await new Promise((r) => setTimeout(r, 2500))
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / n
}
await round(20000)
console.log('µs CPU per traced request (2 spans, export included):', (await round(50000)).toFixed(1), 'dropped', dropped)
await tracing.close(); sink.close()
