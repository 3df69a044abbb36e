#!/usr/bin/env node
import cluster from 'node:cluster'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ConfigError, readConfigText } from './config/load.ts'
import { loadConfigFile } from './config/reader.ts'
import { readLocalFile } from './core/local-file.ts'
import { BindError } from './gateway/bind.ts'
import { serve } from './process/start.ts'
import { runWorker } from './process/workers.ts'
import { resolveRelativePaths } from './config/relative-paths.ts'
import { createLogger } from './telemetry/logger.ts'
import { logFormatFromEnvironment, LogFormatError, type LogFormat } from './telemetry/log-format.ts'

/** A Synapse sequence is a few kilobytes of XML; a file far larger is not one. */
const MAX_SEQUENCE_FILE_BYTES = 16 * 1024 * 1024

/** Usage of each command, printed by `portico COMMAND --help` and after a usage error. */
const COMMANDS = {
  start: `portico start [--config FILE] [--watch] [--workers N] | --store STORE [--workers N] [--environment LABEL] [--poll SECONDS]
  Serve the APIs in FILE, or those deployed in a config store (docs/control-plane.md).
    -c, --config FILE   the config (default: portico.yaml in the working directory)
    --watch             reload when FILE changes (SIGHUP reloads in any case)
    --workers N         worker processes sharing the listeners (default: one per core; 1: no cluster;
                        with --store: 1 unless given)
    --store STORE       sqlite:DIR (a data directory) or postgres://USER@HOST:PORT/DATABASE; serves the
                        publisher API on the admin port and follows every deployment
    --environment LABEL the gateway environment this node serves (default: default)
    --poll SECONDS      look for a new config version this often without a notification (default: 5)
    --port N, --admin-port N   this node's first listener and admin port, over the store's settings
    --data DIR          where the node keeps a copy of the config it serves, used when it starts while the
                        database is unreachable (default: the SQLite data directory, or ./portico-data)`,
  apply: `portico apply -f FILE --store STORE [--dry-run]
  Make the store hold what FILE holds, as one new config version; print what changes.`,
  export: `portico export --store STORE [-o FILE]
  Write the store as a config file that apply accepts unchanged.`,
  validate: `portico validate FILE
  Check FILE and list every problem in it, with its line, column and field; exit 1 if there is any.`,
  'import synapse': `portico import synapse FILE [--flow in|out]
  Convert a WSO2 (Synapse) sequence into inSequence/outSequence YAML.`,
  'import openapi': `portico import openapi SPEC [-o FILE] [--context PATH] [--backend]
  A prototype API (CREATED) from an OpenAPI 3.x or Swagger 2.0 document; with --backend, the API with the
  endpoints the document names (x-wso2-production-endpoints, or its first server) instead of the prototype.`,
  'import wso2': `portico import wso2 PATH [-o FILE] [--params FILE [-e ENV]]
  An API from a WSO2 API Manager project (apictl export api or api-product: directory or zip), with one
  environment of an apictl params file applied.`,
  'hash-key': `portico hash-key < KEY
  The sha256 (hex) of an API key read from standard input, for security.apiKey.keys[].sha256.`,
  'hash-password': `portico hash-password < PASSWORD
  The scrypt hash of a password read from standard input, for security.basicAuth.users[].passwordHash.`,
} as const

const USAGE = `Usage: portico COMMAND [OPTIONS]   (portico COMMAND --help for one command)

${Object.values(COMMANDS).join('\n\n')}

Example configs to start from are in examples/ (docs/config.md describes every field).`

const HELP = new Set(['--help', '-h', 'help'])

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || HELP.has(command)) {
    // Asked for: the usage goes to standard output and is no error. Nothing asked: an error.
    if (command === undefined) console.error(USAGE)
    else console.log(USAGE)
    return command === undefined ? 2 : 0
  }
  const usage = commandUsage(argv)
  if (usage && rest.some((arg) => HELP.has(arg))) {
    console.log(usage)
    return 0
  }
  switch (command) {
    case 'start':
      return start(rest)
    case 'validate':
      return validate(rest)
    case 'apply':
      return applyCommand(rest)
    case 'export':
      return exportCommand(rest)
    case 'import':
      return importCommand(rest)
    case 'hash-key':
      return hashSecret('key')
    case 'hash-password':
      return hashSecret('password')
    default:
      console.error(`Unknown command "${command}".\n${USAGE}`)
      return 2
  }
}

/**
 * Prints the hash of a secret read from standard input (not an argument, which `ps` and shell history would
 * keep); one trailing newline, as `echo` adds, is not part of it.
 */
