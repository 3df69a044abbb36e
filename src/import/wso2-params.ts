import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { EndpointConfigShape, fitShape } from './wso2-shape.ts'
import type { ImportReport } from './wso2-report.ts'
import { readLocalFile } from '../core/local-file.ts'

/**
 * apictl's deployment params file (`apictl import api --params FILE`): per environment, the endpoints, routing
 * (failover, load balancing), Lambda access, backend security, certificates and tiers that replace the project's
 * own when it is deployed there. Portico applies one environment's `configs` to the API before converting it, as
 * API Manager does on import, so the config comes out as that environment would run it.
 */
export interface Wso2Params {
  /** The params file, for report lines. */
  file: string
  /** The environment whose configs apply. */
  environment: string
  configs: Record<string, unknown>
}

const Text = z.string()
const Scalar = z.union([z.string(), z.number(), z.boolean()])
const unset = <T extends z.ZodType>(schema: T) => schema.nullish()

const Endpoint = z.looseObject({ url: unset(Text), config: unset(z.record(z.string(), z.unknown())) })
const Security = z.looseObject({ enabled: unset(Scalar), type: unset(Text) })

/** The `configs` of one environment, as apictl documents them and API Manager reads them. */
const Configs = z.looseObject({
  endpointType: unset(Text),
  endpointRoutingPolicy: unset(Text),
  endpoints: unset(z.looseObject({ production: unset(Endpoint), sandbox: unset(Endpoint) })),
  loadBalanceEndpoints: unset(
    z.looseObject({
      production: unset(z.array(Endpoint)),
      sandbox: unset(z.array(Endpoint)),
      sessionManagement: unset(Text),
      sessionTimeOut: unset(Scalar),
      algoClassName: unset(Text),
      failOver: unset(Scalar),
    }),
  ),
  failoverEndpoints: unset(
    z.looseObject({
      production: unset(Endpoint),
      productionFailovers: unset(z.array(Endpoint)),
      sandbox: unset(Endpoint),
      sandboxFailovers: unset(z.array(Endpoint)),
    }),
  ),
  awsLambdaEndpoints: unset(
    z.looseObject({ accessMethod: unset(Text), amznRegion: unset(Text), amznAccessKey: unset(Text), amznSecretKey: unset(Text) }),
  ),
  security: unset(z.union([z.looseObject({ production: unset(Security), sandbox: unset(Security) }), Security, z.array(Security)])),
  certs: unset(z.array(z.unknown())),
  mutualSslCerts: unset(z.array(z.unknown())),
  deploymentEnvironments: unset(z.array(z.looseObject({ deploymentEnvironment: unset(Text) }))),
  gatewayEnvironments: unset(z.array(Text)),
  policies: unset(z.array(z.union([Text, z.null()]))),
})

const ParamsFile = z.looseObject({
  environments: z.array(z.looseObject({ name: unset(Scalar), configs: unset(z.unknown()) }), { error: 'has no "environments" list' }),
})

/** A params file lists a few environments' endpoints and secrets: far smaller than this. */
const MAX_PARAMS_FILE_BYTES = 16 * 1024 * 1024

