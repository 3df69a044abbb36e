import { writeFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { parse as parseYaml, stringify } from 'yaml'
import { parseConfig } from '../config/load.ts'
import { LIFECYCLE_STATES, servesPrototypes, type LifecycleState } from '../config/lifecycle.ts'
import { ENVIRONMENTS, HTTP_METHODS } from '../config/schema.ts'
import { WSO2_TIERS } from '../throttling/schema.ts'
import { importSynapseSequence } from './synapse.ts'
import { asObject, environmentEndpoint, hasValue, isEnabledSecurity, lambdaEndpoint, suspensionOf, unknownEndpointKeys, type EndpointContext, type EndpointOut } from './wso2-endpoints.ts'
import { fromLegacyModel, isLegacyModel } from './wso2-legacy.ts'
import { applyParams, type Wso2Params } from './wso2-params.ts'
import { readWso2Project, type Wso2Project } from './wso2-project.ts'
import { ImportReport } from './wso2-report.ts'
import { ApiShape, EndpointConfigShape, fieldOf, fitShape, LegacyApiShape } from './wso2-shape.ts'

type Json = Record<string, unknown>

export interface Wso2ImportOptions {
  /** Where a definition taken out of a zip is written, for a prototype endpoint to read; the current directory by default. */
  definitionDirectory?: string
  /** One environment of an apictl params file, applied before converting (docs/wso2-import.md). */
  params?: Wso2Params
}

export interface Wso2Import {
  /** The config, already checked by the validation `portico validate` runs. */
  yaml: string
  report: ImportReport
  /** Files written besides the config (a definition taken out of a zip). */
  written: string[]
}

const API_FILES = ['api.yaml', 'api.yml', 'api.json', 'Meta-information/api.yaml', 'Meta-information/api.json']
const PRODUCT_FILES = ['api_product.yaml', 'api_product.yml', 'api_product.json']
const DEFINITION_FILES = ['Definitions/swagger.yaml', 'Definitions/swagger.json', 'Meta-information/swagger.yaml', 'Meta-information/swagger.json']

/**
 * Fields of the API that only WSO2's portals, key managers or registry use: they have no meaning for a gateway
 * that routes to backends, so they are not reported (docs/wso2-import.md lists them).
 */
const PORTAL_FIELDS = new Set([
  'id', 'uuid', 'displayName', 'description', 'provider', 'hasThumbnail', 'isRevision', 'revisionId', 'revisionedApiId',
  'audience', 'audiences', 'tags', 'visibility', 'visibleRoles', 'visibleTenants', 'visibleOrganizations',
  'subscriptionAvailability', 'subscriptionAvailableTenants', 'additionalProperties', 'additionalPropertiesMap',
  'accessControl', 'accessControlRoles', 'businessInformation', 'createdTime', 'lastUpdatedTime', 'lastUpdatedTimestamp',
  'categories', 'keyManagers', 'gatewayVendor', 'gatewayType', 'organizationId', 'workflowStatus', 'wsdlUrl', 'wsdlInfo',
  'initiatedFromGateway', 'egress', 'primaryProductionEndpointId', 'primarySandboxEndpointId', 'enableStore',
  'asyncTransportProtocols', 'websubSubscriptionConfiguration', 'enableSubscriberVerification', 'cacheTimeout',
  'serviceInfo', 'createdBy', 'testKey', 'thumbnailUri', 'isSubscriptionAvailable', 'status',
])

/** Fields the conversion reads itself (or reports inside its own checks). */
const CONVERTED_FIELDS = new Set([
  'name', 'context', 'contextTemplate', 'version', 'lifeCycleStatus', 'isDefaultVersion', 'type', 'operations',
  'endpointConfig', 'endpointSecurity', 'endpointImplementationType', 'mediationPolicies', 'policies',
  'apiThrottlingPolicy', 'securityScheme', 'authorizationHeader', 'apiKeyHeader', 'corsConfiguration', 'scopes',
  'responseCachingEnabled', 'enableSchemaValidation', 'transport', 'apiPolicies', 'advertiseInfo', 'monetization',
  'maxTps', 'subtypeConfiguration',
])

/**
 * Converts the WSO2 API project (directory or zip) at `path` into a Portico config holding one API; an API
 * Product project becomes one API whose resources go to the endpoints of the APIs they come from.
 */
export async function importWso2Project(path: string, options: Wso2ImportOptions = {}): Promise<Wso2Import> {
  const project = await readWso2Project(path)
  const report = new ImportReport()
  const written: string[] = []
  const apiFile = API_FILES.find((name) => project.files.has(name))
  const productFile = PRODUCT_FILES.find((name) => project.files.has(name))
  let api: Json
  if (apiFile) api = await convertApi(project, apiFile, options, report, written)
  else if (productFile) api = await convertProduct(project, productFile, options, report, written)
  else throw new Error(`${path} has no api.yaml or api.json: ${whatItIsInstead([...project.files.keys()])}`)
  const yaml = render(project, api, report)
  // Refuse to write what the gateway would refuse to load. The variables are not set yet: stand-ins take their
  // place, in the text itself so that a problem's line is the line of the written file.
  parseConfig(yaml.replace(/\$\{env:([A-Za-z0-9_]+)\}/g, (_all, variable: string) => (variable.endsWith('ACCESS_KEY_ID') ? 'AKIAIOSFODNN7EXAMPLE' : 'stand-in')), 'imported.yaml')
  return { yaml, report, written }
}

/** One API project's API file as a Portico API, every part that does not convert in `report`. */
async function convertApi(project: Wso2Project, apiFile: string, options: Wso2ImportOptions, report: ImportReport, written: string[]): Promise<Json> {
  const document = readDocument(project, apiFile)
  if (document.data !== undefined && document.type !== 'api') {
    throw new Error(`${apiFile} holds a "${String(document.type)}", not an API (type: api); APIs and API Products (api_product.yaml) are imported, other artifacts are not`)
  }
  const raw = document.data !== undefined ? asObject(document.data) : document
  const where = document.data !== undefined ? `${apiFile}: data` : `${apiFile}:`
  // Every value the conversion reads is checked first: what does not fit is reported and left out, never met.
  const data: Json = isLegacyModel(raw)
    ? fitShape(ApiShape, fromLegacyModel(fitShape(LegacyApiShape, raw, where, report)), where, report)
    : fitShape(ApiShape, raw, where, report)
  const at = (field: string) => fieldOf(where, field)
  if (options.params) applyParams(data, options.params, report)

  const name = String(data.name)
  const version = String(data.version)
  const api: Json = { name, context: contextOf(data, version, at('context'), report), version }
  api.lifecycle = lifecycleOf(data, at('lifeCycleStatus'), report)
  if (data.isDefaultVersion === true || data.isDefaultVersion === 'true') api.defaultVersion = true

  const endpointWhere = at('endpointConfig')
  const endpointConfig = typeof data.endpointConfig === 'string' ? parseEndpointConfig(data.endpointConfig, endpointWhere, report) : asObject(data.endpointConfig)
  const context: EndpointContext = { report, where: endpointWhere, secretPrefix: secretPrefix(name), security: securityByEnvironment(data, endpointConfig), securityUsed: new Set() }
  const listed = Array.isArray(data.operations) ? data.operations.map((operation, index): [Json, string] => [asObject(operation), `${at('operations')}[${index}]`]) : []
  // 3.x exports often keep the resources in the definition only.
  const located = listed.length > 0 ? listed : operationsOfDefinition(project, report)
  const operations = located.map(([operation]) => operation)
  const isLambda = endpointConfig.endpoint_type === 'awslambda'
  api.resources = String(data.type ?? '').toUpperCase() === 'GRAPHQL'
    ? graphqlResources(located, report)
    : resourcesOf(located, isLambda ? endpointConfig : undefined, context)
  if ((api.resources as unknown[]).length === 0) delete api.resources
  const apiTier = wso2Tier(data.apiThrottlingPolicy)
  if (apiTier) api.throttling = { policies: [apiTier] }

  const sequences = sequencesOf(project, data, report)
  if (sequences.in) api.inSequence = sequences.in
  if (sequences.out) api.outSequence = sequences.out

  const implementation = String(data.endpointImplementationType ?? 'ENDPOINT').toUpperCase()
  // Once WSO2 publishes a prototyped API, the gateway calls its endpoint as any other: the marker alone makes no prototype.
  const prototyped = endpointConfig.implementation_status === 'prototyped' && servesPrototypes(api.lifecycle as LifecycleState)
  if (implementation === 'INLINE' || implementation === 'MOCKED_OAS' || (prototyped && !hasEndpointUrl(endpointConfig))) {
    const endpoint = await prototypeEndpoint(project, report, options, written, name, version)
    if (endpoint) api.endpoints = { production: endpoint, sandbox: endpoint }
  } else if (endpointConfig.endpoint_type === 'default') {
    const dynamic = dynamicEndpoint([...(sequences.in ?? []), ...(sequences.out ?? [])], report)
    const endpoints: Json = {}
    for (const environment of ENVIRONMENTS) {
      // WSO2's default endpoint carries the production (or sandbox) entry's timeout and suspension settings.
      const entry = asObject(endpointConfig[`${environment}_endpoints`])
      const place = `${endpointWhere}.${environment}_endpoints.config`
      const response = Number(asObject(entry.config).actionDuration)
      endpoints[environment] = { ...dynamic, ...(response > 0 ? { timeouts: { response } } : {}), ...suspensionOf(asObject(entry.config), place, report) }
    }
    api.endpoints = endpoints
    if (!sequences.in) report.leave(endpointWhere, 'a default (dynamic) endpoint without an IN sequence that sets the address has no address to go to')
  } else if (!isLambda && hasValue(endpointConfig)) {
    const endpoints: Json = {}
    for (const environment of ENVIRONMENTS) {
      const endpoint = environmentEndpoint(endpointConfig, environment, context)
      // WSO2's Prototype endpoint is "a type of HTTP endpoint": the same leaf, served only while the API is a prototype.
      if (endpoint) endpoints[environment] = prototyped ? asPrototype(endpoint, `${endpointWhere}.${environment}_endpoints`, report) : endpoint
    }
    if (Object.keys(endpoints).length > 0) api.endpoints = endpoints
  }
  if (hasValue(endpointConfig)) unknownEndpointKeys(endpointConfig, context)
  backendThroughput(api, asObject(data.maxTps), at('maxTps'), report)
  if (!hasEndpoints(api)) unservedApi(api, endpointConfig, endpointWhere, at('lifeCycleStatus'), report)
  for (const environment of ENVIRONMENTS) {
    const security = context.security[environment]
    if (security && isEnabledSecurity(security) && !context.securityUsed.has(environment)) {
      const place = hasValue(endpointConfig.endpoint_security) ? `${endpointWhere}.endpoint_security.${environment}` : at('endpointSecurity')
      report.leave(place, 'backend credentials with no endpoint to go on are not converted (dynamic, prototype and awslambda endpoints take none)')
    }
  }

  apiLevelChecks(data, operations, at, report)
  projectFileChecks(project, report)
  return api
}

/** The API file as YAML (JSON is YAML); a file that is neither is an error naming it, not a parser's stack. */
function readDocument(project: Wso2Project, file: string): Json {
  let parsed: unknown
  try {
    parsed = parseYaml(project.files.get(file)!.toString('utf8'))
  } catch (error) {
    // The YAML parser recurses per level: a file nested thousands deep runs it out of stack.
    if (/Maximum call stack size exceeded/.test((error as Error).message)) throw new Error(`${file} nests too deeply to be read`)
    throw new Error(`${file} is not YAML or JSON: ${(error as Error).message.split('\n')[0]}`)
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file} does not hold an API (an object with name, version and context)`)
  const version = (parsed as Json).openapi ?? (parsed as Json).swagger
  if (typeof version === 'string' && (parsed as Json).data === undefined) {
    throw new Error(`${file} is an OpenAPI ${version} document, not an API project's API file; \`portico import openapi\` reads it`)
  }
  return parsed as Json
}

