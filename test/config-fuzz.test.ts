import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { parse } from 'yaml'
import { ConfigError, parseConfigData } from '../src/config/load.ts'
import { places, replaced } from './support/mutations.ts'

// Values of the wrong type or shape, edge numbers, and text with broken template braces or a missing secret.
const REPLACEMENTS = [null, 42, -1, 1e300, ['x'], { x: 1 }, 'x', '', '{a', '/a/{b', '${env:PORTICO_FUZZ_UNSET}', true]

test('every value of every example config replaced by a wrong one: a refusal naming the field, or a valid config; never a throw', async () => {
  const examples = ['portico', 'failover', 'soap', 'mediation', 'prototype', 'lambda', 'security', 'access', 'throttling', 'tls', 'tracing', 'wso2-import']
  let accepted = 0
  let refused = 0
  for (const example of examples) {
    const file = `examples/${example}.yaml`
    const original = parse(await readFile(file, 'utf8')) as unknown
    for (const path of places(original)) {
      for (const value of REPLACEMENTS) {
        const copy = replaced(original, path, value)
        const where = `${file}: ${path.join('.')} = ${JSON.stringify(value)}`
        try {
          parseConfigData(copy, file)
          accepted++
        } catch (error) {
          assert.ok(error instanceof ConfigError, `${where}: ${(error as Error).stack}`)
          // "cannot be checked" is the net under a check that threw: each is a crash to fix.
          assert.ok(!error.issues.some((issue) => issue.message.startsWith('cannot be checked')), `${where}: ${error.message}`)
          refused++
        }
      }
    }
  }
  assert.ok(refused > 1000 && accepted > 100, `${refused} refused, ${accepted} accepted`)
})
