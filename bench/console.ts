// `npm run bench:console`: how fast the console's first page renders with many APIs in the store. A node serves
// an embedded store holding BENCH_APIS APIs (500 by default); headless Chromium opens /console, signed in, ROUNDS
// times in fresh pages, and the page's own clock (performance.now(), from the start of navigation) is read when the
// first page of the API list is drawn: the page, the bundle, the token check, the OpenAPI document and the list.
// Prints one JSON line: {"scenario":"console-first-page","apis":500,"rounds":…,"p50_ms":…,"max_ms":…,"target_ms":1000}.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serveFromStore } from '../src/process/store-node.ts'
import { ConfigStore, SCOPES } from '../src/store/store.ts'
import { createLogger } from '../src/telemetry/logger.ts'
import { launchBrowser } from '../test/support/browser.ts'
import { freePort } from '../test/support/net.ts'

const APIS = Number(process.env.BENCH_APIS ?? 500)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const TARGET_MS = 1000

const dir = mkdtempSync(join(tmpdir(), 'portico-bench-console-'))
const url = `sqlite:${dir}`
const store = await ConfigStore.open(url)
const [port, adminPort] = [await freePort(), await freePort()]
const apis = Array.from({ length: APIS }, (_, index) => ({
  name: `Api${String(index).padStart(4, '0')}`,
  context: `/api${index}`,
  version: 'v1',
  resources: Array.from({ length: 5 }, (_, resource) => ({ uriTemplate: `/items${resource}/{id}`, methods: ['GET'] })),
  endpoints: { production: { type: 'http', url: `http://127.0.0.1:9/items/{uri.var.id}` } },
}))
await store.apply({ listeners: [{ port, host: '127.0.0.1' }], admin: { port: adminPort }, accessLog: { enabled: false }, apis }, 'bench')
const token = (await store.createToken('bench', SCOPES, 'bench')).token
const node = await serveFromStore(url, { environment: 'default', pollMs: 60_000, nodeId: 'bench' }, createLogger('silent'))
const browser = await launchBrowser()
const timings: number[] = []
try {
  const context = await browser.newContext()
  await context.addInitScript((value) => sessionStorage.setItem('portico.console.token', value), token)
  for (let round = 0; round < ROUNDS + 1; round++) {
    const page = await context.newPage()
    await page.goto(`${node.adminUrl!}/console`)
    // Runs in the page.
    await page.waitForFunction((rows) => (globalThis as unknown as { document: { querySelectorAll(selector: string): { length: number } } }).document.querySelectorAll('tbody tr').length >= rows, Math.min(APIS, 50))
    const ms = await page.evaluate(() => performance.now())
    // The first round warms the browser's and the node's caches; it is not counted.
    if (round > 0) timings.push(ms)
    await page.close()
  }
} finally {
  await browser.close()
  await node.stop()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
timings.sort((a, b) => a - b)
const at = (quantile: number) => Math.round(timings[Math.min(timings.length - 1, Math.floor(quantile * timings.length))]!)
console.log(JSON.stringify({ scenario: 'console-first-page', apis: APIS, rounds: ROUNDS, p50_ms: at(0.5), max_ms: at(1), target_ms: TARGET_MS }))
