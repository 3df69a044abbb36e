import { writeFile } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { parse as parseYaml, stringify } from 'yaml'
import { parseConfig } from '../config/load.ts'
import { LIFECYCLE_STATES } from '../config/lifecycle.ts'
import { ENVIRONMENTS, HTTP_METHODS } from '../config/schema.ts'
import { importSynapseSequence } from './synapse.ts'
import { asObject, environmentEndpoint, hasValue, isEnabledSecurity, lambdaEndpoint, unknownEndpointKeys, type EndpointContext, type EndpointOut } from './wso2-endpoints.ts'
import { fromLegacyModel, isLegacyModel } from './wso2-legacy.ts'
import { readWso2Project, type Wso2Project } from './wso2-project.ts'
import { ImportReport } from './wso2-report.ts'

type Json = Record<string, unknown>

export interface Wso2ImportOptions {
  /** Where a definition taken out of a zip is written, for a prototype endpoint to read; the current directory by default. */
  definitionDirectory?: string
}

export interface Wso2Import {
  /** The config, already checked by the validation `portico validate` runs. */
  yaml: string
  report: ImportReport
  /** Files written besides the config (a definition taken out of a zip). */
  written: string[]
}

const API_FILES = ['api.yaml', 'api.yml', 'api.json', 'Meta-information/api.yaml', 'Meta-information/api.json']
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
])

/** Converts the WSO2 API project (directory or zip) at `path` into a Portico config holding one API. */
export async function importWso2Project(path: string, options: Wso2ImportOptions = {}): Promise<Wso2Import> {
  const project = await readWso2Project(path)
  const report = new ImportReport()
  const written: string[] = []
  const apiFile = API_FILES.find((name) => project.files.has(name))
  if (!apiFile) throw new Error(`${path} has no api.yaml or api.json: not an API project exported by apictl`)
  const document = asObject(parseYaml(project.files.get(apiFile)!.toString('utf8')))
  if (document.data !== undefined && document.type !== 'api') {
    throw new Error(`${apiFile} holds a "${String(document.type)}", not an API (type: api); API products and other artifacts are not imported`)
  }
  const raw = document.data !== undefined ? asObject(document.data) : document
  const data = isLegacyModel(raw) ? fromLegacyModel(raw) : raw
  const at = (field: string) => `${apiFile}: data.${field}`

  const name = typeof data.name === 'string' && data.name ? data.name : undefined
  const version = data.version === undefined ? undefined : String(data.version)
  if (!name || !version) throw new Error(`${apiFile} has no API name or version`)
  const api: Json = { name, context: contextOf(data, version), version }
  const lifecycle = String(data.lifeCycleStatus ?? data.status ?? 'PUBLISHED').toUpperCase()
  if ((LIFECYCLE_STATES as readonly string[]).includes(lifecycle)) api.lifecycle = lifecycle
  else report.leave(at('lifeCycleStatus'), `the lifecycle state "${lifecycle}" is not one of ${LIFECYCLE_STATES.join(', ')}; the API is PUBLISHED`)
  if (data.isDefaultVersion === true || data.isDefaultVersion === 'true') api.defaultVersion = true

  const endpointConfig = typeof data.endpointConfig === 'string' ? parseEndpointConfig(data.endpointConfig, apiFile) : asObject(data.endpointConfig)
  const context: EndpointContext = { report, secretPrefix: secretPrefix(name), security: securityByEnvironment(data, endpointConfig), securityUsed: new Set() }
  const listed = Array.isArray(data.operations) ? data.operations.map((operation, index): [Json, string] => [asObject(operation), `${apiFile}: data.operations[${index}]`]) : []
  // 3.x exports often keep the resources in the definition only.
  const located = listed.length > 0 ? listed : operationsOfDefinition(project)
  const operations = located.map(([operation]) => operation)
  const isLambda = endpointConfig.endpoint_type === 'awslambda'
  api.resources = resourcesOf(located, isLambda ? endpointConfig : undefined, context)
  if ((api.resources as unknown[]).length === 0) delete api.resources

  const sequences = sequencesOf(project, data, report)
  if (sequences.in) api.inSequence = sequences.in
  if (sequences.out) api.outSequence = sequences.out

  const implementation = String(data.endpointImplementationType ?? 'ENDPOINT').toUpperCase()
  if (implementation === 'INLINE' || implementation === 'MOCKED_OAS' || endpointConfig.implementation_status === 'prototyped') {
    const endpoint = await prototypeEndpoint(project, report, options, written, name, version)
    if (endpoint) api.endpoints = { production: endpoint, sandbox: endpoint }
  } else if (endpointConfig.endpoint_type === 'default') {
    const endpoint = dynamicEndpoint([...(sequences.in ?? []), ...(sequences.out ?? [])], report)
    api.endpoints = { production: endpoint, sandbox: endpoint }
    if (!sequences.in) report.leave(at('endpointConfig'), 'a default (dynamic) endpoint without an IN sequence that sets the address has no address to go to')
  } else if (!isLambda && hasValue(endpointConfig)) {
    const endpoints: Json = {}
    for (const environment of ENVIRONMENTS) {
      const endpoint = environmentEndpoint(endpointConfig, environment, context)
      if (endpoint) endpoints[environment] = endpoint
    }
    api.endpoints = endpoints
  } else if (!isLambda) {
    report.leave(at('endpointConfig'), 'the API has no endpoints: every request would fail')
  }
  if (hasValue(endpointConfig)) unknownEndpointKeys(endpointConfig, report)
  for (const environment of ENVIRONMENTS) {
    const security = context.security[environment]
    if (security && isEnabledSecurity(security) && !context.securityUsed.has(environment)) {
      report.leave(`${apiFile}: endpoint security (${environment})`, 'backend credentials with no endpoint to go on are not converted (dynamic, prototype and awslambda endpoints take none)')
    }
  }

  apiLevelChecks(data, operations, at, report)
  projectFileChecks(project, report)

  const yaml = render(project, api, report)
  // Refuse to write what the gateway would refuse to load. The variables are not set yet: stand-ins take their
  // place, in the text itself so that a problem's line is the line of the written file.
  parseConfig(yaml.replace(/\$\{env:([A-Za-z0-9_]+)\}/g, (_all, variable: string) => (variable.endsWith('ACCESS_KEY_ID') ? 'AKIAIOSFODNN7EXAMPLE' : 'stand-in')), 'imported.yaml')
  return { yaml, report, written }
}

