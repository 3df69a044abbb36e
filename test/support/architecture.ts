import type { Import } from './imports.ts'

/**
 * The rooms of src/ from the top floor down, as docs/architecture.md describes them. A file imports files of its
 * own room and of rooms below it, never above; rooms on one floor (the protocol libraries) do not import each
 * other either.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['cli.ts'],
  ['process'],
  ['admin'],
  ['store'],
  ['import'],
  ['gateway'],
  ['filters'],
  ['config'],
  ['access'],
  ['throttling'],
  ['mediation'],
  ['endpoints'],
  ['resilience'],
  ['balancing'],
  ['security'],
  ['soap', 'lambda', 'prototype'],
  ['telemetry'],
  ['core'],
]

/** Rooms of the control plane, which the data plane never imports: it runs without them (a worker has no admin). */
const CONTROL_PLANE = ['cli.ts', 'process', 'admin', 'store', 'import']

/**
 * The model: the composed config schema and each module's schema beside it. Everything they reach is part of the
 * model too, and none of it may be runtime: no data plane or process, no I/O.
 */
const MODEL_ROOTS = /^src\/(config\/schema|[a-z]+\/schema|[a-z]+\/[a-z-]+-schema|prototype\/config)\.ts$/
const RUNTIME_ROOMS = ['process', 'admin', 'store', 'gateway', 'filters', 'telemetry']
/**
 * Model files that still read files, and why. Each entry must still be needed: one that no longer reads a file
 * fails the check, so the list can only shrink.
 */
const MODEL_READS_FILES_FOR_NOW: ReadonlyMap<string, string> = new Map([
  [
    'src/core/local-file.ts',
    'reached from src/security/schema.ts: a PEM path is replaced by the file\'s text inside the schema, and a file ' +
      'that cannot be read is reported together with the other security problems of the same leaf; moving it to ' +
      'the loader changes those reports',
  ],
])

/** Modules that reach files, sockets, processes or threads. */
const IO_MODULES = new Set(['fs', 'fs/promises', 'net', 'tls', 'http', 'https', 'http2', 'dgram', 'dns', 'cluster', 'child_process', 'worker_threads'].flatMap((name) => [name, `node:${name}`]).concat('undici'))

export interface Violation {
  rule: string
  message: string
}

/** The room of a file under src/ (`src/gateway/api.ts` → `gateway`), or undefined outside src/. */
function room(file: string): string | undefined {
  const match = /^src\/([^/]+)/.exec(file)
  return match ? match[1] : undefined
}

function floor(name: string): number {
  return LAYERS.findIndex((rooms) => rooms.includes(name))
}

/** Every rule broken by `imports`, each naming the rule and the import that breaks it. */
export function checkArchitecture(imports: readonly Import[]): Violation[] {
  const violations: Violation[] = []
  const broken = (rule: string, imp: Import, why: string) => violations.push({ rule, message: `${rule}: ${imp.from} imports ${imp.to}: ${why}` })
  const project = imports.filter((imp) => !imp.external)

  for (const imp of project) {
    const [fromRoom, toRoom] = [room(imp.from), room(imp.to)]
    if (imp.from.startsWith('test/') && imp.to.startsWith('bench/')) broken('tests-never-import-bench', imp, 'a test depends on the benchmark harness')
    if (fromRoom === undefined) continue
    if (toRoom === undefined) {
      broken('imports-point-down', imp, 'src/ imports nothing outside src/')
      continue
    }
    if (fromRoom === 'core' && toRoom !== 'core') broken('core-imports-nothing', imp, 'core is the ground floor and imports nothing else of the project')
    if (fromRoom === 'balancing' && toRoom !== 'balancing' && toRoom !== 'core') {
      broken('balancing-knows-no-endpoint-type', imp, 'a policy chooses among ready children and knows nothing of what they are')
    }
    if (!CONTROL_PLANE.includes(fromRoom) && CONTROL_PLANE.includes(toRoom)) {
      broken('data-plane-never-imports-control-plane', imp, `${toRoom} is control plane; the data plane runs without it`)
    }
    if (fromRoom === toRoom) continue
    const [fromFloor, toFloor] = [floor(fromRoom), floor(toRoom)]
    if (fromFloor < 0) broken('imports-point-down', imp, `src/${fromRoom} is not in the layer list`)
    else if (toFloor < 0) broken('imports-point-down', imp, `src/${toRoom} is not in the layer list`)
    else if (toFloor <= fromFloor) broken('imports-point-down', imp, `${toRoom} is ${toFloor === fromFloor ? 'on the same floor as' : 'above'} ${fromRoom}`)
  }

  violations.push(...modelViolations(imports))
  violations.push(...cycles(project.filter((imp) => !imp.typeOnly)))
  return violations
}

