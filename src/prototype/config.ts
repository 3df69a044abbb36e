import { z } from 'zod'
import { Duration } from '../core/duration.ts'

/** Largest file a prototype reads: a static response's body or an OpenAPI document (and its `$ref`s). */
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

/** A file on disk, relative to the directory `portico` runs in; the loader checks that it exists (file-checks.ts). */
const ExistingFile = z.string().min(1)

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
 * from endpoints/schema.ts so that the prototype's config lives with its code.
 */
export const prototypeFields = {
  /** Per-resource static responses and scripts; they take precedence over `openapi`. */
  resources: z.array(PrototypeResource).default([]),
  /** An OpenAPI 3.0 or 3.1 (or Swagger 2.0) document, YAML or JSON, that answers what the resources above do not. */
  openapi: ExistingFile.optional(),
  /** Whether requests are checked against the OpenAPI document (400/422 with the problems when they fail). */
  validateRequests: z.boolean().default(true),
  scriptLimits: ScriptLimits.prefault({}),
}

/** Rules across the prototype's fields; for the endpoint schema's `superRefine`. */
export function checkPrototype(
  config: { resources: unknown[]; openapi?: string | undefined; url?: string | undefined; pool?: unknown },
  ctx: z.RefinementCtx,
): void {
  const mocks = config.resources.length > 0 || config.openapi !== undefined
  if (config.url !== undefined && mocks) {
    // A backend reads the request's body as it streams; a mock reads it whole first. One request cannot go to both.
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'a prototype endpoint is either a backend "url" or mocks ("resources", "openapi"), not both' })
  } else if (config.url === undefined && !mocks) {
    ctx.addIssue({ code: 'custom', message: 'a prototype endpoint needs a backend "url", or "resources", "openapi" or both' })
  }
  if (config.pool !== undefined && config.url === undefined) {
    ctx.addIssue({ code: 'custom', path: ['pool'], message: 'is used only with a backend "url"' })
  }
}

/** Each prototype entry must name one of the API's resources: a typo would otherwise only show as 501s. */
export function checkPrototypeResources(
  config: { resources: ReadonlyArray<{ uriTemplate: string }> },
  apiResources: ReadonlyArray<{ uriTemplate: string }>,
  path: Array<string | number>,
  ctx: Pick<z.RefinementCtx, 'addIssue'>,
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

export type PrototypeResourceConfig = z.output<typeof PrototypeResource>
export type StaticResponseConfig = z.output<typeof StaticResponse>
export type ScriptLimitsConfig = z.output<typeof ScriptLimits>
