import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { connect, constants, createSecureServer, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { request as httpsRequestRaw } from 'node:https'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { startBackend, type TestBackend } from './support/backend.ts'
import { createCertificateAuthority, type CertificateAuthority } from './support/certificates.ts'
import { httpsRequest, startLoggedGateway, type LoggedGateway } from './support/tls-gateway.ts'

let ca: CertificateAuthority
let backend: TestBackend
let gateway: LoggedGateway
/** What the backend saw of a request whose response it holds until the client goes: did it see the end? */
const held: Array<{ closed: Promise<void> }> = []

before(async () => {
  ca = createCertificateAuthority()
  ca.issueServer('gateway', ['gateway.test'])
  ca.issueServer('backend', ['backend.test'])
  backend = await startBackend(
    (req, res) => {
      if (req.url!.startsWith('/hold')) {
        // Answers nothing: the request stays open until the gateway cancels it.
        held.push({ closed: once(res, 'close').then(() => undefined) })
        return
      }
      if (req.url!.startsWith('/slow')) {
        req.resume()
        setTimeout(() => res.end('slow answer'), 300)
        return
      }
      if (req.url!.startsWith('/duplex')) {
        // Echoes each chunk as it arrives: a response that only completes after the request did proves both stream.
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        req.on('data', (chunk: Buffer) => res.write(chunk))
        req.on('end', () => res.end())
        return
      }
      if (req.url!.startsWith('/trailers')) {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'grpc-status, grpc-message', connection: 'keep-alive', 'keep-alive': 'timeout=5' })
        res.write('payload')
        res.addTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' })
        res.end()
        return
      }
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'keep-alive': 'timeout=5' })
        res.end(JSON.stringify({ url: req.url, headers: req.headers, httpVersion: req.httpVersion }))
      })
    },
    { streaming: true },
  )
  gateway = await startLoggedGateway(`
listeners:
  - name: secure
    host: 127.0.0.1
    port: 0
    tls: { certificates: [{ cert: ${join(ca.dir, 'gateway-chain.pem')}, key: ${join(ca.dir, 'gateway.key')} }] }
  - { name: cleartext, host: 127.0.0.1, port: 0, h2c: true }
  - { name: plain, host: 127.0.0.1, port: 0 }
limits:
  maxConcurrentStreams: 50
  maxHeaderBytes: 4096
apis:
  - name: b
    version: "1"
    context: /b
    endpoints:
      production: { type: http, url: ${backend.url} }
`)
})
after(async () => {
  await gateway.close()
  await backend.close()
  ca.remove()
})

function h2(port = gateway.ports.secure!): ClientHttp2Session {
  const session = connect(`https://127.0.0.1:${port}`, { ca: ca.root, servername: 'gateway.test' })
  session.on('error', () => {})
  return session
}

/** One request on `session`; the response's headers, body and trailers. */
function exchange(session: ClientHttp2Session, headers: Record<string, string>, body?: string): Promise<{ headers: IncomingHttpHeaders; body: string; trailers: IncomingHttpHeaders | undefined }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined })
    let responseHeaders: IncomingHttpHeaders = {}
    let trailers: IncomingHttpHeaders | undefined
    let text = ''
    stream.setEncoding('utf8')
    stream.on('response', (received) => (responseHeaders = received))
    stream.on('trailers', (received) => (trailers = received))
    stream.on('data', (chunk: string) => (text += chunk))
    stream.on('end', () => resolve({ headers: responseHeaders, body: text, trailers }))
    stream.on('error', reject)
    if (body !== undefined) stream.end(body)
  })
}

