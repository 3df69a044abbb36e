import * as oauth from 'oauth4webapi'
import type { ExchangeTrace } from '../core/trace.ts'
import { Agent, fetch as undiciFetch } from 'undici'
import type { OAuth2AuthConfig } from './schema.ts'
import { tlsConnectOptions } from './tls.ts'

/** A token obtained from the token endpoint, and when to stop using it. */
interface CachedToken {
  readonly value: string
  /** Epoch milliseconds; Infinity when the server gave no `expires_in` (a 401 renews it then). */
  readonly expiresAt: number
  /** From then on a renewal runs in the background while the token is still used. */
  readonly renewAt: number
}

/** The token endpoint failed: `reason` says how, in words safe to show a client. */
export class TokenError extends Error {
  readonly reason: string
  constructor(reason: string, cause: unknown) {
    super(reason, { cause })
    this.name = 'TokenError'
    this.reason = reason
  }
}

/**
 * Access tokens for one endpoint (client credentials or password grant). The token is cached and renewed
 * `refreshBefore` its expiry in the background; one token request at a time, whatever the load: every caller
 * waiting meanwhile shares it.
 */
export class OAuth2TokenSource {
  readonly #config: OAuth2AuthConfig
  readonly #server: oauth.AuthorizationServer
  readonly #client: oauth.Client
  readonly #clientAuth: oauth.ClientAuth
  /** Connections to the token endpoint when it has its own TLS settings; the process-wide fetch otherwise. */
  readonly #agent: Agent | undefined
  #token: CachedToken | undefined
  #pending: Promise<CachedToken> | undefined
  /** Token requests made, for describe(). */
  requests = 0

  constructor(config: OAuth2AuthConfig, endpointId: string) {
    this.#config = config
    if (config.tls) this.#agent = new Agent({ connect: tlsConnectOptions(config.tls, `${endpointId} (token endpoint)`) })
    const url = new URL(config.tokenUrl)
    // Only the token endpoint is used, so the issuer (needed for ID tokens, which these grants do not return) is nominal.
    this.#server = { issuer: url.origin, token_endpoint: config.tokenUrl }
    this.#client = { client_id: config.clientId }
    this.#clientAuth = config.clientAuthentication === 'client_secret_post' ? oauth.ClientSecretPost(config.clientSecret) : oauth.ClientSecretBasic(config.clientSecret)
  }

  /**
   * A token valid now: the cached one, or a new one. Starts a background renewal when it expires soon. A token
   * request this call starts is a span of `trace`; callers that wait for one already under way share it.
   */
  async token(now = Date.now(), trace?: ExchangeTrace): Promise<string> {
    const token = this.#token
    if (token && now < token.expiresAt) {
      // A failed background renewal is not fatal: the token is still valid, and the next caller tries again.
      if (now >= token.renewAt) this.#renew().catch(() => {})
      return token.value
    }
    return (await this.#renew(trace)).value
  }

  close(): Promise<void> {
    return this.#agent?.close() ?? Promise.resolve()
  }

  /** Forgets `value` after the backend rejected it, so the next call asks for a new token. */
  invalidate(value: string): void {
    if (this.#token?.value === value) this.#token = undefined
  }

  #renew(trace?: ExchangeTrace): Promise<CachedToken> {
    this.#pending ??= (trace === undefined ? this.#request() : this.#tracedRequest(trace)).finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #tracedRequest(trace: ExchangeTrace): Promise<CachedToken> {
    const url = new URL(this.#config.tokenUrl)
    const span = trace.begin('oauth2 token', 'client', {
      'http.request.method': 'POST',
      'server.address': url.hostname,
      'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      'url.path': url.pathname,
      'portico.oauth2.grant_type': this.#config.grantType,
    })
    try {
      return await this.#request()
    } catch (error) {
      span.fail('token', error instanceof TokenError ? error.reason : undefined)
      throw error
    } finally {
      span.end()
    }
  }

  async #request(): Promise<CachedToken> {
    this.requests++
    const config = this.#config
    const parameters = new URLSearchParams()
    if (config.scopes.length > 0) parameters.set('scope', config.scopes.join(' '))
    if (config.audience !== undefined) parameters.set('audience', config.audience)
    if (config.resource !== undefined) parameters.set('resource', config.resource)
    const options = {
      // The schema allows plain http for loopback token URLs only.
      [oauth.allowInsecureRequests]: new URL(config.tokenUrl).protocol === 'http:',
      signal: AbortSignal.timeout(config.timeout),
      ...(this.#agent ? { [oauth.customFetch]: this.#fetchWithTls } : {}),
    }
    const requestedAt = Date.now()
    let result: oauth.TokenEndpointResponse
    try {
      if (config.grantType === 'password') {
        parameters.set('username', config.username!)
        parameters.set('password', config.password!)
        const response = await oauth.genericTokenEndpointRequest(this.#server, this.#client, this.#clientAuth, 'password', parameters, options)
        result = await oauth.processGenericTokenEndpointResponse(this.#server, this.#client, response)
      } else {
        const response = await oauth.clientCredentialsGrantRequest(this.#server, this.#client, this.#clientAuth, parameters, options)
        result = await oauth.processClientCredentialsResponse(this.#server, this.#client, response)
      }
    } catch (error) {
      throw new TokenError(`the token endpoint ${describeTokenFailure(error)}`, error)
    }
    const lifetime = result.expires_in === undefined ? Infinity : result.expires_in * 1000
    // A token that lives shorter than refreshBefore is renewed halfway, not on every request.
    const token = {
      value: result.access_token,
      expiresAt: requestedAt + lifetime,
      renewAt: requestedAt + lifetime - Math.min(this.#config.refreshBefore, lifetime / 2),
    }
    this.#token = token
    return token
  }

  // undici's own fetch, since the global one cannot be given a dispatcher with this endpoint's TLS settings.
  #fetchWithTls = (url: string, options: oauth.CustomFetchOptions<string, unknown>): Promise<Response> =>
    undiciFetch(url, { ...(options as object), dispatcher: this.#agent }) as unknown as Promise<Response>
}

function describeTokenFailure(error: unknown): string {
  if (error instanceof oauth.ResponseBodyError) {
    return `refused: ${error.status} ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const parameters = error.cause[0]?.parameters
    const detail = parameters?.error ? ` ${parameters.error}${parameters.error_description ? ` (${parameters.error_description})` : ''}` : ''
    return `refused: ${error.status}${detail}`
  }
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (err.name === 'TimeoutError') return 'did not answer in time'
  // fetch reports network failures as a TypeError whose cause says what happened.
  if (err.cause) return `could not be reached (${err.cause.code ?? err.cause.message})`
  return `answered with an unusable response (${err.message ?? String(error)})`
}
