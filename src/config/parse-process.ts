import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ConfigIssue } from './load.ts'
import type { ReadConfig } from './reader.ts'

type Answer = ReadConfig | { issues: ConfigIssue[] } | { error: string }

/**
 * Parses and validates a config in a process of its own, which exits when done. Parsing YAML of thousands of
 * APIs leaves hundreds of megabytes of garbage and holds the event loop for seconds. A worker thread frees the
 * event loop but not the memory (its freed heap pages stay with the process); a child process returns them to
 * the system when it exits. Only the validated model is copied back.
 */
export function parseConfigInProcess(text: string, file: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./parse-child.ts', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
    let answer: Answer | undefined
    child.once('message', (message: Answer) => (answer = message))
    child.once('error', reject)
    child.once('exit', (code) => (answer ? resolve(answer) : reject(new Error(`the config parser process exited with code ${code}`))))
    child.send({ text, file })
  })
}
