import { createServer, type Server } from 'node:net'

/** A port the gateway could not listen on, with one message an operator can act on. */
export class BindError extends Error {
  override name = 'BindError'
}

/**
 * Listens on host:port, turning the system's error into a BindError that names what wanted the port (`listener
 * main`, `admin`) and what to do about it.
 */
export function listen(server: Server, what: string, host: string, port: number, options: { reusePort?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(bindError(error, what, host, port))
    server.once('error', onError)
    // With reusePort each cluster worker owns a socket and the kernel spreads connections among them.
    server.listen({ host, port, exclusive: options.reusePort ?? false, reusePort: options.reusePort ?? false }, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/**
 * Refuses ports something already listens on, before a cluster's workers bind them with SO_REUSEPORT: the kernel
 * lets a second socket with SO_REUSEPORT share a port, so a second gateway on the same port would otherwise start
 * silently and take part of the traffic. A probe without SO_REUSEPORT fails on any socket bound there.
 */
export async function ensurePortsFree(ports: ReadonlyArray<{ what: string; host: string; port: number }>): Promise<void> {
  for (const { what, host, port } of ports) {
    // Port 0 asks the system for a free port: nothing to check.
    if (port === 0) continue
    const probe = createServer()
    await listen(probe, what, host, port)
    await new Promise((resolve) => probe.close(resolve))
  }
}

function bindError(error: NodeJS.ErrnoException, what: string, host: string, port: number): Error {
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`
  switch (error.code) {
    case 'EADDRINUSE':
      return new BindError(`${what}: cannot listen on ${at}: the port is taken by another process (is another Portico running?); stop it or choose another port`)
    case 'EACCES':
      return new BindError(`${what}: cannot listen on ${at}: permission denied (ports below 1024 need privileges); choose a port above 1023`)
    case 'EADDRNOTAVAIL':
      return new BindError(`${what}: cannot listen on ${at}: ${host} is not an address of this machine`)
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new BindError(`${what}: cannot listen on ${at}: the host name ${host} does not resolve`)
    default:
      return new BindError(`${what}: cannot listen on ${at}: ${error.message}`)
  }
}
