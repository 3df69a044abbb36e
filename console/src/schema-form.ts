import { html } from 'htm/preact'
import type { FieldError } from './api.ts'

/**
 * A form drawn from a JSON Schema: the publisher API's own OpenAPI document, which is generated from the config
 * file's schema. A field added to the model appears here with no console change. Objects nest (optional ones
 * folded), `oneOf` alternatives told apart by a `type` constant become a chooser (the endpoint types), arrays get
 * add, remove and reorder buttons. Secrets are write-only: shown empty, left out unless typed.
 */

export type Schema = Record<string, any>

/** Field names whose values the API never returns (src/store/write-only-secrets.ts). */
const SECRETS = new Set(['password', 'clientSecret', 'secretAccessKey', 'sessionToken', 'key'])

export interface FormContext {
  /** Resolves `#/$defs/NAME` and `#/components/schemas/NAME`. */
  definitions: Record<string, Schema>
  errors: FieldError[]
  readOnly: boolean
}

export function resolve(schema: Schema | undefined, context: FormContext): Schema {
  let current = schema ?? {}
  for (let depth = 0; current.$ref && depth < 10; depth++) current = context.definitions[String(current.$ref).split('/').pop()!] ?? {}
  return current
}

/** Names whose words are not what splitting the camel case gives. */
const LABELS: Record<string, string> = { uriTemplate: 'URI template', url: 'URL', jwksUrl: 'JWKS URL', wsdl: 'WSDL', tls: 'TLS', cors: 'CORS', soap: 'SOAP', http2: 'HTTP/2', arn: 'ARN' }

/** The HTTP methods offered as check boxes for a resource's `methods`. */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']

export function humanize(name: string): string {
  if (LABELS[name]) return LABELS[name]
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}

const idOf = (path: string) => `f-${path.replace(/[^A-Za-z0-9_-]/g, '_')}`

function fieldErrors(path: string, context: FormContext) {
  const mine = context.errors.filter((error) => error.path === path)
  return mine.length ? html`<p class="field-error" role="alert" id=${`${idOf(path)}-error`}>${mine.map((error) => error.message).join('; ')}</p>` : null
}

/** The constant `type` of each alternative, when every alternative has one: a discriminated union. */
function discriminated(alternatives: Schema[], context: FormContext): string[] | undefined {
  const names = alternatives.map((alternative) => resolve(alternative, context).properties?.type?.const)
  return names.every((name) => typeof name === 'string') ? names : undefined
}

/** A schema whose values fit one text box: strings, numbers, or a choice of those (durations: `30s` or 30000). */
function scalar(schema: Schema, context: FormContext): boolean {
  const resolved = resolve(schema, context)
  if (resolved.anyOf) return resolved.anyOf.every((alternative: Schema) => scalar(alternative, context))
  const types: string[] = Array.isArray(resolved.type) ? resolved.type : [resolved.type]
  return types.every((type) => ['string', 'integer', 'number', 'boolean'].includes(type)) && types.some((type) => type !== 'boolean') && !resolved.enum
}

function numeric(schema: Schema, context: FormContext): boolean {
  const resolved = resolve(schema, context)
  if (resolved.anyOf) return resolved.anyOf.some((alternative: Schema) => numeric(alternative, context))
  const types: string[] = Array.isArray(resolved.type) ? resolved.type : [resolved.type]
  return types.includes('integer') || types.includes('number')
}

/** What the text in a box means: a number where the schema takes one and the text is one. */
function fromText(text: string, schema: Schema, context: FormContext): unknown {
  if (text === '') return undefined
  if (numeric(schema, context) && /^-?\d+(\.\d+)?$/.test(text)) return Number(text)
  return text
}

export interface FieldProps {
  name: string
  label?: string
  schema: Schema
  value: any
  path: string
  required?: boolean
  onChange: (value: any) => void
  context: FormContext
}

