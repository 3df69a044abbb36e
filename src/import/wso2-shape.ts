import { z } from 'zod'
import type { ImportReport } from './wso2-report.ts'

/**
 * The shapes of what WSO2 writes, for the fields the importer reads: the Publisher's API DTO (4.x `api.yaml`
 * `data`, a Publisher payload), the 3.x internal API model, `endpointConfig`, and apictl params files. A project is
 * checked against them before anything is converted, so that the converter never meets a shape it does not
 * expect: each value that does not fit is reported with its file and place, and left out.
 *
 * Objects are loose (fields the importer does not read pass, and are reported by name where they matter); `null`
 * is accepted wherever WSO2 writes it for "unset".
 */

const Text = z.string()
/** WSO2 stores numbers and flags as strings as often as not. */
const Scalar = z.union([z.string(), z.number(), z.boolean()])
const unset = <T extends z.ZodType>(schema: T) => schema.nullish()

/** One endpoint's advanced settings (the Publisher's "Advanced Endpoint Configuration"). */
const EndpointSettings = z.looseObject({
  actionDuration: unset(Scalar),
  actionSelect: unset(Text),
  suspendErrorCode: unset(z.union([z.array(Scalar), Scalar])),
  suspendDuration: unset(Scalar),
  suspendMaxDuration: unset(Scalar),
  factor: unset(Scalar),
  retryErroCode: unset(z.union([z.array(Scalar), Scalar])),
  retryErrorCode: unset(z.union([z.array(Scalar), Scalar])),
  retryTimeOut: unset(Scalar),
  retryDelay: unset(Scalar),
})

const EndpointEntry = z.looseObject({
  url: unset(Text),
  endpoint_type: unset(Text),
  config: unset(EndpointSettings),
})

const Security = z.looseObject({
  enabled: unset(Scalar),
  type: unset(Text),
  username: unset(Text),
  password: unset(Scalar),
  grantType: unset(Text),
  tokenUrl: unset(Text),
  clientId: unset(Text),
  clientSecret: unset(Scalar),
  customParameters: unset(z.union([z.record(z.string(), z.unknown()), Text])),
})

export const EndpointConfigShape = z.looseObject({
  endpoint_type: unset(Text),
  production_endpoints: unset(z.union([EndpointEntry, z.array(EndpointEntry)])),
  sandbox_endpoints: unset(z.union([EndpointEntry, z.array(EndpointEntry)])),
  production_failovers: unset(z.array(EndpointEntry)),
  sandbox_failovers: unset(z.array(EndpointEntry)),
  endpoint_security: unset(z.looseObject({ production: unset(Security), sandbox: unset(Security) })),
  algoCombo: unset(Text),
  algoClassName: unset(Text),
  sessionManagement: unset(Text),
  sessionTimeOut: unset(Scalar),
  failOver: unset(Scalar),
  implementation_status: unset(Text),
  access_method: unset(Text),
  amznRegion: unset(Text),
  amznAccessKey: unset(Text),
  amznSecretKey: unset(Text),
  assume_role: unset(Scalar),
  amznRoleArn: unset(Text),
  amznRoleSessionName: unset(Text),
  amznRoleRegion: unset(Text),
  wsdlendpointService: unset(Text),
  wsdlendpointPort: unset(Text),
  wsdlendpointServiceSandbox: unset(Text),
  wsdlendpointPortSandbox: unset(Text),
})

const Policy = z.looseObject({ policyName: unset(Scalar), name: unset(Scalar) })
const Flows = z.looseObject({ request: unset(z.array(Policy)), response: unset(z.array(Policy)), fault: unset(z.array(Policy)) })

const Operation = z.looseObject({
  target: unset(Text),
  verb: unset(Text),
  authType: unset(Text),
  throttlingPolicy: unset(Text),
  scopes: unset(z.array(Text)),
  operationPolicies: unset(Flows),
  amznResourceName: unset(Text),
  amznResourceTimeout: unset(Scalar),
  amznResourceContentEncode: unset(Scalar),
})

/** The Publisher's API DTO: `data` of a 4.x `api.yaml`/`api.json`, or a Publisher REST API payload. */
export const ApiShape = z.looseObject({
  name: z.string({ error: 'the API has no name (a string)' }).min(1, 'the API name is empty'),
  version: z.union([z.string().min(1), z.number()], { error: 'the API has no version (a string)' }),
  context: unset(Text),
  contextTemplate: unset(Text),
  lifeCycleStatus: unset(Text),
  isDefaultVersion: unset(Scalar),
  type: unset(Text),
  operations: unset(z.array(Operation)),
  endpointConfig: unset(z.union([Text, EndpointConfigShape])),
  endpointSecurity: unset(Security),
  endpointImplementationType: unset(Text),
  mediationPolicies: unset(z.array(z.looseObject({ name: unset(Scalar), type: unset(Text) }))),
  policies: unset(z.array(Text)),
  apiThrottlingPolicy: unset(Text),
  securityScheme: unset(z.array(Text)),
  corsConfiguration: unset(z.looseObject({ corsConfigurationEnabled: unset(Scalar) })),
  scopes: unset(z.array(z.looseObject({ name: unset(Text), scope: unset(z.looseObject({ name: unset(Text) })) }))),
  responseCachingEnabled: unset(Scalar),
  enableSchemaValidation: unset(Scalar),
  transport: unset(z.array(Text)),
  apiPolicies: unset(Flows),
  advertiseInfo: unset(z.looseObject({ advertised: unset(Scalar) })),
  monetization: unset(z.looseObject({ enabled: unset(Scalar) })),
  maxTps: unset(z.looseObject({ production: unset(Scalar), sandbox: unset(Scalar) })),
})

