import { createHash } from 'node:crypto'
import type { BackendResponse, Exchange } from '../core/endpoint.ts'
import { flatHeader } from '../core/headers.ts'
import type { SessionConfig } from './schema.ts'
import { createSessionTable, type SessionTable } from './session-table.ts'

const DEFAULT_COOKIE = 'PORTICO_STICKY'
/** The header WSO2's simpleClientSession reads the client's session id from. */
const CLIENT_SESSION_HEADER = 'clientID'

/**
 * Binds a session to the child that served it. With a cookie the binding travels with the client (the cookie
 * names the child by a hash of its id), so it holds across workers and restarts. With a header, a SOAP header or a client
 * session id the binding is kept in a session table (one per gateway, shared by its workers) until `timeout`
 * after its last use.
 */
export class StickySessions {
  readonly #config: SessionConfig
  readonly #name: string
  readonly #tokens: readonly string[]
  readonly #bound: SessionTable | undefined
  readonly #bodyKey: ((body: Buffer, contentType: string | undefined) => Promise<string | undefined>) | undefined
  /** Session ids read from requests' bodies by `readBodyKey`. */
  readonly #bodyKeys = new WeakMap<Exchange, string | undefined>()

  /**
   * `bodyKey` reads the session id from a buffered request body and its content type, for a session type whose
   * id travels in the body (`soap`): the endpoint that knows the body's format supplies it, so that balancing
   * knows no protocol. It is asynchronous so that a large body can be parsed off the event loop.
   */
  constructor(groupId: string, config: SessionConfig, childIds: readonly string[], bodyKey?: (body: Buffer, contentType: string | undefined) => Promise<string | undefined>) {
    this.#config = config
    this.#bodyKey = bodyKey
    this.#name = config.name ?? (config.type === 'cookie' ? DEFAULT_COOKIE : CLIENT_SESSION_HEADER)
    // A hash, not the index: a reordered or edited group must not send an old cookie to a different backend.
    this.#tokens = childIds.map((id) => createHash('sha256').update(id).digest('base64url').slice(0, 16))
    if (config.type !== 'cookie') {
      // A table per group and set of children: an index means another child once the children change.
      const digest = createHash('sha256').update(JSON.stringify([config, childIds])).digest('base64url').slice(0, 16)
      this.#bound = createSessionTable(`${groupId}#${digest}`, config.timeout)
    }
  }

  /** Whether the session id is in the request body (a SOAP header), which must be buffered first. */
  get readsBody(): boolean {
    return this.#bodyKey !== undefined
  }

  /** Reads the session id from the request's buffered body before `find` and `bind`, which are synchronous, need it. */
  async readBodyKey(exchange: Exchange): Promise<void> {
    if (!this.#bodyKey || !Buffer.isBuffer(exchange.body)) return
    this.#bodyKeys.set(exchange, await this.#bodyKey(exchange.body, flatHeader(exchange.headers, 'content-type')))
  }

  get size(): number {
    return this.#bound?.size ?? 0
  }

  /** The child the request's session is bound to, if any. */
  find(exchange: Exchange, now: number): number | undefined | Promise<number | undefined> {
    const key = this.#key(exchange)
    if (key === undefined) return undefined
    if (this.#config.type === 'cookie') {
      const index = this.#tokens.indexOf(key)
      return index < 0 ? undefined : index
    }
    return this.#bound?.get(key, now)
  }

  /** Binds the request's session to child `index`, setting the cookie on the response when it changes. */
  bind(exchange: Exchange, index: number, response: BackendResponse, now: number): void | Promise<void> {
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
    return this.#bound?.set(key, index, now)
  }

  close(): void {
    this.#bound?.close()
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