export function Field(props: FieldProps): any {
  const { name, schema: raw, value, path, onChange, context, required } = props
  const schema = resolve(raw, context)
  const label = props.label ?? humanize(name)
  const id = idOf(path)
  const hasError = context.errors.some((error) => error.path === path)
  const described = hasError ? `${id}-error` : schema.description ? `${id}-hint` : undefined
  const hint = schema.description ? html`<p class="hint" id=${`${id}-hint`}>${schema.description}</p>` : null
  const alternatives: Schema[] | undefined = schema.oneOf ?? (schema.anyOf && !scalar(schema, context) ? schema.anyOf : undefined)

  if (alternatives) {
    const types = discriminated(alternatives, context)
    if (types) {
      const chosen = types.indexOf(value?.type)
      return html`<fieldset class="choice">
        <legend>${label}</legend>
        <label for=${id}>Type</label>
        <select id=${id} disabled=${context.readOnly} value=${chosen >= 0 ? types[chosen] : ''}
          onChange=${(event: any) => onChange(event.target.value ? { type: event.target.value } : undefined)}>
          <option value="">${required ? 'Choose a type' : 'None'}</option>
          ${types.map((type) => html`<option value=${type}>${TYPE_NAMES[type] ?? type}</option>`)}
        </select>
        ${fieldErrors(path, context)}
        ${chosen >= 0 ? html`<${ObjectFields} schema=${resolve(alternatives[chosen], context)} value=${value} path=${path} onChange=${onChange} context=${context} skip=${['type']} />` : null}
      </fieldset>`
    }
    return html`<div class="field">
      <label for=${id}>${label} (JSON)</label>
      <${JsonBox} id=${id} value=${value} onChange=${onChange} readOnly=${context.readOnly} described=${described} />
      ${hint}${fieldErrors(path, context)}
    </div>`
  }
  if (schema.const !== undefined) return null
  if (schema.type === 'object' && schema.properties) {
    const body = html`<${ObjectFields} schema=${schema} value=${value} path=${path} onChange=${onChange} context=${context} />`
    const open = required || value !== undefined || hasDescendantError(path, context)
    return html`<details class="group" open=${open}>
      <summary>${label}${value === undefined ? html` <span class="muted">(not set)</span>` : null}</summary>
      ${fieldErrors(path, context)}${body}
    </details>`
  }
  if (schema.type === 'array') return html`<${ArrayField} ...${props} schema=${schema} label=${label} />`
  if (schema.type === 'boolean') {
    return html`<div class="field check">
      <input type="checkbox" id=${id} disabled=${context.readOnly} checked=${value ?? schema.default ?? false} aria-describedby=${described}
        onChange=${(event: any) => onChange(event.target.checked)} />
      <label for=${id}>${label}</label>${hint}${fieldErrors(path, context)}
    </div>`
  }
  if (schema.enum) {
    return html`<div class="field">
      <label for=${id}>${label}${required ? ' *' : ''}</label>
      <select id=${id} disabled=${context.readOnly} value=${value ?? ''} aria-describedby=${described} aria-invalid=${hasError}
        onChange=${(event: any) => onChange(event.target.value === '' ? undefined : event.target.value)}>
        <option value="">${schema.default !== undefined ? `Default (${schema.default})` : '—'}</option>
        ${schema.enum.map((option: string) => html`<option value=${option}>${option}</option>`)}
      </select>${hint}${fieldErrors(path, context)}
    </div>`
  }
  if (scalar(schema, context)) {
    const secret = SECRETS.has(name)
    return html`<div class="field">
      <label for=${id}>${label}${required ? ' *' : ''}</label>
      <input id=${id} type=${secret ? 'password' : 'text'} readOnly=${context.readOnly} autocomplete=${secret ? 'new-password' : 'off'}
        value=${value === undefined ? '' : String(value)} aria-describedby=${described} aria-invalid=${hasError}
        placeholder=${secret ? 'write-only: leave empty to keep the stored value' : schema.default !== undefined ? `default: ${JSON.stringify(schema.default)}` : ''}
        onInput=${(event: any) => onChange(fromText(event.target.value, schema, context))} />
      ${hint}${fieldErrors(path, context)}
    </div>`
  }
  return html`<div class="field">
    <label for=${id}>${label} (JSON)</label>
    <${JsonBox} id=${id} value=${value} onChange=${onChange} readOnly=${context.readOnly} described=${described} />
    ${hint}${fieldErrors(path, context)}
  </div>`
}

function hasDescendantError(path: string, context: FormContext): boolean {
  return context.errors.some((error) => error.path.startsWith(`${path}.`) || error.path.startsWith(`${path}[`))
}

export function ObjectFields(props: { schema: Schema; value: any; path: string; onChange: (value: any) => void; context: FormContext; skip?: string[] }): any {
  const { schema, value, path, onChange, context, skip = [] } = props
  const required: string[] = schema.required ?? []
  const names = Object.keys(schema.properties ?? {}).filter((name) => !skip.includes(name))
  // Required plain fields first, then the optional ones, then the folded groups.
  const simple = (name: string) => {
    const resolved = resolve(schema.properties[name], context)
    return !(resolved.type === 'object' && resolved.properties) && !resolved.oneOf
  }
  const ordered = [...names.filter((name) => simple(name) && required.includes(name)), ...names.filter((name) => simple(name) && !required.includes(name)), ...names.filter((name) => !simple(name))]
  const set = (name: string, next: unknown) => {
    const copy = { ...(value ?? {}) }
    if (next === undefined) delete copy[name]
    else copy[name] = next
    onChange(Object.keys(copy).length ? copy : undefined)
  }
  return html`<div class="fields">
    ${ordered.map((name) => html`<${Field} key=${name} name=${name} schema=${schema.properties[name]} value=${value?.[name]}
      path=${path ? `${path}.${name}` : name} required=${required.includes(name)} onChange=${(next: unknown) => set(name, next)} context=${context} />`)}
  </div>`
}

