import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startBackend, type TestBackend } from './support/backend.ts'
import { freePort, runCli, startCli } from './support/cli.ts'

/** What an operator meets: usage, a missing file, ports taken, the admin port's exposure, readiness, reloads. */

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-operating-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

function config(port: number, adminPort: number, endpoint: string, extra = ''): string {
  return `listeners: [{ name: main, host: 127.0.0.1, port: ${port} }]
admin: { host: 127.0.0.1, port: ${adminPort} }
${extra}
apis:
  - name: shop
    context: /shop
    version: v1
    endpoints:
      production: ${endpoint}
`
}

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, text)
  return file
}

/** Holds a port the way any other program would. */
async function holdPort(port: number): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}

describe('usage', () => {
  test('portico --help and portico COMMAND --help print usage on standard output and exit 0', async () => {
    const all = await runCli(['--help'])
    assert.equal(all.code, 0)
    assert.match(all.stdout, /^Usage: portico COMMAND/)
    assert.match(all.stdout, /portico validate FILE/)
    const start = await runCli(['start', '--help'])
    assert.equal(start.code, 0)
    assert.match(start.stdout, /--workers N/)
    assert.doesNotMatch(start.stdout, /portico validate/, 'the usage of start alone')
    const wso2 = await runCli(['import', 'wso2', '-h'])
    assert.equal(wso2.code, 0)
    assert.match(wso2.stdout, /^portico import wso2 PATH/)
  })

  test('an unknown option is a usage error naming the option, exit 2', async () => {
    const result = await runCli(['validate', '--strict', 'x.yaml'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /Unknown option '--strict'/)
    assert.match(result.stderr, /Usage: portico validate FILE/)
  })

  test('start without a config file says where it looked and points at the examples', async () => {
    const result = await runCli(['start', '--config', join(dir, 'absent.yaml'), '--workers', '1'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /no config file at .*absent\.yaml/)
    assert.match(result.stderr, /examples\/.*portico\.yaml/)
  })
})

describe('ports', () => {
  test('a listener port that is taken: one clear message, exit 1, with one process or several', async () => {
    const port = await freePort()
    const held = await holdPort(port)
    try {
      const file = await write('taken.yaml', config(port, await freePort(), '{ type: http, url: "http://127.0.0.1:9" }'))
      for (const workers of ['1', '2']) {
        const started = Date.now()
        const result = await runCli(['start', '--config', file, '--workers', workers])
        assert.equal(result.code, 1, `--workers ${workers}: ${result.stderr}`)
        assert.match(result.stderr, new RegExp(`listener main: cannot listen on 127\\.0\\.0\\.1:${port}: the port is taken by another process`))
        assert.doesNotMatch(result.stderr, /worker died; starting another/, 'no restart loop')
        assert.ok(Date.now() - started < 15_000)
      }
    } finally {
      held.close()
    }
  })

  test('a taken admin port refuses the start too, with one process or several', async () => {
    const adminPort = await freePort()
    const held = await holdPort(adminPort)
    try {
      const file = await write('admin-taken.yaml', config(await freePort(), adminPort, '{ type: http, url: "http://127.0.0.1:9" }'))
      for (const workers of ['1', '2']) {
        const result = await runCli(['start', '--config', file, '--workers', workers])
        assert.equal(result.code, 1, `--workers ${workers}: ${result.stderr}`)
        assert.match(result.stderr, new RegExp(`admin: cannot listen on 127\\.0\\.0\\.1:${adminPort}: the port is taken`))
      }
    } finally {
      held.close()
    }
  })

  test('a second gateway with workers on the same port is refused, not let in through SO_REUSEPORT', async () => {
    const port = await freePort()
    const first = startCli(['start', '--config', await write('first.yaml', config(port, await freePort(), '{ type: http, url: "http://127.0.0.1:9" }')), '--workers', '2'])
    try {
      await first.waitForLog('worker serving', 2)
      const second = await runCli(['start', '--config', await write('second.yaml', config(port, await freePort(), '{ type: http, url: "http://127.0.0.1:9" }')), '--workers', '2'])
      assert.equal(second.code, 1, second.stderr)
      assert.match(second.stderr, /listener main: cannot listen on .*: the port is taken by another process/)
    } finally {
      await first.stop()
    }
  })

  test('two sockets of one config on the same port are a config error, not a silent share through SO_REUSEPORT', async () => {
    const file = await write(
      'same-port.yaml',
      'listeners: [{ name: one, host: 127.0.0.1, port: 18290 }, { name: two, host: 0.0.0.0, port: 18290 }, { name: three, host: 127.0.0.1, port: 9901 }]\n',
    )
    const result = await runCli(['validate', file])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /listeners\[1\]\.port: 18290 on 0\.0\.0\.0 is taken by listeners\[0\] already/)
    assert.match(result.stderr, /admin\.port: 9901 on 127\.0\.0\.1 is taken by listeners\[2\] already/)
  })

  test('the log shows the address actually bound: port 0 becomes the port the system chose', async () => {
    const cli = startCli(['start', '--config', await write('zero.yaml', config(0, await freePort(), '{ type: http, url: "http://127.0.0.1:9" }')), '--workers', '1'])
    try {
      await cli.waitForLog('listening on')
      const bound = /listening on 127\.0\.0\.1:(\d+) \(listener main\)/.exec(cli.log())
      assert.ok(bound, cli.log())
      assert.notEqual(Number(bound[1]), 0)
    } finally {
      await cli.stop()
    }
  })
})

describe('the admin port stays on this machine unless allowed', () => {
  test('a non-loopback admin host is refused without admin.allowRemote, naming the setting', async () => {
    const open = await write('admin-open.yaml', 'admin: { host: 0.0.0.0 }\n')
    const refused = await runCli(['validate', open])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /admin\.host: is not a loopback address: .*set admin\.allowRemote: true/)
    const allowed = await runCli(['validate', await write('admin-allowed.yaml', 'admin: { host: 0.0.0.0, allowRemote: true }\n')])
    assert.equal(allowed.code, 0, allowed.stderr)
    for (const host of ['127.0.0.1', '::1', 'localhost']) {
      const loopback = await runCli(['validate', await write('admin-loopback.yaml', `admin: { host: "${host}" }\n`)])
      assert.equal(loopback.code, 0, `${host}: ${loopback.stderr}`)
    }
  })
})

