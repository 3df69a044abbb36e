import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { connect } from 'node:http2'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { TLSSocket } from 'node:tls'
import { parseConfig } from '../src/config/load.ts'
import { loadConfigFile } from '../src/config/reader.ts'
import { freePort, startCli } from './support/cli.ts'
import { rawExchange, statusOf } from './support/raw.ts'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { createCertificateAuthority, type CertificateAuthority } from './support/certificates.ts'
import { httpsRequest, startLoggedGateway } from './support/tls-gateway.ts'

let ca: CertificateAuthority
let backend: TestBackend

before(async () => {
  ca = createCertificateAuthority()
  backend = await startEchoBackend()
})
after(async () => {
  await backend.close()
  ca.remove()
})

function api(): string {
  return `
apis:
  - name: echo
    version: "1"
    context: /echo
    endpoints:
      production: { type: http, url: ${backend.url} }
`
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256

describe('certificates on a TLS listener', () => {
  test('the chain verifies against the root alone, SNI picks the certificate, and a client without SNI gets the first', async () => {
    const api1 = ca.issueServer('api1', ['api.test'])
    const other = ca.issueServer('other', ['*.other.test'], { direct: true })
    const gateway = await startLoggedGateway(`
listeners:
  - name: secure
    host: 127.0.0.1
    port: 0
    tls:
      certificates:
        - { cert: ${join(ca.dir, 'api1-chain.pem')}, key: ${join(ca.dir, 'api1.key')} }
        - { cert: ${join(ca.dir, 'other-chain.pem')}, key: ${join(ca.dir, 'other.key')} }
${api()}`)
    try {
      const port = gateway.ports.secure!
      const first = await httpsRequest(port, { servername: 'api.test', ca: ca.root, path: '/echo/1/hello' })
      assert.equal(first.status, 200)
      assert.equal(first.peer.fingerprint256, fingerprint(api1.cert))
      assert.equal(JSON.parse(first.body).headers['x-forwarded-proto'], 'https', 'the backend learns the client used HTTPS')
      const wildcard = await httpsRequest(port, { servername: 'shop.other.test', ca: ca.root, path: '/echo/1/' })
      assert.equal(wildcard.status, 200)
      assert.equal(wildcard.peer.fingerprint256, fingerprint(other.cert))
      const noSni = await httpsRequest(port, { ca: ca.root, path: '/echo/1/' })
      assert.equal(noSni.peer.fingerprint256, fingerprint(api1.cert))
    } finally {
      await gateway.close()
    }
  })

  test('a name no certificate covers gets the default one, which the client refuses for the wrong host', async () => {
    ca.issueServer('wrong', ['right.test'])
    const gateway = await startLoggedGateway(`
listeners:
  - { name: secure, host: 127.0.0.1, port: 0, tls: { certificates: [{ cert: ${join(ca.dir, 'wrong-chain.pem')}, key: ${join(ca.dir, 'wrong.key')} }] } }
${api()}`)
    try {
      await assert.rejects(httpsRequest(gateway.ports.secure!, { servername: 'elsewhere.test', ca: ca.root, path: '/echo/1/' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
    } finally {
      await gateway.close()
    }
  })

  test('TLS 1.2 without forward secrecy is refused by the default ciphers; TLS 1.2 with ECDHE is served', async () => {
    ca.issueServer('ciphers', ['ciphers.test'])
    const gateway = await startLoggedGateway(`
listeners:
  - { name: secure, host: 127.0.0.1, port: 0, tls: { certificates: [{ cert: ${join(ca.dir, 'ciphers-chain.pem')}, key: ${join(ca.dir, 'ciphers.key')} }] } }
${api()}`)
    try {
      const port = gateway.ports.secure!
      const modern = await httpsRequest(port, { servername: 'ciphers.test', ca: ca.root, path: '/echo/1/', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })
      assert.equal(modern.status, 200)
      await assert.rejects(httpsRequest(port, { servername: 'ciphers.test', ca: ca.root, path: '/echo/1/', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }), /handshake failure|SSL/i)
    } finally {
      await gateway.close()
    }
  })

  test('an expired certificate, a key of another certificate or a missing file is a config error at its line, naming the field', async () => {
    ca.issueServer('expired', ['expired.test'], { expired: true })
    ca.issueServer('mismatch', ['mismatch.test'])
    const start = (cert: string, key: string) =>
      startLoggedGateway(`
listeners:
  - { name: secure, host: 127.0.0.1, port: 0, tls: { certificates: [{ cert: ${cert}, key: ${key} }] } }
${api()}`)
    await assert.rejects(start(join(ca.dir, 'expired.pem'), join(ca.dir, 'expired.key')), /test\.yaml:3:\d+: listeners\[0\]\.tls\.certificates\[0\]\.cert: the certificate expired on Jan  2 00:00:00 2020 GMT/)
    await assert.rejects(start(join(ca.dir, 'mismatch.pem'), join(ca.dir, 'expired.key')), /listeners\[0\]\.tls\.certificates\[0\]\.key: does not belong to the certificate/)
    await assert.rejects(start(join(ca.dir, 'absent.pem'), join(ca.dir, 'expired.key')), /listeners\[0\]\.tls\.certificates\[0\]\.cert: cannot read .*absent\.pem \(ENOENT\)/)
    assert.throws(
      () => parseConfig(`listeners: [{ port: 1, tls: { ciphers: NO-SUCH-CIPHER, certificates: [{ cert: ${join(ca.dir, 'mismatch.pem')}, key: ${join(ca.dir, 'mismatch.key')} }] } }]`),
      /listeners\[0\]\.tls\.certificates\[0\]: .*cipher/i,
    )
    // A reference that does not hold PEM text is taken for a path; the message must not show what it holds.
    process.env.PORTICO_TEST_NOT_PEM = 'sEcReT-key-material'
    try {
      assert.throws(
        () => parseConfig(`listeners: [{ port: 1, tls: { certificates: [{ cert: ${join(ca.dir, 'mismatch.pem')}, key: "\${env:PORTICO_TEST_NOT_PEM}" }] } }]`),
        (error: Error) => /certificates\[0\]\.key: cannot read/.test(error.message) && !error.message.includes('sEcReT'),
      )
    } finally {
      delete process.env.PORTICO_TEST_NOT_PEM
    }
  })

  test('certificate paths are relative to the config file, as every path in it is', async () => {
    const dir = join(ca.dir, 'etc')
    mkdirSync(join(dir, 'certs'), { recursive: true })
    const issued = ca.issueServer('relative', ['relative.test'])
    writeFileSync(join(dir, 'certs', 'server.pem'), issued.chain)
    writeFileSync(join(dir, 'certs', 'server.key'), issued.key)
    writeFileSync(join(dir, 'portico.yaml'), 'listeners: [{ port: 8443, tls: { certificates: [{ cert: certs/server.pem, key: certs/server.key }] } }]\n')
    const config = await loadConfigFile(join(dir, 'portico.yaml'))
    assert.equal(config.listeners[0]!.tls!.certificates[0]!.cert, join(dir, 'certs', 'server.pem'))
  })

  test('PEM text from a ${env:} reference serves as a file does', async () => {
    const issued = ca.issueServer('inline', ['inline.test'])
    process.env.PORTICO_TEST_CERT = issued.chain
    process.env.PORTICO_TEST_KEY = issued.key
    try {
      const gateway = await startLoggedGateway(`
listeners:
  - { name: secure, host: 127.0.0.1, port: 0, tls: { certificates: [{ cert: "\${env:PORTICO_TEST_CERT}", key: "\${env:PORTICO_TEST_KEY}" }] } }
${api()}`)
      try {
        const answer = await httpsRequest(gateway.ports.secure!, { servername: 'inline.test', ca: ca.root, path: '/echo/1/' })
        assert.equal(answer.peer.fingerprint256, fingerprint(issued.cert))
      } finally {
        await gateway.close()
      }
    } finally {
      delete process.env.PORTICO_TEST_CERT
      delete process.env.PORTICO_TEST_KEY
    }
  })
})

describe('certificate rotation', () => {
  test('a replaced certificate file serves new connections while an open connection keeps working; a bad one is refused and logged', async () => {
    const first = ca.issueServer('rotate1', ['rotate.test'])
    const second = ca.issueServer('rotate2', ['rotate.test'])
    const dir = join(ca.dir, 'live')
    mkdirSync(dir, { recursive: true })
    const install = (cert: string, key: string) => {
      // As certbot and Kubernetes do: write beside, then rename over, so no reader sees half a file.
      writeFileSync(join(dir, 'key.pem.new'), key)
      writeFileSync(join(dir, 'cert.pem.new'), cert)
      renameSync(join(dir, 'key.pem.new'), join(dir, 'key.pem'))
      renameSync(join(dir, 'cert.pem.new'), join(dir, 'cert.pem'))
    }
    install(first.chain, first.key)
    const gateway = await startLoggedGateway(`
listeners:
  - { name: secure, host: 127.0.0.1, port: 0, tls: { certificates: [{ cert: ${join(dir, 'cert.pem')}, key: ${join(dir, 'key.pem')} }] } }
${api()}`)
    const port = gateway.ports.secure!
    const session = connect(`https://127.0.0.1:${port}`, { ca: ca.root, servername: 'rotate.test' })
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/echo/1/' })
        stream.on('response', (headers) => resolve(Number(headers[':status'])))
        stream.on('error', reject)
        stream.resume()
      })
    try {
      assert.equal(await get(), 200)
      install(second.chain, second.key)
      const seen = await eventually(async () => (await httpsRequest(port, { servername: 'rotate.test', ca: ca.root, path: '/echo/1/' })).peer.fingerprint256, fingerprint(second.cert))
      assert.equal(seen, fingerprint(second.cert), 'a new connection gets the new certificate')
      assert.equal(await get(), 200, 'the connection opened before the rotation still serves')
      assert.equal((session.socket as TLSSocket).getPeerX509Certificate()!.fingerprint256, fingerprint(first.cert))
      assert.ok(gateway.logs.some((line) => line.msg === 'listener certificates reloaded'))

      // A half-written or wrong certificate must not take the listener down.
      writeFileSync(join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n')
      await eventually(async () => gateway.logs.some((line) => /certificates\[0\]\.cert: not a PEM certificate; the current certificates are kept/.test(line.msg)), true)
      const after = await httpsRequest(port, { servername: 'rotate.test', ca: ca.root, path: '/echo/1/' })
      assert.equal(after.status, 200)
      assert.equal(after.peer.fingerprint256, fingerprint(second.cert))
    } finally {
      session.close()
      await gateway.close()
    }
  })

  test('with watching off, a config reload (what SIGHUP does) re-reads the certificate files', async () => {
    const first = ca.issueServer('hup1', ['hup.test'])
    const second = ca.issueServer('hup2', ['hup.test'])
    const dir = join(ca.dir, 'hup')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'cert.pem'), first.chain)
    writeFileSync(join(dir, 'key.pem'), first.key)
    const yaml = `
listeners:
  - { name: secure, host: 127.0.0.1, port: 0, tls: { watch: false, certificates: [{ cert: ${join(dir, 'cert.pem')}, key: ${join(dir, 'key.pem')} }] } }
${api()}`
    const gateway = await startLoggedGateway(yaml)
    try {
      const port = gateway.ports.secure!
      writeFileSync(join(dir, 'cert.pem'), second.chain)
      writeFileSync(join(dir, 'key.pem'), second.key)
      await new Promise((resolve) => setTimeout(resolve, 400))
      assert.equal((await httpsRequest(port, { servername: 'hup.test', ca: ca.root, path: '/echo/1/' })).peer.fingerprint256, fingerprint(first.cert), 'unwatched files are not re-read by themselves')
      await gateway.instance.gateway.reload(parseConfig(yaml, 'test.yaml'))
      assert.equal((await httpsRequest(port, { servername: 'hup.test', ca: ca.root, path: '/echo/1/' })).peer.fingerprint256, fingerprint(second.cert))
    } finally {
      await gateway.close()
    }
  })
})

describe('certificate rotation in a running process', () => {
  test('portico start --workers 2: SIGHUP makes every worker serve the replaced certificate', async () => {
    const first = ca.issueServer('sighup1', ['sighup.test'])
    const second = ca.issueServer('sighup2', ['sighup.test'])
    const dir = join(ca.dir, 'sighup')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'cert.pem'), first.chain)
    writeFileSync(join(dir, 'key.pem'), first.key)
    const port = await freePort()
    writeFileSync(
      join(dir, 'portico.yaml'),
      `listeners: [{ name: secure, host: 127.0.0.1, port: ${port}, tls: { watch: false, certificates: [{ cert: cert.pem, key: key.pem }] } }]
admin: { enabled: false }
${api()}`,
    )
    const gateway = startCli(['start', '--config', join(dir, 'portico.yaml'), '--workers', '2'])
    try {
      await gateway.waitForLog('worker serving on', 2, 20_000)
      const served = async () => (await httpsRequest(port, { servername: 'sighup.test', ca: ca.root, path: '/echo/1/' })).peer.fingerprint256
      assert.equal(await served(), fingerprint(first.cert))
      writeFileSync(join(dir, 'cert.pem'), second.chain)
      writeFileSync(join(dir, 'key.pem'), second.key)
      gateway.child.kill('SIGHUP')
      await gateway.waitForLog('listener certificates reloaded', 2, 10_000)
      // New connections land on either worker: each of them serves the new certificate.
      for (let i = 0; i < 6; i++) assert.equal(await served(), fingerprint(second.cert))
    } finally {
      await gateway.stop()
    }
  })
})

