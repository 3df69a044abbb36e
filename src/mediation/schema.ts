import { z } from 'zod'
import { createRequire } from 'node:module'
import type * as Expression from './expression.ts'
import type * as Payload from './payload.ts'
import { templateProblem } from './template.ts'

/**
 * Where a mediator reads a value from: a literal, a CEL expression over the request (or response) and the
 * properties, a JSONPath over a JSON body or an XPath over an XML body. Exactly one of them.
 */
export interface ValueSourceConfig {
  value?: string | number | boolean | undefined
  expression?: string | undefined
  jsonPath?: string | undefined
  xpath?: string | undefined
  /** Prefix → namespace URI for `xpath`. */
  namespaces?: Record<string, string> | undefined
}

export interface PropertyMediatorConfig extends ValueSourceConfig {
  name: string
  remove?: boolean | undefined
}
export interface HeaderMediatorConfig extends ValueSourceConfig {
  name: string
  remove?: boolean | undefined
}
export interface FilterMediatorConfig {
  if?: string | undefined
  source?: ValueSourceConfig | undefined
  regex?: string | undefined
  xpath?: string | undefined
  namespaces?: Record<string, string> | undefined
  then: MediatorConfig[]
  else: MediatorConfig[]
}
export interface SwitchCaseConfig {
  regex: string
  do: MediatorConfig[]
}
export interface SwitchMediatorConfig {
  source: ValueSourceConfig
  cases: SwitchCaseConfig[]
  default: MediatorConfig[]
}
export type SetTargetMediatorConfig = string | ValueSourceConfig
export interface RewriteMediatorConfig {
  path?: string | undefined
  query?: string | undefined
}
export interface RespondMediatorConfig {
  status: number
  headers: Record<string, string>
  body?: string | undefined
}
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export interface LogMediatorConfig {
  level: LogLevel
  message?: string | undefined
  values: Record<string, ValueSourceConfig>
}

/** One mediator: an object with exactly one of these keys, as in `- property: { ... }`. */
export interface MediatorConfig {
  property?: PropertyMediatorConfig | undefined
  header?: HeaderMediatorConfig | undefined
  filter?: FilterMediatorConfig | undefined
  switch?: SwitchMediatorConfig | undefined
  setTarget?: SetTargetMediatorConfig | undefined
  rewrite?: RewriteMediatorConfig | undefined
  respond?: RespondMediatorConfig | undefined
  log?: LogMediatorConfig | undefined
}

const MEDIATOR_NAMES = ['property', 'header', 'filter', 'switch', 'setTarget', 'rewrite', 'respond', 'log'] as const

/** Adds an issue when `problem` (a compile check) reports one: the field path comes from zod. */
function checked(check: (source: string) => string | undefined) {
  return z.string().min(1).superRefine((source, ctx) => {
    const problem = check(source)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })
}

/**
 * The checks compile with CEL, JSONPath and XPath, libraries a config without sequences never needs: they are
 * required at the first expression checked (synchronously, as a zod refinement runs), not when the schema loads.
 */
const load = createRequire(import.meta.url)
const expression = () => load('./expression.ts') as typeof Expression
const payload = () => load('./payload.ts') as typeof Payload
const CelExpression = checked((source) => expression().celProblem(source))
const JsonPathExpression = checked((source) => payload().jsonPathProblem(source))
const XPathExpression = checked((source) => payload().xpathProblem(source))
const Namespaces = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be an XML namespace prefix'), z.string().min(1))
const Template = checked(templateProblem)
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name')
/** Full-match regular expressions, as Synapse's `regex` attributes are (Java's `Matcher.matches`). */
const Regex = z.string().superRefine((source, ctx) => {
  try {
    new RegExp(source)
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `is not a valid regular expression: ${(error as Error).message}` })
  }
})

const sourceFields = {
  value: z.union([z.string(), z.number(), z.boolean()]).optional(),
  expression: CelExpression.optional(),
  jsonPath: JsonPathExpression.optional(),
  xpath: XPathExpression.optional(),
  namespaces: Namespaces.optional(),
}
const SOURCE_KINDS = ['value', 'expression', 'jsonPath', 'xpath'] as const

function sourceKinds(source: ValueSourceConfig): string[] {
  return SOURCE_KINDS.filter((kind) => source[kind] !== undefined)
}

function requireOneSource(source: ValueSourceConfig & { remove?: boolean | undefined }, ctx: z.RefinementCtx, removable: boolean): void {
  const kinds = sourceKinds(source)
  if (removable && source.remove) {
    if (kinds.length > 0) ctx.addIssue({ code: 'custom', message: `"remove: true" takes no ${kinds.map((kind) => `"${kind}"`).join(', ')}` })
    return
  }
  if (kinds.length !== 1) {
    const choices = SOURCE_KINDS.map((kind) => `"${kind}"`).join(', ')
    ctx.addIssue({ code: 'custom', message: kinds.length === 0 ? `needs one of ${choices}${removable ? ' (or "remove: true")' : ''}` : `takes only one of ${choices}, got ${kinds.join(' and ')}` })
  }
  if (source.namespaces && source.xpath === undefined) ctx.addIssue({ code: 'custom', path: ['namespaces'], message: 'applies to "xpath" only' })
}

