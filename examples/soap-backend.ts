import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import * as soap from 'soap'

// The calculator SOAP 1.1 service that examples/soap.yaml fronts, served by the `soap` package from
// examples/soap/calculator.wsdl on http://127.0.0.1:9090/calculator. `npm run example -- soap` starts it.
const wsdl = fileURLToPath(new URL('./soap/calculator.wsdl', import.meta.url))
const calculator = {
  Add: (args: { a: string; b: string }) => ({ result: Number(args.a) + Number(args.b) }),
  Divide: (args: { a: string; b: string }) => {
    if (Number(args.b) === 0) throw { Fault: { faultcode: 'soap:Client', faultstring: 'division by zero', statusCode: 500 } }
    return { result: Math.trunc(Number(args.a) / Number(args.b)) }
  },
}
export function startSoapBackend(port = 9090) {
  const server = createServer()
  soap.listen(server, {
    path: '/calculator',
    services: { CalculatorService: { CalculatorSoap11Port: calculator } },
    xml: readFileSync(wsdl, 'utf8'),
    uri: wsdl,
    suppressStack: true,
  })
  return new Promise<typeof server>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}
