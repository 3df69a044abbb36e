import type { Readable } from 'node:stream'

export class BodyTooLarge extends Error {}

/**
 * Reads a request body into memory, refusing one over `maxBytes` as soon as it passes the limit, so a huge or
 * endless envelope never fills memory. Hand-written because it is a dozen lines and libraries such as raw-body
 * want an IncomingMessage rather than our body, which may already be a buffer.
 */
export async function readBody(body: Readable | Buffer | null, maxBytes: number): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0)
  if (Buffer.isBuffer(body)) {
    if (body.length > maxBytes) throw new BodyTooLarge(`larger than ${maxBytes} bytes`)
    return body
  }
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of body) {
    length += (chunk as Buffer).length
    if (length > maxBytes) throw new BodyTooLarge(`larger than ${maxBytes} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, length)
}