const ValueSource = z.strictObject(sourceFields).superRefine((source, ctx) => requireOneSource(source, ctx, false))

const Property = z
  .strictObject({ name: z.string().min(1), ...sourceFields, remove: z.boolean().optional() })
  .superRefine((property, ctx) => requireOneSource(property, ctx, true))

const Header = z
  .strictObject({ name: HeaderName, ...sourceFields, remove: z.boolean().optional() })
  .superRefine((header, ctx) => requireOneSource(header, ctx, true))

const Filter = z
  .strictObject({
    /** A CEL condition. */
    if: CelExpression.optional(),
    /** Synapse's form: the condition holds when `source` fully matches `regex`. */
    source: ValueSource.optional(),
    regex: Regex.optional(),
    /** Synapse's other form: an XPath evaluated as a boolean over the XML body. */
    xpath: XPathExpression.optional(),
    namespaces: Namespaces.optional(),
    get then() {
      return Sequence.default([])
    },
    get else() {
      return Sequence.default([])
    },
  })
  .superRefine((filter, ctx) => {
    const forms = [filter.if !== undefined, filter.source !== undefined || filter.regex !== undefined, filter.xpath !== undefined].filter(Boolean).length
    if (forms !== 1) ctx.addIssue({ code: 'custom', message: 'needs exactly one condition: "if" (CEL), "source" with "regex", or "xpath"' })
    else if ((filter.source === undefined) !== (filter.regex === undefined)) {
      ctx.addIssue({ code: 'custom', path: [filter.source ? 'regex' : 'source'], message: '"source" and "regex" go together' })
    }
    if (filter.namespaces && filter.xpath === undefined) ctx.addIssue({ code: 'custom', path: ['namespaces'], message: 'applies to "xpath" only' })
  })

const SwitchCase = z.strictObject({
  regex: Regex,
  get do() {
    return Sequence
  },
})

const Switch = z.strictObject({
  source: ValueSource,
  /** Tried in order; the first whose regex fully matches the source's value runs. */
  cases: z.array(SwitchCase).min(1),
  get default() {
    return Sequence.default([])
  },
})

const SetTarget = z.union([Template, ValueSource], { error: 'must be a URI template string or a value source ({ expression: ... }, ...)' })

const Rewrite = z
  .strictObject({ path: Template.optional(), query: Template.optional() })
  .refine((rewrite) => rewrite.path !== undefined || rewrite.query !== undefined, 'needs "path", "query" or both')
  .refine((rewrite) => rewrite.path === undefined || rewrite.path.startsWith('/'), { message: 'must start with "/"', path: ['path'] })

const Respond = z.strictObject({
  status: z.number().int().min(200).max(599).default(200),
  headers: z.record(HeaderName, z.string()).default({}),
  /** Text in which `{name}` is a property or URI variable, like setTarget's; other braces are text (JSON). */
  body: z.string().optional(),
})

const Log = z.strictObject({
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  message: z.string().optional(),
  values: z.record(z.string().min(1), ValueSource).default({}),
})

const Mediator = z
  .strictObject({
    property: Property.optional(),
    header: Header.optional(),
    get filter() {
      return Filter.optional()
    },
    get switch() {
      return Switch.optional()
    },
    setTarget: SetTarget.optional(),
    rewrite: Rewrite.optional(),
    respond: Respond.optional(),
    log: Log.optional(),
  })
  .superRefine((mediator, ctx) => {
    const keys = MEDIATOR_NAMES.filter((name) => mediator[name] !== undefined)
    if (keys.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: keys.length === 0 ? `must be one mediator: ${MEDIATOR_NAMES.join(', ')}` : `holds ${keys.join(' and ')}; write one mediator per list item`,
      })
    }
  })

/** An ordered list of mediators: an IN or OUT sequence, or a branch of a filter or switch. */
export const Sequence: z.ZodType<MediatorConfig[], unknown> = z.array(Mediator) as z.ZodType<MediatorConfig[], unknown>

/** Fields an API and a resource both have. */
export const sequenceFields = {
  /** Runs before the request goes to the endpoint. */
  inSequence: Sequence.optional(),
  /** Runs on the backend's response before it goes to the client. */
  outSequence: Sequence.optional(),
}

/** The sequences of an API or a resource. */
export type SequencesConfig = z.output<z.ZodObject<typeof sequenceFields>>

export const MediationLimits = {
  /** Largest request (or response) body a sequence that reads the payload buffers; beyond it the answer is 413. */
  mediationBodyBytes: z.number().int().min(1024).max(1 << 30).default(10 * 1024 * 1024),
  /**
   * Largest XML body an XPath source reads. One over 16 KiB is parsed and queried in a worker thread, off the
   * event loop, but its DOM still costs memory (some 100 bytes per byte of the densest markup) and the worker's
   * time, which other XPath mediations wait for.
   */
  mediationXmlBytes: z.number().int().min(1024).max(1 << 30).default(1024 * 1024),
}
