import { existsSync, readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { PrototypeResourceConfig } from './config.ts'

/**
 * What is wrong with the files a prototype endpoint names (its responses' files, its OpenAPI document), found by
 * reading them: apart from the schema, which reads nothing. Paths are below the endpoint's.
 */
export function prototypeFileIssues(config: { resources: readonly PrototypeResourceConfig[]; openapi?: string | undefined }): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = []
  config.resources.forEach((resource, resourceIndex) => {
    resource.responses?.forEach((response, index) => {
      if (response.file !== undefined && !existsSync(response.file)) {
        issues.push({ path: ['resources', resourceIndex, 'responses', index, 'file'], message: `file "${response.file}" does not exist` })
      }
    })
  })
  if (config.openapi !== undefined) {
    const problem = existsSync(config.openapi) ? openApiProblem(config.openapi) : `file "${config.openapi}" does not exist`
    if (problem) issues.push({ path: ['openapi'], message: problem })
  }
  return issues
}

/** A quick check at load time that the file is an OpenAPI document; its full reading happens at start. */
function openApiProblem(path: string): string | undefined {
  let document: unknown
  try {
    document = parseYaml(readFileSync(path, 'utf8'))
  } catch (error) {
    return `cannot read "${path}" as YAML or JSON: ${(error as Error).message.split('\n')[0]!.replace(/:$/, '')}`
  }
  const { openapi, swagger } = (document ?? {}) as { openapi?: unknown; swagger?: unknown }
  const supported = (typeof openapi === 'string' && /^3\.[01]\./.test(openapi)) || swagger === '2.0'
  if (!supported) return `"${path}" is not an OpenAPI 3.0, 3.1 or Swagger 2.0 document (it has no "openapi: 3.0.x", "openapi: 3.1.x" or "swagger: 2.0" field)`
  if (typeof (document as { paths?: unknown }).paths !== 'object') return `"${path}" has no "paths"`
  return undefined
}
