import type { ExchangeTrace } from '../core/trace.ts'
import type { AuthConfig } from './schema.ts'
import { basicAuthorization } from './basic.ts'
import { parseChallenges } from './challenges.ts'
import { chooseDigestChallenge, DigestNonces, type DigestRequest, type DigestSession } from './digest.ts'
import { OAuth2TokenSource } from './oauth2.ts'

/** One try at the backend: the Authorization value sent (if any) and what it was made from. */
export interface Attempt {
  readonly header: string | undefined
  /** The Digest nonce or the OAuth2 token the header answers; tells an outdated header from a refused one. */
  readonly basis: string | undefined
  /** Whether the header was made before this exchange saw a challenge (a Digest nonce from an earlier exchange). */
  readonly preemptive: boolean
  /** The Digest nonce this exchange holds until it is settled, and the count the header took. */
  readonly session?: DigestSession | undefined
  readonly nc?: number | undefined
}

/**
 * How an exchange's last attempt ended: answered with something else than 401, answered with 401, never sent
 * (its answer to a challenge was given up), or failed on the way (it may or may not have reached the backend).
 */
export type Outcome = 'accepted' | 'refused' | 'unsent' | 'failed'

/** What to do after a 401: try again with a new attempt, or give up and say why. */
export type Verdict = Attempt | { readonly refused: string }

/** Supplies the backend credentials of one endpoint, one attempt at a time. */
export interface Authenticator {
  readonly type: AuthConfig['type']
  /** Whether a 401 may be answered by sending the request again, so bodies must be kept for a replay. */
  readonly replays: boolean
  /** The first attempt's credentials; a token fetched for it is a span of `trace`. */
  first(request: DigestRequest, trace?: ExchangeTrace): Promise<Attempt>
  /** The next attempt after the backend answered `attempt` with 401 and these `WWW-Authenticate` values. */
  next(wwwAuthenticate: string | string[] | undefined, attempt: Attempt, request: DigestRequest, trace?: ExchangeTrace): Promise<Verdict>
  /** The exchange is over; `attempt` was its last. */
  settle?(attempt: Attempt, outcome: Outcome): void
  describe(): Record<string, unknown>
  /** Releases what the authenticator holds of its own (the token endpoint's connections). */
  close?(): Promise<void>
}

export function createAuthenticator(config: AuthConfig, endpointId: string): Authenticator {
  switch (config.type) {
    case 'basic':
      return new BasicAuthenticator(basicAuthorization(config.username, config.password))
    case 'digest':
      return new DigestAuthenticator(new DigestNonces(config, config.sharedNonce), config.sharedNonce)
    case 'oauth2':
      return new OAuth2Authenticator(new OAuth2TokenSource(config, endpointId))
  }
}

/** Basic sends the same header every time: a 401 means the credentials are wrong, and retrying cannot help. */
class BasicAuthenticator implements Authenticator {
  readonly type = 'basic'
  readonly replays = false
  readonly #header: string

  constructor(header: string) {
    this.#header = header
  }

  async first(): Promise<Attempt> {
    return { header: this.#header, basis: undefined, preemptive: true }
  }

  async next(): Promise<Verdict> {
    return { refused: "it refused the gateway's Basic credentials" }
  }

  describe(): Record<string, unknown> {
    return { auth: 'basic' }
  }
}

class DigestAuthenticator implements Authenticator {
  readonly type = 'digest'
  readonly replays = true
  readonly #nonces: DigestNonces
  readonly #sharedNonce: boolean
  /** Requests the backend answered with something other than 401: the credentials were right then. */
  #accepted = 0

  constructor(nonces: DigestNonces, sharedNonce: boolean) {
    this.#nonces = nonces
    this.#sharedNonce = sharedNonce
  }

  async first(request: DigestRequest): Promise<Attempt> {
    const session = this.#nonces.acquire(request.body !== undefined)
    const authorized = session.authorize(request)
    return { header: authorized?.header, basis: authorized?.nonce, preemptive: authorized !== undefined, session, nc: authorized?.nc }
  }