/**
 * An API Product project (`apictl export api-product`): `api_product.yaml` lists, per API, the operations the
 * product offers, and `APIs/` holds each of those API projects. The product becomes one API at its own context
 * whose resources go to the endpoints of the API each comes from, as WSO2's gateway sends a product's request to
 * that API's backend. What each API's conversion reports is reported under its folder.
 */
async function convertProduct(project: Wso2Project, productFile: string, options: Wso2ImportOptions, report: ImportReport, written: string[]): Promise<Json> {
  if (options.params) throw new Error(`${productFile}: --params applies to an API project; an API Product takes the endpoints of its APIs`)
  const document = readDocument(project, productFile)
  if (document.type !== 'api_product') throw new Error(`${productFile} holds a "${String(document.type)}", not an API Product (type: api_product)`)
  const data = asObject(document.data)
  const where = `${productFile}: data`
  const at = (field: string) => fieldOf(where, field)
  if (typeof data.name !== 'string' || !data.name.trim()) throw new Error(`${at('name')}: the API Product has no name`)
  const name = data.name.trim()
  const versioned = typeof data.version === 'string' && data.version.trim() !== ''
  const version = versioned ? String(data.version).trim() : '1.0.0'
  const product: Json = { name, context: contextOf(data, version, at('context'), report), version }
  // Products without versions (before 4.x gave them one) are called at the bare context; later ones at
  // context/1.0.0. A product without a version is served at both.
  if (!versioned || data.isDefaultVersion === true) product.defaultVersion = true
  product.lifecycle = lifecycleOf({ lifeCycleStatus: data.state }, at('state'), report)

  const apis = apiProjectsIn(project)
  const resources = new Map<string, Json & { from: string }>()
  const operations: Json[] = []
  const entries = Array.isArray(data.apis) ? data.apis.map(asObject) : []
  for (const [index, entry] of entries.entries()) {
    const place = `${at('apis')}[${index}]`
    const label = `API ${String(entry.name)} ${String(entry.version)}`
    const found = apis.get(`${String(entry.name)}\u0000${String(entry.version)}`)
    if (!found) {
      report.leave(place, `${label} is not in the project's APIs/ folder: its operations are not converted`)
      continue
    }
    const own = new ImportReport()
    const api = await convertApi(found.project, found.apiFile, { ...options, params: undefined }, own, written)
    mergeReport(own, report, `APIs/${found.folder}/`, PRODUCT_DECIDES)
    if (api.inSequence || api.outSequence) report.leave(place, `the mediation sequences of ${label} are not applied to the product's resources`)
    for (const [number, operation] of (Array.isArray(entry.operations) ? entry.operations.map(asObject) : []).entries()) {
      const operationAt = `${place}.operations[${number}]`
      const target = typeof operation.target === 'string' ? operation.target.trim() : ''
      const verb = String(operation.verb ?? '').toUpperCase()
      if (!target.startsWith('/') || !(HTTP_METHODS as readonly string[]).includes(verb)) {
        report.leave(operationAt, `"${verb} ${target}" is not an HTTP method and a path Portico routes`)
        continue
      }
      // A Lambda API keeps its endpoints on its resources; every other kind, on the API.
      const own = Array.isArray(api.resources) ? api.resources.map(asObject).find((resource) => resource.uriTemplate === target && hasValue(resource.endpoints)) : undefined
      const endpoints = own?.endpoints ?? api.endpoints
      if (!hasValue(endpoints)) {
        report.leave(operationAt, `${label} has no endpoint for ${verb} ${target}: not converted`)
        continue
      }
      operationChecks(operation, operationAt, report)
      operations.push(operation)
      const resource = resources.get(target) ?? { uriTemplate: target, methods: [] as string[], endpoints, from: found.folder }
      if (resource.from !== found.folder) {
        report.leave(operationAt, `${target} comes from APIs/${resource.from} already; two APIs on one path of a product are not converted`)
        continue
      }
      const methods = resource.methods as string[]
      if (!methods.includes(verb)) methods.push(verb)
      resources.set(target, resource)
    }
  }
  const converted = [...resources.values()].map(({ from: _from, ...resource }) => resource)
  product.resources = wildcardsLast(converted)
  if (converted.length === 0) {
    delete product.resources
    report.leave(at('apis'), 'no operation of the product could be converted: it has no resource and no endpoint')
    if (product.lifecycle === 'PUBLISHED' || product.lifecycle === 'DEPRECATED') {
      report.leave(at('state'), `the product is ${String(product.lifecycle)} in WSO2 but has nothing to serve here: it is imported as CREATED`)
      product.lifecycle = 'CREATED'
    }
  }
  // The product's own fields have the API's meaning; `apis` and `state` were read above.
  apiLevelChecks({ ...data, apis: undefined, state: undefined }, operations, at, report)
  projectFileChecks({ ...project, files: new Map([...project.files].filter(([file]) => !file.startsWith('APIs/'))) }, report)
  return product
}