async function hashSecret(kind: 'key' | 'password'): Promise<number> {
  let text = ''
  process.stdin.setEncoding('utf8')
  for await (const chunk of process.stdin) text += chunk
  const secret = text.replace(/\r?\n$/, '')
  if (!secret) {
    console.error(`No ${kind} on standard input.\nUsage: ${COMMANDS[kind === 'key' ? 'hash-key' : 'hash-password']}`)
    return 2
  }
  console.log(kind === 'key' ? createHash('sha256').update(secret).digest('hex') : await (await import('./access/basic.ts')).hashPassword(secret))
  return 0
}

/** The usage of the command `argv` names: `import` with its format, or all of `import` when none is known. */
function commandUsage(argv: string[]): string | undefined {
  const [command, format] = argv
  if (command === 'import') {
    const known = COMMANDS[`import ${format}` as keyof typeof COMMANDS]
    return known ?? [COMMANDS['import synapse'], COMMANDS['import openapi'], COMMANDS['import wso2']].join('\n\n')
  }
  return COMMANDS[command as keyof typeof COMMANDS]
}

/** Options a command does not know, or a missing value, are usage errors: exit 2 with the command's usage. */
function parse<const T extends ParseArgsConfig>(command: keyof typeof COMMANDS, config: T): ReturnType<typeof parseArgs<T>> | undefined {
  try {
    return parseArgs(config)
  } catch (error) {
    console.error(`${(error as Error).message}\nUsage: ${COMMANDS[command]}`)
    return undefined
  }
}

async function validate(args: string[]): Promise<number> {
  const parsed = parse('validate', { args, allowPositionals: true })
  if (!parsed) return 2
  const [file] = parsed.positionals
  if (!file) {
    console.error(`Usage: ${COMMANDS.validate}`)
    return 2
  }
  try {
    const config = await loadConfigFile(file)
    console.log(`${file} is valid: ${config.apis.length} API(s), ${config.listeners.length} listener(s)`)
    return 0
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    console.error(`${error.issues.length} problem(s) in ${file}`)
    return 1
  }
}

async function importCommand(args: string[]): Promise<number> {
  const [format, ...rest] = args
  if (format === 'synapse') return importSynapse(rest)
  if (format === 'openapi') return importOpenApiCommand(rest)
  if (format === 'wso2') return importWso2Command(rest)
  console.error(`${format ? `Unknown import format "${format}".` : 'Name the format to import.'}\nUsage: ${commandUsage(['import'])}`)
  return 2
}

/** Prints the converted sequence as YAML; anything not converted is listed on stderr and the exit code is 1. */
async function importSynapse(args: string[]): Promise<number> {
  const parsed = parse('import synapse', { args, allowPositionals: true, options: { flow: { type: 'string', default: 'in' } } })
  if (!parsed) return 2
  const { positionals, values } = parsed
  const [file] = positionals
  if (!file || (values.flow !== 'in' && values.flow !== 'out')) {
    console.error(`Usage: ${COMMANDS['import synapse']}`)
    return 2
  }
  // The importers are imported by their command: `start` never loads their XML, OpenAPI and zip libraries.
  const { importSynapseSequence } = await import('./import/synapse.ts')
  const { stringify } = await import('yaml')
  const imported = importSynapseSequence((await readLocalFile(file, MAX_SEQUENCE_FILE_BYTES)).toString('utf8'))
  console.log(stringify({ [values.flow === 'in' ? 'inSequence' : 'outSequence']: imported.mediators }).trimEnd())
  for (const problem of imported.unsupported) console.error(`${file}: ${problem.path}: ${problem.message}`)
  if (imported.unsupported.length > 0) console.error(`${imported.unsupported.length} part(s) of ${file} not converted`)
  return imported.unsupported.length > 0 ? 1 : 0
}

/** Writes a prototype API (CREATED) from an OpenAPI document, to stdout or `-o FILE`. */
async function importOpenApiCommand(args: string[]): Promise<number> {
  const parsed = parse('import openapi', {
    args,
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' }, context: { type: 'string' }, backend: { type: 'boolean' } },
  })
  if (!parsed) return 2
  const { positionals, values } = parsed
  const [file] = positionals
  if (!file) {
    console.error(`Usage: ${COMMANDS['import openapi']}`)
    return 2
  }
  // The written config names the document, and paths in a config are relative to its own directory.
  const document = values.output !== undefined && !isAbsolute(file) && resolve(dirname(values.output)) !== process.cwd() ? resolve(file) : file
  let yaml: string
  try {
    const { importOpenApi } = await import('./import/openapi.ts')
    const imported = await importOpenApi(document, { ...(values.context === undefined ? {} : { context: values.context }), backend: values.backend === true })
    yaml = imported.yaml
    for (const part of imported.report.leftOut) console.error(`${file}: ${part.at}: not served: ${part.reason}`)
    for (const warning of imported.report.warnings) console.error(`${file}: ${warning}`)
  } catch (error) {
    console.error(`cannot import ${file}: ${(error as Error).message}`)
    return 1
  }
  if (values.output === undefined) process.stdout.write(yaml)
  else {
    await writeFile(values.output, yaml)
    console.error(`wrote ${values.output}`)
  }
  return 0
}