describe('readiness beside liveness', () => {
  /** An API whose only endpoint has a health check against a port nobody listens on: unhealthy after one probe. */
  const unhealthyApi = (deadPort: number) =>
    `{ type: http, name: orders, url: "http://127.0.0.1:${deadPort}", healthCheck: { path: /health, interval: 100ms, timeout: 500ms, unhealthyThreshold: 1 } }`

  for (const workers of ['1', '2']) {
    test(`--workers ${workers}: /ready answers 503 naming the API with no ready endpoint, while /health stays 200`, async () => {
      const adminPort = await freePort()
      const file = await write(`ready-${workers}.yaml`, config(await freePort(), adminPort, unhealthyApi(await freePort()), 'accessLog: { enabled: false }'))
      const cli = startCli(['start', '--config', file, '--workers', workers])
      try {
        await cli.waitForLog('endpoint orders: active -> unhealthy')
        if (workers === '2') await cli.waitForLog('worker serving', 2)
        const ready = await fetch(`http://127.0.0.1:${adminPort}/ready`)
        const body = (await ready.json()) as { status: string; apis: Array<{ api: string; endpoints: Array<{ id: string; state: string }> }> }
        assert.equal(ready.status, 503)
        assert.equal(body.status, 'not ready')
        assert.deepEqual(body.apis.map((api) => [api.api, api.endpoints]), [['shop:v1', [{ id: 'orders', state: 'unhealthy' }]]])
        assert.equal((await fetch(`http://127.0.0.1:${adminPort}/health`)).status, 200, 'alive all the same')
      } finally {
        await cli.stop()
      }
    })
  }

  test('/ready answers 200 with the bound listeners once every API has a ready endpoint', async () => {
    const backend = await startBackend((_req, res) => res.end('ok'))
    const adminPort = await freePort()
    const port = await freePort()
    const cli = startCli(['start', '--config', await write('ready-ok.yaml', config(port, adminPort, `{ type: http, url: "${backend.url}" }`, 'accessLog: { enabled: false }')), '--workers', '1'])
    try {
      await cli.waitForLog('admin on')
      const ready = await fetch(`http://127.0.0.1:${adminPort}/ready`)
      assert.equal(ready.status, 200)
      assert.deepEqual(await ready.json(), { status: 'ready', listeners: [`127.0.0.1:${port}`] })
    } finally {
      await cli.stop()
      await backend.close()
    }
  })
})