describe('HTTP/2 on a TLS listener', () => {
  test('ALPN offers h2 and http/1.1 on one port; over h2 the backend gets no pseudo-headers and no connection headers come back', async () => {
    const http1 = await httpsRequest(gateway.ports.secure!, { servername: 'gateway.test', ca: ca.root, path: '/b/1/one' })
    assert.equal(http1.alpn, 'http/1.1')
    assert.equal(http1.status, 200)
    const session = h2()
    try {
      const answer = await exchange(session, { ':path': '/b/1/two?x=1', cookie: 'a=1', 'x-custom': 'v' })
      assert.equal(session.alpnProtocol, 'h2')
      assert.equal(answer.headers[':status'], 200)
      // node's HTTP/2 server refuses to send Connection or Keep-Alive: had they passed, there would be no response.
      assert.equal(answer.headers.connection, undefined)
      const seen = JSON.parse(answer.body)
      assert.equal(seen.url, '/two?x=1')
      assert.equal(seen.httpVersion, '1.1')
      assert.equal(Object.keys(seen.headers).some((name) => name.startsWith(':')), false)
      assert.equal(seen.headers['x-custom'], 'v')
      assert.equal(seen.headers['x-forwarded-host'], `gateway.test:${gateway.ports.secure}`, 'the :authority becomes X-Forwarded-Host')
      assert.equal(seen.headers['x-forwarded-proto'], 'https')
    } finally {
      session.close()
    }
  })

  test('cookies split into several fields reach an HTTP/1.1 backend as one Cookie header', async () => {
    const session = h2()
    try {
      // Sent as separate fields, as RFC 9113 8.2.3 allows for compression.
      const stream = session.request([':path', '/b/1/c', ':method', 'GET', 'cookie', 'a=1', 'cookie', 'b=2'] as unknown as Record<string, string>)
      let body = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => (body += chunk))
      await once(stream, 'end')
      assert.equal(JSON.parse(body).headers.cookie, 'a=1; b=2')
    } finally {
      session.close()
    }
  })

  test('a request body without Content-Length streams to the backend while its echo streams back', async () => {
    const session = h2()
    try {
      const stream = session.request({ ':path': '/b/1/duplex', ':method': 'POST' })
      stream.setEncoding('utf8')
      stream.write('first.')
      // The echo of the first chunk arrives while the request is still open: neither side was buffered whole.
      const [firstEcho] = (await once(stream, 'data')) as [string]
      assert.equal(firstEcho, 'first.')
      let rest = ''
      stream.on('data', (chunk: string) => (rest += chunk))
      stream.end('second.')
      await once(stream, 'end')
      assert.equal(rest, 'second.')
    } finally {
      session.close()
    }
  })

  test("the backend's trailers reach an HTTP/2 client and a chunked HTTP/1.1 client", async () => {
    const session = h2()
    try {
      const answer = await exchange(session, { ':path': '/b/1/trailers' })
      assert.equal(answer.body, 'payload')
      assert.equal(answer.trailers?.['grpc-status'], '0')
      assert.equal(answer.trailers?.['grpc-message'], 'fine')
    } finally {
      session.close()
    }
    // An HTTP/1.1 client on the same TLS port (ALPN http/1.1) gets them after the last chunk.
    const trailers = await new Promise<NodeJS.Dict<string>>((resolve, reject) => {
      const req = httpsRequestRaw({ host: '127.0.0.1', port: gateway.ports.secure, path: '/b/1/trailers', servername: 'gateway.test', ca: ca.root, agent: false, headers: { te: 'trailers' } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.trailers))
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(trailers['grpc-status'], '0')
  })

  test("a client's RST_STREAM cancels the backend request", async () => {
    const session = h2()
    try {
      const before = held.length
      const stream = session.request({ ':path': '/b/1/hold' })
      stream.on('error', () => {})
      while (held.length === before) await new Promise((resolve) => setTimeout(resolve, 20))
      stream.close(constants.NGHTTP2_CANCEL)
      const closed = await Promise.race([held.at(-1)!.closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still open'), 3000))])
      assert.equal(closed, 'closed')
    } finally {
      session.close()
    }
  })

  test('the listener announces maxConcurrentStreams and refuses a header block above maxHeaderBytes before the backend', async () => {
    const session = h2()
    try {
      await once(session, 'remoteSettings')
      assert.equal(session.remoteSettings.maxConcurrentStreams, 50)
      assert.equal(session.remoteSettings.maxHeaderListSize, 4096)
      const count = backend.requests.length
      const outcome = await exchange(session, { ':path': '/b/1/big', 'x-big': 'x'.repeat(8000) }).then(
        (answer) => `status ${answer.headers[':status']}`,
        (error: NodeJS.ErrnoException) => error.code,
      )
      assert.notEqual(outcome, 'status 200')
      assert.equal(backend.requests.length, count, 'the oversized request never reached the backend')
    } finally {
      session.close()
    }
  })

  test('more header fields than limits.maxHeaders is 431 over HTTP/2 too, and CONNECT is refused with 405', async () => {
    const session = h2()
    try {
      const headers: Record<string, string> = { ':path': '/b/1/many' }
      for (let i = 0; i < 101; i++) headers[`x-field-${i}`] = 'v'
      const many = await exchange(session, headers)
      assert.equal(many.headers[':status'], 431)
      assert.equal(JSON.parse(many.body).code, 'HEADERS_TOO_LARGE')
      const exact: Record<string, string> = { ':path': '/b/1/exact' }
      for (let i = 0; i < 90; i++) exact[`x-field-${i}`] = 'v'
      assert.equal((await exchange(session, exact)).headers[':status'], 200, 'the pseudo-headers do not count against the limit')
      const tunnel = await exchange(session, { ':method': 'CONNECT', ':authority': 'example.com:443' })
      assert.equal(tunnel.headers[':status'], 405)
    } finally {
      session.close()
    }
  })

  test('a rapid-reset flood (CVE-2023-44487) gets a GOAWAY long before its streams are all served; others are still served', async () => {
    const count = backend.requests.length
    const flood = await rapidReset(gateway.ports.secure!, 5000)
    // node (nghttp2 ≥ 1.57) allows a burst of about 1000 resets, then ends the connection with INTERNAL_ERROR.
    assert.equal(flood.goaway, constants.NGHTTP2_INTERNAL_ERROR)
    assert.ok(flood.closed, 'the connection was closed')
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.ok(backend.requests.length - count < 2500, `${backend.requests.length - count} of 5000 reset streams reached the backend`)
    const fresh = h2()
    try {
      assert.equal((await exchange(fresh, { ':path': '/b/1/after' })).headers[':status'], 200)
    } finally {
      fresh.close()
    }
  })

  test('curl --http2 negotiates HTTP/2 through the gateway', async (t) => {
    const version = await promisify(execFile)('curl', ['-V']).catch(() => undefined)
    if (!version || !/HTTP2/.test(version.stdout)) return t.skip('curl without HTTP/2')
    const { stdout } = await promisify(execFile)('curl', [
      '--http2', '-s', '--cacert', ca.rootFile, '--resolve', `gateway.test:${gateway.ports.secure}:127.0.0.1`,
      '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://gateway.test:${gateway.ports.secure}/b/1/curl`,
    ])
    assert.equal(stdout, '2 200')
  })
})

describe('stopping with HTTP/2 connections open', () => {
  test('on close a client gets a GOAWAY, its request in flight still completes, and the gateway stops', async () => {
    const local = await startLoggedGateway(`
listeners:
  - { name: secure, host: 127.0.0.1, port: 0, tls: { certificates: [{ cert: ${join(ca.dir, 'gateway-chain.pem')}, key: ${join(ca.dir, 'gateway.key')} }] } }
apis:
  - { name: b, version: "1", context: /b, endpoints: { production: { type: http, url: "${backend.url}" } } }
`)
    const session = h2(local.ports.secure!)
    let goaway = false
    session.on('goaway', () => (goaway = true))
    const inFlight = exchange(session, { ':path': '/b/1/slow' })
    while (!backend.requests.some((request) => request.url === '/slow')) await new Promise((resolve) => setTimeout(resolve, 20))
    const closed = local.close()
    const answer = await inFlight
    assert.equal(answer.body, 'slow answer')
    await closed
    assert.equal(goaway, true)
    session.destroy()
  })
})

describe('cleartext HTTP/2 (h2c)', () => {
  test('an h2c listener serves HTTP/2 with prior knowledge', async () => {
    const session = connect(`http://127.0.0.1:${gateway.ports.cleartext}`)
    try {
      const answer = await exchange(session, { ':path': '/b/1/h2c' })
      assert.equal(answer.headers[':status'], 200)
      assert.equal(JSON.parse(answer.body).headers['x-forwarded-proto'], 'http')
    } finally {
      session.close()
    }
  })
})

describe('HTTP/2 with prior knowledge on an HTTP/1.1 listener', () => {
  test('the client gets a GOAWAY with HTTP_1_1_REQUIRED and the reason, not HTTP/1.1 bytes it cannot read', async () => {
    const session = connect(`http://127.0.0.1:${gateway.ports.plain}`)
    session.on('error', () => {})
    const [errorCode, , opaqueData] = (await once(session, 'goaway')) as [number, number, Buffer]
    assert.equal(errorCode, constants.NGHTTP2_HTTP_1_1_REQUIRED)
    assert.match(opaqueData.toString(), /speaks HTTP\/1\.1 only; HTTP\/2 needs TLS with ALPN, or h2c: true/)
    session.destroy()
    const plain = await fetch(`http://127.0.0.1:${gateway.ports.plain}/b/1/plain`)
    assert.equal(plain.status, 200, 'HTTP/1.1 on the same listener is served')
    await plain.arrayBuffer()
  })
})

describe('HTTP/2 to the backend', () => {
  test('a leaf with http2: true talks HTTP/2 to an https backend; without it, HTTP/1.1', async () => {
    const versions: string[] = []
    const issued = ca.issueServer('h2backend', ['backend.test'])
    const server = createSecureServer({ cert: issued.chain, key: issued.key, allowHTTP1: true }, (req, res) => {
      versions.push(req.httpVersion)
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`over ${req.httpVersion}`)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    const leaf = (http2: boolean) => `{ type: http, url: "https://127.0.0.1:${port}", http2: ${http2}, security: { tls: { ca: ${ca.rootFile}, servername: backend.test } } }`
    const local = await startLoggedGateway(`
listeners: [{ name: plain, host: 127.0.0.1, port: 0 }]
apis:
  - { name: two, version: "1", context: /two, endpoints: { production: ${leaf(true)} } }
  - { name: one, version: "1", context: /one, endpoints: { production: ${leaf(false)} } }
`)
    try {
      const two = await fetch(`http://127.0.0.1:${local.ports.plain}/two/1/x`)
      assert.equal(await two.text(), 'over 2.0')
      const one = await fetch(`http://127.0.0.1:${local.ports.plain}/one/1/x`)
      assert.equal(await one.text(), 'over 1.1')
    } finally {
      await local.close()
      server.close()
    }
  })
})

/**
 * Writes the attack's frames by hand: node's own client drops a stream's HEADERS when it is reset before they are
 * flushed, so it cannot flood. Each stream is a HEADERS frame (GET /b/1/flood, HPACK literals) and a RST_STREAM.
 */
function rapidReset(port: number, streams: number): Promise<{ goaway: number | undefined; closed: boolean }> {
  const frame = (type: number, flags: number, id: number, payload: Buffer) => {
    const head = Buffer.alloc(9)
    head.writeUIntBE(payload.length, 0, 3)
    head[3] = type
    head[4] = flags
    head.writeUInt32BE(id, 5)
    return Buffer.concat([head, payload])
  }
  const literal = (nameIndex: number, value: string) => Buffer.concat([Buffer.from([nameIndex, value.length]), Buffer.from(value)])
  // :method GET and :scheme https from the static table, :path and :authority as literals without indexing.
  const block = Buffer.concat([Buffer.from([0x82, 0x87]), literal(0x04, '/b/1/flood'), literal(0x01, 'gateway.test')])
  return new Promise((resolve) => {
    let goaway: number | undefined
    let pending = Buffer.alloc(0)
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'gateway.test', ca: ca.root, ALPNProtocols: ['h2'] }, () => {
      const parts = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))]
      for (let i = 0; i < streams; i++) parts.push(frame(1, 0x5, 2 * i + 1, block), frame(3, 0, 2 * i + 1, Buffer.from([0, 0, 0, constants.NGHTTP2_CANCEL])))
      socket.write(Buffer.concat(parts))
    })
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data])
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        if (pending[3] === 7) goaway = pending.readUInt32BE(13)
        pending = pending.subarray(9 + pending.readUIntBE(0, 3))
      }
    })
    socket.on('error', () => {})
    const timer = setTimeout(() => socket.destroy(), 5000)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ goaway, closed: true })
    })
  })
}