/**
 * Writes the API of a WSO2 project to stdout or `-o FILE`. What was not converted and the environment variables
 * to set go to stderr; the exit code is 1 when anything was left out, 2 for a usage error.
 */
async function importWso2Command(args: string[]): Promise<number> {
  const parsed = parse('import wso2', {
    args,
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' }, params: { type: 'string' }, environment: { type: 'string', short: 'e' } },
  })
  if (!parsed) return 2
  const { positionals, values } = parsed
  const [path] = positionals
  if (!path || positionals.length > 1) {
    console.error(`Usage: ${COMMANDS['import wso2']}`)
    return 2
  }
  if (values.environment !== undefined && values.params === undefined) {
    console.error(`--environment names an environment of a params file: give --params FILE too\nUsage: ${COMMANDS['import wso2']}`)
    return 2
  }
  let imported
  try {
    const [{ importWso2Project }, { readWso2Params }] = await Promise.all([import('./import/wso2.ts'), import('./import/wso2-params.ts')])
    const params = values.params === undefined ? undefined : await readWso2Params(values.params, values.environment)
    imported = await importWso2Project(path, {
      ...(values.output === undefined ? {} : { definitionDirectory: dirname(values.output) }),
      ...(params ? { params } : {}),
    })
  } catch (error) {
    console.error(`cannot import ${path}: ${(error as Error).message}`)
    return 1
  }
  const { yaml, report, written } = imported
  if (values.output === undefined) process.stdout.write(yaml)
  else await writeFile(values.output, yaml)
  for (const file of [...written, ...(values.output === undefined ? [] : [values.output])]) console.error(`wrote ${file}`)
  for (const note of report.notes) console.error(`note: ${note}`)
  if (report.variables.size > 0) {
    console.error('set these environment variables before starting the gateway:')
    for (const [variable, holds] of report.variables) console.error(`  ${variable}  (${holds})`)
  }
  for (const part of report.differences) console.error(`differs from WSO2: ${part.location}: ${part.message}`)
  for (const part of report.leftOut) console.error(`not converted: ${part.location}: ${part.message}`)
  if (report.leftOut.length > 0) console.error(`${report.leftOut.length} part(s) of ${path} not converted`)
  return report.leftOut.length > 0 ? 1 : 0
}

async function start(args: string[]): Promise<number> {
  const parsed = parse('start', {
    args,
    options: {
      config: { type: 'string', short: 'c', default: 'portico.yaml' },
      watch: { type: 'boolean', default: false },
      workers: { type: 'string' },
      store: { type: 'string' },
      environment: { type: 'string', default: 'default' },
      poll: { type: 'string', default: '5' },
      port: { type: 'string' },
      'admin-port': { type: 'string' },
      data: { type: 'string' },
    },
  })
  if (!parsed) return 2
  const { values } = parsed
  let logFormat: LogFormat
  try {
    logFormat = await logFormatFromEnvironment()
  } catch (error) {
    if (!(error instanceof LogFormatError)) throw error
    console.error(error.message)
    return 2
  }
  const logger = createLogger(undefined, logFormat)
  if (values.store !== undefined) {
    if (args.includes('--watch') || args.includes('--config') || args.includes('-c')) {
      console.error(`--store serves what the store holds: --config and --watch are for a config file\nUsage: ${COMMANDS.start}`)
      return 2
    }
    // A worker serves what its primary sends; only the primary follows the store.
    if (cluster.isWorker) {
      runWorker(logger, logFormat)
      return -1
    }
    // One process unless --workers says otherwise, so that several nodes on one machine stay light.
    const workers = Number(values.workers ?? 1)
    if (!Number.isInteger(workers) || workers < 1) {
      console.error(`--workers must be a whole number of at least 1, got "${values.workers}"`)
      return 2
    }
    const poll = Number(values.poll)
    if (!(poll > 0)) {
      console.error(`--poll must be a number of seconds above 0, got "${values.poll}"`)
      return 2
    }
    try {
      const ports = {
        ...(values.port === undefined ? {} : { port: Number(values.port) }),
        ...(values['admin-port'] === undefined ? {} : { adminPort: Number(values['admin-port']) }),
        ...(values.data === undefined ? {} : { dataDirectory: values.data }),
      }
      // Loaded by the command that needs it: a file-served gateway never loads the store, Kysely or pg.
      const { serveFromStore } = await import('./process/store-node.ts')
      const { stop } = await serveFromStore(values.store, { environment: values.environment, pollMs: poll * 1000, workers, logFormat, ...ports }, logger)
      const shutdown = () => void stop().finally(() => process.exit(0))
      process.once('SIGTERM', shutdown)
      process.once('SIGINT', shutdown)
      return -1
    } catch (error) {
      console.error(`cannot serve from ${redactUrl(values.store)}: ${(error as Error).message}`)
      return 1
    }
  }
  const workers = Number(values.workers ?? availableParallelism())
  if (!Number.isInteger(workers) || workers < 1) {
    console.error(`--workers must be a whole number of at least 1, got "${values.workers}"`)
    return 2
  }
  const file = values.config
  // A worker takes its config from its primary, which has already found the file.
  if (cluster.isPrimary && !existsSync(file)) {
    console.error(missingConfig(file))
    return 1
  }
  try {
    await serve(file, { workers, watch: values.watch, logFormat }, logger)
    return -1
  } catch (error) {
    if (!(error instanceof ConfigError) && !(error instanceof BindError)) throw error
    console.error(error.message)
    return 1
  }
}

