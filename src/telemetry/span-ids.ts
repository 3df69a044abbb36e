import { randomFillSync } from 'node:crypto'
import type { IdGenerator } from '@opentelemetry/sdk-trace-base'

/** Random bytes drawn at a time: 128 requests' ids (a trace id and two span ids each). */
const POOL_BYTES = 4096

/** The character code of each hex digit, lowercase as W3C trace context writes them. */
const DIGITS = new Uint8Array([...'0123456789abcdef'].map((digit) => digit.charCodeAt(0)))

const high = (byte: number) => DIGITS[byte >>> 4]!
const low = (byte: number) => DIGITS[byte & 15]!

/**
 * Trace and span ids from a pool of random bytes that crypto fills 4 KiB at a time, each written as hex by one
 * `String.fromCharCode`. The SDK's `RandomIdGenerator` draws each id with `Math.random` into a shared buffer and
 * reads it back with `toString('hex')`, a call into native code for every id: three times the instructions.
 */
export class PooledIdGenerator implements IdGenerator {
  readonly #pool = new Uint8Array(POOL_BYTES)
  #at = POOL_BYTES

  generateTraceId(): string {
    const p = this.#pool
    const i = this.#take(16)
    return String.fromCharCode(
      high(p[i]!), low(p[i]!), high(p[i + 1]!), low(p[i + 1]!), high(p[i + 2]!), low(p[i + 2]!), high(p[i + 3]!), low(p[i + 3]!),
      high(p[i + 4]!), low(p[i + 4]!), high(p[i + 5]!), low(p[i + 5]!), high(p[i + 6]!), low(p[i + 6]!), high(p[i + 7]!), low(p[i + 7]!),
      high(p[i + 8]!), low(p[i + 8]!), high(p[i + 9]!), low(p[i + 9]!), high(p[i + 10]!), low(p[i + 10]!), high(p[i + 11]!), low(p[i + 11]!),
      high(p[i + 12]!), low(p[i + 12]!), high(p[i + 13]!), low(p[i + 13]!), high(p[i + 14]!), low(p[i + 14]!), high(p[i + 15]!), low(p[i + 15]!),
    )
  }

  generateSpanId(): string {
    const p = this.#pool
    const i = this.#take(8)
    return String.fromCharCode(
      high(p[i]!), low(p[i]!), high(p[i + 1]!), low(p[i + 1]!), high(p[i + 2]!), low(p[i + 2]!), high(p[i + 3]!), low(p[i + 3]!),
      high(p[i + 4]!), low(p[i + 4]!), high(p[i + 5]!), low(p[i + 5]!), high(p[i + 6]!), low(p[i + 6]!), high(p[i + 7]!), low(p[i + 7]!),
    )
  }

  /** Where the next `bytes` random bytes start; never all zero, which W3C trace context does not allow for an id. */
  #take(bytes: number): number {
    for (;;) {
      if (this.#at + bytes > POOL_BYTES) {
        randomFillSync(this.#pool)
        this.#at = 0
      }
      const at = this.#at
      this.#at += bytes
      let any = 0
      for (let i = at; i < at + bytes; i++) any |= this.#pool[i]!
      if (any !== 0) return at
    }
  }
}
