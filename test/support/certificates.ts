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

export interface IssuedCertificate {
  /** The certificate followed by the intermediate that issued it, if any: what a server sends. */
  chain: string
  cert: string
  key: string
}

export interface CertificateAuthority {
  dir: string
  /** The root CA's certificate: what clients trust. */
  rootFile: string
  root: string
  /** A server certificate for `names` (DNS names), issued by an intermediate CA unless `direct`. */
  issueServer(file: string, names: string[], options?: { expired?: boolean; direct?: boolean }): IssuedCertificate
  /** A client certificate with subject `subject` (e.g. `/CN=alice/O=Example`), issued by the root. */
  issueClient(file: string, subject: string): IssuedCertificate
  remove(): void
}

/**
 * A root CA and an intermediate CA made with openssl, issuing server certificates (valid, or expired in 2020:
 * `openssl ca` sets the dates, which `x509 -req` cannot put in the past) and client certificates.
 */
export function createCertificateAuthority(): CertificateAuthority {
  const dir = mkdtempSync(join(tmpdir(), 'portico-ca-'))
  const path = (name: string) => join(dir, name)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  writeFileSync(
    path('ca.cnf'),
    '[ca]\ndefault_ca=dflt\n[dflt]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=any\nunique_subject=no\n' +
      '[any]\ncommonName=supplied\norganizationName=optional\n[v3_ca]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n',
  )
  writeFileSync(path('index.txt'), '')
  writeFileSync(path('serial'), '1000\n')
  openssl('req', '-x509', ...ec, '-keyout', 'root.key', '-out', 'root.pem', '-days', '2', '-subj', '/CN=Portico Test Root CA')
  openssl('req', ...ec, '-keyout', 'intermediate.key', '-out', 'intermediate.csr', '-subj', '/CN=Portico Test Intermediate CA')
  openssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'root.pem', '-keyfile', 'root.key', '-in', 'intermediate.csr', '-out', 'intermediate.pem', '-days', '2', '-extensions', 'v3_ca', '-notext')
  const intermediate = readFileSync(path('intermediate.pem'), 'utf8')
  const issue = (file: string, subject: string, extensions: string, options: { expired?: boolean; direct?: boolean }): IssuedCertificate => {
    writeFileSync(path(`${file}.ext`), extensions)
    openssl('req', ...ec, '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', subject)
    const signer = options.direct ? ['-cert', 'root.pem', '-keyfile', 'root.key'] : ['-cert', 'intermediate.pem', '-keyfile', 'intermediate.key']
    const dates = options.expired ? ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'] : ['-days', '2']
    openssl('ca', '-batch', '-config', 'ca.cnf', ...signer, '-in', `${file}.csr`, '-out', `${file}.pem`, ...dates, '-extfile', `${file}.ext`, '-notext')
    const cert = readFileSync(path(`${file}.pem`), 'utf8')
    const chain = options.direct ? cert : cert + intermediate
    writeFileSync(path(`${file}-chain.pem`), chain)
    return { chain, cert, key: readFileSync(path(`${file}.key`), 'utf8') }
  }
  return {
    dir,
    rootFile: path('root.pem'),
    root: readFileSync(path('root.pem'), 'utf8'),
    issueServer: (file, names, options = {}) =>
      issue(file, `/CN=${names[0]}`, `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}\nextendedKeyUsage=serverAuth\n`, options),
    issueClient: (file, subject) => issue(file, subject, 'extendedKeyUsage=clientAuth\n', { direct: true }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
