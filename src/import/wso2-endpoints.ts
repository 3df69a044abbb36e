import { KNOWN_WSO2_CODES, WSO2_ERROR_CODES } from '../core/error-codes.ts'
import type { Environment } from '../config/schema.ts'
import type { ImportReport } from './wso2-report.ts'

/**
 * Converts WSO2's `endpointConfig` (the JSON the Publisher stores, as `apictl export api` writes it) into Portico
 * endpoints. The result is plain data for the YAML file; `parseConfig` checks it afterwards.
 */

type Json = Record<string, unknown>

/** Synapse's suspension when none is configured (`SynapseConstants.DEFAULT_ENDPOINT_SUSPEND_TIME`). */
const WSO2_SUSPEND_DURATION = 30_000
/** What Synapse treats as a timeout when an endpoint lists no timeout codes (`AbstractEndpoint.isTimeout`). */
const WSO2_TIMEOUT_CODES = [101504, 101505] as const
/** Codes a config may name that no Portico failure kind carries. */
const NEVER_REPORTED: ReadonlySet<number> = new Set(
  [...KNOWN_WSO2_CODES].filter((code) => code !== -1 && !(Object.values(WSO2_ERROR_CODES) as Array<number | undefined>).includes(code)),
)
export type EndpointOut = Record<string, unknown>

export interface EndpointContext {
  report: ImportReport
  /** Where `endpointConfig` is, for report lines: `api.yaml: data.endpointConfig`. */
  where: string
  /** Prefix of the environment variables that hold this API's secrets, e.g. `PIZZASHACKAPI`. */
  secretPrefix: string
  /** `endpoint_security` (4.x) or the API's `endpointSecurity` (3.x), by environment. */
  security: Partial<Record<Environment, Json>>
  /** Environments whose security went onto at least one endpoint; the rest is reported. */
  securityUsed: Set<Environment>
}

/** Keys of `endpointConfig` that the conversion reads; any other key with a value is reported. */
const KNOWN_KEYS = new Set([
  'endpoint_type',
  'production_endpoints',
  'sandbox_endpoints',
  'production_failovers',
  'sandbox_failovers',
  'endpoint_security',
  'algoCombo',
  'algoClassName',
  'sessionManagement',
  'sessionTimeOut',
  'failOver',
  'implementation_status',
  'access_method',
  'amznRegion',
  'amznAccessKey',
  'amznSecretKey',
  'assume_role',
  'amznRoleArn',
  'amznRoleSessionName',
  'amznRoleRegion',
  'wsdlendpointService',
  'wsdlendpointPort',
  'wsdlendpointServiceSandbox',
  'wsdlendpointPortSandbox',
])

export function unknownEndpointKeys(config: Json, context: EndpointContext): void {
  const { report } = context
  for (const [key, value] of Object.entries(config)) {
    if (!KNOWN_KEYS.has(key) && hasValue(value)) report.leave(`${context.where}.${key}`, `"${key}" is not converted`)
  }
}

/** Endpoint types converted per environment; `default`, `awslambda` and prototypes are the importer's own cases. */
const CONVERTED_TYPES = new Set(['http', 'address', 'wsdl', 'failover', 'load_balance'])

/** The endpoint of one environment for the endpoint types that are not per resource (all but awslambda). */
export function environmentEndpoint(config: Json, environment: Environment, context: EndpointContext): EndpointOut | undefined {
  const type = String(config.endpoint_type ?? 'http')
  if (!CONVERTED_TYPES.has(type)) {
    const why = type === 'sequence_backend' ? ': its backend is a mediation sequence deployed with the API, which Portico does not run as a backend' : ''
    return context.report.leave(`${context.where}.endpoint_type`, `the endpoint type "${type}" is not converted${why}`)
  }
  const primary = config[`${environment}_endpoints`]
  if (primary === undefined || primary === null) return undefined
  const at = `${context.where}.${environment}_endpoints`
  switch (type) {
    case 'http':
    case 'address':
      return leaf(asObject(primary), type === 'address' ? 'soap' : 'http', environment, at, context)
    case 'wsdl':
      return wsdlLeaf(config, asObject(primary), environment, at, context)
    case 'failover':
      return failoverGroup(config, environment, context)
    case 'load_balance':
      return loadBalanceGroup(config, environment, context)
  }
  return undefined
}

