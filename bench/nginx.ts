import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { get } from 'node:http'
import { join } from 'node:path'
import { freePort, waitForPort } from '../test/support/net.ts'
import { SMALL_BODY } from './scenarios.ts'

/** Every location a scenario ends at: nginx answers from memory, so the backend costs the same for all. */
const locations = `
    location = /small { default_type text/plain; return 200 "${SMALL_BODY.replace('\n', '\\n')}"; }
    location = /64k { default_type application/octet-stream; alias 64k; }
    location /soap { default_type "text/xml; charset=utf-8"; return 200 '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><r:Ok xmlns:r="urn:bench">ok</r:Ok></soap:Body></soap:Envelope>'; }
`

/**
 * Starts nginx (one worker, pinned by the caller's command prefix) on 127.0.0.1:`port` with its files in `dir`.
 * With `statusPort`, nginx's `stub_status` answers there (read by `acceptedConnections`).
 */
export async function startNginx(dir: string, port: number, prefix: string[], statusPort?: number): Promise<ChildProcess> {
  await mkdir(join(dir, 'nginx'), { recursive: true })
  await writeFile(join(dir, 'nginx', '64k'), 'x'.repeat(64 * 1024))
  // Started as root, nginx serves from workers running as `nobody`: they must reach the 64k file through the
  // caller's temp dir (mkdtemp makes it 0700), or /64k answers 403.
  await chmod(dir, 0o755)
  const conf = join(dir, 'nginx', 'nginx.conf')
  const tmp = (name: string) => `${name} ${join(dir, 'nginx', name)};`
  await writeFile(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx', 'nginx.pid')};
error_log ${join(dir, 'nginx', 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  # The same for every proxy: connections are never closed for their number of requests (nginx's default is 1000)
  # nor, during a run, for idling (keepalive_timeout, 75 s by default, sends no Keep-Alive hint).
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  ${tmp('client_body_temp_path')} ${tmp('proxy_temp_path')} ${tmp('fastcgi_temp_path')} ${tmp('uwsgi_temp_path')} ${tmp('scgi_temp_path')}
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 10m;
${locations}
  }
${statusPort === undefined ? '' : `  server { listen 127.0.0.1:${statusPort}; location = /status { stub_status; } }`}
}
`,
  )
  const [command, ...args] = [...prefix, 'nginx', '-c', conf, '-p', join(dir, 'nginx')]
  return spawn(command!, args, { stdio: ['ignore', 'ignore', 'inherit'] })
}

/** nginx as the backend, unpinned, on a free port once it listens (the process joins `children`): its base URL. */
export async function startNginxBackend(dir: string, children: ChildProcess[]): Promise<string> {
  const port = await freePort()
  children.push(await startNginx(dir, port, []))
  await waitForPort(port)
  return `http://127.0.0.1:${port}`
}

/**
 * Connections nginx has accepted so far, from its `stub_status` (the `accepts` counter, over every server block).
 * The read's own connection is accepted before nginx counts, so it is included: one per call.
 */
export async function acceptedConnections(statusPort: number): Promise<number> {
  // A fresh connection each time (agent: false), so the count of reads is exact.
  const text = await new Promise<string>((resolve, reject) => {
    get({ host: '127.0.0.1', port: statusPort, path: '/status', agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body))
    }).on('error', reject)
  })
  const accepts = /^\s*(\d+)\s+\d+\s+\d+\s*$/m.exec(text)?.[1]
  if (accepts === undefined) throw new Error(`could not read nginx's stub_status:\n${text}`)
  return Number(accepts)
}
