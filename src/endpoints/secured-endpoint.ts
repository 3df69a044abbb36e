import { STATUS_CODES } from 'node:http'
import type { BackendSecurityConfig } from '../security/schema.ts'
import { EndpointError, type BackendResponse, type Endpoint, type EndpointStatus, type Exchange } from '../core/endpoint.ts'
import type { ExchangeTrace } from '../core/trace.ts'
import { Delegating, type Interceptor } from './interceptor.ts'
import { createAuthenticator, type Attempt, type Authenticator, type Outcome, type Verdict } from '../security/authenticators.ts'
import type { DigestRequest } from '../security/digest.ts'
import { TokenError } from '../security/oauth2.ts'
import { ReplayableBody } from '../resilience/replay.ts'

/** The first try, the answer to a challenge, and one more for a stale nonce: never a loop. */
const MAX_ATTEMPTS = 3

/** A leaf's backend credentials, when its `security` has `auth`. */
export function backendSecurity(config: { security?: BackendSecurityConfig | undefined }): Interceptor | undefined {
  const security = config.security
  const auth = security?.auth
  return auth ? (inner) => new SecuredEndpoint(inner, { ...security, auth }) : undefined
}

/**
 * A leaf that authenticates to its backend: it replaces the client's Authorization header with the gateway's
 * credentials and answers the backend's 401 challenges (Digest) or renews its token (OAuth2). A 401 it cannot
 * answer becomes a failure of kind `auth`, never a silent pass-through of the backend's 401.
 */
export class SecuredEndpoint extends Delegating {
  readonly #auth: Authenticator
  readonly #forwardClientAuthorization: string | false
  readonly #replayLimit: number
  #refused = 0

  constructor(inner: Endpoint, security: BackendSecurityConfig & { auth: NonNullable<BackendSecurityConfig['auth']> }) {
    super(inner)
    this.#auth = createAuthenticator(security.auth, inner.id)
    this.#forwardClientAuthorization = security.forwardClientAuthorization && security.forwardClientAuthorization.toLowerCase()
    this.#replayLimit = security.replayLimit
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    const headers = this.#headersWithoutClientAuthorization(exchange.headers)
    const body = await this.#body(exchange)
    const buffered = body === null || Buffer.isBuffer(body)
    let request: DigestRequest = { method: exchange.method, uri: this.targetPath(exchange), body: buffered ? body : undefined }
    const trace = exchange.trace
    let attempt = await this.#credentials(() => this.#auth.first(request, trace))
    let outcome: Outcome = 'failed'
    try {
      for (let count = 1; ; count++) {
        outcome = 'failed'
        // A copy, so that a group retrying elsewhere never sees this backend's credentials.
        const response = await this.inner.send(
          { ...exchange, headers: attempt.header ? [...headers, 'authorization', attempt.header] : headers, body },
          signal,
        )
        if (response.status !== 401) {
          outcome = 'accepted'
          return response
        }
        outcome = 'refused'
        response.body?.resume()
        // A WSDL endpoint knows its service's path only once it has loaded the WSDL, i.e. after the first send.
        request = { ...request, uri: this.targetPath(exchange) }
        const challenge = response.headers['www-authenticate']
        const verdict = await this.#credentials(() =>
          trace === undefined ? this.#auth.next(challenge, attempt, request) : this.#tracedChallenge(challenge, attempt, request, trace),
        )
        if ('refused' in verdict) throw this.#refusal(verdict.refused)
        attempt = verdict
        outcome = 'unsent'
        if (!buffered) {
          throw this.#refusal(`its 401 asks for the request again, but the body was larger than security.replayLimit (${this.#replayLimit} bytes) and was sent once only`)
        }
        if (count >= MAX_ATTEMPTS) throw this.#refusal(`it still answered 401 after ${count} attempts`)
      }
    } finally {
      this.#auth.settle?.(attempt, outcome)
    }
  }

  override describe(): EndpointStatus {
    return { ...super.describe(), security: { ...this.#auth.describe(), refused: this.#refused } }
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.#auth.close?.()])
  }

  /** The answer to a backend's 401 (a Digest challenge, an OAuth2 token refused) as a span of its own. */
  async #tracedChallenge(challenge: string | string[] | undefined, attempt: Attempt, request: DigestRequest, trace: ExchangeTrace): Promise<Verdict> {
    const span = trace.begin(`${this.#auth.type} challenge`, 'internal', { 'portico.auth.type': this.#auth.type })
    try {
      const verdict = await this.#auth.next(challenge, attempt, request, trace)
      if ('refused' in verdict) span.fail('auth', verdict.refused)
      return verdict
    } catch (error) {
      span.fail('auth')
      throw error
    } finally {
      span.end()
    }
  }

  /** The client's headers minus Authorization, which is dropped or passed on under another name. */
  #headersWithoutClientAuthorization(headers: string[]): string[] {
    const forward = this.#forwardClientAuthorization
    const out: string[] = []
    const client: string[] = []
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!.toLowerCase()
      if (name === 'authorization') client.push(headers[i + 1]!)
      // A client must not pose as the gateway passing on its Authorization.
      else if (name !== forward) out.push(headers[i]!, headers[i + 1]!)
    }
    if (forward) for (const value of client) out.push(forward, value)
    return out
  }

  /**
   * The body to send: kept in memory (within the limit) when a 401 may need it sent again, and set on the
   * exchange, so whatever sends it later (a failover) gets the copy. A larger body is sent once, as a stream.
   */
  async #body(exchange: Exchange): Promise<Exchange['body']> {
    const body = exchange.body
    if (body === null || Buffer.isBuffer(body) || !this.#auth.replays) return body
    const replayable = await ReplayableBody.prepare(exchange, this.#replayLimit, this.id)
    if (!replayable.buffered) replayable.attach(exchange)
    return exchange.body
  }

  async #credentials<T>(get: () => Promise<T>): Promise<T> {
    try {
      return await get()
    } catch (error) {
      if (!(error instanceof TokenError)) throw error
      this.#refused++
      throw new EndpointError('auth', this.id, `${this.id}: ${error.reason}`, { cause: error, reason: `no access token: ${error.reason}` })
    }
  }

  #refusal(why: string): EndpointError {
    this.#refused++
    const reason = `the backend answered 401 ${STATUS_CODES[401]}: ${why}`
    return new EndpointError('auth', this.id, `${this.id}: ${reason}`, { status: 401, reason })
  }
}