function failoverGroup(config: Json, environment: Environment, context: EndpointContext): EndpointOut | undefined {
  const primary = config[`${environment}_endpoints`]
  const failovers = config[`${environment}_failovers`]
  const members: Array<[Json, string]> = [[asObject(Array.isArray(primary) ? primary[0] : primary), `${context.where}.${environment}_endpoints`]]
  if (Array.isArray(failovers)) failovers.forEach((child, index) => members.push([asObject(child), `${context.where}.${environment}_failovers[${index}]`]))
  const endpoints = members.map(([child, at]) => leaf(child, childType(child), environment, at, context)).filter(isEndpoint)
  if (endpoints.length === 0) return undefined
  if (endpoints.length === 1) return endpoints[0]
  return { type: 'failover', endpoints }
}

function loadBalanceGroup(config: Json, environment: Environment, context: EndpointContext): EndpointOut | undefined {
  const list = config[`${environment}_endpoints`]
  const children = Array.isArray(list) ? list : [list]
  const endpoints = children.map((child, index) => leaf(asObject(child), childType(asObject(child)), environment, `${context.where}.${environment}_endpoints[${index}]`, context)).filter(isEndpoint)
  if (endpoints.length === 0) return undefined
  const group: EndpointOut = { type: 'loadbalance', algorithm: 'roundRobin', endpoints }
  const algorithm = String(config.algoClassName ?? config.algoCombo ?? '')
  if (algorithm && !algorithm.endsWith('.RoundRobin')) {
    context.report.leave(`${context.where}.algoClassName`, `the algorithm class "${algorithm}" is not converted; round robin is used`)
  }
  if (String(config.failOver ?? 'true').toLowerCase() === 'false') group.failover = false
  const session = sessionOf(config, context)
  if (session) group.session = session
  return group
}

/** WSO2's session management for load balancing: Synapse's http (transport), soap and simpleClientSession dispatchers. */
function sessionOf(config: Json, context: EndpointContext): EndpointOut | undefined {
  const { report } = context
  const management = String(config.sessionManagement ?? '').trim()
  const type = { transport: 'cookie', http: 'cookie', soap: 'soap', simpleClientSession: 'clientSession', clientid: 'clientSession' }[management]
  if (!type) {
    if (management && management !== 'none') report.leave(`${context.where}.sessionManagement`, `the session management "${management}" is not converted`)
    return undefined
  }
  const session: EndpointOut = { type }
  const timeout = milliseconds(config.sessionTimeOut, `${context.where}.sessionTimeOut`, report)
  if (timeout !== undefined && timeout > 0) session.timeout = timeout
  return session
}

/** Members of a group say their own type (`http` or `address`); a group of the REST kind is the default. */
function childType(child: Json): 'http' | 'soap' {
  return child.endpoint_type === 'address' ? 'soap' : 'http'
}

function wsdlLeaf(config: Json, endpoint: Json, environment: Environment, at: string, context: EndpointContext): EndpointOut | undefined {
  const suffix = environment === 'sandbox' ? 'Sandbox' : ''
  const service = config[`wsdlendpointService${suffix}`]
  const port = config[`wsdlendpointPort${suffix}`]
  if (typeof service !== 'string' || !service || typeof port !== 'string' || !port) {
    return context.report.leave(at, `a WSDL endpoint needs wsdlendpointService${suffix} and wsdlendpointPort${suffix} to name its address`)
  }
  const wsdl = withoutCredentials(typeof endpoint.url === 'string' ? endpoint.url.trim() : '', `${at}.url`, context.report)
  return withLeafSettings({ type: 'wsdl', wsdl, service, port }, endpoint, environment, at, context)
}

