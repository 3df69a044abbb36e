import { readLocalFileSync } from '../core/local-file.ts'

/** A secret is a password, a token or a key: far smaller than this. */
const MAX_SECRET_FILE_BYTES = 64 * 1024

/** `${env:NAME}` or `${file:/path}`; `$${` is a literal `${`. */
const REFERENCE = /\$(\$)?\{(env|file):([^}]*)\}/g

const REDACTED = '[redacted]'

export interface SecretProblem {
  path: Array<string | number>
  message: string
}

export interface ResolvedSecrets {
  data: unknown
  problems: SecretProblem[]
  /** Every value that came from a reference, so that messages can hide them. */
  values: ReadonlySet<string>
}

/**
 * Replaces `${env:NAME}` and `${file:/path}` references in every string of a parsed config, so that secrets
 * stay out of the config file. A file's trailing newline is dropped (secret files usually end in one). Problems
 * name the field, never the value.
 */
export function resolveSecrets(data: unknown): ResolvedSecrets {
  const problems: SecretProblem[] = []
  const values = new Set<string>()
  // One path, grown and shrunk as the walk goes, and a copy only of what holds a reference: a config of thousands
  // of APIs has hundreds of thousands of nodes, and most configs hold no reference at all.
  const path: Array<string | number> = []
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return value.includes('${') ? substitute(value, [...path], problems, values) : value
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined
      for (let index = 0; index < value.length; index++) {
        path.push(index)
        const resolved = walk(value[index])
        path.pop()
        if (resolved !== value[index]) (copy ??= value.slice())[index] = resolved
      }
      return copy ?? value
    }
    if (value && typeof value === 'object') {
      let copy: Record<string, unknown> | undefined
      for (const key of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[key]
        path.push(key)
        const resolved = walk(item)
        path.pop()
        // Spread and defineProperty, as Object.fromEntries would: a key "__proto__" in a file is a field, never the copy's prototype.
        if (resolved !== item) Object.defineProperty((copy ??= { ...value }), key, { value: resolved, enumerable: true, writable: true, configurable: true })
      }
      return copy ?? value
    }
    return value
  }
  return { data: walk(data), problems, values }
}

function substitute(text: string, path: Array<string | number>, problems: SecretProblem[], values: Set<string>): string {
  return text.replace(REFERENCE, (whole, escaped: string | undefined, source: string, name: string) => {
    if (escaped) return whole.slice(1)
    const secret = source === 'env' ? fromEnvironment(name) : fromFile(name)
    if ('problem' in secret) {
      problems.push({ path, message: secret.problem })
      return ''
    }
    if (secret.value) values.add(secret.value)
    return secret.value
  })
}

function fromEnvironment(name: string): { value: string } | { problem: string } {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return { problem: `\${env:${name}}: "${name}" is not an environment variable name` }
  const value = process.env[name]
  if (value === undefined) return { problem: `\${env:${name}}: the environment variable ${name} is not set` }
  return { value }
}

function fromFile(path: string): { value: string } | { problem: string } {
  if (!path.startsWith('/')) return { problem: `\${file:${path}}: the path must be absolute` }
  try {
    return { value: readLocalFileSync(path, MAX_SECRET_FILE_BYTES).toString('utf8').replace(/\r?\n$/, '') }
  } catch (error) {
    return { problem: `\${file:${path}}: ${(error as Error).message}` }
  }
}

/** `text` with every secret value replaced by `[redacted]`. */
export function redactSecrets(text: string, values: ReadonlySet<string>): string {
  let out = text
  for (const value of values) if (value.length > 0) out = out.split(value).join(REDACTED)
  return out
}