/** The API projects under a product's `APIs/` folder, by name and version, as projects of their own. */
function apiProjectsIn(project: Wso2Project): Map<string, { folder: string; apiFile: string; project: Wso2Project }> {
  const found = new Map<string, { folder: string; apiFile: string; project: Wso2Project }>()
  const folders = new Set([...project.files.keys()].filter((file) => file.startsWith('APIs/')).map((file) => file.split('/')[1]!))
  for (const folder of folders) {
    const prefix = `APIs/${folder}/`
    const files = new Map([...project.files].filter(([file]) => file.startsWith(prefix)).map(([file, data]) => [file.slice(prefix.length), data]))
    const inner: Wso2Project = { source: `${project.source}/${prefix}`, directory: project.directory === undefined ? undefined : join(project.directory, 'APIs', folder), files }
    const apiFile = API_FILES.find((file) => files.has(file))
    if (!apiFile) continue
    const data = asObject(readDocument(inner, apiFile).data)
    found.set(`${String(data.name)}\u0000${String(data.version)}`, { folder, apiFile, project: inner })
  }
  return found
}

/**
 * Fields of an API that its product's own fields replace (its state, its client security, its resources and
 * their tiers and scopes): what the API's conversion says of them does not concern the product.
 */
const PRODUCT_DECIDES = /: (?:data\.)?(?:lifeCycleStatus|securityScheme|scopes|operations|policies|apiThrottlingPolicy|corsConfiguration|transport|isDefaultVersion)\b/

