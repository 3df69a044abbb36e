import pino, { type Logger } from 'pino'

export type { Logger }

/** The gateway's event log (start, reload, state changes): JSON lines on standard error. */
export function createLogger(level = process.env.PORTICO_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }))
}
