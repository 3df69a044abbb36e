import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { freePort } from './support/cli.ts'

// docs/production.md: what a production install has, the systemd unit and the container image.
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; bin: Record<string, string> }

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : []
  })
}

/** Why a command cannot be used here, or undefined when it can. */
function unusable(command: string, args: string[], timeoutMs = 20_000): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
  if (result.error) return `${command} is not installed`
  if (result.status !== 0) return `${command} ${args.join(' ')} failed: ${(result.stderr || result.stdout).trim().split('\n').at(-1)}`
  return undefined
}

describe('production: npm ci --omit=dev, systemd, container image', () => {
  test('a production install (npm ci --omit=dev) keeps Node.js 24 and every package the gateway imports', () => {
    assert.ok(pkg.dependencies.node?.startsWith('^24'), 'node must be a runtime dependency')
    assert.equal(pkg.devDependencies.node, undefined)
    const imported = new Set<string>()
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      // Type-only imports are stripped before the code runs.
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/^import (?!type )[^'"]*?from '([^'.][^']*)'/gm)) {
        if (!specifier!.startsWith('node:')) imported.add(specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!)
      }
    }
    assert.ok(imported.size > 10, `only ${imported.size} packages found`)
    for (const name of imported) assert.ok(pkg.dependencies[name], `src/ imports "${name}", which npm ci --omit=dev does not install`)
  })

  test('the portico bin runs on the Node.js 24 of node_modules, not on the node of PATH', () => {
    assert.equal(pkg.bin.portico, 'bin/portico')
    // A PATH with no node at all: the bin needs none of its own.
    const result = spawnSync(join(ROOT, 'bin/portico'), ['validate', join(ROOT, 'examples/prototype.yaml')], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin' },
      cwd: tmpdir(),
    })
    assert.equal(result.status, 0, result.stderr)
    assert.match(result.stdout, /prototype\.yaml is valid/)
  })

  test('deploy/portico.service passes systemd-analyze verify', { skip: unusable('systemd-analyze', ['--version']) }, () => {
    // The unit names /opt/portico; verify checks that ExecStart exists, so point it at this checkout.
    const dir = mkdtempSync(join(tmpdir(), 'portico-unit-'))
    try {
      const unit = join(dir, 'portico.service')
      writeFileSync(unit, readFileSync(join(ROOT, 'deploy/portico.service'), 'utf8').replaceAll('/opt/portico', ROOT.replace(/\/$/, '')))
      const result = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' })
      assert.equal(result.status, 0, result.stderr)
      assert.equal(result.stderr.trim(), '')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  const noDocker = unusable('docker', ['info', '--format', '{{.ServerVersion}}'])
  test('the Dockerfile builds an image that serves the prototype example', { skip: noDocker && `no Docker engine here (${noDocker}); docs/production.md says how to build it`, timeout: 900_000 }, async (t) => {
    // The base image comes from Docker Hub: an engine that cannot reach it cannot build, which is no defect here.
    const noBase = unusable('docker', ['pull', '--quiet', 'debian:bookworm-slim'], 300_000)
    if (noBase) return t.skip(`cannot get the base image (${noBase})`)
    const tag = `portico-test:${process.pid}`
    const build = spawnSync('docker', ['build', '-t', tag, ROOT], { encoding: 'utf8', timeout: 840_000 })
    assert.equal(build.status, 0, build.stderr)
    const port = await freePort()
    const run = spawnSync('docker', ['run', '-d', '--rm', '-p', `127.0.0.1:${port}:8280`, tag], { encoding: 'utf8' })
    assert.equal(run.status, 0, run.stderr)
    const container = run.stdout.trim()
    try {
      const deadline = Date.now() + 60_000
      let answer: { status: number; body: string } | undefined
      while (!answer && Date.now() < deadline) {
        try {
          const response = await request(`http://127.0.0.1:${port}/pizzashack/1.0.0/menu?veg=true`)
          answer = { status: response.statusCode, body: await response.body.text() }
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 500))
        }
      }
      assert.ok(answer, 'the container never answered')
      assert.equal(answer.status, 200)
      assert.match(answer.body, /Garden Veggie/)
    } finally {
      spawnSync('docker', ['rm', '-f', container])
      spawnSync('docker', ['rmi', '-f', tag])
    }
  })
})