/** What an API's own conversion reported, under the folder it came from, but for the places `skip` matches. */
function mergeReport(from: ImportReport, into: ImportReport, prefix: string, skip: RegExp): void {
  for (const part of from.leftOut) if (!skip.test(part.location)) into.leave(`${prefix}${part.location}`, part.message)
  for (const part of from.differences) into.differ(`${prefix}${part.location}`, part.message)
  for (const note of from.notes) into.note(note)
  for (const [variable, holds] of from.variables) into.variables.set(variable, holds)
}

/** For a folder or zip without an API file: what the files look like, so the user knows what to do instead. */
function whatItIsInstead(names: string[]): string {
  if (names.some((name) => /(^|\/)api_product\.(yaml|yml|json)$/.test(name))) {
    return 'it is an API Product project (api_product.yaml); import each API under its APIs/ folder on its own'
  }
  const zips = names.filter((name) => name.endsWith('.zip'))
  if (zips.length > 0) return `it holds ${zips.length} zip file(s) (${zips.slice(0, 3).join(', ')}${zips.length > 3 ? ', ...' : ''}); import each project on its own`
  if (names.some((name) => /(^|\/)api-[^/]*\.json$/.test(name))) return 'it is an API Manager 2.x export (api-<id>.json); export the API again with apictl 3.x or later'
  return 'not an API project exported by apictl'
}

/**
 * The lifecycle state. WSO2 creates APIs as CREATED: an export or payload without a state is not published
 * (and live) just by being imported. A state Portico does not have (PRE-RELEASED, a custom lifecycle's) is CREATED too.
 */
function lifecycleOf(data: Json, at: string, report: ImportReport): string {
  if (data.lifeCycleStatus === undefined || data.lifeCycleStatus === null || data.lifeCycleStatus === '') {
    report.note(`${at} is not set: the API is imported as CREATED, as WSO2 creates APIs; set lifecycle: PUBLISHED to serve it`)
    return 'CREATED'
  }
  const state = String(data.lifeCycleStatus).toUpperCase()
  if ((LIFECYCLE_STATES as readonly string[]).includes(state)) return state
  report.leave(at, `the lifecycle state "${state}" is not one of ${LIFECYCLE_STATES.join(', ')}; the API is imported as CREATED`)
  return 'CREATED'
}

/** Whether some environment of `endpointConfig` names a URL: a prototyped API with one is WSO2's Prototype endpoint. */
function hasEndpointUrl(config: Json): boolean {
  return ENVIRONMENTS.some((environment) => {
    const entries = config[`${environment}_endpoints`]
    return (Array.isArray(entries) ? entries : [entries]).some((entry) => typeof asObject(entry).url === 'string' && String(asObject(entry).url).trim() !== '')
  })
}

