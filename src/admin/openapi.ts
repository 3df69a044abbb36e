import { z } from 'zod'
import { Api } from '../config/schema.ts'

const ERROR = {
  type: 'object',
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
}

const json = (schema: object) => ({ content: { 'application/json': { schema } } })
const answer = (description: string, schema: object = { type: 'object' }) => ({ description, ...json(schema) })
const errors = {
  '400': answer('Invalid input: `errors` names each field as `portico validate` does', ERROR),
  '401': answer('No or unknown admin token', ERROR),
  '403': answer('The token lacks the scope', ERROR),
  '404': answer('Not found', ERROR),
  '409': answer('Refused in the current state', ERROR),
  '412': answer('If-Match names an older ETag', ERROR),
}
const id = { name: 'apiId', in: 'path', required: true, schema: { type: 'string' } }
const appId = { name: 'applicationId', in: 'path', required: true, schema: { type: 'string' } }
const ifMatch = { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } }
const scoped = (scope: string) => ({ security: [{ token: [scope] }] })

const JSON_SCHEMA = { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' } as const

/**
 * A schema written as a loose check of `type` piped into a discriminated union (for its clearer error) is
 * described by the union: a client, and the console's forms, need each alternative's fields.
 */
function unionBehindCheck(context: { zodSchema: z.core.$ZodType; jsonSchema: Record<string, unknown> }): void {
  const def = context.zodSchema._zod.def as { type: string; out?: z.core.$ZodType }
  if (def.type !== 'pipe' || def.out?._zod.def.type !== 'union') return
  const { $schema: _schema, ...union } = z.toJSONSchema(def.out, { ...JSON_SCHEMA, override: unionBehindCheck }) as Record<string, unknown>
  for (const key of Object.keys(context.jsonSchema)) delete context.jsonSchema[key]
  Object.assign(context.jsonSchema, union)
}

/**
 * The publisher API's OpenAPI 3.1 document. The API schema is the config file's own (`config/schema.ts`'s `Api`),
 * converted by zod, so the file, the API's validation and this document cannot disagree.
 */
export function openApiDocument(): object {
  const api = z.toJSONSchema(Api, { ...JSON_SCHEMA, override: unionBehindCheck }) as Record<string, unknown>
  const { $schema: _schema, $defs, ...apiSchema } = api
  return {
    openapi: '3.1.0',
    info: { title: 'Portico publisher API', version: 'v1', description: 'APIs, their lifecycle, revisions and deployments (docs/control-plane.md).' },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'An admin token; scopes: view, create, publish, manage, subscribe' } },
      schemas: { Api: apiSchema, ...($defs as object | undefined), Error: ERROR },
    },
    paths: {
      '/apis': {
        get: { summary: 'List and search APIs', ...scoped('view'), parameters: ['query', 'limit', 'offset'].map((name) => ({ name, in: 'query', schema: { type: name === 'query' ? 'string' : 'integer' } })), responses: { '200': answer('A page of APIs'), ...errors } },
        post: { summary: 'Create an API (it starts CREATED)', ...scoped('create'), requestBody: json({ $ref: '#/components/schemas/Api' }), responses: { '201': answer('The API; its ETag in the header'), ...errors } },
      },
      '/apis/{apiId}': {
        get: { summary: 'Read an API (secrets are never returned)', ...scoped('view'), parameters: [id], responses: { '200': answer('The API'), ...errors } },
        put: { summary: 'Replace an API; a secret left out keeps its stored value', ...scoped('create'), parameters: [id, ifMatch], requestBody: json({ $ref: '#/components/schemas/Api' }), responses: { '200': answer('The API'), ...errors } },
        delete: { summary: 'Delete an API (refused while deployed unless ?force=true)', ...scoped('create'), parameters: [id, { name: 'force', in: 'query', schema: { type: 'boolean' } }], responses: { '204': { description: 'Deleted' }, ...errors } },
      },
      '/apis/{apiId}/new-version': { post: { summary: 'Copy the API as a new version', ...scoped('create'), parameters: [id], requestBody: json({ type: 'object', required: ['version'], properties: { version: { type: 'string' }, defaultVersion: { type: 'boolean' } } }), responses: { '201': answer('The new API'), ...errors } } },
      '/apis/{apiId}/endpoints': {
        get: { summary: 'The API\'s endpoints, secrets left out', ...scoped('view'), parameters: [id], responses: { '200': answer('Endpoints'), ...errors } },
        put: { summary: 'Replace the API\'s endpoints', ...scoped('create'), parameters: [id, ifMatch], requestBody: json({ type: 'object', properties: { production: {}, sandbox: {} } }), responses: { '200': answer('Endpoints'), ...errors } },
      },
      '/apis/{apiId}/lifecycle': {
        get: { summary: 'State, available actions and checklist', ...scoped('view'), parameters: [id], responses: { '200': answer('Lifecycle'), ...errors } },
        post: { summary: 'Take a lifecycle action (Publish, Deploy as a Prototype, Demote to Created, Block, Deprecate, Re-Publish, Retire)', ...scoped('publish'), parameters: [id, ifMatch, { name: 'action', in: 'query', schema: { type: 'string' } }], responses: { '200': answer('The new state'), ...errors } },
      },
      '/apis/{apiId}/lifecycle-history': { get: { summary: 'Every lifecycle change with who and when', ...scoped('view'), parameters: [id], responses: { '200': answer('History'), ...errors } } },
      '/apis/{apiId}/revisions': {
        get: { summary: 'Revisions', ...scoped('view'), parameters: [id], responses: { '200': answer('Revisions'), ...errors } },
        post: { summary: 'Make an immutable revision of the API as it is now', ...scoped('create'), parameters: [id], requestBody: json({ type: 'object', properties: { description: { type: 'string' } } }), responses: { '201': answer('The revision'), ...errors } },
      },
      '/apis/{apiId}/revisions/{revisionId}': { get: { summary: 'One revision, secrets left out', ...scoped('view'), parameters: [id, { name: 'revisionId', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': answer('The revision'), ...errors } } },
      '/apis/{apiId}/deployments': {
        get: { summary: 'Where the API is deployed and whether every node serves it', ...scoped('view'), parameters: [id], responses: { '200': answer('Deployments'), ...errors } },
        post: { summary: 'Deploy a revision to a gateway environment', ...scoped('publish'), parameters: [id], requestBody: json({ type: 'object', required: ['revisionId'], properties: { revisionId: { type: 'string' }, environment: { type: 'string', default: 'default' } } }), responses: { '201': answer('The config version that carries it'), ...errors } },
      },
      '/apis/{apiId}/deployments/{environment}': { delete: { summary: 'Undeploy', ...scoped('publish'), parameters: [id, { name: 'environment', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': answer('The config version'), ...errors } } },
      '/applications': {
        get: { summary: 'Applications', ...scoped('view'), responses: { '200': answer('Applications'), ...errors } },
        post: { summary: 'Create an application', ...scoped('subscribe'), requestBody: json({ type: 'object', required: ['name'], properties: { name: { type: 'string' }, throttlingPolicy: { type: 'string', default: 'Unlimited' }, description: { type: 'string' } } }), responses: { '201': answer('The application'), ...errors } },
      },
      '/applications/{applicationId}': {
        get: { summary: 'One application', ...scoped('view'), parameters: [appId], responses: { '200': answer('The application'), ...errors } },
        delete: { summary: 'Delete an application, its keys and subscriptions', ...scoped('subscribe'), parameters: [appId], responses: { '204': { description: 'Deleted' }, ...errors } },
      },
      '/applications/{applicationId}/generate-keys': { post: { summary: 'New consumer key and secret (the secret is in this answer only)', ...scoped('subscribe'), parameters: [appId], requestBody: json({ type: 'object', required: ['keyType'], properties: { keyType: { enum: ['PRODUCTION', 'SANDBOX'] } } }), responses: { '201': answer('The key and secret'), ...errors } } },
      '/applications/{applicationId}/keys': { get: { summary: 'Consumer keys, without secrets', ...scoped('view'), parameters: [appId], responses: { '200': answer('Keys'), ...errors } } },
      '/subscriptions': {
        get: { summary: 'Subscriptions, by apiId or applicationId', ...scoped('view'), parameters: ['apiId', 'applicationId'].map((name) => ({ name, in: 'query', schema: { type: 'string' } })), responses: { '200': answer('Subscriptions'), ...errors } },
        post: { summary: 'Subscribe an application to a PUBLISHED or PROTOTYPED API with a throttling tier', ...scoped('subscribe'), requestBody: json({ type: 'object', required: ['applicationId', 'apiId'], properties: { applicationId: { type: 'string' }, apiId: { type: 'string' }, throttlingPolicy: { type: 'string', default: 'Unlimited' } } }), responses: { '201': answer('The subscription'), ...errors } },
      },
      '/subscriptions/{subscriptionId}': { delete: { summary: 'Unsubscribe', ...scoped('subscribe'), parameters: [{ name: 'subscriptionId', in: 'path', required: true, schema: { type: 'string' } }], responses: { '204': { description: 'Removed' }, ...errors } } },
      '/nodes': { get: { summary: 'What each node applied', ...scoped('view'), responses: { '200': answer('Nodes'), ...errors } } },
      '/me': { get: { summary: 'The token\'s name and scopes', security: [{ token: [] }], responses: { '200': answer('The token', { type: 'object', properties: { name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } } } }), ...errors } } },
      '/endpoint-health': {
        get: {
          summary: 'This node\'s endpoint trees with each leaf\'s state, and each API\'s root endpoint ids; with Accept: text/event-stream, server-sent events (event: endpoints) on every change',
          ...scoped('view'),
          responses: { '200': { description: 'The endpoint view', content: { 'application/json': { schema: { type: 'object' } }, 'text/event-stream': { schema: { type: 'string' } } } }, '503': answer('Too many streams open on this node', ERROR), ...errors },
        },
      },
      '/endpoint-health/{leafId}/reset': { post: { summary: 'Put a leaf back to active (an operator\'s reset)', ...scoped('publish'), parameters: [{ name: 'leafId', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': answer('How many leaves were reset'), ...errors } } },
      '/apis/{apiId}/endpoint-test': {
        post: {
          summary: 'Call each leaf of an endpoint from this node (within the dynamic endpoints\' target rules) and answer what each said',
          ...scoped('create'),
          parameters: [id],
          requestBody: json({ type: 'object', properties: { environment: { enum: ['production', 'sandbox'], default: 'production' }, method: { type: 'string', default: 'GET' }, path: { type: 'string', default: '/' } } }),
          responses: { '200': answer('Each leaf\'s answer, or why it was not called'), ...errors },
        },
      },
      '/apis/{apiId}/try': {
        post: {
          summary: 'One request to the API through this node\'s own listener',
          ...scoped('view'),
          parameters: [id],
          requestBody: json({ type: 'object', required: ['path'], properties: { method: { type: 'string', default: 'GET' }, path: { type: 'string' }, headers: { type: 'object', additionalProperties: { type: 'string' } }, body: { type: 'string' } } }),
          responses: { '200': answer('Status, headers and up to 64 KiB of the body'), ...errors },
        },
      },
      '/tokens': {
        get: { summary: 'Admin tokens (never their text)', ...scoped('manage'), responses: { '200': answer('Tokens'), ...errors } },
        post: { summary: 'Create a token; its text is in this answer only', ...scoped('manage'), requestBody: json({ type: 'object', required: ['name', 'scopes'], properties: { name: { type: 'string' }, scopes: { type: 'array', items: { enum: ['view', 'create', 'publish', 'manage', 'subscribe'] } } } }), responses: { '201': answer('The token'), ...errors } },
      },
      '/tokens/{tokenId}': { delete: { summary: 'Revoke a token', ...scoped('manage'), parameters: [{ name: 'tokenId', in: 'path', required: true, schema: { type: 'string' } }], responses: { '204': { description: 'Revoked' }, ...errors } } },
      '/audit': { get: { summary: 'The audit log, newest first, secrets redacted', ...scoped('manage'), responses: { '200': answer('Entries'), ...errors } } },
    },
  }
}
