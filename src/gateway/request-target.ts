/**
 * The one check every request path passes before routing, whatever endpoint type serves it. A backend may decode
 * the path before it resolves it (most file servers and servlet containers do), so a path that looks harmless
 * here can climb out of an endpoint's base path there: `..%2fsecret`, `%2e%2e/`, `..%5c`, `..;/`. nginx
 * resolves such segments and answers 400 when they climb above the root; the gateway cannot know the backend's
 * root, so it refuses every dot segment, plain or encoded, as it already did for plain ones. Encoded slashes
 * without a dot segment stay allowed: an ID such as `a%2Fb` cannot climb anywhere, and APIs use them.
 */

/** `%` not followed by two hex digits. */
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/
/**
 * Lead bytes of overlong UTF-8 forms (`%c0%ae` is an overlong `.`): never valid UTF-8, but decoders that do not
 * check (old IIS, some Java ones) read them as `.`, `/` or `\`.
 */
const OVERLONG_UTF8 = /%c[01]|%e0%[89]|%f0%8/i
/** Escapes that decode to `.`, `/` or `\`. */
const ENCODED_DOT = /%2e/gi
const ENCODED_SLASH = /%2f/gi
const ENCODED_BACKSLASH = /%5c/gi
/**
 * A `.` or `..` segment. `\` separates segments too (Windows servers and some frameworks read it as `/`), and
 * `;` ends one (servlet containers read `..;x` as `..`).
 */
const DOT_SEGMENT = /(?:^|[/\\])\.{1,2}(?:[/\\;]|$)/

/**
 * A request target has no fragment (RFC 9112, 3.2): clients keep it to themselves. A `#` sent anyway would reach
 * the backend as part of the path or query, where each server reads it its own way; Envoy refuses it too.
 */
export const FRAGMENT_PROBLEM = 'The request target must not have a fragment ("#")'

/** Why the request's path (without its query) cannot be served, or undefined when it can. */
export function pathProblem(path: string): string | undefined {
  if (path.charCodeAt(0) !== 47) return 'The request target must be an absolute path'
  if (path.includes('#')) return FRAGMENT_PROBLEM
  let decoded = path
  if (path.includes('%')) {
    if (BAD_ESCAPE.test(path)) return 'The path has a "%" that is not followed by two hexadecimal digits'
    if (path.includes('%00')) return 'The path has an encoded NUL character (%00)'
    if (OVERLONG_UTF8.test(path)) return 'The path has an overlong UTF-8 encoding (such as %c0%ae), which some servers read as "." or "/"'
    decoded = path.replace(ENCODED_DOT, '.').replace(ENCODED_SLASH, '/').replace(ENCODED_BACKSLASH, '\\')
  }
  // Every dot segment has a `.`; most paths have none, and `includes` is cheaper than the pattern.
  if (decoded.includes('.') && DOT_SEGMENT.test(decoded)) return 'The path must not have "." or ".." segments, plain or percent-encoded'
  return undefined
}
