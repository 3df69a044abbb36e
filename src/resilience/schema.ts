import { z } from 'zod'
import { FAILURE_KINDS, KNOWN_WSO2_CODES } from '../core/error-codes.ts'
import { Duration } from '../core/duration.ts'

/** A WSO2 error code (101503, 101504, ..., -1 for any) or a failure kind (`connect-refused`, `status`, ...). */
const ErrorCode = z.union([z.number().int(), z.string()]).superRefine((code, ctx) => {
  if (typeof code === 'number' && !KNOWN_WSO2_CODES.has(code)) {
    ctx.addIssue({ code: 'custom', message: `${code} is not a known WSO2 error code (${[...KNOWN_WSO2_CODES].join(', ')})` })
  }
  if (typeof code === 'string' && !(FAILURE_KINDS as string[]).includes(code)) {
    ctx.addIssue({ code: 'custom', message: `"${code}" is not a failure kind (${FAILURE_KINDS.join(', ')}); WSO2 error codes are numbers` })
  }
})

/** Failures that move a leaf to `timeout`: still tried, suspended after `retriesBeforeSuspension` more failures. */
const MarkForSuspension = z.strictObject({
  /** Empty: no failure leads to `timeout`; every failure goes straight to suspendOnFailure. */
  errorCodes: z.array(ErrorCode).default([]),
  retriesBeforeSuspension: z.number().int().min(0).default(0),
  /** How long a leaf in `timeout` waits after a failure before it is tried again. */
  retryDelay: Duration.default(0),
})

/** Failures that suspend a leaf, and for how long. */
const SuspendOnFailure = z.strictObject({
  /** Empty: every backend failure not listed under markForSuspension (WSO2's default). */
  errorCodes: z.array(ErrorCode).default([]),
  initialDuration: Duration.default(30_000),
  /** Each suspension that follows a failed trial lasts this many times the previous one. */
  progressionFactor: z.number().min(1).default(1),
  /** Longest suspension; unset means no bound. */
  maximumDuration: Duration.optional(),
})

/** An active health check: a GET that takes a leaf out of rotation and brings it back without client traffic. */
const HealthCheck = z.strictObject({
  /** Path probed on the leaf's origin (its `url`); a leaf without `url` needs `healthCheck.url`. */
  path: z.string().regex(/^\/[^\s#]*$/, 'must start with "/" and contain no spaces or "#"').default('/'),
  /** An absolute URL to probe instead of `path` on the leaf's origin. */
  url: z.url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' }).optional(),
  interval: Duration.refine((ms) => ms > 0, 'must be more than 0').default(10_000),
  timeout: Duration.refine((ms) => ms > 0, 'must be more than 0').default(2_000),
  /** Consecutive passing checks that bring an unhealthy leaf back. */
  healthyThreshold: z.number().int().min(1).default(2),
  /** Consecutive failing checks that take a healthy leaf out. */
  unhealthyThreshold: z.number().int().min(1).default(3),
})

/** Spread into `leafFields`: suspension and health checks apply to every leaf type alike. */
export const resilienceFields = {
  markForSuspension: MarkForSuspension.prefault({}),
  /** Unset: WSO2's defaults inside a group; off for a leaf that stands alone (see `suspensionPolicy`). */
  suspendOnFailure: SuspendOnFailure.optional(),
  /** Backend statuses that count as a failure (kind `status`), e.g. [502, 503, 504]. */
  failureStatuses: z.array(z.number().int().min(100).max(599)).default([]),
  healthCheck: HealthCheck.optional(),
}

export type HealthCheckConfig = z.output<typeof HealthCheck>
export type SuspendOnFailureConfig = z.output<typeof SuspendOnFailure>

/** WSO2's defaults: any backend failure suspends for 30 s. */
export const DEFAULT_SUSPEND_ON_FAILURE: SuspendOnFailureConfig = SuspendOnFailure.parse({})
const NO_SUSPENSION: SuspendOnFailureConfig = { ...DEFAULT_SUSPEND_ON_FAILURE, initialDuration: 0, maximumDuration: 0 }

/**
 * The suspension a leaf follows. Unless configured, a leaf in a group suspends as in WSO2, so the group stops
 * sending it traffic; a leaf that stands alone is never suspended, as nginx treats a lone upstream server:
 * suspending the only way to a backend turns one failure into 30 s of refusals with nothing to gain.
 */
export function suspensionPolicy(config: Pick<ResilienceConfig, 'markForSuspension' | 'suspendOnFailure'>, inGroup: boolean) {
  return {
    markForSuspension: config.markForSuspension,
    suspendOnFailure: config.suspendOnFailure ?? (inGroup ? DEFAULT_SUSPEND_ON_FAILURE : NO_SUSPENSION),
  }
}
export type ResilienceConfig = z.output<z.ZodObject<typeof resilienceFields>>

/** A health check with nothing to probe: a leaf type without `url` whose healthCheck names no `url` either. */
export function healthCheckIssue(leaf: object): { path: string[]; message: string } | undefined {
  const check = 'healthCheck' in leaf ? (leaf.healthCheck as HealthCheckConfig | undefined) : undefined
  if (!check || check.url !== undefined || ('url' in leaf && typeof leaf.url === 'string')) return undefined
  return { path: ['healthCheck', 'url'], message: 'is required: this endpoint type has no url whose origin the check could probe' }
}
