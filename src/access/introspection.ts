import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import * as oauth from 'oauth4webapi'
import type { IntrospectionConfig } from './schema.ts'
import { CredentialRefused, ServerUnavailable } from './refusal.ts'

/** How long a token the server called inactive stays refused without asking again: it never becomes active. */
const INACTIVE_TTL = 60_000

/**
 * RFC 7662 introspection of opaque tokens with oauth4webapi. Each answer is cached for the token's remaining
 * lifetime (its `exp`), at most `maxCacheTtl`, in a bounded LRU; concurrent requests with one token share one call.
 * Tokens are kept only as their sha256, so the cache holds no usable credential.
 */
export class Introspector {
  readonly #server: oauth.AuthorizationServer
  readonly #client: oauth.Client
  readonly #auth: oauth.ClientAuth
  readonly #insecure: boolean
  readonly #maxTtl: number
  readonly #cache: LRUCache<string, oauth.IntrospectionResponse>
  readonly #inFlight = new Map<string, Promise<oauth.IntrospectionResponse>>()

  constructor(config: IntrospectionConfig) {
    const url = new URL(config.url)
    this.#server = { issuer: url.origin, introspection_endpoint: config.url }
    this.#client = { client_id: config.clientId }
    this.#auth = oauth.ClientSecretBasic(config.clientSecret)
    this.#insecure = url.protocol === 'http:'
    this.#maxTtl = config.maxCacheTtl
    this.#cache = new LRUCache({ max: config.cacheSize, ttlAutopurge: false })
  }

  /** The active token's introspection result, or a refusal. */
  async introspect(token: string): Promise<oauth.IntrospectionResponse> {
    const key = createHash('sha256').update(token).digest('base64url')
    let result = this.#cache.get(key)
    if (!result) {
      let call = this.#inFlight.get(key)
      if (!call) {
        call = this.#ask(token).finally(() => this.#inFlight.delete(key))
        this.#inFlight.set(key, call)
      }
      result = await call
      this.#cache.set(key, result, { ttl: this.#ttl(result) })
    }
    if (!result.active) throw new CredentialRefused('The token is not active')
    if (typeof result.exp === 'number' && result.exp * 1000 <= Date.now()) throw new CredentialRefused('The token has expired')
    return result
  }

  #ttl(result: oauth.IntrospectionResponse): number {
    if (!result.active) return INACTIVE_TTL
    const remaining = typeof result.exp === 'number' ? result.exp * 1000 - Date.now() : this.#maxTtl
    return Math.max(1, Math.min(remaining, this.#maxTtl))
  }

  async #ask(token: string): Promise<oauth.IntrospectionResponse> {
    try {
      const response = await oauth.introspectionRequest(this.#server, this.#client, this.#auth, token, {
        [oauth.allowInsecureRequests]: this.#insecure,
        signal: AbortSignal.timeout(10_000),
      })
      return await oauth.processIntrospectionResponse(this.#server, this.#client, response)
    } catch (error) {
      // The cause is for the gateway's log; the client's answer does not quote the server's reply.
      throw new ServerUnavailable('The token introspection endpoint did not answer as expected', { cause: error })
    }
  }
}
