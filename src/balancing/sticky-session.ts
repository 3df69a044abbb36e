import { createHash } from 'node:crypto'
import type { BackendResponse, Exchange } from '../core/endpoint.ts'
import type { SessionConfig } from './schema.ts'

const DEFAULT_COOKIE = 'PORTICO_STICKY'
/** The header WSO2's simpleClientSession reads the client's session id from. */
const CLIENT_SESSION_HEADER = 'clientID'
/** Header sessions kept per group before expired ones are swept eagerly. */
const SWEEP_ABOVE = 10_000
/**
 * Most header sessions kept per group: session ids come from clients, so a client inventing a new one per request
 * must not grow memory without bound. Beyond it the least recently used binding goes first.
 */
export const MAX_SESSIONS = 100_000

/**
 * Binds a session to the child that served it. With a cookie the binding travels with the client (the cookie
 * names the child by a hash of its id), so it holds across workers and restarts. With a header, a SOAP header or a client
 * session id the binding is kept here, per worker, until `timeout` after its last use.
 */
export class StickySessions {
  readonly #config: SessionConfig
  readonly #name: string
  readonly #tokens: readonly string[]
  readonly #bound = new Map<string, { index: number; expires: number }>()
  readonly #bodyKey: ((body: Buffer) => Promise<string | undefined>) | undefined
  /** Session ids read from requests' bodies by `readBodyKey`. */
  readonly #bodyKeys = new WeakMap<Exchange, string | undefined>()

  /**
   * `bodyKey` reads the session id from a buffered request body, for a session type whose id travels in the body
   * (`soap`): the endpoint that knows the body's format supplies it, so that balancing knows no protocol. It is
   * asynchronous so that a large body can be parsed off the event loop.
   */
  constructor(config: SessionConfig, childIds: readonly string[], bodyKey?: (body: Buffer) => Promise<string | undefined>) {
    this.#config = config
    this.#bodyKey = bodyKey
    this.#name = config.name ?? (config.type === 'cookie' ? DEFAULT_COOKIE : CLIENT_SESSION_HEADER)
    // A hash, not the index: a reordered or edited group must not send an old cookie to a different backend.
    this.#tokens = childIds.map((id) => createHash('sha256').update(id).digest('base64url').slice(0, 16))
  }

  /** Whether the session id is in the request body (a SOAP header), which must be buffered first. */
  get readsBody(): boolean {
    return this.#bodyKey !== undefined
  }

  /** Reads the session id from the request's buffered body before `find` and `bind`, which are synchronous, need it. */
  async readBodyKey(exchange: Exchange): Promise<void> {
    if (!this.#bodyKey || !Buffer.isBuffer(exchange.body)) return
    this.#bodyKeys.set(exchange, await this.#bodyKey(exchange.body))
  }

  get size(): number {
    return this.#bound.size
  }

  /** The child the request's session is bound to, if any. */
  find(exchange: Exchange, now: number): number | undefined {
    const key = this.#key(exchange)
    if (key === undefined) return undefined
    if (this.#config.type === 'cookie') {
      const index = this.#tokens.indexOf(key)
      return index < 0 ? undefined : index
    }
    const binding = this.#bound.get(key)
    if (!binding) return undefined
    if (binding.expires <= now) {
      this.#bound.delete(key)
      return undefined
    }
    return binding.index
  }

  /** Binds the request's session to child `index`, setting the cookie on the response when it changes. */
  bind(exchange: Exchange, index: number, response: BackendResponse, now: number): void {
    const key = this.#key(exchange)
    if (this.#config.type === 'cookie') {
      const token = this.#tokens[index]!
      if (key === token) return
      const cookie = `${this.#name}=${token}; Path=/; Max-Age=${Math.ceil(this.#config.timeout / 1000)}; HttpOnly; SameSite=Lax`
      const existing = response.headers['set-cookie']
      response.headers['set-cookie'] = existing ? [...existing, cookie] : [cookie]
      return
    }
    if (key === undefined) return
    // Delete then set: the map stays ordered by last use, so expired sessions sit at its front.
    this.#bound.delete(key)
    this.#bound.set(key, { index, expires: now + this.#config.timeout })
    if (this.#bound.size > SWEEP_ABOVE) this.#sweep(now)
  }

  #sweep(now: number): void {
    for (const [key, binding] of this.#bound) {
      if (binding.expires > now && this.#bound.size <= MAX_SESSIONS) break
      this.#bound.delete(key)
    }
  }


  /** The session key the request carries: the cookie's value, or the header's. */
  #key(exchange: Exchange): string | undefined {
    if (this.#bodyKey) return this.#bodyKeys.get(exchange)
    const headers = exchange.headers
    const wanted = this.#config.type === 'cookie' ? 'cookie' : this.#name.toLowerCase()
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.toLowerCase() !== wanted) continue
      const value = headers[i + 1]!
      if (this.#config.type !== 'cookie') return value || undefined
      for (const pair of value.split(';')) {
        const at = pair.indexOf('=')
        if (at > 0 && pair.slice(0, at).trim() === this.#name) return pair.slice(at + 1).trim()
      }
    }
    return undefined
  }
}
