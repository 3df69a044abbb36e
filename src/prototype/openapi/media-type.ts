import Negotiator from 'negotiator'

/** `application/json`, `application/problem+json`, `application/vnd.api+json; charset=utf-8`... */
export function isJsonMediaType(mediaType: string): boolean {
  const type = mediaTypeOf(mediaType)
  return type === 'application/json' || type.endsWith('+json') || type === '*/*'
}

/** The media type of a Content-Type value, lower case, without parameters. */
export function mediaTypeOf(contentType: string): string {
  const semicolon = contentType.indexOf(';')
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase()
}

/** The document's media type key that a request's media type falls under: exact first, then `type/*`, then `*\/*`. */
export function matchMediaType(mediaType: string, keys: Iterable<string>): string | undefined {
  const list = [...keys]
  const exact = list.find((key) => mediaTypeOf(key) === mediaType)
  if (exact !== undefined) return exact
  const range = `${mediaType.split('/')[0]}/*`
  return list.find((key) => mediaTypeOf(key) === range) ?? list.find((key) => key === '*/*')
}

/**
 * The response media type for an Accept header: the client's best choice among the documented ones (by the
 * `negotiator` package's reading of q-values), JSON when the client states no preference; undefined when the
 * client accepts none of them.
 */
export function negotiateMediaType(accept: string | undefined, available: readonly string[]): string | undefined {
  if (available.length === 0) return undefined
  if (accept === undefined || accept.trim() === '' || accept.trim() === '*/*') {
    return available.find(isJsonMediaType) ?? available[0]
  }
  const [best] = new Negotiator({ headers: { accept } }).mediaTypes([...available])
  return best
}
