import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { matchesErrorCodes, WSO2_ERROR_CODES } from '../src/core/error-codes.ts'
import { Suspension } from '../src/resilience/suspension.ts'

const policy = (mark: Partial<{ errorCodes: (number | string)[]; retriesBeforeSuspension: number; retryDelay: number }> = {}, suspend: Partial<{ errorCodes: (number | string)[]; initialDuration: number; progressionFactor: number; maximumDuration: number }> = {}) => ({
  markForSuspension: { errorCodes: [], retriesBeforeSuspension: 0, retryDelay: 0, ...mark },
  suspendOnFailure: { errorCodes: [], initialDuration: 30_000, progressionFactor: 1, ...suspend },
})

describe('endpoint suspension state machine', () => {
  test('WSO2 codes name failure kinds: 101503 refused, 101504 read timeout, 101505 closed, 101508 connect timeout, -1 any', () => {
    assert.equal(WSO2_ERROR_CODES['connect-refused'], 101503)
    assert.ok(matchesErrorCodes([101504], 'read-timeout'))
    assert.ok(matchesErrorCodes([101505], 'reset'))
    assert.ok(matchesErrorCodes([101508], 'connect-timeout'))
    assert.ok(!matchesErrorCodes([101504], 'connect-timeout'))
    assert.ok(matchesErrorCodes(['status'], 'status'))
    assert.ok(matchesErrorCodes([-1], 'dns'))
  })

  test('by default any failure suspends for 30 s and a success after it makes the leaf active', () => {
    const suspension = new Suspension(policy())
    assert.deepEqual(suspension.failed('connect-refused', 1000), { from: 'active', to: 'suspended', reason: 'connect-refused', until: 31_000 })
    assert.equal(suspension.ready(30_999), false)
    assert.equal(suspension.ready(31_000), true)
    suspension.begin()
    assert.equal(suspension.ready(31_000), false, 'one trial at a time')
    assert.deepEqual(suspension.succeeded(), { from: 'suspended', to: 'active', reason: 'a request succeeded' })
    assert.equal(suspension.ready(31_001), true)
  })

  test('failed trials lengthen the suspension by progressionFactor up to maximumDuration; success starts over', () => {
    const suspension = new Suspension(policy({}, { initialDuration: 100, progressionFactor: 3, maximumDuration: 500 }))
    suspension.failed('reset', 0)
    const lengths = [suspension.lastDuration]
    for (let i = 0; i < 3; i++) {
      const now = suspension.retryAt!
      suspension.begin()
      suspension.failed('reset', now)
      lengths.push(suspension.lastDuration)
    }
    assert.deepEqual(lengths, [100, 300, 500, 500])
    suspension.begin()
    suspension.succeeded()
    suspension.failed('reset', 10_000)
    assert.equal(suspension.lastDuration, 100)
  })

  test('a failure while suspended that was not the trial changes nothing', () => {
    const suspension = new Suspension(policy({}, { initialDuration: 100 }))
    suspension.failed('reset', 0)
    assert.equal(suspension.failed('reset', 50), undefined)
    assert.equal(suspension.retryAt, 100)
  })

  test('markForSuspension codes give timeout state with retries and retryDelay, then suspension', () => {
    const suspension = new Suspension(policy({ errorCodes: [101504], retriesBeforeSuspension: 2, retryDelay: 100 }))
    assert.equal(suspension.failed('read-timeout', 0)?.to, 'timeout')
    assert.equal(suspension.ready(50), false, 'retryDelay')
    assert.equal(suspension.ready(100), true)
    assert.equal(suspension.failed('read-timeout', 100), undefined, 'still timeout: logged once')
    assert.equal(suspension.state, 'timeout')
    assert.equal(suspension.failed('read-timeout', 200)?.to, 'suspended')
  })

  test('suspendOnFailure codes limit what suspends; other failures leave the leaf active', () => {
    const suspension = new Suspension(policy({}, { errorCodes: [101503] }))
    assert.equal(suspension.failed('read-timeout', 0), undefined)
    assert.equal(suspension.state, 'active')
    assert.equal(suspension.failed('connect-refused', 0)?.to, 'suspended')
  })

  test('both durations 0 turn suspension off', () => {
    const suspension = new Suspension(policy({}, { initialDuration: 0, maximumDuration: 0 }))
    assert.equal(suspension.failed('connect-refused', 0), undefined)
    assert.equal(suspension.ready(0), true)
  })

  test('a trial that ends without a verdict frees the way for the next trial', () => {
    const suspension = new Suspension(policy({}, { initialDuration: 10 }))
    suspension.failed('reset', 0)
    suspension.begin()
    assert.equal(suspension.ready(20), false)
    suspension.release()
    assert.equal(suspension.ready(20), true)
  })
})

describe('leaf checks across fields', () => {
  test('a leaf without url needs healthCheck.url; TLS on an http:// url is refused; both at their paths inside groups', async () => {
    const { leafIssues } = await import('../src/endpoints/tree.ts')
    const check = { path: '/health', interval: 1000, timeout: 500, healthyThreshold: 1, unhealthyThreshold: 1 }
    const group = {
      type: 'failover',
      endpoints: [
        { type: 'http', url: 'http://a', healthCheck: check },
        { type: 'lambda', healthCheck: check },
        { type: 'lambda', healthCheck: { ...check, url: 'http://probe/health' } },
        { type: 'http', url: 'http://b', security: { tls: { insecureSkipVerify: true } } },
        { type: 'http', url: 'https://c', security: { tls: { insecureSkipVerify: true } } },
      ],
    }
    assert.deepEqual(leafIssues(group, ['apis', 0]), [
      { path: ['apis', 0, 'endpoints', 1, 'healthCheck', 'url'], message: 'is required: this endpoint type has no url whose origin the check could probe' },
      { path: ['apis', 0, 'endpoints', 3, 'security', 'tls'], message: 'has no effect: the endpoint url is http://, not https://' },
    ])
    const mixed = { type: 'failover', endpoints: [{ type: 'http', url: 'https://a' }, { type: 'prototype' }] }
    assert.deepEqual(leafIssues(mixed).map((issue) => issue.message), [
      'mixes prototype endpoints with real ones; a group must be all prototypes (served while CREATED or PROTOTYPED) or none',
    ])
    const lambda = { type: 'lambda', function: 'f', security: { auth: { type: 'basic', username: 'u', password: 'p' } } }
    assert.deepEqual(leafIssues(lambda).map((issue) => issue.path), [['security']])
  })
})