function leaf(endpoint: Json, type: 'http' | 'soap', environment: Environment, at: string, context: EndpointContext): EndpointOut | undefined {
  const url = withoutCredentials(typeof endpoint.url === 'string' ? endpoint.url.trim() : '', `${at}.url`, context.report)
  if (!/^https?:\/\//i.test(url)) return context.report.leave(`${at}.url`, `"${url}" is not an http:// or https:// address`)
  return withLeafSettings({ type, url }, endpoint, environment, at, context)
}

/**
 * The URL without a `user:password@` part, which the gateway refuses in an endpoint URL (and which must not end up
 * in a report or a config file): the credentials belong in the endpoint's backend security.
 */
function withoutCredentials(url: string, at: string, report: ImportReport): string {
  const userinfo = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i.exec(url)
  if (!userinfo) return url
  report.leave(at, 'the user name and password in the URL are left out and not written anywhere: set them as the endpoint\'s backend security (basic)')
  return userinfo[1] + url.slice(userinfo[0].length)
}

/** Timeouts, suspension and backend security, which WSO2 keeps in each endpoint's `config` and in `endpoint_security`. */
function withLeafSettings(out: EndpointOut, endpoint: Json, environment: Environment, at: string, context: EndpointContext): EndpointOut {
  const { report } = context
  const config = asObject(endpoint.config)
  const where = `${at}.config`
  const response = milliseconds(config.actionDuration, `${where}.actionDuration`, report)
  if (response !== undefined) out.timeouts = { response }
  else report.differ(context.where, 'an endpoint without actionDuration waits for the response headers for 60 s (timeouts.response); WSO2 waits until its transport\'s socket timeout')
  report.differ(context.where, 'a suspended endpoint answers 503 ENDPOINT_UNAVAILABLE where WSO2 answers fault 303001; when a suspension ends, one trial request at a time goes through where WSO2 lets every request through (docs/failover.md)')
  if (config.actionSelect === 'discard') report.leave(`${where}.actionSelect`, '"discard" (drop the message on timeout) is not converted: a timeout is a failure the client sees')

  Object.assign(out, suspensionOf(config, where, report))

  const known = new Set(['actionDuration', 'actionSelect', 'suspendErrorCode', 'suspendDuration', 'suspendMaxDuration', 'factor', 'retryErroCode', 'retryErrorCode', 'retryTimeOut', 'retryDelay'])
  for (const [key, value] of Object.entries(config)) if (!known.has(key) && hasValue(value)) report.leave(`${where}.${key}`, `"${key}" is not converted`)

  const security = backendSecurity(context.security[environment], environment, context)
  if (security) out.security = security
  return out
}

/**
 * The suspension settings of one WSO2 endpoint `config` (`where` is its place), WSO2's defaults written out.
 * API Manager writes suspendOnFailure and markForSuspension on every endpoint, with Synapse's defaults for what
 * the Publisher left empty: any failure suspends, for 30 s, a lone endpoint too (fault 303001 while suspended);
 * 101504 and 101505 are timeouts. Portico's own defaults differ (a lone leaf is never suspended, no failure is a
 * timeout), so the imported leaf states WSO2's values.
 */
export function suspensionOf(config: Json, where: string, report: ImportReport): EndpointOut {
  const suspend: EndpointOut = {}
  const suspendCodes = errorCodes(config.suspendErrorCode, `${where}.suspendErrorCode`, report)
  if (suspendCodes.length > 0) suspend.errorCodes = suspendCodes
  const initial = signedNumber(config.suspendDuration, `${where}.suspendDuration`, report)
  // Synapse suspends for its default 30 s when the duration is negative (the Publisher's "-1").
  suspend.initialDuration = initial === undefined || initial < 0 ? WSO2_SUSPEND_DURATION : Math.round(initial)
  const maximum = milliseconds(config.suspendMaxDuration, `${where}.suspendMaxDuration`, report)
  if (maximum !== undefined) suspend.maximumDuration = maximum
  const factor = number(config.factor, `${where}.factor`, report)
  if (factor !== undefined && factor < 1) report.differ(`${where}.factor`, `a factor of ${factor} shortens each suspension in WSO2; Portico's progressionFactor is at least 1, so it is 1`)
  if (factor !== undefined) suspend.progressionFactor = Math.max(1, factor)

  // WSO2 spells it "retryErroCode".
  const mark: EndpointOut = {}
  const retryCodes = errorCodes(config.retryErroCode ?? config.retryErrorCode, `${where}.retryErroCode`, report)
  mark.errorCodes = retryCodes.length > 0 ? retryCodes : [...WSO2_TIMEOUT_CODES]
  const retries = number(config.retryTimeOut, `${where}.retryTimeOut`, report)
  if (retries !== undefined) mark.retriesBeforeSuspension = Math.trunc(retries)
  const delay = milliseconds(config.retryDelay, `${where}.retryDelay`, report)
  if (delay !== undefined) mark.retryDelay = delay
  return { suspendOnFailure: suspend, markForSuspension: mark }
}

/** Backend credentials; passwords and client secrets become `${env:...}` references. */
function backendSecurity(security: Json | undefined, environment: Environment, context: EndpointContext): EndpointOut | undefined {
  if (!security || !isEnabledSecurity(security)) return undefined
  context.securityUsed.add(environment)
  const { report } = context
  const at = `api.yaml: endpoint security (${environment})`
  const variable = (suffix: string) => `${context.secretPrefix}_${environment.toUpperCase()}_${suffix}`
  const type = String(security.type).toUpperCase()
  const custom = asObject(security.customParameters)
  if (Object.keys(custom).length > 0) report.leave(`${at}.customParameters`, `token request parameters ${Object.keys(custom).join(', ')} are not converted`)
  if (type === 'BASIC' || type === 'DIGEST') {
    const username = typeof security.username === 'string' ? security.username : ''
    if (!username) return report.leave(`${at}.username`, `${type} security without a username is not converted`)
    const password = secretOf(security.password, variable('PASSWORD'), `the ${environment} backend's ${type} password for user "${username}"`, report)
    return { auth: { type: type.toLowerCase(), username, password } }
  }
  if (type === 'OAUTH') {
    const grant = String(security.grantType ?? 'CLIENT_CREDENTIALS').toLowerCase()
    if (grant !== 'client_credentials' && grant !== 'password') return report.leave(`${at}.grantType`, `the OAuth grant "${grant}" is not converted`)
    const auth: EndpointOut = {
      type: 'oauth2',
      tokenUrl: security.tokenUrl,
      grantType: grant,
      clientId: security.clientId,
      clientSecret: secretOf(security.clientSecret, variable('CLIENT_SECRET'), `the ${environment} backend's OAuth client secret`, report),
    }
    if (grant === 'password') {
      auth.username = security.username
      auth.password = secretOf(security.password, variable('PASSWORD'), `the ${environment} backend's OAuth resource owner password`, report)
    }
    return { auth }
  }
  return report.leave(`${at}.type`, `the endpoint security type "${String(security.type)}" is not converted`)
}

/**
 * An awslambda endpoint for one operation: WSO2 names the function per resource (`amznResourceName`), with its
 * own timeout (`amznResourceTimeout`). Access keys become `${env:...}` references.
 */
export function lambdaEndpoint(config: Json, operation: Json, at: string, context: EndpointContext): EndpointOut | undefined {
  const { report } = context
  const name = typeof operation.amznResourceName === 'string' ? operation.amznResourceName.trim() : ''
  if (!name) return report.leave(`${at}.amznResourceName`, 'an AWS Lambda resource without a function is not converted')
  const out: EndpointOut = { type: 'lambda', function: name, eventFormat: 'wso2' }
  const region = typeof config.amznRegion === 'string' && config.amznRegion ? config.amznRegion : undefined
  if (region && !name.startsWith('arn:')) out.region = region
  const timeout = milliseconds(operation.amznResourceTimeout, `${at}.amznResourceTimeout`, report)
  if (timeout !== undefined) out.timeouts = { response: timeout }
  if (isEnabled(operation.amznResourceContentEncode)) report.leave(`${at}.amznResourceContentEncode`, 'base64 body encoding for every request is not converted')
  let credentials: EndpointOut = { type: 'default' }
  if (config.access_method === 'stored') {
    credentials = {
      type: 'static',
      accessKeyId: secretOf(config.amznAccessKey, `${context.secretPrefix}_AWS_ACCESS_KEY_ID`, 'the AWS access key id', report),
      secretAccessKey: secretOf(config.amznSecretKey, `${context.secretPrefix}_AWS_SECRET_ACCESS_KEY`, 'the AWS secret access key', report),
    }
  }
  if (isEnabled(config.assume_role)) {
    const role: EndpointOut = { type: 'assume-role', roleArn: config.amznRoleArn, source: credentials }
    if (typeof config.amznRoleSessionName === 'string' && config.amznRoleSessionName) role.sessionName = config.amznRoleSessionName
    if (typeof config.amznRoleRegion === 'string' && config.amznRoleRegion) role.region = config.amznRoleRegion
    credentials = role
  }
  out.credentials = credentials
  return out
}

/**
 * The `${env:...}` reference for a secret. A value that is itself a variable, `${NAME}` (as apictl params files
 * write secrets), is read from that same variable; any other value stays where it was and `fallback` is named.
 */
function secretOf(value: unknown, fallback: string, holds: string, report: ImportReport): string {
  const variable = typeof value === 'string' ? /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value.trim())?.[1] : undefined
  return report.secret(variable ?? fallback, holds)
}

