import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import * as soap from 'soap'

export const FIXTURES = fileURLToPath(new URL('../fixtures/soap/', import.meta.url))

export interface SoapService {
  /** The service's address, e.g. `http://127.0.0.1:40123/calculator`. */
  url: string
  server: Server
  /** Every request body the service received, as bytes, with its headers. */
  received: Array<{ headers: IncomingMessage['headers']; body: Buffer }>
  close(): Promise<void>
}

/**
 * A real SOAP calculator served by the `soap` package from a WSDL under test/fixtures/soap: `Add` returns a + b,
 * `Divide` answers b = 0 with a SOAP Fault (1.1 or 1.2 after the WSDL's binding).
 */
export async function startCalculator(wsdlFile: 'calculator11.wsdl' | 'calculator12.wsdl'): Promise<SoapService> {
  const soap12 = wsdlFile === 'calculator12.wsdl'
  const received: SoapService['received'] = []
  const server = createServer()
  const fault = (reason: string) =>
    soap12
      ? { Fault: { Code: { Value: 'soap:Sender' }, Reason: { Text: reason }, statusCode: 500 } }
      : { Fault: { faultcode: 'soap:Client', faultstring: reason, statusCode: 500 } }
  const port = {
    Add: (args: { a: string; b: string }) => ({ result: Number(args.a) + Number(args.b) }),
    Divide: (args: { a: string; b: string }) => {
      if (Number(args.b) === 0) throw fault('division by zero')
      return { result: Math.trunc(Number(args.a) / Number(args.b)) }
    },
  }
  const services: soap.IServices = { CalculatorService: { [soap12 ? 'CalculatorSoap12Port' : 'CalculatorSoap11Port']: port } }
  await new Promise<void>((resolve, reject) => {
    soap.listen(server, {
      callback: (error: unknown) => (error ? reject(error) : resolve()),
      path: '/calculator',
      services,
      xml: readFileSync(`${FIXTURES}${wsdlFile}`, 'utf8'),
      uri: `${FIXTURES}${wsdlFile}`,
      forceSoap12Headers: soap12,
      suppressStack: true,
    })
  })
  // Record the raw bytes before the soap package reads them, to prove the gateway passes envelopes unchanged.
  // Added once soap.listen is done, as it takes over the listeners already there.
  server.prependListener('request', (req: IncomingMessage) => {
    if (req.method !== 'POST') return
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => received.push({ headers: req.headers, body: Buffer.concat(chunks) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${address.port}/calculator`,
    server,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
