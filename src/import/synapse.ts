import { DOMParser, type Element } from '@xmldom/xmldom'
import type { LogLevel, MediatorConfig, ValueSourceConfig } from '../mediation/schema.ts'

/**
 * Converts a WSO2 (Apache Synapse) mediation sequence into Portico's mediators. Supported: property (and
 * property with scope="transport", which is an HTTP header), header name="To" (setTarget) and transport headers,
 * filter (source/regex or xpath, with then/else), switch, log and respond. Any other mediator, and any
 * attribute whose meaning would be lost, is reported by name and place: nothing is dropped silently.
 */

const SYNAPSE_NS = 'http://ws.apache.org/ns/synapse'

export interface SynapseProblem {
  /** Where in the XML, e.g. `sequence/filter/then/send`. */
  path: string
  message: string
}

export interface SynapseImport {
  name: string | undefined
  mediators: MediatorConfig[]
  /** Mediators and attributes that could not be converted. */
  unsupported: SynapseProblem[]
}

export function importSynapseSequence(xml: string): SynapseImport {
  const errors: string[] = []
  let document
  try {
    document = new DOMParser({ onError: (level, message) => void (level !== 'warning' && errors.push(message)) }).parseFromString(xml, 'text/xml')
  } catch (error) {
    throw new Error(`not well-formed XML: ${(error as Error).message}`)
  }
  const root = document.documentElement
  if (errors.length > 0 || !root) throw new Error(`not well-formed XML: ${errors[0] ?? 'no root element'}`)
  if (!['sequence', 'inSequence', 'outSequence'].includes(root.localName ?? '')) {
    throw new Error(`expected a <sequence> (or <inSequence>, <outSequence>) element, found <${root.localName}>`)
  }
  const converter = new Converter()
  const mediators = converter.children(root, root.localName!)
  return { name: root.getAttribute('name') ?? undefined, mediators, unsupported: converter.unsupported }
}

class Converter {
  readonly unsupported: SynapseProblem[] = []
  /** The status a preceding `<property name="HTTP_SC" scope="axis2">` set, which `<respond/>` answers with. */
  #status: number | undefined

  children(parent: Element, path: string): MediatorConfig[] {
    const out: MediatorConfig[] = []
    for (const element of elementsOf(parent)) {
      const converted = this.mediator(element, `${path}/${element.localName}`)
      if (converted) out.push(converted)
    }
    return out
  }

  mediator(element: Element, path: string): MediatorConfig | undefined {
    switch (element.localName) {
      case 'property':
        return this.property(element, path)
      case 'header':
        return this.header(element, path)
      case 'filter':
        return this.filter(element, path)
      case 'switch':
        return this.switch(element, path)
      case 'log':
        return this.log(element, path)
      case 'respond':
        return this.respond(element, path)
      default:
        this.#report(path, `the ${element.localName} mediator is not supported`)
        return undefined
    }
  }

