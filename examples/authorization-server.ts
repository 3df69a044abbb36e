import { createServer, type Server } from 'node:http'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'

/**
 * A local OAuth 2.0 authorization server for examples/access.yaml: oidc-provider issuing client-credentials JWT
 * access tokens for the resource https://orders.example, each with WSO2's `keytype` claim (PRODUCTION or SANDBOX)
 * chosen by its client. Its signing key is made at start, so its JWKS changes with every run.
 */
export async function startAuthorizationServer(port: number): Promise<Server> {
  const issuer = `http://127.0.0.1:${port}`
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'example-key', alg: 'RS256', use: 'sig' }
  const keytype: Record<string, string> = { 'shop-production': 'PRODUCTION', 'shop-sandbox': 'SANDBOX' }
  const client = (id: string, secret: string) => ({
    client_id: id,
    client_secret: secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'orders:read orders:write',
  })
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    cookies: { keys: ['example-cookie-key'] },
    scopes: ['orders:read', 'orders:write'],
    clients: [client('shop-production', 'production-secret'), client('shop-sandbox', 'sandbox-secret')],
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => (token.clientId && keytype[token.clientId] ? { keytype: keytype[token.clientId] } : undefined),
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://orders.example',
        getResourceServerInfo: () => ({ scope: 'orders:read orders:write', audience: 'https://orders.example', accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
  })
  const server = createServer(provider.callback())
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}
