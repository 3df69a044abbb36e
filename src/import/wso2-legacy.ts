import type { LegacyApiData } from './wso2-shape.ts'

/**
 * WSO2 API Manager 3.x exports (`Meta-information/api.yaml`) hold the product's internal API model rather than the
 * Publisher REST API's DTO that 4.x exports under `data:`. This maps the 3.x fields onto the 4.x names, so that
 * one converter reads both; fields with no 4.x counterpart are passed on under their own name and reported.
 */

type Json = Record<string, unknown>

/** 3.x fields that only the portals, the registry or the key manager use. */
const LEGACY_PORTAL_FIELDS = new Set([
  'id', 'uuid', 'tags', 'documents', 'lastUpdated', 'availableSubscriptionLevelPolicies', 'apiHeaderChanged',
  'apiResourcePatternsChanged', 'visibility', 'gatewayLabels', 'advertiseOnly', 'subscriptionAvailability',
  'keyManagers', 'environments', 'createdTime', 'additionalProperties', 'monetizationProperties',
  'isMonetizationEnabled', 'environmentList', 'endpoints', 'apiCategories', 'enableStore', 'accessControl', 'rating',
  'isLatest', 'isPublishedDefaultVersion', 'cacheTimeout', 'description', 'businessOwner', 'businessOwnerEmail',
  'technicalOwner', 'technicalOwnerEmail', 'visibleRoles', 'visibleTenants', 'accessControlRoles', 'thumbnailUrl',
  'wsdlUrl', 'wadlUrl', 'subscriptionAvailableTenants', 'endpointAuthDigest', 'endpointSecured', 'endpointUTUsername',
  'endpointUTPassword', 'implementation', 'apiSecurity', 'transports', 'responseCache', 'availableTiers', 'status',
  'contextTemplate', 'context', 'uriTemplates', 'inSequence', 'outSequence', 'faultSequence', 'type',
  'isDefaultVersion', 'endpointConfig', 'corsConfiguration', 'scopes', 'enableSchemaValidation', 'authorizationHeader',
  'apiLevelPolicy', 'productionMaxTps', 'sandboxMaxTps',
])

export function isLegacyModel(data: Json): boolean {
  return typeof data.id === 'object' && data.id !== null && 'apiName' in data.id
}

/** The 3.x model under 4.x names; `data` has been checked against `LegacyApiShape`. */
export function fromLegacyModel(data: LegacyApiData): Json {
  const out: Json = {
    name: data.id.apiName,
    version: data.id.version,
    context: data.contextTemplate ?? data.context,
    lifeCycleStatus: data.status,
    isDefaultVersion: data.isDefaultVersion,
    type: data.type,
    endpointConfig: data.endpointConfig,
    endpointImplementationType: data.implementation,
    securityScheme: split(data.apiSecurity),
    transport: split(data.transports),
    responseCachingEnabled: String(data.responseCache ?? '').toLowerCase() === 'enabled',
    enableSchemaValidation: data.enableSchemaValidation,
    corsConfiguration: data.corsConfiguration,
    authorizationHeader: data.authorizationHeader,
    apiThrottlingPolicy: data.apiLevelPolicy,
    policies: (data.availableTiers ?? []).flatMap((tier) => (tier.name ? [tier.name] : [])),
    operations: (data.uriTemplates ?? []).flatMap(operations),
    mediationPolicies: (['inSequence', 'outSequence', 'faultSequence'] as const)
      .filter((field) => data[field])
      .map((field) => ({ name: data[field], type: field.replace('Sequence', '').toUpperCase() })),
  }
  if (data.scopes && data.scopes.length > 0) out.scopes = data.scopes.map((scope) => ({ name: scope.name ?? scope.key }))
  if (data.endpointSecured === true || data.endpointSecured === 'true') {
    out.endpointSecurity = { enabled: true, type: data.endpointAuthDigest === true || data.endpointAuthDigest === 'true' ? 'DIGEST' : 'BASIC', username: data.endpointUTUsername }
  }
  if (data.productionMaxTps || data.sandboxMaxTps) out.maxTps = { production: data.productionMaxTps, sandbox: data.sandboxMaxTps }
  for (const [field, value] of Object.entries(data)) if (!LEGACY_PORTAL_FIELDS.has(field)) out[field] = value
  return out
}

type UriTemplate = NonNullable<LegacyApiData['uriTemplates']>[number]

/**
 * One operation per verb of a uriTemplate: 3.x keeps the verbs of one path together (`httpVerbs`), with the auth
 * type, tier and scope of each at the same index; `httpVerb` alone names only the first.
 */
function operations(template: UriTemplate): Json[] {
  const verbs = template.httpVerbs && template.httpVerbs.length > 0 ? template.httpVerbs : [template.HTTPVerb ?? template.httpVerb ?? template.verb]
  return verbs.map((verb, index) => {
    const scope = template.scopes?.[index] ?? (index === 0 ? template.scope : undefined)
    const scopeName = typeof scope === 'string' ? scope : (scope?.key ?? scope?.name)
    return {
      target: template.uriTemplate,
      verb,
      authType: template.authTypes?.[index] ?? template.authType,
      throttlingPolicy: template.throttlingTiers?.[index] ?? template.throttlingTier,
      scopes: scopeName ? [scopeName] : [],
    }
  })
}

function split(value: unknown): string[] {
  return typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter(Boolean) : []
}
