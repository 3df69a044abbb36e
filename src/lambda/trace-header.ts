const TRACEPARENT = /^00-([0-9a-f]{8})([0-9a-f]{24})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The Invoke API's `X-Amzn-Trace-Id` for a W3C `traceparent`: AWS X-Ray writes the same 128-bit trace id as
 * `1-<first 8 hex digits>-<other 24>`, so the function's segments join the gateway's trace. Undefined for a
 * traceparent of another version or malformed.
 */
export function amazonTraceHeader(traceparent: string): string | undefined {
  const match = TRACEPARENT.exec(traceparent)
  if (!match) return undefined
  const sampled = (Number.parseInt(match[4]!, 16) & 1) === 1 ? 1 : 0
  return `Root=1-${match[1]}-${match[2]};Parent=${match[3]};Sampled=${sampled}`
}
