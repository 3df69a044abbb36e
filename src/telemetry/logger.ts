import pino, { type Logger } from 'pino'
import { JSON_LOGS, type LogFormat } from './log-format.ts'

export type { Logger }

/** The gateway's event log (start, reload, state changes) on standard error: JSON lines unless `format` says otherwise. */
export function createLogger(level = process.env.PORTICO_LOG_LEVEL ?? 'info', format: LogFormat = JSON_LOGS): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, format.events())
}
