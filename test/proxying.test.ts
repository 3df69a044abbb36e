import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { rawExchange, statusOf } from './support/raw.ts'
import { VIA } from '../src/core/headers.ts'

// The test needs a full collection before each memory sample; --expose-gc cannot be passed through the runner.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

describe('proxying', () => {
  let backend: TestBackend
  let gateway: TestGateway
  let aborted = 0
  let trickleClosed = 0
  let uploadDigest = ''
  let uploadBytes = 0
  const uploadProgress = () => uploadBytes
  /** Bytes of the current download the client has received: the backend waits for the first before going on. */
  let downloadReceived = 0

  before(async () => {
    backend = await startBackend(
      (req, res) => {
        const path = req.url!.split('?')[0]
        if (path === '/upload') {
          // Hash the body as it streams, so nothing holds 100 MB in memory on either side.
          const hash = createHash('sha256')
          let bytes = 0
          uploadBytes = 0
          req.on('data', (chunk: Buffer) => {
            bytes += chunk.length
            uploadBytes = bytes
            hash.update(chunk)
          })
          req.on('end', () => {
            uploadDigest = hash.digest('hex')
            res.writeHead(200, { 'content-type': 'application/json' })
            res.end(JSON.stringify({ bytes, chunked: req.headers['transfer-encoding'] === 'chunked' }))
          })
          return
        }
        req.resume()
        req.on('end', () => {
          if (path === '/download') {
            const total = Number(new URL(req.url!, 'http://x').searchParams.get('bytes'))
            const chunk = Buffer.alloc(1 << 20, 'a')
            let sent = 0
            res.writeHead(200, { 'content-type': 'application/octet-stream' })
            const pump = () => {
              // After the first MiB, wait until the client has bytes: a gateway that buffered the whole response
              // before sending it on would never deliver any, and the download would stall.
              if (sent === chunk.length && downloadReceived === 0) return void setTimeout(pump, 10)
              while (sent < total) {
                const size = Math.min(chunk.length, total - sent)
                sent += size
                if (!res.write(size === chunk.length ? chunk : chunk.subarray(0, size))) return void res.once('drain', pump)
                if (sent === chunk.length) return pump()
              }
              res.end()
            }
            return pump()
          }
          if (path === '/headers') {
            res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/'])
            res.setHeader('x-multi', ['one', 'two'])
            res.setHeader('connection', 'x-secret-hop')
            res.setHeader('x-secret-hop', 'must not pass')
            res.setHeader('keep-alive', 'timeout=99')
            res.setHeader('via', '1.1 upstream-cache')
            res.writeHead(200, { 'content-type': 'application/json' })
            return res.end(JSON.stringify({ rawHeaders: req.rawHeaders, headers: req.headers }))
          }
          if (path === '/no-content') {
            res.writeHead(204, { 'x-done': 'yes' })
            return res.end()
          }
          if (path === '/not-modified') {
            res.writeHead(304, { etag: '"v1"' })
            return res.end()
          }
          if (path === '/chunked') {
            res.writeHead(200, { 'content-type': 'text/plain' })
            res.write('first,')
            setTimeout(() => res.end('second'), 20)
            return
          }
          if (path === '/trickle') {
            // Headers and a first chunk, then a chunk every 50 ms until the connection goes away.
            res.writeHead(200, { 'content-type': 'text/plain' })
            res.write('first,')
            const timer = setInterval(() => res.write('more,'), 50)
            res.on('close', () => {
              clearInterval(timer)
              trickleClosed++
            })
            return
          }
          if (path === '/slow') {
            res.on('close', () => aborted++)
            setTimeout(() => res.writableEnded || res.end('late'), 5000).unref()
            return
          }
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' })
          res.end(req.method === 'HEAD' ? undefined : 'hello')
        })
      },
      { streaming: true },
    )
    gateway = await startGateway(`
apis:
  - name: proxy
    context: /p
    version: v1
    endpoints:
      production: { type: http, url: "${backend.url}" }
`)
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  test('hop-by-hop request headers, and those named in Connection, are not forwarded; repeated headers are kept in order', async () => {
    const response = await rawExchange(
      gateway.url,
      'GET /p/v1/headers HTTP/1.1\r\nhost: api.example\r\nconnection: close, x-hop\r\nx-hop: secret\r\nkeep-alive: 5\r\n' +
        'te: trailers\r\nupgrade: websocket\r\nproxy-authorization: Basic eA==\r\nx-repeat: 1\r\nx-repeat: 2\r\n' +
        'x-forwarded-for: 203.0.113.9\r\nvia: 1.0 edge\r\n\r\n',
    )
    assert.equal(statusOf(response), 200)
    const seen = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, ''))
    const names: string[] = seen.rawHeaders.filter((_: string, i: number) => i % 2 === 0).map((n: string) => n.toLowerCase())
    for (const hop of ['x-hop', 'keep-alive', 'te', 'upgrade', 'proxy-authorization']) assert.ok(!names.includes(hop), hop)
    const repeats = seen.rawHeaders.flatMap((v: string, i: number) => (seen.rawHeaders[i - 1]?.toLowerCase() === 'x-repeat' && i % 2 === 1 ? [v] : []))
    assert.deepEqual(repeats, ['1', '2'])
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
    assert.equal(seen.headers['x-forwarded-proto'], 'http')
    assert.equal(seen.headers['x-forwarded-host'], 'api.example')
    assert.equal(seen.headers.via, `1.0 edge, ${VIA}`)
    assert.equal(seen.headers.host, `127.0.0.1:${backend.port}`)
  })

  test('response: hop-by-hop headers are dropped, Set-Cookie and repeated headers survive, Via is appended', async () => {
    const response = await request(`${gateway.url}/p/v1/headers`)
    await response.body.text()
    assert.deepEqual(response.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/'])
    assert.deepEqual(response.headers['x-multi'], ['one', 'two'])
    assert.equal(response.headers['x-secret-hop'], undefined)
    assert.notEqual(response.headers['keep-alive'], 'timeout=99')
    assert.equal(response.headers.via, `1.1 upstream-cache, ${VIA}`)
  })

  test('HEAD gets headers without a body; 204 and 304 pass through without a body', async () => {
    const head = await request(`${gateway.url}/p/v1/x`, { method: 'HEAD' })
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['content-length'], '5')
    assert.equal(await head.body.text(), '')
    const noContent = await request(`${gateway.url}/p/v1/no-content`, { method: 'DELETE' })
    assert.equal(noContent.statusCode, 204)
    assert.equal(noContent.headers['x-done'], 'yes')
    assert.equal(await noContent.body.text(), '')
    const notModified = await request(`${gateway.url}/p/v1/not-modified`, { headers: { 'if-none-match': '"v1"' } })
    assert.equal(notModified.statusCode, 304)
    assert.equal(notModified.headers.etag, '"v1"')
    assert.equal(await notModified.body.text(), '')
  })

  test('a chunked response streams through chunk by chunk', async () => {
    const response = await request(`${gateway.url}/p/v1/chunked`)
    assert.equal(response.headers['transfer-encoding'], 'chunked')
    assert.equal(await response.body.text(), 'first,second')
  })

  test('Expect: 100-continue gets 100 from the gateway once routed, and the body reaches the backend', async () => {
    const response = await rawExchange(
      gateway.url,
      'POST /p/v1/upload HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\nconnection: close\r\n\r\nabcde',
    )
    assert.match(response, /^HTTP\/1\.1 100 Continue\r\n/)
    assert.match(response, /HTTP\/1\.1 200 OK[\s\S]*"bytes":5/)
  })

  test('Expect: 100-continue on an unroutable request is refused without asking for the body', async () => {
    const response = await rawExchange(gateway.url, 'POST /nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n', 1000)
    assert.equal(statusOf(response), 404)
    assert.doesNotMatch(response, /100 Continue/)
  })

  test('a 120 MB chunked upload and a 120 MB download stream through, never held whole in memory', { timeout: 60_000 }, async () => {
    const size = 120 * 1024 * 1024
    const block = Buffer.alloc(1 << 20, 7)
    const expected = createHash('sha256')
    for (let i = 0; i < size / block.length; i++) expected.update(block)
    // Live buffers only: collect garbage before each sample, so the numbers say what is held, not what is litter.
    const liveBuffers = () => (collectGarbage(), process.memoryUsage().arrayBuffers)
    const baseline = liveBuffers()
    let peak = 0
    const sampler = setInterval(() => (peak = Math.max(peak, liveBuffers())), 25)
    // The upload pauses after its first MiB until the backend has seen bytes: a gateway that buffered the
    // whole body before sending would never let the backend see any, and the upload would stall.
    let sent = 0
    const source = new Readable({
      read() {
        if (sent >= size) return this.push(null)
        if (sent === block.length && uploadProgress() === 0) return void setTimeout(() => this._read(0), 10)
        sent += block.length
        this.push(block)
      },
    })
    const upload = await request(`${gateway.url}/p/v1/upload`, { method: 'POST', body: source })
    const result = (await upload.body.json()) as { bytes: number; chunked: boolean }
    assert.deepEqual(result, { bytes: size, chunked: true })
    assert.equal(uploadDigest, expected.digest('hex'))

    downloadReceived = 0
    const download = await request(`${gateway.url}/p/v1/download?bytes=${size}`)
    let received = 0
    for await (const chunk of download.body) downloadReceived = received += (chunk as Buffer).length
    clearInterval(sampler)
    assert.equal(received, size)
    // Client, gateway and backend share this process: in flight they hold about 25 MB between them; holding
    // either body whole would keep 120 MB more alive.
    assert.ok(peak - baseline < size / 2, `live buffers grew by ${peak - baseline} bytes`)
  })

  test('a client that goes away in the middle of a streamed body releases the backend connection', async () => {
    const before = trickleClosed
    const response = await request(`${gateway.url}/p/v1/trickle`)
    assert.equal(response.statusCode, 200)
    for await (const chunk of response.body) {
      assert.match(String(chunk), /^first,/)
      break
    }
    response.body.destroy()
    for (let i = 0; i < 50 && trickleClosed === before; i++) await sleep(20)
    assert.equal(trickleClosed, before + 1, 'the backend saw its response closed')
  })

  test('a client that goes away cancels the backend request', async () => {
    const before = aborted
    const controller = new AbortController()
    const pending = request(`${gateway.url}/p/v1/slow`, { signal: controller.signal }).catch(() => undefined)
    await sleep(100)
    controller.abort()
    await pending
    for (let i = 0; i < 50 && aborted === before; i++) await sleep(20)
    assert.equal(aborted, before + 1)
  })
})

