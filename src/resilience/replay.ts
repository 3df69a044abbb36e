import { Readable } from 'node:stream'
import { EndpointError, type Exchange } from '../core/endpoint.ts'

/**
 * The request body of one exchange as a group sends it, possibly more than once. A body up to the limit is
 * read into a Buffer first, so every attempt sends the same bytes. A larger body is streamed: its first
 * attempt gets it, and a later attempt only if the earlier one never read a byte of it.
 */
export class ReplayableBody {
  readonly #prefix: Buffer[]
  readonly #source: Readable | undefined
  #started = false

  private constructor(prefix: Buffer[], source: Readable | undefined) {
    this.#prefix = prefix
    this.#source = source
  }

  /** Buffers the exchange's body when it fits in `limit` bytes, and sets it as the exchange's body. */
  static async prepare(exchange: Exchange, limit: number, groupId: string): Promise<ReplayableBody> {
    const body = exchange.body
    if (body === null || Buffer.isBuffer(body)) return new ReplayableBody([], undefined)
    let read
    try {
      read = await readUpTo(body, limit)
    } catch (error) {
      throw new EndpointError('client-body', groupId, `${groupId}: reading the request body failed: ${(error as Error).message}`, { cause: error })
    }
    if (read.complete) {
      exchange.body = Buffer.concat(read.chunks)
      return new ReplayableBody([], undefined)
    }
    return new ReplayableBody(read.chunks, body)
  }

  /** Whether every attempt can send the whole body. */
  get buffered(): boolean {
    return this.#source === undefined
  }

  /** Whether some attempt already read part of a streamed body, so no later attempt can send it whole. */
  get consumed(): boolean {
    return this.#started
  }

  /** Sets the body for the next attempt; false when it cannot be sent again. */
  attach(exchange: Exchange): boolean {
    if (this.#source === undefined) return true
    if (this.#started) return false
    exchange.body = Readable.from(this.#stream(this.#source), { objectMode: false })
    return true
  }

  async *#stream(source: Readable): AsyncGenerator<Buffer> {
    this.#started = true
    yield* this.#prefix
    // The source must survive an attempt that gives up on it, so its iterator does not destroy it on return.
    for await (const chunk of source.iterator({ destroyOnReturn: false })) yield chunk as Buffer
  }
}

/** Reads from `source` until it ends or holds more than `limit` bytes; then leaves it paused. */
function readUpTo(source: Readable, limit: number): Promise<{ chunks: Buffer[]; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = () => {
      source.off('data', onData)
      source.off('end', onEnd)
      source.off('error', onError)
      source.off('close', onClose)
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size > limit) {
        source.pause()
        cleanup()
        resolve({ chunks, complete: false })
      }
    }
    const onEnd = () => {
      cleanup()
      resolve({ chunks, complete: true })
    }
    const onError = (error: Error) => {
      cleanup()
      reject(error)
    }
    const onClose = () => {
      cleanup()
      reject(new Error('the client closed the request before its body ended'))
    }
    source.on('data', onData)
    source.once('end', onEnd)
    source.once('error', onError)
    source.once('close', onClose)
  })
}
