import { z } from 'zod'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/

/** A duration: milliseconds as a number, or a string such as `250ms`, `5s`, `2m`, `1h`. Parsed to milliseconds. */
export const Duration = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(DURATION, 'must be a duration such as "250ms", "5s", "2m" or a number of milliseconds'),
  ])
  .transform((value) => (typeof value === 'number' ? value : toMilliseconds(value)))

function toMilliseconds(text: string): number {
  const match = DURATION.exec(text)
  if (!match) throw new Error(`not a duration: ${text}`)
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!)
}
