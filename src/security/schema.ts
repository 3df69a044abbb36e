import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readLocalFileSync } from '../core/local-file.ts'
import { z } from 'zod'
import { Duration } from '../core/duration.ts'

const Username = z.string().min(1, 'must not be empty')

/** RFC 7617: a user-id containing a colon cannot be told apart from the password. */
const BasicAuth = z.strictObject({
  type: z.literal('basic'),
  username: Username.refine((username) => !username.includes(':'), 'must not contain ":" (RFC 7617)'),
  password: z.string(),
})

const DigestAuth = z.strictObject({
  type: z.literal('digest'),
  username: Username,
  password: z.string(),
  /**
   * Let concurrent requests share one nonce, each with its own count: no challenge per concurrent request, but
   * only for servers that take counts in any order (not Apache httpd with AuthDigestNcCheck On, nor http-auth).
   */
  sharedNonce: z.boolean().default(false),
})

/** A CA bundle with every public root is some 250 KB; a PEM file larger than this is not one. */
const MAX_PEM_FILE_BYTES = 4 * 1024 * 1024

/** PEM text itself (for example from `${env:...}`), or the path of a file that holds it. */
function pem(kind: 'certificate' | 'key') {
  return z.string().transform((value, ctx) => {
    let text = value
    if (!value.trimStart().startsWith('-----BEGIN')) {
      try {
        text = readLocalFileSync(value, MAX_PEM_FILE_BYTES).toString('utf8')
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message })
        return z.NEVER
      }
    }
    try {
      if (kind === 'key') createPrivateKey(text)
      else new X509Certificate(text)
    } catch (error) {
      // The error says what is wrong with it, never the key's content.
      ctx.addIssue({ code: 'custom', message: `is not a PEM ${kind === 'key' ? 'private key' : 'certificate'} (${(error as Error).message})` })
      return z.NEVER
    }
    return text
  })
}

const Tls = z
  .strictObject({
    /** The client certificate (chain) presented to the backend: mutual TLS. */
    cert: pem('certificate').optional(),
    key: pem('key').optional(),
    /** Trusted CAs for the backend's certificate, replacing the system's. May hold several certificates. */
    ca: pem('certificate').optional(),
    /** The name checked against the backend's certificate and sent as SNI, when it differs from the URL's host. */
    servername: z.string().min(1).optional(),
    /** Accept any backend certificate. For test environments only: it is logged as a warning at start. */
    insecureSkipVerify: z.boolean().default(false),
  })
  .superRefine((tls, ctx) => {
    if (tls.cert !== undefined && tls.key === undefined) ctx.addIssue({ code: 'custom', path: ['key'], message: 'is required with cert' })
    if (tls.key !== undefined && tls.cert === undefined) ctx.addIssue({ code: 'custom', path: ['cert'], message: 'is required with key' })
  })

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

const TokenUrl = z.string().superRefine((text, ctx) => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return void ctx.addIssue({ code: 'custom', message: `must be an absolute URL, got "${text}"` })
  }
  // Client secrets and passwords go to this URL: plain http only where they never leave the machine.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    ctx.addIssue({ code: 'custom', message: 'must use https (http is accepted for localhost only)' })
  }
})

const ScopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be one scope token without spaces or quotes (RFC 6749)')

const OAuth2Auth = z
  .strictObject({
    type: z.literal('oauth2'),
    tokenUrl: TokenUrl,
    grantType: z.enum(['client_credentials', 'password']).default('client_credentials'),
    clientId: z.string().min(1, 'must not be empty'),
    clientSecret: z.string().min(1, 'must not be empty'),
    /** How the client authenticates to the token endpoint (RFC 6749 section 2.3.1). */
    clientAuthentication: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
    /** The resource owner's credentials, for the password grant. */
    username: Username.optional(),
    password: z.string().optional(),
    scopes: z.array(ScopeToken).default([]),
    /** Sent as `audience` (Auth0, Okta and others). */
    audience: z.string().min(1).optional(),
    /** Sent as `resource` (RFC 8707): an absolute URI without a fragment. */
    resource: z.url().refine((uri) => !uri.includes('#'), 'must not contain a fragment').optional(),
    /** A token is renewed this long before it expires, so that no request carries one about to lapse. */
    refreshBefore: Duration.default(30_000),
    /** Time allowed for one token request. */
    timeout: Duration.default(10_000),
    /** TLS towards the token endpoint: a private CA, a client certificate (mutual TLS), a server name. */
    tls: Tls.optional(),
  })
  .superRefine((oauth, ctx) => {
    if (oauth.tls !== undefined && /^http:/i.test(oauth.tokenUrl)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'has no effect: tokenUrl is http://, not https://' })
    }
    if (oauth.grantType !== 'password') {
      for (const field of ['username', 'password'] as const) {
        if (oauth[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'is used by the password grant only' })
      }
      return
    }
    if (oauth.username === undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: 'is required for grantType "password"' })
    if (oauth.password === undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'is required for grantType "password"' })
  })

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** How the gateway proves itself to a backend: credentials in a header, a client certificate, or both. */
export const BackendSecurity = z.strictObject({
  auth: z.discriminatedUnion('type', [BasicAuth, DigestAuth, OAuth2Auth]).optional(),
  tls: Tls.optional(),
  /**
   * What happens to the client's own Authorization header when `auth` is set: `false` drops it; a header name
   * passes it on under that name, since Authorization itself carries the gateway's credentials.
   */
  forwardClientAuthorization: z
    .union([z.literal(false), z.string()], { error: 'must be false or a header name' })
    .superRefine((name, ctx) => {
      if (name === false) return
      if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', message: 'must be false or a header name' })
      else if (name.toLowerCase() === 'authorization') ctx.addIssue({ code: 'custom', message: 'must not be "authorization"' })
    })
    .default(false),
  /**
   * Most bytes of a request body kept in memory so that it can be sent again after a challenge (Digest) or a
   * token refresh (OAuth2). A larger body is streamed once and cannot be retried.
   */
  replayLimit: z.number().int().nonnegative().default(1_048_576),
})

export type BackendSecurityConfig = z.output<typeof BackendSecurity>
export type AuthConfig = NonNullable<BackendSecurityConfig['auth']>
export type BasicAuthConfig = z.output<typeof BasicAuth>
export type DigestAuthConfig = z.output<typeof DigestAuth>
export type OAuth2AuthConfig = z.output<typeof OAuth2Auth>
export type TlsConfig = z.output<typeof Tls>

/** TLS settings on a leaf whose URL is plain http: they would silently do nothing. */
export function plainHttpTlsIssue(leaf: object): { path: string[]; message: string } | undefined {
  const security = 'security' in leaf ? (leaf.security as { tls?: unknown } | undefined) : undefined
  if (!security?.tls || !('url' in leaf) || typeof leaf.url !== 'string' || !/^http:/i.test(leaf.url)) return undefined
  return { path: ['security', 'tls'], message: 'has no effect: the endpoint url is http://, not https://' }
}
