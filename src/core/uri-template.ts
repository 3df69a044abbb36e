/**
 * URI templates as API managers use them: `{name}` matches one path segment, `{+name}` the rest of the path,
 * `*` anything, and a trailing `/*` the path itself or anything below it. WSO2 spells a variable in an endpoint
 * URL `{uri.var.name}`; both spellings name the same variable. Templates are compiled once, at config load.
 */

const VARIABLE = /\{([+]?)((?:uri\.var\.)?)([A-Za-z_][A-Za-z0-9_.-]*)\}/g

/** The variable names a template uses, without the `uri.var.` prefix. Throws on malformed braces. */
export function templateVariables(template: string): string[] {
  const names: string[] = []
  const stripped = template.replace(VARIABLE, (_all, _plus, _prefix, name: string) => {
    names.push(name)
    return ''
  })
  if (stripped.includes('{') || stripped.includes('}')) {
    throw new Error(`has a malformed variable in "${template}": write {name} with letters, digits, "_", "." or "-"`)
  }
  return names
}

export type UriVariables = Record<string, string>

export class BadPathEncoding extends Error {}

/** A resource's URI template, compiled to a matcher. */
export class ResourceTemplate {
  readonly template: string
  /** Higher sorts first: literal text makes a template more specific, wildcards less. */
  readonly specificity: number
  readonly #pattern: RegExp
  readonly #names: string[]
  /** A template of literal text only matches itself, with or without a trailing slash: no regex needed. */
  readonly #literal: readonly [string, string] | undefined

  constructor(template: string) {
    this.template = template
    this.#names = []
    let source = ''
    let literalLength = 0
    let wildcards = 0
    let rest = template
    if (rest.endsWith('/*')) rest = rest.slice(0, -2)
    let last = 0
    for (const match of rest.matchAll(VARIABLE)) {
      const literal = rest.slice(last, match.index)
      source += escapeWithStars(literal)
      literalLength += literal.replaceAll('*', '').length
      wildcards += countStars(literal)
      this.#names.push(match[3]!)
      source += match[1] === '+' ? '(.+)' : '([^/]+)'
      last = match.index + match[0].length
    }
    const tail = rest.slice(last)
    source += escapeWithStars(tail)
    literalLength += tail.replaceAll('*', '').length
    wildcards += countStars(tail)
    if (template.endsWith('/*')) {
      source += '(?:/.*)?'
      wildcards += 1
    } else source += '/?'
    this.#pattern = new RegExp(`^${source}$`)
    this.#literal = this.#names.length === 0 && !template.includes('*') ? [template, `${template}/`] : undefined
    this.specificity = literalLength * 16 - this.#names.length - wildcards * 4
  }

  /** The decoded variables when `path` matches, otherwise undefined. Throws BadPathEncoding on bad %-escapes. */
  match(path: string): UriVariables | undefined {
    const literal = this.#literal
    if (literal !== undefined) return path === literal[0] || path === literal[1] ? {} : undefined
    const found = this.#pattern.exec(path)
    if (!found) return undefined
    const variables: UriVariables = {}
    for (let i = 0; i < this.#names.length; i++) {
      const raw = found[i + 1]!
      let value: string
      try {
        value = raw.includes('%') ? decodeURIComponent(raw) : raw
      } catch {
        throw new BadPathEncoding(`bad percent-encoding in "${raw}"`)
      }
      // An encoded slash can hide a dot segment from the path check; a `{+var}` would send it on decoded.
      if (value !== raw && DECODED_DOT_SEGMENT.test(value)) throw new BadPathEncoding(`a "." or ".." segment in "${raw}"`)
      variables[this.#names[i]!] = value
    }
    return variables
  }
}

const DECODED_DOT_SEGMENT = /(?:^|[/\\])\.{1,2}(?:[/\\]|$)/

function escapeWithStars(literal: string): string {
  return literal
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*')
}

function countStars(text: string): number {
  let count = 0
  for (const char of text) if (char === '*') count++
  return count
}

/** An endpoint URL's path-and-query template, expanded with the request's URI variables. */
export class UrlTemplate {
  readonly #parts: Array<string | { name: string; reserved: boolean }>
  readonly hasVariables: boolean

  constructor(pathAndQuery: string) {
    this.#parts = []
    let last = 0
    for (const match of pathAndQuery.matchAll(VARIABLE)) {
      this.#parts.push(pathAndQuery.slice(last, match.index))
      this.#parts.push({ name: match[3]!, reserved: match[1] === '+' })
      last = match.index + match[0].length
    }
    this.#parts.push(pathAndQuery.slice(last))
    this.hasVariables = this.#parts.length > 1
  }

  expand(variables: UriVariables): string {
    let out = ''
    for (const part of this.#parts) {
      if (typeof part === 'string') out += part
      else {
        const value = variables[part.name] ?? ''
        out += part.reserved ? encodeURI(value) : encodeURIComponent(value)
      }
    }
    return out
  }
}

/**
 * Compiled templates by their text, while anything uses them: thousands of APIs of one service repeat a handful
 * of templates, and a template is immutable once compiled. Entries go when their template has been collected, so
 * templates a reload removed are not kept.
 */
const compiled = new Map<string, WeakRef<ResourceTemplate>>()
const collected = new FinalizationRegistry<string>((template) => {
  if (compiled.get(template)?.deref() === undefined) compiled.delete(template)
})

/** The compiled form of `template`, shared with every other user of the same text. */
export function compiledTemplate(template: string): ResourceTemplate {
  const known = compiled.get(template)?.deref()
  if (known) return known
  const fresh = new ResourceTemplate(template)
  compiled.set(template, new WeakRef(fresh))
  collected.register(fresh, template)
  return fresh
}