/** Reads a params file and picks the environment to apply: the one named, or the only one. */
export async function readWso2Params(file: string, environment: string | undefined): Promise<Wso2Params> {
  let document: unknown
  try {
    document = parseYaml((await readLocalFile(file, MAX_PARAMS_FILE_BYTES)).toString('utf8'))
  } catch (error) {
    throw new Error(`${file} is not a params file: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = ParamsFile.safeParse(document)
  if (!parsed.success) throw new Error(`${file} ${parsed.error.issues[0]!.path.length === 0 ? 'is not a params file (a map with "environments")' : parsed.error.issues[0]!.message}`)
  const names = parsed.data.environments.map((entry) => (entry.name === undefined || entry.name === null ? '' : String(entry.name)))
  let index: number
  if (environment !== undefined) {
    index = names.indexOf(environment)
    if (index < 0) throw new Error(`${file} has no environment "${environment}" (it has ${names.map((name) => `"${name}"`).join(', ') || 'none'})`)
  } else if (names.length === 1) index = 0
  else throw new Error(`${file} has ${names.length} environments (${names.map((name) => `"${name}"`).join(', ')}): choose one with --environment`)
  const label = names[index] || String(index)
  const configs = parsed.data.environments[index]!.configs
  const missing: string[] = []
  const substituted = substitute(configs, `${file}: environments[${label}].configs`, missing)
  if (missing.length > 0) throw new Error(`${missing.join('; ')}: apictl substitutes environment variables in params files, and so does the import`)
  return { file, environment: label, configs: substituted && typeof substituted === 'object' && !Array.isArray(substituted) ? (substituted as Record<string, unknown>) : {} }
}

/** Secrets a params file may name as `${VAR}`: the config then reads the same variable, and the import needs none. */
const SECRET_FIELDS = new Set(['password', 'clientSecret', 'amznAccessKey', 'amznSecretKey'])

/** `${VAR}` in the params' values replaced from the environment, as apictl does; an unset one is collected in `missing`. */
function substitute(value: unknown, where: string, missing: string[], key = ''): unknown {
  if (typeof value === 'string') {
    if (SECRET_FIELDS.has(key) && /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value.trim())) return value
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => {
      const found = process.env[name]
      if (found === undefined || found === '') missing.push(`${where}: ${whole} is not set`)
      return found ?? whole
    })
  }
  if (Array.isArray(value)) return value.map((item, index) => substitute(item, `${where}[${index}]`, missing))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([field, item]) => [field, substitute(item, `${where}.${field}`, missing, field)]))
  }
  return value
}

type Json = Record<string, unknown>

/**
 * Applies the environment's configs to the API (the Publisher DTO, already shape-checked): endpoints given in the
 * params replace the project's `endpointConfig` whole, as API Manager does; security replaces its endpoint
 * security. Certificates are reported (Portico reads them from `security.tls`), gateway environments noted.
 */
export function applyParams(data: Json, params: Wso2Params, report: ImportReport): void {
  const where = `${params.file}: environments[${params.environment}].configs`
  const configs = fitShape(Configs, params.configs, where, report)
  const endpointConfig = endpointConfigOf(configs, where, report)
  if (endpointConfig) {
    // Backend security stays the project's unless the params give their own (below).
    const previous = data.endpointConfig
    const kept = previous && typeof previous === 'object' && 'endpoint_security' in previous ? { endpoint_security: (previous as Json).endpoint_security } : {}
    data.endpointConfig = fitShape(EndpointConfigShape, { ...endpointConfig, ...kept }, `${where} (as endpointConfig)`, report)
    delete data.endpointImplementationType
  }
  const security = configs.security
  if (security) {
    const perEnvironment = Array.isArray(security)
      ? { production: security[0], sandbox: security[0] }
      : 'production' in security || 'sandbox' in security
        ? { production: security.production ?? undefined, sandbox: security.sandbox ?? undefined }
        : { production: security, sandbox: security }
    const current = typeof data.endpointConfig === 'object' && data.endpointConfig !== null ? (data.endpointConfig as Json) : {}
    data.endpointConfig = { ...current, endpoint_security: perEnvironment }
    delete data.endpointSecurity
    const enabled = [perEnvironment.production, perEnvironment.sandbox].some((entry) => String((entry as { enabled?: unknown } | undefined)?.enabled).toLowerCase() === 'true')
    if (enabled) report.note(`the backend credentials of ${params.file} are not written into the config: set the environment variables listed below to them`)
  }
  if (configs.certs && configs.certs.length > 0) report.leave(`${where}.certs`, 'endpoint certificates are not converted: set security.tls on the endpoint (docs/security.md)')
  if (configs.mutualSslCerts && configs.mutualSslCerts.length > 0) report.leave(`${where}.mutualSslCerts`, 'client certificates for mutual TLS with API clients are not converted')
  const gateways = [...(configs.deploymentEnvironments ?? []).map((entry) => entry.deploymentEnvironment), ...(configs.gatewayEnvironments ?? [])].filter(Boolean)
  if (gateways.length > 0) report.note(`${where} deploys to gateway environments ${gateways.join(', ')}: Portico serves the API wherever this config runs`)
  const policies = (configs.policies ?? []).filter((policy): policy is string => typeof policy === 'string' && policy !== '')
  if (policies.length > 0) data.policies = policies
  const known = new Set(Object.keys(Configs.shape))
  for (const [key, value] of Object.entries(configs)) {
    if (!known.has(key) && value !== null && value !== undefined) report.leave(`${where}.${key}`, `"${key}" is not a params field Portico knows; not converted`)
  }
}

type Configs = z.output<typeof Configs>

/** The `endpointConfig` API Manager builds from the params, or undefined when they name no endpoints. */
function endpointConfigOf(configs: Configs, where: string, report: ImportReport): Json | undefined {
  const type = (configs.endpointType ?? 'rest').toLowerCase()
  const policy = configs.endpointRoutingPolicy ?? ''
  if (type === 'dynamic') return { endpoint_type: 'default', production_endpoints: { url: 'default' }, sandbox_endpoints: { url: 'default' } }
  if (type === 'aws') {
    const aws = configs.awsLambdaEndpoints
    if (!aws) return report.leave(`${where}.awsLambdaEndpoints`, 'endpointType aws needs awsLambdaEndpoints; the project\'s endpoints are kept')
    const stored = aws.accessMethod === 'stored'
    const lambda: Json = { endpoint_type: 'awslambda', access_method: stored ? 'stored' : 'role-supplied' }
    if (aws.amznRegion) lambda.amznRegion = aws.amznRegion
    // Keys given as `${VAR}` are read from that variable; literal keys stay in the params file, never in the config.
    if (aws.amznAccessKey) lambda.amznAccessKey = aws.amznAccessKey
    if (aws.amznSecretKey) lambda.amznSecretKey = aws.amznSecretKey
    const literal = [aws.amznAccessKey, aws.amznSecretKey].some((key) => key && !/^\$\{\w+\}$/.test(key.trim()))
    if (stored && literal) report.note(`${where}.awsLambdaEndpoints holds AWS keys: they are not written into the config; set the variables listed below to them`)
    return lambda
  }
  if (type !== 'rest' && type !== 'http' && type !== 'soap') {
    return report.leave(`${where}.endpointType`, `the endpoint type "${type}" is not one apictl takes (rest, soap, dynamic, aws); the project's endpoints are kept`)
  }
  const leafType = type === 'soap' ? 'address' : 'http'
  const member = (endpoint: z.output<typeof Endpoint>) => ({ endpoint_type: leafType, url: endpoint.url, ...(endpoint.config ? { config: endpoint.config } : {}) })
  if (policy === 'load_balanced') {
    const group = configs.loadBalanceEndpoints
    if (!group) return report.leave(`${where}.loadBalanceEndpoints`, 'endpointRoutingPolicy load_balanced needs loadBalanceEndpoints; the project\'s endpoints are kept')
    const out: Json = { endpoint_type: 'load_balance', algoClassName: group.algoClassName ?? 'org.apache.synapse.endpoints.algorithms.RoundRobin' }
    if (group.production) out.production_endpoints = group.production.map(member)
    if (group.sandbox) out.sandbox_endpoints = group.sandbox.map(member)
    if (group.sessionManagement) out.sessionManagement = group.sessionManagement
    if (group.sessionTimeOut !== undefined && group.sessionTimeOut !== null) out.sessionTimeOut = group.sessionTimeOut
    if (group.failOver !== undefined && group.failOver !== null) out.failOver = String(group.failOver)
    return out
  }
  if (policy === 'failover') {
    const group = configs.failoverEndpoints
    if (!group) return report.leave(`${where}.failoverEndpoints`, 'endpointRoutingPolicy failover needs failoverEndpoints; the project\'s endpoints are kept')
    const out: Json = { endpoint_type: 'failover' }
    if (group.production) out.production_endpoints = member(group.production)
    if (group.productionFailovers) out.production_failovers = group.productionFailovers.map(member)
    if (group.sandbox) out.sandbox_endpoints = member(group.sandbox)
    if (group.sandboxFailovers) out.sandbox_failovers = group.sandboxFailovers.map(member)
    return out
  }
  if (policy !== '') return report.leave(`${where}.endpointRoutingPolicy`, `"${policy}" is not a routing policy apictl takes (load_balanced, failover); the project's endpoints are kept`)
  const endpoints = configs.endpoints
  if (!endpoints || (!endpoints.production?.url && !endpoints.sandbox?.url)) return undefined
  const out: Json = { endpoint_type: leafType }
  for (const environment of ['production', 'sandbox'] as const) {
    const endpoint = endpoints[environment]
    if (endpoint?.url) out[`${environment}_endpoints`] = { url: endpoint.url, ...(endpoint.config ? { config: endpoint.config } : {}) }
  }
  return out
}
