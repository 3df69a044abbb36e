import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Consumer } from '../core/endpoint.ts'
import { CredentialRefused } from './refusal.ts'
import { SCRYPT_HASH, type BasicAuthConfig, type KeyType } from './schema.ts'

/** N, r, p of new hashes: OWASP's scrypt minimum (2^17 needs 128 MiB per check: too much per request). */
const COST = { N: 16_384, r: 8, p: 1 }
/** A verified password is remembered this long, so a client's every request does not cost a 30 ms scrypt. */
const VERIFIED_TTL = 60_000

interface User {
  hash: { N: number; r: number; p: number; salt: Buffer; key: Buffer }
  application: string
  keyType: KeyType
}

/** `scrypt$N$r$p$salt$hash` for a password, as `basicAuth.users[].passwordHash` takes it. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, { ...COST, salt, key: Buffer.alloc(32) })
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

/** HTTP Basic (RFC 7617) against the configured users and their scrypt hashes. */
export class BasicUsers {
  readonly #users = new Map<string, User>()
  /** sha256 of `user:password` pairs verified recently; never the password itself. */
  readonly #verified = new LRUCache<string, true>({ max: 10_000, ttl: VERIFIED_TTL })
  /** Checked for unknown users, so the answer takes as long as for a wrong password. */
  readonly #decoy: User['hash']
  readonly realm: string

  constructor(config: BasicAuthConfig) {
    this.realm = config.realm
    for (const user of config.users) {
      this.#users.set(user.username, { hash: parse(user.passwordHash), application: user.application ?? user.username, keyType: user.keyType })
    }
    this.#decoy = this.#users.values().next().value!.hash
  }

  /** The consumer of a `Basic ...` credential (what follows the scheme), or a refusal. */
  async consumer(credentials: string): Promise<Consumer> {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0) throw new CredentialRefused('The Basic credentials are malformed')
    const username = decoded.slice(0, colon)
    const user = this.#users.get(username)
    const remembered = createHash('sha256').update(decoded).digest('base64url')
    if (!user || !this.#verified.has(remembered)) {
      const hash = user?.hash ?? this.#decoy
      const key = await derive(decoded.slice(colon + 1), hash)
      if (!user || !timingSafeEqual(key, hash.key)) throw new CredentialRefused('The username or password is not valid')
      this.#verified.set(remembered, true)
    }
    return { subject: username, application: user.application, keyType: user.keyType, scopes: [], scheme: 'basicAuth', claims: {} }
  }
}

function parse(text: string): User['hash'] {
  const [, N, r, p, salt, key] = SCRYPT_HASH.exec(text)!
  return { N: Number(N), r: Number(r), p: Number(p), salt: Buffer.from(salt!, 'base64'), key: Buffer.from(key!, 'base64') }
}

function derive(password: string, hash: User['hash']): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, hash.salt, hash.key.length, { N: hash.N, r: hash.r, p: hash.p, maxmem: 256 * hash.N * hash.r + 1_048_576 }, (error, key) => (error ? reject(error) : resolve(key))),
  )
}
