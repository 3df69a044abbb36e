import { watch, type FSWatcher } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls'
import { formatPath } from '../config/path.ts'
import { isPemText, readListenerCertificates, type ServedCertificate as Served } from '../security/listener-certificates.ts'
import type { ListenerTlsConfig } from '../security/listener-tls-schema.ts'
import type { ClientCertificate } from '../core/endpoint.ts'
import type { Logger } from '../telemetry/logger.ts'

/**
 * The certificates of one TLS listener: the first for clients without SNI or with a name none covers, the others
 * chosen by SNI against each certificate's names (wildcards included). New material is read when a file changes
 * or on `reload` (SIGHUP), and served to new connections only if all of it is valid: open connections keep the
 * certificate they were made with, and a bad new certificate leaves the current ones in place.
 */
export class ListenerCertificates {
  readonly #where: string
  readonly #at: (string | number)[]
  readonly #logger: Logger
  #config: ListenerTlsConfig
  #served: Served[]
  #apply: ((options: SecureContextOptions) => void) | undefined
  #watchers: FSWatcher[] = []
  #timer: NodeJS.Timeout | undefined

  /** Reads and checks the material; throws TlsMaterialError naming the field (`at`: `['listeners', 0, 'tls']`). */
  constructor(config: ListenerTlsConfig, at: (string | number)[], logger: Logger) {
    this.#at = at
    this.#where = formatPath(at)
    this.#logger = logger
    this.#config = config
    this.#served = readListenerCertificates(config, at)
  }

  /** Options for tls.Server: the default certificate, SNI, versions, ciphers and client certificates. */
  serverOptions(): TlsOptions {
    const client = this.#config.clientCertificates
    return {
      ...this.#served[0]!.options,
      SNICallback: (name, callback) => callback(null, this.#select(name).context),
      requestCert: client !== undefined,
      rejectUnauthorized: client?.mode === 'require',
    }
  }

  /** Starts serving: `apply` swaps the default certificate (server.setSecureContext); files are watched if asked. */
  start(apply: (options: SecureContextOptions) => void): void {
    this.#apply = apply
    if (this.#config.watch) this.#watch()
  }

  /** Re-reads the material, from `config` when the config was reloaded; keeps the current one if any of it is bad. */
  reload(config: ListenerTlsConfig = this.#config): boolean {
    let served: Served[]
    try {
      served = readListenerCertificates(config, this.#at)
    } catch (error) {
      this.#logger.error({ listener: this.#where }, `${(error as Error).message}; the current certificates are kept`)
      return false
    }
    const before = this.#served.map((entry) => entry.certificate.fingerprint256).join()
    this.#served = served
    const changedConfig = config !== this.#config
    this.#config = config
    this.#apply?.(served[0]!.options)
    if (changedConfig) this.#watch()
    const after = served.map((entry) => entry.certificate.fingerprint256).join()
    if (after !== before) {
      this.#logger.info({ listener: this.#where, certificates: served.map((entry) => ({ subject: oneLine(entry.certificate.subject), validTo: entry.certificate.validTo })) }, 'listener certificates reloaded')
    }
    return true
  }

  close(): void {
    clearTimeout(this.#timer)
    for (const watcher of this.#watchers) watcher.close()
    this.#watchers = []
  }

  #select(name: string): Served {
    return this.#served.find((entry) => entry.certificate.checkHost(name) !== undefined) ?? this.#served[0]!
  }

  /**
   * Watches the directories, not the files: certbot and Kubernetes replace certificates by swapping symlinks, which
   * a watch on the old file never reports.
   */
  #watch(): void {
    for (const watcher of this.#watchers) watcher.close()
    this.#watchers = []
    if (!this.#config.watch) return
    const directories = new Set(pemSources(this.#config).filter((source) => !isPemText(source)).map((path) => dirname(resolve(path))))
    for (const directory of directories) {
      try {
        const watcher = watch(directory, () => {
          // Tools write the certificate and the key in separate steps: one reload once they settle.
          clearTimeout(this.#timer)
          this.#timer = setTimeout(() => this.reload(), 200)
        })
        watcher.on('error', (error) => this.#logger.warn({ err: error, listener: this.#where }, `watching ${directory} failed; SIGHUP still reloads the certificates`))
        watcher.unref()
        this.#watchers.push(watcher)
      } catch (error) {
        this.#logger.warn({ listener: this.#where }, `cannot watch ${directory} (${(error as NodeJS.ErrnoException).code}); SIGHUP still reloads the certificates`)
      }
    }
  }
}

const identities = new WeakMap<TLSSocket, ClientCertificate | null>()

/** The client certificate the listener verified on this connection; undefined without one or when unverified. */
export function verifiedClientCertificate(socket: TLSSocket): ClientCertificate | undefined {
  let identity = identities.get(socket)
  if (identity === undefined) {
    const certificate = socket.authorized ? socket.getPeerX509Certificate() : undefined
    identity = certificate
      ? {
          subject: oneLine(certificate.subject),
          commonName: /^CN=(.*)$/m.exec(certificate.subject)?.[1],
          issuer: oneLine(certificate.issuer),
          serialNumber: certificate.serialNumber,
          fingerprint256: certificate.fingerprint256,
        }
      : null
    identities.set(socket, identity)
  }
  return identity ?? undefined
}

function pemSources(config: ListenerTlsConfig): string[] {
  const sources = config.certificates.flatMap((entry) => [entry.cert, entry.key])
  if (config.clientCertificates) sources.push(config.clientCertificates.ca)
  return sources
}

/** `CN=a\nO=b` as `CN=a, O=b`. */
function oneLine(name: string): string {
  return name.split('\n').join(', ')
}
