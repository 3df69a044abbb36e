import { connect } from 'node:net'

/**
 * Sends bytes exactly as given over a new TCP connection and returns everything the server sent back before
 * closing (or before `timeoutMs`). For requests no HTTP client would send: dot segments, broken syntax, floods.
 */
export function rawExchange(baseUrl: string, bytes: string | Buffer, timeoutMs = 3000): Promise<string> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(), timeoutMs)
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)))
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('latin1'))
    })
    socket.write(bytes)
  })
}

/** The status code of the first response in a raw exchange, or 0 when there was none. */
export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0)
}
