// The `ratelimit-accuracy` line of `npm run bench`: two gateway processes with `--workers 2` each, sharing the
// Redis on 127.0.0.1:6379, are offered three times a per-second limit for whole seconds of the clock; the line
// says how far the admitted count is from what the limit allows.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, waitForPort } from '../test/support/net.ts'
import { offer } from '../test/support/offered-load.ts'

export const ACCURACY = 'ratelimit-accuracy'

const PER_SECOND = Number(process.env.BENCH_RATELIMIT ?? 100)
const SECONDS = Number(process.env.BENCH_RATELIMIT_SECONDS ?? 10)
const root = fileURLToPath(new URL('..', import.meta.url))

export async function rateLimitAccuracy(upstream: string, dir: string) {
  const prefix = `portico:bench-accuracy:${process.pid}:`
  const gateways = await Promise.all(
    ['a', 'b'].map(async (name) => {
      const port = await freePort()
      const config = join(dir, `accuracy-${name}.yaml`)
      await writeFile(
        config,
        `listeners: [{ name: bench, host: 127.0.0.1, port: ${port} }]
admin: { enabled: false }
accessLog: { enabled: false }
throttling:
  redis: { url: "redis://127.0.0.1:6379", keyPrefix: "${prefix}" }
  policies: [{ name: accuracy, key: api, limit: { requests: ${PER_SECOND}, per: second } }]
apis:
  - { name: Accuracy, context: /accuracy, version: 1.0.0, throttling: { policies: [accuracy] }, endpoints: { production: { type: http, url: "${upstream}" } } }
`,
      )
      const child = spawn(process.execPath, [join(root, 'src/cli.ts'), 'start', '--config', config, '--workers', '2'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, PORTICO_LOG_LEVEL: 'warn' },
      })
      // Takes Redis did not answer in time were counted on the node (fail-open): the line says how many outages.
      const gateway = { child, url: `http://127.0.0.1:${port}/accuracy/1.0.0/small`, outages: 0 }
      child.stderr!.on('data', (chunk: Buffer) => {
        process.stderr.write(chunk)
        gateway.outages += chunk.toString().split('unreachable').length - 1
      })
      await waitForPort(port)
      return gateway
    }),
  )
  try {
    // Both workers of each gateway listen once the port answers; a moment more lets the second one bind.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const counts = await offer(gateways.map((gateway) => gateway.url), PER_SECOND * 3, SECONDS)
    const limit = PER_SECOND * SECONDS
    const admitted = counts[200] ?? 0
    const errors = Object.entries(counts).filter(([status]) => status !== '200' && status !== '429')
    if (errors.length > 0) throw new Error(`ratelimit-accuracy: answers other than 200 and 429: ${JSON.stringify(counts)}`)
    return {
      scenario: ACCURACY,
      limit,
      admitted,
      error_pct: Math.round((Math.abs(admitted - limit) / limit) * 10_000) / 100,
      per_second: PER_SECOND,
      seconds: SECONDS,
      offered: Object.values(counts).reduce((sum, count) => sum + count, 0),
      gateways: 2,
      workers_each: 2,
      store_outages: gateways.reduce((sum, gateway) => sum + gateway.outages, 0),
    }
  } finally {
    for (const gateway of gateways) gateway.child.kill('SIGTERM')
  }
}
