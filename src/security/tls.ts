import type { TlsConfig } from './schema.ts'

/** Endpoints already warned about, so that a reload does not repeat the warning for the same endpoint. */
const warned = new Set<string>()

/** The TLS options of an undici connection: client certificate, trusted CAs, server name, verification. */
export function tlsConnectOptions(tls: TlsConfig | undefined, endpointId: string) {
  if (!tls) return {}
  if (tls.insecureSkipVerify && !warned.has(endpointId)) {
    warned.add(endpointId)
    // A process warning rather than a log line: it reaches standard error whatever the log level.
    process.emitWarning(
      `endpoint ${endpointId}: security.tls.insecureSkipVerify is on: the backend's certificate is NOT verified, so anyone on the path can pose as it. Use it in test environments only.`,
      { code: 'PORTICO_INSECURE_TLS' },
    )
  }
  return {
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    rejectUnauthorized: !tls.insecureSkipVerify,
  }
}