describe('small request bodies are read first, larger ones streamed (limits.inMemoryBodyBytes)', () => {
  let backend: TestBackend
  let gateway: TestGateway

  before(async () => {
    // Sees each request as soon as its headers arrive, then answers with the length of the body it read.
    backend = await startBackend(
      (req, res) => {
        let length = 0
        req.on('data', (chunk: Buffer) => (length += chunk.length))
        req.on('end', () => res.end(String(length)))
      },
      { streaming: true },
    )
    gateway = await startGateway(`
limits: { inMemoryBodyBytes: 1024 }
apis:
  - name: upload
    context: /u
    version: v1
    endpoints:
      production: { type: http, url: "${backend.url}" }
`)
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  /** Sends the headers and the first half of a body, checks what the backend saw meanwhile, then the rest. */
  async function halfThenRest(length: number, whileHalf: () => Promise<void>): Promise<string> {
    const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1')
    await once(socket, 'connect')
    let answer = ''
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()))
    const half = Math.floor(length / 2)
    socket.write(`POST /u/v1/in HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\nconnection: close\r\n\r\n${'a'.repeat(half)}`)
    await whileHalf()
    socket.write('b'.repeat(length - half))
    await once(socket, 'close')
    return answer
  }

  test('a body within the limit reaches the backend only once complete, in one piece', async () => {
    const before = backend.requests.length
    const answer = await halfThenRest(1000, async () => {
      await sleep(300)
      assert.equal(backend.requests.length, before, 'the backend was not called before the body was complete')
    })
    assert.match(answer, /^HTTP\/1\.1 200 /)
    assert.match(answer, /\r\n\r\n1000$/)
  })

  test('a larger body is streamed: the backend sees the request before the client finished sending it', async () => {
    const before = backend.requests.length
    const answer = await halfThenRest(5000, async () => {
      for (let i = 0; i < 100 && backend.requests.length === before; i++) await sleep(20)
      assert.equal(backend.requests.length, before + 1, 'the backend had the request while the body was still coming')
    })
    assert.match(answer, /\r\n\r\n5000$/)
  })
})