/**
 * 3.x's internal API model (`Meta-information/api.json`): a uriTemplate holds every verb of its path, with the
 * auth type, tier and scope of each at the same index (`scopes: [null, ...]` is how 3.x writes "no scope").
 */
export const LegacyApiShape = z.looseObject({
  id: z.looseObject({
    apiName: z.string({ error: 'the API has no id.apiName (a string)' }).min(1, 'the API name is empty'),
    version: z.union([z.string().min(1), z.number()], { error: 'the API has no id.version (a string)' }),
  }),
  context: unset(Text),
  contextTemplate: unset(Text),
  status: unset(Text),
  type: unset(Text),
  implementation: unset(Text),
  endpointConfig: unset(z.union([Text, EndpointConfigShape])),
  endpointSecured: unset(Scalar),
  endpointAuthDigest: unset(Scalar),
  endpointUTUsername: unset(Text),
  apiSecurity: unset(Text),
  transports: unset(Text),
  responseCache: unset(Text),
  availableTiers: unset(z.array(z.looseObject({ name: unset(Text) }))),
  uriTemplates: unset(
    z.array(
      z.looseObject({
        uriTemplate: unset(Text),
        HTTPVerb: unset(Text),
        httpVerb: unset(Text),
        verb: unset(Text),
        httpVerbs: unset(z.array(Text)),
        authType: unset(Text),
        authTypes: unset(z.array(z.union([Text, z.null()]))),
        throttlingTier: unset(Text),
        throttlingTiers: unset(z.array(z.union([Text, z.null()]))),
        scopes: unset(z.array(z.union([z.looseObject({ key: unset(Text), name: unset(Text) }), Text, z.null()]))),
        scope: unset(z.union([z.looseObject({ key: unset(Text), name: unset(Text) }), Text])),
      }),
    ),
  ),
  inSequence: unset(Text),
  outSequence: unset(Text),
  faultSequence: unset(Text),
  corsConfiguration: unset(z.looseObject({ corsConfigurationEnabled: unset(Scalar) })),
  scopes: unset(z.array(z.looseObject({ name: unset(Text), key: unset(Text) }))),
  apiLevelPolicy: unset(Text),
})

/** Most passes over one document: each pass drops at least one value, so a document cannot loop. */
const MAX_PASSES = 200

/**
 * `value` checked against `schema`. Each value that does not fit is reported at `where` plus its path and
 * removed (a list entry is taken out of its list), until the rest fits. A missing required value (an API with no
 * name) cannot be removed: that is an error, thrown with its place.
 */
export function fitShape<T extends z.ZodType>(schema: T, value: unknown, where: string, report: ImportReport): z.output<T> {
  let current: unknown = structuredClone(value)
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const result = schema.safeParse(current)
    if (result.success) return result.data
    const removals: Array<Array<PropertyKey>> = []
    for (const issue of result.error.issues) {
      const path = issue.path
      const found = valueAt(current, path)
      if (path.length === 0 || found === undefined) throw new Error(`${placeOf(where, path)}: ${issue.message}`)
      report.leave(placeOf(where, path), `${describe(found)} does not fit here (${issue.message.replace(/^Invalid input: /, '')}); not converted`)
      removals.push(path)
    }
    // Deepest and last entries first, so that removing one list entry does not shift another's index.
    removals.sort((a, b) => b.length - a.length || compareLast(b, a))
    for (const path of removals) current = removeAt(current, path)
  }
  throw new Error(`${where}: the document's shape could not be checked`)
}

function compareLast(a: Array<PropertyKey>, b: Array<PropertyKey>): number {
  const x = a[a.length - 1]
  const y = b[b.length - 1]
  return typeof x === 'number' && typeof y === 'number' ? x - y : 0
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node = root
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<PropertyKey, unknown>)[key]
  }
  return node
}

function removeAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  const parent = valueAt(root, path.slice(0, -1))
  const key = path[path.length - 1]!
  if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1)
  else if (parent !== null && typeof parent === 'object') delete (parent as Record<PropertyKey, unknown>)[key]
  return root
}

function placeOf(where: string, path: ReadonlyArray<PropertyKey>): string {
  let place = where
  for (const key of path) place = typeof key === 'number' ? `${place}[${key}]` : fieldOf(place, String(key))
  return place
}

/** `api.yaml: data` + `context` → `api.yaml: data.context`; `api.json:` (a file's top level) + `context` → `api.json: context`. */
export function fieldOf(where: string, field: string): string {
  return where.endsWith(':') ? `${where} ${field}` : `${where}.${field}`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`
  return String(value)
}

export type ApiData = z.output<typeof ApiShape>
export type LegacyApiData = z.output<typeof LegacyApiShape>
export type EndpointConfigData = z.output<typeof EndpointConfigShape>
