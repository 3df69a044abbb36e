import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose'
import Provider, { errors as oidcErrors } from 'oidc-provider'

/** A resource (RFC 8707 resource indicator) the server issues tokens for, and in which format. */
export interface ResourceServer {
  format: 'jwt' | 'opaque'
  ttl: number
  scope: string
}

export interface SigningKey {
  privateKey: CryptoKey
  publicJwk: JWK
  kid: string
}

export interface AuthorizationServer {
  issuer: string
  /** Requests per path (`/token`, `/jwks`, `/token/introspection`), to count what the gateway asked. */
  hits: Map<string, number>
  /** The key that signs new tokens now. */
  signingKey(): SigningKey
  /** Starts signing with a new key; the JWKS serves it first and the previous key beside it. */
  rotate(): Promise<SigningKey>
  /** A client-credentials token for a client, resource and scope. */
  token(client: { id: string; secret: string }, resource: string, scope?: string): Promise<string>
  close(): Promise<void>
}

export async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }, kid }
}

/**
 * oidc-provider as a real authorization server on 127.0.0.1: client credentials, resource indicators with JWT or
 * opaque access tokens, introspection, and a `keytype` claim per client as WSO2's key manager issues it.
 */
export async function startAuthorizationServer(options: {
  clients: { id: string; secret: string; scope: string; keytype?: 'PRODUCTION' | 'SANDBOX' }[]
  resources: Record<string, ResourceServer>
}): Promise<AuthorizationServer> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const keytypes = new Map(options.clients.map((client) => [client.id, client.keytype]))
  const hits = new Map<string, number>()
  const keys: SigningKey[] = [await signingKey('key-1')]
  const privateJwk = async (key: SigningKey) => ({ ...(await exportJWK(key.privateKey)), kid: key.kid, alg: 'RS256', use: 'sig' })

  const build = async () => {
    const provider = new Provider(issuer, {
      jwks: { keys: await Promise.all(keys.map(privateJwk)) },
      cookies: { keys: ['test-cookie-key'] },
      scopes: [...new Set(options.clients.flatMap((client) => client.scope.split(' ')))],
      clients: options.clients.map((client) => ({
        client_id: client.id,
        client_secret: client.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: client.scope,
      })),
      extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => {
        const keytype = token.clientId ? keytypes.get(token.clientId) : undefined
        return keytype ? { keytype } : undefined
      },
      features: {
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => Object.keys(options.resources)[0]!,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            const info = options.resources[resource]
            if (!info) throw new oidcErrors.InvalidTarget()
            return {
              scope: info.scope,
              audience: resource,
              accessTokenTTL: info.ttl,
              accessTokenFormat: info.format,
              ...(info.format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
            }
          },
        },
      },
    })
    return provider.callback()
  }
  let callback = await build()
  server.on('request', (req, res) => {
    const path = (req.url ?? '').split('?')[0]!
    hits.set(path, (hits.get(path) ?? 0) + 1)
    callback(req, res)
  })

  return {
    issuer,
    hits,
    signingKey: () => keys[0]!,
    async rotate() {
      keys.unshift(await signingKey(`key-${keys.length + 1}`))
      // A new provider instance on the same address: what a restarted server with a rotated key set looks like.
      callback = await build()
      return keys[0]!
    },
    async token(client, resource, scope) {
      const form = new URLSearchParams({ grant_type: 'client_credentials', resource })
      if (scope) form.set('scope', scope)
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      })
      const body = (await response.json()) as { access_token?: string; error?: string }
      if (!body.access_token) throw new Error(`no token for ${client.id}: ${JSON.stringify(body)}`)
      return body.access_token
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

export type { Server }
