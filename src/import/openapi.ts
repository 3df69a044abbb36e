import { parse as parseYaml, stringify } from 'yaml'
import { parseConfig } from '../config/load.ts'
import { readLocalFile } from '../core/local-file.ts'
import { MAX_PROTOTYPE_FILE_BYTES } from '../prototype/config.ts'
import { OpenApiDocument, type DocumentReport } from '../prototype/openapi/document.ts'

export interface OpenApiImportOptions {
  /** The API's context; by default `/` and the document's title in lower case with dashes. */
  context?: string
  /**
   * Endpoints from the document instead of a prototype: WSO2's `x-wso2-production-endpoints` and
   * `x-wso2-sandbox-endpoints`, else the first server (OpenAPI 3) or `schemes`, `host` and `basePath` (Swagger 2).
   */
  backend?: boolean
}

/** How many left-out parts the written config lists in its header comment; the report has all of them. */
const LISTED_IN_CONFIG = 50

/**
 * Turns an OpenAPI 3.0 or 3.1 (or Swagger 2.0) document into a Portico config: one API in CREATED state whose
 * resources are the document's paths, answered by a prototype endpoint that serves the document. Returns the
 * config as YAML, already checked by the same validation `portico validate` runs, and the report of what the
 * prototype leaves out (each part with its JSON pointer) and warns about.
 */
export async function importOpenApi(file: string, options: OpenApiImportOptions = {}): Promise<{ yaml: string; report: DocumentReport }> {
  // Read first (a device or FIFO is refused here), parsed only after the document loaded: what is not one (a
  // GraphQL schema, a WSDL) is refused with that reason rather than a YAML parser's.
  const text = (await readLocalFile(file, MAX_PROTOTYPE_FILE_BYTES)).toString('utf8')
  const document = await OpenApiDocument.load(file)
  const raw = parseYaml(text, { maxAliasCount: -1 }) as (Record<string, unknown> & { info?: { title?: unknown; version?: unknown } }) | null
  const report = document.report()
  const title = typeof raw?.info?.title === 'string' && raw.info.title.trim() ? raw.info.title.trim() : 'Imported API'
  const version = String(raw?.info?.version ?? '1.0.0').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 64) || '1.0.0'
  const methodsByPath = new Map<string, Set<string>>()
  for (const { method, path } of document.operations()) {
    const methods = methodsByPath.get(path) ?? new Set<string>()
    methods.add(method)
    methodsByPath.set(path, methods)
  }
  if (methodsByPath.size === 0) {
    throw new Error(`${file} has no operation a prototype can serve${report.leftOut.length > 0 ? `: ${report.leftOut.map((part) => `${part.at}: ${part.reason}`).join('; ')}` : ''}`)
  }
  const prototype = { type: 'prototype', openapi: file }
  const endpoints = options.backend ? documentBackend(raw ?? {}, file) : { production: prototype, sandbox: prototype }
  const config = {
    apis: [
      {
        name: title.slice(0, 200),
        context: options.context ?? `/${slug(title)}`,
        version,
        lifecycle: 'CREATED',
        resources: [...methodsByPath].map(([uriTemplate, methods]) => ({ uriTemplate, methods: [...methods] })),
        endpoints,
      },
    ],
  }
  const leftOut = report.leftOut.slice(0, LISTED_IN_CONFIG).map((part) => `\n#   ${part.at}: ${part.reason.replaceAll('\n', ' ')}`).join('')
  const more = report.leftOut.length > LISTED_IN_CONFIG ? `\n#   … and ${report.leftOut.length - LISTED_IN_CONFIG} more` : ''
  const header =
    (options.backend
      ? `# Imported from ${file} by \`portico import openapi --backend\`: the API with the backend the document names.\n` +
        `# Set lifecycle: PUBLISHED to publish it.\n`
      : `# Imported from ${file} by \`portico import openapi\`: a prototype of the API, answered from the document.\n` +
        `# Replace the prototype endpoints with real ones and set lifecycle: PUBLISHED to publish it.\n`) +
    (report.leftOut.length > 0 ? `# Not served (${report.leftOut.length}):${leftOut}${more}\n` : '')
  const yaml = `${header}${stringify(config, { lineWidth: 0, aliasDuplicateObjects: false })}`
  // Refuse to write what the gateway would refuse to load (a path the router cannot take, say).
  parseConfig(yaml, 'imported.yaml')
  return { yaml, report }
}

/**
 * The backend a document names, as the API Manager Publisher reads it when it creates an API from a definition:
 * its `x-wso2-production-endpoints` and `x-wso2-sandbox-endpoints` (`urls`, and `type` loadbalance or failover
 * for several), else the first server URL for both environments, its variables at their defaults.
 */
function documentBackend(document: Record<string, unknown>, file: string): Record<string, unknown> {
  const endpoints: Record<string, unknown> = {}
  for (const environment of ['production', 'sandbox'] as const) {
    const extension = document[`x-wso2-${environment}-endpoints`]
    if (extension !== undefined) endpoints[environment] = wso2Endpoints(extension, `${file}: x-wso2-${environment}-endpoints`)
  }
  if (Object.keys(endpoints).length > 0) return endpoints
  const server = firstServer(document)
  if (!server) throw new Error(`${file} names no backend: no x-wso2-production-endpoints, and no server with an absolute http(s) URL; without --backend the API is a prototype`)
  const endpoint = { type: 'http', url: server }
  return { production: endpoint, sandbox: endpoint }
}

function wso2Endpoints(value: unknown, at: string): Record<string, unknown> {
  const { urls, type } = (typeof value === 'object' && value !== null ? value : {}) as { urls?: unknown; type?: unknown }
  const list = Array.isArray(urls) ? urls.filter((url): url is string => typeof url === 'string' && /^https?:\/\//i.test(url)) : []
  if (list.length === 0 || list.length !== (urls as unknown[]).length) throw new Error(`${at}: urls must list absolute http(s) URLs`)
  const leaves = list.map((url) => ({ type: 'http', url }))
  if (leaves.length === 1) return leaves[0]!
  if (type === 'failover') return { type: 'failover', endpoints: leaves }
  if (type === undefined || type === 'loadbalance') return { type: 'loadbalance', endpoints: leaves }
  throw new Error(`${at}: type "${String(type)}" is not loadbalance or failover`)
}

/** OpenAPI 3's first server, variables at their defaults; Swagger 2's scheme, host and base path. */
function firstServer(document: Record<string, unknown>): string | undefined {
  const servers = Array.isArray(document.servers) ? document.servers : []
  const first = servers[0] as { url?: unknown; variables?: Record<string, { default?: unknown }> } | undefined
  if (typeof first?.url === 'string') {
    const url = first.url.replace(/\{([^}]+)\}/g, (_all, name: string) => String(first.variables?.[name]?.default ?? `{${name}}`))
    return /^https?:\/\/[^{}]+$/i.test(url) ? url : undefined
  }
  if (typeof document.host === 'string' && document.host) {
    const schemes = Array.isArray(document.schemes) ? document.schemes : []
    const scheme = schemes.includes('https') ? 'https' : schemes.includes('http') ? 'http' : 'https'
    return `${scheme}://${document.host}${typeof document.basePath === 'string' ? document.basePath : ''}`
  }
  return undefined
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'api'
}