  property(element: Element, path: string): MediatorConfig | undefined {
    const name = element.getAttribute('name')
    if (!name) return this.#report(path, 'a property needs a name')
    const scope = element.getAttribute('scope') ?? 'default'
    const remove = element.getAttribute('action') === 'remove'
    this.#unknownAttributes(element, path, ['name', 'value', 'expression', 'scope', 'action', 'type'])
    if (scope === 'transport') {
      return { header: remove ? { name, remove: true } : { name, ...this.#valueOf(element, path) } }
    }
    if (scope === 'axis2' && name === 'REST_URL_POSTFIX' && !remove) {
      // What Synapse appends to the endpoint's address in place of the request's path and query: a rewrite of both.
      const postfix = element.getAttribute('value')
      if (postfix !== null && postfix.startsWith('/') && !/[{}]/.test(postfix)) {
        const queryAt = postfix.indexOf('?')
        return { rewrite: queryAt < 0 ? { path: postfix, query: '' } : { path: postfix.slice(0, queryAt) || '/', query: postfix.slice(queryAt + 1) } }
      }
      this.#report(path, 'REST_URL_POSTFIX is converted to a rewrite only as a literal value starting with "/"; use a rewrite mediator with a template')
    } else if (scope === 'axis2' && name === 'HTTP_SC') {
      const status = Number(element.getAttribute('value'))
      if (Number.isInteger(status)) this.#status = status
      else this.#report(path, 'HTTP_SC is converted only as a literal status for a following <respond/>')
    } else if (scope === 'axis2' && (name === 'messageType' || name === 'ContentType')) {
      // WSO2's built-in json_to_xml_* and apply_accept_header sequences work this way: Synapse rewrites the payload.
      this.#report(path, `${name} (axis2) makes Synapse convert the payload between JSON and XML; Portico passes the body unchanged`)
    } else if (scope !== 'default') {
      this.#report(path, `the property scope "${scope}" has no equivalent; the value becomes an ordinary property`)
    }
    if (remove) return { property: { name, remove: true } }
    return { property: { name, ...this.#valueOf(element, path) } }
  }

  header(element: Element, path: string): MediatorConfig | undefined {
    const name = element.getAttribute('name')
    if (!name) return this.#report(path, 'a header needs a name')
    this.#unknownAttributes(element, path, ['name', 'value', 'expression', 'scope', 'action'])
    const remove = element.getAttribute('action') === 'remove'
    if (name === 'To') {
      if (remove) return this.#report(path, 'removing the To header has no equivalent')
      const source = this.#valueOf(element, path)
      return { setTarget: source.value !== undefined ? { value: String(source.value) } : source }
    }
    if (element.getAttribute('scope') !== 'transport') {
      return this.#report(path, `the SOAP header "${name}" is not supported; only scope="transport" (HTTP) headers and To are`)
    }
    return { header: remove ? { name, remove: true } : { name, ...this.#valueOf(element, path) } }
  }

  filter(element: Element, path: string): MediatorConfig | undefined {
    this.#unknownAttributes(element, path, ['source', 'regex', 'xpath', 'description'])
    const children = elementsOf(element)
    const thenElement = children.find((child) => child.localName === 'then')
    const elseElement = children.find((child) => child.localName === 'else')
    if (thenElement?.getAttribute('sequence') || elseElement?.getAttribute('sequence')) this.#report(path, 'then/else with a sequence="..." reference is not supported')
    const then = thenElement ? this.children(thenElement, `${path}/then`) : this.children(element, path)
    const otherwise = elseElement ? this.children(elseElement, `${path}/else`) : []
    const xpath = element.getAttribute('xpath')
    if (xpath) {
      const source = sourceFor(xpath, element)
      if (source.xpath !== undefined) return { filter: { xpath: source.xpath, namespaces: source.namespaces, then, else: otherwise } }
      // A JSONPath or property test: true when it finds anything, as Synapse tests a JSON path.
      return { filter: { source, regex: '[\\s\\S]+', then, else: otherwise } }
    }
    const sourceText = element.getAttribute('source')
    const regex = element.getAttribute('regex')
    if (sourceText === null || regex === null) return this.#report(path, 'a filter needs xpath, or source and regex')
    return { filter: { source: sourceFor(sourceText, element), regex, then, else: otherwise } }
  }

  switch(element: Element, path: string): MediatorConfig | undefined {
    this.#unknownAttributes(element, path, ['source', 'description'])
    const sourceText = element.getAttribute('source')
    if (!sourceText) return this.#report(path, 'a switch needs a source')
    const cases = []
    let fallback: MediatorConfig[] = []
    for (const child of elementsOf(element)) {
      if (child.localName === 'case') {
        cases.push({ regex: child.getAttribute('regex') ?? '', do: this.children(child, `${path}/case`) })
      } else if (child.localName === 'default') {
        fallback = this.children(child, `${path}/default`)
      } else this.#report(`${path}/${child.localName}`, 'a switch holds only case and default')
    }
    if (cases.length === 0) return this.#report(path, 'a switch needs at least one case')
    return { switch: { source: sourceFor(sourceText, element), cases, default: fallback } }
  }

  log(element: Element, path: string): MediatorConfig | undefined {
    this.#unknownAttributes(element, path, ['level', 'category', 'separator', 'description'])
    const level = element.getAttribute('level') ?? 'simple'
    if (level === 'full' || level === 'headers') this.#report(path, `log level="${level}" is logged as its properties only; Portico does not log message bodies or all headers`)
    const values: Record<string, ValueSourceConfig> = {}
    for (const child of elementsOf(element)) {
      const name = child.localName === 'property' ? child.getAttribute('name') : null
      if (!name) {
        this.#report(`${path}/${child.localName}`, 'a log holds only named properties')
        continue
      }
      values[name] = this.#valueOf(child, `${path}/property`)
    }
    return { log: { level: LOG_LEVELS[(element.getAttribute('category') ?? 'INFO').toUpperCase()] ?? 'info', values } }
  }

  respond(element: Element, path: string): MediatorConfig {
    this.#unknownAttributes(element, path, ['description'])
    this.#report(path, 'respond answers with an empty body; Synapse returns the current message, so put the body in respond.body')
    return { respond: { status: this.#status ?? 200, headers: {} } }
  }

  #valueOf(element: Element, path: string): ValueSourceConfig {
    const expression = element.getAttribute('expression')
    if (expression !== null) return sourceFor(expression, element)
    const value = element.getAttribute('value')
    if (value === null) {
      this.#report(path, 'needs a value or an expression')
      return { value: '' }
    }
    return { value }
  }

  #unknownAttributes(element: Element, path: string, known: string[]): void {
    for (let i = 0; i < element.attributes.length; i++) {
      const attribute = element.attributes.item(i)!
      if (attribute.name === 'xmlns' || attribute.name.startsWith('xmlns:') || known.includes(attribute.name)) continue
      this.#report(path, `the attribute ${attribute.name}="${attribute.value}" is not supported`)
    }
  }

  #report(path: string, message: string): undefined {
    this.unsupported.push({ path, message })
    return undefined
  }
}

const LOG_LEVELS: Record<string, LogLevel> = { TRACE: 'debug', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error', FATAL: 'error' }

function elementsOf(parent: Element): Element[] {
  const out: Element[] = []
  for (let node = parent.firstChild; node; node = node.nextSibling) if (node.nodeType === 1) out.push(node as Element)
  return out
}

/**
 * A Synapse expression as a value source: `json-eval(...)` becomes a JSONPath; the property and transport
 * lookups (`get-property(...)`, `$ctx:`, `$trp:`, `$url:`), string literals and `concat` of those become CEL;
 * anything else stays XPath, evaluated by the XPath library with the element's namespace declarations.
 */
function sourceFor(expression: string, element: Element): ValueSourceConfig {
  const trimmed = expression.trim()
  const json = /^json-eval\((.*)\)$/s.exec(trimmed)
  if (json) {
    const path = json[1]!.trim()
    return { jsonPath: path.startsWith('$') ? path : `$.${path}` }
  }
  const cel = toCel(trimmed)
  if (cel !== undefined) return { expression: cel }
  const namespaces = namespacesInScope(element)
  return Object.keys(namespaces).length > 0 ? { xpath: trimmed, namespaces } : { xpath: trimmed }
}

/** Prefix → URI for every `xmlns:prefix` declared on the element or its ancestors (nearest wins). */
function namespacesInScope(element: Element): Record<string, string> {
  const namespaces: Record<string, string> = {}
  for (let node: Element | null = element; node && node.nodeType === 1; node = node.parentNode as Element | null) {
    for (let i = 0; i < node.attributes.length; i++) {
      const attribute = node.attributes.item(i)!
      if (attribute.name.startsWith('xmlns:')) {
        const prefix = attribute.name.slice(6)
        if (attribute.value !== SYNAPSE_NS) namespaces[prefix] ??= attribute.value
      }
    }
  }
  return namespaces
}

/**
 * Default-scope properties that Synapse's REST dispatch (REST_*, SYNAPSE_REST_API_VERSION) and WSO2's gateway
 * handlers (api.ut.*) set on every request, as the parts of the request or consumer they hold. REST_SUB_REQUEST_PATH
 * is the path below the API; Synapse's also carries the query string.
 */
const SYNAPSE_BUILTINS: Record<string, string> = {
  REST_SUB_REQUEST_PATH: 'request.path',
  REST_METHOD: 'request.method',
  SYNAPSE_REST_API_VERSION: 'api.version',
  'api.ut.api': 'api.name',
  'api.ut.version': 'api.version',
  'api.ut.userId': '("subject" in consumer ? consumer.subject : "")',
  'api.ut.application.name': '("application" in consumer ? consumer.application : "")',
}

/** The axis2 properties that are parts of the request in Portico. */
const AXIS2_PROPERTIES: Record<string, string> = { HTTP_METHOD: 'request.method', REST_URL_POSTFIX: 'request.path' }

/**
 * Translates the small part of Synapse's XPath that reads properties and transport headers into CEL; returns
 * undefined for anything else, which then stays XPath. This is a translation of a handful of fixed call shapes
 * (a full XPath is left to the XPath library), which is why a few regular expressions suffice here.
 */
function toCel(expression: string): string | undefined {
  const literal = /^'([^']*)'$/.exec(expression) ?? /^"([^"]*)"$/.exec(expression)
  if (literal) return JSON.stringify(literal[1])
  const variable = /^\$(ctx|trp|url|axis2):([A-Za-z0-9_.-]+)$/.exec(expression)
  if (variable) return lookup(variable[1] === 'ctx' ? 'default' : variable[1] === 'trp' ? 'transport' : variable[1]!, variable[2]!)
  const getProperty = /^get-property\(\s*'([^']*)'\s*(?:,\s*'([^']*)'\s*)?\)$/.exec(expression)
  if (getProperty) return getProperty[2] === undefined ? lookup('default', getProperty[1]!) : lookup(getProperty[1]!, getProperty[2])
  const concat = /^(?:fn:)?concat\((.*)\)$/s.exec(expression)
  if (concat) {
    const args = splitArguments(concat[1]!)
    if (!args) return undefined
    const parts = args.map((arg) => toCel(arg.trim()))
    if (parts.some((part) => part === undefined)) return undefined
    return parts.map((part) => (part!.startsWith('"') ? part : `string(${part})`)).join(' + ')
  }
  return undefined
}

function lookup(scope: string, name: string): string | undefined {
  const key = JSON.stringify(name)
  switch (scope) {
    case 'default':
      // Properties Synapse and WSO2's gateway set on every request read the request itself.
      if (SYNAPSE_BUILTINS[name] !== undefined) return SYNAPSE_BUILTINS[name]
      // Synapse yields an empty string for an unset property; so does this.
      return `(${key} in properties ? properties[${key}] : "")`
    case 'transport':
      return `(${JSON.stringify(name.toLowerCase())} in request.headers ? request.headers[${JSON.stringify(name.toLowerCase())}] : "")`
    case 'url':
      return `(${key} in request.query ? request.query[${key}] : "")`
    case 'axis2':
      return AXIS2_PROPERTIES[name]
    default:
      return undefined
  }
}

/** Splits `a, 'b,c', f(x, y)` at top-level commas; undefined when quotes or parentheses do not balance. */
function splitArguments(text: string): string[] | undefined {
  const args: string[] = []
  let depth = 0
  let quote: string | undefined
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (quote) {
      if (char === quote) quote = undefined
    } else if (char === "'" || char === '"') quote = char
    else if (char === '(') depth++
    else if (char === ')') depth--
    else if (char === ',' && depth === 0) {
      args.push(text.slice(start, i))
      start = i + 1
    }
  }
  if (quote || depth !== 0) return undefined
  args.push(text.slice(start))
  return args
}
