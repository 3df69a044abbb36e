import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { z } from 'zod'
import { Duration } from '../core/duration.ts'

/** WSO2's key types: a production key or token reaches production endpoints, a sandbox one sandbox endpoints. */
export const KEY_TYPES = ['PRODUCTION', 'SANDBOX'] as const
export type KeyType = (typeof KEY_TYPES)[number]
const KeyType = z
  .string()
  .transform((value) => value.toUpperCase())
  .pipe(z.enum(KEY_TYPES, { error: 'must be PRODUCTION or SANDBOX' }))

/**
 * Asymmetric algorithms only: a configured key is a public key (or a JWKS of public keys), so an HMAC algorithm
 * would mean verifying with a public key as the secret (the HS/RS confusion attack); `none` is never a signature.
 */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const

/** A public key as PEM (SPKI or certificate) or as a JWK in JSON; checked here, used by access/jwt.ts. */
const PublicKey = z.string().superRefine((text, ctx) => {
  try {
    const trimmed = text.trim()
    if (trimmed.startsWith('{')) createPublicKey({ key: JSON.parse(trimmed) as JsonWebKey, format: 'jwk' })
    else createPublicKey(trimmed)
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `is not a public key as PEM or JWK (${(error as Error).message})` })
  }
})

/** How a signed JWT is checked: keys from a JWKS URL or given here, issuer, audience, algorithms, clock skew. */
const JwtVerification = z
  .strictObject({
    /** The `iss` a token must carry; any issuer when unset (API-key JWTs from one gateway key need none). */
    issuer: z.string().min(1).optional(),
    /** The `aud` a token must carry (one of them). */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** The authorization server's JWKS: fetched when first needed, cached, fetched again for an unknown `kid`. */
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Least time between two JWKS fetches, however many unknown `kid`s arrive. */
    jwksCooldown: Duration.default(30_000),
    /** How long a fetched JWKS is trusted before it is fetched again. */
    jwksCacheMaxAge: Duration.default(600_000),
    /** Public keys given in the config (PEM or JWK JSON), e.g. `${file:keys/issuer.pem}`. */
    keys: z.array(PublicKey).min(1).optional(),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
    /** Tolerance on `exp` and `nbf` for clocks that differ. */
    clockSkew: Duration.default(30_000),
  })
  .refine((jwt) => (jwt.jwksUrl === undefined) !== (jwt.keys === undefined), {
    message: 'needs exactly one of jwksUrl or keys',
  })

/** RFC 7662 token introspection for opaque tokens. */
const Introspection = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** The gateway's own client at the authorization server, sent with client_secret_basic. */
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** How many introspection results are kept; each for the token's lifetime, at most `maxCacheTtl`. */
  cacheSize: z.number().int().min(1).max(1_000_000).default(10_000),
  maxCacheTtl: Duration.default(300_000),
})

const OAuth2 = z
  .strictObject({
    /** JWT access tokens verified at the gateway. */
    jwt: JwtVerification.optional(),
    /** Opaque tokens (anything that is not a JWT, or every token when `jwt` is unset) asked of the server. */
    introspection: Introspection.optional(),
    /** The claim (or introspection field) holding the key type; WSO2's tokens carry `keytype`. */
    keyTypeClaim: z.string().min(1).default('keytype'),
    /** The key type of a token without that claim. */
    defaultKeyType: KeyType.default('PRODUCTION'),
    /** The claim naming the consumer's application (`azp`, `client_id`, ...). */
    applicationClaim: z.string().min(1).default('client_id'),
  })
  .refine((oauth2) => oauth2.jwt !== undefined || oauth2.introspection !== undefined, {
    message: 'needs jwt, introspection or both',
  })

const SHA256_HEX = /^[0-9a-f]{64}$/

const ApiKeyEntry = z.strictObject({
  /** sha256 of the key, in lower-case hex (`npm run portico -- hash-key`); the config never holds the key. */
  sha256: z.string().transform((value) => value.toLowerCase()).pipe(z.string().regex(SHA256_HEX, 'must be 64 hex digits (the sha256 of the key)')),
  application: z.string().min(1),
  keyType: KeyType.default('PRODUCTION'),
  /** After this instant the key is refused. */
  expires: z.iso.datetime({ offset: true }).optional(),
})

const ApiKey = z.strictObject({
  /** Where the key is read: a header, or a query parameter (which leaves it in every URL log on the way). */
  in: z.enum(['header', 'query']).default('header'),
  /** The header or parameter name; WSO2's is `apikey`. */
  name: z.string().min(1).default('apikey'),
  keys: z.array(ApiKeyEntry).default([]),
  /** WSO2's API keys are JWTs signed by its gateway key: verified with these settings, key type from `keytype`. */
  jwt: JwtVerification.optional(),
})

/** scrypt, as `scrypt$N$r$p$salt$hash` with base64 salt and hash (`npm run portico -- hash-password`). */
export const SCRYPT_HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/

