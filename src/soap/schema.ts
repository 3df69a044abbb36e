import { z } from 'zod'

const MiB = 1024 * 1024

/** An API's SOAP settings; their presence makes the API a SOAP API, whose gateway errors are SOAP Faults. */
export const SoapApi = z.strictObject({
  /** Refuse a POST that is not a well-formed SOAP envelope (or carries a DTD) before it reaches the endpoint. */
  validate: z.boolean().default(false),
  /** The largest envelope validation reads into memory; a bigger one is refused. */
  maxEnvelopeBytes: z.number().int().min(1024).max(256 * MiB).default(4 * MiB),
})

/** Fields of the SOAP leaf types (`soap` and `wsdl`). */
export const soapLeafFields = {
  /**
   * Whether a backend's SOAP Fault counts as a failure (for suspension and failover). The Fault reaches the
   * client unchanged either way.
   */
  faultIsFailure: z.boolean().default(false),
}

/** Exposes a SOAP operation as a REST resource: JSON in, a SOAP request from `template`, the response as JSON. */
export const RestToSoap = z.strictObject({
  soapVersion: z.enum(['1.1', '1.2']).default('1.1'),
  /** The operation's SOAPAction (SOAP 1.1 header, SOAP 1.2 `action` content-type parameter). */
  action: z.string().default(''),
  /** The request envelope; `{{path}}` is replaced by the XML-escaped value at that path of the JSON input. */
  template: z.string().superRefine((template, ctx) => {
    if (!/<[^>]*Envelope[\s>]/.test(template)) ctx.addIssue({ code: 'custom', message: 'must be a SOAP envelope (<soap:Envelope ...>)' })
    const unclosed = template.replace(/\{\{\s*[A-Za-z0-9_.$-]+\s*\}\}/g, '')
    if (unclosed.includes('{{')) ctx.addIssue({ code: 'custom', message: 'has a malformed placeholder: write {{name}} or {{path.to.name}}' })
  }),
  /** The largest JSON request the resource reads into memory. */
  maxRequestBytes: z.number().int().min(1024).max(64 * MiB).default(MiB),
  /** The largest SOAP response converted to JSON. */
  maxResponseBytes: z.number().int().min(1024).max(256 * MiB).default(16 * MiB),
})

export type SoapApiConfig = z.output<typeof SoapApi>
export type RestToSoapConfig = z.output<typeof RestToSoap>
