/**
 * HTTP Digest access authentication, client side (RFC 7616, and RFC 2617/2069 servers).
 *
 * Written here rather than taken from npm: the packages there (digest-fetch, digest-header, @mreal/digest-auth)
 * wrap `fetch` or stop at MD5 and MD5-sess; none offers userhash, SHA-512-256, nonce counts kept in order under
 * concurrency and a way to send through an undici pool together. The RFC's own worked examples are its unit tests
 * (test/digest.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto'

export const DIGEST_ALGORITHMS = ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'] as const
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number]

const HASH_OF: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }
/** When a server offers several challenges, the strongest hash wins (RFC 7616 section 3.7). */
const STRENGTH: Record<string, number> = { MD5: 1, 'SHA-256': 2, 'SHA-512-256': 3 }

export interface DigestChallenge {
  readonly realm: string
  readonly nonce: string
  readonly opaque: string | undefined
  readonly algorithm: DigestAlgorithm
  /** The qop values offered; empty for an RFC 2069 server, which knows none. */
  readonly qop: ReadonlyArray<'auth' | 'auth-int'>
  /** The previous nonce expired but the credentials were right: retry with this one. */
  readonly stale: boolean
  readonly userhash: boolean
}

export interface DigestCredentials {
  readonly username: string
  readonly password: string
}

export interface DigestRequest {
  readonly method: string
  /** The request target exactly as sent: path and query. */
  readonly uri: string
  /** The whole body, needed for qop `auth-int` only; undefined when it is not held in memory. */
  readonly body: Buffer | null | undefined
}

/**
 * The most secure Digest challenge among auth-params parsed from `WWW-Authenticate`, or undefined when no
 * challenge is Digest with an algorithm this client knows.
 */
export function chooseDigestChallenge(challenges: ReadonlyArray<{ scheme: string; parameters: Record<string, string> }>): DigestChallenge | undefined {
  let best: DigestChallenge | undefined
  for (const challenge of challenges) {
    if (challenge.scheme !== 'digest') continue
    const parsed = parseDigestChallenge(challenge.parameters)
    if (parsed && (!best || strength(parsed) > strength(best))) best = parsed
  }
  return best
}

function strength(challenge: DigestChallenge): number {
  return STRENGTH[baseAlgorithm(challenge.algorithm)]!
}

export function parseDigestChallenge(parameters: Record<string, string>): DigestChallenge | undefined {
  const { realm, nonce } = parameters
  if (realm === undefined || nonce === undefined) return undefined
  // Algorithm names are case-insensitive; a server that names none means MD5 (RFC 7616 section 3.3).
  const named = (parameters.algorithm ?? 'MD5').toUpperCase()
  const algorithm = DIGEST_ALGORITHMS.find((candidate) => candidate.toUpperCase() === named)
  if (!algorithm) return undefined
  const offered = (parameters.qop ?? '').split(',').map((value) => value.trim().toLowerCase())
  const qop = (['auth', 'auth-int'] as const).filter((value) => offered.includes(value))
  // An empty qop (`qop=""`, as the http-auth package sends in its no-qop mode) offers nothing: RFC 2069. A server
  // that offers qop values, none of which we know, cannot be answered.
  if (offered.some((value) => value !== '') && qop.length === 0) return undefined
  return {
    realm,
    nonce,
    opaque: parameters.opaque,
    algorithm,
    qop,
    stale: parameters.stale?.toLowerCase() === 'true',
    userhash: parameters.userhash?.toLowerCase() === 'true',
  }
}

/** `auth` when offered (no body needed), `auth-int` when it is all the server takes, none for RFC 2069. */
export function chooseQop(challenge: DigestChallenge): 'auth' | 'auth-int' | undefined {
  if (challenge.qop.includes('auth')) return 'auth'
  return challenge.qop[0]
}

export interface DigestResponseInput {
  challenge: DigestChallenge
  credentials: DigestCredentials
  request: DigestRequest
  /** The nonce count: how many requests used this nonce, this one included. */
  nc: number
  cnonce: string
}

/**
 * The `Authorization` header value answering `challenge`. Throws when qop is `auth-int` and the body is not
 * in memory, since the body's hash is part of the response.
 */
