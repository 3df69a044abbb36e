import { lookup as dnsLookup } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { DynamicEndpointConfig } from './schema.ts'

/**
 * Decides which targets a dynamic endpoint may reach: the allow-list of origins first, then the addresses
 * behind them. Link-local addresses (where cloud metadata services live) and the gateway's own admin port
 * are refused unless the endpoint allows them, both for IP literals and for the addresses a host name
 * resolves to when a connection opens, so DNS cannot point an allowed name at them.
 */

/** Link-local ranges and well-known metadata services outside them (Alibaba Cloud, AWS over IPv6). */
const LINK_LOCAL = new BlockList()
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4')
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6')
LINK_LOCAL.addAddress('100.100.100.200', 'ipv4')
LINK_LOCAL.addAddress('fd00:ec2::254', 'ipv6')

/** Addresses that reach this machine: loopback, "any", and every local interface's address. */
const OWN = new BlockList()
OWN.addSubnet('127.0.0.0', 8, 'ipv4')
OWN.addAddress('0.0.0.0', 'ipv4')
OWN.addAddress('::1', 'ipv6')
OWN.addAddress('::', 'ipv6')
for (const addresses of Object.values(networkInterfaces())) {
  for (const address of addresses ?? []) OWN.addAddress(address.address.split('%')[0]!, address.family === 'IPv6' ? 'ipv6' : 'ipv4')
}

/** Ports of the gateway's admin servers in this process, counted so several instances can register. */
const protectedPorts = new Map<number, number>()

/** Marks a port of this gateway (its admin port) as one no dynamic target may reach; returns the release. */
export function protectPort(port: number): () => void {
  protectedPorts.set(port, (protectedPorts.get(port) ?? 0) + 1)
  let released = false
  return () => {
    if (released) return
    released = true
    const count = (protectedPorts.get(port) ?? 1) - 1
    if (count > 0) protectedPorts.set(port, count)
    else protectedPorts.delete(port)
  }
}

export class TargetRefused extends Error {}

const ALLOWED_CACHE_SIZE = 1024

/** A target parsed and checked against the allow-list: what a pool needs. */
export interface CheckedTarget {
  /** `scheme://host:port`, the key of the origin's pool. */
  readonly origin: string
  readonly hostname: string
  readonly port: number
  /** The target's path without a trailing `/`, prepended to the request's path. */
  readonly basePath: string
  readonly query: string
}

interface Rule {
  exact: string | undefined
  /** `.example.com` for `*.example.com`. */
  suffix: string | undefined
  schemes: ReadonlySet<string>
  ports: ReadonlySet<number> | undefined
}

export class TargetGuard {
  readonly #rules: Rule[]
  readonly #allowLinkLocal: boolean
  readonly #allowAdminPort: boolean
  /** Targets that passed the allow-list, by their text. */
  readonly #allowed = new Map<string, CheckedTarget>()

  constructor(config: Pick<DynamicEndpointConfig, 'allow' | 'allowLinkLocal' | 'allowAdminPort'>) {
    this.#rules = config.allow.map((rule) => ({
      exact: rule.host.startsWith('*.') ? undefined : unbracket(rule.host),
      suffix: rule.host.startsWith('*.') ? rule.host.slice(1) : undefined,
      schemes: new Set(rule.schemes.map((scheme) => `${scheme}:`)),
      ports: rule.ports ? new Set(rule.ports) : undefined,
    }))
    this.#allowLinkLocal = config.allowLinkLocal
    this.#allowAdminPort = config.allowAdminPort
  }

  /** Parses and checks a target; throws TargetRefused saying why when it may not be reached. */
  check(target: string): CheckedTarget {
    let checked = this.#allowed.get(target)
    if (!checked) {
      checked = this.#parse(target)
      // Bounded by clearing: distinct targets are few in practice, and a flood of them only costs re-parsing.
      if (this.#allowed.size >= ALLOWED_CACHE_SIZE) this.#allowed.clear()
      this.#allowed.set(target, checked)
    }
    // Protected ports can change while the cache lives, so the address check runs every time (it is cheap).
    if (isIP(checked.hostname)) this.checkAddress(checked.hostname, checked.port)
    return checked
  }

  /** The URL and allow-list part of the check, which depends on the target alone. */
  #parse(target: string): CheckedTarget {
    let url: URL
    try {
      url = new URL(target)
    } catch {
      throw new TargetRefused(`the target "${target}" is not an absolute URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetRefused(`the target "${target}" must use http or https`)
    if (url.username || url.password) throw new TargetRefused('the target must not carry credentials')
    const hostname = unbracket(url.hostname)
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
    const allowed = this.#rules.some(
      (rule) =>
        rule.schemes.has(url.protocol) &&
        (rule.ports === undefined || rule.ports.has(port)) &&
        (rule.exact !== undefined ? rule.exact === hostname : hostname.endsWith(rule.suffix!)),
    )
    if (!allowed) throw new TargetRefused(`the target ${url.protocol}//${url.host} is not in the endpoint's allow-list`)
    const path = url.pathname === '/' ? '' : url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname
    return { origin: url.origin, hostname, port, basePath: path, query: url.search.slice(1) }
  }

  /** Throws TargetRefused when an address (a literal or a resolved one) is protected. */
  checkAddress(address: string, port: number): void {
    const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
    const family = isIP(plain) === 6 ? 'ipv6' : 'ipv4'
    if (!this.#allowLinkLocal && LINK_LOCAL.check(plain, family)) {
      throw new TargetRefused(`the target's address ${address} is link-local or a cloud metadata service (set allowLinkLocal to reach it)`)
    }
    if (!this.#allowAdminPort && protectedPorts.has(port) && OWN.check(plain, family)) {
      throw new TargetRefused(`the target ${address}:${port} is the gateway's own admin port`)
    }
  }

  /** A DNS lookup for one origin's connections that refuses protected addresses after resolving. */
  lookupFor(port: number): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 4)
        try {
          for (const entry of addresses) this.checkAddress(entry.address, port)
        } catch (refusal) {
          return callback(refusal as NodeJS.ErrnoException, '', 4)
        }
        if (options.all) return (callback as unknown as (error: null, all: typeof addresses) => void)(null, addresses)
        const first = addresses[0]!
        callback(null, first.address, first.family)
      })
    }
  }
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}
