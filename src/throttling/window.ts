import type { Period } from './schema.ts'

const PERIOD_MS: Record<Exclude<Period, 'month'>, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 }

/**
 * The fixed window of `period` that holds `now`, aligned to the clock (UTC): every process and node that agrees on
 * the time agrees on the window, so a count kept anywhere (one process, the primary, Redis) means the same thing.
 */
export function windowAt(period: Period, now: number): { start: number; end: number } {
  if (period === 'month') {
    const date = new Date(now)
    return { start: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1), end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) }
  }
  const size = PERIOD_MS[period]
  const start = now - (now % size)
  return { start, end: start + size }
}