export function digestAuthorization({ challenge, credentials, request, nc, cnonce }: DigestResponseInput): string {
  const hash = HASH_OF[baseAlgorithm(challenge.algorithm)]!
  const H = (data: string | Buffer) => createHash(hash).update(data).digest('hex')
  const qop = chooseQop(challenge)
  const ncValue = nc.toString(16).padStart(8, '0')

  // Strings are hashed as UTF-8 (RFC 7616 section 4: charset=UTF-8 is the only charset it defines).
  let ha1 = H(`${credentials.username}:${challenge.realm}:${credentials.password}`)
  if (challenge.algorithm.endsWith('-sess')) ha1 = H(`${ha1}:${challenge.nonce}:${cnonce}`)
  let a2 = `${request.method}:${request.uri}`
  if (qop === 'auth-int') {
    if (request.body === undefined) throw new Error('qop "auth-int" needs the request body in memory')
    a2 += `:${H(request.body ?? '')}`
  }
  const response = qop
    ? H(`${ha1}:${challenge.nonce}:${ncValue}:${cnonce}:${qop}:${H(a2)}`)
    : H(`${ha1}:${challenge.nonce}:${H(a2)}`)

  const parts: string[] = []
  if (challenge.userhash) parts.push(`username="${H(`${credentials.username}:${challenge.realm}`)}"`)
  else if (isPlainQuotable(credentials.username)) parts.push(`username="${credentials.username}"`)
  else parts.push(`username*=UTF-8''${encodeRfc5987(credentials.username)}`)
  parts.push(`realm=${quote(challenge.realm)}`, `uri=${quote(request.uri)}`, `algorithm=${challenge.algorithm}`, `nonce=${quote(challenge.nonce)}`)
  if (qop) parts.push(`nc=${ncValue}`, `cnonce="${cnonce}"`, `qop=${qop}`)
  parts.push(`response="${response}"`)
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`)
  if (challenge.userhash) parts.push('userhash=true')
  return `Digest ${parts.join(', ')}`
}

function baseAlgorithm(algorithm: DigestAlgorithm): string {
  return algorithm.replace(/-sess$/, '')
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** ASCII without quotes or backslashes goes in `username` as is; anything else in `username*` (RFC 7616 3.4.4). */
function isPlainQuotable(value: string): boolean {
  return /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(value)
}

function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * One nonce and its count. The nonce is used by one request at a time (see DigestNonces), so the counts reach
 * the server in the order they were taken.
 */
export class DigestSession {
  readonly #credentials: DigestCredentials
  #challenge: DigestChallenge | undefined
  #nc = 0

  constructor(credentials: DigestCredentials) {
    this.#credentials = credentials
  }

  get challenge(): DigestChallenge | undefined {
    return this.#challenge
  }

  /** Takes a new challenge from a 401; requests from now on answer it. */
  accept(challenge: DigestChallenge): void {
    if (this.#challenge?.nonce === challenge.nonce && this.#challenge.realm === challenge.realm) return
    this.#challenge = challenge
    this.#nc = 0
  }

  /**
   * The header for `request` under the current challenge (sent pre-emptively once a nonce is known), or
   * undefined with no challenge yet or when the challenge needs a body that is not in memory.
   */
  authorize(request: DigestRequest): { header: string; nonce: string; nc: number } | undefined {
    const challenge = this.#challenge
    if (!challenge) return undefined
    if (chooseQop(challenge) === 'auth-int' && request.body === undefined) return undefined
    this.#nc++
    const cnonce = randomBytes(16).toString('base64url')
    return { header: digestAuthorization({ challenge, credentials: this.#credentials, request, nc: this.#nc, cnonce }), nonce: challenge.nonce, nc: this.#nc }
  }

  /**
   * Count `nc` was taken but never sent: when no later count was taken, the next request takes it again, so the
   * server sees no gap.
   */
  withdraw(nc: number): void {
    if (this.#nc === nc) this.#nc--
  }
}

/**
 * The nonces of one endpoint. A nonce serves one request at a time: a server may demand that nonce counts arrive
 * in order (Apache httpd with `AuthDigestNcCheck On` wants exactly one more than the last it read, http-auth
 * wants more than the last), which concurrent requests sharing a nonce cannot promise, since they race on
 * their way to the server. So each request in flight holds a nonce of its own; a nonce is reused once its
 * request was answered, and new ones are asked for (one 401 each) as concurrency grows. With `shared`, every
 * request uses the one nonce, each with its own count: no extra challenges, for servers that take counts in any order.
 */
export class DigestNonces {
  readonly #credentials: DigestCredentials
  /** The one nonce every request uses, in shared mode. */
  readonly #shared: DigestSession | undefined
  /** Nonces whose last request was answered, most recently used last. */
  readonly #idle: DigestSession[] = []
  /** Requests in flight per nonce: one at most, except in shared mode. */
  readonly #inFlight = new Map<DigestSession, number>()

  constructor(credentials: DigestCredentials, shared: boolean) {
    this.#credentials = credentials
    this.#shared = shared ? new DigestSession(credentials) : undefined
  }

  /** The most recent challenge, for the admin view. */
  get challenge(): DigestChallenge | undefined {
    return (this.#shared ?? this.#idle.at(-1) ?? this.#inFlight.keys().next().value)?.challenge
  }

  /**
   * A nonce for one request: an idle one (the most recently used, likeliest still fresh), or else a new, empty
   * one, which costs a challenge. A request whose body cannot be sent twice cannot survive a challenge, so it
   * rather shares a nonce in use than take an empty one.
   */
  acquire(canReplay: boolean): DigestSession {
    const busy = canReplay ? undefined : [...this.#inFlight.keys()].findLast((session) => session.challenge !== undefined)
    const session = this.#shared ?? this.#idle.pop() ?? busy ?? new DigestSession(this.#credentials)
    this.#inFlight.set(session, (this.#inFlight.get(session) ?? 0) + 1)
    return session
  }

  /** How many other requests are using this nonce now (only ever more than none in shared mode). */
  sharing(session: DigestSession): number {
    return (this.#inFlight.get(session) ?? 1) - 1
  }

  /**
   * Gives the nonce back after its request. A request that failed on the way may or may not have reached the
   * server, so its nonce is dropped: a count the server did not see would break the order it checks.
   */
  release(session: DigestSession, outcome: 'accepted' | 'refused' | 'unsent' | 'failed', nc: number | undefined): void {
    const left = (this.#inFlight.get(session) ?? 1) - 1
    if (left > 0) this.#inFlight.set(session, left)
    else this.#inFlight.delete(session)
    if (outcome === 'unsent' && nc !== undefined) session.withdraw(nc)
    if (session === this.#shared || left > 0) return
    if (outcome !== 'failed' && session.challenge) this.#idle.push(session)
  }
}