describe('client certificates (mTLS)', () => {
  test('require: no certificate or one of another CA is refused; a verified one reaches the backend with its subject', async () => {
    ca.issueServer('mtls', ['mtls.test'])
    const alice = ca.issueClient('alice', '/CN=alice/O=Example')
    const strangers = createCertificateAuthority()
    const mallory = strangers.issueClient('mallory', '/CN=mallory')
    const gateway = await startLoggedGateway(`
listeners:
  - name: secure
    host: 127.0.0.1
    port: 0
    tls:
      certificates: [{ cert: ${join(ca.dir, 'mtls-chain.pem')}, key: ${join(ca.dir, 'mtls.key')} }]
      clientCertificates: { mode: require, ca: ${ca.rootFile}, forwardHeader: X-Forwarded-Client-Cert }
${api()}`)
    try {
      const port = gateway.ports.secure!
      const base = { servername: 'mtls.test', ca: ca.root, path: '/echo/1/' }
      await assert.rejects(httpsRequest(port, base), /certificate required|socket hang up|ECONNRESET/i)
      await assert.rejects(httpsRequest(port, { ...base, cert: mallory.cert, key: mallory.key }), /unknown ca|socket hang up|ECONNRESET/i)
      const answer = await httpsRequest(port, { ...base, cert: alice.cert, key: alice.key, headers: { 'x-forwarded-client-cert': 'Subject="CN=forged"' } })
      assert.equal(answer.status, 200)
      const hash = fingerprint(alice.cert).replaceAll(':', '').toLowerCase()
      assert.equal(JSON.parse(answer.body).headers['x-forwarded-client-cert'], `Hash=${hash};Subject="CN=alice,O=Example"`)
      // Over HTTP/2 the certificate is the session's, read through the stream.
      const session = connect(`https://127.0.0.1:${port}`, { ca: ca.root, servername: 'mtls.test', cert: alice.cert, key: alice.key })
      try {
        const stream = session.request({ ':path': '/echo/1/', 'x-forwarded-client-cert': 'Subject="CN=forged"' })
        let body = ''
        stream.setEncoding('utf8')
        stream.on('data', (chunk: string) => (body += chunk))
        await once(stream, 'end')
        assert.equal(JSON.parse(body).headers['x-forwarded-client-cert'], `Hash=${hash};Subject="CN=alice,O=Example"`)
      } finally {
        session.close()
      }
    } finally {
      await gateway.close()
      strangers.remove()
    }
  })

  test('request: a client without a certificate is served, and a forged header of the forwarded name is removed', async () => {
    ca.issueServer('optional', ['optional.test'])
    const gateway = await startLoggedGateway(`
listeners:
  - name: secure
    host: 127.0.0.1
    port: 0
    tls:
      certificates: [{ cert: ${join(ca.dir, 'optional-chain.pem')}, key: ${join(ca.dir, 'optional.key')} }]
      clientCertificates: { mode: request, ca: ${ca.rootFile}, forwardHeader: x-client-cert }
${api()}`)
    try {
      const answer = await httpsRequest(gateway.ports.secure!, { servername: 'optional.test', ca: ca.root, path: '/echo/1/', headers: { 'x-client-cert': 'Subject="CN=admin"' } })
      assert.equal(answer.status, 200)
      assert.equal(JSON.parse(answer.body).headers['x-client-cert'], undefined)
    } finally {
      await gateway.close()
    }
  })
})

