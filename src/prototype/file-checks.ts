import { statSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { readLocalFileSync } from '../core/local-file.ts'
import { MAX_PROTOTYPE_FILE_BYTES, type PrototypeResourceConfig } from './config.ts'

/**
 * What is wrong with the files a prototype endpoint names (its responses' files, its OpenAPI document), found by
 * reading them: apart from the schema, which reads nothing. Paths are below the endpoint's.
 */
export function prototypeFileIssues(config: { resources: readonly PrototypeResourceConfig[]; openapi?: string | undefined }): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = []
  config.resources.forEach((resource, resourceIndex) => {
    resource.responses?.forEach((response, index) => {
      const problem = response.file === undefined ? undefined : fileProblem(response.file)
      if (problem) issues.push({ path: ['resources', resourceIndex, 'responses', index, 'file'], message: problem })
    })
  })
  if (config.openapi !== undefined) {
    const problem = fileProblem(config.openapi) ?? openApiProblem(config.openapi)
    if (problem) issues.push({ path: ['openapi'], message: problem })
  }
  return issues
}

/** A quick check at load time that the file is an OpenAPI document; its full reading happens at start. */
function openApiProblem(path: string): string | undefined {
  let document: unknown
  try {
    document = parseYaml(readLocalFileSync(path, MAX_PROTOTYPE_FILE_BYTES).toString('utf8'))
  } catch (error) {
    return `cannot read "${path}" as YAML or JSON: ${(error as Error).message.split('\n')[0]!.replace(/:$/, '')}`
  }
  const { openapi, swagger } = (document ?? {}) as { openapi?: unknown; swagger?: unknown }
  const supported = (typeof openapi === 'string' && /^3\.[01]\./.test(openapi)) || swagger === '2.0'
  if (!supported) return `"${path}" is not an OpenAPI 3.0, 3.1 or Swagger 2.0 document (it has no "openapi: 3.0.x", "openapi: 3.1.x" or "swagger: 2.0" field)`
  if (typeof (document as { paths?: unknown }).paths !== 'object') return `"${path}" has no "paths"`
  return undefined
}

/**
 * Why a file a prototype names cannot be read: missing, or not a regular file of a bounded size. A device such
 * as /dev/zero would be read for ever.
 */
function fileProblem(path: string): string | undefined {
  let stats
  try {
    stats = statSync(path)
  } catch {
    return `file "${path}" does not exist`
  }
  if (!stats.isFile()) return `"${path}" is not a regular file (a directory, device, FIFO or socket cannot be read as one)`
  if (stats.size > MAX_PROTOTYPE_FILE_BYTES) return `"${path}" is ${stats.size} bytes, more than the ${MAX_PROTOTYPE_FILE_BYTES} allowed`
  return undefined
}
