import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { freePort, runCli, startCli } from './support/cli.ts'

let dir: string
let backend: TestBackend
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-log-format-'))
  backend = await startEchoBackend()
})
after(async () => {
  await backend.close()
  await rm(dir, { recursive: true, force: true })
})

/** A gateway whose access log goes to standard output (no `path`). */
async function configFile(name: string): Promise<{ file: string; port: number }> {
  const [port, adminPort] = [await freePort(), await freePort()]
  const file = join(dir, `${name}.yaml`)
  await writeFile(
    file,
    `listeners: [{ name: main, host: 127.0.0.1, port: ${port} }]
admin: { host: 127.0.0.1, port: ${adminPort} }
apis:
  - name: shop
    context: /shop
    version: v1
    resources: [{ uriTemplate: "/items/{id}", methods: [GET] }]
    endpoints:
      production: { type: http, url: "${backend.url}" }
`,
  )
  return { file, port }
}

const isJson = (line: string) => {
  try {
    JSON.parse(line)
    return true
  } catch {
    return false
  }
}

describe('PORTICO_LOG_FORMAT', () => {
  test('pretty: the event log and the access log on standard output are lines for a person, not JSON, from the primary and its workers', async () => {
    const { file, port } = await configFile('pretty')
    const cli = startCli(['start', '--config', file, '--workers', '2'], { PORTICO_LOG_FORMAT: 'pretty' })
    try {
      await cli.waitForLog('worker serving on', 2)
      const answer = await request(`http://127.0.0.1:${port}/shop/v1/items/7`, { headers: { 'x-request-id': 'pretty-0001' } })
      assert.equal(answer.statusCode, 200)
      await answer.body.text()
      const deadline = Date.now() + 5000
      while (!cli.output().includes('pretty-0001') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      // The event log: pino-pretty's `[time] LEVEL (pid): message`, the fields indented below it.
      const events = cli.log().trim().split('\n')
      assert.ok(events.some((line) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): worker serving on 127\.0\.0\.1:\d+/.test(line)), cli.log())
      assert.ok(!events.some(isJson), `no event is a JSON line:\n${cli.log()}`)
      // The access log: time, method, path, status and duration first, the other fields after them on the same line.
      const access = cli.output().split('\n').find((line) => line.includes('pretty-0001'))
      assert.ok(access, `the request has an access-log line:\n${cli.output()}`)
      assert.match(access, /^\[\d\d:\d\d:\d\d\.\d{3}\]: GET \/shop\/v1\/items\/7 200 [\d.]+ ms \{.*"requestId":"pretty-0001".*"api":"shop:v1"/)
    } finally {
      await cli.stop()
    }
  })

  test('json (the default): one JSON object per line on both logs', async () => {
    const { file, port } = await configFile('json')
    const cli = startCli(['start', '--config', file, '--workers', '1'])
    try {
      await cli.waitForLog('listening on')
      const answer = await request(`http://127.0.0.1:${port}/shop/v1/items/7`, { headers: { 'x-request-id': 'json-0001' } })
      await answer.body.text()
      const deadline = Date.now() + 5000
      while (!cli.output().includes('json-0001') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      for (const line of cli.log().trim().split('\n')) assert.ok(isJson(line), `an event log line is JSON: ${line}`)
      const access = cli.output().trim().split('\n').map((line) => JSON.parse(line) as { requestId: string })
      assert.ok(access.some((entry) => entry.requestId === 'json-0001'))
    } finally {
      await cli.stop()
    }
  })

  test('an unknown value stops the start with an error that names the variable and its values', async () => {
    const { file } = await configFile('unknown')
    const result = await runCli(['start', '--config', file, '--workers', '1'], 20_000, { PORTICO_LOG_FORMAT: 'yaml' })
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^PORTICO_LOG_FORMAT must be "json" \(the default\) or "pretty", got "yaml"$/m)
  })
})
