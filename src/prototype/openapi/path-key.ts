import { templateVariables } from '../../core/uri-template.ts'

/** A request value (or, without `value`, a name present) that picks one operation among several documented under the same path and method. */
export interface Selector {
  readonly name: string
  readonly value?: string
}

/** A document's path key read as the URI template requests are matched against, and its selectors. */
export interface PathKey {
  readonly template: string
  readonly selectors: readonly Selector[]
}

/**
 * Reads a key of `paths`. Documents converted from RPC-style services (the AWS service models, Azure's
 * `?op=` overloads) put what selects an operation after a `#` or `?`: `/#X-Amz-Target=Transcribe.CreateVocabulary`,
 * `/#Action=CreateCluster`, `/catalog/acl?op=GRANTACE`. Such a key serves the path before the `#` or `?`,
 * and its `name=value` pairs become selectors, held by a header or a query parameter of that name; a bare name
 * is held when the request has that header or query parameter at all (S3's `/{Bucket}#cors` is `?cors`,
 * `/jobs#x-amz-account-id` a header). AWS's greedy `{Key+}` is the router's `{+Key}`. Throws, saying why, for a
 * key no request path can match.
 */
export function readPathKey(key: string): PathKey {
  if (!key.startsWith('/')) throw new Error('does not start with "/"')
  const cut = key.search(/[?#]/)
  const path = cut < 0 ? key : key.slice(0, cut)
  const selectors: Selector[] = []
  if (cut >= 0) {
    for (const part of key.slice(cut + 1).split(/[&?#]/)) {
      const equals = part.indexOf('=')
      if (equals === 0 || part === '') continue
      selectors.push(equals < 0 ? { name: decode(part) } : { name: decode(part.slice(0, equals)), value: decode(part.slice(equals + 1)) })
    }
  }
  const template = path.replace(/\{([A-Za-z_][A-Za-z0-9_.-]*)\+\}/g, '{+$1}')
  if (/\s/.test(template)) throw new Error('has white space in its path')
  templateVariables(template)
  return { template, selectors }
}

/** Whether the request carries every selector, as a header or as a query parameter. */
export function selected(selectors: readonly Selector[], query: URLSearchParams, headers: Readonly<Record<string, string>>): boolean {
  return selectors.every(({ name, value }) =>
    value === undefined ? headers[name.toLowerCase()] !== undefined || query.has(name) : headers[name.toLowerCase()] === value || query.getAll(name).includes(value),
  )
}

/** How a request names the operation with these selectors: `X-Amz-Target=Transcribe.ListVocabularies`, `cors`. */
export function describeSelectors(selectors: readonly Selector[]): string {
  return selectors.length === 0 ? 'none' : selectors.map(({ name, value }) => (value === undefined ? name : `${name}=${value}`)).join('&')
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
