import { basename, dirname } from 'node:path'
import { CORE_SCHEMA, load as loadYamlFast } from 'js-yaml'
import { createRequire } from 'node:module'
import type { LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { readLocalFile } from '../core/local-file.ts'
import { endpointFileIssues, mayNameFiles } from '../endpoints/file-checks.ts'
import { Endpoint } from '../endpoints/schema.ts'
import { readListenerCertificates, TlsMaterialError } from '../security/listener-certificates.ts'
import { MAX_CONFIG_DEPTH, tooDeepAt } from './depth.ts'
import { formatPath } from './path.ts'
import { resolveRelativePaths } from './relative-paths.ts'
import { Config, ENVIRONMENTS, type ConfigModel } from './schema.ts'
import { redactSecrets, resolveSecrets } from './secrets.ts'

/** A config file far larger than any real one is a mistake (or /dev/zero): it is refused, not read. */
const MAX_CONFIG_FILE_BYTES = 64 * 1024 * 1024

const ENDPOINT_TYPES = Endpoint.options.map((option) => option.shape.type.value)

/** One thing wrong with a config file: where (file, line, field path) and what. */
export interface ConfigIssue {
  file: string
  line?: number
  column?: number
  /** The field's path, e.g. `apis[0].endpoints.production.url`; empty for the whole document. */
  path: string
  message: string
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[]
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'))
    this.name = 'ConfigError'
    this.issues = issues
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`
}

/** The text of a config file: a regular file of a bounded size. Throws ConfigError saying why not. */
export async function readConfigText(file: string): Promise<string> {
  try {
    return (await readLocalFile(file, MAX_CONFIG_FILE_BYTES)).toString('utf8')
  } catch (error) {
    throw new ConfigError([{ file, path: '', message: (error as Error).message }])
  }
}

/** The YAML parser recurses per nesting level: a document thousands of levels deep exhausts the stack. */
const STACK_EXHAUSTED = /Maximum call stack size exceeded/
const TOO_DEEP_TO_READ = `the document nests too deeply to be read (a config may nest at most ${MAX_CONFIG_DEPTH} levels)`

/**
 * Parses YAML (or JSON, which is YAML) and validates it; every problem is reported at once. File paths in it are
 * relative to `file`'s directory.
 */
export function parseConfig(text: string, file = 'config'): ConfigModel {
  const fast = parseValidConfigFast(text, file)
  if (fast) return fast
  const { LineCounter, parseDocument } = fullYamlParser()
  const name = basename(file)
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false })
  if (document.errors.length > 0) {
    // Later syntax errors mostly echo the first one, so only the first is reported.
    const error = document.errors[0]!
    const position = lineCounter.linePos(error.pos[0])
    const message = STACK_EXHAUSTED.test(error.message) ? TOO_DEEP_TO_READ : error.message.split('\n')[0]!
    throw new ConfigError([{ file: name, line: position.line, column: position.col, path: '', message }])
  }
  let data: unknown
  try {
    data = document.toJS({ maxAliasCount: 100 })
  } catch (error) {
    if (error instanceof RangeError) throw new ConfigError([{ file: name, path: '', message: TOO_DEEP_TO_READ }])
    // The alias limit: aliases of aliases can make a small file expand to gigabytes (a "billion laughs").
    throw new ConfigError([{ file: name, path: '', message: `${(error as Error).message} (more than 100 alias expansions)` }])
  }
  return checkData(data, file, (path) => locate(document, lineCounter, path))
}

/**
 * Validates a config that is already data (the config store's, which is JSON it wrote itself): as parseConfig
 * does after reading a file, without serializing and parsing it again; problems name their field paths.
 */
export function parseConfigData(data: unknown, file = 'config'): ConfigModel {
  return checkData(data, file, () => ({}))
}

/** Secret references, the schema, then the files a valid config names; every problem at once, placed by `where`. */
function checkData(data: unknown, file: string, where: (path: Array<string | number>) => { line?: number; column?: number }): ConfigModel {
  const name = basename(file)
  const deep = tooDeepAt(data)
  if (deep) throw new ConfigError([{ file: name, ...where(deep), path: formatPath(deep), message: `nests more than ${MAX_CONFIG_DEPTH} levels deep` }])
  const secrets = resolveSecrets(data ?? {})
  if (secrets.problems.length > 0) {
    throw new ConfigError(secrets.problems.map((problem) => ({ file: name, ...where(problem.path), path: formatPath(problem.path), message: problem.message })))
  }
  let result: ReturnType<typeof Config.safeParse>
  try {
    result = Config.safeParse(resolveRelativePaths(secrets.data, dirname(file)))
  } catch (error) {
    // A check that threw rather than reporting an issue: still a refused config with a reason, never a crash.
    throw new ConfigError([{ file: name, path: '', message: `cannot be checked: ${redactSecrets((error as Error).message, secrets.values)}` }])
  }
  if (result.success) {
    const fileIssues = configFileIssues(result.data)
    if (fileIssues.length === 0) return result.data
    throw new ConfigError(fileIssues.map((issue) => ({ file: name, ...where(issue.path), path: formatPath(issue.path), message: redactSecrets(issue.message, secrets.values) })))
  }
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol')
      // A message may quote the value it rejects: never one that came from a secret reference.
      return { file: name, ...where(path), path: formatPath(path), message: redactSecrets(describe(issue), secrets.values) }
    }),
  )
}

/** Anchors, aliases and tags: documents with any of them take the full parser, which bounds alias expansion. */
const NOT_PLAIN = /(?:^|[\s[{,])[&*!][^\s\]},]/m

/**
 * The common case first: a plain, valid document. js-yaml builds the data several times faster than the `yaml`
 * package's document model (seconds for thousands of APIs), but knows no line numbers; so any problem at all (a
 * syntax error, a duplicate key, an invalid field, an unreadable file) sends the text through the full parser,
 * which reports every problem with its position. Both read YAML 1.2's core schema (no timestamps, no merge keys);
 * test/config-fast-parse.test.ts checks that they agree.
 */
function parseValidConfigFast(text: string, file: string): ConfigModel | undefined {
  const data = plainYamlData(text)
  if (data === undefined || tooDeepAt(data)) return undefined
  // Without "${" the text holds no secret reference, and the walk that resolves them would only copy the data.
  const secrets = text.includes('${') ? resolveSecrets(data) : { data, problems: [] }
  if (secrets.problems.length > 0) return undefined
  let result: ReturnType<typeof Config.safeParse>
  try {
    result = Config.safeParse(resolveRelativePaths(secrets.data, dirname(file)))
  } catch {
    return undefined
  }
  if (!result.success) return undefined
  return configFileIssues(result.data).length === 0 ? result.data : undefined
}

/** Whether a YAML text may hold anchors, aliases or tags, which only the full parser reads (bounding aliases). */
export function mayNotBePlainYaml(text: string): boolean {
  return NOT_PLAIN.test(text)
}

// The full YAML parser (positions for error messages, bounded aliases) loads when the fast path first declines a
// text, not at every start: a valid plain config never needs it.
const requireHere = createRequire(import.meta.url)
const fullYamlParser = (): typeof import('yaml') => requireHere('yaml')

/** The data of a plain YAML document (no anchors, aliases or tags, no syntax error), or undefined. */
export function plainYamlData(text: string): unknown {
  if (NOT_PLAIN.test(text)) return undefined
  try {
    return loadYamlFast(text, { schema: CORE_SCHEMA }) ?? undefined
  } catch {
    return undefined
  }
}

/** Problems only reading the files a valid config names can find: listener certificates, WSDL and prototype files. */
export function configFileIssues(config: ConfigModel): { path: (string | number)[]; message: string }[] {
  return [...listenerCertificateIssues(config), ...filesNamedBy(config)]
}

/** Problems with the files a valid config names (WSDL files), which only reading them can find. */
function filesNamedBy(config: ConfigModel): { path: (string | number)[]; message: string }[] {
  // Run on every reload over every API: plain loops, and a path made only for a tree that may name a file.
  const issues: { path: (string | number)[]; message: string }[] = []
  config.apis.forEach((api, index) => {
    for (const environment of ENVIRONMENTS) {
      const apiEndpoint = api.endpoints[environment]
      if (apiEndpoint && mayNameFiles(apiEndpoint)) issues.push(...endpointFileIssues(apiEndpoint, ['apis', index, 'endpoints', environment]))
      api.resources.forEach((resource, resourceIndex) => {
        const local = resource.endpoints?.[environment]
        if (local && mayNameFiles(local)) issues.push(...endpointFileIssues(local, ['apis', index, 'resources', resourceIndex, 'endpoints', environment]))
      })
    }
  })
  return issues
}

/** Certificates and keys of TLS listeners that cannot serve (unreadable, mismatched, expired), one per listener. */
function listenerCertificateIssues(config: ConfigModel): { path: (string | number)[]; message: string }[] {
  return config.listeners.flatMap((listener, index) => {
    if (!listener.tls) return []
    try {
      readListenerCertificates(listener.tls, ['listeners', index, 'tls'])
      return []
    } catch (error) {
      if (!(error instanceof TlsMaterialError)) throw error
      return [{ path: error.path, message: error.problem }]
    }
  })
}

function locate(document: ReturnType<typeof parseDocument>, lineCounter: LineCounter, path: Array<string | number>) {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined
    if (node && typeof node === 'object' && node.range) {
      const position = lineCounter.linePos(node.range[0])
      return { line: position.line, column: position.col }
    }
  }
  return {}
}


function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) return `is required (${issue.expected})`
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    const options = 'options' in issue && Array.isArray(issue.options) ? issue.options : ENDPOINT_TYPES
    return `must be one of ${options.map((type) => `"${String(type)}"`).join(', ')}`
  }
  return issue.message.replace(/^Invalid input: /, '')
}
