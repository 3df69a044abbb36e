import pino, { type DestinationStream } from 'pino'

/** How the gateway writes its logs: JSON lines (the default, for machines) or `pretty` (for a person at a terminal). */
export interface LogFormat {
  readonly name: 'json' | 'pretty'
  /** Where the event log (start, reload, state changes) goes: standard error. */
  events(): DestinationStream
  /** One access-log line for standard output, newline included. A file always gets JSON. */
  accessLine(entry: object): string
}

export const JSON_LOGS: LogFormat = {
  name: 'json',
  events: () => pino.destination({ dest: 2, sync: true }),
  accessLine: (entry) => `${JSON.stringify(entry)}\n`,
}

/**
 * The format PORTICO_LOG_FORMAT names. `pretty` loads pino-pretty then, and only then: a gateway that logs JSON
 * never loads it.
 */
export async function logFormatFromEnvironment(value = process.env.PORTICO_LOG_FORMAT): Promise<LogFormat> {
  if (value === undefined || value === '' || value === 'json') return JSON_LOGS
  if (value === 'pretty') return (await import('./pretty-logs.ts')).PRETTY_LOGS
  throw new LogFormatError(`PORTICO_LOG_FORMAT must be "json" (the default) or "pretty", got "${value}"`)
}

export class LogFormatError extends Error {}
