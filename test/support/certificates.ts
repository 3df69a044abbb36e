import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestPki {
  dir: string
  /** File paths of each PEM. */
  files: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }
  read(file: keyof TestPki['files']): string
  remove(): void
}

/**
 * A throwaway CA, a server certificate for `serverName` only (no IP address), and a client certificate with
 * CN `clientName`, made with the openssl command line tool.
 */
export function createTestPki(serverName: string, clientName: string): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'portico-pki-'))
  const path = (name: string) => join(dir, name)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Portico Test CA')
  const issue = (name: string, subject: string, extensions: string) => {
    writeFileSync(path(`${name}.ext`), extensions)
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`)
  }
  issue('server', `/CN=${serverName}`, `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`)
  issue('client', `/CN=${clientName}`, 'extendedKeyUsage=clientAuth\n')
  const files = { ca: path('ca.pem'), serverCert: path('server.pem'), serverKey: path('server.key'), clientCert: path('client.pem'), clientKey: path('client.key') }
  return {
    dir,
    files,
    read: (file) => readFileSync(files[file], 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
