import { statSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { Duration } from '../config/duration.ts'
import { readLocalFileSync } from '../core/local-file.ts'

/** Largest file a prototype reads: a static response's body or an OpenAPI document. */
export const MAX_PROTOTYPE_FILE_BYTES = 64 * 1024 * 1024

/** Header names as HTTP allows them (RFC 9110 tokens). */
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name')

/** A value to match: one string, or a list of which any may match. */
const Matched = z.union([z.string(), z.array(z.string()).min(1)])

/** When a static response applies; every condition given must hold. */
const When = z.strictObject({
  /** Query parameters and the value (or one of the values) each must have. */
  query: z.record(z.string().min(1), Matched).optional(),
  /** Request headers (names case-insensitive) and the value each must have. */
  headers: z.record(HeaderName, Matched).optional(),
  /** URI variables of the resource's template and the value each must have. */
  uriVariables: z.record(z.string().min(1), Matched).optional(),
})

/**
 * A regular file on disk, relative to the directory `portico` runs in; it must exist when the config loads. A
 * device such as /dev/zero would be read for ever, so only regular files of a bounded size pass.
 */
const ExistingFile = z
  .string()
  .min(1)
  .refine((path) => fileProblem(path) === undefined, { error: (issue) => fileProblem(String(issue.input)), abort: true })

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

const StaticResponse = z
  .strictObject({
    when: When.optional(),
    status: z.number().int().min(200).max(599).default(200),
    headers: z.record(HeaderName, z.string()).default({}),
    /** The body: text as it is, any other YAML value as JSON. */
    body: z.unknown().optional(),
    /** A file whose bytes are the body, read once when the config loads. */
    file: ExistingFile.optional(),
    /** Wait this long before answering, to mimic a slow backend. */
    delay: Duration.default(0),
  })
  .refine((response) => response.body === undefined || response.file === undefined, {
    error: 'give either "body" or "file", not both',
  })

/** Checked only for shape: a method the API's resource does not accept simply never reaches the prototype. */
const Method = z
  .string()
  .regex(/^[A-Za-z]+$/, 'must be an HTTP method such as GET')
  .transform((method) => method.toUpperCase())

/** How one resource of the API answers: static responses, or a script. */
const PrototypeResource = z
  .strictObject({
    /** The API resource's URI template, written as in the API's `resources`. */
    uriTemplate: z.string().regex(/^\//, 'must start with "/" like the API resource it answers for'),
    /** Methods this entry answers; all when unset. */
    methods: z.array(Method).min(1).optional(),
    /** Tried in order: the first whose `when` holds answers; one without `when` always holds. */
    responses: z.array(StaticResponse).min(1).optional(),
    /** JavaScript: a function expression `(request) => response`, run in a sandbox for each request. */
    script: z.string().min(1).optional(),
  })
  .refine((resource) => (resource.responses === undefined) !== (resource.script === undefined), {
    error: 'give either "responses" or "script"',
  })

const ScriptLimits = z.strictObject({
  /** Longest a script may run for one request; it is interrupted after that. */
  time: Duration.default(50),
  /** Most memory one script run may allocate, in bytes. */
  memoryBytes: z.number().int().min(1_048_576).max(268_435_456).default(16_777_216),
})

/**
 * Fields of a `type: prototype` endpoint, spread into its schema next to the fields every leaf has. Kept apart
 * from endpoint-schema.ts so that the prototype's config lives with its code.
 */
export const prototypeFields = {
  /** Per-resource static responses and scripts; they take precedence over `openapi`. */
  resources: z.array(PrototypeResource).default([]),
  /** An OpenAPI 3.0 or 3.1 (or Swagger 2.0) document, YAML or JSON, that answers what the resources above do not. */
  openapi: ExistingFile.superRefine((path, ctx) => {
    const problem = openApiProblem(path)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  }).optional(),
  /** Whether requests are checked against the OpenAPI document (400/422 with the problems when they fail). */
  validateRequests: z.boolean().default(true),
  scriptLimits: ScriptLimits.prefault({}),
}

/** Rules across the prototype's fields; for the endpoint schema's `superRefine`. */
export function checkPrototype(config: { resources: unknown[]; openapi?: string | undefined }, ctx: z.RefinementCtx): void {
  if (config.resources.length === 0 && config.openapi === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a prototype endpoint needs "resources", "openapi" or both' })
  }
}

/** Each prototype entry must name one of the API's resources: a typo would otherwise only show as 501s. */
export function checkPrototypeResources(
  config: { resources: ReadonlyArray<{ uriTemplate: string }> },
  apiResources: ReadonlyArray<{ uriTemplate: string }>,
  path: Array<string | number>,
  ctx: z.RefinementCtx,
): void {
  const known = new Set(apiResources.map((resource) => resource.uriTemplate))
  config.resources.forEach((resource, index) => {
    if (!known.has(resource.uriTemplate)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'resources', index, 'uriTemplate'],
        message: `"${resource.uriTemplate}" is not one of the API's resources (${[...known].join(', ')})`,
      })
    }
  })
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

export type PrototypeResourceConfig = z.output<typeof PrototypeResource>
export type StaticResponseConfig = z.output<typeof StaticResponse>
export type ScriptLimitsConfig = z.output<typeof ScriptLimits>
