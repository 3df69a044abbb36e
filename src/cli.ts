#!/usr/bin/env node
import cluster from 'node:cluster'
import { readFile, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile } from './config/load.ts'
import { watchConfig } from './config/watch.ts'
import { runPrimary, runWorker } from './gateway/cluster.ts'
import { PorticoInstance } from './gateway/instance.ts'
import { importOpenApi } from './import/openapi.ts'
import { importSynapseSequence } from './import/synapse.ts'
import { importWso2Project } from './import/wso2.ts'
import { stringify } from 'yaml'
import { createLogger } from './telemetry/logger.ts'

const USAGE = `Usage:
  portico start [--config FILE] [--watch] [--workers N]   serve the APIs in FILE (default portico.yaml)
  portico validate FILE                                   check FILE and list every problem in it
  portico import synapse FILE [--flow in|out]             convert a WSO2 (Synapse) sequence into inSequence/outSequence YAML
  portico import openapi SPEC [-o FILE] [--context PATH]  a prototype API (CREATED) from an OpenAPI 3.x or Swagger 2.0 document
  portico import wso2 PATH [-o FILE]                      an API from a WSO2 API Manager project (apictl export: directory or zip)`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      return start(rest)
    case 'validate':
      return validate(rest)
    case 'import':
      return importCommand(rest)
    default:
      console.error(command ? `Unknown command "${command}".\n${USAGE}` : USAGE)
      return 2
  }
}

async function validate(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true })
  const [file] = positionals
  if (!file) {
    console.error(USAGE)
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
  console.error(USAGE)
  return 2
}

/** Prints the converted sequence as YAML; anything not converted is listed on stderr and the exit code is 1. */
async function importSynapse(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { flow: { type: 'string', default: 'in' } } })
  const [file] = positionals
  if (!file || (values.flow !== 'in' && values.flow !== 'out')) {
    console.error(USAGE)
    return 2
  }
  const imported = importSynapseSequence(await readFile(file, 'utf8'))
  console.log(stringify({ [values.flow === 'in' ? 'inSequence' : 'outSequence']: imported.mediators }).trimEnd())
  for (const problem of imported.unsupported) console.error(`${file}: ${problem.path}: ${problem.message}`)
  if (imported.unsupported.length > 0) console.error(`${imported.unsupported.length} part(s) of ${file} not converted`)
  return imported.unsupported.length > 0 ? 1 : 0
}

/** Writes a prototype API (CREATED) from an OpenAPI document, to stdout or `-o FILE`. */
async function importOpenApiCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' }, context: { type: 'string' } },
  })
  const [file] = positionals
  if (!file) {
    console.error(USAGE)
    return 2
  }
  let yaml: string
  try {
    const imported = await importOpenApi(file, values.context === undefined ? {} : { context: values.context })
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
  let parsed
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { output: { type: 'string', short: 'o' } } })
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`)
    return 2
  }
  const { positionals, values } = parsed
  const [path] = positionals
  if (!path || positionals.length > 1) {
    console.error(USAGE)
    return 2
  }
  let imported
  try {
    imported = await importWso2Project(path, values.output === undefined ? {} : { definitionDirectory: dirname(values.output) })
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
  for (const part of report.leftOut) console.error(`not converted: ${part.location}: ${part.message}`)
  if (report.leftOut.length > 0) console.error(`${report.leftOut.length} part(s) of ${path} not converted`)
  return report.leftOut.length > 0 ? 1 : 0
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c', default: 'portico.yaml' },
      watch: { type: 'boolean', default: false },
      workers: { type: 'string', default: String(availableParallelism()) },
    },
  })
  const logger = createLogger()
  const workers = Number(values.workers)
  if (!Number.isInteger(workers) || workers < 1) {
    console.error(`--workers must be a whole number of at least 1, got "${values.workers}"`)
    return 2
  }
  if (cluster.isWorker) {
    runWorker(logger)
    return -1
  }
  const file = values.config
  try {
    if (workers > 1) {
      await runPrimary(file, workers, values.watch, logger)
      logger.info({ workers, config: file }, `starting ${workers} workers`)
      return -1
    }
    const instance = await PorticoInstance.start(await loadConfigFile(file), { logger })
    for (const address of instance.gateway.addresses()) logger.info(`listening on ${address.url} (listener ${address.name})`)
    if (instance.admin) logger.info(`admin on ${instance.admin.url}`)
    const stopWatching = watchConfig(file, { watch: values.watch }, () => void instance.reloadFile(file))
    const stop = () => {
      stopWatching()
      void instance.close().finally(() => process.exit(0))
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    return -1
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    return 1
  }
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
