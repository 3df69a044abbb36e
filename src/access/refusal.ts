/**
 * Why a presented credential was not accepted, in words safe to show the client: never the token or key itself.
 * Becomes 401 INVALID_CREDENTIALS with RFC 6750's `error="invalid_token"` for bearer tokens.
 */
export class CredentialRefused extends Error {
  override readonly name = 'CredentialRefused'
}

/** The credential could not be checked (JWKS or introspection endpoint down): 503, the request goes no further. */
export class ServerUnavailable extends Error {
  override readonly name = 'ServerUnavailable'
}