describe('redirect to HTTPS', () => {
  test('a plain listener with redirectToHttps answers 308 to the same host, path and query on the HTTPS port', async () => {
    const gateway = await startLoggedGateway(`
listeners:
  - { name: plain, host: 127.0.0.1, port: 0, redirectToHttps: { port: 8443 } }
${api()}`)
    try {
      const base = `http://127.0.0.1:${gateway.ports.plain}`
      const response = await rawExchange(base, 'GET /echo/a?b=1 HTTP/1.1\r\nHost: shop.example.com:8080\r\nConnection: close\r\n\r\n')
      assert.equal(statusOf(response), 308)
      assert.match(response, /\r\nlocation: https:\/\/shop\.example\.com:8443\/echo\/a\?b=1\r\n/i)
      const noHost = await rawExchange(base, 'GET /echo/a HTTP/1.0\r\n\r\n')
      assert.equal(statusOf(noHost), 400, 'without a Host there is no address to redirect to')
      assert.equal(backend.requests.some((request) => request.url === '/a?b=1'), false, 'nothing is proxied in clear')
    } finally {
      await gateway.close()
    }
  })

  test('tls with h2c or with redirectToHttps is refused by the config check', () => {
    assert.throws(() => parseConfig('listeners: [{ port: 1, h2c: true, tls: { certificates: [{ cert: a.pem, key: a.key }] } }]'), /listeners\[0\]\.h2c: is for listeners without tls/)
    assert.throws(() => parseConfig('listeners: [{ port: 1, redirectToHttps: { port: 443 }, tls: { certificates: [{ cert: a.pem, key: a.key }] } }]'), /listeners\[0\]\.redirectToHttps: is for listeners without tls/)
  })
})

/** Polls `probe` until it returns `expected` (or 5 s pass) and returns its last value. */
async function eventually<T>(probe: () => Promise<T>, expected: T): Promise<T> {
  const deadline = Date.now() + 5000
  let value = await probe()
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    value = await probe()
  }
  return value
}