/** 3.x stores `endpointConfig` as JSON text. */
function parseEndpointConfig(text: string, apiFile: string): Json {
  try {
    return asObject(JSON.parse(text))
  } catch (error) {
    throw new Error(`${apiFile}: endpointConfig is not JSON (${(error as Error).message})`)
  }
}

/** The context without the `/{version}` (or `/1.0.0`) that WSO2 appends; `{version}` elsewhere stays where it is. */
function contextOf(data: Json, version: string): string {
  let context = String(data.contextTemplate ?? data.context ?? `/${String(data.name).toLowerCase()}`)
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
    byKey.set(key, resource)
  }
  // Portico takes the first resource that matches: a trailing `/*` must not hide the specific ones after it.
  return [...byKey.values()].sort((a, b) => Number(String(a.uriTemplate).endsWith('*')) - Number(String(b.uriTemplate).endsWith('*')))
}

/** The operations of the definition, each with where it was found. */
function operationsOfDefinition(project: Wso2Project): Array<[Json, string]> {
  const file = DEFINITION_FILES.find((candidate) => project.files.has(candidate))
  if (!file) return []
  const definition = asObject(parseYaml(project.files.get(file)!.toString('utf8')))
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
  if (hasValue(tier) && tier !== 'Unlimited') report.leave(`${at}.throttlingPolicy`, `the throttling tier "${String(tier)}" is not converted`)
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
  if (type !== 'HTTP' && type !== 'SOAP') report.leave(at('type'), `the API type ${type} is converted as a plain HTTP API; its ${type}-specific handling is not`)
  const tiers = Array.isArray(data.policies) ? data.policies.map(String) : []
  const limited = tiers.filter((tier) => tier !== 'Unlimited')
  if (limited.length > 0) report.leave(at('policies'), `subscription tiers ${limited.join(', ')} are not converted: Portico has no subscriptions or rate limits`)
  if (hasValue(data.apiThrottlingPolicy) && data.apiThrottlingPolicy !== 'Unlimited') report.leave(at('apiThrottlingPolicy'), `the throttling policy "${String(data.apiThrottlingPolicy)}" is not converted`)
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
    const list = asObject(parseYaml(environments.toString('utf8'))).data
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
  const definition = asObject(parseYaml(bytes.toString('utf8')))
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
