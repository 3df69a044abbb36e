import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseDocument } from 'yaml'
import { parseConfig, plainYamlData } from '../src/config/load.ts'
import { loadConfigFile } from '../src/config/reader.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** What the full parser makes of a document: the reference the fast path must match. */
const full = (text: string) => parseDocument(text, { uniqueKeys: true }).toJS({ maxAliasCount: 100 })

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : yamlFiles(path)
    return /\.ya?ml$/.test(name) ? [path] : []
  })
}

test('the fast YAML path reads every YAML file of the project as the full parser does', () => {
  let compared = 0
  for (const file of [...yamlFiles(join(ROOT, 'examples')), ...yamlFiles(join(ROOT, 'test/fixtures'))]) {
    const text = readFileSync(file, 'utf8')
    const fast = plainYamlData(text)
    if (fast === undefined) continue
    assert.deepEqual(fast, full(text), file)
    compared++
  }
  assert.ok(compared >= 20, `compared ${compared} files`)
})

test('the fast YAML path agrees on YAML 1.2 core scalars, and steps aside for what it does not bound', () => {
  const scalars = `
plain: [yes, no, on, off, y, n, true, False, TRUE, null, Null, ~, "", '']
numbers: [0o17, 017, 0x1F, 1e3, -.5, +.5, .5, 0., -0, -.5e3, 0o8, 0b101, +12, .inf, -.Inf, .NAN, .nan, 1_000, 3.0, 12:30, 1:20:30, 1e, 0x]
dates: [2024-01-01, 2024-01-01T10:00:00Z]
strings: ["quoted: yes", 'single ''quote''', plain words, "/items/{id}", "/*", a#b, 'c # d']
blocks:
  literal: |
    line one
      indented
  folded: >-
    folded
    text
"<<": not a merge key
empty:
nested: { a: [1, { b: c }], "key with spaces": value }
`
  assert.deepEqual(plainYamlData(scalars), full(scalars))
  assert.equal(plainYamlData('a: &x [1]\nb: *x\n'), undefined, 'aliases take the bounded parser')
  assert.equal(plainYamlData('a: !!binary aGk=\n'), undefined, 'tags take the full parser')
  assert.equal(plainYamlData('a: 1\na: 2\n'), undefined, 'a duplicate key is left to the full parser, which reports it')
  assert.equal(plainYamlData('a: [1\n'), undefined)
  assert.equal(plainYamlData('a: 1\n---\nb: 2\n'), undefined)
})

test('a config the fast path refuses is reported by the full parser, with lines', async () => {
  const text = 'listeners: [{ port: 8280 }]\napis:\n  - name: a\n    context: /a\n    version: v1\n    resources: [{ uriTemplate: /x }]\n    endpoints: { production: { type: http, url: "ftp://x" } }\n'
  assert.throws(() => parseConfig(text, 'bad.yaml'), (error: Error) => /bad\.yaml:7:\d+: apis\[0\]\.endpoints\.production\.url/.test(error.message))
  const duplicate = 'listeners: [{ port: 8280 }]\nlisteners: []\n'
  assert.throws(() => parseConfig(duplicate, 'dup.yaml'), (error: Error) => /dup\.yaml:2:\d+: .*unique/i.test(error.message))
  assert.ok(await loadConfigFile(join(ROOT, 'examples/portico.yaml')))
})
