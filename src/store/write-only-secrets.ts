/**
 * Secrets in an API's config are write-only through the publisher API: a read leaves them out, and an update that
 * leaves a secret field out keeps the stored one. Nothing is ever returned masked, so a masked value can never be
 * saved over the real one; a value that looks masked is refused.
 */
const SECRET_FIELDS = new Set(['password', 'clientSecret', 'secretAccessKey', 'sessionToken'])

type Path = (string | number)[]

function isSecret(path: Path): boolean {
  const key = path[path.length - 1]
  // A TLS private key (PEM text or a path to one) is as secret as a password.
  return typeof key === 'string' && (SECRET_FIELDS.has(key) || (key === 'key' && path[path.length - 2] === 'tls'))
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `value` without its secret fields. */
export function withoutSecrets<T>(value: T, path: Path = []): T {
  if (Array.isArray(value)) return value.map((item, index) => withoutSecrets(item, [...path, index])) as T
  if (!isRecord(value)) return value
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !isSecret([...path, key]))
      .map(([key, item]) => [key, withoutSecrets(item, [...path, key])]),
  ) as T
}

/** Every secret value in `value` replaced by `[redacted]`, for the audit log. */
export function redacted(value: unknown, path: Path = []): unknown {
  if (Array.isArray(value)) return value.map((item, index) => redacted(item, [...path, index]))
  if (!isRecord(value)) return value
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, isSecret([...path, key]) ? '[redacted]' : redacted(item, [...path, key])]))
}

const MASKED = /^(\*+|•+|x{4,}|\[redacted\]|<hidden>)$/i

/**
 * `incoming` with every secret it leaves out taken from `stored` at the same place; problems for secrets that look
 * masked (paths as `portico validate` writes them, relative to the API).
 */
export function keepStoredSecrets(incoming: unknown, stored: unknown, path: Path = []): { value: unknown; masked: Path[] } {
  const masked: Path[] = []
  const walk = (next: unknown, previous: unknown, at: Path): unknown => {
    if (Array.isArray(next)) return next.map((item, index) => walk(item, Array.isArray(previous) ? previous[index] : undefined, [...at, index]))
    if (!isRecord(next)) return next
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(next)) {
      if (isSecret([...at, key]) && typeof item === 'string' && MASKED.test(item)) masked.push([...at, key])
      out[key] = walk(item, isRecord(previous) ? previous[key] : undefined, [...at, key])
    }
    if (isRecord(previous)) {
      for (const [key, item] of Object.entries(previous)) if (!(key in out) && isSecret([...at, key])) out[key] = item
    }
    return out
  }
  return { value: walk(incoming, stored, path), masked }
}