/** A store URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@/]*@/, '$1:[redacted]@')
}

/** `apply -f FILE --store STORE [--dry-run]`: exit 0 applied (or nothing to do), 1 refused, 2 usage. */
async function applyCommand(args: string[]): Promise<number> {
  const parsed = parse('apply', { args, options: { file: { type: 'string', short: 'f' }, store: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, environment: { type: 'string', default: 'default' } } })
  if (!parsed) return 2
  const { file, store: url, environment } = parsed.values
  if (!file || !url) {
    console.error(`Usage: ${COMMANDS.apply}`)
    return 2
  }
  try {
    // The loader reports problems with their lines and columns; the store then keeps the file's own data (secret
    // references unresolved, so no secret value enters the store), with its file paths made absolute.
    await loadConfigFile(file)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    return 1
  }
  const [{ parse: parseYaml }, { ConfigStore }, { StoreError }] = await Promise.all([import('yaml'), import('./store/store.ts'), import('./store/errors.ts')])
  const raw = resolveRelativePaths(parseYaml(await readConfigText(file)) ?? {}, resolve(dirname(file))) as Record<string, unknown>
  const store = await ConfigStore.open(url)
  try {
    const result = await store.apply(raw, `cli:${process.env.USER ?? 'apply'}`, { dryRun: parsed.values['dry-run'], environment })
    for (const change of result.changes) console.log(change)
    if (result.changes.length === 0) console.log('no changes')
    else if (result.version !== undefined) console.log(`applied as config version ${result.version}`)
    else console.log('dry run: nothing applied')
    return 0
  } catch (error) {
    if (!(error instanceof StoreError)) throw error
    console.error(error.message)
    for (const issue of error.issues) console.error(`${file}: ${issue.path}: ${issue.message}`)
    return 1
  } finally {
    await store.close()
  }
}

/** `export --store STORE [-o FILE]`: the store as YAML. */
async function exportCommand(args: string[]): Promise<number> {
  const parsed = parse('export', { args, options: { store: { type: 'string' }, output: { type: 'string', short: 'o' } } })
  if (!parsed) return 2
  if (!parsed.values.store) {
    console.error(`Usage: ${COMMANDS.export}`)
    return 2
  }
  const [{ stringify }, { ConfigStore }] = await Promise.all([import('yaml'), import('./store/store.ts')])
  const store = await ConfigStore.open(parsed.values.store)
  try {
    const yaml = stringify(await store.exportDocument())
    if (parsed.values.output === undefined) process.stdout.write(yaml)
    else await writeFile(parsed.values.output, yaml)
    return 0
  } finally {
    await store.close()
  }
}

/** Where `start` looked for its config, and where to find one to start from. */
function missingConfig(file: string): string {
  const examples = fileURLToPath(new URL('../examples/', import.meta.url))
  const lines = [`no config file at ${resolve(file)} (--config ${file}, relative to the working directory ${process.cwd()})`]
  if (existsSync(examples)) {
    const names = readdirSync(examples).filter((name) => name.endsWith('.yaml'))
    lines.push(`start from one of the examples in ${examples}: ${names.join(', ')}`, `e.g. portico start --config ${join(examples, 'portico.yaml')} (npm start runs it with its example backend)`)
  } else lines.push('docs/config.md describes every field; the project\'s examples/ directory has configs to start from')
  return lines.join('\n')
}

main(process.argv.slice(2)).then(
  (code) => {
    // -1: a server is running and keeps the process alive.
    if (code >= 0) process.exitCode = code
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    process.exitCode = 1
  },
)
