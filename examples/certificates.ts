import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A throwaway CA, a server certificate for localhost and 127.0.0.1, and a client certificate (CN=example-client)
 * in `dir`, made with openssl for examples/tls.yaml. Kept while the server certificate is valid for another hour.
 * The keys are for trying the example on this machine only.
 */
export function makeExampleCertificates(dir: string): void {
  const server = join(dir, 'localhost.pem')
  if (existsSync(server) && new X509Certificate(readFileSync(server)).validToDate.getTime() > Date.now() + 3_600_000) return
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Portico Example CA (test only)')
  const issue = (name: string, subject: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions)
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '30', '-extfile', `${name}.ext`)
  }
  issue('localhost', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  issue('client', '/CN=example-client/O=Portico Example', 'extendedKeyUsage=clientAuth\n')
}
