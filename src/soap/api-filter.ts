import type { ApiFilter } from '../core/filter.ts'
import { envelopeCheck } from './envelope-check.ts'
import { soapFaultFormatter } from './fault.ts'
import type { SoapApiConfig } from './schema.ts'

/** What makes an API a SOAP API: its gateway errors are SOAP Faults, and with `validate` a POST must be an envelope. */
export function soapApiFilter(config: SoapApiConfig): ApiFilter {
  return config.validate ? { name: 'soap', request: envelopeCheck(config.maxEnvelopeBytes), formatError: soapFaultFormatter } : { name: 'soap', formatError: soapFaultFormatter }
}
