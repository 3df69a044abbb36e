import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitForPort } from './net.ts'

export interface PrivatePostgres {
  port: number
  /** The server's `postgres` database, as its superuser `postgres`, without a password. */
  url: string
  /** Stops the server (a fast shutdown: sessions are cut, as when a database goes away) and waits for it to exit. */
  stop(): Promise<void>
  /** Starts it again on the same port, with the data it had. */
  start(): Promise<void>
  /** Stops it and removes its data directory. */
  remove(): Promise<void>
}

/** Where Debian's PostgreSQL server programs are (the newest installed version), or why there are none. */
export function postgresPrograms(): { bin: string } | { missing: string } {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'initdb'))) : []
  versions.sort((a, b) => Number(b) - Number(a))
  if (versions[0]) return { bin: join(root, versions[0], 'bin') }
  return { missing: `no PostgreSQL server programs in ${root}/*/bin (scripts/prepare-test-env.sh installs the postgresql package)` }
}

/**
 * A PostgreSQL server of the test's own, in a temporary data directory, on a free port of 127.0.0.1, so that a
 * test can stop it and start it again without touching the machine's shared server. PostgreSQL refuses to run as
 * root: as root, it runs as `nobody` (through util-linux's setpriv, which execs, so the child is the server itself).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const programs = postgresPrograms()
  if ('missing' in programs) throw new Error(programs.missing)
  const asRoot = process.getuid?.() === 0
  const directory = mkdtempSync(join(tmpdir(), 'portico-postgres-'))
  const data = join(directory, 'data')
  const run = (program: string, args: string[]) => (asRoot ? ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', join(programs.bin, program), ...args]] : [join(programs.bin, program), args]) as [string, string[]]
  if (asRoot) {
    const ids = (flag: string) => Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout.trim())
    chownSync(directory, ids('-u'), ids('-g'))
  }
  const initdb = spawnSync(...run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']), { encoding: 'utf8', cwd: directory })
  if (initdb.status !== 0) {
    rmSync(directory, { recursive: true, force: true })
    throw new Error(`initdb failed (${initdb.status}): ${initdb.stderr || initdb.error?.message}`)
  }
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    // The socket in the data directory, so it meets no other server's; no fsync: the data is thrown away.
    child = spawn(...run('postgres', ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', directory, '-c', 'fsync=off', '-c', 'full_page_writes=off']), { stdio: 'ignore', cwd: directory })
    await waitForPort(port, 20_000)
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      const running = child
      if (!running || running.exitCode !== null || running.signalCode !== null) return resolve()
      running.once('exit', () => resolve())
      running.kill('SIGINT')
    })
  await start()
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    remove: async () => {
      await stop()
      rmSync(directory, { recursive: true, force: true })
    },
  }
}
