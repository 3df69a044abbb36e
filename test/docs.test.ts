import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { examples } from '../examples/catalog.ts'

// The commands in README.md and docs/ run as written from a fresh clone, and every example answers with the
// stand-in backends `npm run example -- NAME` starts: a doc or an example that stops working fails here.
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DOCUMENTS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]
const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts

interface Command {
  document: string
  line: string
  /** The words of the command, without its trailing comment. */
  words: string[]
  comment: string
}

/** The command lines of the ```sh blocks that run something of the project's (npm, node, portico). */
function documentedCommands(document: string): Command[] {
  const commands: Command[] = []
  let inShell = false
  for (const line of readFileSync(join(ROOT, document), 'utf8').split('\n')) {
    if (line.startsWith('```')) {
      inShell = !inShell && /^```(sh|bash|shell)\s*$/.test(line)
      continue
    }
    if (!inShell || !/^(npm|npx|node|portico|bin\/portico)\s/.test(line)) continue
    const [, command = '', comment = ''] = /^(.*?)(?:\s+#\s*(.*))?$/.exec(line)!
    const words = command.match(/'[^']*'|\S+/g)!.map((word) => word.replace(/^'(.*)'$/, '$1'))
    commands.push({ document, line, words, comment })
  }
  return commands
}

const commands = DOCUMENTS.flatMap(documentedCommands)

/** The repository's files as a clone has them (tracked, or new and not ignored), with node_modules linked. */
function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-docs-'))
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(listed.status, 0, listed.stderr)
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(ROOT, file))) continue
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    copyFileSync(join(ROOT, file), join(dir, file))
  }
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'))
  return dir
}

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
  return { code: result.status, output: `${result.stdout}\n${result.stderr}` }
}

describe('README and docs: every command runs as written', () => {
  let clone: string
  before(() => {
    clone = freshCopy()
  })
  after(() => rmSync(clone, { recursive: true, force: true }))

  test('the docs hold commands to check, and none runs the machine\'s own node or a portico that is not installed', () => {
    assert.ok(commands.length >= 15, `only ${commands.length} commands found`)
    for (const { document, line, words } of commands) {
      assert.notEqual(words[0], 'node', `${document}: "${line}" runs the machine's node, which may not be Node 24: use an npm script`)
      assert.notEqual(words[0], 'portico', `${document}: "${line}": no portico is on PATH in a checkout; write npm run portico -- or bin/portico`)
    }
  })

  test('every npm script the docs name exists, and every example they start has a config and stand-ins', () => {
    for (const { document, line, words } of commands.filter((command) => command.words[0] === 'npm' && command.words[1] === 'run')) {
      assert.ok(scripts[words[2]!], `${document}: "${line}": package.json has no script "${words[2]}"`)
      if (words[2] === 'example') {
        const name = words[4]!
        assert.ok(examples[name], `${document}: "${line}": examples/catalog.ts has no example "${name}"`)
      }
    }
  })

  for (const document of DOCUMENTS) {
    const portico = documentedCommands(document).filter(
      ({ words }) => (words[0] === 'npm' && words[1] === 'run' && words[2] === 'portico' && words[3] === '--') || words[0] === 'bin/portico',
    )
    if (portico.length === 0) continue
    test(`${document}: each portico command runs in a fresh clone (a start is validated instead)`, () => {
      for (const { line, words, comment } of portico) {
        const args = words[0] === 'bin/portico' ? words.slice(1) : words.slice(4)
        // `start` would not return: the same config through `validate` shows it is there and loads; a start from a
        // store is checked by exporting that store (which opens and migrates it as start does).
        const store = args.indexOf('--store')
        const checked = args[0] === 'start' ? (store > 0 ? ['export', '--store', args[store + 1]!] : ['validate', args[args.indexOf('--config') + 1]!]) : args
        // What `npm run portico --` runs (checked below), without npm's own start-up time.
        const { code, output } = run(process.execPath, ['src/cli.ts', ...checked], clone)
        const expected = /exit code (\d)/.exec(comment)?.[1] ?? '0'
        assert.equal(String(code), expected, `${document}: "${line}" exited ${code}:\n${output}`)
        assert.doesNotMatch(output, /ENOENT|cannot read|cannot import|does not exist/, `${document}: "${line}":\n${output}`)
      }
    })
  }

  test('npm run portico is the command line on the project\'s Node', () => {
    assert.equal(scripts.portico, 'node src/cli.ts')
  })

  test('bin/portico runs the command line on the project\'s Node, whatever node is first on PATH', () => {
    const { code, output } = run(join(clone, 'bin/portico'), ['validate', 'examples/failover.yaml'], clone)
    assert.equal(code, 0, output)
    assert.match(output, /examples\/failover\.yaml is valid/)
  })
})

describe('examples: each config runs against its stand-in backends (npm run example -- NAME)', () => {
  test('every example config has an entry in examples/catalog.ts', () => {
    const configs = readdirSync(join(ROOT, 'examples')).filter((name) => name.endsWith('.yaml')).map((name) => name.replace(/\.yaml$/, ''))
    assert.deepEqual(configs.sort(), Object.keys(examples).sort())
  })

  for (const [name, example] of Object.entries(examples)) {
    test(`${name}: every sample request answers as the catalog says`, async () => {
      const runner = spawn(process.execPath, [join(ROOT, 'examples/run.ts'), name, '--workers', '1'], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, PORTICO_LOG_LEVEL: 'info' },
      })
      let log = ''
      runner.stderr.on('data', (chunk: Buffer) => (log += chunk))
      const exited = new Promise<number | null>((resolve) => runner.once('exit', resolve))
      try {
        await waitFor(() => log.includes('listening on'), () => `${name} did not start:\n${log}`, () => runner.exitCode !== null)
        for (const sample of example.samples) {
          const response = await request(`http://127.0.0.1:8280${sample.path}`, {
            method: (sample.method ?? 'GET') as 'GET',
            headers: sample.headers ?? {},
            ...(sample.body === undefined ? {} : { body: sample.body }),
          })
          const body = await response.body.text()
          assert.equal(response.statusCode, sample.status, `${name}: ${sample.path}: ${body}`)
          assert.ok(body.includes(sample.contains), `${name}: ${sample.path}: "${sample.contains}" not in ${body}`)
        }
        // README's quick start tries `npm start` (this example) with curl: each of those lines answers too.
        if (name === 'portico') {
          const lines = readmeCurlLines()
          assert.ok(lines.length >= 3, 'no curl lines found in README.md')
          for (const line of lines) {
            const url = line.match(/localhost:\d+\/\S*/)![0]
            const headers = Object.fromEntries([...line.matchAll(/-H '([^:]+): ([^']*)'/g)].map(([, header, value]) => [header!, value!]))
            const response = await request(`http://${url.replace('localhost', '127.0.0.1')}`, { headers })
            await response.body.dump()
            assert.equal(response.statusCode, 200, `README.md: "${line}"`)
          }
        }
      } finally {
        runner.kill('SIGTERM')
        await exited
      }
    })
  }
})

function readmeCurlLines(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  return [...readme.matchAll(/^curl [^#\n]*/gm)].map(([line]) => line.trim())
}

async function waitFor(done: () => boolean, failure: () => string, gone: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (gone() || Date.now() > deadline) throw new Error(failure())
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
