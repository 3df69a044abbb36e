import pinoPretty, { prettyFactory } from 'pino-pretty'
import type { LogFormat } from './log-format.ts'

const TIME = 'SYS:HH:MM:ss.l'

/** An access-log entry as one line: time, method, path, status and duration first, the other fields after them. */
const accessLine = prettyFactory({
  translateTime: TIME,
  messageFormat: '{method} {path} {status} {durationMs} ms',
  ignore: 'method,path,status,durationMs',
  singleLine: true,
})

/** pino-pretty's colours (when the terminal has them), local time, each field of an event on a line of its own. */
export const PRETTY_LOGS: LogFormat = {
  name: 'pretty',
  events: () => pinoPretty({ destination: 2, sync: true, translateTime: TIME }),
  accessLine,
}