const BasicUser = z.strictObject({
  username: z.string().min(1).refine((name) => !name.includes(':'), 'must not contain ":" (RFC 7617)'),
  passwordHash: z
    .string()
    .regex(SCRYPT_HASH, 'must be scrypt$N$r$p$salt$hash (npm run portico -- hash-password)')
    .refine((hash) => {
      const [, N = '0', r = '0'] = SCRYPT_HASH.exec(hash) ?? []
      // scrypt takes a power of two above 1 for N; a cost over 2^20 would stall every check for seconds.
      return Number(N) > 1 && (Number(N) & (Number(N) - 1)) === 0 && Number(N) * Number(r) <= 2 ** 23
    }, 'has an N that is not a power of two, or a cost too high to check per request'),
  /** The application the user stands for in logs and on the exchange; the username when unset. */
  application: z.string().min(1).optional(),
  keyType: KeyType.default('PRODUCTION'),
})

const BasicAuth = z.strictObject({
  realm: z.string().min(1).regex(/^[^"\\]*$/, 'must not contain quotes or backslashes').default('portico'),
  users: z.array(BasicUser).min(1),
})

const MutualTlsSubject = z.strictObject({
  /** The verified client certificate's subject, e.g. `CN=orders-client,O=Example`. */
  subject: z.string().min(1),
  application: z.string().min(1).optional(),
  keyType: KeyType.default('PRODUCTION'),
})

const MutualTls = z.strictObject({ subjects: z.array(MutualTlsSubject).min(1) })

/** The claims sent to the backend in one header, as base64url JSON (no token, just what the API chooses). */
const ConsumerHeader = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a header name').default('x-portico-consumer'),
  /** Claims of the token (or `subject`, `application`, `keyType`, `scopes` for any scheme). */
  claims: z.array(z.string().min(1)).min(1).default(['subject', 'application', 'keyType', 'scopes']),
})

/** The schemes, named as in `resources[].security`. */
export const SCHEMES = ['oauth2', 'apiKey', 'basicAuth', 'mutualTls'] as const
export type Scheme = (typeof SCHEMES)[number]

/**
 * Consumer authentication of an API (WSO2's `securityScheme`): a request passes with any one configured scheme.
 * An API without `security` stays open, as before this existed; an API with it requires a credential on every
 * resource that does not say `security: []`.
 */
export const ApiSecurity = z
  .strictObject({
    oauth2: OAuth2.optional(),
    apiKey: ApiKey.optional(),
    basicAuth: BasicAuth.optional(),
    mutualTls: MutualTls.optional(),
    consumerHeader: ConsumerHeader.optional(),
    /** Pass the consumer's credential (Authorization, the API key) on to the backend; removed by default. */
    passCredential: z.boolean().default(false),
  })
  .refine((security) => SCHEMES.some((scheme) => security[scheme] !== undefined), {
    message: `needs at least one of ${SCHEMES.join(', ')}`,
  })

/** A resource's part: which of the API's schemes apply (`[]`: none, the resource is open) and which scopes. */
export const resourceAccessFields = {
  security: z.array(z.enum(SCHEMES)).optional(),
  /** WSO2's "None" auth type: the same as `security: []`. */
  authType: z.enum(['Any', 'None']).optional(),
  /** Scopes a token must carry here (all of them); a missing one answers 403 insufficient_scope. */
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token (RFC 6749 section 3.3)')).optional(),
}

/** CORS as WSO2's `corsConfiguration`: preflights answered at the gateway, headers added to responses. */
export const Cors = z.strictObject({
  /** Allowed origins, e.g. `https://app.example`; `*` allows any (not together with credentials). */
  origins: z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'must be "*" or an origin such as https://app.example')).min(1),
  methods: z.array(z.string().regex(/^[A-Z]+$/, 'must be an upper-case method name')).min(1).default(['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']),
  headers: z.array(z.string().min(1)).default(['authorization', 'content-type', 'apikey']),
  exposeHeaders: z.array(z.string().min(1)).default([]),
  credentials: z.boolean().default(false),
  maxAge: Duration.optional(),
})
  .refine((cors) => !(cors.credentials && cors.origins.includes('*')), {
    path: ['origins'],
    message: 'must list origins when credentials is true: browsers refuse "*" with credentials',
  })

export type ApiSecurityConfig = z.output<typeof ApiSecurity>
export type OAuth2Config = z.output<typeof OAuth2>
export type JwtVerificationConfig = z.output<typeof JwtVerification>
export type IntrospectionConfig = z.output<typeof Introspection>
export type ApiKeyConfig = z.output<typeof ApiKey>
export type BasicAuthConfig = z.output<typeof BasicAuth>
export type MutualTlsConfig = z.output<typeof MutualTls>
export type CorsConfig = z.output<typeof Cors>
export interface ResourceAccessConfig {
  security?: Scheme[] | undefined
  authType?: 'Any' | 'None' | undefined
  scopes?: string[] | undefined
}
