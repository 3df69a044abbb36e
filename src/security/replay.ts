import { Readable } from 'node:stream'

/** A request body as the security wrapper holds it: in memory (sendable again), streamed once, or none. */
export type ReplayableBody = { readonly buffer: Buffer | null } | { readonly stream: Readable }

/**
 * Reads `body` into memory up to `limit` bytes, so that it can be sent again after a 401. A larger body is
 * handed back as one stream (the bytes read so far, then the rest), which can be sent once only.
 */
export async function bufferForReplay(body: Readable | Buffer | null, limit: number): Promise<ReplayableBody> {
  if (body === null || Buffer.isBuffer(body)) return { buffer: body }
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const next = await iterator.next()
    if (next.done) return { buffer: Buffer.concat(chunks, size) }
    chunks.push(next.value)
    size += next.value.length
    if (size > limit) return { stream: Readable.from(rest(chunks, iterator), { objectMode: false }) }
  }
}

async function* rest(read: Buffer[], iterator: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* read
  read.length = 0
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value
}
