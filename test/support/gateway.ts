import { parseConfig } from '../../src/config/load.ts'
import { PorticoInstance } from '../../src/process/instance.ts'
import { createLogger, type Logger } from '../../src/telemetry/logger.ts'

export interface TestGateway {
  instance: PorticoInstance
  /** Base URL of the first listener, e.g. `http://127.0.0.1:40123`. */
  url: string
  /** Base URL of every listener by name. */
  listeners: Record<string, string>
  adminUrl: string
  close(): Promise<void>
}

/**
 * Starts an in-process gateway on ephemeral ports from YAML (or JSON) text. Without `listeners:` it listens on
 * 127.0.0.1 on an ephemeral port; the admin port is ephemeral; the access log is off unless the config turns it on.
 * `logger` replaces the silent default, for tests that read what the gateway logs.
 */
export async function startGateway(yaml: string, logger?: Logger): Promise<TestGateway> {
  const parsed = parseConfig(yaml, 'test.yaml')
  const config = {
    ...parsed,
    listeners: yaml.includes('listeners:') ? parsed.listeners : [{ ...parsed.listeners[0]!, host: '127.0.0.1', port: 0 }],
    admin: { ...parsed.admin, host: '127.0.0.1', port: 0 },
    accessLog: yaml.includes('accessLog:') ? parsed.accessLog : { ...parsed.accessLog, enabled: false },
  }
  const instance = await PorticoInstance.start(config, { logger: logger ?? createLogger(process.env.PORTICO_LOG_LEVEL ?? 'silent') })
  const addresses = instance.gateway.addresses()
  return {
    instance,
    url: addresses[0]!.url,
    listeners: Object.fromEntries(addresses.map((address) => [address.name, address.url])),
    adminUrl: instance.admin!.url,
    close: () => instance.close(),
  }
}
