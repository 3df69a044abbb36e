import type { Consumer, Exchange } from '../core/endpoint.ts'
import { CredentialRefused } from './refusal.ts'
import type { KeyType, MutualTlsConfig } from './schema.ts'

/** Client certificates: the verified subject must be on the API's allow-list. */
export class MutualTlsSubjects {
  readonly #subjects = new Map<string, { application: string; keyType: KeyType }>()

  constructor(config: MutualTlsConfig) {
    for (const entry of config.subjects) this.#subjects.set(normalize(entry.subject), { application: entry.application ?? entry.subject, keyType: entry.keyType })
  }

  /** The verified subject of the exchange's client certificate (set by a TLS listener), or undefined when none was presented. */
  static subject(exchange: Exchange): string | undefined {
    return exchange.clientCertificate?.subject
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
