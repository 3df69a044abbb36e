import { spawn, type ChildProcess } from 'node:child_process'
import { freePort, waitForPort } from './net.ts'

export interface PrivateRedis {
  port: number
  url: string
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
}

/**
 * A redis-server of the test's own on a free port, without persistence, so a test can stop and restart it
 * without touching the machine's shared Redis.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    await waitForPort(port, 10_000)
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      const running = child
      if (!running || running.exitCode !== null) return resolve()
      running.once('exit', () => resolve())
      running.kill('SIGTERM')
    })
  await start()
  return { port, url: `redis://127.0.0.1:${port}`, start, stop }
}
