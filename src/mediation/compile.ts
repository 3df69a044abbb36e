import type { MediationContext } from './context.ts'
import { compileExpression } from './expression.ts'
import { compileJsonPath, compileXPath, XmlTooLarge, type PayloadJob } from './payload.ts'
import type {
  FilterMediatorConfig,
  HeaderMediatorConfig,
  LogMediatorConfig,
  MediatorConfig,
  PropertyMediatorConfig,
  RespondMediatorConfig,
  RewriteMediatorConfig,
  SetTargetMediatorConfig,
  SwitchMediatorConfig,
  ValueSourceConfig,
} from './schema.ts'
import { textOf, ValueTemplate } from './template.ts'

/** One compiled mediator: returns false when the sequence must stop (a `respond` answered). */
type Step = (context: MediationContext) => boolean

type Read = (context: MediationContext) => unknown

/**
 * A sequence compiled once at config load, whether it needs the message's body in memory, and the payload
 * queries that can be answered before it runs (off the event loop, for a large body).
 */
export interface CompiledSequence {
  readonly run: Step
  readonly readsPayload: boolean
  readonly payloadJobs: readonly PayloadJob[]
}

export function compileSequence(mediators: readonly MediatorConfig[]): CompiledSequence {
  const compiler = new Compiler()
  const run = compiler.sequence(mediators)
  return { run, readsPayload: compiler.readsPayload, payloadJobs: compiler.payloadJobs }
}

class Compiler {
  readsPayload = false
  readonly payloadJobs: PayloadJob[] = []

  sequence(mediators: readonly MediatorConfig[]): Step {
    const steps = mediators.map((mediator) => this.mediator(mediator))
    if (steps.length === 1) return steps[0]!
    return (context) => {
      for (const step of steps) if (!step(context)) return false
      return true
    }
  }

  mediator(mediator: MediatorConfig): Step {
    if (mediator.property) return this.property(mediator.property)
    if (mediator.header) return this.header(mediator.header)
    if (mediator.filter) return this.filter(mediator.filter)
    if (mediator.switch) return this.switch(mediator.switch)
    if (mediator.setTarget !== undefined) return this.setTarget(mediator.setTarget)
    if (mediator.rewrite) return this.rewrite(mediator.rewrite)
    if (mediator.respond) return this.respond(mediator.respond)
    if (mediator.log) return this.log(mediator.log)
    throw new Error('a mediator with no known key passed the config check')
  }

  source(source: ValueSourceConfig): Read {
    if (source.expression !== undefined) {
      const expression = compileExpression(source.expression)
      return (context) => expression(context.scope())
    }
    if (source.jsonPath !== undefined) {
      this.readsPayload = true
      const query = compileJsonPath(source.jsonPath)
      this.payloadJobs.push(query.job)
      return guarded(`jsonPath ${source.jsonPath}`, undefined, (context) => (context.payload ? query.read(context.payload) : undefined))
    }
    if (source.xpath !== undefined) {
      this.readsPayload = true
      const query = compileXPath(source.xpath, source.namespaces, 'string')
      if (query.job) this.payloadJobs.push(query.job)
      return guarded(`xpath ${source.xpath}`, undefined, (context) => (context.payload ? query.read(context.payload, context.property) : undefined))
    }
    const value = source.value
    return () => value
  }

  property(config: PropertyMediatorConfig): Step {
    const name = config.name
    if (config.remove) {
      return (context) => {
        context.exchange.properties.delete(name)
        return true
      }
    }
    const read = this.source(config)
    return (context) => {
      const value = read(context)
      // Synapse leaves a property unset when its expression finds nothing; so do we, so filters can test for it.
      if (value === undefined) context.exchange.properties.delete(name)
      else context.exchange.properties.set(name, value)
      return true
    }
  }

  header(config: HeaderMediatorConfig): Step {
    const lower = config.name.toLowerCase()
    const read = config.remove ? undefined : this.source(config)
    return (context) => {
      const value = read?.(context)
      const response = context.response
      if (response) {
        // The OUT flow edits the response; the IN flow the request.
        if (value === undefined) delete response.headers[lower]
        else response.headers[lower] = textOf(value)
      } else {
        const headers = context.exchange.headers.filter((_item, index, list) => list[index - (index % 2)]!.toLowerCase() !== lower)
        if (value !== undefined) headers.push(config.name, textOf(value))
        context.exchange.headers = headers
      }
      context.changed()
      return true
    }
  }

  filter(config: FilterMediatorConfig): Step {
    const then = this.sequence(config.then)
    const otherwise = this.sequence(config.else)
    const holds = this.condition(config)
    return (context) => (holds(context) ? then(context) : otherwise(context))
  }

