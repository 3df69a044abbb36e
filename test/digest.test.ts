import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { chooseDigestChallenge, chooseQop, digestAuthorization, DigestNonces, DigestSession, parseDigestChallenge, type DigestChallenge } from '../src/security/digest.ts'
import { parseChallenges } from '../src/security/challenges.ts'

/** The parameters of a header value such as `Digest a="b", c=d`, for comparing headers. */
function params(header: string): Record<string, string> {
  const [challenge] = parseChallenges(header.replace(/\s+/g, ' '))
  assert.ok(challenge, `cannot parse ${header}`)
  return challenge.parameters
}

const rfc7616Challenge = (algorithm: string): DigestChallenge =>
  parseDigestChallenge({
    realm: 'http-auth@example.org',
    qop: 'auth, auth-int',
    algorithm,
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
  })!

const request = { method: 'GET', uri: '/dir/index.html', body: null }

describe('digest (RFC 7616 worked examples)', () => {
  const credentials = { username: 'Mufasa', password: 'Circle of Life' }
  const cnonce = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ'

  test('section 3.9.1 with MD5', () => {
    const header = digestAuthorization({ challenge: rfc7616Challenge('MD5'), credentials, request, nc: 1, cnonce })
    assert.deepEqual(params(header), {
      username: 'Mufasa',
      realm: 'http-auth@example.org',
      uri: '/dir/index.html',
      algorithm: 'MD5',
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      nc: '00000001',
      cnonce,
      qop: 'auth',
      response: '8ca523f5e9506fed4657c9700eebdbec',
      opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    })
  })

  test('section 3.9.1 with SHA-256', () => {
    const header = digestAuthorization({ challenge: rfc7616Challenge('SHA-256'), credentials, request, nc: 1, cnonce })
    assert.equal(params(header).response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1')
    assert.equal(params(header).algorithm, 'SHA-256')
  })

  test('RFC 2617 section 3.5 (MD5, qop=auth)', () => {
    const challenge = parseDigestChallenge({
      realm: 'testrealm@host.com',
      qop: 'auth,auth-int',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
    })!
    const header = digestAuthorization({
      challenge,
      credentials: { username: 'Mufasa', password: 'Circle Of Life' },
      request,
      nc: 1,
      cnonce: '0a4f113b',
    })
    assert.equal(params(header).response, '6629fae49393a05397450978507c4ef1')
  })
})

describe('digest computations', () => {
  const md5 = (text: string | Buffer) => createHash('md5').update(text).digest('hex')
  const sha512256 = (text: string | Buffer) => createHash('sha512-256').update(text).digest('hex')

  test('auth-int hashes the body; -sess folds nonce and cnonce into HA1', () => {
    const challenge = parseDigestChallenge({ realm: 'r', nonce: 'n', qop: 'auth-int', algorithm: 'MD5-sess' })!
    const body = Buffer.from('{"pizza":"margherita"}')
    const header = digestAuthorization({ challenge, credentials: { username: 'u', password: 'p' }, request: { method: 'POST', uri: '/orders?x=1', body }, nc: 10, cnonce: 'c' })
    const ha1 = md5(`${md5('u:r:p')}:n:c`)
    const ha2 = md5(`POST:/orders?x=1:${md5(body)}`)
    assert.equal(params(header).response, md5(`${ha1}:n:0000000a:c:auth-int:${ha2}`))
    assert.equal(params(header).qop, 'auth-int')
    assert.throws(() => digestAuthorization({ challenge, credentials: { username: 'u', password: 'p' }, request: { method: 'POST', uri: '/', body: undefined }, nc: 1, cnonce: 'c' }), /auth-int/)
  })

  test('userhash sends H(username:realm); a non-ASCII name without it goes in username*', () => {
    const username = 'J\u00e4s\u00f8n Doe'
    const hashed = parseDigestChallenge({ realm: 'api@example.org', nonce: 'n', qop: 'auth', algorithm: 'SHA-512-256', userhash: 'true' })!
    const header = digestAuthorization({ challenge: hashed, credentials: { username, password: 'Secret, or not?' }, request, nc: 1, cnonce: 'c' })
    assert.equal(params(header).username, sha512256(`${username}:api@example.org`))
    assert.equal(params(header).userhash, 'true')
    const plain = parseDigestChallenge({ realm: 'api@example.org', nonce: 'n', qop: 'auth' })!
    const named = digestAuthorization({ challenge: plain, credentials: { username, password: 'x' }, request, nc: 1, cnonce: 'c' })
    assert.match(named, /username\*=UTF-8''J%C3%A4s%C3%B8n%20Doe/)
  })

  test('RFC 2069 servers (no qop) get the legacy response without nc and cnonce', () => {
    const challenge = parseDigestChallenge({ realm: 'testrealm@host.com', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093' })!
    const header = digestAuthorization({ challenge, credentials: { username: 'Mufasa', password: 'CircleOfLife' }, request, nc: 1, cnonce: 'c' })
    const expected = md5(`${md5('Mufasa:testrealm@host.com:CircleOfLife')}:dcd98b7102dd2f0e8b11d0f600bfb0c093:${md5('GET:/dir/index.html')}`)
    assert.equal(params(header).response, expected)
    assert.equal(params(header).nc, undefined)
  })

  test('the strongest of several challenges is chosen; unknown algorithms are ignored', () => {
    const chosen = chooseDigestChallenge(
      parseChallenges('Digest realm="r", nonce="a", algorithm=MD5, qop="auth", Digest realm="r", nonce="b", algorithm=SHA-256, qop="auth", Digest realm="r", nonce="c", algorithm=SHA-1, Basic realm="r"'),
    )
    assert.equal(chosen?.algorithm, 'SHA-256')
    assert.equal(chosen?.nonce, 'b')
    assert.equal(chooseDigestChallenge(parseChallenges('Basic realm="r"')), undefined)
  })

  test('an empty qop (qop="", as http-auth words a no-qop challenge) is RFC 2069; an unknown qop cannot be answered', () => {
    const challenge = chooseDigestChallenge(parseChallenges('Digest realm="r", qop="", nonce="n", algorithm="MD5", stale="false"'))
    assert.deepEqual(challenge?.qop, [])
    assert.equal(chooseQop(challenge!), undefined)
    assert.equal(parseDigestChallenge({ realm: 'r', nonce: 'n', qop: 'auth-conf' }), undefined)
  })

  test('nonces serve one request at a time; an answered one is reused, a failed one dropped, an unsent count withdrawn', () => {
    const nonces = new DigestNonces({ username: 'u', password: 'p' }, false)
    const one = nonces.acquire(true)
    one.accept(parseDigestChallenge({ realm: 'r', nonce: 'one', qop: 'auth' })!)
    const two = nonces.acquire(true)
    assert.notEqual(two, one, 'a nonce in use is not handed out again')
    assert.equal(params(one.authorize(request)!.header).nc, '00000001')
    nonces.release(one, 'accepted', 1)
    nonces.release(two, 'failed', undefined)
    assert.equal(nonces.acquire(true), one)
    const unsent = one.authorize(request)!
    assert.equal(params(unsent.header).nc, '00000002')
    nonces.release(one, 'unsent', unsent.nc)
    assert.equal(nonces.acquire(true), one)
    assert.equal(params(one.authorize(request)!.header).nc, '00000002', 'the count never sent is taken again')
    assert.equal(nonces.acquire(false), one, 'a body that cannot be sent twice shares a known nonce rather than face a challenge')
    assert.notEqual(nonces.acquire(true), one)
    const shared = new DigestNonces({ username: 'u', password: 'p' }, true)
    assert.equal(shared.acquire(true), shared.acquire(true))
  })

  test('a session counts nonce uses across requests and restarts the count for a new nonce', () => {
    const session = new DigestSession({ username: 'u', password: 'p' })
    assert.equal(session.authorize(request), undefined)
    session.accept(parseDigestChallenge({ realm: 'r', nonce: 'one', qop: 'auth' })!)
    const counts = Array.from({ length: 3 }, () => params(session.authorize(request)!.header).nc)
    assert.deepEqual(counts, ['00000001', '00000002', '00000003'])
    session.accept(parseDigestChallenge({ realm: 'r', nonce: 'two', qop: 'auth', stale: 'true' })!)
    assert.equal(params(session.authorize(request)!.header).nc, '00000001')
  })
})

describe('WWW-Authenticate parsing', () => {
  test('several challenges in one value and across values, quoted strings with commas and escapes, token68', () => {
    assert.deepEqual(
      parseChallenges(['Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"', 'Bearer error="invalid_token", error_description="expired, renew it"', 'Negotiate YIIGhgYGKwYBBQUC==']),
      [
        { scheme: 'newauth', parameters: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
        { scheme: 'basic', parameters: { realm: 'simple' } },
        { scheme: 'bearer', parameters: { error: 'invalid_token', error_description: 'expired, renew it' } },
        { scheme: 'negotiate', parameters: {} },
      ],
    )
    assert.deepEqual(parseChallenges(undefined), [])
    assert.deepEqual(parseChallenges('Digest REALM="r", Nonce="n", QOP="auth"')[0]?.parameters, { realm: 'r', nonce: 'n', qop: 'auth' })
  })
})
