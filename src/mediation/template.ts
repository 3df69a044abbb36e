import type { UriVariables } from '../core/uri-template.ts'

/**
 * A template over properties and URI variables, as `setTarget`, `rewrite` and `respond` use it:
 * `{name}` is the property `name` (or, when no such property is set, the URI variable), percent-encoded as one
 * URI component; `{+name}` is inserted with only characters illegal in a URI encoded, so a property may hold a
 * whole address (`{+backend}/orders`); `{uri.var.name}` is WSO2's spelling of the URI variable `name`.
 */

const VARIABLE = /\{([+]?)((?:uri\.var\.)?)([A-Za-z_][A-Za-z0-9_.-]*)\}/g

type Part = string | { name: string; reserved: boolean; uriVariableOnly: boolean }

export class ValueTemplate {
  readonly #parts: Part[]

  /** `strict`: any brace outside a variable is an error (addresses, paths); otherwise it is text (bodies). */
  constructor(template: string, strict = true) {
    const problem = strict ? templateProblem(template) : undefined
    if (problem) throw new Error(problem)
    this.#parts = []
    let last = 0
    for (const match of template.matchAll(VARIABLE)) {
      if (match.index > last) this.#parts.push(template.slice(last, match.index))
      this.#parts.push({ name: match[3]!, reserved: match[1] === '+', uriVariableOnly: match[2] !== '' })
      last = match.index + match[0].length
    }
    if (last < template.length || this.#parts.length === 0) this.#parts.push(template.slice(last))
  }

  expand(properties: ReadonlyMap<string, unknown>, uriVariables: UriVariables, encode = true): string {
    let out = ''
    for (const part of this.#parts) {
      if (typeof part === 'string') {
        out += part
        continue
      }
      const value = part.uriVariableOnly ? uriVariables[part.name] : properties.has(part.name) ? properties.get(part.name) : uriVariables[part.name]
      const text = textOf(value)
      out += !encode ? text : part.reserved ? encodeURI(text) : encodeURIComponent(text)
    }
    return out
  }
}

export function templateProblem(template: string): string | undefined {
  const stripped = template.replace(VARIABLE, '')
  if (stripped.includes('{') || stripped.includes('}')) {
    return `has a malformed variable in "${template}": write {name}, {+name} or {uri.var.name}`
  }
  return undefined
}

/** How a property's value reads as text: objects and lists as JSON, nothing as the empty string. */
export function textOf(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}