function ArrayField(props: FieldProps): any {
  const { schema, value, path, onChange, context, label } = props
  const items = resolve(schema.items, context)
  const list: any[] = Array.isArray(value) ? value : []
  const id = idOf(path)
  const choices: string[] | undefined = items.enum ?? (props.name === 'methods' ? [...METHODS, ...list.filter((method) => !METHODS.includes(method))] : undefined)
  if (choices) {
    return html`<fieldset class="field">
      <legend>${label}</legend>
      ${choices.map((option: string) => html`<span class="check inline">
        <input type="checkbox" id=${`${id}-${option}`} disabled=${context.readOnly} checked=${list.includes(option)}
          onChange=${(event: any) => {
            const next = event.target.checked ? [...list, option] : list.filter((item) => item !== option)
            onChange(next.length ? next : undefined)
          }} />
        <label for=${`${id}-${option}`}>${option}</label></span>`)}
      ${fieldErrors(path, context)}
    </fieldset>`
  }
  const replace = (index: number, next: unknown) => onChange(list.map((item, at) => (at === index ? next : item)))
  const remove = (index: number) => {
    const next = list.filter((_, at) => at !== index)
    onChange(next.length ? next : undefined)
  }
  const move = (index: number, by: number) => {
    const next = [...list]
    const [item] = next.splice(index, 1)
    next.splice(index + by, 0, item)
    onChange(next)
  }
  const singular = singularOf(label ?? 'items')
  return html`<fieldset class="array">
    <legend>${label}</legend>
    ${fieldErrors(path, context)}
    <ol>
      ${list.map((item, index) => html`<li key=${index}>
        <${Field} name=${`${singular} ${index + 1}`} label=${`${singular} ${index + 1}`} schema=${items} value=${item} path=${`${path}[${index}]`} required=${true}
          onChange=${(next: unknown) => replace(index, next)} context=${context} />
        ${context.readOnly ? null : html`<div class="row-actions">
          <button type="button" class="small" disabled=${index === 0} onClick=${() => move(index, -1)} aria-label=${`Move ${singular} ${index + 1} up`}>↑</button>
          <button type="button" class="small" disabled=${index === list.length - 1} onClick=${() => move(index, 1)} aria-label=${`Move ${singular} ${index + 1} down`}>↓</button>
          <button type="button" class="small danger" onClick=${() => remove(index)} aria-label=${`Remove ${singular} ${index + 1}`}>Remove</button>
        </div>`}
      </li>`)}
    </ol>
    ${context.readOnly ? null : html`<button type="button" class="small" onClick=${() => onChange([...list, initial(items, context)])}>Add ${singular.toLowerCase()}</button>`}
  </fieldset>`
}

function singularOf(plural: string): string {
  if (/(ss|us)es$/.test(plural)) return plural.slice(0, -2)
  if (/ies$/.test(plural)) return `${plural.slice(0, -3)}y`
  return plural.replace(/s$/, '')
}

/** A new array item: an empty object, or the first alternative of a union, or an empty string. */
function initial(schema: Schema, context: FormContext): unknown {
  const resolved = resolve(schema, context)
  if (resolved.oneOf) return undefined
  if (resolved.type === 'object') return {}
  return scalar(resolved, context) ? '' : undefined
}

function JsonBox(props: { id: string; value: unknown; onChange: (value: unknown) => void; readOnly: boolean; described?: string }): any {
  const text = props.value === undefined ? '' : JSON.stringify(props.value, null, 2)
  return html`<textarea id=${props.id} rows="3" readOnly=${props.readOnly} aria-describedby=${props.described}
    onChange=${(event: any) => {
      const given = event.target.value.trim()
      if (given === '') return props.onChange(undefined)
      try {
        props.onChange(JSON.parse(given))
      } catch {
        props.onChange(given)
      }
    }}>${text}</textarea>`
}

/** The endpoint types in WSO2's words. */
const TYPE_NAMES: Record<string, string> = {
  http: 'HTTP/REST endpoint',
  soap: 'HTTP/SOAP endpoint',
  wsdl: 'WSDL endpoint',
  failover: 'Failover group',
  loadbalance: 'Load balance group',
  dynamic: 'Dynamic endpoint',
  prototype: 'Prototype endpoint',
  lambda: 'AWS Lambda',
}
