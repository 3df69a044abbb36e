import type { JWTPayload } from 'jose'
import type { Consumer, Exchange } from '../core/endpoint.ts'
import type { ApiFilter, FilterContext, FilterStop } from '../core/filter.ts'
import { flatHeader, withoutHeaders } from '../core/headers.ts'
import { ApiKeys } from './api-keys.ts'
import { BasicUsers } from './basic.ts'
import { Introspector } from './introspection.ts'
import { JwtVerifier, looksLikeJwt } from './jwt.ts'
import { MutualTlsSubjects } from './mutual-tls.ts'
import { CredentialRefused, ServerUnavailable } from './refusal.ts'
import { SCHEMES, type ApiSecurityConfig, type OAuth2Config, type ResourceAccessConfig, type Scheme } from './schema.ts'

const BEARER_REALM = 'Bearer realm="portico"'
const AUTHORIZATION: ReadonlySet<string> = new Set(['authorization'])

/** What checks one API's credentials; shared by its resources, so a JWKS or introspection cache is per API. */
interface Checkers {
  oauth2: { config: OAuth2Config; jwt: JwtVerifier | undefined; introspection: Introspector | undefined } | undefined
  apiKey: ApiKeys | undefined
  basicAuth: BasicUsers | undefined
  mutualTls: MutualTlsSubjects | undefined
}

const checkersOf = new WeakMap<ApiSecurityConfig, Checkers>()

function checkers(security: ApiSecurityConfig): Checkers {
  let found = checkersOf.get(security)
  if (!found) {
    const oauth2 = security.oauth2
    found = {
      oauth2: oauth2 && {
        config: oauth2,
        jwt: oauth2.jwt && new JwtVerifier(oauth2.jwt, true),
        introspection: oauth2.introspection && new Introspector(oauth2.introspection),
      },
      apiKey: security.apiKey && new ApiKeys(security.apiKey),
      basicAuth: security.basicAuth && new BasicUsers(security.basicAuth),
      mutualTls: security.mutualTls && new MutualTlsSubjects(security.mutualTls),
    }
    checkersOf.set(security, found)
  }
  return found
}

/**
 * Consumer authentication, the first API filter after SOAP's: a request passes with a credential of one of the
 * resource's schemes, its consumer goes on the exchange, its key type chooses production or sandbox, and the
 * credential is removed before the backend unless the API passes it on. A refused request never reaches the
 * backend, and no answer or log line quotes the credential.
 */
export class ConsumerAuthentication implements ApiFilter {
  /** The pipeline takes the environment from the consumer's key type, not from a header. */
  readonly choosesEnvironment = true
  readonly #schemes: ReadonlySet<Scheme>
  readonly #scopes: readonly string[]
  readonly #checkers: Checkers
  readonly #security: ApiSecurityConfig
  /** The consumer header's name: a client's own is removed, so no one can send an identity. */
  readonly #consumerHeader: ReadonlySet<string> | undefined
  readonly #apiKeyHeader: ReadonlySet<string> | undefined
  readonly #tokenConsumers = new WeakMap<JWTPayload, Consumer>()

  constructor(security: ApiSecurityConfig, resource: ResourceAccessConfig) {
    this.#security = security
    const open = resource.authType === 'None' || resource.security?.length === 0
    this.#schemes = new Set(open ? [] : (resource.security ?? SCHEMES).filter((scheme) => security[scheme] !== undefined))
    this.#scopes = resource.scopes ?? []
    this.#checkers = checkers(security)
    this.#consumerHeader = security.consumerHeader && new Set([security.consumerHeader.name.toLowerCase()])
    this.#apiKeyHeader = security.apiKey && new Set([security.apiKey.name.toLowerCase()])
  }

