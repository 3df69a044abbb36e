import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

// scripts/prepare-test-env.sh, which `npm test` runs first. PORTICO_PREPARE_PRETEND_MISSING makes it see a package
// or service as absent; the failure paths run as `nobody`, who can neither install nor start anything.
const SCRIPT = fileURLToPath(new URL('../scripts/prepare-test-env.sh', import.meta.url))
const isRoot = process.getuid?.() === 0
const asNobody = isRoot && existsSync('/usr/bin/setpriv')

function prepare(pretendMissing: string, nobody: boolean) {
  // As nobody the script is read from standard input, from /: a checkout may sit where nobody cannot read (a mktemp dir).
  const command = nobody ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', 'bash', '-s'] : ['bash', SCRIPT]
  const started = performance.now()
  const result = spawnSync(command[0]!, command.slice(1), {
    encoding: 'utf8',
    cwd: nobody ? '/' : undefined,
    input: nobody ? readFileSync(SCRIPT, 'utf8') : undefined,
    stdio: [nobody ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORTICO_PREPARE_PRETEND_MISSING: pretendMissing },
    timeout: 60_000,
  })
  return { code: result.status, stderr: result.stderr, ms: performance.now() - started }
}

describe('npm test prepares the machine (scripts/prepare-test-env.sh)', () => {
  test('npm test runs the preparation before the type check and the tests', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { test: string } }
    assert.match(pkg.scripts.test, /^bash scripts\/prepare-test-env\.sh && /)
  })

  test('with everything present it is a silent no-op that takes well under a second', () => {
    const { code, stderr, ms } = prepare('', false)
    assert.equal(code, 0, stderr)
    assert.equal(stderr, '')
    assert.ok(ms < 1_500, `took ${Math.round(ms)} ms`)
  })

  test('a missing package that this user cannot install stops at once with the one command that installs it', { skip: !asNobody && 'needs root and setpriv to run as nobody' }, () => {
    const { code, stderr, ms } = prepare('nginx apache2-utils', true)
    assert.equal(code, 1)
    assert.match(stderr, /not installed: apache2-utils nginx\./)
    assert.match(stderr, /^ {2}sudo apt-get update && sudo apt-get install -y --no-install-recommends apache2-utils nginx$/m)
    assert.ok(ms < 1_500, `took ${Math.round(ms)} ms`)
  })

  test('the PostgreSQL server programs, for the private server the outage test stops, are a package it needs', { skip: !asNobody && 'needs root and setpriv to run as nobody' }, () => {
    const { code, stderr } = prepare('package:postgresql', true)
    assert.equal(code, 1)
    assert.match(stderr, /not installed: postgresql\./)
  })

  test('PostgreSQL that cannot be started stops the tests at once, saying why', { skip: !asNobody && 'needs root and setpriv to run as nobody' }, () => {
    const { code, stderr } = prepare('service:postgresql', true)
    assert.equal(code, 1, stderr)
    assert.match(stderr, /postgresql is not reachable on 127\.0\.0\.1:5432 \(.+\); the tests need it\./)
  })
})