/** `model-imports-no-runtime`: nothing the model reaches is runtime or does I/O. */
function modelViolations(imports: readonly Import[]): Violation[] {
  const byFile = new Map<string, Import[]>()
  for (const imp of imports) byFile.set(imp.from, [...(byFile.get(imp.from) ?? []), imp])
  const violations: Violation[] = []
  const seen = new Set<string>()
  const queue = [...byFile.keys()].filter((file) => MODEL_ROOTS.test(file))
  const reachedFrom = new Map<string, string>()
  const excused = new Set<string>()
  while (queue.length > 0) {
    const file = queue.shift()!
    if (seen.has(file)) continue
    seen.add(file)
    for (const imp of byFile.get(file) ?? []) {
      const via = MODEL_ROOTS.test(file) ? '' : ` (part of the model through ${reachedFrom.get(file)})`
      if (imp.external) {
        if (!imp.typeOnly && IO_MODULES.has(imp.to)) {
          if (MODEL_READS_FILES_FOR_NOW.has(file)) {
            excused.add(file)
            continue
          }
          violations.push({ rule: 'model-imports-no-runtime', message: `model-imports-no-runtime: ${imp.from} imports ${imp.to}${via}: a schema reads no file and opens no socket; check files when the config is loaded` })
        }
        continue
      }
      const target = room(imp.to)
      // A runtime folder's own schema (telemetry/schema.ts) is model: it is checked as a root of its own.
      if (target !== undefined && RUNTIME_ROOMS.includes(target) && !MODEL_ROOTS.test(imp.to)) {
        violations.push({ rule: 'model-imports-no-runtime', message: `model-imports-no-runtime: ${imp.from} imports ${imp.to}${via}: ${target} is runtime` })
        continue
      }
      if (!reachedFrom.has(imp.to)) reachedFrom.set(imp.to, reachedFrom.get(file) ?? file)
      queue.push(imp.to)
    }
  }
  for (const file of MODEL_READS_FILES_FOR_NOW.keys()) {
    if (!excused.has(file)) violations.push({ rule: 'model-imports-no-runtime', message: `model-imports-no-runtime: ${file} reads no file any more: remove it from MODEL_READS_FILES_FOR_NOW` })
  }
  return violations
}

/** `no-cycles`: every cycle among the files, found as strongly connected components (Tarjan). */
function cycles(imports: readonly Import[]): Violation[] {
  const edges = new Map<string, string[]>()
  for (const imp of imports) edges.set(imp.from, [...(edges.get(imp.from) ?? []), imp.to])
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const violations: Violation[] = []
  let counter = 0
  const connect = (file: string): void => {
    index.set(file, counter)
    low.set(file, counter++)
    stack.push(file)
    onStack.add(file)
    for (const next of edges.get(file) ?? []) {
      if (!index.has(next)) {
        connect(next)
        low.set(file, Math.min(low.get(file)!, low.get(next)!))
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!))
    }
    if (low.get(file) !== index.get(file)) return
    const component: string[] = []
    let member: string
    do {
      member = stack.pop()!
      onStack.delete(member)
      component.push(member)
    } while (member !== file)
    const selfImport = (edges.get(file) ?? []).includes(file)
    if (component.length > 1 || selfImport) {
      violations.push({ rule: 'no-cycles', message: `no-cycles: these files import each other in a circle: ${component.reverse().join(' → ')} → ${component[0]}` })
    }
  }
  for (const file of edges.keys()) if (!index.has(file)) connect(file)
  return violations
}
