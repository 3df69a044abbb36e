import { z } from 'zod'
import { Duration } from '../core/duration.ts'

/**
 * Backend protection for one leaf (WSO2's `maxTps`, production and sandbox each on their own leaf): at most
 * `maxTps` requests in each second of the clock and `maxConcurrent` requests in flight (until the response body
 * ends). A request beyond either waits up to `queueTimeout` for room, then fails with kind `at-capacity` (503
 * BACKEND_AT_CAPACITY, or the next member of a group).
 */
export const Capacity = z
  .strictObject({
    maxTps: z.number().int().min(1).optional(),
    maxConcurrent: z.number().int().min(1).optional(),
    queueTimeout: Duration.default(0),
  })
  .refine((capacity) => capacity.maxTps !== undefined || capacity.maxConcurrent !== undefined, {
    message: 'must give "maxTps", "maxConcurrent" or both',
  })
export type CapacityConfig = z.output<typeof Capacity>