/** An http leaf (or every http leaf of a group) as a prototype endpoint with the same fields. */
function asPrototype(endpoint: EndpointOut, at: string, report: ImportReport): EndpointOut {
  if (Array.isArray(endpoint.endpoints)) return { ...endpoint, endpoints: endpoint.endpoints.map((child: EndpointOut) => asPrototype(child, at, report)) }
  if (endpoint.type === 'http') return { ...endpoint, type: 'prototype' }
  report.leave(at, `a prototyped API's ${String(endpoint.type)} endpoint is written as a real one: Portico's prototype backend is an http endpoint; the API is served once it is published`)
  return endpoint
}

function hasEndpoints(api: Json): boolean {
  if (hasValue(api.endpoints)) return true
  return Array.isArray(api.resources) && api.resources.some((resource) => hasValue(asObject(resource).endpoints))
}

/**
 * An API that ends up with no endpoint at all. Its endpoint type (e.g. WSO2's `sequence_backend`, whose backend
 * is a mediation sequence) or its missing endpoints are reported; a live API becomes CREATED, since `validate`
 * refuses a PUBLISHED API with nothing to answer it.
 */
function unservedApi(api: Json, endpointConfig: Json, at: string, lifecycleAt: string, report: ImportReport): void {
  const type = endpointConfig.endpoint_type
  if (!hasValue(endpointConfig)) report.leave(at, 'the API has no endpointConfig: no endpoint is written')
  else if (!report.leftOut.some((part) => part.location.startsWith(at))) {
    report.leave(at, `no endpoint could be converted from the ${typeof type === 'string' ? `"${type}" ` : ''}endpoint configuration`)
  }
  if (api.lifecycle === 'PUBLISHED' || api.lifecycle === 'DEPRECATED') {
    report.leave(lifecycleAt, `the API is ${String(api.lifecycle)} in WSO2 but has no endpoint here: it is imported as CREATED (a published API without endpoints would answer every request with 404)`)
    api.lifecycle = 'CREATED'
  }
}

/** 3.x stores `endpointConfig` as JSON text. */
function parseEndpointConfig(text: string, at: string, report: ImportReport): Json {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    report.leave(at, `is not JSON (${(error as Error).message}); no endpoint is converted`)
    return {}
  }
  return fitShape(EndpointConfigShape, parsed, at, report)
}

/**
 * The context without the `/{version}` (or `/1.0.0`) that WSO2 appends; `{version}` elsewhere stays where it is.
 * WSO2 prepends a missing leading `/` (a Publisher payload may leave it out) and drops a trailing one: so does this.
 */
function contextOf(data: Json, version: string, at: string, report: ImportReport): string {
  const given = String(data.contextTemplate ?? data.context ?? `/${String(data.name).toLowerCase()}`).trim()
  let context = given
  if (!context.startsWith('/')) context = `/${context}`
  if (context.length > 1 && context.endsWith('/')) context = context.replace(/\/+$/, '')
  if (context !== given) report.note(`${at} "${given}" is served as "${context}", as WSO2 does`)
  if (context.endsWith('/{version}')) context = context.slice(0, -'/{version}'.length)
  else if (!context.includes('{version}') && context.endsWith(`/${version}`)) context = context.slice(0, -(version.length + 1))
  return context || '/'
}

function secretPrefix(name: string): string {
  const prefix = name.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '')
  return /^[A-Z_]/.test(prefix) ? prefix : `API_${prefix}`
}

/** 4.x keeps backend security in `endpointConfig.endpoint_security`; 3.x had one `endpointSecurity` for both environments. */
function securityByEnvironment(data: Json, endpointConfig: Json): EndpointContext['security'] {
  const perEnvironment = asObject(endpointConfig.endpoint_security)
  if (hasValue(perEnvironment)) return { production: asObject(perEnvironment.production), sandbox: asObject(perEnvironment.sandbox) }
  const legacy = asObject(data.endpointSecurity)
  return hasValue(legacy) ? { production: legacy, sandbox: legacy } : {}
}

/** One resource per target with its verbs merged; for Lambda, one per target and function. */
function resourcesOf(operations: Array<[Json, string]>, lambda: Json | undefined, context: EndpointContext): Json[] {
  const { report } = context
  const byKey = new Map<string, Json>()
  for (const [operation, at] of operations) {
    let target = typeof operation.target === 'string' ? operation.target.trim() : ''
    const verb = String(operation.verb ?? '').toUpperCase()
    if (!target.startsWith('/')) {
      report.leave(`${at}.target`, `"${target}" is not a path`)
      continue
    }
    if (!(HTTP_METHODS as readonly string[]).includes(verb)) {
      report.leave(`${at}.verb`, `the verb "${verb}" is not an HTTP method Portico routes`)
      continue
    }
    if (target.includes('?')) {
      report.leave(`${at}.target`, `the query part of "${target}" is not converted: the resource matches the path only`)
      target = target.slice(0, target.indexOf('?')) || '/'
    }
    operationChecks(operation, at, report)
    const tier = wso2Tier(operation.throttlingPolicy)
    let endpoint: EndpointOut | undefined
    if (lambda) {
      endpoint = lambdaEndpoint(lambda, operation, at, context)
      if (!endpoint) continue
    }
    const key = endpoint ? `${target} ${String(endpoint.function)}` : target
    const resource = byKey.get(key) ?? { uriTemplate: target, methods: [] as string[] }
    const methods = resource.methods as string[]
    if (!methods.includes(verb)) methods.push(verb)
    if (endpoint) resource.endpoints = { production: endpoint, sandbox: endpoint }
    if (tier) {
      // Portico limits a resource, not each of its methods: the first method's tier stands.
      const kept = (resource.throttling as { policies: string[] } | undefined)?.policies[0]
      if (kept === undefined) resource.throttling = { policies: [tier] }
      else if (kept !== tier) report.leave(`${at}.throttlingPolicy`, `the tier "${tier}" is not applied: resource ${target} has "${kept}" from another method`)
    }
    byKey.set(key, resource)
  }
  return wildcardsLast([...byKey.values()])
}

