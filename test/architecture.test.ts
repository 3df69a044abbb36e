import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { checkArchitecture } from './support/architecture.ts'
import { projectImports, type Import } from './support/imports.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const REAL = projectImports(ROOT, ['src', 'test'])

/** The real imports plus one more, to see what the check says about it. */
function withImport(from: string, to: string, options: { typeOnly?: boolean; external?: boolean } = {}): string[] {
  const extra: Import = { from, to, typeOnly: options.typeOnly ?? false, external: options.external ?? false }
  return checkArchitecture([...REAL, extra]).map((violation) => violation.message)
}

describe('architecture: imports only point down the layers', () => {
  test('every import of src/ and test/ keeps the layering rules', () => {
    assert.ok(REAL.length > 300, `the parser found ${REAL.length} imports; it should see every file`)
    assert.deepEqual(checkArchitecture(REAL).map((violation) => violation.message), [])
  })

  test('the parser sees multi-line, type-only, re-exported and dynamic imports, and skips imports in comments', () => {
    const has = (from: string, to: string, typeOnly: boolean) => REAL.some((imp) => imp.from === from && imp.to === to && imp.typeOnly === typeOnly)
    assert.ok(has('src/gateway/pipeline.ts', 'src/core/filter.ts', true), 'import type { … }')
    assert.ok(has('src/config/schema.ts', 'src/core/uri-template.ts', false), 'a value import')
    assert.ok(has('test/support/cli.ts', 'test/support/net.ts', false), 'export { … } from')
    assert.ok(has('test/balancing.test.ts', 'src/balancing/sticky-session.ts', false), 'await import(…)')
    assert.ok(!REAL.some((imp) => imp.to.includes('nowhere')), 'nothing invented')
  })

  // Each rule, broken once on purpose: the check names the rule and the import.
  const broken: [rule: string, from: string, to: string, options?: { typeOnly?: boolean; external?: boolean }][] = [
    ['imports-point-down', 'src/endpoints/http.ts', 'src/gateway/pipeline.ts'],
    ['imports-point-down', 'src/soap/xml.ts', 'src/lambda/events.ts'],
    ['core-imports-nothing', 'src/core/endpoint.ts', 'src/config/schema.ts', { typeOnly: true }],
    ['model-imports-no-runtime', 'src/resilience/schema.ts', 'src/gateway/api.ts', { typeOnly: true }],
    ['model-imports-no-runtime', 'src/soap/schema.ts', 'node:fs', { external: true }],
    ['model-imports-no-runtime', 'src/mediation/payload.ts', 'node:net', { external: true }],
    ['balancing-knows-no-endpoint-type', 'src/balancing/sticky-session.ts', 'src/soap/session.ts'],
    ['data-plane-never-imports-control-plane', 'src/gateway/gateway.ts', 'src/admin/server.ts'],
    ['data-plane-never-imports-control-plane', 'src/endpoints/factory.ts', 'src/process/instance.ts'],
    ['tests-never-import-bench', 'test/support/gateway.ts', 'bench/scenarios.ts'],
    ['no-cycles', 'src/core/endpoint.ts', 'src/core/failure.ts'],
  ]
  for (const [rule, from, to, options] of broken) {
    test(`${rule}: ${from} → ${to} fails the check`, () => {
      const messages = withImport(from, to, options)
      assert.ok(
        messages.some((message) => message.startsWith(`${rule}: `) && message.includes(from) && (rule === 'no-cycles' || message.includes(to))),
        `expected a ${rule} violation naming ${from} and ${to}, got ${JSON.stringify(messages)}`,
      )
    })
  }

  test('an import only of types makes no cycle: it is gone when the files run', () => {
    assert.deepEqual(withImport('src/core/endpoint.ts', 'src/core/failure.ts', { typeOnly: true }), [])
  })
})
