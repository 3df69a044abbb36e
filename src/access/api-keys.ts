import { createHash } from 'node:crypto'
import type { Consumer } from '../core/endpoint.ts'
import { JwtVerifier, looksLikeJwt } from './jwt.ts'
import { CredentialRefused } from './refusal.ts'
import type { ApiKeyConfig, KeyType } from './schema.ts'

interface KnownKey {
  application: string
  keyType: KeyType
  expiresAt: number
}

/**
 * API keys: the config holds each key's sha256, so a leaked config grants nothing; a presented key is hashed
 * and looked up. A key in WSO2's form (a JWT its gateway signed) is verified as a JWT instead.
 */
export class ApiKeys {
  readonly #keys = new Map<string, KnownKey>()
  readonly #jwt: JwtVerifier | undefined

  constructor(config: ApiKeyConfig) {
    for (const key of config.keys) {
      this.#keys.set(key.sha256, { application: key.application, keyType: key.keyType, expiresAt: key.expires ? Date.parse(key.expires) : Infinity })
    }
    this.#jwt = config.jwt && new JwtVerifier(config.jwt, false)
  }

  async consumer(key: string): Promise<Consumer> {
    if (this.#jwt && looksLikeJwt(key)) return wso2Consumer(await this.#jwt.verify(key))
    const known = this.#keys.get(createHash('sha256').update(key).digest('hex'))
    if (!known) throw new CredentialRefused('The API key is not known')
    if (known.expiresAt <= Date.now()) throw new CredentialRefused('The API key has expired')
    return { subject: known.application, application: known.application, keyType: known.keyType, scopes: [], scheme: 'apiKey', claims: {} }
  }
}

/** WSO2's API-key JWT names its application in an `application` object and its key type in `keytype`. */
function wso2Consumer(claims: Record<string, unknown>): Consumer {
  const application = claims.application
  const name = typeof application === 'object' && application !== null && 'name' in application && typeof application.name === 'string' ? application.name : undefined
  const keyType = typeof claims.keytype === 'string' && claims.keytype.toUpperCase() === 'SANDBOX' ? 'SANDBOX' : 'PRODUCTION'
  const subject = typeof claims.sub === 'string' ? claims.sub : name ?? ''
  return { subject, application: name, keyType, scopes: [], scheme: 'apiKey', claims }
}
