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

export function fromLegacyModel(data: Json): Json {
  const id = data.id as Json
  const out: Json = {
    name: id.apiName,
    version: id.version,
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
    scopes: data.scopes,
    authorizationHeader: data.authorizationHeader,
    apiThrottlingPolicy: data.apiLevelPolicy,
    policies: Array.isArray(data.availableTiers) ? data.availableTiers.map((tier) => (tier as Json).name) : [],
    operations: Array.isArray(data.uriTemplates) ? data.uriTemplates.map((template) => operation(template as Json)) : [],
    mediationPolicies: ['inSequence', 'outSequence', 'faultSequence']
      .filter((field) => typeof data[field] === 'string' && data[field])
      .map((field) => ({ name: data[field], type: field.replace('Sequence', '').toUpperCase() })),
  }
  if (data.endpointSecured === true) {
    out.endpointSecurity = { enabled: true, type: data.endpointAuthDigest === true ? 'DIGEST' : 'BASIC', username: data.endpointUTUsername }
  }
  if (data.productionMaxTps || data.sandboxMaxTps) out.maxTps = { production: data.productionMaxTps, sandbox: data.sandboxMaxTps }
  for (const [field, value] of Object.entries(data)) if (!LEGACY_PORTAL_FIELDS.has(field)) out[field] = value
  return out
}

function operation(template: Json): Json {
  return {
    target: template.uriTemplate,
    verb: template.HTTPVerb ?? template.httpVerb ?? template.verb,
    authType: template.authType,
    throttlingPolicy: template.throttlingTier,
    scopes: Array.isArray(template.scopes) ? template.scopes.map((scope) => (scope as Json).key ?? scope) : [],
  }
}

function split(value: unknown): string[] {
  return typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter(Boolean) : Array.isArray(value) ? value.map(String) : []
}