  async request(exchange: Exchange, context: FilterContext): Promise<FilterStop | undefined> {
    if (this.#consumerHeader) exchange.headers = withoutHeaders(exchange.headers, this.#consumerHeader)
    if (this.#schemes.size === 0) return undefined
    const authorization = flatHeader(exchange.headers, 'authorization')
    let consumer: Consumer
    try {
      const found = await this.#authenticate(exchange)
      if (!found) return this.#missing()
      consumer = found
    } catch (error) {
      if (error instanceof CredentialRefused) return this.#refused(authorization, error.message)
      if (error instanceof ServerUnavailable) {
        context.logger.warn({ requestId: exchange.requestId, api: exchange.route.apiName, err: error.cause ?? error }, error.message)
        return { code: 'AUTH_SERVER_UNAVAILABLE', message: error.message }
      }
      throw error
    }
    const missing = missingScopes(this.#scopes, consumer.scopes)
    if (missing !== undefined) {
      const description = `The token lacks the scope ${missing.join(' ')}`
      return {
        code: 'INSUFFICIENT_SCOPE',
        message: description,
        headers: ['www-authenticate', `${BEARER_REALM}, error="insufficient_scope", error_description="${description}", scope="${this.#scopes.join(' ')}"`],
      }
    }
    exchange.consumer = consumer
    exchange.environment = consumer.keyType === 'SANDBOX' ? 'sandbox' : 'production'
    if (this.#security.consumerHeader) exchange.headers.push(this.#security.consumerHeader.name, consumerHeaderValue(consumer, this.#security.consumerHeader.claims))
    return undefined
  }

  /** The consumer of the credential the request carries, undefined when it carries none of the allowed kinds. */
  async #authenticate(exchange: Exchange): Promise<Consumer | undefined> {
    const c = this.#checkers
    if (c.mutualTls && this.#schemes.has('mutualTls')) {
      const subject = MutualTlsSubjects.subject(exchange)
      if (subject !== undefined) return c.mutualTls.consumer(subject)
    }
    const authorization = flatHeader(exchange.headers, 'authorization')
    if (authorization !== undefined) {
      const space = authorization.indexOf(' ')
      const scheme = authorization.slice(0, space < 0 ? undefined : space).toLowerCase()
      const credential = space < 0 ? '' : authorization.slice(space + 1).trim()
      if (scheme === 'bearer' && c.oauth2 && this.#schemes.has('oauth2')) {
        this.#remove(exchange, AUTHORIZATION)
        return this.#bearer(c.oauth2, credential)
      }
      if (scheme === 'basic' && c.basicAuth && this.#schemes.has('basicAuth')) {
        this.#remove(exchange, AUTHORIZATION)
        return c.basicAuth.consumer(credential)
      }
    }
    const apiKey = this.#security.apiKey
    if (c.apiKey && apiKey && this.#schemes.has('apiKey')) {
      const name = apiKey.name.toLowerCase()
      const key = apiKey.in === 'header' ? flatHeader(exchange.headers, name) : queryValue(exchange.query, apiKey.name)
      if (key !== undefined) {
        if (apiKey.in === 'header') this.#remove(exchange, this.#apiKeyHeader!)
        else if (!this.#security.passCredential) exchange.query = withoutParameter(exchange.query, apiKey.name)
        return c.apiKey.consumer(key)
      }
    }
    return undefined
  }

  async #bearer(oauth2: NonNullable<Checkers['oauth2']>, token: string): Promise<Consumer> {
    if (!token) throw new CredentialRefused('The bearer token is empty')
    if (oauth2.jwt && (looksLikeJwt(token) || !oauth2.introspection)) return this.#tokenConsumer(await oauth2.jwt.verify(token), oauth2.config)
    if (oauth2.introspection) return this.#tokenConsumer(await oauth2.introspection.introspect(token), oauth2.config)
    throw new CredentialRefused('The token is not accepted')
  }

  /**
   * The consumer of verified claims, made once per claims object: the verifier and the introspection cache hand
   * back the same object for the same token, so a client that sends one token is one consumer, not one per request.
   */
  #tokenConsumer(claims: JWTPayload, config: OAuth2Config): Consumer {
    let consumer = this.#tokenConsumers.get(claims)
    if (!consumer) this.#tokenConsumers.set(claims, (consumer = tokenConsumer(claims, config)))
    return consumer
  }

  #remove(exchange: Exchange, lowerNames: ReadonlySet<string>): void {
    if (!this.#security.passCredential) exchange.headers = withoutHeaders(exchange.headers, lowerNames)
  }

  /** RFC 6750 section 3.1: a request without credentials gets the challenges and no error code. */
  #missing(): FilterStop {
    return { code: 'MISSING_CREDENTIALS', message: `The API requires ${[...this.#schemes].join(' or ')}`, headers: this.#challenges() }
  }

  /** `authorization`: as the client sent it, to answer a bad bearer token with RFC 6750's `invalid_token`. */
  #refused(authorization: string | undefined, description: string): FilterStop {
    const bearer = /^bearer\s/i.test(authorization ?? '')
    const headers = this.#challenges().flatMap((value, i) =>
      i % 2 === 1 && value.startsWith('Bearer') && bearer ? [`${value}, error="invalid_token", error_description="${description}"`] : [value],
    )
    return { code: 'INVALID_CREDENTIALS', message: description, headers }
  }

