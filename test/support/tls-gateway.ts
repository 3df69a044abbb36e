import { request, type RequestOptions } from 'node:https'
import { Writable } from 'node:stream'
import type { ConnectionOptions, PeerCertificate, TLSSocket } from 'node:tls'
import pino from 'pino'
import { parseConfig } from '../../src/config/load.ts'
import { PorticoInstance } from '../../src/process/instance.ts'

export interface LoggedGateway {
  instance: PorticoInstance
  /** Port of each listener by name. */
  ports: Record<string, number>
  /** Every log line the gateway wrote, parsed. */
  logs: Array<{ level: number; msg: string; [field: string]: unknown }>
  close(): Promise<void>
}

/** A gateway from YAML whose listeners are used as written (use port 0), without admin port, keeping its log lines. */
export async function startLoggedGateway(yaml: string): Promise<LoggedGateway> {
  const logs: LoggedGateway['logs'] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line))
      done()
    },
  })
  const config = parseConfig(yaml, 'test.yaml')
  const instance = await PorticoInstance.start({ ...config, accessLog: { ...config.accessLog, enabled: false } }, { logger: pino({ level: 'info' }, sink), admin: false })
  const ports = Object.fromEntries(instance.gateway.addresses().map((address) => [address.name, address.port]))
  return { instance, ports, logs, close: () => instance.close() }
}

export interface TlsAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** The certificate the server presented. */
  peer: PeerCertificate
  alpn: string | false | null
}

/** One HTTPS request on a new connection to 127.0.0.1:port, sending `servername` by SNI (none if undefined). */
export function httpsRequest(
  port: number,
  options: { servername?: string; ca: string; path?: string; cert?: string; key?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string; headers?: Record<string, string> },
): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        servername: options.servername ?? '',
        // Without SNI node checks the certificate against the host (an IP address): the test checks the names itself.
        ...(options.servername ? {} : { checkServerIdentity: () => undefined }),
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        maxVersion: options.maxVersion,
        ciphers: options.ciphers,
        headers: { host: options.servername ?? 'localhost', ...options.headers },
        agent: false,
        // Offered so that an HTTP/2 listener is seen choosing HTTP/1.1 by ALPN.
        ALPNProtocols: ['http/1.1'],
      } as RequestOptions & ConnectionOptions,
      (res) => {
        const socket = res.socket as TLSSocket
        const peer = socket.getPeerCertificate()
        const alpn = socket.alpnProtocol
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, peer, alpn }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}