describe('reloads an operator can follow', () => {
  let backend: TestBackend
  before(async () => {
    backend = await startBackend((_req, res) => res.end('ok'))
  })
  after(async () => {
    await backend.close()
  })

  for (const workers of ['1', '2']) {
    test(`--workers ${workers}: an accessLog change is applied on reload`, async () => {
      const port = await freePort()
      const adminPort = await freePort()
      const logFile = join(dir, `access-${workers}.log`)
      const endpoint = `{ type: http, url: "${backend.url}" }`
      const file = await write(`access-${workers}.yaml`, config(port, adminPort, endpoint, 'accessLog: { enabled: false }'))
      const cli = startCli(['start', '--config', file, '--workers', workers])
      try {
        await cli.waitForLog(workers === '1' ? 'listening on' : 'worker serving', Number(workers))
        await writeFile(file, config(port, adminPort, endpoint, `accessLog: { path: "${logFile}" }`))
        cli.child.kill('SIGHUP')
        await cli.waitForLog(`access log now written to ${logFile}`, Number(workers))
        for (let i = 0; i < 4; i++) assert.equal((await fetch(`http://127.0.0.1:${port}/shop/v1/item-${i}`)).status, 200)
        // Written at least once a second.
        await new Promise((resolve) => setTimeout(resolve, 1300))
        const lines = (await readFile(logFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { path: string })
        assert.deepEqual(lines.map((line) => line.path).sort(), ['/shop/v1/item-0', '/shop/v1/item-1', '/shop/v1/item-2', '/shop/v1/item-3'])
      } finally {
        await cli.stop()
      }
    })
  }

  test('a refused reload is logged as one line per problem, each readable alone', async () => {
    const port = await freePort()
    const adminPort = await freePort()
    const file = await write('refused.yaml', config(port, adminPort, `{ type: http, url: "${backend.url}" }`, 'accessLog: { enabled: false }'))
    const cli = startCli(['start', '--config', file, '--workers', '1'])
    try {
      await cli.waitForLog('listening on')
      await writeFile(file, config(port, adminPort, '{ type: http, url: "ftp://nowhere", timeoutt: 1 }', 'accessLog: { enabled: false }'))
      cli.child.kill('SIGHUP')
      await cli.waitForLog('config not reloaded, the running one is kept')
      await cli.waitForLog('unknown field')
      const messages = cli.log().trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg)
      assert.ok(messages.includes('config not reloaded, the running one is kept: 2 problem(s) in ' + file), messages.join('\n'))
      assert.ok(messages.some((msg) => /^.*refused\.yaml:\d+:\d+: apis\[0\]\.endpoints\.production\.url: must use http or https/.test(msg)), messages.join('\n'))
      assert.ok(messages.some((msg) => /^.*refused\.yaml:\d+:\d+: apis\[0\]\.endpoints\.production: unknown field "timeoutt"/.test(msg)), messages.join('\n'))
      assert.ok(messages.every((msg) => !msg.includes('\n')), 'no message hides lines behind escapes')
    } finally {
      await cli.stop()
    }
  })
})
