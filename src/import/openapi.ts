import { parse as parseYaml, stringify } from 'yaml'
import { parseConfig } from '../config/load.ts'
import { readLocalFile } from '../core/local-file.ts'
import { MAX_PROTOTYPE_FILE_BYTES } from '../prototype/config.ts'
import { OpenApiDocument } from '../prototype/openapi/document.ts'

export interface OpenApiImportOptions {
  /** The API's context; by default `/` and the document's title in lower case with dashes. */
  context?: string
}

/**
 * Turns an OpenAPI 3.0 or 3.1 (or Swagger 2.0) document into a Portico config: one API in CREATED state whose resources are the
 * document's paths, answered by a prototype endpoint that serves the document. Returns the config as YAML,
 * already checked by the same validation `portico validate` runs.
 */
export async function importOpenApi(file: string, options: OpenApiImportOptions = {}): Promise<string> {
  const raw = parseYaml((await readLocalFile(file, MAX_PROTOTYPE_FILE_BYTES)).toString('utf8')) as { info?: { title?: unknown; version?: unknown } } | null
  const document = await OpenApiDocument.load(file)
  const title = typeof raw?.info?.title === 'string' && raw.info.title.trim() ? raw.info.title.trim() : 'Imported API'
  const version = String(raw?.info?.version ?? '1.0.0').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 64) || '1.0.0'
  const methodsByPath = new Map<string, string[]>()
  for (const { method, path } of document.operations()) {
    const methods = methodsByPath.get(path) ?? []
    methods.push(method)
    methodsByPath.set(path, methods)
  }
  const prototype = { type: 'prototype', openapi: file }
  const config = {
    apis: [
      {
        name: title.slice(0, 200),
        context: options.context ?? `/${slug(title)}`,
        version,
        lifecycle: 'CREATED',
        resources: [...methodsByPath].map(([uriTemplate, methods]) => ({ uriTemplate, methods })),
        endpoints: { production: prototype, sandbox: prototype },
      },
    ],
  }
  const yaml = `# Imported from ${file} by \`portico import openapi\`: a prototype of the API, answered from the document.\n# Replace the prototype endpoints with real ones and set lifecycle: PUBLISHED to publish it.\n${stringify(config, { lineWidth: 0, aliasDuplicateObjects: false })}`
  // Refuse to write what the gateway would refuse to load (a path the router cannot take, say).
  parseConfig(yaml, 'imported.yaml')
  return yaml
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'api'
}