  condition(config: FilterMediatorConfig): (context: MediationContext) => boolean {
    if (config.if !== undefined) {
      const expression = compileExpression(config.if)
      return (context) => expression(context.scope()) === true
    }
    if (config.xpath !== undefined) {
      this.readsPayload = true
      const query = compileXPath(config.xpath, config.namespaces, 'boolean')
      if (query.job) this.payloadJobs.push(query.job)
      return guarded(`xpath ${config.xpath}`, false, (context) => (context.payload ? query.test(context.payload, context.property) : false))
    }
    const read = this.source(config.source!)
    const pattern = fullMatch(config.regex!)
    return (context) => {
      const value = read(context)
      return value !== undefined && pattern.test(textOf(value))
    }
  }

  switch(config: SwitchMediatorConfig): Step {
    const read = this.source(config.source)
    const cases = config.cases.map((item) => ({ pattern: fullMatch(item.regex), run: this.sequence(item.do) }))
    const fallback = this.sequence(config.default)
    return (context) => {
      const value = read(context)
      if (value !== undefined) {
        const text = textOf(value)
        for (const item of cases) if (item.pattern.test(text)) return item.run(context)
      }
      return fallback(context)
    }
  }

  setTarget(config: SetTargetMediatorConfig): Step {
    if (typeof config === 'string') {
      const template = new ValueTemplate(config)
      return (context) => {
        context.exchange.target = template.expand(context.exchange.properties, context.exchange.uriVariables)
        return true
      }
    }
    const read = this.source(config)
    return (context) => {
      const value = read(context)
      context.exchange.target = value === undefined || value === '' ? undefined : textOf(value)
      return true
    }
  }

  rewrite(config: RewriteMediatorConfig): Step {
    const path = config.path === undefined ? undefined : new ValueTemplate(config.path)
    const query = config.query === undefined ? undefined : new ValueTemplate(config.query)
    return (context) => {
      const exchange = context.exchange
      if (path) exchange.path = path.expand(exchange.properties, exchange.uriVariables)
      if (query) exchange.query = query.expand(exchange.properties, exchange.uriVariables)
      context.changed()
      return true
    }
  }

  respond(config: RespondMediatorConfig): Step {
    const body = config.body === undefined ? undefined : new ValueTemplate(config.body, false)
    const headers = Object.entries(config.headers).flat()
    const hasContentType = Object.keys(config.headers).some((name) => name.toLowerCase() === 'content-type')
    return (context) => {
      const exchange = context.exchange
      const text = body ? body.expand(exchange.properties, exchange.uriVariables, false) : ''
      context.reply = {
        status: config.status,
        headers: body && !hasContentType ? [...headers, 'content-type', 'text/plain; charset=utf-8'] : [...headers],
        body: Buffer.from(text, 'utf8'),
      }
      return false
    }
  }

  log(config: LogMediatorConfig): Step {
    const values = Object.entries(config.values).map(([name, source]) => ({ name, read: this.source(source) }))
    const level = config.level
    const message = config.message ?? 'log mediator'
    return (context) => {
      if (!context.logger.isLevelEnabled(level)) return true
      const fields: Record<string, unknown> = {}
      for (const value of values) fields[value.name] = value.read(context)
      const exchange = context.exchange
      context.logger[level]({ requestId: exchange.requestId, api: `${exchange.route.apiName}:${exchange.route.apiVersion}`, mediation: fields }, message)
      return true
    }
  }
}

/**
 * A payload query that throws at run time (a JSONPath filter reading a property of a missing value, an XPath
 * function given the wrong arguments) yields `fallback`, as a query that finds nothing does: the body is the
 * client's, so its shape is no gateway failure. The first failure of each query is logged as a warning, without
 * a stack, so a broken query is seen without one log line per request. A body too large to parse is no such
 * case: the mediation refuses it.
 */
function guarded<T>(query: string, fallback: T, read: (context: MediationContext) => T): (context: MediationContext) => T {
  let warned = false
  return (context) => {
    try {
      return read(context)
    } catch (error) {
      if (error instanceof XmlTooLarge) throw error
      if (!warned) {
        warned = true
        const exchange = context.exchange
        context.logger.warn(
          { requestId: exchange.requestId, api: `${exchange.route.apiName}:${exchange.route.apiVersion}`, query, problem: (error as Error).message },
          'a payload query failed on this message; its value is absent (logged once per query)',
        )
      }
      return fallback
    }
  }
}

/** Synapse's regex attributes must match the whole value (Java's `Matcher.matches`), not a part of it. */
function fullMatch(regex: string): RegExp {
  return new RegExp(`^(?:${regex})$`, 's')
}
