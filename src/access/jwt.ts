import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { JwtVerificationConfig } from './schema.ts'
import { CredentialRefused, ServerUnavailable } from './refusal.ts'

/** Three base64url parts: the shape of a JWS compact serialization, as against an opaque token or an API key. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** Verified tokens remembered, and for how long at most: a key dropped from the JWKS stops a token within this. */
const VERIFIED_TOKENS = 10_000
const VERIFIED_TTL = 300_000

export function looksLikeJwt(token: string): boolean {
  return COMPACT_JWS.test(token)
}

/**
 * Verifies signed JWTs with jose against the configured keys: a JWKS URL (jose caches it, fetches it again for a
 * `kid` it does not know, at most once per cooldown) or public keys given in the config.
 */
export class JwtVerifier {
  readonly #key: KeyObject | JWTVerifyGetKey
  readonly #options: Parameters<typeof jwtVerify>[2]
  readonly #skewSeconds: number
  /**
   * Tokens whose signature and claims passed, as Envoy's jwt_authn cache: a client sends the same token on every
   * request, and the signature check is the bulk of verifying one. `exp` and `nbf` are checked again on every use.
   */
  readonly #verified = new LRUCache<string, JWTPayload>({ max: VERIFIED_TOKENS, ttl: VERIFIED_TTL, ttlAutopurge: false })

  /** `requireExpiry`: an access token without `exp` would never expire, so it is refused (API-key JWTs may lack one). */
  constructor(config: JwtVerificationConfig, requireExpiry: boolean) {
    if (config.jwksUrl) {
      this.#key = createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: config.jwksCooldown, cacheMaxAge: config.jwksCacheMaxAge })
    } else {
      const keys = (config.keys ?? []).map(publicKey)
      // One key is used whatever `kid` a token names; several are told apart by their `kid` (a JWKS of them).
      this.#key = keys.length === 1 ? keys[0]!.key : createLocalJWKSet({ keys: keys.map(({ jwk }) => jwk) })
    }
    this.#skewSeconds = Math.ceil(config.clockSkew / 1000)
    this.#options = {
      issuer: config.issuer,
      audience: config.audience,
      // The allow-list is asymmetric only (schema.ts): an HS256 token "signed" with a public key is refused by alg.
      algorithms: [...config.algorithms],
      clockTolerance: Math.ceil(config.clockSkew / 1000),
      requiredClaims: requireExpiry ? ['exp'] : [],
    }
  }

  /** The verified claims, or a refusal that says why in words safe for the client (never the token). */
  async verify(token: string): Promise<JWTPayload> {
    const remembered = this.#verified.get(token)
    if (remembered) {
      const now = Date.now() / 1000
      if (remembered.exp !== undefined && remembered.exp <= now - this.#skewSeconds) throw new CredentialRefused('The token has expired')
      if (remembered.nbf !== undefined && remembered.nbf > now + this.#skewSeconds) throw new CredentialRefused('The token\'s nbf claim is not accepted')
      return remembered
    }
    try {
      const { payload } = await jwtVerify(token, this.#key as JWTVerifyGetKey, this.#options)
      const lifetime = payload.exp === undefined ? VERIFIED_TTL : Math.min(VERIFIED_TTL, payload.exp * 1000 - Date.now())
      if (lifetime > 0) this.#verified.set(token, payload, { ttl: lifetime })
      return payload
    } catch (error) {
      throw refusal(error)
    }
  }
}

function refusal(error: unknown): Error {
  if (error instanceof errors.JWTExpired) return new CredentialRefused('The token has expired')
  if (error instanceof errors.JWTClaimValidationFailed) return new CredentialRefused(`The token's ${error.claim} claim is not accepted`)
  if (error instanceof errors.JOSEAlgNotAllowed) return new CredentialRefused("The token's signing algorithm is not accepted")
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return new CredentialRefused("The token's signing key is not known")
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || (error instanceof Error && error.name === 'TypeError')) {
    return new ServerUnavailable('The signing keys could not be fetched')
  }
  return new CredentialRefused('The token is malformed or its signature is not valid')
}

function publicKey(text: string): { key: KeyObject; jwk: JWK } {
  const trimmed = text.trim()
  const key = trimmed.startsWith('{') ? createPublicKey({ key: JSON.parse(trimmed) as JsonWebKey, format: 'jwk' }) : createPublicKey(trimmed)
  const given = trimmed.startsWith('{') ? (JSON.parse(trimmed) as JWK) : {}
  return { key, jwk: { ...(key.export({ format: 'jwk' }) as JWK), ...(given.kid ? { kid: given.kid } : {}) } }
}