/** Portico takes the first resource that matches: a trailing `/*` must not hide the specific ones after it. */
function wildcardsLast(resources: Json[]): Json[] {
  return resources.sort((a, b) => Number(String(a.uriTemplate).endsWith('*')) - Number(String(b.uriTemplate).endsWith('*')))
}

/**
 * A GraphQL API's operations are query, mutation and subscription fields, not paths: WSO2's gateway takes every
 * query as a GET or POST at the API's context and sends it to the one backend URL. So does the resource made here.
 */
function graphqlResources(operations: Array<[Json, string]>, report: ImportReport): Json[] {
  const tiered: string[] = []
  for (const [operation, at] of operations) {
    operationChecks(operation, at, report)
    if (wso2Tier(operation.throttlingPolicy)) tiered.push(String(operation.target))
  }
  if (tiered.length > 0) report.leave(`${operations[0]![1].replace(/\[0\]$/, '')}[].throttlingPolicy`, `the tiers of GraphQL operations (${tiered.join(', ')}) are not applied: every query goes through one resource`)
  return [{ uriTemplate: '/*', methods: ['GET', 'POST'] }]
}

/** A definition file as an object; one that does not parse is reported and read as empty. */
function readDefinition(project: Wso2Project, file: string, report: ImportReport): Json {
  try {
    return asObject(parseYaml(project.files.get(file)!.toString('utf8')))
  } catch (error) {
    report.leave(file, `is not YAML or JSON (${(error as Error).message.split('\n')[0]}); its operations are not read`)
    return {}
  }
}

/** The operations of the definition, each with where it was found. */
function operationsOfDefinition(project: Wso2Project, report: ImportReport): Array<[Json, string]> {
  const file = DEFINITION_FILES.find((candidate) => project.files.has(candidate))
  if (!file) return []
  const definition = readDefinition(project, file, report)
  const operations: Array<[Json, string]> = []
  for (const [target, item] of Object.entries(asObject(definition.paths))) {
    for (const [method, value] of Object.entries(asObject(item))) {
      if (!(HTTP_METHODS as readonly string[]).includes(method.toUpperCase())) continue
      const operation = asObject(value)
      operations.push([{
        target,
        verb: method.toUpperCase(),
        authType: operation['x-auth-type'],
        throttlingPolicy: operation['x-throttling-tier'],
      }, `${file}: paths.${target}.${method}`])
    }
  }
  return operations
}

function operationChecks(operation: Json, at: string, report: ImportReport): void {
  const tier = operation.throttlingPolicy
  if (hasValue(tier) && tier !== 'Unlimited' && !wso2Tier(tier)) report.leave(`${at}.throttlingPolicy`, `the throttling tier "${String(tier)}" is not converted: only WSO2's default policies are known by name`)
  if (hasValue(operation.scopes)) report.leave(`${at}.scopes`, `scopes ${(operation.scopes as unknown[]).map(String).join(', ')} are not enforced`)
  const policies = asObject(operation.operationPolicies)
  for (const flow of ['request', 'response', 'fault']) {
    const list = Array.isArray(policies[flow]) ? (policies[flow] as unknown[]).map(asObject) : []
    list.forEach((policy, index) => report.leave(`${at}.operationPolicies.${flow}[${index}]`, `the policy "${String(policy.policyName ?? policy.name ?? '?')}" is not converted`))
  }
}

