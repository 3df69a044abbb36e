import { Readable } from 'node:stream'
import type { WsdlEndpointConfig } from './schema.ts'
import { WsdlBundle, wsdlQuery, type WsdlPort } from '../soap/wsdl.ts'
import { EndpointError, type BackendResponse, type Endpoint, type EndpointStatus, type Exchange } from '../core/endpoint.ts'
import { problemText } from '../core/problem.ts'
import { SoapEndpoint } from './soap.ts'
import { wsdlDocumentReader } from './wsdl-fetch.ts'

/**
 * A SOAP service found through its WSDL: the configured service and port name the address, and the endpoint
 * answers `GET ?wsdl` (and the `?wsdl=`/`?xsd=` documents it imports) itself, with the gateway as the address.
 * The WSDL is loaded on first use and kept; a failed load is retried by the next request.
 */
export class WsdlEndpoint implements Endpoint {
  readonly id: string
  readonly isPrototype = false
  readonly #config: WsdlEndpointConfig
  #loading: Promise<{ bundle: WsdlBundle; port: WsdlPort; soap: SoapEndpoint }> | undefined
  #soap: SoapEndpoint | undefined
  #port: WsdlPort | undefined
  #problem: string | undefined
  #closed = false

  constructor(id: string, config: WsdlEndpointConfig) {
    this.id = id
    this.#config = config
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    const loaded = await this.#load()
    const query = exchange.method === 'GET' || exchange.method === 'HEAD' ? wsdlQuery(exchange.query) : undefined
    if (!query) return loaded.soap.send(exchange, signal)
    const origin = this.#config.publicUrl ?? `${exchange.client.protocol}://${exchange.client.host || 'localhost'}`
    const gatewayUrl = `${origin}${exchange.basePath}`
    const text = loaded.bundle.render(query, gatewayUrl)
    if (text === undefined) return textResponse(404, 'text/plain; charset=utf-8', `This service has no document ?${exchange.query}\n`, exchange.method)
    return textResponse(200, 'text/xml; charset=utf-8', text, exchange.method)
  }

  #load(): Promise<{ bundle: WsdlBundle; port: WsdlPort; soap: SoapEndpoint }> {
    this.#loading ??= (async () => {
      try {
        const reader = wsdlDocumentReader(this.#config.wsdl, this.#config.security, this.#config.timeouts.connect, this.id)
        const bundle = await WsdlBundle.load(this.#config.wsdl, this.#config.timeouts.response, reader.get).finally(() => reader.close())
        const port = bundle.port(this.#config.service, this.#config.port)
        const soap = new SoapEndpoint(this.id, { ...this.#config, url: port.address })
        // Closed while loading (a reload retired it): its pool must not outlive it.
        if (this.#closed) await soap.close()
        this.#soap = soap
        this.#port = port
        this.#problem = undefined
        return { bundle, port, soap }
      } catch (error) {
        this.#loading = undefined
        this.#problem = problemText(error)
        throw new EndpointError('unavailable', this.id, `${this.id}: the WSDL ${this.#config.wsdl} cannot be used: ${this.#problem}`, { cause: error })
      }
    })()
    return this.#loading
  }

  /** The path and query sent to the service once the WSDL is loaded (what Digest signs). */
  targetPath(exchange: Exchange): string {
    return this.#soap?.targetPath(exchange) ?? (exchange.query ? `${exchange.path}?${exchange.query}` : exchange.path || '/')
  }

  ready(now: number): boolean {
    return this.#soap ? this.#soap.ready(now) : true
  }

  describe(): EndpointStatus {
    const base = { id: this.id, type: 'wsdl', wsdl: this.#config.wsdl, service: this.#config.service, port: this.#config.port }
    if (!this.#soap) return { ...base, state: this.#problem ? 'wsdl-failed' : 'loading', problem: this.#problem }
    return { ...this.#soap.describe(), ...base, address: this.#port?.address, soapVersion: this.#port?.version }
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#soap?.close()
  }
}

function textResponse(status: number, contentType: string, text: string, method: string): BackendResponse {
  const body = Buffer.from(text)
  return {
    status,
    headers: { 'content-type': contentType, 'content-length': String(body.length), 'cache-control': 'no-cache' },
    body: method === 'HEAD' ? null : Readable.from([body]),
  }
}
