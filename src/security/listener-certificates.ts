import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls'
import type { ListenerTlsConfig } from './listener-tls-schema.ts'

type Path = (string | number)[]

/** A certificate or key of a listener that cannot serve, with the config field it came from. */
export class TlsMaterialError extends Error {
  override name = 'TlsMaterialError'
  /** The field, e.g. `['listeners', 0, 'tls', 'certificates', 1, 'key']`. */
  readonly path: Path
  readonly problem: string
  constructor(path: Path, problem: string) {
    super(`${field(path)}: ${problem}`)
    this.path = path
    this.problem = problem
  }
}

/** One certificate a listener serves: parsed (names, dates), its context, and the options that made it. */
export interface ServedCertificate {
  readonly certificate: X509Certificate
  readonly context: SecureContext
  readonly options: SecureContextOptions
}

/**
 * Reads a listener's certificates, keys and client CA bundle (files or PEM text) and checks that each can serve:
 * a certificate and a key that parse and belong together, within its validity dates, in a context OpenSSL accepts
 * (the cipher list included). Used by the loader, so that `portico validate` reports them, and on every rotation.
 * Throws TlsMaterialError naming the field under `at` (`['listeners', 0, 'tls']`).
 */
export function readListenerCertificates(config: ListenerTlsConfig, at: Readonly<Path>): ServedCertificate[] {
  const ca = config.clientCertificates ? read(config.clientCertificates.ca, [...at, 'clientCertificates', 'ca']) : undefined
  const now = Date.now()
  return config.certificates.map((entry, index) => {
    const where = [...at, 'certificates', index]
    const cert = read(entry.cert, [...where, 'cert'])
    const key = read(entry.key, [...where, 'key'])
    let certificate: X509Certificate
    try {
      certificate = new X509Certificate(cert)
    } catch {
      throw new TlsMaterialError([...where, 'cert'], 'not a PEM certificate')
    }
    let privateKey
    try {
      privateKey = createPrivateKey({ key, passphrase: entry.passphrase })
    } catch {
      throw new TlsMaterialError([...where, 'key'], `not a PEM private key${entry.passphrase ? ', or the passphrase is wrong' : ' (an encrypted key needs passphrase)'}`)
    }
    if (!certificate.checkPrivateKey(privateKey)) throw new TlsMaterialError([...where, 'key'], `does not belong to the certificate in ${field([...where, 'cert'])}`)
    if (certificate.validToDate.getTime() < now) throw new TlsMaterialError([...where, 'cert'], `the certificate expired on ${certificate.validTo}`)
    if (certificate.validFromDate.getTime() > now) throw new TlsMaterialError([...where, 'cert'], `the certificate is not valid before ${certificate.validFrom}`)
    const options: SecureContextOptions = { cert, key, passphrase: entry.passphrase, ca, minVersion: config.minVersion, ciphers: config.ciphers }
    try {
      return { certificate, options, context: createSecureContext(options) }
    } catch (error) {
      throw new TlsMaterialError(where, (error as Error).message)
    }
  })
}

/** Whether a `cert`, `key` or `ca` value is PEM text (from a `${env:}` or `${file:}` reference) rather than a path. */
export function isPemText(source: string): boolean {
  return source.trimStart().startsWith('-----BEGIN')
}

function read(source: string, path: Path): string {
  if (isPemText(source)) return source
  try {
    return readFileSync(source, 'utf8')
  } catch (error) {
    throw new TlsMaterialError(path, `cannot read ${source} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
}

/** `listeners[0].tls.certificates[1].key`: as config/path.ts writes it, which this floor cannot import. */
function field(path: Readonly<Path>): string {
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? key : `.${key}`)).join('')
}
