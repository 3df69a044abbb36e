import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isValidSpanId, isValidTraceId } from '@opentelemetry/api'
import { PooledIdGenerator } from '../src/telemetry/span-ids.ts'

test('trace and span ids are valid W3C ids, lowercase hex, and do not repeat across pool refills', () => {
  const ids = new PooledIdGenerator()
  const seen = new Set<string>()
  // 4 KiB of random bytes serve 170 requests' ids: this draws from twenty pools.
  for (let i = 0; i < 3000; i++) {
    const traceId = ids.generateTraceId()
    const spanId = ids.generateSpanId()
    assert.ok(isValidTraceId(traceId) && /^[0-9a-f]{32}$/.test(traceId), traceId)
    assert.ok(isValidSpanId(spanId) && /^[0-9a-f]{16}$/.test(spanId), spanId)
    assert.ok(!seen.has(traceId) && !seen.has(spanId))
    seen.add(traceId).add(spanId)
  }
})
