import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { freePort, waitForPort } from './net.ts'

const NGINX = '/usr/sbin/nginx'

export interface Nginx {
  url: string
  /** The document root, where `files` were written. */
  root: string
  close(): Promise<void>
}

export function nginxAvailable(): boolean {
  return existsSync(NGINX)
}

/**
 * Starts nginx in the foreground on 127.0.0.1 with its own config in a temp dir, serving `files` (path → text)
 * from its document root. `locations` is extra config inside the server block.
 */
export async function startNginx(files: Record<string, string>, locations = ''): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-nginx-'))
  // Started as root, nginx's workers run as nobody and must be able to read the files.
  chmodSync(dir, 0o755)
  const root = join(dir, 'htdocs')
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  mkdirSync(root, { recursive: true })
  const port = await freePort()
  const temp = (name: string) => `${name} ${join(dir, name)};`
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
  ${temp('client_body_temp_path')} ${temp('proxy_temp_path')} ${temp('fastcgi_temp_path')} ${temp('uwsgi_temp_path')} ${temp('scgi_temp_path')}
  server {
    listen 127.0.0.1:${port};
    root ${root};
${locations}
  }
}
`,
  )
  const child = spawn(NGINX, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] })
  await waitForPort(port, 10_000)
  return {
    url: `http://127.0.0.1:${port}`,
    root,
    close: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await new Promise((resolve) => child.once('exit', resolve))
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
