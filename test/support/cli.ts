import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

/** A free TCP port on 127.0.0.1, for configs that must name their ports (the CLI binds what the file says). */
export { freePort } from './net.ts'

/** Runs `portico ARGS` to completion (with `env` added to the environment) and returns its exit code and output. */
export function runCli(args: string[], timeoutMs = 20_000, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

export interface RunningCli {
  child: ChildProcess
  /** Everything the process wrote to stderr (its log) so far. */
  log(): string
  /** Everything the process wrote to stdout (an access log without a path) so far. */
  output(): string
  /** Resolves when the log contains `text` at least `count` times; rejects after `timeoutMs`. */
  waitForLog(text: string, count?: number, timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

/** Starts `portico ARGS` as a long-running process with an info-level log (and `env` added to its environment). */
export function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORTICO_LOG_LEVEL: 'info', ...env },
  })
  let log = ''
  let output = ''
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk))
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk))
  const occurrences = (text: string) => log.split(text).length - 1
  return {
    child,
    log: () => log,
    output: () => output,
    waitForLog(text, count = 1, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs
      return new Promise((resolve, reject) => {
        const check = () => {
          if (occurrences(text) >= count) return resolve()
          if (child.exitCode !== null) return reject(new Error(`portico exited (${child.exitCode}) before logging "${text}":\n${log}`))
          if (Date.now() > deadline) return reject(new Error(`no "${text}" (x${count}) in the log within ${timeoutMs} ms:\n${log}`))
          setTimeout(check, 50)
        }
        check()
      })
    },
    stop() {
      if (child.exitCode !== null) return Promise.resolve()
      return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        child.kill('SIGTERM')
      })
    },
  }
}
