import type { Consumer, Exchange } from '../core/endpoint.ts'
import { CredentialRefused } from './refusal.ts'
import type { KeyType, MutualTlsConfig } from './schema.ts'

/**
 * What a TLS listener that asked for client certificates puts on the exchange: the verified certificate's
 * subject. Read structurally, as this module does not build the TLS side; a plain listener never sets it.
 */
interface WithClientCertificate {
  readonly clientCertificate?: { readonly subject?: unknown } | undefined
}

/** Client certificates: the verified subject must be on the API's allow-list. */
export class MutualTlsSubjects {
  readonly #subjects = new Map<string, { application: string; keyType: KeyType }>()

  constructor(config: MutualTlsConfig) {
    for (const entry of config.subjects) this.#subjects.set(normalize(entry.subject), { application: entry.application ?? entry.subject, keyType: entry.keyType })
  }

  /** The verified subject of the exchange's client certificate, or undefined when none was presented. */
  static subject(exchange: Exchange): string | undefined {
    const subject = (exchange as Exchange & WithClientCertificate).clientCertificate?.subject
    if (typeof subject === 'string') return subject
    // node:tls gives a subject as an object of attributes (`{ CN: 'a', O: 'b' }`).
    if (typeof subject === 'object' && subject !== null) {
      return Object.entries(subject).map(([name, value]) => `${name}=${Array.isArray(value) ? value.join('+') : String(value)}`).join(',')
    }
    return undefined
  }

  consumer(subject: string): Consumer {
    const known = this.#subjects.get(normalize(subject))
    if (!known) throw new CredentialRefused('The client certificate is not allowed for this API')
    return { subject, application: known.application, keyType: known.keyType, scopes: [], scheme: 'mutualTls', claims: {} }
  }
}

/** `CN=a, O=b` and `CN=a,O=b` name one subject. */
function normalize(subject: string): string {
  return subject.split(',').map((part) => part.trim()).join(',')
}