  #challenges(): string[] {
    const headers: string[] = []
    if (this.#schemes.has('oauth2')) headers.push('www-authenticate', BEARER_REALM)
    if (this.#schemes.has('basicAuth')) headers.push('www-authenticate', `Basic realm="${this.#checkers.basicAuth!.realm}", charset="UTF-8"`)
    if (this.#schemes.has('apiKey')) headers.push('www-authenticate', `APIKey realm="portico", ${this.#security.apiKey!.in}="${this.#security.apiKey!.name}"`)
    // Client certificates have no HTTP scheme of their own; a 401 still names what would pass.
    if (headers.length === 0) headers.push('www-authenticate', 'ClientCertificate realm="portico"')
    return headers
  }
}

/** The scopes `required` that `granted` lacks, or undefined when it has them all. */
function missingScopes(required: readonly string[], granted: readonly string[]): string[] | undefined {
  let missing: string[] | undefined
  for (const scope of required) if (!granted.includes(scope)) (missing ??= []).push(scope)
  return missing
}

/** The consumer of a verified JWT or an active introspection result. */
function tokenConsumer(claims: JWTPayload, config: OAuth2Config): Consumer {
  const text = (name: string) => (typeof claims[name] === 'string' ? (claims[name] as string) : undefined)
  const application = text(config.applicationClaim) ?? text('azp') ?? text('client_id')
  const keyType = text(config.keyTypeClaim)?.toUpperCase()
  const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : Array.isArray(claims.scp) ? claims.scp.filter((s): s is string => typeof s === 'string') : []
  return {
    subject: text('sub') ?? application ?? '',
    application,
    keyType: keyType === 'SANDBOX' || keyType === 'PRODUCTION' ? keyType : config.defaultKeyType,
    scopes,
    scheme: 'oauth2',
    claims,
  }
}

function consumerHeaderValue(consumer: Consumer, claims: readonly string[]): string {
  const chosen: Record<string, unknown> = {}
  for (const name of claims) {
    const value = name === 'subject' || name === 'application' || name === 'keyType' || name === 'scopes' ? consumer[name] : consumer.claims[name]
    if (value !== undefined) chosen[name] = value
  }
  // base64url: claims may hold any Unicode, which a header value cannot carry as it is.
  return Buffer.from(JSON.stringify(chosen)).toString('base64url')
}

/** The first value of a query parameter, decoded. */
function queryValue(query: string, name: string): string | undefined {
  if (!query) return undefined
  return new URLSearchParams(query).get(name) ?? undefined
}

/** The query without one parameter; the others keep their encoding exactly as the client sent it. */
function withoutParameter(query: string, name: string): string {
  return query
    .split('&')
    .filter((part) => {
      const equals = part.indexOf('=')
      const raw = equals < 0 ? part : part.slice(0, equals)
      try {
        return decodeURIComponent(raw.replace(/\+/g, ' ')) !== name
      } catch {
        return true
      }
    })
    .join('&')
}
