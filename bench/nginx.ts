import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SMALL_BODY } from './scenarios.ts'

/** Every location a scenario ends at: nginx answers from memory, so the backend costs the same for all. */
const locations = `
    location = /small { default_type text/plain; return 200 "${SMALL_BODY.replace('\n', '\\n')}"; }
    location = /soap { default_type "text/xml; charset=utf-8"; return 200 '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><r:Ok xmlns:r="urn:bench">ok</r:Ok></soap:Body></soap:Envelope>'; }
`

/** Starts nginx (one worker, pinned by the caller's command prefix) on 127.0.0.1:`port` with its files in `dir`. */
export async function startNginx(dir: string, port: number, prefix: string[]): Promise<ChildProcess> {
  await mkdir(join(dir, 'nginx'), { recursive: true })
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
  keepalive_requests 1000000;
  ${tmp('client_body_temp_path')} ${tmp('proxy_temp_path')} ${tmp('fastcgi_temp_path')} ${tmp('uwsgi_temp_path')} ${tmp('scgi_temp_path')}
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 10m;
${locations}
  }
}
`,
  )
  const [command, ...args] = [...prefix, 'nginx', '-c', conf, '-p', join(dir, 'nginx')]
  return spawn(command!, args, { stdio: ['ignore', 'ignore', 'inherit'] })
}
