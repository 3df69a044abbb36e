import { ConfigError, formatIssue } from '../config/load.ts'
import type { Logger } from '../telemetry/logger.ts'

/**
 * Logs a config that was not applied: one line that says so, then one line per problem, each readable on its own
 * (`file:line:column: path: message`), rather than one entry whose message hides the problems behind `\n` escapes.
 */
export function logRefusedConfig(logger: Logger, file: string, error: unknown): void {
  if (error instanceof ConfigError) {
    logger.error({ file, problems: error.issues.length }, `config not reloaded, the running one is kept: ${error.issues.length} problem(s) in ${file}`)
    for (const issue of error.issues) logger.error({ file, issue }, formatIssue(issue))
    return
  }
  logger.error({ file, err: error }, `config not reloaded, the running one is kept: ${(error as Error).message ?? String(error)}`)
}