/** The API's fields that change how the gateway treats requests but have no equivalent, and fields not known at all. */
function apiLevelChecks(data: Json, operations: Json[], at: (field: string) => string, report: ImportReport): void {
  const type = String(data.type ?? 'HTTP').toUpperCase()
  if (type === 'GRAPHQL') report.leave(at('type'), 'a GraphQL API is converted as one resource for GET and POST at its context: queries reach the backend as they are, without the schema validation, depth and complexity limits WSO2 applies')
  else if (type === 'WS') report.leave(at('type'), 'a WebSocket API is not served: Portico does not relay WebSocket connections, so an upgrade request is answered 501 UPGRADE_NOT_SUPPORTED')
  else if (type !== 'HTTP' && type !== 'SOAP') report.leave(at('type'), `the API type ${type} is converted as a plain HTTP API; its ${type}-specific handling is not`)
  const tiers = Array.isArray(data.policies) ? data.policies.map(String) : []
  const limited = tiers.filter((tier) => tier !== 'Unlimited')
  if (limited.length > 0) report.leave(at('policies'), `subscription tiers ${limited.join(', ')} are not converted: Portico has no subscriptions (name one in the API's throttling.policies to hold every application to it)`)
  if (hasValue(data.apiThrottlingPolicy) && data.apiThrottlingPolicy !== 'Unlimited' && !wso2Tier(data.apiThrottlingPolicy)) report.leave(at('apiThrottlingPolicy'), `the throttling policy "${String(data.apiThrottlingPolicy)}" is not converted`)
  // Client authentication matters only if some operation asks for it ("None" turns it off per resource).
  const secured = operations.some((operation) => String(operation.authType ?? 'Any') !== 'None')
  const schemes = Array.isArray(data.securityScheme) && data.securityScheme.length > 0 ? data.securityScheme.map(String) : ['oauth2']
  if (secured) report.leave(at('securityScheme'), `client authentication (${schemes.join(', ')}) is not enforced: the imported API accepts requests without credentials`)
  if (asObject(data.corsConfiguration).corsConfigurationEnabled === true) report.leave(at('corsConfiguration'), 'CORS handling is not converted: preflight requests go to the backend')
  if (hasValue(data.scopes)) report.leave(at('scopes'), `scopes ${(data.scopes as unknown[]).map((scope) => String(asObject(asObject(scope).scope).name ?? asObject(scope).name ?? '?')).join(', ')} are not enforced`)
  if (data.responseCachingEnabled === true) report.leave(at('responseCachingEnabled'), 'response caching is not converted')
  if (data.enableSchemaValidation === true) report.leave(at('enableSchemaValidation'), 'request and response schema validation is not converted')
  const transports = Array.isArray(data.transport) ? data.transport.map(String) : []
  if (transports.length > 0 && !transports.includes('http')) report.leave(at('transport'), `transports ${transports.join(', ')}: the API is served on every listener of the config, whatever its scheme`)
  const apiPolicies = asObject(data.apiPolicies)
  for (const flow of ['request', 'response', 'fault']) {
    const list = Array.isArray(apiPolicies[flow]) ? (apiPolicies[flow] as unknown[]).map(asObject) : []
    list.forEach((policy, index) => report.leave(`${at('apiPolicies')}.${flow}[${index}]`, `the policy "${String(policy.policyName ?? '?')}" is not converted`))
  }
  if (asObject(data.advertiseInfo).advertised === true) report.leave(at('advertiseInfo'), 'an advertise-only API has no gateway endpoint to convert')
  if (asObject(data.monetization).enabled === true) report.leave(at('monetization'), 'monetization is not converted')
  // 4.4's AI APIs: a subtype other than DEFAULT brings model routing and token-based limits a plain proxy lacks.
  const subtype = asObject(data.subtypeConfiguration).subtype
  if (hasValue(subtype) && String(subtype).toUpperCase() !== 'DEFAULT') report.leave(at('subtypeConfiguration'), `the API subtype ${String(subtype)} is converted as a plain HTTP API; its AI vendor configuration, model routing and token-based limits are not`)
  for (const [field, value] of Object.entries(data)) {
    if (!PORTAL_FIELDS.has(field) && !CONVERTED_FIELDS.has(field) && hasValue(value) && value !== false) report.leave(at(field), `"${field}" is not converted`)
  }
}

