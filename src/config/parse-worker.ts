// The thread of parse-thread.ts: parses and validates one config and answers with the model or its problems.
import { parentPort, workerData } from 'node:worker_threads'
import { ConfigError, parseConfig } from './load.ts'

const { text, file } = workerData as { text: string; file: string }
try {
  parentPort!.postMessage({ config: parseConfig(text, file) })
} catch (error) {
  parentPort!.postMessage(error instanceof ConfigError ? { issues: error.issues } : { error: (error as Error).message ?? String(error) })
}
