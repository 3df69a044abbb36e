import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const APACHE = '/usr/sbin/apache2'
const MODULE_DIRS = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/lib/httpd/modules']

export interface ApacheUser {
  username: string
  password: string
}

export interface Apache {
  url: string
  /** `METHOD PATH STATUS` for every request Apache answered, in order (its own wake-up calls left out). */
  accessLog(): string[]
  /** What Apache logged as errors and warnings (mod_auth_digest says here why it refused credentials). */
  errorLog(): string
  close(): Promise<void>
}

/** Whether Apache httpd (Debian's apache2) and its auth modules are installed; `npm test` installs them first (scripts/prepare-test-env.sh). */
export function apacheAvailable(): boolean {
  return existsSync(APACHE) && modulesDir() !== undefined
}

function modulesDir(): string | undefined {
  return MODULE_DIRS.find((dir) => existsSync(join(dir, 'mod_auth_digest.so')))
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * Starts Apache httpd in the foreground with its own config in a temp dir: `/basic/` behind mod_auth_basic,
 * `/digest/` behind mod_auth_digest (MD5, qop=auth), `/stale/` the same with nonces that expire after one
 * second, `/strict/` the same with `AuthDigestNcCheck On` (each nonce count must be one more than the last the
 * server read). Each holds `echo.cgi`, which answers with the authenticated user, the method and the request
 * body. (Apache 2.4.71 refuses RFC 2069 answers altogether, so no-qop servers are tested elsewhere.)
 * `documents` are more files to serve, by path below the document root.
 */
export async function startApache(users: { basic: ApacheUser; digest: ApacheUser }, documents: Record<string, string> = {}): Promise<Apache> {
  const modules = modulesDir()!
  const dir = mkdtempSync(join(tmpdir(), 'portico-apache-'))
  const port = await freePort()
  const htdocs = join(dir, 'htdocs')
  for (const area of ['basic', 'digest', 'stale', 'strict']) {
    mkdirSync(join(htdocs, area), { recursive: true })
    writeFileSync(
      join(htdocs, area, 'echo.cgi'),
      "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nprintf 'user=%s method=%s auth=%s query=%s\\n' \"$REMOTE_USER\" \"$REQUEST_METHOD\" \"$AUTH_TYPE\" \"$QUERY_STRING\"\ncat\n",
      { mode: 0o755 },
    )
  }
  // More files to serve, by path below the document root (`digest/service.wsdl` is served behind Digest).
  for (const [path, text] of Object.entries(documents)) {
    mkdirSync(dirname(join(htdocs, path)), { recursive: true })
    writeFileSync(join(htdocs, path), text, { mode: 0o644 })
  }
  // The real htpasswd tool hashes the Basic password (bcrypt); htdigest only prompts, so its line is written here.
  const htpasswd = spawnSync('htpasswd', ['-cbB', join(dir, 'htpasswd'), users.basic.username, users.basic.password], { encoding: 'utf8' })
  if (htpasswd.status !== 0) throw new Error(`htpasswd failed: ${htpasswd.stderr}`)
  const realm = 'digest-realm'
  const ha1 = createHash('md5').update(`${users.digest.username}:${realm}:${users.digest.password}`).digest('hex')
  writeFileSync(join(dir, 'htdigest'), `${users.digest.username}:${realm}:${ha1}\n`)
  const load = (name: string, file: string) => `LoadModule ${name}_module ${join(modules, `mod_${file}.so`)}`
  writeFileSync(
    join(dir, 'httpd.conf'),
    [
      `ServerRoot ${dir}`,
      'ServerName 127.0.0.1',
      `Listen 127.0.0.1:${port}`,
      `PidFile ${dir}/httpd.pid`,
      `DefaultRuntimeDir ${dir}`,
      `Mutex file:${dir} default`,
      `ErrorLog ${dir}/error.log`,
      'LogLevel warn',
      'User www-data',
      'Group www-data',
      load('mpm_prefork', 'mpm_prefork'),
      // Several processes: a single one (-X) would serve one keep-alive connection at a time.
      'StartServers 4',
      'MinSpareServers 2',
      'MaxSpareServers 8',
      'MaxRequestWorkers 40',
      load('authn_core', 'authn_core'),
      load('authn_file', 'authn_file'),
      load('authz_core', 'authz_core'),
      load('authz_user', 'authz_user'),
      load('auth_basic', 'auth_basic'),
      load('auth_digest', 'auth_digest'),
      load('cgi', 'cgi'),
      // Room for the client records AuthDigestNcCheck keeps (one per opaque); the default holds only a few.
      'AuthDigestShmemSize 1048576',
      `LogFormat "%m %U %>s" short`,
      `CustomLog ${dir}/access.log short`,
      `DocumentRoot ${htdocs}`,
      `<Directory ${htdocs}>`,
      '  Options +ExecCGI',
      '  <FilesMatch "\\.cgi$">',
      '    SetHandler cgi-script',
      '  </FilesMatch>',
      '</Directory>',
      '<Location /basic/>',
      '  AuthType Basic',
      '  AuthName "basic-realm"',
      '  AuthBasicProvider file',
      `  AuthUserFile ${dir}/htpasswd`,
      '  Require valid-user',
      '</Location>',
      ...(
        [
          ['digest', 300, ''],
          ['stale', 1, ''],
          ['strict', 300, 'AuthDigestNcCheck On'],
        ] as const
      ).flatMap(([area, lifetime, extra]) => [
        `<Location /${area}/>`,
        '  AuthType Digest',
        `  AuthName "${realm}"`,
        '  AuthDigestProvider file',
        `  AuthUserFile ${dir}/htdigest`,
        `  AuthDigestNonceLifetime ${lifetime}`,
        ...(extra ? [`  ${extra}`] : []),
        '  Require valid-user',
        '</Location>',
      ]),
      '',
    ].join('\n'),
  )
  // Apache drops to www-data, which must read the files and write the logs.
  chmodSync(dir, 0o777)
  for (const file of ['htpasswd', 'htdigest']) chmodSync(join(dir, file), 0o644)
  chmodSync(htdocs, 0o755)

  // Its own process group: on shutdown Apache signals its whole group, which would otherwise include us.
  const child: ChildProcess = spawn(APACHE, ['-DFOREGROUND', '-f', join(dir, 'httpd.conf')], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const errorLog = () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '')
  const deadline = Date.now() + 10_000
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`apache2 did not start: ${stderr}${errorLog()}`)
    }
    await sleep(50)
  }
  return {
    url: `http://127.0.0.1:${port}`,
    // `OPTIONS *` is Apache's own "internal dummy connection", made when it scales its processes down.
    accessLog: () =>
      readFileSync(join(dir, 'access.log'), 'utf8')
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('OPTIONS * ')),
    errorLog,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))])
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