/** Files beside api.yaml that carry gateway behaviour Portico does not take from a project. */
function projectFileChecks(project: Wso2Project, report: ImportReport): void {
  for (const file of project.files.keys()) {
    if (/^(Endpoint-certificates|Client-certificates)\//.test(file) && !file.endsWith('.yaml') && !file.endsWith('.json')) {
      report.leave(file, 'certificates are not converted: set security.tls on the endpoint (docs/security.md)')
    }
    if (/^Policies\//.test(file)) report.leave(file, 'operation policy files are not converted')
  }
  const environments = project.files.get('deployment_environments.yaml')
  if (environments) {
    const list = readDefinition(project, 'deployment_environments.yaml', report).data
    const names = Array.isArray(list) ? list.map((entry) => String(asObject(entry).deploymentEnvironment ?? '?')) : []
    report.note(`deployment_environments.yaml names gateway environments ${names.join(', ')}: Portico serves the API wherever this config runs`)
  }
}

interface Sequences {
  in?: unknown[]
  out?: unknown[]
}

/**
 * The IN and OUT sequences of the API: the ones `mediationPolicies` names, else the only one in its folder.
 * Fault sequences and further sequences are reported.
 */
function sequencesOf(project: Wso2Project, data: Json, report: ImportReport): Sequences {
  const result: Sequences = {}
  const named = Array.isArray(data.mediationPolicies) ? data.mediationPolicies.map(asObject) : []
  for (const policy of named) {
    if (String(policy.type).toUpperCase() === 'FAULT') report.leave(`api.yaml: data.mediationPolicies`, `the fault sequence "${String(policy.name)}" is not converted`)
  }
  for (const flow of ['in', 'out'] as const) {
    const files = [...project.files.keys()].filter((file) => file.startsWith(`Sequences/${flow}-sequence/`) && file.endsWith('.xml'))
    const wanted = named.find((policy) => String(policy.type).toUpperCase() === flow.toUpperCase())
    const chosen = wanted ? files.find((file) => basename(file, '.xml') === String(wanted.name)) : files.length === 1 ? files[0] : undefined
    for (const file of files) if (file !== chosen) report.leave(file, `not the API's ${flow.toUpperCase()} sequence; not converted`)
    if (!chosen) continue
    const xml = project.files.get(chosen)!.toString('utf8')
    try {
      const imported = importSynapseSequence(xml)
      for (const problem of imported.unsupported) report.leave(`${chosen}: ${problem.path}`, problem.message)
      result[flow] = imported.mediators
    } catch (error) {
      report.leave(chosen, (error as Error).message)
    }
  }
  for (const file of project.files.keys()) {
    if (file.startsWith('Sequences/fault-sequence/') && file.endsWith('.xml')) report.leave(file, 'fault sequences are not converted')
  }
  return result
}

/**
 * WSO2's default endpoint goes wherever the sequence's `To` points. Portico's dynamic endpoint needs an
 * allow-list: the origins written in the converted sequences' values and expressions (not their XML
 * namespaces or comments), or a placeholder that matches nothing.
 */
function dynamicEndpoint(mediators: unknown[], report: ImportReport): EndpointOut {
  const text = JSON.stringify(mediators, (key, value: unknown) => (key === 'namespaces' ? undefined : value))
  const allow = new Map<string, { host: string; schemes: Set<string>; ports: Set<number> }>()
  for (const match of text.matchAll(/\b(https?):\/\/([A-Za-z0-9.-]+)(?::(\d+))?/g)) {
    const [, scheme, host, port] = match as unknown as [string, string, string, string | undefined]
    const entry = allow.get(host.toLowerCase()) ?? { host: host.toLowerCase(), schemes: new Set<string>(), ports: new Set<number>() }
    entry.schemes.add(scheme)
    entry.ports.add(port ? Number(port) : scheme === 'https' ? 443 : 80)
    allow.set(entry.host, entry)
  }
  if (allow.size === 0) {
    report.note('the dynamic endpoint allows only "change-me.invalid": no address appears in the project\'s sequences. List the hosts its sequence may choose under allow')
    return { type: 'dynamic', allow: [{ host: 'change-me.invalid' }] }
  }
  report.note(`review the dynamic endpoint's allow-list (${[...allow.keys()].join(', ')}): it holds the origins written in the sequences, and addresses built at run time may need more`)
  return { type: 'dynamic', allow: [...allow.values()].map((entry) => ({ host: entry.host, schemes: [...entry.schemes], ports: [...entry.ports] })) }
}

/** A prototyped API answers from its definition through Portico's OpenAPI prototype support. */
async function prototypeEndpoint(project: Wso2Project, report: ImportReport, options: Wso2ImportOptions, written: string[], name: string, version: string): Promise<EndpointOut | undefined> {
  const file = DEFINITION_FILES.find((candidate) => project.files.has(candidate))
  if (!file) return report.leave('Definitions/swagger.yaml', 'a prototyped API without its definition has nothing to answer from; no endpoint is written')
  const bytes = project.files.get(file)!
  const definition = readDefinition(project, file, report)
  for (const [path, item] of Object.entries(asObject(definition.paths))) {
    for (const [method, operation] of Object.entries(asObject(item))) {
      if (hasValue(asObject(operation)['x-mediation-script'])) {
        report.leave(`${file}: paths.${path}.${method}.x-mediation-script`, 'the inline prototype script is not converted; the resource answers from the definition\'s examples')
      }
    }
  }
  let openapi: string
  if (project.directory !== undefined) openapi = resolve(project.directory, file)
  else {
    openapi = resolve(options.definitionDirectory ?? '.', `${name}-${version}.${basename(file).replace(/^swagger\./, 'swagger.')}`.replace(/[^A-Za-z0-9._-]/g, '-'))
    await writeFile(openapi, bytes)
    written.push(openapi)
  }
  report.note(`the prototype answers from ${openapi}; keep that file where the config can read it`)
  return { type: 'prototype', openapi }
}

function render(project: Wso2Project, api: Json, report: ImportReport): string {
  const header = [`# Imported from ${project.source} by \`portico import wso2\`.`]
  if (report.variables.size > 0) {
    header.push('# Set these environment variables before starting the gateway:')
    for (const [variable, holds] of report.variables) header.push(`#   ${variable}: ${holds}`)
  }
  if (report.leftOut.length > 0) header.push(`# ${report.leftOut.length} part(s) of the project were not converted; \`portico import wso2\` lists them.`)
  return `${header.join('\n')}\n${stringify({ apis: [api] }, { lineWidth: 0, aliasDuplicateObjects: false })}`
}

/** A WSO2 default policy Portico knows by name (docs/throttling.md), except Unlimited, which limits nothing. */
function wso2Tier(name: unknown): string | undefined {
  return typeof name === 'string' && name !== 'Unlimited' && Object.hasOwn(WSO2_TIERS, name) ? name : undefined
}

/**
 * WSO2's `maxTps` (backend throughput per environment) becomes the leaf's `capacity.maxTps`; a group has no
 * single leaf to hold it, so there it is reported.
 */
function backendThroughput(api: Json, maxTps: Json, where: string, report: ImportReport): void {
  const endpoints = asObject(api.endpoints)
  for (const environment of ENVIRONMENTS) {
    const tps = Number(maxTps[environment])
    if (!(tps >= 1)) continue
    const endpoint = asObject(endpoints[environment])
    if (!hasValue(endpoint) || Array.isArray(endpoint.endpoints)) {
      report.leave(`${where}.${environment}`, `${tps} requests a second is not applied: the ${environment} endpoint is not one backend (set capacity.maxTps on its members)`)
      continue
    }
    // Production and sandbox may share one endpoint object: each gets its own copy with its own cap.
    endpoints[environment] = { ...endpoint, capacity: { maxTps: Math.floor(tps) } }
  }
}