  async next(wwwAuthenticate: string | string[] | undefined, attempt: Attempt, request: DigestRequest): Promise<Verdict> {
    const challenges = parseChallenges(wwwAuthenticate)
    const challenge = chooseDigestChallenge(challenges)
    if (!challenge) {
      const offered = challenges.map((item) => item.scheme).join(', ') || 'none'
      return { refused: `its 401 carries no Digest challenge the gateway can answer (schemes offered: ${offered})` }
    }
    // A new nonce is worth one more try when the credentials were not tried yet, when the server says they were
    // right but the nonce expired (stale), or when the nonce came from an earlier exchange (the server may have
    // restarted and forgotten it). Otherwise the credentials themselves were refused.
    const worthRetrying = attempt.header === undefined || challenge.stale || (attempt.preemptive && attempt.basis !== challenge.nonce)
    if (!worthRetrying) return { refused: this.#refusal() }
    const session = attempt.session!
    session.accept(challenge)
    const authorized = session.authorize(request)
    if (!authorized) return { refused: 'its Digest challenge asks for qop=auth-int, which needs a request body held in memory' }
    return { header: authorized.header, basis: authorized.nonce, preemptive: false, session, nc: authorized.nc }
  }

  settle(attempt: Attempt, outcome: Outcome): void {
    if (outcome === 'accepted') this.#accepted++
    this.#nonces.release(attempt.session!, outcome, attempt.nc)
  }

  /**
   * Why a fresh answer was refused. With a shared nonce, after the same credentials were accepted, the likely
   * cause is the order of nonce counts, not the password: a server that checks counts strictly answers a count
   * that overtook another with a plain 401, just as it answers a wrong password.
   */
  #refusal(): string {
    if (!this.#sharedNonce || this.#accepted === 0) return "it refused the gateway's Digest credentials"
    return (
      "it refused Digest credentials it had accepted before, while concurrent requests shared one nonce: the server checks that nonce " +
      'counts arrive in order (as Apache httpd does with AuthDigestNcCheck On), which requests sharing a nonce cannot promise; ' +
      'set security.auth.sharedNonce to false'
    )
  }

  describe(): Record<string, unknown> {
    const challenge = this.#nonces.challenge
    return { auth: 'digest', algorithm: challenge?.algorithm, qop: challenge?.qop, sharedNonce: this.#sharedNonce }
  }
}

class OAuth2Authenticator implements Authenticator {
  readonly type = 'oauth2'
  readonly replays = true
  readonly #tokens: OAuth2TokenSource

  constructor(tokens: OAuth2TokenSource) {
    this.#tokens = tokens
  }

  async first(_request: DigestRequest, trace?: ExchangeTrace): Promise<Attempt> {
    const token = await this.#tokens.token(Date.now(), trace)
    return { header: `Bearer ${token}`, basis: token, preemptive: true }
  }

  /** One refresh-and-retry: the token may have been revoked or expired early. A second 401 is final. */
  async next(wwwAuthenticate: string | string[] | undefined, attempt: Attempt, _request: DigestRequest, trace?: ExchangeTrace): Promise<Verdict> {
    if (!attempt.preemptive) return { refused: `it refused a freshly issued access token${bearerError(wwwAuthenticate)}` }
    this.#tokens.invalidate(attempt.basis!)
    const token = await this.#tokens.token(Date.now(), trace)
    return { header: `Bearer ${token}`, basis: token, preemptive: false }
  }

  describe(): Record<string, unknown> {
    return { auth: 'oauth2', tokenRequests: this.#tokens.requests }
  }

  close(): Promise<void> {
    return this.#tokens.close()
  }
}

/** The Bearer challenge's `error` and `error_description` (RFC 6750 section 3), when the backend sent them. */
function bearerError(wwwAuthenticate: string | string[] | undefined): string {
  const bearer = parseChallenges(wwwAuthenticate).find((challenge) => challenge.scheme === 'bearer')
  const error = bearer?.parameters.error
  if (!error) return ''
  const description = bearer.parameters.error_description
  return ` (${error}${description ? `: ${description}` : ''})`
}
