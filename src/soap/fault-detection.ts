import { ENVELOPE_NAMESPACE } from './version.ts'
import { isElement, readEnvelope } from './envelope.ts'

/** Whether a message is a SOAP envelope (1.1 or 1.2) whose Body holds a Fault. */
export function isSoapFault(message: Buffer): boolean {
  const envelope = readEnvelope(message.toString('utf8'))
  if ('problem' in envelope) return false
  const first = envelope.bodyEntries?.[0]
  return first !== undefined && isElement(first, ENVELOPE_NAMESPACE[envelope.version], 'Fault')
}
