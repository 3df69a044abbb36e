/** The `Authorization` value for HTTP Basic (RFC 7617): user-id and password as UTF-8, in base64. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
}