/**
 * Error codes as Portico takes them. 101501 (an I/O error while receiving the response) comes from WSO2's older
 * NHTTP transport; Portico names that failure `reset`, together with 101505. The codes Portico accepts but never
 * reports are kept and the difference is said: an endpoint listing only those would never suspend.
 */
function errorCodes(value: unknown, at: string, report: ImportReport): Array<number | string> {
  const list = Array.isArray(value) ? value : hasValue(value) ? String(value).split(',') : []
  const codes: Array<number | string> = []
  for (const item of list) {
    const code = Number(String(item).trim())
    if (code === 101501) {
      report.differ(at, '101501 (an I/O error while receiving the response) is written as the failure kind "reset", which Portico also reports as 101505 (connection closed)')
      if (!codes.includes('reset')) codes.push('reset')
    } else if (Number.isInteger(code) && NEVER_REPORTED.has(code)) {
      report.differ(at, `${code} is accepted but Portico reports no failure under it: it never moves this endpoint`)
      codes.push(code)
    } else if (Number.isInteger(code) && KNOWN_WSO2_CODES.has(code)) codes.push(code)
    else report.leave(at, `the error code "${String(item)}" is not one Portico knows`)
  }
  return codes
}

/** A number that may be negative (WSO2's "-1"); undefined when unset. */
function signedNumber(value: unknown, at: string, report: ImportReport): number | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const parsed = Number(value)
  if (Number.isFinite(parsed)) return parsed
  return report.leave(at, `"${String(value)}" is not a number`)
}

/** WSO2 stores numbers as strings, empty when unset. */
function number(value: unknown, at: string, report: ImportReport): number | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const parsed = Number(value)
  if (Number.isFinite(parsed) && parsed >= 0) return parsed
  return report.leave(at, `"${String(value)}" is not a number`)
}

function milliseconds(value: unknown, at: string, report: ImportReport): number | undefined {
  const parsed = number(value, at, report)
  return parsed === undefined ? undefined : Math.round(parsed)
}

/** Endpoint security that WSO2 applies: enabled (3.x has no flag) and of some type. */
export function isEnabledSecurity(security: Json): boolean {
  return isEnabled(security.enabled ?? true) && hasValue(security.type)
}

function isEndpoint(endpoint: EndpointOut | undefined): endpoint is EndpointOut {
  return endpoint !== undefined
}

function isEnabled(value: unknown): boolean {
  return value === true || String(value).toLowerCase() === 'true'
}

export function asObject(value: unknown): Json {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {}
}

/** A value WSO2 would act on: not empty, not an empty list or object. */
export function hasValue(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value).length > 0
  return true
}
